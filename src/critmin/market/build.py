"""Build a world `Market` for one commodity and base year from public data (issue 4, world level).

Pure core, `world_market(production, curve, base_price_usd_per_t, ...)`, plus a thin warehouse
reader, `market_from_warehouse(con, commodity, year)`. Assumptions (docs/methods.md, "Market model"):

- World level, balanced base year: one consumer, "WLD", with base demand = world production of
  the base year (World Mining Data, contained t; kg tables / 1,000). Apparent consumption by
  country is not attempted: the shipped BACI extract lacks the refined HS codes (7501/7502,
  720260, 283324, 7403, ...; notes §5.1), so a country-level market must come from a user file.
- Producers are the technology bands of `cost_curves.csv` (ILLUSTRATIVE, notes §3.2 [design,
  calibrated]), each split into `steps_per_band` equal steps with C1 spread evenly across the
  band's range; base output = band share × world production, capacity = base output × (1 +
  headroom) (default 6%: 2023–24 curtailments were "~6% of potential supply", notes §3.2).
- `named_producers` carve their own output out of a named band (Russia's WMD output out of the
  nickel sulphide band), so a country or company shock hits a real share.
- Shut-down rule. `shutdown="sticky"` (default): in the one-period model every base-year
  producer keeps producing (cost_usd_per_t = 0; closures are sticky: in 2015 output fell 4.7%
  while the price fell 33%, notes §3.2) and output moves with ε_s up to capacity; the C1 of
  each step is kept in `c1_usd_per_t`, and the loss-making share L(p) is read from it ("would
  close if sustained"; the dynamic solver applies closures). The base year then clears at p0
  exactly. `shutdown="c1"`: cost_usd_per_t = C1 (pure merit order); the base year then does not
  clear at p0 when L(p0) > 0, because loss-making output vanishes at once.
- Base price: the annual average of the base year (World Bank Pink Sheet, else IMF PCPS) in
  USD/t. If World Mining Data has no year that recent, the latest earlier year's production
  is used and reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from critmin.market.model import Market, MarketError, check_market

__all__ = ["COST_CURVES_FILE", "DEFAULT_NAMED_PRODUCERS", "BaseInputs", "base_inputs",
           "load_cost_curve", "loss_making_share", "market_from_warehouse", "world_market"]

HERE = Path(__file__).resolve().parent
COST_CURVES_FILE = HERE / "cost_curves.csv"
CURVE_COLUMNS = ("commodity", "band", "cumulative_share_from", "cumulative_share_to",
                 "c1_low_usd_per_t", "c1_high_usd_per_t", "basis", "source")
NAMED_COLUMNS = ("producer", "country", "technology", "capacity_t", "c1_usd_per_t")

DEFAULT_NAMED_PRODUCERS: dict[str, dict[str, tuple[str, str | None]]] = {
    # country -> (band, company). All of Russia's WMD nickel output is attributed to Nornickel
    # (Nornickel ≈ 205 kt in 2024 against WMD's 217 kt for Russia [memory]), so that the
    # example scenario's `company: Nornickel` cut finds it.
    "nickel": {"RUS": ("sulphide", "Nornickel")},
    # the DRC's whole output is its Cu-Co band (the band is sized on WMD 2024, COD 74.5%), so
    # that a country cut or quota on COD finds it
    "cobalt": {"COD": ("drc_copper_cobalt", None)},
}
DEFAULT_HEADROOM = 0.06
"""Capacity above base output: "curtailments of >230 kt (~6% of potential supply)" (notes §3.2)."""
DEFAULT_CHOKE_MULTIPLE = 3.5
"""Choke price / base price: Busch et al.'s 54,000 USD/t value of lost load for nickel (notes
§5.2) over a ~15,000 USD/t base."""
WORLD = "WLD"


# --- the cost curve ------------------------------------------------------------------------------

def load_cost_curve(commodity: str, path=None) -> pd.DataFrame:
    """The technology bands of `commodity` from cost_curves.csv (or `path`), sorted by share.
    A commodity without a curve raises MarketError naming the file to supply."""
    path = Path(path) if path is not None else COST_CURVES_FILE
    table = pd.read_csv(path)
    missing = [c for c in CURVE_COLUMNS if c not in table]
    if missing:
        raise MarketError(f"{path}: missing columns {missing}")
    curve = table[table["commodity"].astype(str).str.casefold() == commodity.casefold()]
    if curve.empty:
        have = sorted(table["commodity"].astype(str).unique())
        raise MarketError(
            f"no cost curve for {commodity!r} in {path.name} ({path}); it has {have}. Supply "
            f"technology bands for {commodity} in cost_curves.csv (columns: "
            f"{', '.join(CURVE_COLUMNS)}) or a producer file")
    return _check_curve(curve.sort_values("cumulative_share_from").reset_index(drop=True), path)


def _check_curve(curve: pd.DataFrame, where) -> pd.DataFrame:
    lo = curve["cumulative_share_from"].to_numpy(float)
    hi = curve["cumulative_share_to"].to_numpy(float)
    c_lo = curve["c1_low_usd_per_t"].to_numpy(float)
    c_hi = curve["c1_high_usd_per_t"].to_numpy(float)
    if abs(lo[0]) > 1e-9 or abs(hi[-1] - 1) > 1e-9 or np.any(np.abs(lo[1:] - hi[:-1]) > 1e-9):
        raise MarketError(f"{where}: bands of {curve['commodity'].iloc[0]} must tile 0..1 "
                          f"without gaps (got {list(zip(lo, hi))})")
    if np.any(hi <= lo) or np.any(c_lo < 0) or np.any(c_hi < c_lo):
        raise MarketError(f"{where}: each band needs share_from < share_to and "
                          f"0 <= c1_low <= c1_high")
    return curve


def loss_making_share(curve: pd.DataFrame, price_usd_per_t: float) -> float:
    """L(p): the share of output whose C1 is above p, C1 uniform within each band."""
    share = curve["cumulative_share_to"] - curve["cumulative_share_from"]
    lo, hi = curve["c1_low_usd_per_t"], curve["c1_high_usd_per_t"]
    width = (hi - lo).where(hi > lo, np.nan)
    above = ((hi - price_usd_per_t) / width).clip(0, 1)
    above = above.fillna((lo > price_usd_per_t).astype(float))
    return float((share * above).sum())


# --- the market ----------------------------------------------------------------------------------

def _named_table(named, production: pd.Series, curve: pd.DataFrame,
                 commodity: str) -> pd.DataFrame:
    """Named producers as rows (producer, company, country, band, base_output_t, c1_usd_per_t)."""
    bands = {str(b).casefold(): str(b) for b in curve["band"]}

    def band_of(name, where):
        key = str(name).casefold().removesuffix(" band").strip()
        if key not in bands:
            raise MarketError(f"{where}: no band {name!r} in the {commodity} curve "
                              f"(bands: {', '.join(bands.values())})")
        return bands[key]

    rows = []
    if isinstance(named, pd.DataFrame):
        missing = [c for c in NAMED_COLUMNS if c not in named]
        if missing:
            raise MarketError(f"named producers file: missing columns {missing} "
                              f"(need {', '.join(NAMED_COLUMNS)})")
        for i, r in named.reset_index(drop=True).iterrows():
            b = band_of(r["technology"], f"named producers row {i} ({r['producer']}), "
                                         f"field technology")
            cap, c1 = float(r["capacity_t"]), float(r["c1_usd_per_t"])
            if not (np.isfinite(cap) and cap > 0 and np.isfinite(c1) and c1 >= 0):
                raise MarketError(f"named producers row {i} ({r['producer']}): capacity_t must "
                                  f"be > 0 and c1_usd_per_t >= 0")
            rows.append(dict(producer=str(r["producer"]), company=str(r["producer"]),
                             country=str(r["country"]), band=b, base_output_t=cap,
                             c1_usd_per_t=c1))
    else:
        for iso3, spec in dict(named).items():
            band, company = (spec, None) if isinstance(spec, str) else tuple(spec)
            b = band_of(band, f"named producer {iso3}")
            if iso3 not in production.index or production[iso3] <= 0:
                raise MarketError(f"named producer {iso3}: no {commodity} production in World "
                                  f"Mining Data for the base year")
            c = curve.loc[curve["band"] == b].iloc[0]
            rows.append(dict(producer=f"{iso3} ({b})", company=company or iso3, country=iso3,
                             band=b, base_output_t=float(production[iso3]),
                             c1_usd_per_t=0.5 * (c["c1_low_usd_per_t"] + c["c1_high_usd_per_t"])))
    return pd.DataFrame(rows, columns=["producer", "company", "country", "band",
                                       "base_output_t", "c1_usd_per_t"])


def world_market(production, curve: pd.DataFrame, base_price_usd_per_t: float, *,
                 named_producers=None, steps_per_band: int = 10,
                 capacity_headroom: float = DEFAULT_HEADROOM, shutdown: str = "sticky",
                 choke_multiple: float = DEFAULT_CHOKE_MULTIPLE, stocks_t: float = 0.0,
                 stock_release_share: float = 0.0, supply_elasticity: float | None = None,
                 demand_elasticity: float | None = None, commodity: str | None = None) -> Market:
    """A world Market (see the module docstring).

    production: world production of the base year by country, t of contained metal (a Series
    indexed by ISO3, or a DataFrame with country and quantity). curve: the commodity's bands
    (`load_cost_curve`). named_producers: {ISO3: band} or {ISO3: (band, company)}, carving
    the country's production out of that band at the band's mid C1; or a DataFrame with
    columns producer, country, technology, capacity_t, c1_usd_per_t (capacity carved out of
    band `technology`, producing at capacity in the base year). supply_elasticity /
    demand_elasticity: the table values (default: the modes in elasticities.csv)."""
    if isinstance(production, pd.DataFrame):
        production = production.groupby("country")["quantity"].sum()
    production = pd.Series(production, dtype=float)
    world = float(production.sum())
    if not np.isfinite(world) or world <= 0:
        raise MarketError("world production must be > 0 t")
    if shutdown not in ("sticky", "c1"):
        raise MarketError(f"shutdown must be 'sticky' or 'c1', not {shutdown!r}")
    if steps_per_band < 1 or capacity_headroom < 0 or choke_multiple <= 1:
        raise MarketError("need steps_per_band >= 1, capacity_headroom >= 0, choke_multiple > 1")
    commodity = commodity or str(curve["commodity"].iloc[0])
    curve = _check_curve(curve.reset_index(drop=True), "cost curve")
    if supply_elasticity is None or demand_elasticity is None:
        from critmin.market.montecarlo import elasticity_priors
        pri = elasticity_priors(commodity).set_index("side")["mode"]
        supply_elasticity = pri["supply"] if supply_elasticity is None else supply_elasticity
        demand_elasticity = pri["demand"] if demand_elasticity is None else demand_elasticity

    named = (_named_table(named_producers, production, curve, commodity)
             if named_producers is not None and len(named_producers) else
             _named_table({}, production, curve, commodity))
    rows = []
    for _, b in curve.iterrows():
        share = b["cumulative_share_to"] - b["cumulative_share_from"]
        carved = float(named.loc[named["band"] == b["band"], "base_output_t"].sum())
        rest = share * world - carved
        if rest < -1e-6 * world:
            raise MarketError(f"named producers in band {b['band']!r} produce {carved:,.0f} t, "
                              f"more than the band's {share * world:,.0f} t "
                              f"({share:.0%} of world production {world:,.0f} t)")
        if rest <= 1e-9 * world:
            continue
        k = np.arange(steps_per_band)
        c1 = b["c1_low_usd_per_t"] + (k + 0.5) / steps_per_band * (
            b["c1_high_usd_per_t"] - b["c1_low_usd_per_t"])
        for j in k:
            rows.append(dict(producer=f"{b['band']} step {j + 1}", company=None, country=WORLD,
                             band=b["band"], base_output_t=rest / steps_per_band,
                             c1_usd_per_t=float(c1[j])))
    prod = pd.concat([named, pd.DataFrame(rows)], ignore_index=True)
    prod["capacity_t"] = prod["base_output_t"] * (1 + capacity_headroom)
    prod["cost_usd_per_t"] = 0.0 if shutdown == "sticky" else prod["c1_usd_per_t"]
    prod["supply_elasticity"] = float(supply_elasticity)
    prod["named"] = prod["country"] != WORLD
    prod = prod[["producer", "country", "capacity_t", "cost_usd_per_t", "base_output_t",
                 "supply_elasticity", "company", "band", "c1_usd_per_t", "named"]]
    cons = pd.DataFrame(dict(consumer=[WORLD], base_demand_t=[world],
                             demand_elasticity=[float(demand_elasticity)]))
    p0 = float(base_price_usd_per_t)
    return check_market(Market(commodity, prod, cons, p0, p0 * choke_multiple,
                               stocks_t=float(stocks_t),
                               stock_release_share=float(stock_release_share)))


# --- the warehouse -------------------------------------------------------------------------------

PRICE_SOURCES = ("wb_pink_sheet", "imf_pcps")
PRICE_SERIES = {"rare_earths": "rareee:Price_Nd2O3_dkg"}
"""The one series a commodity's base price reads where a source holds several: rare earths have
no basket price in the warehouse, so the magnet-metal marker Nd2O3 (USGS MCS, USD/kg) stands for
the market, and the rare-earth cost curve is on the same basis."""


class BaseInputs(dict):
    """What market_from_warehouse read: production (Series ISO3 -> t), production_year,
    production_source, price_usd_per_t, price_year, price_source, price_series, price_months."""


def production_t(con, commodity: str, year: int) -> tuple[pd.Series, int]:
    """(World Mining Data production per ISO3 in t — kg tables / 1,000 —, the year read):
    `year`, or the latest earlier year held."""
    from critmin.catalog import commodity as _commodity
    from critmin.data import queries
    from critmin.errors import WarehouseError
    key = _commodity(commodity).key
    years = [r[0] for r in con.execute(
        "SELECT DISTINCT year FROM production WHERE commodity = ? AND source = 'wmd' "
        "AND measure = 'production' AND year <= ? ORDER BY year DESC", [key, year]).fetchall()]
    if not years:
        raise WarehouseError(f"no World Mining Data production of {key} in or before {year}")
    table, summary = queries.production(con, key, year=years[0], source="wmd",
                                        measure="production")
    factor = {"t": 1.0, "kg": 1e-3}.get(summary["unit"])
    if factor is None:
        raise WarehouseError(f"World Mining Data {key} in unexpected unit {summary['unit']!r}")
    return table.groupby("country")["quantity"].sum() * factor, int(years[0])


def base_inputs(con, commodity: str, year: int) -> BaseInputs:
    """World Mining Data production (t; kg tables / 1,000) of `year`, or the latest earlier
    year, and the average price of `year` in USD/t: monthly (Pink Sheet, IMF PCPS), else the
    USGS MCS annual figure (price_months is then 1); series per PRICE_SERIES."""
    from critmin.catalog import commodity as _commodity
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.errors import WarehouseError
    key = _commodity(commodity).key
    prod, prod_year = production_t(con, key, year)
    price = None
    want = PRICE_SERIES.get(key)
    # monthly sources first; the USGS annual average only where no monthly series exists
    # (palladium, rare earths); one series per source, never an average across series
    for src, freq in [*((s, "M") for s in PRICE_SOURCES), ("usgs_mcs2025", "A")]:
        rows = con.execute(
            "SELECT series, any_value(unit), avg(price), count(*) FROM prices "
            "WHERE commodity = ? AND source = ? AND year(period) = ? AND frequency = ? "
            "GROUP BY series ORDER BY series", [key, src, year, freq]).fetchall()
        rows = [r for r in rows if want is None or r[0] == want] or ([] if want else rows)
        if rows and rows[0][3]:
            r = rows[0]
            price = (src, r[0], price_to_usd_per_t(r[2], r[1]), int(r[3]))
            break
    if price is None:
        raise WarehouseError(f"no {key} price in {year} from {', '.join(PRICE_SOURCES)} "
                             f"(monthly) or usgs_mcs2025 (annual)"
                             + (f", series {want}" if want else ""))
    return BaseInputs(production=prod, production_year=prod_year,
                      production_source="wmd (World Mining Data)", price_source=price[0],
                      price_series=price[1], price_usd_per_t=float(price[2]),
                      price_months=price[3], price_year=int(year))


def market_from_warehouse(con, commodity: str, year: int, *, curve=None,
                          named_producers="default", **kw) -> Market:
    """`world_market` from the warehouse: WMD production, the base-year average price, the
    commodity's curve from cost_curves.csv and (by default) DEFAULT_NAMED_PRODUCERS."""
    from critmin.catalog import commodity as _commodity
    key = _commodity(commodity).key
    curve = load_cost_curve(key) if curve is None else curve
    inp = base_inputs(con, key, year)
    if isinstance(named_producers, str) and named_producers == "default":
        named_producers = DEFAULT_NAMED_PRODUCERS.get(key)
    return world_market(inp["production"], curve, inp["price_usd_per_t"],
                        named_producers=named_producers, commodity=key, **kw)
