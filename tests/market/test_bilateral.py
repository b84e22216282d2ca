"""Bilateral shocks on the BACI traded market (critmin.market.bilateral) and zero shocks for every
commodity with a curve (the curves against their sources: test_cost_curves.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from critmin.market import bilateral, build, montecarlo
from critmin.market.backtest import trade_market
from critmin.market.clear import clear_world
from critmin.market.scenario import apply_scenario, load_scenario

SCEN = Path(__file__).resolve().parents[2] / "examples" / "scenarios"



# --- zero shocks --------------------------------------------------------------------------------

@pytest.mark.parametrize("commodity", ["nickel", "palladium", "platinum", "rare_earths"])
def test_zero_shock_reproduces_the_baseline(con, commodity):
    """World market (cost curve) and traded market (BACI): with no shock, every draw clears at
    the base price, and the bilateral run reports no change and no re-routing."""
    year = 2024
    el = montecarlo.draw_elasticities(commodity, 50, 3)
    m = build.market_from_warehouse(con, commodity, year)
    eps = el["supply_elasticity"].to_numpy()[:, None]
    r = clear_world(m, supply_elasticity=eps, demand_elasticity=el["demand_elasticity"]
                    .to_numpy()[:, None])
    np.testing.assert_allclose(r.price, m.base_price_usd_per_t, rtol=1e-9)
    flows, _ = bilateral.trade_flows(con, commodity, year)
    t = trade_market(flows, m.base_price_usd_per_t, commodity)
    scen = load_scenario(SCEN / "pgm_west_purchase_ban.yaml").model_copy(
        update={"commodity": commodity, "purchase_bans": [], "frictions": []})
    shocked, applied = apply_scenario(t, scen)
    run = bilateral.run(t, shocked, applied, flows, el)
    np.testing.assert_allclose(run.price[:, 0], t.base_price_usd_per_t, rtol=1e-9)
    np.testing.assert_allclose(run.world_price, run.base_price, rtol=1e-9)
    np.testing.assert_allclose(run.consumption, np.broadcast_to(run.base_demand, (50, len(
        run.consumers))), rtol=1e-8)


# --- the palladium purchase ban -----------------------------------------------------------------

def _pd_run(con, *, friction: bool, draws: int = 200):
    scen = load_scenario(SCEN / "pgm_west_purchase_ban.yaml")
    if not friction:
        scen = scen.model_copy(update={"frictions": []})
    flows, used = bilateral.trade_flows(con, "palladium", 2024)
    p0 = build.base_inputs(con, "palladium", 2024)["price_usd_per_t"]
    base = trade_market(flows, p0, "palladium")
    shocked, applied = apply_scenario(base, scen)
    el = montecarlo.draw_elasticities("palladium", draws, 11)
    return bilateral.run(base, shocked, applied, flows, el), flows, p0


def test_pd_ban_with_friction_splits_prices_by_the_friction(con):
    r, flows, p0 = _pd_run(con, friction=True)
    s, w = r.group_names.index("sanctioned"), r.group_names.index("rest")
    assert r.origins == ("RUS",) and {"USA", "JPN", "DEU"} <= set(r.banning)
    assert np.all(r.price[:, s] < r.price[:, w])
    tau = 0.10 * p0                                    # the scenario's discount_share
    np.testing.assert_allclose(r.friction_usd_per_t, tau)
    # the link carries Russian metal west until the gap is exactly τ (regula falsi tol 1e-9)
    np.testing.assert_allclose(r.price[:, w] - r.price[:, s], tau, rtol=1e-6)
    # the zero-friction bound: the ban alone is bypassed at no cost, price unchanged
    np.testing.assert_allclose(r.world_price, p0, rtol=1e-9)


def test_pd_ban_without_friction_is_the_zero_friction_bound(con):
    r, flows, p0 = _pd_run(con, friction=False)
    np.testing.assert_allclose(r.price, np.column_stack([r.world_price] * 2), rtol=1e-7)
    np.testing.assert_allclose(r.world_price, p0, rtol=1e-9)


def test_pd_ban_reroutes_russian_flows_to_non_banning_importers(con):
    r, flows, p0 = _pd_run(con, friction=True)
    rer = r.rerouted.set_index("importer")
    after = rer["after_t"].map(np.median)
    for banned in ("USA", "JPN", "DEU"):               # BACI 2024: RUS sold to each
        assert rer.loc[banned, "base_t"] > 1.0 and after[banned] == 0.0
    for hub in ("CHN", "HKG"):
        assert after[hub] > rer.loc[hub, "base_t"] > 0
    # Russian sales are all placed somewhere: direct + via third countries = its output
    total = np.stack(rer["after_t"].to_numpy()).sum(axis=0)
    np.testing.assert_allclose(total, r.origin_output, rtol=1e-9)
    # Pd is a by-product: a 10% lower netback moves Russian output by at most ε_max·10% ≈ 1%
    assert np.all(np.abs(r.origin_output / r.origin_base_t - 1) < 0.011)


# --- export quota: closed form ------------------------------------------------------------------

def test_ree_export_quota_closed_form(con):
    """Rare-earth supply elasticity is 0 (elasticities.csv), so traded supply falls by exactly
    X_CHN − Q and isoelastic demand D0 x^η clears at x = ((D0 − X_CHN + Q) / D0)^(1/η)."""
    scen = load_scenario(SCEN / "china_ree_export_quota.yaml")
    flows, _ = bilateral.trade_flows(con, "rare_earths", 2024)
    p0 = build.base_inputs(con, "rare_earths", 2024)["price_usd_per_t"]
    base = trade_market(flows, p0, "rare_earths")
    shocked, applied = apply_scenario(base, scen)
    el = montecarlo.draw_elasticities("rare_earths", 100, 2)
    r = bilateral.run(base, shocked, applied, flows, el)
    D0 = flows["quantity_t"].sum()
    X = flows.loc[flows["exporter"] == "CHN", "quantity_t"].sum()
    Q = scen.export_quotas[0].quota_t
    assert X > Q                                       # the quota binds in 2024
    want = p0 * ((D0 - X + Q) / D0) ** (1 / el["demand_elasticity"].to_numpy())
    np.testing.assert_allclose(r.price[:, 0], want, rtol=1e-7)


def test_trade_flows_errors(con):
    from critmin.errors import WarehouseError
    from critmin.market.model import MarketError
    with pytest.raises(MarketError, match="hs_content.csv"):
        bilateral.trade_flows(con, "no_such_metal", 2024)
    with pytest.raises(WarehouseError, match="no BACI trade of palladium"):
        bilateral.trade_flows(con, "palladium", 1990)

