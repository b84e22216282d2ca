"""Market-simulator result -> price changes by metal for the credit stress (pure functions).

A `critmin shock` result (the table and meta that `critmin shock --format json` writes, or that
`critmin.market.report.shock_report` returns) holds, for one commodity, the P5/P50/P95 over
Monte-Carlo elasticity draws of the base and the shocked clearing price (USD/t). The price
change at quantile q is

    Δp_q = P_shocked,q / P_base,q − 1.

When the base market clears at the base price in every draw (base_P5 = base_P95, the case for
every world-level run) this is exactly the q-quantile of the per-draw change, because the change
is then a monotone function of the shocked price. Otherwise it is a ratio of quantiles, and
`MarketPriceLink.exact` says so. A scenario that holds the price (`price_level`, reported as
meta.held_price_usd_per_t) moves it to the held level in every quantile: Δp = P_held/P_base − 1.

Several results (one per commodity) combine into one `PriceScenario` per quantile. The P5 and
P95 scenarios move every commodity to its own P5 (or P95) together: a comonotone band, the
widest the marginal quantiles allow, not a joint Monte-Carlo quantile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from critmin.credit import ratings
from critmin.credit.company import Company
from critmin.credit.stress import (CreditReport, PriceScenario, ScenarioFileError, StressError,
                                   _metal_key, credit_report)

QUANTILES = ("P5", "P50", "P95")
PRICE_METRIC = "price_usd_per_t"


@dataclass(frozen=True)
class MarketPriceLink:
    """One commodity's price change by quantile (fractions, −0.2 = −20%) from one market run."""

    commodity: str                    # catalog key
    scenario: str
    changes: dict[str, float]         # {"P5": Δp, "P50": Δp, "P95": Δp}
    base_price_usd_per_t: float       # P50 of the base clearing price
    exact: bool                       # base price identical in every draw
    source: str


def price_link(table, meta: Mapping) -> MarketPriceLink:
    """Δp_q = shocked_Pq / base_Pq − 1 for the `price_usd_per_t` row of a shock result.

    `table`: a DataFrame or a list of records with columns metric, base_P5..P95, shocked_P5..P95
    (prices in USD/t); `meta`: at least `commodity` and `scenario` (base_year, draws and seed are
    quoted in the source when present). Raises `StressError` naming the missing field.
    """
    t = pd.DataFrame(table)
    for key in ("commodity", "scenario"):
        if not meta.get(key):
            raise StressError(f"market result: meta.{key} missing")
    if "metric" not in t or (t["metric"] == PRICE_METRIC).sum() != 1:
        raise StressError(f"market result: data needs one row with metric {PRICE_METRIC!r}")
    row = t.loc[t["metric"] == PRICE_METRIC].iloc[0]
    changes, base = {}, {}
    for q in QUANTILES:
        for side in ("base", "shocked"):
            v = row.get(f"{side}_{q}")
            if v is None or pd.isna(v) or not float(v) > 0:
                raise StressError(f"market result: data[{PRICE_METRIC}].{side}_{q} must be a "
                                  f"positive price (got {v!r})")
        base[q] = float(row[f"base_{q}"])
        changes[q] = float(row[f"shocked_{q}"]) / base[q] - 1.0
    held = meta.get("held_price_usd_per_t")
    if held is not None:                 # the scenario fixes the price: that is its price path
        if not float(held) > 0:
            raise StressError(f"market result: meta.held_price_usd_per_t must be positive "
                              f"(got {held!r})")
        changes = {q: float(held) / base[q] - 1.0 for q in QUANTILES}
    exact = abs(base["P95"] - base["P5"]) <= 1e-9 * base["P50"]
    run = ", ".join(f"{k} {meta[k]}" for k in ("base_year", "draws", "seed") if k in meta)
    source = (f"critmin shock {meta['scenario']!r} ({meta['commodity']}{', ' + run if run else ''}"
              f"): price change P5/P50/P95 {changes['P5']:+.2%} / {changes['P50']:+.2%} / "
              f"{changes['P95']:+.2%} against a base of {base['P50']:,.0f} USD/t"
              + (f" (price held at {float(held):,.0f} USD/t by the scenario's price_level)"
                 if held is not None else "")
              + ("" if exact else " (base price varies by draw: ratio of quantiles)"))
    return MarketPriceLink(commodity=_metal_key(str(meta["commodity"])),
                           scenario=str(meta["scenario"]), changes=changes,
                           base_price_usd_per_t=base["P50"], exact=exact, source=source)


def scenarios_by_quantile(links: Iterable[MarketPriceLink],
                          fixed: PriceScenario | None = None) -> dict[str, PriceScenario]:
    """One `PriceScenario` per quantile ("P5", "P50", "P95"): each market-linked commodity at
    that quantile, plus the `fixed` price changes (a price YAML) in all three. A commodity given
    twice raises `StressError`."""
    links = list(links)
    seen: dict[str, str] = {}
    for ln in links:
        if ln.commodity in seen:
            raise StressError(f"{ln.commodity} has two market results ({seen[ln.commodity]!r} "
                              f"and {ln.scenario!r}); give one per commodity")
        seen[ln.commodity] = ln.scenario
    clash = set(seen) & set(fixed.price_changes if fixed else {})
    if clash:
        raise StressError(f"{sorted(clash)[0]} is in both a market result and the price-change "
                          f"file {fixed.name!r}; give it once")
    names = [ln.scenario for ln in links] + ([fixed.name] if fixed else [])
    sources = [ln.source for ln in links] + ([fixed.source] if fixed else [])
    out = {}
    for q in QUANTILES:
        changes = {ln.commodity: ln.changes[q] for ln in links}
        changes.update(fixed.price_changes if fixed else {})
        out[q] = PriceScenario(
            name=" + ".join(names) + ("" if q == "P50" or not links else f" [{q} price]"),
            price_changes=changes, source="; ".join(sources),
            description=fixed.description if fixed else None,
            asset_vol_change=fixed.asset_vol_change if fixed else 0.0,
            overlays=dict(fixed.overlays) if fixed else {})
    return out


def pd_band(reports: Mapping[str, CreditReport],
            scenarios: Mapping[str, PriceScenario]) -> pd.DataFrame:
    """The PD band over price quantiles: one row per quantile with that quantile's price
    changes (every metal the scenario moves) and the after-scenario structural PD, total PD
    and grades at the rating horizon, read from `credit_report` results keyed like
    `scenarios`. The P5 *price* gives the high PD when prices fall."""
    rows = []
    for q, rep in reports.items():
        s = rep.summary.set_index("metric")["after"]
        h = rep.scale.horizon_years
        changes = {f"price_change_{m}": dp for m, dp in scenarios[q].price_changes.items()}
        rows.append({"price_quantile": q, **changes,
                     "pd_structural": float(s[f"PD structural ({h:g} y)"]),
                     "pd_total": float(s[f"PD total with overlays ({h:g} y)"]),
                     "rating_total": s["rating total (Moody's)"],
                     "rating_total_sp": s["rating total (S&P/Fitch)"]})
    return pd.DataFrame(rows)


def credit_report_with_band(company: Company, links: Iterable[MarketPriceLink],
                            fixed: PriceScenario | None = None, *,
                            horizons: Iterable[float] = range(1, 11),
                            scale: ratings.RatingScale | None = None) -> CreditReport:
    """`credit_report` after the P50 price changes of the market results `links` (plus the
    `fixed` changes of a price YAML), with `band`: the same report's PDs and grades at the P5,
    P50 and P95 price changes (see `pd_band`). Without links, the plain report after `fixed`."""
    links = list(links)
    horizons = list(horizons)
    if not links:
        return credit_report(company, fixed, horizons=horizons, scale=scale)
    scens = scenarios_by_quantile(links, fixed)
    reps = {q: credit_report(company, scens[q], horizons=horizons, scale=scale)
            for q in QUANTILES}
    return replace(reps["P50"], band=pd_band(reps, scens))


def scenario_kind(path) -> str:
    """"market_result" (a `critmin shock --format json` file), "price" (a YAML with
    price_changes) or "market" (a market scenario YAML with a commodity); raises
    `ScenarioFileError` naming the file otherwise."""
    import yaml  # noqa: PLC0415
    path = Path(path)
    if path.suffix.lower() == ".json":
        return "market_result"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioFileError(str(path), None, None, f"cannot read scenario: {exc}") from None
    if isinstance(data, dict) and "price_changes" in data:
        return "price"
    if isinstance(data, dict) and "commodity" in data:
        return "market"
    raise ScenarioFileError(str(path), 1, None, "neither a price scenario (price_changes) nor "
                                                "a market scenario (commodity)")


def load_market_result(path) -> MarketPriceLink:
    """Read a saved `critmin shock --format json` result ({"meta": ..., "data": [...]}) and
    link it (`price_link`); problems raise `ScenarioFileError` naming the file and field."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioFileError(str(path), None, None,
                                f"cannot read market result: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict) \
            or not isinstance(payload.get("data"), list):
        raise ScenarioFileError(str(path), None, "meta",
                                "expected a `critmin shock --format json` result with "
                                "'meta' and 'data'")
    try:
        return price_link(payload["data"], payload["meta"])
    except StressError as exc:
        raise ScenarioFileError(str(path), None, None, str(exc)) from None
