"""Dynamic mode (critmin.market.dynamic): properties (hypothesis) and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critmin.market.clear import clear_world
from critmin.market.dynamic import closure_path, simulate, update_closures
from critmin.market.model import Market, MarketError

P0 = 100.0


def _market(out, head, eps, eta, c1) -> Market:
    """A balanced world market: base demand = Σ base output, so the base clears at p0."""
    n = len(out)
    prod = pd.DataFrame(dict(
        producer=[f"p{i}" for i in range(n)], country=[f"C{i}" for i in range(n)],
        capacity_t=np.asarray(out) * (1 + np.asarray(head)), cost_usd_per_t=0.0,
        base_output_t=out, supply_elasticity=eps, c1_usd_per_t=c1))
    cons = pd.DataFrame(dict(consumer=["W"], base_demand_t=[float(np.sum(out))],
                             demand_elasticity=[eta]))
    return Market("nickel", prod, cons, P0, 3.5 * P0)


@st.composite
def markets(draw, c1_max=P0):
    n = draw(st.integers(1, 6))
    fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    out = draw(st.lists(fl(1.0, 1e4), min_size=n, max_size=n))
    head = draw(st.lists(fl(0.0, 0.5), min_size=n, max_size=n))
    eps = draw(st.lists(fl(0.0, 2.0), min_size=n, max_size=n))
    c1 = draw(st.lists(fl(0.0, c1_max), min_size=n, max_size=n))
    eta = draw(fl(-1.0, -0.05))
    return _market(out, head, eps, eta, c1)


@settings(max_examples=40, deadline=None)
@given(m=markets(c1_max=0.99 * P0), periods=st.integers(1, 8), lam=st.floats(0.05, 1.0),
       dt=st.sampled_from([0.25, 1.0]), T=st.integers(1, 4))
def test_zero_shock_is_a_steady_baseline(m, periods, lam, dt, T):
    """No shock, every producer's cash cost below p0 (by 1%, so that solver noise in p* cannot
    count as a period under cost): price p0 and base output in every period, nobody closes
    (tolerance 1e-9: the solver's in ln p)."""
    r = simulate(m, periods, adjustment=lam, period_years=dt, periods_below=T,
                 restart_premium_share=0.1)
    np.testing.assert_allclose(r.price, P0, rtol=1e-9)
    np.testing.assert_allclose(r.output[:, 0, :], np.broadcast_to(
        m.producers["base_output_t"].to_numpy(), (periods, len(m.producers))), rtol=1e-8)
    assert r.open.all() and (r.closed_capacity_t == 0).all()


@settings(max_examples=40, deadline=None)
@given(m=markets(c1_max=3 * P0), periods=st.integers(1, 8), lam=st.floats(0.05, 1.0),
       T=st.integers(1, 3), data=st.data())
def test_closures_never_exceed_capacity(m, periods, lam, T, data):
    """Under any shock path: output ≤ the period's capacity, closed producers produce nothing,
    closed nameplate ≤ total nameplate, and supply + release = demand − shortfall."""
    n = len(m.producers)
    k = np.array(data.draw(st.lists(st.lists(st.floats(0.2, 1.5), min_size=n, max_size=n),
                                    min_size=periods, max_size=periods)))
    r = simulate(m, periods, capacity_factor=k, adjustment=lam, periods_below=T,
                 restart_premium_share=0.2)
    assert (r.output <= r.capacity_t * (1 + 1e-9) + 1e-9).all()
    assert (r.output[~r.open] == 0).all()
    K = m.producers["capacity_t"].to_numpy()
    assert (r.closed_capacity_t <= (k * K).sum(axis=1)[:, None] * (1 + 1e-12)).all()
    np.testing.assert_allclose(r.output.sum(axis=2) + r.stock_release,
                               r.demand - r.shortfall_t, rtol=1e-7)


@settings(max_examples=60, deadline=None)
@given(T=st.integers(2, 6), runs=st.lists(st.integers(1, 5), min_size=1, max_size=6),
       gap=st.integers(1, 3), depth=st.floats(0.01, 0.9))
def test_short_dips_close_nothing(T, runs, gap, depth):
    """Hysteresis: a path whose every run below cost is shorter than T periods closes nothing;
    a run of exactly T closes (so the check can fail)."""
    cost = np.array([P0])
    path = []
    for r in runs:
        path += [P0 * (1 - depth)] * min(r, T - 1) + [P0 * 1.5] * gap
    states = closure_path(np.array(path)[:, None], cost, T, cost * 1.1)
    assert states.all()
    closed = closure_path(np.array([P0 * (1 - depth)] * T)[:, None], cost, T, cost * 1.1)
    assert not closed[-1].any() and closed[:-1].all()


def test_restart_needs_the_premium():
    """Closed after 2 periods under 100; 105 (< 100 × 1.1) keeps it shut, 111 restarts it."""
    open_, below = np.ones((1, 1), bool), np.zeros((1, 1), int)
    for p, want in ((90, True), (90, False), (105, False), (111, True), (95, True)):
        open_, below = update_closures(open_, below, np.array([p]), np.array([100.0]), 2,
                                       np.array([110.0]))
        assert bool(open_[0, 0]) is want
    with pytest.raises(MarketError, match="periods_below"):
        update_closures(open_, below, np.array([1.0]), np.array([1.0]), 0, np.array([1.0]))


@settings(max_examples=30, deadline=None)
@given(m=markets(), data=st.data())
def test_one_period_without_lag_is_the_static_market(m, data):
    n = len(m.producers)
    k = np.array(data.draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n)))
    static = clear_world(m, capacity_factor=k[None, :])
    r = simulate(m, 1, capacity_factor=k[None, :], adjustment=1.0)
    np.testing.assert_allclose(r.price[0], static.price, rtol=1e-9)


def test_partial_adjustment_closed_form():
    """One producer (ε = 0.8, headroom never binding), demand η = −0.2, a lasting shock
    k = 0.8 from t = 0. In units of q0 the period's price solves 0.8 u^{1−λ} x^{λε} = x^η, so
    x_t = (0.8 u^{1−λ})^{−1/(λε − η)}, then u ← u^{1−λ} x_t^{λε} (Nerlove). The path falls from
    the short-run spike toward the long-run x = 0.8^{−1/(ε − η)} = 1.25 (tolerance 1e-8)."""
    m = _market([100.0], [10.0], [0.8], -0.2, [0.0])
    lam, T = 0.3, 30
    r = simulate(m, T, capacity_factor=np.full((T, 1), 0.8), adjustment=lam)
    u, want = 1.0, []
    for _ in range(T):
        x = (0.8 * u ** (1 - lam)) ** (-1 / (lam * 0.8 + 0.2))
        want.append(x)
        u = u ** (1 - lam) * x ** (lam * 0.8)
    np.testing.assert_allclose(r.price[:, 0] / P0, want, rtol=1e-8)
    assert want[0] == pytest.approx(0.8 ** (-1 / 0.44))         # the first period's spike
    assert (np.diff(r.price[:, 0]) < 0).all()
    assert r.price[-1, 0] / P0 == pytest.approx(1.25, rel=1e-3)


def test_stocks_carry_over():
    """A price-responsive pool of 20 t (κ = 1) is drawn down across periods and never below 0."""
    m = _market([100.0], [0.0], [0.0], -0.2, [0.0])
    m = Market(m.commodity, m.producers, m.consumers, P0, 3.5 * P0, stocks_t=20.0,
               stock_release_share=1.0)
    r = simulate(m, 4, capacity_factor=np.full((4, 1), 0.9), period_years=0.25)
    assert (np.diff(r.stocks_t[:, 0]) <= 1e-12).all() and (r.stocks_t >= 0).all()
    np.testing.assert_allclose(r.stocks_t[0, 0] - r.stocks_t[1:, 0],
                               np.cumsum(0.25 * r.stock_release[:, 0]), rtol=1e-9)
    # prices rise as the pool runs down (or stay: 1e-12 for the solver's last-digit noise)
    assert r.price[-1, 0] >= r.price[0, 0] * (1 - 1e-12)


def test_exit_in_merit_order_against_brute_force():
    """Five producers all due to close: the rule closes the top k by c1 where k is the largest
    with c_(k) > P(k − 1), P computed here by clear_world on markets with the top k − 1
    removed (an independent path); per draw, with different elasticities per draw."""
    from critmin.market.clear import build_curves
    from critmin.market.dynamic import exit_in_merit_order
    out = [30.0, 25.0, 20.0, 15.0, 10.0]
    c1 = np.array([150.0, 140.0, 125.0, 112.0, 104.0])
    m = _market(out, [0.2] * 5, [0.3] * 5, -0.3, c1)
    eta = np.array([[-0.05], [-0.3], [-1.2]])
    step = build_curves(m, demand_elasticity=eta)
    due = np.ones((3, 5), bool)
    got = exit_in_merit_order(step, due, c1)
    for d in range(3):
        k_star = 0
        for k in range(1, 6):
            keep = np.arange(5) >= k - 1                          # top k − 1 removed
            prev = clear_world(m, capacity_factor=keep[None, :].astype(float),
                               demand_elasticity=eta[d:d + 1]).price[0]
            if c1[k - 1] > prev:
                k_star = k
        assert got[d].tolist() == [i < k_star for i in range(5)], (d, k_star, got[d])
    assert 0 < got[0].sum() < got[2].sum() < 5      # elastic demand: more exit, smaller rise


def test_closures_do_not_cycle():
    """A third of output above the price: without merit-order exit the whole third closes at
    once, the price hits the choke and they all reopen (the cycle); with it the price settles
    below the choke and stays once the exits are done."""
    out = [40.0, 30.0, 15.0, 10.0, 5.0]
    c1 = np.array([60.0, 80.0, 105.0, 115.0, 130.0])
    m = _market(out, [0.1] * 5, [0.1] * 5, -0.1, c1)
    r = simulate(m, 10, periods_below=2, restart_premium_share=0.1, period_years=0.25)
    p = r.price[:, 0]
    assert (p < m.choke_price_usd_per_t).all()
    assert p[2] > p[1] and np.allclose(p[4:], p[4], rtol=1e-9)
    assert r.open[-1, 0].tolist()[:2] == [True, True]
