"""The SPE oracle against equilibria computed by hand, the CompEcon three-country fixture
(market.md §5.8) and the isoelastic closed form (§1.1)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from critmin.market import spe
from critmin.market.model import Market, MarketError
from critmin.market.spe import STOCKS_NODE, SPESolveError, market_steps, solve_spe, spe_steps

EXACT = 1e-9  # hand prices are costs or step values: HiGHS duals are exact up to round-off


@pytest.fixture
def two_regions():
    """A: cost 100, 1000 t; B: cost 200, 1000 t. Demand (value 500): A 300 t, B 600 t."""
    supply = pd.DataFrame({"producer": ["a", "b"], "node": ["A", "B"],
                           "cost_usd_per_t": [100.0, 200.0], "quantity_t": [1000.0, 1000.0]})
    demand = pd.DataFrame({"node": ["A", "B"], "value_usd_per_t": [500.0, 500.0],
                           "quantity_t": [300.0, 600.0]})
    return supply, demand


def _prices(r):
    return r.prices["A"], r.prices["B"]


def test_trade_price_gap_equals_transport_cost(two_regions):
    # A's producer has spare capacity (900 < 1000 t) and serves B at 100 + 30 < 200
    r = spe_steps(*two_regions, 30.0)
    assert _prices(r) == pytest.approx((100.0, 130.0), abs=EXACT)
    assert r.netbacks["A"] == pytest.approx(100.0, abs=EXACT)
    assert r.flows.loc["A", "B"] == pytest.approx(600.0)
    assert r.output["b"] == pytest.approx(0.0, abs=1e-9)
    # welfare = 500·900 − 100·900 − 30·600
    assert r.welfare_usd == pytest.approx(342_000.0)
    assert r.welfare_usd == pytest.approx(r.consumer_surplus_usd + r.producer_surplus_usd
                                          + r.tax_revenue_usd + r.quota_rent_usd)
    assert r.consumer_surplus_usd == pytest.approx(400 * 300 + 370 * 600)


def test_no_trade_when_autarky_gap_is_below_transport_cost(two_regions):
    # autarky prices 100 and 200: a gap of 100 < 150 leaves each region to itself
    r = spe_steps(*two_regions, 150.0)
    assert _prices(r) == pytest.approx((100.0, 200.0), abs=EXACT)
    assert r.flows.loc["A", "B"] == r.flows.loc["B", "A"] == 0.0
    assert r.consumption.tolist() == pytest.approx([300.0, 600.0])


def test_blocked_pair_has_no_flow(two_regions):
    r = spe_steps(*two_regions, 30.0, blocked=[("A", "B")])
    assert _prices(r) == pytest.approx((100.0, 200.0), abs=EXACT)
    assert r.flows.loc["A", "B"] == 0.0
    assert r.output["b"] == pytest.approx(600.0)
    # welfare falls by (200 − 130)·600
    assert r.welfare_usd == pytest.approx(342_000.0 - 70 * 600)


def test_binding_export_quota_earns_the_gap_as_rent(two_regions):
    # A ships its 400 t quota; B's own producer (cost 200) sets B's price; rent = 200 − 100 − 30
    r = spe_steps(*two_regions, 30.0, export_quota={"A": 400.0})
    assert _prices(r) == pytest.approx((100.0, 200.0), abs=EXACT)
    assert r.quota_rent_usd_per_t["A"] == pytest.approx(70.0, abs=EXACT)
    assert r.flows.loc["A", "B"] == pytest.approx(400.0)
    assert r.flows.loc["B", "B"] == pytest.approx(200.0)
    assert r.quota_rent_usd == pytest.approx(70 * 400)
    assert r.welfare_usd == pytest.approx(r.consumer_surplus_usd + r.producer_surplus_usd
                                          + r.tax_revenue_usd + r.quota_rent_usd)
    slack = spe_steps(*two_regions, 30.0, export_quota={"A": 700.0})
    assert slack.quota_rent_usd_per_t["A"] == pytest.approx(0.0, abs=EXACT)
    assert _prices(slack) == pytest.approx((100.0, 130.0), abs=EXACT)


def test_export_tax_is_a_cost_wedge(two_regions):
    # tax 50: B pays 100 + 30 + 50 = 180 < 200, trade continues; tax revenue 50·600
    r = spe_steps(*two_regions, 30.0, export_tax={"A": 50.0})
    assert _prices(r) == pytest.approx((100.0, 180.0), abs=EXACT)
    assert r.tax_revenue_usd == pytest.approx(30_000.0)
    assert r.welfare_usd == pytest.approx(342_000.0)  # a transfer, not a cost
    # tax 80: 100 + 30 + 80 = 210 > 200, B supplies itself
    r = spe_steps(*two_regions, 30.0, export_tax={"A": 80.0})
    assert _prices(r) == pytest.approx((100.0, 200.0), abs=EXACT)
    assert r.flows.loc["A", "B"] == 0.0
    # the tax never applies at home
    home = spe_steps(*two_regions, 150.0, export_tax={"A": 1e6})
    assert home.flows.loc["A", "A"] == pytest.approx(300.0)


def test_demand_step_sets_price_when_capacity_binds():
    # 500 t at cost 100 against demand steps 200 t @ 400, 200 t @ 300, 500 t @ 150:
    # the 150 step is partly served (100 t), so the price is its value
    supply = pd.DataFrame({"producer": ["a"], "node": ["A"], "cost_usd_per_t": [100.0],
                           "quantity_t": [500.0]})
    demand = pd.DataFrame({"node": ["A"] * 3, "value_usd_per_t": [400.0, 300.0, 150.0],
                           "quantity_t": [200.0, 200.0, 500.0]})
    r = spe_steps(supply, demand)
    assert r.prices["A"] == pytest.approx(150.0, abs=EXACT)
    assert r.consumption["A"] == pytest.approx(500.0)
    assert r.producer_surplus_usd == pytest.approx(50 * 500)


def _linear_steps(h=0.01):
    """CompEcon demslv13: inverse supply 9 + s, 3 + 2s, 18 + s; inverse demand 42 − 3y, 54 − 2y,
    51 − y, as steps of width h valued at the segment midpoints."""
    rows_s, rows_d = [], []
    for n, (a, b) in enumerate(zip((9, 3, 18), (1, 2, 1))):
        k = np.arange(int(60 / h))
        rows_s += [(f"p{n}", f"c{n}", a + b * (kk + 0.5) * h, h) for kk in k]
    for n, (a, b) in enumerate(zip((42, 54, 51), (3, 2, 1))):
        k = np.arange(int(a / b / h))
        rows_d += [(f"c{n}", a - b * (kk + 0.5) * h, h) for kk in k]
    return (pd.DataFrame(rows_s, columns=["producer", "node", "cost_usd_per_t", "quantity_t"]),
            pd.DataFrame(rows_d, columns=["node", "value_usd_per_t", "quantity_t"]))


def test_compecon_three_countries_with_and_without_embargo():
    # market.md §5.8; steps of h = 0.01 t move prices by at most max(b)·h/2 = 0.015
    supply, demand = _linear_steps()
    nodes = ["c0", "c1", "c2"]
    cost = pd.DataFrame([[0, 3, 9], [3, 0, 3], [6, 3, 0]], index=nodes, columns=nodes,
                        dtype=float)
    r = spe_steps(supply, demand, cost)
    assert r.prices.to_numpy() == pytest.approx(np.array([633, 711, 789]) / 26, abs=0.015)
    want = {("c0", "c0"): 5.8846, ("c0", "c1"): 9.4615, ("c1", "c1"): 3.8654,
            ("c1", "c2"): 8.3077, ("c2", "c2"): 12.3462}
    for (i, j), x in want.items():
        assert r.flows.loc[i, j] == pytest.approx(x, abs=0.03)
    assert r.flows.to_numpy().sum() == pytest.approx(sum(want.values()), abs=0.05)
    emb = spe_steps(supply, demand, cost, blocked=[("c1", "c0"), ("c1", "c2")])
    assert emb.prices.to_numpy() == pytest.approx([22.9615, 25.9615, 31.9615], abs=0.015)
    assert emb.flows.loc["c0", "c2"] == pytest.approx(5.0769, abs=0.03)
    assert emb.flows.loc["c1", ["c0", "c2"]].sum() == 0.0


def _one_region(s=0.1, eps=0.1, eta=-0.1, **kw):
    prod = pd.DataFrame({"producer": ["x"], "country": ["AAA"], "capacity_t": [1e12],
                         "cost_usd_per_t": [0.0], "base_output_t": [100.0 * (1 - s)],
                         "supply_elasticity": [eps]})
    cons = pd.DataFrame({"consumer": ["AAA"], "base_demand_t": [100.0],
                         "demand_elasticity": [eta]})
    return Market("nickel", prod, cons, 15_000.0, 54_000.0, **kw)


@pytest.mark.parametrize("s, closed", [(0.1, 1.693509), (0.05, 1.292300), (0.0, 1.0)])
def test_isoelastic_closed_form_within_stated_tolerance(s, closed):
    # p*/p0 = (1 − s)^(−1/(ε_s − η)), market.md §1.1 and §5.8
    r = solve_spe(_one_region(s))
    assert 0 < r.price_tolerance_rel < 0.003
    assert r.prices["AAA"] / 15_000 == pytest.approx(closed, rel=r.price_tolerance_rel)


def test_stock_pool_lowers_the_price_and_balances():
    base = solve_spe(_one_region(0.1))
    m = _one_region(0.1, stocks_t=5.0, stock_release_share=0.2)
    r = solve_spe(m)
    assert r.prices["AAA"] < base.prices["AAA"]
    assert r.flows.loc[STOCKS_NODE, "AAA"] == pytest.approx(5.0)  # κ·D0·(p/p0 − 1) > 5 t here
    assert r.flows.sum().to_numpy() == pytest.approx(r.consumption.to_numpy())
    assert r.output.sum() == pytest.approx(r.consumption.sum())


def test_choke_price_caps_prices_and_records_shortfall():
    prod = pd.DataFrame({"producer": ["x"], "country": ["AAA"], "capacity_t": [50.0],
                         "cost_usd_per_t": [100.0], "base_output_t": [50.0],
                         "supply_elasticity": [0.0]})
    cons = pd.DataFrame({"consumer": ["AAA"], "base_demand_t": [100.0],
                         "demand_elasticity": [0.0]})
    r = solve_spe(Market("nickel", prod, cons, 1_000.0, 5_000.0))
    assert r.prices["AAA"] == pytest.approx(5_000.0, abs=EXACT)
    assert r.shortfall["AAA"] == pytest.approx(50.0)


def test_market_steps_reproduce_the_curves_at_grid_prices():
    m = _one_region(0.1)
    supply, demand, tol = market_steps(m, steps=50, price_floor_usd_per_t=1_000.0)
    assert tol == pytest.approx((54.0) ** (2 / 50) - 1)
    grid = 1_000.0 * 54.0 ** (np.arange(51) / 50)
    g = grid[30]
    assert demand.loc[demand.value_usd_per_t >= g - 1e-9, "quantity_t"].sum() == pytest.approx(
        100.0 * (g / 15_000) ** -0.1)
    assert supply.loc[supply.cost_usd_per_t <= g + 1e-9, "quantity_t"].sum() == pytest.approx(
        90.0 * (g / 15_000) ** 0.1)


def test_errors_name_the_problem(two_regions, monkeypatch):
    with pytest.raises(MarketError, match="no cost for 1"):
        spe_steps(*two_regions, pd.DataFrame({"B": [5.0]}, index=["A"]))
    with pytest.raises(MarketError, match="export_tax"):
        spe_steps(*two_regions, export_tax={"A": -1.0})

    class Fail:
        status, message = 2, "The problem is infeasible."

    monkeypatch.setattr(spe, "linprog", lambda *a, **k: Fail())
    with pytest.raises(SPESolveError, match=r"market 'nickel'.*status 2 \(The problem"):
        solve_spe(_one_region())


@pytest.mark.skipif(importlib.util.find_spec("critmin.market.clear") is None,
                    reason="critmin.market.clear (the vectorised world solver) not built yet")
def test_world_clearing_matches_spe_without_transport_or_bans():
    from critmin.market import clear  # noqa: PLC0415

    prod = pd.DataFrame({"producer": ["idn", "chn", "rus", "aus"],
                         "country": ["IDN", "CHN", "RUS", "AUS"],
                         "capacity_t": [2.0e6, 0.8e6, 0.25e6, 0.2e6],
                         "cost_usd_per_t": [9_000.0, 13_000.0, 12_000.0, 17_000.0],
                         "base_output_t": [1.8e6, 0.7e6, 0.2e6, 0.15e6],
                         "supply_elasticity": [0.1, 0.2, 0.0, 0.3]})
    cons = pd.DataFrame({"consumer": ["CHN", "USA", "DEU"],
                         "base_demand_t": [2.2e6, 0.35e6, 0.3e6],
                         "demand_elasticity": [-0.2, -0.1, -0.15]})
    m = Market("nickel", prod, cons, 15_000.0, 54_000.0)
    r = solve_spe(m)
    assert r.prices.max() - r.prices.min() == pytest.approx(0.0, abs=EXACT)
    world = float(np.asarray(clear.clear_world(m).price).ravel()[0])
    assert world == pytest.approx(r.prices.iloc[0], rel=r.price_tolerance_rel)
