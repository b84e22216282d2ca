"""Bilateral shocks (purchase and export bans, export quotas and taxes, frictions) on the traded
market of the base year, cleared by the bloc solver (issue 4; notes/market.md §5.3).

Stages: `trade_flows(con, commodity, year)` (the only IO: BACI flows in contained t) →
`backtest.trade_market` (each exporter a producer of its exports, each importer a consumer of its
imports; the base clears at p0) → `apply_scenario` → `run(base, shocked, applied, draws, seed)`
(pure) → a dict of arrays the report reads.

- Blocs. With sanctioned origins O (the exporters of blocked pairs) and banning buyers B, the
  market splits into two groups: O's producers with the buyers still open to them (group 0,
  "sanctioned"), and every other producer with B (group 1, "rest"). Each clears at its own price;
  a flow links them. Sending O's metal to B (through third countries) costs the friction τ
  (USD/t, the scenario's `frictions` on O); sending other metal to O's buyers is free, so τ
  applies only in draws where the sanctioned group is the cheaper one. τ = 0 gives one price:
  the zero-friction bound, reported with every run (`BlocResult.world`).
- A friction without a ban, and an export tax w, are netback discounts: the exporter's supply
  curve is scaled by (1 − w/p0)^ε (exact below capacity: q0 ((1 − τ) x)^ε, notes §1.1).
- An export quota Q caps the exporter's rows: capacity and base output min(·, Q) (pro rata over
  its rows). The exporter's domestic market is not in a traded market, so its price and the
  quota rent are not computed.
- Re-routed flows: each sanctioned origin's sales after the shock are re-allocated over the buyers
  it may still serve by `backtest.reroute` (a heuristic: keep base sales, spread the rest in
  proportion to each buyer's room); what is left is 'via third countries'.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from critmin.market.clear import build_curves, clear_blocs, clear_world, producer_surplus
from critmin.market.model import Market, MarketError, check_market
from critmin.market.scenario import AppliedShocks

__all__ = ["BilateralRun", "commodity_hs6", "needs_blocs", "run", "trade_flows"]

SANCTIONED, REST = 0, 1


def commodity_hs6(commodity: str) -> list[str]:
    """HS6 codes with a sourced contained-metal factor for `commodity` (catalog
    hs_content.csv), e.g. palladium 711021, 711029."""
    from critmin.catalog.commodities import content_factors
    f = content_factors()
    codes = f.loc[(f["commodity"] == commodity) & np.isfinite(f["content"]), "hs6"]
    return sorted(map(str, codes))


def trade_flows(con, commodity: str, year: int, hs6=None) -> tuple[pd.DataFrame, int]:
    """(BACI flows exporter, importer, quantity_t of contained metal, the year read): the latest
    year ≤ `year` with BACI quantities in `hs6` (default `commodity_hs6`). Raises
    WarehouseError naming the codes when there is none."""
    from critmin.errors import WarehouseError
    from critmin.market.backtest import _contained
    codes = list(hs6) if hs6 is not None else commodity_hs6(commodity)
    if not codes:
        raise MarketError(f"no HS code with a contained-{commodity} factor in the catalog's "
                          f"hs_content.csv: a bilateral shock needs one")
    row = con.execute("SELECT max(year) FROM trade WHERE source = 'baci' AND year <= ? AND "
                      "hs6 IN (SELECT unnest(?)) AND quantity_t IS NOT NULL",
                      [year, codes]).fetchone()
    if not row or row[0] is None:
        raise WarehouseError(f"no BACI trade of {commodity} (HS {', '.join(codes)}) in or "
                             f"before {year} in the warehouse")
    used = int(row[0])
    raw = con.execute(
        "SELECT exporter, importer, hs6, sum(quantity_t) AS quantity_t FROM trade "
        "WHERE source = 'baci' AND year = ? AND hs6 IN (SELECT unnest(?)) "
        "AND quantity_t IS NOT NULL AND exporter <> importer GROUP BY ALL", [used, codes]).df()
    raw["quantity_t"] = _contained(raw, commodity, f"BACI {used}")
    flows = raw.groupby(["exporter", "importer"], as_index=False)["quantity_t"].sum()
    return flows[flows["quantity_t"] > 0].reset_index(drop=True), used


def needs_blocs(applied: AppliedShocks) -> bool:
    """True when the scenario has a measure the world market cannot hold."""
    return bool(applied.blocked or applied.export_quota or applied.export_tax
                or applied.friction_usd_per_t)


def _with_quotas(m: Market, quota: dict[str, float]) -> Market:
    """Cap each quota exporter's rows at its quota Q (pro rata to their capacity)."""
    if not quota:
        return m
    P = m.producers.copy()
    for e, q in quota.items():
        rows = P["country"].astype(str) == e
        if not rows.any():
            raise MarketError(f"export quota on {e}: {e} exports no {m.commodity} in the base "
                              f"year's traded market")
        cap = P.loc[rows, "capacity_t"].astype(float)
        new = cap * min(1.0, q / float(cap.sum()))
        P.loc[rows, "capacity_t"] = new
        P.loc[rows, "base_output_t"] = np.minimum(P.loc[rows, "base_output_t"], new)
    return check_market(dataclasses.replace(m, producers=P))


@dataclasses.dataclass(frozen=True)
class BilateralRun:
    """What `run` solved, per draw (M). base_price (M,); price (M, C) per group; group_names;
    world_price (M,): the zero-friction bound; friction_usd_per_t (M,) as applied; origins,
    banning: the sanctioned exporters and the banning buyers; consumers (J,), base_demand (J,),
    consumption (M, J), consumer_group (J,); origin_output (M,) t; origin_base_t; rerouted:
    DataFrame origin, importer, base_t, after_t (M,) as lists; shortfall_t, demand_destroyed_t
    (M,) t; producer_surplus_change_usd (M, C) per group of producers and
    consumer_surplus_change_usd (M,), USD (module docstring)."""

    base_price: np.ndarray
    price: np.ndarray
    group_names: tuple[str, ...]
    members: tuple[tuple[str, ...], ...]
    world_price: np.ndarray
    friction_usd_per_t: np.ndarray
    origins: tuple[str, ...]
    banning: tuple[str, ...]
    consumers: tuple[str, ...]
    base_demand: np.ndarray
    consumption: np.ndarray
    consumer_group: np.ndarray
    origin_output: np.ndarray
    origin_base_t: float
    rerouted: pd.DataFrame
    shortfall_t: np.ndarray
    demand_destroyed_t: np.ndarray
    producer_surplus_change_usd: np.ndarray
    consumer_surplus_change_usd: np.ndarray


def run(base: Market, shocked: Market, applied: AppliedShocks, flows: pd.DataFrame,
        elasticities: pd.DataFrame, *, scenario: str | None = None) -> BilateralRun:
    """Clear the base and the shocked traded market over the elasticity draws (module
    docstring). flows: the base flows (exporter, importer, quantity_t) the market was built
    from; elasticities: supply_elasticity and demand_elasticity per draw (M rows)."""
    from critmin.market.backtest import _elasticities, reroute
    shocked = _with_quotas(shocked, applied.export_quota)
    P, C = shocked.producers, shocked.consumers
    M, N = len(elasticities), len(P)
    eps, eta = _elasticities(shocked, elasticities["supply_elasticity"],
                             elasticities["demand_elasticity"])
    p0 = shocked.base_price_usd_per_t
    country = P["country"].astype(str).to_numpy()
    consumers = C["consumer"].astype(str).to_numpy()
    origins = sorted({e for e, _ in applied.blocked})
    banning = sorted({j for _, j in applied.blocked})
    wedge = {e: max(w for (x, _), w in applied.friction_usd_per_t.items() if x == e)
             for e, _ in applied.friction_usd_per_t}
    netback = dict(applied.export_tax)
    if not origins:                   # a friction without a ban is a netback discount
        for e, w in wedge.items():
            netback[e] = netback.get(e, 0.0) + w
    cf = np.ones((M, N))
    for e, w in netback.items():
        rows = country == e
        cf[:, rows] = (1 - min(w / p0, 1.0)) ** eps[:, rows]
    kw = dict(capacity_factor=cf, supply_elasticity=eps, demand_elasticity=eta,
              scenario=scenario)
    b_eps, b_eta = _elasticities(base, elasticities["supply_elasticity"],
                                 elasticities["demand_elasticity"])
    b_res = clear_world(base, supply_elasticity=b_eps, demand_elasticity=b_eta,
                        scenario=scenario)
    base_price = b_res.price
    b_ps = producer_surplus(build_curves(base, supply_elasticity=b_eps, demand_elasticity=b_eta),
                            base_price)
    tau = np.zeros(M)
    if origins:
        pg = np.where(np.isin(country, origins), SANCTIONED, REST)
        cg = np.where(np.isin(consumers, banning), REST, SANCTIONED)
        apart = clear_blocs(shocked, groups=(pg, cg), **kw)
        t = max((wedge.get(e, 0.0) for e in origins), default=0.0)
        # τ only on the sanctioned group's metal going to the banning buyers
        with np.errstate(invalid="ignore"):
            tau = np.where(apart.price[:, SANCTIONED] < apart.price[:, REST], t, 0.0)
        res = clear_blocs(shocked, groups=(pg, cg), friction_usd_per_t=tau, **kw)
        names = ("sanctioned", "rest")
    else:
        res = clear_blocs(shocked, **kw)
        cg = np.array([res.component[c] for c in consumers])
        names = tuple(f"bloc {k}" for k in range(res.price.shape[1]))
        if len(names) == 1:
            names = ("world",)

    def group_of(c):
        if origins:
            return np.where(np.isin(c, origins), SANCTIONED, REST)
        return np.array([res.component.get(x, -1) for x in c])
    pgroup = group_of(country)
    s_cv = build_curves(shocked, capacity_factor=cf, supply_elasticity=eps,
                        demand_elasticity=eta)
    s_ps = producer_surplus(s_cv, res.price[:, pgroup])
    b_group = group_of(base.producers["country"].astype(str).to_numpy())
    dps = np.column_stack([s_ps[:, pgroup == k].sum(axis=1) - b_ps[:, b_group == k].sum(axis=1)
                           for k in range(res.price.shape[1])])
    dcs = (sum(b.consumer_surplus_change.sum(axis=1) for b in res.blocs)
           - b_res.consumer_surplus_change.sum(axis=1))
    out_rows = np.isin(country, origins)
    origin_output = res.output[:, out_rows].sum(axis=1)
    origin_base = float(P.loc[out_rows, "base_output_t"].sum())
    rer = []
    for o in origins:
        base_to = (flows[flows["exporter"] == o].groupby("importer")["quantity_t"].sum()
                   .reindex(consumers).fillna(0.0).to_numpy())
        allowed = np.array([(o, j) not in applied.blocked for j in consumers])
        vol = res.output[:, country == o].sum(axis=1)
        after, lost = reroute(base_to, allowed, vol, res.consumption)
        for j, c in enumerate(consumers):
            if base_to[j] > 0 or after[:, j].max() > 0:
                rer.append(dict(origin=o, importer=c, base_t=float(base_to[j]),
                                after_t=after[:, j]))
        rer.append(dict(origin=o, importer="via third countries", base_t=0.0, after_t=lost))
    D0 = C["base_demand_t"].to_numpy(float)
    return BilateralRun(
        base_price=base_price, price=res.price, group_names=names, members=res.members,
        world_price=res.world.price, friction_usd_per_t=tau, origins=tuple(origins),
        banning=tuple(banning), consumers=tuple(consumers), base_demand=D0,
        consumption=res.consumption, consumer_group=cg, origin_output=origin_output,
        origin_base_t=origin_base, rerouted=pd.DataFrame(rer),
        shortfall_t=res.shortfall_t.sum(axis=1),
        demand_destroyed_t=D0.sum() - res.consumption.sum(axis=1) - res.shortfall_t.sum(axis=1),
        producer_surplus_change_usd=dps, consumer_surplus_change_usd=dcs)
