"""critmin.market.clear: hand-computed equilibria, properties, a scalar brentq oracle, blocs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from critmin.market.clear import (
    ClearError, clear_blocs, clear_world, components, demand, stock_release, supply,
)
from critmin.market.model import Market, MarketError


def producers(**cols) -> pd.DataFrame:
    n = len(cols["capacity_t"])
    base = dict(producer=[f"p{i}" for i in range(n)], country=[f"C{i:02d}" for i in range(n)],
                cost_usd_per_t=[0.0] * n, supply_elasticity=[0.0] * n)
    base.update(cols)
    base.setdefault("base_output_t", base["capacity_t"])
    return pd.DataFrame(base)


def consumers(d0, eta, names=None) -> pd.DataFrame:
    names = names or [f"X{j:02d}" for j in range(len(d0))]
    return pd.DataFrame(dict(consumer=names, base_demand_t=d0, demand_elasticity=eta))


def market(P, C, p0=100.0, choke=1000.0, **kw) -> Market:
    return Market("test", P, C, p0, choke, **kw)


def balance(r):
    """Σ output + release + imports − Σ consumption, and Σ consumption + shortfall − Σ demand."""
    a = r.output.sum(1) + r.stock_release + r.net_import - r.consumption.sum(1)
    b = r.consumption.sum(1) + r.shortfall_t - r.demand.sum(1)
    return a, b


# --- hand-computed cases -------------------------------------------------------------------------

def test_isoelastic_closed_form():
    """No caps, no costs: p*/p0 = (1 − s)^(−1/(ε − η)) (notes §1.1, §5.8): s=0.1, ε=0.1,
    η=−0.1 gives 0.9^−5 = 1.693509; s = 0 gives p0 exactly."""
    P = producers(capacity_t=[1e9, 1e9], base_output_t=[40.0, 60.0], supply_elasticity=[0.1, 0.1])
    m = market(P, consumers([100.0], [-0.1]))
    s = np.array([[0.1], [0.05], [0.0], [0.3]])
    r = clear_world(m, capacity_factor=1 - s)
    expect = (1 - s[:, 0]) ** (-1 / 0.2)
    np.testing.assert_allclose(r.price / 100.0, expect, rtol=1e-12)
    assert r.price[2] == 100.0
    assert round(r.price[0] / 100, 6) == 1.693509
    # welfare closed forms (c = 0): ΔCS = −d0 p0 (x^(1+η) − 1)/(1+η);
    # ΔPS = p0 Q0 ((1 − s) x^(1+ε) − 1)/(1+ε)
    x = expect
    np.testing.assert_allclose(r.consumer_surplus_change[:, 0],
                               -100 * 100 * (x ** 0.9 - 1) / 0.9, rtol=1e-10)
    np.testing.assert_allclose(r.producer_surplus_change.sum(1),
                               100 * 100 * ((1 - s[:, 0]) * x ** 1.1 - 1) / 1.1, rtol=1e-10)
    np.testing.assert_allclose(r.demand_destroyed_t, 100 - 100 * x ** -0.1, rtol=1e-10)


def test_two_producers_linear_in_log_with_different_elasticities():
    """q1 = 30 x^0.2, q2 = 70 x^0, demand 100 x^−0.3, producer 2 loses half: 30 x^0.2 + 35 =
    100 x^−0.3, solved here by brentq on the scalar equation to 1e−14."""
    P = producers(capacity_t=[1e9, 70.0], base_output_t=[30.0, 70.0],
                  supply_elasticity=[0.2, 0.0])
    r = clear_world(market(P, consumers([100.0], [-0.3])), capacity_factor=[1.0, 0.5])
    x = brentq(lambda x: 30 * x**0.2 + 35 - 100 * x**-0.3, 0.5, 20, xtol=1e-15, rtol=1e-15)
    assert r.price[0] == pytest.approx(100 * x, rel=1e-12)
    np.testing.assert_allclose(r.output[0], [30 * x**0.2, 35.0], rtol=1e-12)


def test_merit_order_price_is_the_marginal_cost():
    """Steps 60 t @10, 60 t @20, 60 t @30 against 100 t inelastic: price 20, producer 2
    dispatched 40 of 60 t (the merit-order convention), producer 3 idle and loss-making."""
    P = producers(capacity_t=[60.0, 60.0, 60.0], cost_usd_per_t=[10.0, 20.0, 30.0])
    r = clear_world(market(P, consumers([100.0], [0.0]), p0=25.0, choke=100.0))
    assert r.price[0] == 20.0 and r.on_cost_step[0]
    np.testing.assert_array_equal(r.output[0], [60.0, 40.0, 0.0])
    assert r.loss_making_share[0] == pytest.approx(1 / 3)
    # producer surplus: (20−10)·60 − base (25−10)·60 − (25−20)·60 − 0  (step: (p − c)·q0)
    np.testing.assert_allclose(r.producer_surplus_change[0], [600 - 900, 0 - 300, 0.0])
    assert r.hhi_before[0] == pytest.approx(1 / 3)
    assert r.hhi_after[0] == pytest.approx(0.36 + 0.16)


def test_price_between_steps_on_a_vertical_segment_of_demand():
    """Demand 100·(p/25)^−1 against steps 60 t @10, 60 t @20, 60 t @30: at p = 20 demand is
    125 > 120 (two steps), at p = 30 it is 83.3 < 120, so the price lies between the steps where
    demand falls to 120 t: p = 25·100/120 = 20.833, not on a cost step."""
    P = producers(capacity_t=[60.0, 60.0, 60.0], cost_usd_per_t=[10.0, 20.0, 30.0])
    r = clear_world(market(P, consumers([100.0], [-1.0]), p0=25.0, choke=100.0))
    assert r.price[0] == pytest.approx(25 * 100 / 120, rel=1e-12)
    assert not r.on_cost_step[0]
    np.testing.assert_allclose(r.output[0], [60.0, 60.0, 0.0])


def test_shortfall_at_the_choke_price():
    """All capacity 60 t against 100 t of inelastic demand and 10 t of stocks: the price is the
    choke price, release 10 t, shortfall 30 t; consumers rationed pro rata to demand."""
    P = producers(capacity_t=[60.0], base_output_t=[60.0])
    C = consumers([75.0, 25.0], [0.0, 0.0])
    r = clear_world(market(P, C, p0=100.0, choke=500.0, stocks_t=10.0,
                           stock_release_share=1.0))
    assert r.price[0] == 500.0
    assert r.stock_release[0] == 10.0
    assert r.shortfall_t[0] == pytest.approx(30.0)
    np.testing.assert_allclose(r.consumption[0], [52.5, 17.5])
    a, b = balance(r)
    assert abs(a[0]) < 1e-12 and abs(b[0]) < 1e-12
    # unserved demand is valued at the choke price: ΔCS = −(500 − 100)·100
    assert r.consumer_surplus_change.sum() == pytest.approx(-400 * 100)


def test_stock_release_clears_a_gap():
    """Inelastic 100 t, supply cut to 90 t, κ = 0.5: R = 0.5·100·(x − 1) = 10 → x = 1.2; with
    stocks of only 5 t the market goes to the choke price with a 5 t shortfall."""
    P = producers(capacity_t=[100.0])
    C = consumers([100.0], [0.0])
    m = market(P, C, stocks_t=50.0, stock_release_share=0.5)
    r = clear_world(m, capacity_factor=0.9, stocks_t=[[50.0], [5.0]])
    assert r.price[0] == pytest.approx(120.0, rel=1e-12)
    assert r.stock_release[0] == pytest.approx(10.0)
    assert r.price[1] == 1000.0 and r.shortfall_t[1] == pytest.approx(5.0)
    np.testing.assert_allclose(stock_release([90.0, 120.0, 1e4], 100.0, stocks_t=50.0,
                                             stock_release_share=0.5, base_demand_t=100.0),
                               [0.0, 10.0, 50.0])


def test_supply_and_demand_curves():
    P = producers(capacity_t=[50.0, 100.0], base_output_t=[40.0, 100.0],
                  cost_usd_per_t=[80.0, 120.0], supply_elasticity=[1.0, 0.0])
    q = supply([100.0, 110.0, 200.0, 50.0], P, 100.0)
    np.testing.assert_allclose(q, [[40, 0], [44, 0], [50, 100], [0, 0]])
    C = consumers([10.0, 20.0], [-0.5, 0.0])
    d = demand([400.0], C, 100.0, demand_factor=[[1.0, 2.0]])
    np.testing.assert_allclose(d, [[5.0, 40.0]])


# --- properties -------------------------------------------------------------------------------

def random_market(rng, N=12, J=4, steps=False):
    cap = rng.uniform(10, 100, N)
    P = producers(capacity_t=cap, base_output_t=cap * rng.uniform(0.5, 1.0, N),
                  cost_usd_per_t=rng.uniform(20, 120, N),
                  supply_elasticity=np.zeros(N) if steps else rng.uniform(0, 0.5, N))
    C = consumers(rng.uniform(50, 150, J), rng.uniform(-0.6, -0.02, J))
    return market(P, C, p0=100.0, choke=800.0, stocks_t=rng.uniform(0, 50),
                  stock_release_share=rng.uniform(0, 0.3))


def test_monotone_in_capacity_and_demand():
    rng = np.random.default_rng(1)
    for steps in (False, True):
        m = random_market(rng, steps=steps)
        cut = np.linspace(1.0, 0.3, 15)[:, None]
        p = clear_world(m, capacity_factor=cut).price
        assert np.all(np.diff(p) >= -1e-9 * p[1:])
        g = np.linspace(1.0, 0.3, 15)[:, None]
        p = clear_world(m, demand_factor=g).price
        assert np.all(np.diff(p) <= 1e-9 * p[1:])


def test_conservation_and_shapes():
    rng = np.random.default_rng(2)
    m = random_market(rng, N=20, J=5)
    M = 300
    r = clear_world(m, capacity_factor=rng.uniform(0.2, 1.2, (M, 20)),
                    demand_factor=rng.uniform(0.5, 2.0, (M, 1)),
                    supply_elasticity=rng.uniform(0, 0.4, (M, 20)),
                    demand_elasticity=rng.uniform(-0.5, -0.01, (M, 5)))
    assert r.price.shape == (M,) and r.output.shape == (M, 20) and r.consumption.shape == (M, 5)
    a, b = balance(r)
    scale = r.demand.sum(1)
    assert np.all(np.abs(a) <= 1e-7 * scale) and np.all(np.abs(b) <= 1e-9 * scale)
    assert (r.shortfall_t > 0).any() and (r.shortfall_t == 0).any()
    assert np.all((r.loss_making_share >= 0) & (r.loss_making_share <= 1))


def scalar_price(m: Market, k, g, eps, eta) -> float:
    """The oracle: brentq on one scenario's excess demand, written from the equations."""
    P, C = m.producers, m.consumers
    p0, H, kap = m.base_price_usd_per_t, m.stocks_t, m.stock_release_share
    D0 = C["base_demand_t"].sum()

    def E(p):
        x = p / p0
        q = np.where(p >= P["cost_usd_per_t"], np.minimum(k * P["capacity_t"],
                     k * P["base_output_t"] * x**eps), 0.0).sum()
        d = (g * C["base_demand_t"] * x**eta).sum()
        return d - q - min(H, kap * D0 * max(x - 1, 0.0))

    if E(m.choke_price_usd_per_t) > 0:
        return m.choke_price_usd_per_t
    return brentq(E, p0 * 1e-6, m.choke_price_usd_per_t, xtol=1e-14, rtol=1e-15, maxiter=500)


@pytest.mark.parametrize("steps", [False, True])
def test_vectorised_equals_scalar_brentq(steps):
    """Every scenario's price equals a per-scenario brentq solve to 1e−9 relative (on step
    curves brentq converges onto the jump, i.e. the marginal cost)."""
    rng = np.random.default_rng(3 + steps)
    m = random_market(rng, N=15, J=4, steps=steps)
    M = 200
    k = rng.uniform(0.3, 1.2, (M, 15))
    g = rng.uniform(0.6, 1.8, (M, 4))
    eps = np.zeros((M, 15)) if steps else rng.uniform(0, 0.6, (M, 15))
    eta = rng.uniform(-0.8, -0.01, (M, 4))
    r = clear_world(m, capacity_factor=k, demand_factor=g, supply_elasticity=eps,
                    demand_elasticity=eta)
    oracle = np.array([scalar_price(m, k[i], g[i], eps[i], eta[i]) for i in range(M)])
    np.testing.assert_allclose(r.price, oracle, rtol=1e-9)
    if steps:
        assert r.on_cost_step.any()


def test_bad_inputs_fail_loudly():
    P = producers(capacity_t=[100.0])
    m = market(P, consumers([50.0], [0.0]))
    with pytest.raises(ClearError, match="market 'test'.*price floor"):
        clear_world(m)                              # zero-cost supply > inelastic demand
    with pytest.raises(MarketError, match="capacity_factor"):
        clear_world(m, capacity_factor=[[np.nan]])
    with pytest.raises(MarketError, match="demand_elasticity"):
        clear_world(m, demand_elasticity=0.5)
    with pytest.raises(MarketError, match="broadcast"):
        clear_world(m, capacity_factor=np.ones((3, 2)))
    # two elasticities and a stock release: neither engine's Newton step is exact here, so
    # one iteration cannot reach tol (a single isoelastic curve would: the kernel's step on
    # ln D − ln S is exact for it)
    m2 = market(producers(capacity_t=[1e9, 1e9], base_output_t=[50.0, 50.0],
                          supply_elasticity=[0.05, 0.9]),
                consumers([60.0, 40.0], [-0.05, -0.8]), stocks_t=30.0, stock_release_share=0.3)
    for engine in ("numpy", "numba"):
        with pytest.raises(ClearError, match=r"scenario 'cut'.*max_iter=1.*tol="):
            clear_world(m2, capacity_factor=0.5, max_iter=1, scenario="cut", engine=engine)


# --- blocs ---------------------------------------------------------------------------------

def test_components_union_find():
    comp = components(["RUS", "CHN", "USA", "DEU"], {("RUS", "USA"), ("RUS", "DEU")})
    assert len(set(comp.values())) == 1              # CHN bridges: sanctions re-route
    blocked = {(a, b) for a in ("RUS", "CHN") for b in ("USA", "DEU")}
    comp = components(["RUS", "CHN", "USA", "DEU"], blocked)   # one-way bans cut the links
    assert comp["RUS"] == comp["CHN"] != comp["USA"] == comp["DEU"]
    assert components(["A", "B"], {("A", "C")}) == {"A": 0, "B": 0}


def bloc_market(**kw):
    """East: RUS cheap 80 t @20 (ε 0.2) + CHN consumer 40 t; West: USA producer 40 t @60,
    consumer USA 80 t. East and West blocked both ways."""
    P = pd.DataFrame(dict(producer=["nornickel", "stillwater"], country=["RUS", "USA"],
                          capacity_t=[200.0, 200.0], cost_usd_per_t=[20.0, 60.0],
                          base_output_t=[80.0, 40.0], supply_elasticity=[0.2, 0.3]))
    C = consumers([40.0, 80.0], [-0.2, -0.3], names=["CHN", "USA"])
    blocked = frozenset({("RUS", "USA"), ("CHN", "USA"), ("USA", "RUS"), ("USA", "CHN")})
    return Market("pd", P, C, 100.0, 2000.0, blocked=blocked, **kw)


def test_blocs_split_prices_and_world_price_lies_between():
    m = bloc_market(stocks_t=10.0, stock_release_share=0.1)
    r = clear_blocs(m)
    assert r.members == (("CHN", "RUS"), ("USA",))
    east, west = r.price[0]
    assert east < 100.0 < west
    assert east < r.world.price[0] < west
    assert r.world.price[0] == pytest.approx(100.0, rel=1e-9)   # balanced base
    for b in r.blocs:
        a, c = balance(b)
        assert abs(a[0]) < 1e-7 and abs(c[0]) < 1e-9
    assert r.output.shape == (1, 2) and r.consumption.shape == (1, 2)


def test_friction_zero_is_the_world_price_and_large_is_the_split():
    m = bloc_market(stocks_t=10.0, stock_release_share=0.1)
    k = np.array([[1.0, 1.0], [0.7, 1.0], [1.0, 0.5]])
    split = clear_blocs(m, capacity_factor=k)
    r0 = clear_blocs(m, capacity_factor=k, friction_usd_per_t=0.0)
    np.testing.assert_allclose(r0.price[:, 0], r0.world.price, rtol=1e-8)
    np.testing.assert_allclose(r0.price[:, 1], r0.world.price, rtol=1e-8)
    np.testing.assert_allclose(r0.output, r0.world.output, rtol=1e-6)
    assert np.all(r0.flow_t > 0)                      # east (component 0) ships west
    big = clear_blocs(m, capacity_factor=k, friction_usd_per_t=1e5)
    np.testing.assert_array_equal(big.price, split.price)
    np.testing.assert_array_equal(big.flow_t, 0.0)
    tau = 15.0
    mid = clear_blocs(m, capacity_factor=k, friction_usd_per_t=tau)
    np.testing.assert_allclose(mid.price[:, 1] - mid.price[:, 0], tau, rtol=1e-7)
    np.testing.assert_allclose(mid.blocs[0].net_import, -mid.flow_t)
    cap = clear_blocs(m, capacity_factor=k, friction_usd_per_t=tau, flow_cap_t=5.0)
    np.testing.assert_allclose(cap.flow_t, 5.0)
    assert np.all(cap.price[:, 1] - cap.price[:, 0] > tau)


def test_friction_needs_two_components():
    P = producers(capacity_t=[100.0], supply_elasticity=[0.1])
    m = market(P, consumers([100.0], [-0.2]))
    with pytest.raises(MarketError, match="exactly two"):
        clear_blocs(m, friction_usd_per_t=10.0)
    r = clear_blocs(m)
    np.testing.assert_array_equal(r.price[:, 0], r.world.price)


def test_blocks_give_the_same_result_and_name_whole_run_rows(monkeypatch):
    import critmin.market.clear as clear
    rng = np.random.default_rng(5)
    m = random_market(rng, N=8, J=3)
    k = rng.uniform(0.2, 1.2, (50, 8))
    one = clear_world(m, capacity_factor=k)
    monkeypatch.setattr(clear, "BLOCK", 7)
    many = clear_world(m, capacity_factor=k)
    for f in ("price", "output", "consumption", "shortfall_t", "producer_surplus_change",
              "hhi_after"):
        np.testing.assert_array_equal(getattr(one, f), getattr(many, f))
    bad = market(producers(capacity_t=[100.0]), consumers([50.0], [0.0]))
    g = np.ones((20, 1))
    g[[3, 15]] = 0.5
    g[g == 1] = 3.0
    with pytest.raises(ClearError, match=r"\[3, 15\]") as e:
        clear_world(bad, demand_factor=g)
    assert e.value.rows == [3, 15]


def test_stranded_bloc_without_consumers():
    """A producer-only component (RUS, blocked from everyone) has no price and sells nothing
    unless linked; linked with τ its price is the importer's less τ."""
    P = pd.DataFrame(dict(producer=["r", "u"], country=["RUS", "USA"], capacity_t=[1e9, 1e9],
                          cost_usd_per_t=[10.0, 10.0], base_output_t=[50.0, 50.0],
                          supply_elasticity=[0.3, 0.3]))
    C = consumers([100.0], [-0.3], names=["USA"])
    m = Market("x", P, C, 100.0, 2000.0, blocked=frozenset({("RUS", "USA"), ("USA", "RUS")}))
    r = clear_blocs(m)
    assert np.isnan(r.price[0, 0]) and r.price[0, 1] > 100.0
    assert r.output[0, 0] == 0.0 and r.blocs[0].producer_surplus_change[0, 0] < 0
    linked = clear_blocs(m, friction_usd_per_t=20.0)
    assert linked.price[0, 1] - linked.price[0, 0] == pytest.approx(20.0, rel=1e-7)
    assert 0 < linked.flow_t[0] < 100.0
    zero = clear_blocs(m, friction_usd_per_t=0.0)
    assert zero.price[0, 0] == pytest.approx(zero.world.price[0], rel=1e-8)


def test_components_no_relay_through_a_seller_only_country():
    """A stock holder that only sells must not join a banned exporter to the buyers it may not
    serve (the bug backtest worked around with `_no_relay`)."""
    blocked = {("RUS", "USA")}
    old = components(["RUS", "STK", "USA"], blocked)
    assert len(set(old.values())) == 1               # without roles STK bridges RUS and USA
    comp = components(["RUS", "STK", "USA"], blocked, sellers=["RUS", "STK"], buyers=["USA"])
    assert comp["STK"] == comp["USA"] != comp["RUS"]
    # a country that both buys and sells still relays: costless re-routing through CHN
    comp = components(["RUS", "CHN", "USA"], blocked, sellers=["RUS", "CHN"],
                      buyers=["CHN", "USA"])
    assert len(set(comp.values())) == 1


def test_clear_blocs_ban_holds_against_a_stock_holder():
    """Every buyer bans RUS; a stock holder STK sells anywhere. Before the fix STK joined RUS to
    USA and the ban did nothing (one world price, 100); now RUS is stranded and USA clears on
    STK's 40 t alone: 120 x^-0.25 = 40, x = 3^4 = 81."""
    P = pd.DataFrame(dict(producer=["nornickel", "stock"], country=["RUS", "STK"],
                          capacity_t=[80.0, 40.0], cost_usd_per_t=[0.0, 0.0],
                          base_output_t=[80.0, 40.0], supply_elasticity=[0.0, 0.0]))
    C = consumers([120.0], [-0.25], names=["USA"])
    m = Market("pd", P, C, 100.0, 1e6, blocked=frozenset({("RUS", "USA")}))
    r = clear_blocs(m)
    assert r.component["STK"] == r.component["USA"] != r.component["RUS"]
    usa = r.component["USA"]
    assert r.price[0, usa] == pytest.approx(8100.0, rel=1e-9)
    assert np.isnan(r.price[0, r.component["RUS"]])
    np.testing.assert_allclose(r.output[0], [0.0, 40.0])
    assert r.world.price[0] == pytest.approx(100.0, rel=1e-9)      # the zero-friction bound


def test_clear_blocs_groups_override():
    m = bloc_market()
    a = clear_blocs(m)
    P = m.producers
    b = clear_blocs(dataclasses.replace(m, blocked=frozenset()),
                    groups=(np.array([0, 1]), np.array([0, 1])))
    np.testing.assert_allclose(b.price, a.price, rtol=1e-12)
    with pytest.raises(MarketError, match="groups"):
        clear_blocs(m, groups=(np.zeros(len(P) + 1), np.zeros(2)))
