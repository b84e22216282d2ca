"""Commodity-price stress of a producer's credit, in named stages:

price changes by metal -> revenue by metal (R_m' = R_m (1 + Δp_m)) -> EBITDA through operating
leverage (EBITDA' = EBITDA + ΔR (1 − c), c = price-linked cost share) -> asset value by the EV
multiple (V' = V · EBITDA'/EBITDA, σV held unless the scenario bumps it) -> DD, PD, term
structure, overlays and rating, before and after. `credit_report` runs the whole path for a
company file; the stage functions are pure and can be called on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import Field

from critmin.credit import ratings
from critmin.credit.company import (Company, CompanyFileError, assumptions, equity_vol,
                                    inputs_table, money)
from critmin.yamlfile import Strict, line_of, load_yaml_model
from critmin.credit.merton import (CreditInputError, credit_spread, debt_value,
                                   default_probability, distance_to_default, kmv_default_point,
                                   merton_solve, pd_term_structure)
from critmin.credit.overlays import combine_pd, horizon_pd, receivables_loss
from critmin.errors import CritminError, UnknownNameError


class StressError(CritminError, ValueError):
    """A scenario the stress path cannot apply (e.g. it wipes out EBITDA)."""


class ScenarioFileError(CompanyFileError):
    """A price-scenario YAML file that cannot be used: names the file, line and field."""


class _ScenarioFile(Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    source: str = Field(min_length=1)
    price_changes: dict[str, float]
    asset_vol_change: float = 0.0
    overlays: dict[str, float] = {}


@dataclass(frozen=True)
class PriceScenario:
    """Relative price changes by catalog commodity key (−0.2 = −20%), an optional absolute
    change of σV (annual) and optional replacement annual overlay PDs."""

    name: str
    price_changes: dict[str, float]
    source: str
    description: str | None = None
    asset_vol_change: float = 0.0
    overlays: dict[str, float] = field(default_factory=dict)


def _metal_key(name: str) -> str:
    from critmin.catalog.commodities import commodity  # noqa: PLC0415
    return "other" if name == "other" else commodity(name).key


def load_scenario(path) -> PriceScenario:
    """Read a price-scenario YAML (name, source, price_changes: {metal: fraction}, optional
    asset_vol_change and overlays); raises `ScenarioFileError` naming the field."""
    path = Path(path)
    raw = load_yaml_model(path, _ScenarioFile, ScenarioFileError)
    root = yaml.compose(path.read_text(encoding="utf-8"))

    def fail(loc, problem):
        raise ScenarioFileError(str(path), line_of(root, loc), ".".join(loc), problem)

    changes = {}
    for metal, chg in raw.price_changes.items():
        try:
            key = _metal_key(metal)
        except UnknownNameError as exc:
            fail(("price_changes", metal), str(exc))
        if not np.isfinite(chg) or chg <= -1:
            fail(("price_changes", metal), "a price change must be > -1 (-100%)")
        changes[key] = chg
    for name, p in raw.overlays.items():
        if not 0 <= p <= 1:
            fail(("overlays", name), "an annual default probability must be within [0, 1]")
    return PriceScenario(name=raw.name, price_changes=changes, source=raw.source,
                         description=raw.description, asset_vol_change=raw.asset_vol_change,
                         overlays=dict(raw.overlays))


def scenario_from_prices(base_prices: Mapping[str, float], scenario_prices: Mapping[str, float],
                         *, name: str, source: str) -> PriceScenario:
    """Δp_m = P_m^scenario / P_m^base − 1 for each metal in both mappings (e.g. a market
    simulator's base and shocked clearing prices; any one price unit per metal)."""
    changes = {}
    for metal, p1 in scenario_prices.items():
        if metal in base_prices:
            p0 = base_prices[metal]
            if not (p0 > 0 and p1 > 0):
                raise CreditInputError(f"prices.{metal}", "prices must be positive")
            changes[_metal_key(metal)] = p1 / p0 - 1.0
    return PriceScenario(name=name, price_changes=changes, source=source)


# --- stages -----------------------------------------------------------------------------------

def revenue_by_metal(revenue: float, shares: Mapping[str, float]) -> dict[str, float]:
    """R_m = R · w_m, revenue shares w_m summing to one (money unit of R)."""
    return {m: revenue * w for m, w in shares.items()}


def apply_price_changes(revenue_m: Mapping[str, float],
                        price_changes: Mapping[str, float]) -> dict[str, float]:
    """R_m' = R_m (1 + Δp_m): full pass-through of price to revenue at fixed volumes; metals
    without a change (and 'other') are unchanged."""
    return {m: r * (1.0 + price_changes.get(m, 0.0)) for m, r in revenue_m.items()}


def stressed_ebitda(ebitda: float, revenue_change: float, price_linked_cost_share: float = 0.0):
    """EBITDA' = EBITDA + ΔR (1 − c): costs are fixed except the share c of revenue that moves
    with price (royalties, export duties); so ΔEBITDA/EBITDA = (ΔR/R)(1 − c)/margin."""
    if not 0 <= price_linked_cost_share < 1:
        raise CreditInputError("price_linked_cost_share", "must be within [0, 1)")
    return ebitda + revenue_change * (1.0 - price_linked_cost_share)


def stressed_asset_value(asset_value, ebitda: float, ebitda_after: float):
    """V' = V · EBITDA'/EBITDA: the EV multiple held (a lasting price change; notes §5.1 4a)."""
    if not ebitda > 0:
        raise StressError(f"base EBITDA must be positive for the EV-multiple step (got {ebitda:g})")
    if not ebitda_after > 0:
        raise StressError(f"the scenario takes EBITDA to {ebitda_after:.4g} (<= 0): the "
                          "EV-multiple asset value is not defined (default territory)")
    return asset_value * (ebitda_after / ebitda)


# --- the whole path for a company ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CreditReport:
    """Before/after tables for one company: `summary` (metric, unit, before[, after]),
    `term_structure` (horizon_years and PDs), `components` (each channel's PD and share of the
    total PD at the rating horizon), `revenue` (by metal); the rating `scale` used, the
    `assumptions` (field paths marked assumption: true), `inputs` (every figure with its
    source and assumption flag), the scenario's name and source, and `band` (see
    `scenario_link.credit_report_with_band`)."""

    company: str
    currency: str
    money_unit: str
    scale: ratings.RatingScale
    summary: pd.DataFrame
    term_structure: pd.DataFrame
    components: pd.DataFrame
    revenue: pd.DataFrame
    assumptions: list[str]
    scenario: str | None = None
    scenario_source: str | None = None
    inputs: pd.DataFrame | None = None       # every company figure: value, source, assumption
    band: pd.DataFrame | None = None         # PDs at the P5/P50/P95 price of a market run


@dataclass(frozen=True)
class _State:
    asset_value: float            # after the receivables adjustment
    asset_vol: float
    revenue: float
    ebitda: float
    overlays: dict[str, float]


def _evaluate(st: _State, dp, drift, r, T, horizons, rating_T, scale):
    V, s = st.asset_value, st.asset_vol
    dd = float(distance_to_default(V, s, dp, drift, T))
    curve = pd_term_structure(V, s, dp, drift, horizons)
    pd_rate = float(default_probability(V, s, dp, drift, rating_T))
    over_T = {k: horizon_pd(p, rating_T) for k, p in st.overlays.items()}
    comb = combine_pd(pd_rate, over_T)
    curve_total = combine_pd(curve, {k: horizon_pd(p, np.asarray(horizons, float))
                                     for k, p in st.overlays.items()}).total
    total = float(comb.total)
    return {"dd": dd, "pd_T": float(default_probability(V, s, dp, drift, T)),
            "pd_rating": pd_rate, "pd_total": total,
            "rating_structural": ratings.rating_for_pd(pd_rate, scale),
            "rating_total": ratings.rating_for_pd(total, scale),
            "rating_total_sp": ratings.rating_for_pd(total, scale, agency="sp_fitch"),
            "debt_value": float(debt_value(V, s, dp, r, T)),
            "spread": float(credit_spread(V, s, dp, r, T)),
            "curve": curve, "curve_total": curve_total, "comb": comb}


def credit_report(company: Company, scenario: PriceScenario | None = None, *,
                  horizons: Iterable[float] = range(1, 11),
                  scale: ratings.RatingScale | None = None) -> CreditReport:
    """Merton/KMV credit of `company` (see `company.load_company`) before and, with a
    `scenario`, after a price shock. Ratings use the PD over the scale's horizon (1 year for
    the default scale) including overlays; the structural PD is risk-neutral unless the file
    gives model.asset_drift."""
    scale = scale or ratings.load_scale()
    horizons = [float(h) for h in horizons]
    m = company.model
    E, sE = money(company, company.market_cap), equity_vol(company)
    std, ltd = money(company, company.debt.short_term), money(company, company.debt.long_term)
    dp = float(kmv_default_point(std, ltd)) if m.default_point == "kmv" else std + ltd
    r, T = m.rate.value, m.horizon
    drift = m.asset_drift.value if m.asset_drift is not None else r
    sol = merton_solve(E, sE, dp, r, T)
    V0, s0 = float(sol.asset_value), float(sol.asset_vol)
    rec_loss = 0.0
    if company.receivables is not None:
        rc = company.receivables
        rec_loss = float(receivables_loss(money(company, rc.amount), haircut=rc.haircut.value,
                                          delay_years=rc.delay_years.value, discount_rate=r))
    R0, EB0 = money(company, company.revenue), money(company, company.ebitda)
    overlays0 = {k: f.value for k, f in company.overlays.items()}
    before = _State(V0 - rec_loss, s0, R0, EB0, overlays0)
    if not before.asset_value > 0:
        raise StressError("the receivables loss exceeds the asset value")
    shares = {_metal_key(k): f.value for k, f in company.revenue_by_metal.items()}
    rev0 = revenue_by_metal(R0, shares)
    after = rev1 = None
    if scenario is not None:
        rev1 = apply_price_changes(rev0, scenario.price_changes)
        c = m.price_linked_cost_share.value if m.price_linked_cost_share is not None else 0.0
        EB1 = float(stressed_ebitda(EB0, sum(rev1.values()) - R0, c))
        V1 = float(stressed_asset_value(V0, EB0, EB1)) - rec_loss
        s1 = s0 + scenario.asset_vol_change
        if not (V1 > 0 and s1 > 0):
            raise StressError("the scenario leaves a non-positive asset value or volatility")
        after = _State(V1, s1, sum(rev1.values()), EB1, {**overlays0, **scenario.overlays})

    ev = [_evaluate(st, dp, drift, r, T, horizons, scale.horizon_years, scale)
          for st in (before, after) if st is not None]
    cols = ["before", "after"][:len(ev)]
    unit = f"{company.currency} {company.money_unit}"
    rows = [("equity (market cap)", unit, [E] * len(ev)),
            ("equity_vol", "per year", [sE] * len(ev)),
            ("default point", unit, [dp] * len(ev)),
            ("revenue", unit, [st.revenue for st in (before, after) if st]),
            ("ebitda", unit, [st.ebitda for st in (before, after) if st]),
            ("asset_value (Merton)", unit,
             [V0, after.asset_value + rec_loss][:len(ev)] if after else [V0]),
            ("receivables loss", unit, [rec_loss] * len(ev)),
            ("asset_value (used)", unit, [st.asset_value for st in (before, after) if st]),
            ("asset_vol", "per year", [st.asset_vol for st in (before, after) if st]),
            (f"distance to default ({T:g} y)", "σ", [e["dd"] for e in ev]),
            (f"PD structural ({T:g} y)", "probability", [e["pd_T"] for e in ev]),
            *([] if T == scale.horizon_years else
              [(f"PD structural ({scale.horizon_years:g} y)", "probability",
                [e["pd_rating"] for e in ev])]),
            (f"PD total with overlays ({scale.horizon_years:g} y)", "probability",
             [e["pd_total"] for e in ev]),
            ("overlay share of PD total", "fraction",
             [1.0 - float(e["comb"].shares["structural"]) for e in ev]),
            ("rating structural", scale.name, [e["rating_structural"] for e in ev]),
            ("rating total (Moody's)", scale.name, [e["rating_total"] for e in ev]),
            ("rating total (S&P/Fitch)", scale.name, [e["rating_total_sp"] for e in ev]),
            ("debt value", unit, [e["debt_value"] for e in ev]),
            ("credit spread", "per year", [e["spread"] for e in ev])]
    summary = pd.DataFrame([{"metric": n, "unit": u, **dict(zip(cols, v))} for n, u, v in rows])

    ts = {"horizon_years": horizons}
    for c, e in zip(cols, ev):
        ts[f"pd_structural_{c}"] = e["curve"]
        ts[f"pd_total_{c}"] = e["curve_total"]
    term = pd.DataFrame(ts)

    comp_rows = []
    for name in ev[0]["comb"].components:
        row = {"component": name}
        for c, e in zip(cols, ev):
            row[f"pd_{c}"] = float(e["comb"].components[name])
            row[f"share_{c}"] = float(e["comb"].shares[name])
        comp_rows.append(row)
    components = pd.DataFrame(comp_rows)

    rev = pd.DataFrame({"metal": list(rev0), "revenue_share": list(shares.values()),
                        "revenue_before": list(rev0.values())})
    c = m.price_linked_cost_share.value if m.price_linked_cost_share is not None else 0.0
    eb_split = {_metal_key(k): f.value for k, f in (company.ebitda_by_metal or {}).items()}
    if eb_split:                                # reported by metal: EBITDA_m = EBITDA · w_m
        rev["ebitda_before"] = [EB0 * eb_split.get(k, 0.0) for k in rev0]
    if rev1 is not None:
        rev["price_change"] = [scenario.price_changes.get(k, 0.0) for k in rev0]
        rev["revenue_after"] = list(rev1.values())
        if eb_split:                            # EBITDA_m' = EBITDA_m + ΔR_m (1 − c)
            rev["ebitda_after"] = rev["ebitda_before"] + (rev["revenue_after"]
                                                          - rev["revenue_before"]) * (1 - c)

    return CreditReport(company=company.name, currency=company.currency,
                        money_unit=company.money_unit, scale=scale, summary=summary,
                        term_structure=term, components=components, revenue=rev,
                        assumptions=assumptions(company), inputs=inputs_table(company),
                        scenario=scenario.name if scenario else None,
                        scenario_source=scenario.source if scenario else None)


def term_structure_svg(report: CreditReport, path, *, width: int = 640, height: int = 400) -> Path:
    """Write the PD term structure (total and structural; before and after) as a standalone
    SVG line chart with a log-scale PD axis (floored at 1e-6) to `path`; returns the path."""
    t = report.term_structure
    x = t["horizon_years"].to_numpy(float)
    series = [(c, "#1f77b4" if c.endswith("before") else "#d62728",
               "" if c.startswith("pd_total") else "6,4")
              for c in t.columns if c != "horizon_years"]
    lo, hi = -6.0, 0.0
    ml, mr, mt, mb = 70, 190, 30, 45
    pw, ph = width - ml - mr, height - mt - mb

    def px(v):
        return ml + (v - x.min()) / max(x.max() - x.min(), 1e-9) * pw

    def py(p):
        return mt + (hi - np.clip(np.log10(max(p, 1e-6)), lo, hi)) / (hi - lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{ml}" y="18" font-size="13">{_esc(report.company)}: PD term structure'
           f'{" - " + _esc(report.scenario) if report.scenario else ""}</text>']
    for k in range(int(lo), int(hi) + 1):
        y = py(10.0 ** k)
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">1e{k}</text>')
    for v in x:
        out.append(f'<text x="{px(v):.1f}" y="{mt + ph + 16}" text-anchor="middle">{v:g}</text>')
    out.append(f'<text x="{ml + pw / 2}" y="{height - 8}" text-anchor="middle">horizon (years)'
               f'</text><text x="14" y="{mt + ph / 2}" transform="rotate(-90 14 {mt + ph / 2})" '
               f'text-anchor="middle">cumulative PD (log)</text>')
    for i, (col, colour, dash) in enumerate(series):
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, t[col].to_numpy(float)))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                   f'stroke-dasharray="{dash}" points="{pts}"/>')
        ly = mt + 14 + 18 * i
        out.append(f'<line x1="{ml + pw + 12}" x2="{ml + pw + 40}" y1="{ly}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
                   f'<text x="{ml + pw + 46}" y="{ly + 4}">{col}</text>')
    out.append("</svg>")
    path = Path(path)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
