"""Back-tests: would the market model have been right about shocks that already happened?

An episode is data (a YAML file in `critmin/market/episodes/`, schema `Episode`): how to build the
pre-shock market, the scenario to apply (the `critmin.market.scenario` schema), model variants,
and checks. Each check pairs a prediction with an observation and a tolerance:

    result = pass   if  low − tol ≤ observed ≤ high + tol
             miss   otherwise (a finding, printed with the check's note)
             no data / not modelled   when the observation or the prediction does not exist

where [low, high] is the P5–P95 band of the prediction over Monte-Carlo draws of the elasticity
priors (elasticities.csv; the same draws for every variant of an episode, so variants differ only
by their shocks). For `volume_held`, low is the P5 of the direct-sales bound (the exporter sells
only to buyers it may still serve, up to their demand) and high the P95 of full re-routing
through third countries. A variant is solved by the bloc solver (`clear.clear_blocs`, one period)
or, with `dynamic: true`, by the dynamic mode (`critmin.market.dynamic`: quarterly or annual
steps, partial adjustment, stocks carried over), which alone predicts a price path (peak within
a window, months until the price is back at or below its pre-shock level; inf = not within the
horizon).

Stages: `load_episode` → `episode_data(con, episode, prices=...)` (the only IO: warehouse, and
a price file the user names) → `run_episode(episode, data, draws=..., seed=...)` (pure) → a
table of predicted vs observed, and a dict of what was assumed. Formulas and sources are in
docs/methods.md, "Back-tests".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field, model_validator

from critmin.errors import DataFileError
from critmin.market.clear import BlocResult, clear_blocs, components
from critmin.market.dynamic import DynamicResult, simulate
from critmin.market.model import Market, MarketError, check_market
from critmin.market.montecarlo import draw_elasticities, elasticity_priors
from critmin.market.scenario import (AppliedShocks, Country, Place, Scenario, StockRelease,
                                     _check_commodity, apply_scenario, place_members)
from critmin.yamlfile import Strict, load_yaml_model

__all__ = ["EPISODES_DIR", "BacktestError", "Episode", "EpisodeData", "episode_data",
           "list_episodes", "load_episode", "read_price_file", "reroute", "run_episode",
           "trade_market"]

EPISODES_DIR = Path(__file__).resolve().parent / "episodes"
MONTHLY_SOURCES = ("wb_pink_sheet", "imf_pcps")
SHOCK_LISTS = ("output_cuts", "export_bans", "export_quotas", "export_taxes", "purchase_bans",
               "frictions", "demand_shocks", "stock_releases", "new_supplies")
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
HS6 = Annotated[str, Field(pattern=r"^\d{6}$")]


class BacktestError(DataFileError):
    """An episode that cannot be run: names the episode file, line and field."""


# --- the episode file ---------------------------------------------------------------------------

class NamedFromTrade(Strict):
    """A named producer whose capacity is an exporter's traded tonnes in `year` × the catalog's
    contained-metal factor of the codes (hs_content.csv), carved out of cost-curve band `band`."""

    producer: str = Field(min_length=1)
    exporter: Country
    hs6: list[HS6] = Field(min_length=1)
    year: int
    band: str
    note: str | None = None


class MarketSpec(Strict):
    """kind world: `build.world_market` (World Mining Data production, the commodity's cost
    curve, one consumer WLD), base price the month `base_price_period` (else the base year's
    average). kind trade: the traded market of `year` for codes `hs6` (every exporter a producer
    of its exports, every importer a consumer of its imports, t of contained metal)."""

    kind: Literal["world", "trade"]
    base_price_period: Month | None = None
    named_from_trade: list[NamedFromTrade] = []
    hs6: list[HS6] | None = None
    year: int | None = None

    @model_validator(mode="after")
    def _fields(self):
        if self.kind == "trade" and (self.hs6 is None or self.year is None):
            raise ValueError("a trade market needs hs6 and year")
        if self.kind == "world" and self.hs6 is not None:
            raise ValueError("a world market takes no hs6 (use named_from_trade)")
        return self


class Stockpile(Strict):
    """Stocks built before the shock: exports in `build_year` above those of `normal_year`
    (contained t), released by `holder` in the period after the shock (a fixed release)."""

    exporter: Country
    hs6: list[HS6] = Field(min_length=1)
    build_year: int
    normal_year: int
    holder: Country
    source: str = Field(min_length=1)
    assumption: bool = False


class Prior(Strict):
    """A triangular prior with its source."""

    low: float
    mode: float
    high: float
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.mode <= self.high:
            raise ValueError("need low <= mode <= high")
        return self


class DynamicSpec(Strict):
    """The dynamic mode (`critmin.market.dynamic`) for variants with `dynamic: true`: `periods`
    steps of a `period`; the long-run supply elasticity ε_LR (the short-run ε_SR is drawn from
    elasticities.csv, and the yearly adjustment is λ = ε_SR / ε_LR, notes §3.1); closures after
    `periods_below` periods under C1, restart above C1 (1 + restart_premium_share); the
    stockpile released evenly over `stockpile_periods` periods."""

    period: Literal["year", "quarter"]
    periods: int = Field(ge=1, le=400)
    long_run_supply_elasticity: Prior
    periods_below: int | None = Field(None, ge=1)
    restart_premium_share: float = Field(0.0, ge=0)
    closures_source: str | None = None
    stockpile_periods: int = Field(1, ge=1)


class Variant(Strict):
    """The episode's scenario with shock lists `drop`ped, the stockpile released or not, solved
    by the one-period market or (dynamic: true) the dynamic mode."""

    name: str = Field(min_length=1)
    drop: list[Literal[SHOCK_LISTS]] = []
    stockpile: bool = False
    dynamic: bool = False
    note: str | None = None


class Predict(Strict):
    """price_change: base-demand-weighted consumer price / p0 − 1. export_change: exporter's
    output sold after / before − 1; volume_held: the same as a ratio, with the direct-sales bound.
    export_share: share of the exporter's sales going to `importers` (re-allocation heuristic,
    `reroute`). Dynamic variants: price_peak_change, the highest price of the periods that start
    within `within_months` of the shock / p0 − 1; recovery_months, months from the shock to the
    middle of the first period after the peak with price ≤ p0 (inf: not within the horizon);
    the one-period market does not model them (NaN)."""

    kind: Literal["price_change", "export_change", "volume_held", "export_share",
                  "price_peak_change", "recovery_months"]
    exporter: Country | None = None
    importers: list[Place] | None = None
    within_months: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _fields(self):
        if self.kind in ("export_change", "volume_held", "export_share") and not self.exporter:
            raise ValueError(f"{self.kind} needs exporter")
        if self.kind == "export_share" and not self.importers:
            raise ValueError("export_share needs importers")
        return self


class Observe(Strict):
    """What the data show. Trade (BACI, t of the codes `hs6`, exporter's exports):
    export_change = X(year) / X(base_year) − 1; export_held = X(year) / X(base_year);
    export_share = X(year, to importers) / X(year). Prices (the first monthly source:
    Pink Sheet, IMF PCPS or the user's file), relative to the month `base_period`:
    price_peak_change = max over start..end / base − 1; price_average_change = mean over
    start..end / base − 1; price_recovery_months = months from start to the first month after
    the peak (in start..end) at or below base. price_annual_change = mean(year) / mean(base_year)
    − 1 (monthly or annual prices)."""

    kind: Literal["export_change", "export_held", "export_share", "price_peak_change",
                  "price_average_change", "price_annual_change", "price_recovery_months"]
    exporter: Country | None = None
    hs6: list[HS6] | None = None
    importers: list[Place] | None = None
    base_year: int | None = None
    year: int | None = None
    base_period: Month | None = None
    start: Month | None = None
    end: Month | None = None

    @model_validator(mode="after")
    def _fields(self):
        need = {"export_change": ("exporter", "hs6", "base_year", "year"),
                "export_held": ("exporter", "hs6", "base_year", "year"),
                "export_share": ("exporter", "hs6", "importers", "year"),
                "price_peak_change": ("base_period", "start", "end"),
                "price_average_change": ("base_period", "start", "end"),
                "price_recovery_months": ("base_period", "start", "end"),
                "price_annual_change": ("base_year", "year")}[self.kind]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.kind} needs {', '.join(missing)}")
        return self


class Check(Strict):
    """One row of the table: prediction of `variant` vs observation, with tolerance `tol` (in the
    unit of the observation: a share, or months) and the reason for it (`why_tol`)."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    variant: str
    predict: Predict
    observe: Observe
    tol: float = Field(ge=0)
    why_tol: str = Field(min_length=1)
    note: str | None = None


class Episode(Strict):
    """One back-test episode (see the module docstring)."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    commodity: Annotated[str, AfterValidator(_check_commodity)]
    shock_period: Month
    description: str | None = None
    sources: list[str] = Field(min_length=1)
    market: MarketSpec
    stockpile: Stockpile | None = None
    dynamic: DynamicSpec | None = None
    scenario: Scenario
    variants: list[Variant] = Field(min_length=1)
    checks: list[Check] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self):
        if self.scenario.commodity != self.commodity:
            raise ValueError(f"scenario.commodity {self.scenario.commodity!r} is not the "
                             f"episode's {self.commodity!r}")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {names}")
        for v in self.variants:
            if v.dynamic and (self.dynamic is None or self.market.kind != "world"):
                raise ValueError(f"variant {v.name!r} is dynamic: needs a world market and a "
                                 f"dynamic section")
            if v.stockpile and self.stockpile is None:
                raise ValueError(f"variant {v.name!r} draws a stockpile the episode does not "
                                 f"define")
        for c in self.checks:
            if c.variant not in names:
                raise ValueError(f"check {c.id!r}: no variant {c.variant!r} (have {names})")
            if c.predict.kind == "export_share" and self.market.kind != "trade":
                raise ValueError(f"check {c.id!r}: export_share needs a trade market")
            dyn = next(v.dynamic for v in self.variants if v.name == c.variant)
            if dyn and c.predict.kind not in ("price_peak_change", "recovery_months"):
                raise ValueError(f"check {c.id!r}: the dynamic variant {c.variant!r} predicts "
                                 f"price_peak_change and recovery_months only")
        return self


def list_episodes() -> list[str]:
    """Ids of the episodes shipped with critmin (file stems in EPISODES_DIR)."""
    return sorted(p.stem for p in EPISODES_DIR.glob("*.yaml"))


def load_episode(name_or_path) -> Episode:
    """A shipped episode by id, or an episode YAML file by path; BacktestError names file,
    line and field."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = EPISODES_DIR / f"{name_or_path}.yaml"
        if not p.exists():
            raise BacktestError(str(p), None, None, f"no episode {name_or_path!r}; shipped "
                                                    f"episodes: {', '.join(list_episodes())}")
    return load_yaml_model(p, Episode, BacktestError)


# --- what the data hold ---------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeData:
    """Inputs of `run_episode`, read by `episode_data`.

    market: the pre-shock Market. base_flows: exporter, importer, quantity_t (contained t) of a
    trade market's base year (None for a world market). stockpile_t: contained t (None: no
    stockpile). trade: year, exporter, importer, hs6, quantity_t (t gross, BACI) for the
    observations. prices: period (Timestamp), frequency ('M' or 'A'), price, unit, series,
    source. notes: what was read and assumed, for the report."""

    market: Market
    base_flows: pd.DataFrame | None
    stockpile_t: float | None
    trade: pd.DataFrame
    prices: pd.DataFrame
    notes: dict


def read_price_file(path, commodity: str) -> pd.DataFrame:
    """Monthly prices of `commodity` from an IMF PCPS or World Bank Pink Sheet CSV the user names
    (the loaders of critmin.data.loaders.prices; IMF files cannot be shipped)."""
    from critmin.catalog import commodity as _commodity
    from critmin.data.loaders.prices import read_imf_pcps_csv, read_pink_sheet_csv
    key = _commodity(commodity).key
    problems = []
    for reader in (read_imf_pcps_csv, read_pink_sheet_csv):
        try:
            t = reader(path).tables["prices"]
        except DataFileError as exc:
            problems.append(exc.problem)
            continue
        t = t[t["commodity"] == key]
        if not t.empty:
            t = t.assign(period=pd.to_datetime(t["period"]))
            return t[["period", "frequency", "price", "unit", "series", "source"]]
        problems.append(f"no {key} series")
    raise DataFileError(str(path), 1, None, f"no monthly {key} prices as an IMF PCPS or Pink "
                                            f"Sheet CSV ({'; '.join(problems)})")


def _content_factor(hs6: str, commodity: str, where: str) -> float:
    from critmin.catalog.commodities import content_factors
    f = content_factors()
    row = f[(f["hs6"] == hs6) & (f["commodity"] == commodity)]
    if row.empty or not np.isfinite(row["content"].iloc[0]):
        raise MarketError(f"{where}: no contained-{commodity} factor for HS {hs6} in the "
                          f"catalog's hs_content.csv; add one with its source")
    return float(row["content"].iloc[0])


def _contained(t: pd.DataFrame, commodity: str, where: str) -> pd.Series:
    """quantity_t × the content factor of each row's hs6 (t of contained metal)."""
    fac = {h: _content_factor(h, commodity, where) for h in t["hs6"].unique()}
    return t["quantity_t"] * t["hs6"].map(fac)


def episode_data(con, ep: Episode, *, prices=None) -> EpisodeData:
    """Read what `ep` needs from the warehouse (and `prices`: a file path, or a DataFrame as
    read_price_file returns; default the warehouse prices table)."""
    from critmin.catalog import commodity as _commodity
    from critmin.errors import WarehouseError
    key = _commodity(ep.commodity).key
    where = f"episode {ep.id}"
    notes: dict = {}
    if prices is None:
        pr = con.execute("SELECT period, frequency, price, unit, series, source FROM prices "
                         "WHERE commodity = ? ORDER BY source, series, period", [key]).df()
        pr["period"] = pd.to_datetime(pr["period"])
        notes["prices"] = "warehouse prices table"
    elif isinstance(prices, pd.DataFrame):
        pr = prices
        notes["prices"] = "prices given by the caller"
    else:
        pr = read_price_file(prices, key)
        notes["prices"] = f"file {prices}"
    series, label = _price_series(pr)
    if series is None:
        raise WarehouseError(f"{where}: no {key} prices in the {notes['prices']}")
    notes["price_series"] = label

    codes = sorted({h for c in ep.checks if c.observe.hs6 for h in c.observe.hs6}
                   | {h for n in ep.market.named_from_trade for h in n.hs6}
                   | set(ep.stockpile.hs6 if ep.stockpile else ()))
    exporters = sorted({c.observe.exporter for c in ep.checks if c.observe.exporter}
                       | {n.exporter for n in ep.market.named_from_trade}
                       | ({ep.stockpile.exporter} if ep.stockpile else set()))
    trade = con.execute(
        "SELECT year, exporter, importer, hs6, quantity_t FROM trade WHERE source = 'baci' "
        "AND exporter IN (SELECT unnest(?)) AND hs6 IN (SELECT unnest(?)) "
        "AND quantity_t IS NOT NULL", [exporters, codes]).df()

    def exports(exporter, hs6, year, what):
        rows = trade[(trade["exporter"] == exporter) & trade["hs6"].isin(hs6)
                     & (trade["year"] == year)]
        if rows.empty:
            raise WarehouseError(f"{where}, {what}: no BACI exports of {exporter} in HS "
                                 f"{', '.join(hs6)} for {year} in the warehouse; load the full "
                                 f"BACI file (critmin data load) for that year")
        return float(_contained(rows, key, where).sum())

    stock = None
    if ep.stockpile is not None:
        s = ep.stockpile
        built = exports(s.exporter, s.hs6, s.build_year, "stockpile")
        normal = exports(s.exporter, s.hs6, s.normal_year, "stockpile")
        stock = max(built - normal, 0.0)
        notes["stockpile_t"] = (f"{stock:,.0f} t contained: {s.exporter} exports {s.build_year} "
                                f"{built:,.0f} t − {s.normal_year} {normal:,.0f} t")

    build_market = _world_from_warehouse if ep.market.kind == "world" else _trade_from_warehouse
    market, flows, p0 = build_market(con, ep, key, series, exports, notes)
    p0_usd = market.base_price_usd_per_t
    notes["base_price"] = f"{p0:,.2f} {series['unit'].iloc[0]} ({p0_usd:,.0f} USD/t)"
    return EpisodeData(market=market, base_flows=flows, stockpile_t=stock, trade=trade,
                       prices=pr, notes=notes)


def _world_from_warehouse(con, ep: Episode, key: str, series: pd.DataFrame, exports,
                          notes: dict):
    """(world Market, None, p0 in the series' unit) for a `world` episode."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.data.queries import wmd_years
    from critmin.errors import WarehouseError
    from critmin.market import build
    where = f"episode {ep.id}"
    years = wmd_years(con, key)
    if not years:
        raise WarehouseError(f"{where}: no World Mining Data production of {key}")
    base_year = ep.scenario.base_year
    before = [y for y in years if y <= base_year]
    prod_year = before[-1] if before else years[0]
    inp = build.base_inputs(con, key, prod_year)
    world = float(inp["production"].sum())
    notes["production"] = (f"{inp['production_source']} {prod_year}, world {world:,.0f} t"
                           + ("" if before else f" (earliest year held; none for {base_year}: "
                                                f"only shares move the price)"))
    p0 = _base_price(series, ep.market.base_price_period, base_year, where)
    curve = build.load_cost_curve(key)
    named = []
    for n in ep.market.named_from_trade:
        q = exports(n.exporter, n.hs6, n.year, f"named producer {n.producer!r}")
        band = curve[curve["band"].astype(str).str.casefold() == n.band.casefold()]
        if band.empty:
            raise MarketError(f"{where}: named producer {n.producer!r}: no band {n.band!r} in "
                              f"the {key} cost curve")
        c1 = float(band[["c1_low_usd_per_t", "c1_high_usd_per_t"]].mean(axis=1).iloc[0])
        named.append(dict(producer=n.producer, country=n.exporter, technology=n.band,
                          capacity_t=q, c1_usd_per_t=c1))
        notes[f"named {n.producer}"] = (
            f"{q:,.0f} t contained ({q / world:.1%} of the world total), {n.exporter} HS "
            f"{', '.join(n.hs6)} exports {n.year}, band {n.band}")
    market = build.world_market(inp["production"], curve,
                                price_to_usd_per_t(p0, series["unit"].iloc[0]),
                                named_producers=pd.DataFrame(named) if named else None,
                                commodity=key)
    return market, None, p0


def _trade_from_warehouse(con, ep: Episode, key: str, series: pd.DataFrame, exports,
                          notes: dict):
    """(traded Market, base flows, p0 in the series' unit) for a `trade` episode."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.errors import WarehouseError
    ms, where = ep.market, f"episode {ep.id}"
    raw = con.execute(
        "SELECT exporter, importer, hs6, sum(quantity_t) AS quantity_t FROM trade "
        "WHERE source = 'baci' AND year = ? AND hs6 IN (SELECT unnest(?)) "
        "AND quantity_t IS NOT NULL AND exporter <> importer GROUP BY ALL",
        [ms.year, list(ms.hs6)]).df()
    if raw.empty:
        raise WarehouseError(f"{where}: no BACI trade in HS {', '.join(ms.hs6)} for {ms.year} "
                             f"in the warehouse")
    raw["quantity_t"] = _contained(raw, key, where)
    flows = raw.groupby(["exporter", "importer"], as_index=False)["quantity_t"].sum()
    flows = flows[flows["quantity_t"] > 0].reset_index(drop=True)
    p0 = _base_price(series, ms.base_price_period, ms.year, where)
    market = trade_market(flows, price_to_usd_per_t(p0, series["unit"].iloc[0]), key)
    notes["market"] = (f"traded market {ms.year}, HS {', '.join(ms.hs6)}: "
                       f"{flows['quantity_t'].sum():,.1f} t, {flows['exporter'].nunique()} "
                       f"exporters, {flows['importer'].nunique()} importers")
    return market, flows, p0


def _price_series(pr: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The one series the episode reads: the first monthly source (Pink Sheet, IMF PCPS, then
    any other), else the first annual one; with a label naming it."""
    if pr.empty:
        return None, "none"
    monthly = pr[pr["frequency"] == "M"]
    pool = monthly if not monthly.empty else pr
    order = [s for s in MONTHLY_SOURCES if s in set(pool["source"])] + sorted(
        set(pool["source"]) - set(MONTHLY_SOURCES))
    src = order[0]
    first = sorted(pool.loc[pool["source"] == src, "series"].unique())[0]
    s = pool[(pool["source"] == src) & (pool["series"] == first)].sort_values("period")
    s = s.reset_index(drop=True)
    freq = "monthly" if s["frequency"].iloc[0] == "M" else "annual"
    return s, (f"{src} {first} ({freq}, {s['unit'].iloc[0]}, "
               f"{s['period'].iloc[0]:%Y-%m}..{s['period'].iloc[-1]:%Y-%m})")


def _month(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"{text}-01")


def _base_price(series: pd.DataFrame, period: str | None, year: int, where: str) -> float:
    """The price of month `period` (monthly series), else the mean over `year`."""
    if period is not None:
        hit = series[(series["frequency"] == "M") & (series["period"] == _month(period))]
        if hit.empty:
            raise MarketError(f"{where}: no monthly price for {period} (base_price_period)")
        return float(hit["price"].iloc[0])
    hit = series[series["period"].dt.year == year]
    if hit.empty:
        raise MarketError(f"{where}: no price in {year}, the base year")
    return float(hit["price"].mean())


def trade_market(flows: pd.DataFrame, base_price_usd_per_t: float, commodity: str) -> Market:
    """The traded market of one year: each exporter a producer of its exports (t), each importer
    a consumer of its imports (t), so the base clears at p0 with Σ supply = Σ demand. Elasticities
    are the modes of elasticities.csv; capacity = exports × (1 + build.DEFAULT_HEADROOM); cost 0
    (every base-year seller keeps selling, as build's 'sticky' rule); choke = p0 ×
    build.DEFAULT_CHOKE_MULTIPLE."""
    from critmin.market import build
    pri = elasticity_priors(commodity).set_index("side")["mode"]
    sup = flows.groupby("exporter")["quantity_t"].sum()
    dem = flows.groupby("importer")["quantity_t"].sum()
    prod = pd.DataFrame({
        "producer": sup.index, "country": sup.index,
        "capacity_t": sup.to_numpy() * (1 + build.DEFAULT_HEADROOM), "cost_usd_per_t": 0.0,
        "base_output_t": sup.to_numpy(), "supply_elasticity": float(pri["supply"]),
        "band": "exports"})
    cons = pd.DataFrame({"consumer": dem.index, "base_demand_t": dem.to_numpy(),
                         "demand_elasticity": float(pri["demand"])})
    p0 = float(base_price_usd_per_t)
    return check_market(Market(commodity, prod.reset_index(drop=True),
                               cons.reset_index(drop=True), p0,
                               p0 * build.DEFAULT_CHOKE_MULTIPLE))


# --- the model side (pure) ------------------------------------------------------------------

def reroute(base_to: np.ndarray, allowed: np.ndarray, volume: np.ndarray,
            room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-allocate one exporter's sales after a ban (a heuristic, notes §5.3): (flows (M, J) t,
    unattributed (M,) t).

    base_to (J,): its base-year sales to each consumer, t; allowed (J,): consumers it may still
    serve; volume (M,): what it sells after, t; room (M, J): each consumer's demand after, t.
    Sales to allowed consumers keep their base level (scaled down if volume is smaller); the
    rest, V − K with K = Σ_allowed base_to, goes to allowed consumers in proportion to the
    imports they could switch to it, h_j = max(room_j − base_to_j, 0), up to h_j. What is left
    is 'unattributed': it can only leave through third countries (re-exports)."""
    base_to = np.asarray(base_to, float)
    allowed = np.asarray(allowed, bool)
    volume = np.asarray(volume, float)
    kept = np.where(allowed, base_to, 0.0)
    K = kept.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(K > 0, np.minimum(volume / K, 1.0), 0.0)
    extra = np.maximum(volume - K, 0.0)
    h = np.where(allowed[None, :], np.maximum(room - kept[None, :], 0.0), 0.0)
    H = h.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(H > 0, np.minimum(extra / H, 1.0), 0.0)
    flows = kept[None, :] * scale[:, None] + h * fill[:, None]
    return flows, extra - (h * fill[:, None]).sum(axis=1)


@dataclass(frozen=True)
class _Run:
    """A solved variant: the one-period bloc result, or (dynamic) the price path."""

    market: Market
    applied: AppliedShocks
    result: BlocResult | None = None
    path: DynamicResult | None = None
    months_per_period: int = 12


def _shocked(ep: Episode, data: EpisodeData, v: Variant) -> tuple[Market, AppliedShocks]:
    scen = ep.scenario.model_copy(update={name: [] for name in v.drop})
    if v.stockpile and data.stockpile_t:
        s = ep.stockpile
        rel = StockRelease(release_t=data.stockpile_t, holder=s.holder, source=s.source,
                           assumption=s.assumption)
        scen = scen.model_copy(update={"stock_releases": [*scen.stock_releases, rel]})
    shocked, applied = apply_scenario(data.market, scen)
    return shocked, applied


def _elasticities(m: Market, supply: np.ndarray, demand: np.ndarray):
    """(ε (M, N), η (M, J)): the draws on the curve rows (those with a band, as montecarlo
    does), the table's ε elsewhere (stock releases: 0)."""
    P = m.producers
    N, J = len(P), len(m.consumers)
    curve_rows = P["band"].notna().to_numpy() if "band" in P else np.ones(N, bool)
    eps = np.where(curve_rows[None, :], np.asarray(supply, float)[:, None],
                   P["supply_elasticity"].to_numpy(float)[None, :])
    return eps, np.broadcast_to(np.asarray(demand, float)[:, None], (len(supply), J))


def _run_variant(ep: Episode, data: EpisodeData, v: Variant, el: pd.DataFrame,
                 seed: int) -> _Run:
    """Apply the variant's scenario and clear every draw with the bloc solver. A netback discount
    τ_e (frictions, share of p0) on exporter e's sales scales its supply curve by (1 − τ_e)^ε:
    q0 ((1 − τ) x)^ε = (1 − τ)^ε q0 x^ε, exact below capacity (notes §1.1, p_i = p*(1 − τ))."""
    shocked, applied = _shocked(ep, data, v)
    if v.dynamic:
        return _run_dynamic(ep, shocked, applied, el, seed)
    P = shocked.producers
    M, N = len(el), len(P)
    eps, eta = _elasticities(shocked, el["supply_elasticity"], el["demand_elasticity"])
    cf = np.ones((M, N))
    p0 = shocked.base_price_usd_per_t
    tau: dict[str, float] = {}
    for (e, _), w in applied.friction_usd_per_t.items():
        tau[e] = max(tau.get(e, 0.0), w / p0)
    for e, t in tau.items():
        rows = (P["country"].astype(str) == e).to_numpy()
        cf[:, rows] = (1 - min(t, 1.0)) ** eps[:, rows]
    res = clear_blocs(shocked, capacity_factor=cf, supply_elasticity=eps,
                      demand_elasticity=eta, scenario=f"{ep.id}: {v.name}")
    return _Run(shocked, applied, result=res)


def _run_dynamic(ep: Episode, shocked: Market, applied: AppliedShocks, el: pd.DataFrame,
                 seed: int) -> _Run:
    """The dynamic mode on the shocked world market: rows that reach no consumer (a banned
    exporter) get capacity factor 0 in every period; stock-release rows release their t evenly
    over `stockpile_periods` (k = 1 / (n Δ) as quantities are annual rates); the yearly
    adjustment λ_y = min(1, ε_SR / ε_LR) becomes 1 − (1 − λ_y)^Δ per period (notes §3.1:
    sample ε_SR and λ, ε_LR = ε_SR / λ)."""
    spec = ep.dynamic
    dt = 0.25 if spec.period == "quarter" else 1.0
    P = shocked.producers
    M, N, T = len(el), len(P), spec.periods
    comp = components([*P["country"].astype(str), *shocked.consumers["consumer"].astype(str)],
                      shocked.blocked, sellers=P["country"].astype(str),
                      buyers=shocked.consumers["consumer"].astype(str))
    served = {comp[c] for c in shocked.consumers["consumer"].astype(str)}
    k = np.ones((T, N))
    k[:, ~P["country"].astype(str).map(comp).isin(served).to_numpy()] = 0.0
    stock_rows = P["producer"].astype(str).str.startswith("stock release").to_numpy()
    n = min(spec.stockpile_periods, T)
    k[:, stock_rows] = 0.0
    k[:n, stock_rows] = 1.0 / (n * dt)
    pri = spec.long_run_supply_elasticity
    rng = np.random.default_rng([seed, 1])        # its own stream: the static draws stay put
    eps_sr = el["supply_elasticity"].to_numpy()
    eps_lr = np.maximum(rng.triangular(pri.low, pri.mode, pri.high, size=M)
                        if pri.high > pri.low else np.full(M, pri.low), eps_sr)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_y = np.clip(np.where(eps_lr > 0, eps_sr / eps_lr, 1.0), 1e-3, 1.0)
    eps, eta = _elasticities(shocked, eps_lr, el["demand_elasticity"])
    path = simulate(shocked, T, capacity_factor=k, supply_elasticity=eps,
                    demand_elasticity=eta, adjustment=1 - (1 - lam_y) ** dt, period_years=dt,
                    periods_below=spec.periods_below,
                    restart_premium_share=spec.restart_premium_share)
    return _Run(shocked, applied, path=path, months_per_period=int(round(12 * dt)))


def _volumes(run: _Run, base: Market, exporter: str):
    """(after (M,), base t, direct-sales bound (M,) t) of one exporter's sales."""
    P = run.market.producers
    rows = (P["country"].astype(str) == exporter).to_numpy()
    b = float(base.producers.loc[base.producers["country"].astype(str) == exporter,
                                 "base_output_t"].sum())
    if b <= 0:
        raise MarketError(f"no base output of {exporter} in the {base.commodity} market")
    after = run.result.output[:, rows].sum(axis=1)
    allowed = _allowed(run.market, exporter)
    direct = np.minimum(after, run.result.consumption[:, allowed].sum(axis=1))
    return after, b, direct


def _allowed(m: Market, exporter: str) -> np.ndarray:
    return np.array([c != exporter and (exporter, c) not in m.blocked
                     for c in m.consumers["consumer"].astype(str)])


def _predict(p: Predict, run: _Run, data: EpisodeData) -> tuple[np.ndarray, np.ndarray]:
    """(low-side draws, high-side draws): the same array except for volume_held, whose low side
    is the direct-sales bound. NaN draws: not modelled."""
    if run.path is not None:
        return (x := _dynamic_prediction(p, run, data.market.base_price_usd_per_t)), x
    res, m = run.result, run.market
    if p.kind in ("price_peak_change", "recovery_months"):
        nan = np.full(res.price.shape[0], np.nan)
        return nan, nan
    if p.kind == "price_change":
        comp = [res.component[c] for c in m.consumers["consumer"].astype(str)]
        w = m.consumers["base_demand_t"].to_numpy(float)
        x = (res.price[:, comp] * w).sum(axis=1) / w.sum() / data.market.base_price_usd_per_t
        return x - 1, x - 1
    after, b, direct = _volumes(run, data.market, p.exporter)
    if p.kind == "export_change":
        return after / b - 1, after / b - 1
    if p.kind == "volume_held":
        return direct / b, after / b
    f = data.base_flows
    base_to = (f[f["exporter"] == p.exporter].set_index("importer")["quantity_t"]
               .reindex(m.consumers["consumer"].astype(str)).fillna(0.0).to_numpy())
    flows, _ = reroute(base_to, _allowed(m, p.exporter), after, res.consumption)
    members = set().union(*(place_members(x) for x in p.importers))
    hit = m.consumers["consumer"].astype(str).isin(members).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(after > 0, flows[:, hit].sum(axis=1) / after, np.nan)
    return share, share


def _dynamic_prediction(p: Predict, run: _Run, p0: float) -> np.ndarray:
    """price_peak_change or recovery_months per draw from the price path (see Predict)."""
    x = run.path.price / p0                                     # (T, M)
    mp = run.months_per_period
    start = np.arange(x.shape[0]) * mp
    if p.kind == "price_peak_change":
        within = start < (p.within_months or x.shape[0] * mp)
        return x[within].max(axis=0) - 1
    if p.kind != "recovery_months":
        raise MarketError(f"{p.kind} is not predicted by the dynamic mode")
    peak = x.argmax(axis=0)
    after = (np.arange(x.shape[0])[:, None] > peak[None, :]) & (x <= 1 + 1e-9)
    first = np.where(after.any(axis=0), after.argmax(axis=0), -1)
    return np.where(first >= 0, first * mp + mp / 2, np.inf)


# --- the data side (pure) -------------------------------------------------------------------

def _exports_of(trade: pd.DataFrame, o: Observe, year: int, importers=None) -> float | None:
    t = trade[(trade["exporter"] == o.exporter) & trade["hs6"].isin(o.hs6)
              & (trade["year"] == year)]
    if t.empty:
        return None
    if importers is not None:
        t = t[t["importer"].isin(importers)]
    return float(t["quantity_t"].sum())


def _observe(o: Observe, data: EpisodeData) -> tuple[float, str | None]:
    """(observed value, None) or (NaN, why there is none)."""
    if o.kind.startswith("export"):
        now = _exports_of(data.trade, o, o.year)
        if now is None:
            return np.nan, f"no BACI exports of {o.exporter} in {o.year} in the warehouse"
        if o.kind == "export_share":
            members = set().union(*(place_members(x) for x in o.importers))
            return _exports_of(data.trade, o, o.year, members) / now, None
        before = _exports_of(data.trade, o, o.base_year)
        if not before:
            return np.nan, f"no BACI exports of {o.exporter} in {o.base_year} in the warehouse"
        return now / before - (1 if o.kind == "export_change" else 0), None
    series, label = _price_series(data.prices)
    if o.kind == "price_annual_change":
        y = series.groupby(series["period"].dt.year)["price"].mean()
        if o.year not in y.index or o.base_year not in y.index:
            return np.nan, f"no {o.base_year} or {o.year} price in {label}"
        return float(y[o.year] / y[o.base_year] - 1), None
    if series["frequency"].iloc[0] != "M":
        return np.nan, (f"needs monthly prices; the source holds {label}: pass --prices FILE "
                        f"(IMF PCPS or Pink Sheet CSV)")
    s = series.set_index("period")["price"]
    base_at, lo, hi = _month(o.base_period), _month(o.start), _month(o.end)
    if base_at not in s.index or lo not in s.index:
        return np.nan, f"no monthly price for {o.base_period} or {o.start} in {label}"
    win = s[(s.index >= lo) & (s.index <= hi)]
    base = float(s[base_at])
    if o.kind == "price_peak_change":
        return float(win.max() / base - 1), None
    if o.kind == "price_average_change":
        return float(win.mean() / base - 1), None
    after_peak = win[win.index > win.idxmax()]
    back = after_peak[after_peak <= base]
    if back.empty:
        return np.nan, f"price not back at or below {o.base_period} by {o.end} ({label})"
    t = back.index[0]
    return float((t.year - lo.year) * 12 + t.month - lo.month), None


def _q(x: np.ndarray, q: float) -> float:
    """Quantile over the draws, NaN draws ignored; inf ('never') stays inf."""
    x = np.asarray(x, float)
    if np.isnan(x).all():
        return np.nan
    v = float(np.nanquantile(np.where(np.isinf(x), np.sign(x) * 1e300, x), q))
    return v if abs(v) < 1e299 else np.sign(v) * np.inf


def run_episode(ep: Episode, data: EpisodeData, *, draws: int = 500,
                seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """(table, notes). One table row per check: episode, check, label, variant, predicted_low
    (P5; for volume_held the P5 of the direct-sales bound), predicted (P50), predicted_high
    (P95), observed, tol, result (pass / miss / no data / not modelled), note. Shares and
    changes are fractions (0.39 = +39%); recovery in months. Deterministic for a seed."""
    el = draw_elasticities(ep.commodity, draws, seed)
    runs = {v.name: _run_variant(ep, data, v, el, seed) for v in ep.variants}
    rows = []
    for c in ep.checks:
        low_side, high_side = _predict(c.predict, runs[c.variant], data)
        lo, mid, hi = _q(low_side, 0.05), _q(high_side, 0.5), _q(high_side, 0.95)
        obs, missing = _observe(c.observe, data)
        if missing:
            result, note = "no data", f"{missing}. {c.note or ''}".strip()
        elif np.isnan(mid):
            result, note = "not modelled", c.note
        else:
            ok = lo - c.tol <= obs <= hi + c.tol
            result, note = ("pass" if ok else "miss"), c.note
        rows.append(dict(episode=ep.id, check=c.id, label=c.label, variant=c.variant,
                         predicted_low=lo, predicted=mid, predicted_high=hi, observed=obs,
                         tol=c.tol, result=result, note=" ".join((note or "").split())))
    table = pd.DataFrame(rows)
    notes = {"episode": ep.name, "draws": draws, "seed": seed, **data.notes}
    for name, r in runs.items():
        notes[f"variant {name}"] = "; ".join(r.applied.log) or "no static shock"
    if ep.market.kind == "world":
        for c, row in zip(ep.checks, rows):
            if runs[c.variant].result is None:
                continue
            s = _net_loss_share(runs[c.variant], data.market)
            if c.predict.kind == "price_change" and np.isfinite(row["observed"]) and s > 0:
                notes[f"flex {c.id}"] = (
                    f"net supply loss s = {s:.1%}; flex = −ln(1 − s)/ln(p/p0): observed "
                    f"{_flex(s, row['observed']):.2f}, model P50 {_flex(s, row['predicted']):.2f}")
    return table, notes


def _net_loss_share(run: _Run, base: Market) -> float:
    """s = 1 − (base output of the shocked rows that reach a consumer) / (world base output):
    the supply lost at unchanged prices, stock releases counted as supply (notes §4)."""
    res, P = run.result, run.market.producers
    served = {k for c, k in res.component.items()
              if c in set(run.market.consumers["consumer"].astype(str))}
    reach = P["country"].astype(str).map(res.component).isin(served).to_numpy()
    return 1 - float(P["base_output_t"].to_numpy(float)[reach].sum()) / float(
        base.producers["base_output_t"].sum())


def _flex(s: float, change: float) -> float:
    """Effective flexibility −Δln(available supply)/Δln p (notes §4), NaN when p did not rise."""
    return -np.log1p(-s) / np.log1p(change) if change > 0 else np.nan
