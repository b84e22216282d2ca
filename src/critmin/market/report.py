"""The shock report `critmin shock`, the brief, the web app and credit stress share: a market
scenario run on the world market built from the warehouse, base against shocked, in
Monte-Carlo quantiles, with the assumptions it rests on."""

from __future__ import annotations

import numpy as np
import pandas as pd


def shock_report(con, scenario_path, *, draws: int | None = None, seed: int | None = None,
                 year: int | None = None) -> tuple[pd.DataFrame, dict]:
    """(table of base vs shocked P5/P50/P95 per metric, assumptions and log)."""
    from critmin.market import build, montecarlo
    from critmin.market.scenario import apply_scenario, load_scenario
    scen = load_scenario(scenario_path)
    year = year or scen.base_year
    draws = draws or scen.draws
    seed = seed if seed is not None else (scen.seed if scen.seed is not None else 0)
    curve = build.load_cost_curve(scen.commodity)
    inp = build.base_inputs(con, scen.commodity, year)
    named = build.DEFAULT_NAMED_PRODUCERS.get(scen.commodity)
    base = build.world_market(inp["production"], curve, inp["price_usd_per_t"],
                              named_producers=named, commodity=scen.commodity)
    shocked, applied = apply_scenario(base, scen)
    t = montecarlo.run(base, shocked, draws, seed, country_output=inp["production"])
    s = montecarlo.summary(t)
    rows = [("price_usd_per_t", "base_price", "price"),
            ("loss_making_share", "base_loss_making_share", "loss_making_share"),
            ("shortfall_t", None, "shortfall_t"),
            ("demand_destroyed_t", None, "demand_destroyed_t"),
            ("hhi_countries", "hhi_before", "hhi_after")]
    out = []
    for name, b, k in rows:
        r = {"metric": name}
        for q in ("P5", "P50", "P95"):
            r[f"base_{q}"] = float(s.loc[b, q]) if b else 0.0
        for q in ("P5", "P50", "P95"):
            r[f"shocked_{q}"] = float(s.loc[k, q])
        out.append(r)
    table = pd.DataFrame(out)
    pri = montecarlo.elasticity_priors(scen.commodity).set_index("side")
    meta = {
        "scenario": scen.name, "commodity": scen.commodity, "base_year": year,
        "draws": draws, "seed": seed,
        "world_production_t": float(inp["production"].sum()),
        "production": f"{inp['production_source']} {inp['production_year']}"
                      + (" (latest year available)" if inp["production_year"] != year else ""),
        "base_price_usd_per_t": inp["price_usd_per_t"],
        "base_price": f"{inp['price_source']} {inp['price_series']} average of "
                      f"{inp['price_months']} months of {inp['price_year']}",
        "balance": "world level: one consumer WLD, base demand = world production",
        "shutdown": "sticky: every base-year producer keeps producing in the period; "
                    "L(p) from C1 ('would close if sustained')",
        "named_producers": ", ".join(f"{c} ({b}, {co})" for c, (b, co) in (named or {}).items())
                           or "none",
        "curve": f"{build.COST_CURVES_FILE.name}: {curve['source'].iloc[0]}",
        "elasticities": f"{montecarlo.ELASTICITIES_FILE.name}: triangular supply "
                        f"({pri.loc['supply', 'low']:g}, {pri.loc['supply', 'mode']:g}, "
                        f"{pri.loc['supply', 'high']:g}), demand ({pri.loc['demand', 'low']:g}, "
                        f"{pri.loc['demand', 'mode']:g}, {pri.loc['demand', 'high']:g}); "
                        f"{pri['source'].iloc[0]}",
        "stocks_t": shocked.stocks_t,
        "applied": "; ".join(applied.log) or "no static shock",
    }
    unapplied = [k for k in ("export_quota", "export_tax", "friction_usd_per_t")
                 if getattr(applied, k)]
    if unapplied:
        meta["not_applied"] = (f"{', '.join(unapplied)}: need the bloc/SPE solver, not the "
                               f"world market")
    if applied.price_level is not None:
        p = applied.price_level.price_usd_per_t
        meta["held_price_usd_per_t"] = p
        meta["loss_making_share_at_held_price"] = float(
            montecarlo.loss_making_at(shocked, np.array([p]))[0])
        meta["curve_L_at_held_price"] = build.loss_making_share(curve, p)
    return table, meta
