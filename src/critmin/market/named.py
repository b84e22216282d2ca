"""Named producers from a user file (issue 4, deliverable 1): split a country's production into
companies or assets, e.g. a company's share of Russian nickel, for `critmin shock --producers`.

CSV columns (one row per producer; header = line 1):
- producer: the name a scenario's `company:` or `asset:` cut targets;
- country: a country the catalog knows (name or ISO3);
- share_of_country_output (0 < s <= 1, of the country's base-year World Mining Data output) or
  capacity_t (> 0, t of contained metal in the base year): exactly one per row;
- technology (optional): the cost-curve band it is carved out of; default: the band of the
  country in `build.DEFAULT_NAMED_PRODUCERS`;
- c1_usd_per_t (optional, USD/t >= 0): default the band's mid C1, as the defaults use;
- commodity (optional): rows for other commodities are skipped.

World market: the rows replace `DEFAULT_NAMED_PRODUCERS` for the commodity. Traded (bloc)
market: `split_exporters` gives each named producer its share of its country's exports, the
country keeping the rest (technology and C1 play no part there: the traded market has no cost
curve). Errors are DataFileError naming file, line and field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.errors import DataFileError, UnknownNameError
from critmin.market.model import Market, check_market

__all__ = ["load_named_producers", "named_note", "split_exporters"]

SHARE, CAPACITY = "share_of_country_output", "capacity_t"


def _number(path, line, field, value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()) or (
            not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataFileError(path, line, field, f"not a number: {value!r}") from None


def _band(path, line, tech: str, iso3: str, commodity: str, curve: pd.DataFrame, bands: dict,
          defaults: dict) -> pd.Series:
    """The curve row of a file row's technology (default: the country's default band)."""
    tech = tech.strip()
    if not tech:
        if iso3 not in defaults:
            raise DataFileError(path, line, "technology",
                                f"needed for {iso3} (bands: {', '.join(bands.values())})")
        tech = defaults[iso3][0]
    if tech.casefold() not in bands:
        raise DataFileError(path, line, "technology", f"no band {tech!r} in the "
                            f"{commodity} curve (bands: {', '.join(bands.values())})")
    return curve.loc[curve["band"] == bands[tech.casefold()]].iloc[0]


def load_named_producers(path, commodity: str, production: pd.Series,
                         curve: pd.DataFrame | None) -> pd.DataFrame:
    """The file's producers of `commodity` as the DataFrame `build.world_market` takes
    (producer, country, technology, capacity_t = base-year output in t, c1_usd_per_t in USD/t),
    plus `line`, each row's line in the file (header = 1).

    production: base-year output by ISO3, t (a share row is share × its country's output);
    curve: the commodity's bands (`build.load_cost_curve`); None for the traded market, where
    technology and c1_usd_per_t are optional, unchecked and unused (technology None, C1 NaN
    when absent)."""
    from critmin.catalog.countries import country
    from critmin.market.build import DEFAULT_NAMED_PRODUCERS
    path = Path(path)
    try:
        t = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(path, None, None, f"cannot read the producers CSV: {exc}") from None
    for col in ("producer", "country"):
        if col not in t:
            raise DataFileError(path, 1, col, f"missing column (need producer, country and "
                                              f"{SHARE} or {CAPACITY})")
    if SHARE not in t and CAPACITY not in t:
        raise DataFileError(path, 1, SHARE, f"missing column: give {SHARE} or {CAPACITY}")
    bands = {} if curve is None else {str(b).casefold(): str(b) for b in curve["band"]}
    defaults = DEFAULT_NAMED_PRODUCERS.get(commodity, {})
    rows, share_sum = [], {}
    for i, r in t.iterrows():
        line = i + 2
        if "commodity" in t and r["commodity"].strip() and (
                r["commodity"].strip().casefold() != commodity.casefold()):
            continue
        name = r["producer"].strip()
        if not name:
            raise DataFileError(path, line, "producer", "empty producer name")
        try:
            iso3 = country(r["country"]).iso3
        except UnknownNameError as exc:
            raise DataFileError(path, line, "country", str(exc)) from None
        share = _number(path, line, SHARE, r.get(SHARE))
        cap = _number(path, line, CAPACITY, r.get(CAPACITY))
        if (share is None) == (cap is None):
            raise DataFileError(path, line, SHARE, f"give exactly one of {SHARE} and "
                                                   f"{CAPACITY}")
        band = None if curve is None else _band(path, line, r.get("technology", ""), iso3,
                                                  commodity, curve, bands, defaults)
        if share is not None:
            if not 0 < share <= 1:
                raise DataFileError(path, line, SHARE, f"{share:g} is not in (0, 1]")
            share_sum[iso3] = share_sum.get(iso3, 0.0) + share
            if share_sum[iso3] > 1 + 1e-9:
                raise DataFileError(path, line, SHARE, f"shares of {iso3} add up to "
                                                       f"{share_sum[iso3]:g} > 1")
            out = float(production.get(iso3, 0.0))
            if not out > 0:
                raise DataFileError(path, line, "country", f"no {commodity} production of "
                                    f"{iso3} in World Mining Data for the base year")
            cap = share * out
        elif not (np.isfinite(cap) and cap > 0):
            raise DataFileError(path, line, CAPACITY, f"{cap:g} t: must be > 0")
        c1 = _number(path, line, "c1_usd_per_t", r.get("c1_usd_per_t"))
        if c1 is None:
            c1 = (np.nan if band is None
                  else 0.5 * (band["c1_low_usd_per_t"] + band["c1_high_usd_per_t"]))
        elif not (np.isfinite(c1) and c1 >= 0):
            raise DataFileError(path, line, "c1_usd_per_t", f"{c1:g}: must be >= 0")
        tech = (r.get("technology", "").strip() or None) if band is None else band["band"]
        rows.append(dict(producer=name, country=iso3, technology=tech, capacity_t=cap,
                         c1_usd_per_t=float(c1), line=line))
    if not rows:
        raise DataFileError(path, None, "commodity", f"no producer rows for {commodity}")
    return pd.DataFrame(rows)


# --- the traded (bloc) market -------------------------------------------------------------------

SHARE_TOL = 1e-9
"""Shares of a country within this of 1 count as all of it (the remainder row is dropped)."""


def _refuse(source, row, field: str | None, problem: str):
    line = row.get("line")
    raise DataFileError(source or "named producers",
                        None if line is None or pd.isna(line) else int(line), field,
                        f"named producer {row['producer']!r} ({row['country']}): {problem}")


def output_shares(named: pd.DataFrame, production: pd.Series, *, source=None) -> pd.Series:
    """Each named row's share of its country's base-year output (t / t, 0 < s <= 1):
    capacity_t / production[country] (`load_named_producers` turned a share into t with the
    same production, so a share row gets its share back). Refuses a row above 1 and a country
    whose shares add up to more than 1, naming the file line when `named` has one."""
    shares, total = [], {}
    for _, r in named.iterrows():
        iso3, cap = str(r["country"]), float(r["capacity_t"])
        out = float(production.get(iso3, 0.0))
        if not out > 0:
            _refuse(source, r, "country", f"no World Mining Data output of {iso3} in the base "
                                          f"year, so {cap:,.6g} t is no share of it")
        s = cap / out
        if s > 1 + SHARE_TOL:
            _refuse(source, r, CAPACITY, f"{cap:,.6g} t is {s:.4g} × {iso3}'s base-year output "
                                         f"of {out:,.6g} t (more than all of it)")
        total[iso3] = total.get(iso3, 0.0) + s
        if total[iso3] > 1 + SHARE_TOL:
            _refuse(source, r, None, f"shares of {iso3}'s output add up to {total[iso3]:.4g} "
                                     f"> 1")
        shares.append(min(s, 1.0))
    return pd.Series(shares, index=named.index, dtype=float)


def split_exporters(market: Market, named: pd.DataFrame, production: pd.Series, *,
                    source=None) -> Market:
    """The traded `market` (`backtest.trade_market`: each exporting country a producer row)
    with each named producer's country split: a named row with share s of the country's
    base-year output (`output_shares`) takes share s of each of the country's rows (capacity_t
    and base_output_t in t × s; cost in USD/t, elasticity and other columns as the row); the
    country keeps the rest under its own name (dropped when its share is ≈ 0). Assumption: a
    company's share of its country's exports is its share of the country's mine output.

    named: producer, country (ISO3), capacity_t in t (`load_named_producers`; optional line);
    production: base-year output by ISO3, t. Adds columns company (= producer, so a scenario's
    `company:` or `asset:` cut finds a named row), named (bool) and share_of_country (0..1).
    Prices and totals are unchanged: the split rows add up to the country's row at every price.
    A named country with no exports in the market, or a named producer that bears another
    producer's name, raises DataFileError naming the producer, the country and the line."""
    P = market.producers.reset_index(drop=True)
    named = named.reset_index(drop=True)
    countries = P["country"].astype(str)
    taken = {str(p).casefold() for p in P["producer"]}
    for _, r in named.iterrows():
        if not (countries == str(r["country"])).any():
            _refuse(source, r, "country", f"{r['country']} exports no {market.commodity} in "
                                          f"the traded market (BACI flows of the base year): "
                                          f"nothing to split")
        if str(r["producer"]).strip().casefold() in taken:
            _refuse(source, r, "producer", f"{r['producer']!r} is already a producer of the "
                                           f"traded market (an exporting country)")
    shares = output_shares(named, production, source=source)
    parts = []                        # (source row, share of it, producer name, named)
    for k, c in enumerate(countries):
        mine = named.index[named["country"].astype(str) == c]
        rest = 1.0 - float(shares[mine].sum())
        if len(mine) == 0 or rest > SHARE_TOL:
            parts.append((k, rest if len(mine) else 1.0, str(P.at[k, "producer"]), False))
        parts += [(k, float(shares[i]), str(named.at[i, "producer"]).strip(), True)
                  for i in mine]
    src, scale, names, is_named = map(list, zip(*parts))
    out = P.iloc[src].reset_index(drop=True)
    f = np.asarray(scale, float)
    out["capacity_t"] = out["capacity_t"].to_numpy(float) * f
    out["base_output_t"] = out["base_output_t"].to_numpy(float) * f
    out["producer"] = out["company"] = names
    out["named"] = is_named
    out["share_of_country"] = f
    return check_market(dataclasses.replace(market, producers=out))


def named_note(market: Market, source=None) -> str:
    """meta 'named_producers' of a split traded market: each named row with its share of its
    country's exports and its base-year exports (t)."""
    P = market.producers
    rows = P[P["named"].astype(bool)] if "named" in P else P.iloc[:0]
    head = f"{source}: " if source is not None else ""
    return head + "; ".join(
        f"{r.producer} ({r.country}, {r.share_of_country:.2%} of its exports, "
        f"{r.base_output_t:,.2f} t)" for r in rows.itertuples()) + (
        " — traded market: a named producer's share of its country's exports is its share of "
        "the country's World Mining Data output; technology and c1_usd_per_t unused")
