"""The shock report `critmin shock`, the brief, the web app and credit stress share: a market
scenario run on the world market built from the warehouse, base against shocked, in
Monte-Carlo quantiles, with the assumptions it rests on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def shock_report(con, scenario_path, *, draws: int | None = None, seed: int | None = None,
                 year: int | None = None, producers=None, curve_file=None
                 ) -> tuple[pd.DataFrame, dict]:
    """(table of base vs shocked P5/P50/P95 per metric, assumptions and log).

    A scenario with bilateral measures (bans, export quotas or taxes, frictions) runs on the
    traded market of the base year with the bloc solver (`critmin.market.bilateral`): the table
    adds a price row per bloc ('price_usd_per_t:sanctioned', ':rest') and the zero-friction
    bound; meta adds 'blocs', 'rerouted_flows' and 'exposure' (lists of records). Otherwise the
    world market; with `closures` the dynamic closure rule runs on the held price (meta
    'closures'); `producers`, a CSV of named producers (`critmin.market.named`), replaces
    build.DEFAULT_NAMED_PRODUCERS there, and on the traded market splits each named country's
    exports between its named producers and a remainder (`named.split_exporters`; meta
    'named_producers' lists the rows); `curve_file`, a CSV in cost_curves.csv's layout,
    replaces the shipped curve on the world market (the traded market ignores it, saying so in
    meta). Both add producer_surplus_change_usd (per bloc too) and
    consumer_surplus_change_usd rows (USD, base columns 0; meta 'surplus'). Both keep the
    'price_usd_per_t' row and the meta keys every caller reads. World-market runs add meta
    'consumption_by_country' (`critmin.market.consumption`, top 15, t) and, with
    horizon_periods > 1, 'price_path' (P5/P50/P95 per period of `dynamic.simulate`, USD/t)."""
    from critmin.market import build, montecarlo
    from critmin.market.scenario import apply_scenario, load_scenario
    from critmin.output import records
    scen = load_scenario(scenario_path)
    year = year or scen.base_year
    draws = draws or scen.draws
    seed = seed if seed is not None else (scen.seed if scen.seed is not None else 0)
    if is_bilateral(scen):
        table, meta = _bilateral_report(con, scen, draws=draws, seed=seed, year=year,
                                        producers=producers)
        if curve_file is not None:
            meta["curve"] = (f"{curve_file} not used: the traded market's supply follows the "
                             "base-year exports, not a cost curve")
        return table, meta
    curve = build.load_cost_curve(scen.commodity, curve_file)
    inp = build.base_inputs(con, scen.commodity, year)
    if producers is not None:
        from critmin.market.named import load_named_producers
        named = load_named_producers(producers, scen.commodity, inp["production"], curve)
        named_note = f"{producers}: " + ", ".join(
            f"{r.producer} ({r.country}, {r.technology}, {r.capacity_t:,.0f} t)"
            for r in named.itertuples())
    else:
        named = build.DEFAULT_NAMED_PRODUCERS.get(scen.commodity)
        named_note = ", ".join(f"{c} ({b}, {co or c})" for c, (b, co) in (named or {}).items()) \
            or "none"
    base = build.world_market(inp["production"], curve, inp["price_usd_per_t"],
                              named_producers=named, commodity=scen.commodity)
    shocked, applied = apply_scenario(base, scen)
    cleared = montecarlo.clear_pair(base, scen, draws, seed)  # draws ranged shock sizes too
    t = montecarlo.draws_table(cleared, country_output=inp["production"])
    s = montecarlo.summary(t)
    rows = [("price_usd_per_t", "base_price", "price"),
            ("loss_making_share", "base_loss_making_share", "loss_making_share"),
            ("shortfall_t", None, "shortfall_t"),
            ("demand_destroyed_t", None, "demand_destroyed_t"),
            ("hhi_countries", "hhi_before", "hhi_after"),
            ("producer_surplus_change_usd", None, "producer_surplus_change_usd"),
            ("consumer_surplus_change_usd", None, "consumer_surplus_change_usd")]
    out = []
    for name, b, k in rows:
        r = {"metric": name}
        for q in ("P5", "P50", "P95"):
            r[f"base_{q}"] = float(s.loc[b, q]) if b else 0.0
        for q in ("P5", "P50", "P95"):
            r[f"shocked_{q}"] = float(s.loc[k, q])
        out.append(r)
    for col in (cleared.sizes.drawn if cleared.sizes is not None else ()):
        q = np.quantile(cleared.sizes.drawn[col], [0.05, 0.5, 0.95])
        out.append({"metric": f"shock:{col}", "base_P5": 0.0, "base_P50": 0.0, "base_P95": 0.0,
                    "shocked_P5": float(q[0]), "shocked_P50": float(q[1]),
                    "shocked_P95": float(q[2])})
    table = pd.DataFrame(out)
    meta = {
        "scenario": scen.name, "commodity": scen.commodity, "base_year": year,
        "draws": draws, "seed": seed,
        "world_production_t": float(inp["production"].sum()),
        "production": f"{inp['production_source']} {inp['production_year']}"
                      + (" (latest year available)" if inp["production_year"] != year else ""),
        "base_price_usd_per_t": inp["price_usd_per_t"],
        "base_price": _price_note(inp),
        "balance": "world level: one consumer WLD, base demand = world production",
        "shutdown": "sticky: every base-year producer keeps producing in the period; "
                    "L(p) from C1 ('would close if sustained')",
        "named_producers": named_note,
        "curve": f"{Path(curve_file).name if curve_file else build.COST_CURVES_FILE.name}: "
                 f"{curve['source'].iloc[0]}",
        "elasticities": _elasticity_note(scen.commodity),
        "stocks_t": shocked.stocks_t,
        "applied": "; ".join(applied.log) or "no static shock",
        "surplus": SURPLUS_NOTE,
    }
    if cleared.sizes is not None:
        meta["shock_sizes"] = _ranges(scen)
        meta["shock_sizes_note"] = SIZES_NOTE
    meta["supply_by_producer"] = records(montecarlo.supply_by_producer(cleared).head(20))
    meta["supply_note"] = ("output per producer row of the world market (countries, named "
                           "producers, cost-curve bands), t in the period, P5/P50/P95 over the "
                           "draws; the 20 largest by base output")
    meta.update(_consumption_by_country(con, scen.commodity, year, t))
    if applied.price_level is not None:
        p = applied.price_level.price_usd_per_t
        meta["held_price_usd_per_t"] = p
        meta["loss_making_share_at_held_price"] = float(
            montecarlo.loss_making_at(shocked, np.array([p]))[0])
        meta["curve_L_at_held_price"] = build.loss_making_share(curve, p)
    if applied.closures is not None:
        meta["closures"] = _closures(shocked, applied, scen.horizon_periods, t)
    if scen.horizon_periods > 1:
        meta["price_path"] = _price_path(shocked, scen, draws, seed)
        meta["price_path_note"] = PRICE_PATH_NOTE
    return table, meta


SIZES_NOTE = ("ranged shock sizes are drawn per draw (uniform on low..high, triangular with "
              "a mode; rows 'shock:...' give the drawn P5/P50/P95) together with the "
              "elasticities; held price, closures and the price path use each range's "
              "central value (the mode, else the midpoint)")


def _ranges(scen) -> list[dict]:
    from critmin.market.scenario import uncertain_fields
    return [{"field": ".".join(map(str, path)), "low": r.low, "mode": r.mode, "high": r.high,
             "central": r.central(),
             "distribution": "uniform" if r.mode is None else "triangular"}
            for path, r in uncertain_fields(scen)]


PRICE_PATH_NOTE = ("dynamic.simulate on the shocked world market, the same elasticity draws "
                   "as the static table: stocks carried over between periods, closures with "
                   "hysteresis when the scenario sets them (producers due to close exit in "
                   "merit order from the highest C1, each only while it still loses money "
                   "once those above it have shut; closed_capacity_share_P50 = nameplate "
                   "capacity shut during the period / total); adjustment lambda = 1 (the drawn "
                   "elasticities act within each period: the schema holds no long-run "
                   "elasticity); a held price level is not imposed on the path; USD/t")


def _price_path(shocked, scen, draws: int, seed: int) -> list[dict]:
    """Dynamic mode: P5/P50/P95 of the clearing price per period (USD/t) over `draws`."""
    from critmin.market.dynamic import simulate
    from critmin.market.montecarlo import draw_elasticities, elasticity_arrays
    eps, eta = elasticity_arrays(shocked, draw_elasticities(scen.commodity, draws, seed))
    rule = scen.closures
    path = simulate(shocked, scen.horizon_periods, supply_elasticity=eps,
                    demand_elasticity=eta, period_years=0.25 if scen.period == "quarter" else 1.0,
                    periods_below=rule.periods_below_cost if rule else None,
                    restart_premium_share=rule.restart_premium_share if rule else 0.0)
    q = np.quantile(path.price, [0.05, 0.5, 0.95], axis=1)
    cap = float(shocked.producers["capacity_t"].sum())
    closed = np.median(path.closed_capacity_t, axis=1) / cap
    return [{"period": t + 1, "P5": float(q[0, t]), "P50": float(q[1, t]),
             "P95": float(q[2, t]), "closed_capacity_share_P50": float(closed[t])}
            for t in range(scen.horizon_periods)]


CONSUMPTION_NOTE = ("apparent consumption = production + imports - exports (BACI, t contained "
                    "via the catalog's content factors, at the stage of the commodity's HS "
                    "codes); shocked = base x (shocked world consumption / base world "
                    "consumption) per draw: every country keeps its base share of world use")


def _consumption_by_country(con, commodity: str, year: int, draws_table: pd.DataFrame,
                            top: int = 15) -> dict:
    """meta 'consumption_by_country' (the `top` consumers, base and shocked P5/P50/P95, t)
    and its note; a commodity whose trade or production cannot support it gets the reason."""
    from critmin.errors import CritminError
    from critmin.market.consumption import consumption_from_warehouse
    try:
        table, notes = consumption_from_warehouse(con, commodity, year)
    except CritminError as exc:
        return {"consumption_by_country": f"not available: {exc}"}
    ratio = (draws_table["consumption_t"] / draws_table["base_consumption_t"]).quantile(
        [0.05, 0.5, 0.95]).to_numpy()
    rows = []
    for r in table.head(top).itertuples(index=False):
        a = r.apparent_consumption_t
        rows.append({"country": r.country, "base_apparent_consumption_t": a,
                     **{f"shocked_{q}_t": a * k for q, k in zip(("P5", "P50", "P95"), ratio)},
                     "flags": r.flags})
    return {"consumption_by_country": rows,
            "consumption_note": f"{CONSUMPTION_NOTE}; {notes['production']}, {notes['trade']} "
                                f"({notes['stages']})"}


SURPLUS_NOTE = ("USD in the period: producer surplus over cash cost C1 on the shocked curves at "
                "the shocked price less the base curves at the base price; consumer surplus "
                "change is the price effect on the (shocked) demand curve, -integral of d(p) "
                "from p0 to p*, unserved demand valued at the choke price")


def _price_note(inp) -> str:
    what = (f"annual average of {inp['price_year']}" if inp["price_source"] == "usgs_mcs2025"
            else f"average of {inp['price_months']} months of {inp['price_year']}")
    return f"{inp['price_source']} {inp['price_series']} {what}"


def _elasticity_note(commodity: str) -> str:
    from critmin.market import montecarlo
    pri = montecarlo.elasticity_priors(commodity).set_index("side")
    return (f"{montecarlo.ELASTICITIES_FILE.name}: triangular supply "
            f"({pri.loc['supply', 'low']:g}, {pri.loc['supply', 'mode']:g}, "
            f"{pri.loc['supply', 'high']:g}), demand ({pri.loc['demand', 'low']:g}, "
            f"{pri.loc['demand', 'mode']:g}, {pri.loc['demand', 'high']:g}); "
            f"{pri['source'].iloc[0]}")


def _closures(market, applied, periods: int, draws_table: pd.DataFrame) -> list[dict]:
    """Dynamic mode, closure rule with hysteresis (dynamic.closure_path) along the price path:
    the held price when the scenario sets one, else the P50 shocked price held. One record per
    period: the price and the share of base output closed during it (C1 of each row)."""
    from critmin.market.dynamic import closure_path
    rule = applied.closures
    p = (applied.price_level.price_usd_per_t if applied.price_level is not None
         else float(draws_table["price"].median()))
    P = market.producers
    c1 = pd.to_numeric(P["c1_usd_per_t"], errors="coerce").fillna(
        P["cost_usd_per_t"].astype(float)).to_numpy(float)
    w = P["base_output_t"].to_numpy(float)
    open_ = closure_path(np.full((periods, 1), p), c1, rule.periods_below_cost,
                         c1 * (1 + rule.restart_premium_share))
    return [{"period": t + 1, "price_usd_per_t": p,
             "closed_share_of_base_output": float((w * ~open_[t + 1, 0]).sum() / w.sum())}
            for t in range(periods)]


BILATERAL_FIELDS = ("export_bans", "purchase_bans", "export_quotas", "export_taxes", "frictions")


def is_bilateral(scen) -> bool:
    """True when the scenario has a measure the world market cannot hold (BILATERAL_FIELDS)."""
    return any(getattr(scen, f) for f in BILATERAL_FIELDS)


def _q(a) -> dict:
    a = np.asarray(a, float)
    return {q: float(np.nanquantile(a, v)) for q, v in (("P5", .05), ("P50", .5), ("P95", .95))}


def _bilateral_report(con, scen, *, draws: int, seed: int, year: int, producers=None):
    """shock_report for bilateral measures: the traded market of the base year, bloc solver.
    producers: a named-producers CSV; each named row takes its share of its country's exports
    (`named.split_exporters`) before the scenario is applied, so base and shocked markets have
    the same rows."""
    from critmin.market import bilateral, build, montecarlo
    from critmin.market.backtest import trade_market
    from critmin.market.scenario import apply_scenario
    flows, used = bilateral.trade_flows(con, scen.commodity, year)
    inp = build.base_inputs(con, scen.commodity, year)
    base = trade_market(flows, inp["price_usd_per_t"], scen.commodity)
    if producers is not None:
        from critmin.market.named import load_named_producers, named_note, split_exporters
        named = load_named_producers(producers, scen.commodity, inp["production"], None)
        base = split_exporters(base, named, inp["production"], source=producers)
    shocked, applied = apply_scenario(base, scen)
    el = montecarlo.draw_elasticities(scen.commodity, draws, seed)
    r = bilateral.run(base, shocked, applied, flows, el, scenario=scen.name)
    ref = r.group_names.index("rest") if "rest" in r.group_names else 0
    rows = [("price_usd_per_t", r.base_price, r.price[:, ref])]
    if len(r.group_names) > 1:
        rows += [(f"price_usd_per_t:{n}", r.base_price, r.price[:, k])
                 for k, n in enumerate(r.group_names)]
    rows.append(("price_usd_per_t:zero_friction_bound", r.base_price, r.world_price))
    if r.origins:
        rows.append(("sanctioned_exports_t", np.full(draws, r.origin_base_t), r.origin_output))
    rows += [("shortfall_t", np.zeros(draws), r.shortfall_t),
             ("demand_destroyed_t", np.zeros(draws), r.demand_destroyed_t),
             ("producer_surplus_change_usd", np.zeros(draws),
              r.producer_surplus_change_usd.sum(axis=1))]
    if len(r.group_names) > 1:
        rows += [(f"producer_surplus_change_usd:{n}", np.zeros(draws),
                  r.producer_surplus_change_usd[:, k]) for k, n in enumerate(r.group_names)]
    rows.append(("consumer_surplus_change_usd", np.zeros(draws), r.consumer_surplus_change_usd))
    table = pd.DataFrame([{"metric": m, **{f"base_{k}": v for k, v in _q(b).items()},
                           **{f"shocked_{k}": v for k, v in _q(s).items()}}
                          for m, b, s in rows])
    codes = bilateral.commodity_hs6(scen.commodity)
    meta = {
        "scenario": scen.name, "commodity": scen.commodity, "base_year": year,
        "draws": draws, "seed": seed,
        "world_production_t": float(flows["quantity_t"].sum()),
        "production": f"traded market: BACI {used} HS {', '.join(codes)}, "
                      f"{flows['quantity_t'].sum():,.1f} t contained, "
                      f"{flows['exporter'].nunique()} exporters, "
                      f"{flows['importer'].nunique()} importers"
                      + (f" (latest BACI year; {year} has none)" if used != year else ""),
        "base_price_usd_per_t": inp["price_usd_per_t"],
        "base_price": _price_note(inp),
        "balance": "traded market: each exporter a producer of its exports, each importer a "
                   "consumer of its imports (base clears at p0); domestic markets are outside",
        "solver": "bloc solver (clear.clear_blocs): sanctioned origins with the buyers still "
                  "open to them against the banning buyers, linked by a flow that pays the "
                  "friction on the sanctioned metal" if r.origins else
                  "bloc solver (clear.clear_blocs) on the components of allowed trade",
        "elasticities": _elasticity_note(scen.commodity),
        "applied": "; ".join(applied.log) or "no static shock",
        "friction_usd_per_t": _q(r.friction_usd_per_t),
        "zero_friction_bound": {"price_usd_per_t": _q(r.world_price),
                                "change_share": _q(r.world_price / r.base_price - 1)},
        "blocs": [{"bloc": n, "countries": len(r.members[k]),
                   "members": ", ".join(r.members[k][:12])
                   + (", ..." if len(r.members[k]) > 12 else ""),
                   "price_usd_per_t": _q(r.price[:, k]),
                   "change_share": _q(r.price[:, k] / r.base_price - 1)}
                  for k, n in enumerate(r.group_names)],
        "surplus": SURPLUS_NOTE + "; friction paid on linked flows and export-tax revenue "
                   "belong to neither side",
        "rerouted_flows": _rerouted(r),
        "exposure": _exposure(r, flows),
    }
    if producers is not None:
        meta["named_producers"] = named_note(base, producers)
    if applied.export_quota:
        meta["not_applied"] = ("quota exporter's domestic price and quota rent: the traded "
                               "market holds its exports only")
    if _ranges(scen):
        meta["shock_sizes"] = _ranges(scen)
        meta["shock_sizes_note"] = ("the bloc solver takes each ranged shock size at its "
                                    "central value; the ranges are drawn on the world market")
    return table, meta


def _rerouted(r, top: int = 10) -> list[dict]:
    """The sanctioned origins' largest changes of bilateral flow (P50 over draws), t."""
    if r.rerouted.empty:
        return []
    out = []
    for _, x in r.rerouted.iterrows():
        after = _q(x["after_t"])
        out.append({"origin": x["origin"], "importer": x["importer"], "base_t": x["base_t"],
                    "after_P50_t": after["P50"], "change_P50_t": after["P50"] - x["base_t"]})
    out.sort(key=lambda d: -abs(d["change_P50_t"]))
    return out[:top]


def _exposure(r, flows: pd.DataFrame, top: int = 15) -> list[dict]:
    """Per importing country: its base imports, the share from the sanctioned origins, the P50
    price change of its bloc and its P50 demand destroyed, t; the largest importers from the
    origins first (else the largest importers)."""
    imp = flows.groupby("importer")["quantity_t"].sum()
    frm = flows[flows["exporter"].isin(r.origins)].groupby("importer")["quantity_t"].sum()
    out = []
    for j, c in enumerate(r.consumers):
        k = int(r.consumer_group[j])
        out.append({"importer": c, "bloc": r.group_names[k],
                    "imports_t": float(imp.get(c, 0.0)),
                    "share_from_sanctioned": float(frm.get(c, 0.0) / imp.get(c, np.nan)),
                    "price_change_P50": float(np.median(r.price[:, k] / r.base_price - 1)),
                    "demand_destroyed_P50_t": float(np.median(r.base_demand[j]
                                                              - r.consumption[:, j]))})
    out.sort(key=lambda d: (-(d["share_from_sanctioned"] * d["imports_t"]), -d["imports_t"]))
    return out[:top]
