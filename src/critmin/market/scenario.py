"""Market-shock scenarios: YAML files validated by pydantic (unknown fields are errors; units in
field names; every shock carries its `source`, an optional `note`, and `assumption: true` where a
figure is ours, not published). Errors name the file, line and field.

Stages: `load_scenario(path)` → `apply_scenario(market, scenario)` → a solver
(`critmin.market.spe.solve_spe(m, **shocks.spe_arguments(m))`, or the bloc solver).

Static shocks are applied to the shared `Market`: output cuts (capacity and base output), demand
shocks (base demand), stock releases (a zero-cost producer row, or the price-responsive stock
pool), new supply (a producer row), export bans and purchase bans (`Market.blocked`). Trade measures a `Market` cannot hold
(export quotas, export taxes, frictions) come back in `AppliedShocks` for the solver. Dynamic
settings (closures with hysteresis, a held price level, horizon and period, Monte-Carlo draws)
are validated and carried in `AppliedShocks` unapplied: the dynamic solver applies them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import yaml
from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from critmin.catalog.commodities import commodity as _commodity
from critmin.catalog.countries import bloc_members, bloc_names, country
from critmin.yamlfile import Strict, line_of, load_yaml_model
from critmin.errors import DataFileError, UnknownNameError
from critmin.market.model import Market, check_market

__all__ = ["AppliedShocks", "MarketScenarioError", "Range", "Scenario", "apply_scenario",
           "at_values", "load_scenario", "place_members", "uncertain_fields", "value"]


class MarketScenarioError(DataFileError):
    """A market scenario that cannot be used: names the file, line and field."""


# --- names --------------------------------------------------------------------------------------

def _is_bloc(name: str) -> bool:
    return name.strip().upper() in {b.upper() for b in bloc_names()}


def _check_country(name: str) -> str:
    try:
        return country(name).iso3
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None


def _check_place(name: str) -> str:
    """A bloc id (kept, upper case) or a country (ISO3)."""
    if _is_bloc(name):
        return name.strip().upper()
    try:
        return country(name).iso3
    except UnknownNameError as exc:
        hint = f"; closest countries: {', '.join(exc.suggestions)}" if exc.suggestions else ""
        raise ValueError(f"unknown country or bloc {name!r} (blocs: {', '.join(bloc_names())})"
                         f"{hint}") from None


def _check_commodity(name: str) -> str:
    try:
        return _commodity(name).key
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None


Country = Annotated[str, AfterValidator(_check_country)]
Place = Annotated[str, AfterValidator(_check_place)]
Share = Annotated[float, Field(gt=0, le=1)]


def place_members(place: str) -> tuple[str, ...]:
    """ISO3 codes of a country or a catalog bloc (RU_SANCTIONS_2022, G7, EU27, ...)."""
    return bloc_members(place) if _is_bloc(place) else (country(place).iso3,)


def _exactly_one(obj, names: tuple[str, ...]):
    given = [n for n in names if getattr(obj, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)} (got {given or 'none'})")
    return obj


# --- the shocks ---------------------------------------------------------------------------------

class Range(Strict):
    """An uncertain shock size: the Monte Carlo draws it per draw, uniform on [low, high], or
    triangular when `mode` is given. Elsewhere (the bloc solver, the price path) the shock
    takes its central value: `mode`, else the midpoint."""

    low: float
    high: float
    mode: float | None = None

    @model_validator(mode="after")
    def _order(self):
        mid = self.low if self.mode is None else self.mode
        if not self.low <= mid <= self.high:
            raise ValueError(f"need low <= mode <= high (got low {self.low:g}, "
                             f"mode {self.mode}, high {self.high:g})")
        return self

    def central(self) -> float:
        return self.mode if self.mode is not None else 0.5 * (self.low + self.high)


def value(x):
    """A shock size as a number: a Range's central value, else x itself."""
    return x.central() if isinstance(x, Range) else x


def _within(obj, name: str, low: float, high: float, *, low_open=True, high_open=False):
    """Bounds of field `name` when it is a Range (a number is bounded by its Field)."""
    r = getattr(obj, name)
    if not isinstance(r, Range):
        return
    ok_lo = r.low > low if low_open else r.low >= low
    ok_hi = r.high < high if high_open else r.high <= high
    if not (ok_lo and ok_hi):
        lo_b, hi_b = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name}: the range {r.low:g}..{r.high:g} must lie in "
                         f"{lo_b}{low:g}, {high:g}{hi_b}")


class _Shock(Strict):
    source: str = Field(min_length=1)
    note: str | None = None
    assumption: bool = False


class OutputCut(_Shock):
    """Cut output of a country, company or asset by an absolute amount (t, of the target's base
    output) or a share; applied to capacity_t and base_output_t of every matching producer.
    Either may be a Range {low, high[, mode]}; a share range stays below 1 (a drawn closure of
    the whole target would change the market's rows)."""

    country: Country | None = None
    company: str | None = None
    asset: str | None = None
    cut_t: Annotated[float, Field(gt=0)] | Range | None = None
    cut_share: Share | Range | None = None

    @model_validator(mode="after")
    def _one(self):
        _exactly_one(self, ("country", "company", "asset"))
        _within(self, "cut_t", 0.0, float("inf"))
        _within(self, "cut_share", 0.0, 1.0, high_open=True)
        return _exactly_one(self, ("cut_t", "cut_share"))


class ExportBan(_Shock):
    """No exports from `exporter` (a country, or a bloc: exports leaving the bloc) to `importers`
    (default: everyone else). Domestic sales continue."""

    exporter: Place
    importers: list[Place] | None = Field(None, min_length=1)


class ExportQuota(_Shock):
    """Upper bound on a country's exports (t per period; 0 is a ban)."""

    exporter: Country
    quota_t: float = Field(ge=0)


class ExportTax(_Shock):
    """Specific export tax (USD/t), or an ad-valorem share converted at the base price."""

    exporter: Country
    tax_usd_per_t: float | None = Field(None, gt=0)
    tax_share_of_base_price: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self):
        return _exactly_one(self, ("tax_usd_per_t", "tax_share_of_base_price"))


class PurchaseBan(_Shock):
    """Sanctions: `buyers` (countries or blocs) buy nothing from `origins` (countries or blocs)."""

    buyers: list[Place] = Field(min_length=1)
    origins: list[Place] = Field(min_length=1)


class Friction(_Shock):
    """Re-routing friction or sanctioned-origin discount τ: a wedge on trade from `origins` to
    `buyers` (default: every other consumer), in USD/t or as a share of the base price."""

    origins: list[Place] = Field(min_length=1)
    buyers: list[Place] | None = Field(None, min_length=1)
    friction_usd_per_t: float | None = Field(None, gt=0)
    discount_share: float | None = Field(None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one(self):
        return _exactly_one(self, ("friction_usd_per_t", "discount_share"))


class DemandShock(_Shock):
    """Base demand of `consumers` (countries or blocs; default all) × (1 + change_share)."""

    consumers: list[Place] | None = Field(None, min_length=1)
    change_share: Annotated[float, Field(gt=-1)] | Range

    @model_validator(mode="after")
    def _bounds(self):
        _within(self, "change_share", -1.0, float("inf"))
        return self


class StockRelease(_Shock):
    """Release `release_t` from stocks. Without `price_responsive_share` it is a fixed release: a
    zero-cost producer row in `holder`'s country. With it, it joins the market's price-responsive
    pool R(p) = min(H, κ·D0·(p/p0 − 1)+) with κ = price_responsive_share."""

    release_t: Annotated[float, Field(gt=0)] | Range
    holder: Country | None = None
    price_responsive_share: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _holder(self):
        _within(self, "release_t", 0.0, float("inf"))
        if self.price_responsive_share is None and self.holder is None:
            raise ValueError("a fixed release needs a holder (country), or give "
                             "price_responsive_share")
        return self


class NewSupply(_Shock):
    """A new producer (mine, plant or a country's new capacity): a step of capacity_t at its cash
    cost (supply_elasticity as in the Market's producer table)."""

    producer: str = Field(min_length=1)
    country: Country
    capacity_t: float = Field(gt=0)
    cost_usd_per_t: float = Field(ge=0)
    supply_elasticity: float = Field(0.0, ge=0)


class Closures(_Shock):
    """Closure of loss-making producers with hysteresis [dynamic; carried, not applied here]:
    close after `periods_below_cost` consecutive periods with price below cash cost; restart when
    price exceeds cash cost plus a premium (USD/t, or a share of the cash cost)."""

    periods_below_cost: int = Field(ge=1)
    restart_premium_usd_per_t: float | None = Field(None, ge=0)
    restart_premium_share: float | None = Field(None, ge=0)
    applies_to: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one(self):
        return _exactly_one(self, ("restart_premium_usd_per_t", "restart_premium_share"))


class PriceLevel(_Shock):
    """Hold the market price at `price_usd_per_t` (a price-taking run: read the loss-making share
    and closures at that price) [dynamic; carried, not applied here]."""

    price_usd_per_t: float = Field(gt=0)


class Scenario(Strict):
    """One scenario file. Shocks are grouped by kind; each list may be empty."""

    name: str = Field(min_length=1)
    description: str | None = None
    commodity: Annotated[str, AfterValidator(_check_commodity)]
    base_year: int = Field(ge=1900, le=2100)
    horizon_periods: int = Field(1, ge=1)
    period: Literal["year", "quarter"] = "year"
    draws: int = Field(1000, ge=1)
    seed: int | None = None
    output_cuts: list[OutputCut] = []
    export_bans: list[ExportBan] = []
    export_quotas: list[ExportQuota] = []
    export_taxes: list[ExportTax] = []
    purchase_bans: list[PurchaseBan] = []
    frictions: list[Friction] = []
    demand_shocks: list[DemandShock] = []
    stock_releases: list[StockRelease] = []
    new_supplies: list[NewSupply] = []
    closures: Closures | None = None
    price_level: PriceLevel | None = None
    _path: str | None = PrivateAttr(None)
    _root: object = PrivateAttr(None)


def load_scenario(path) -> Scenario:
    """Read and validate a scenario YAML; MarketScenarioError names file, line and field."""
    path = Path(path)
    scen = load_yaml_model(path, Scenario, MarketScenarioError)
    scen._path = str(path)
    scen._root = yaml.compose(path.read_text(encoding="utf-8"))
    seen = {}
    for i, q in enumerate(scen.export_quotas):
        if q.exporter in seen:
            _fail(scen, ("export_quotas", i, "exporter"),
                  f"second quota for {q.exporter} (first at export_quotas.{seen[q.exporter]})")
        seen[q.exporter] = i
    return scen


def _fail(scen: Scenario, loc: tuple, problem: str):
    raise MarketScenarioError(scen._path or f"<scenario {scen.name!r}>",
                              line_of(scen._root, loc) if scen._root is not None else None,
                              ".".join(map(str, loc)), problem)


UNCERTAIN = {"output_cuts": ("cut_t", "cut_share"), "demand_shocks": ("change_share",),
             "stock_releases": ("release_t",)}
"""The shock sizes a scenario may give as a Range."""


def uncertain_fields(scen: Scenario) -> list[tuple[tuple, Range]]:
    """[((group, index, field), Range)] of every shock size given as a range."""
    out = []
    for group, names in UNCERTAIN.items():
        for i, shock in enumerate(getattr(scen, group)):
            out += [((group, i, n), getattr(shock, n)) for n in names
                    if isinstance(getattr(shock, n), Range)]
    return out


def at_values(scen: Scenario, values: dict[tuple, float]) -> Scenario:
    """The scenario with the shock sizes at `values` {(group, index, field): number}."""
    update = {}
    for group in {g for g, _, _ in values}:
        items = list(getattr(scen, group))
        for (g, i, n), v in values.items():
            if g == group:
                items[i] = items[i].model_copy(update={n: float(v)})
        update[group] = items
    out = scen.model_copy(update=update)
    out._path, out._root = scen._path, scen._root
    return out


# --- applying a scenario ------------------------------------------------------------------------

@dataclass(frozen=True)
class AppliedShocks:
    """What `apply_scenario` could not put on the `Market`, plus a log of what it did.

    export_tax: USD/t per exporter ISO3; export_quota: t per exporter ISO3;
    friction_usd_per_t: {(exporter, importer): USD/t} added to trade costs; blocked: the pairs
    added to Market.blocked. closures, price_level, horizon_periods, period, draws, seed: carried
    for the dynamic / Monte-Carlo solvers. log: one line per applied shock."""

    export_tax: dict[str, float] = field(default_factory=dict)
    export_quota: dict[str, float] = field(default_factory=dict)
    friction_usd_per_t: dict[tuple[str, str], float] = field(default_factory=dict)
    blocked: frozenset[tuple[str, str]] = frozenset()
    closures: Closures | None = None
    price_level: PriceLevel | None = None
    horizon_periods: int = 1
    period: str = "year"
    draws: int = 1000
    seed: int | None = None
    log: tuple[str, ...] = ()

    def transport_cost(self, market: Market, base_usd_per_t=None) -> pd.DataFrame | None:
        """Exporter × importer trade costs (USD/t): `base_usd_per_t` (None, a number for every
        cross-border pair, or a DataFrame) plus the frictions; None when both are absent."""
        if base_usd_per_t is None and not self.friction_usd_per_t:
            return None
        exporters = list(dict.fromkeys(market.producers["country"].astype(str)))
        importers = list(market.consumers["consumer"].astype(str))
        if isinstance(base_usd_per_t, pd.DataFrame):
            out = base_usd_per_t.astype(float).copy()
        else:
            b = 0.0 if base_usd_per_t is None else float(base_usd_per_t)
            out = pd.DataFrame([[0.0 if e == j else b for j in importers] for e in exporters],
                               index=exporters, columns=importers)
        for (e, j), w in self.friction_usd_per_t.items():
            out.loc[e, j] = out.loc[e, j] + w if (e in out.index and j in out.columns) else w
        return out

    def spe_arguments(self, market: Market, transport_cost_usd_per_t=None) -> dict:
        """Keyword arguments for `solve_spe(market, **...)` (market as returned by
        apply_scenario, whose `blocked` already holds the bans)."""
        return {"transport_cost_usd_per_t": self.transport_cost(market, transport_cost_usd_per_t),
                "export_tax": dict(self.export_tax), "export_quota": dict(self.export_quota)}


def apply_scenario(market: Market, scenario: Scenario) -> tuple[Market, AppliedShocks]:
    """(shocked Market, AppliedShocks). Static shocks change the market (see the module
    docstring); bans become blocked (exporter, importer) pairs among the market's producer
    countries and consumers (a country is never blocked from itself). A target that matches no
    producer or consumer of the market raises MarketScenarioError naming the field."""
    check_market(market)
    if scenario.commodity != _check_commodity(market.commodity):
        _fail(scenario, ("commodity",), f"scenario is for {scenario.commodity}, the market is "
                                        f"{market.commodity}")
    prod = market.producers.copy()
    cons = market.consumers.copy()
    p0 = market.base_price_usd_per_t
    stocks, kappa = market.stocks_t, market.stock_release_share
    log: list[str] = []

    for i, cut in enumerate(scenario.output_cuts):
        if cut.country is not None:
            hit, what, key = prod["country"].astype(str) == cut.country, cut.country, "country"
        else:
            key = "company" if cut.company is not None else "asset"
            name = cut.company if cut.company is not None else cut.asset
            col = "company" if key == "company" and "company" in prod else "producer"
            hit, what = prod[col].astype(str).str.casefold() == name.casefold(), name
        if not hit.any():
            _fail(scenario, ("output_cuts", i, key), f"no producer {what!r} in the market")
        base = float(prod.loc[hit, "base_output_t"].sum())
        if cut.cut_share is not None:
            s = value(cut.cut_share)
        else:
            top = cut.cut_t.high if isinstance(cut.cut_t, Range) else cut.cut_t
            if top > base or (isinstance(cut.cut_t, Range) and top >= base):
                _fail(scenario, ("output_cuts", i, "cut_t"),
                      f"cut {top:g} t exceeds the base output {base:g} t of {what}"
                      + (" (a range stays below it)" if isinstance(cut.cut_t, Range) else ""))
            s = value(cut.cut_t) / base
        if s >= 1:
            prod = prod.loc[~hit]
        else:
            prod.loc[hit, ["capacity_t", "base_output_t"]] *= 1 - s
        log.append(f"output_cuts.{i}: {what} capacity and base output −{s:.2%}")

    for i, d in enumerate(scenario.demand_shocks):
        if d.consumers is None:
            hit = pd.Series(True, index=cons.index)
        else:
            want = set().union(*(set(place_members(p)) for p in d.consumers))
            hit = cons["consumer"].astype(str).isin(want)
            if not hit.any():
                _fail(scenario, ("demand_shocks", i, "consumers"),
                      f"none of {d.consumers} is a consumer of the market")
        cons.loc[hit, "base_demand_t"] *= 1 + value(d.change_share)
        log.append(f"demand_shocks.{i}: base demand of {int(hit.sum())} consumers "
                   f"×{1 + value(d.change_share):g}")

    for i, r in enumerate(scenario.stock_releases):
        release = value(r.release_t)
        if r.price_responsive_share is not None:
            stocks += release
            kappa = r.price_responsive_share
            log.append(f"stock_releases.{i}: {release:g} t to the price-responsive pool, "
                       f"κ = {kappa:g}")
        else:
            row = {c: None for c in prod.columns}
            row.update(producer=f"stock release {r.holder} #{i}", country=r.holder,
                       capacity_t=release, cost_usd_per_t=0.0, base_output_t=release,
                       supply_elasticity=0.0)
            prod = pd.concat([prod, pd.DataFrame([row])], ignore_index=True)
            log.append(f"stock_releases.{i}: {release:g} t released in {r.holder}")

    for i, n in enumerate(scenario.new_supplies):
        if (prod["producer"].astype(str).str.casefold() == n.producer.casefold()).any():
            _fail(scenario, ("new_supplies", i, "producer"),
                  f"{n.producer!r} is already a producer of the market")
        row = {c: None for c in prod.columns}
        row.update(producer=n.producer, country=n.country, capacity_t=n.capacity_t,
                   cost_usd_per_t=n.cost_usd_per_t, base_output_t=n.capacity_t,
                   supply_elasticity=n.supply_elasticity)
        prod = pd.concat([prod, pd.DataFrame([row])], ignore_index=True)
        log.append(f"new_supplies.{i}: {n.producer} ({n.country}) {n.capacity_t:g} t at "
                   f"{n.cost_usd_per_t:g} USD/t")

    exporters = set(prod["country"].astype(str))
    importers = set(cons["consumer"].astype(str))
    blocked: set[tuple[str, str]] = set()
    for i, b in enumerate(scenario.export_bans):
        src = set(place_members(b.exporter)) & exporters
        if b.importers is None:
            dst = importers - set(place_members(b.exporter))
        else:
            dst = set().union(*(place_members(p) for p in b.importers)) & importers
        if not src:
            _fail(scenario, ("export_bans", i, "exporter"),
                  f"{b.exporter} has no producer in the market")
        pairs = {(e, j) for e in src for j in dst if e != j}
        blocked |= pairs
        log.append(f"export_bans.{i}: {len(pairs)} (exporter, importer) pairs blocked")
    for i, b in enumerate(scenario.purchase_bans):
        src = set().union(*(place_members(p) for p in b.origins)) & exporters
        dst = set().union(*(place_members(p) for p in b.buyers)) & importers
        if not src:
            _fail(scenario, ("purchase_bans", i, "origins"),
                  f"no producer of the market in {b.origins}")
        if not dst:
            _fail(scenario, ("purchase_bans", i, "buyers"),
                  f"no consumer of the market in {b.buyers}")
        pairs = {(e, j) for e in src for j in dst if e != j}
        blocked |= pairs
        log.append(f"purchase_bans.{i}: {len(pairs)} (origin, buyer) pairs blocked")

    tax: dict[str, float] = {}
    for i, t in enumerate(scenario.export_taxes):
        if t.exporter not in exporters:
            _fail(scenario, ("export_taxes", i, "exporter"),
                  f"{t.exporter} has no producer in the market")
        w = t.tax_usd_per_t if t.tax_usd_per_t is not None else t.tax_share_of_base_price * p0
        tax[t.exporter] = tax.get(t.exporter, 0.0) + w
        log.append(f"export_taxes.{i}: {t.exporter} {w:g} USD/t on exports")
    quota: dict[str, float] = {}
    for i, q in enumerate(scenario.export_quotas):
        if q.exporter not in exporters:
            _fail(scenario, ("export_quotas", i, "exporter"),
                  f"{q.exporter} has no producer in the market")
        quota[q.exporter] = q.quota_t
        log.append(f"export_quotas.{i}: {q.exporter} exports ≤ {q.quota_t:g} t")
    friction: dict[tuple[str, str], float] = {}
    for i, f in enumerate(scenario.frictions):
        src = set().union(*(place_members(p) for p in f.origins)) & exporters
        if not src:
            _fail(scenario, ("frictions", i, "origins"),
                  f"no producer of the market in {f.origins}")
        dst = (importers if f.buyers is None
               else set().union(*(place_members(p) for p in f.buyers)) & importers)
        w = f.friction_usd_per_t if f.friction_usd_per_t is not None else f.discount_share * p0
        for pair in ((e, j) for e in src for j in dst if e != j):
            friction[pair] = friction.get(pair, 0.0) + w
        log.append(f"frictions.{i}: {w:g} USD/t on trade from {sorted(src)}")

    for name in ("closures", "price_level"):
        if getattr(scenario, name) is not None:
            log.append(f"{name}: carried for the dynamic solver (not applied to the static market)")

    shocked = dataclasses.replace(
        market, producers=prod.reset_index(drop=True), consumers=cons.reset_index(drop=True),
        stocks_t=stocks, stock_release_share=kappa,
        blocked=frozenset(market.blocked) | frozenset(blocked))
    check_market(shocked)
    return shocked, AppliedShocks(
        export_tax=tax, export_quota=quota, friction_usd_per_t=friction,
        blocked=frozenset(blocked), closures=scenario.closures, price_level=scenario.price_level,
        horizon_periods=scenario.horizon_periods, period=scenario.period, draws=scenario.draws,
        seed=scenario.seed, log=tuple(log))
