"""critmin.market.kernel (the compiled engine) against the NumPy solver, and the worker threads.

The two engines search differently (kernel: Newton on ln D − ln S from p0 with breakpoint
bisection; NumPy: breakpoint binary search, then Newton on E) but solve the same equations to the
same tolerance: tol = 1e-9 in ln p, so prices agree to 2·tol relative, and kinds (interior, cost
step, choke price, no market) and the marginal step's dispatched share θ agree exactly or to
1e-9 (θ is a ratio of excess demands at the same breakpoints, summed in a different order)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from critmin.market import kernel
from critmin.market.clear import BLOCK, ClearError, build_curves, clear_world, solve_curves
from critmin.market.model import Market, MarketError

if not kernel.available() and not os.environ.get("CI"):
    pytest.skip("numba is not installed (pip install 'critmin[fast]')", allow_module_level=True)

TOL = 1e-9


def random_market(rng, N=25, J=6, p0=1000.0, choke=4000.0) -> Market:
    cap = rng.uniform(10, 100, N)
    q0 = cap * rng.uniform(0.6, 1.0, N)
    cost = np.round(rng.uniform(0.2, 1.6, N) * p0, -1)          # ties: several producers a step
    P = pd.DataFrame(dict(producer=[f"p{i}" for i in range(N)],
                          country=[f"C{i % 7}" for i in range(N)], capacity_t=cap,
                          cost_usd_per_t=cost, base_output_t=q0,
                          supply_elasticity=np.where(rng.random(N) < 0.3, 0.0,
                                                     rng.uniform(0.01, 0.8, N))))
    C = pd.DataFrame(dict(consumer=[f"X{j}" for j in range(J)],
                          base_demand_t=rng.dirichlet(np.ones(J)) * q0.sum() * 0.8,
                          demand_elasticity=rng.uniform(-1.2, -0.01, J)))
    return Market("random", P, C, p0, choke, stocks_t=float(rng.uniform(0, 200)),
                  stock_release_share=0.4)


def shocks(rng, m: Market, M: int) -> dict:
    N, J = len(m.producers), len(m.consumers)
    cut = rng.random((M, N)) < 0.3
    return dict(capacity_factor=np.where(cut, rng.uniform(0.0, 1.0, (M, N)), 1.0),
                demand_factor=rng.uniform(0.5, 1.8, (M, 1)) * rng.uniform(0.9, 1.1, (M, J)),
                supply_elasticity=np.where(rng.random((M, N)) < 0.2, 0.0,
                                           rng.uniform(0, 1.0, (M, N))),
                demand_elasticity=rng.uniform(-1.0, -0.005, (M, J)),
                stocks_t=rng.uniform(0, 300, M))


def test_engines_agree_on_random_markets():
    """Steps, ties, caps, stocks, imports and exports, shortfalls and empty markets."""
    rng = np.random.default_rng(7)
    kinds = np.zeros(4, int)
    for _ in range(6):
        m = random_market(rng)
        cv = build_curves(m, **shocks(rng, m, 3000))
        net = np.where(rng.random(cv.M) < 0.3, rng.uniform(-300, 300, cv.M), 0.0)
        net[:5] = 0.0
        cv.d0[:5] = 0.0                              # no consumers: no market unless exporting
        net[3:5] = -10.0
        a = solve_curves(cv, net_import=net, tol=TOL, engine="numpy")
        b = solve_curves(cv, net_import=net, tol=TOL, engine="numba")
        np.testing.assert_array_equal(a.kind, b.kind)
        np.testing.assert_allclose(b.price, a.price, rtol=2 * TOL, equal_nan=True)
        np.testing.assert_array_equal(a.a, b.a)
        np.testing.assert_array_equal(a.b, b.b)
        np.testing.assert_allclose(b.theta, a.theta, rtol=1e-9, atol=1e-12)
        kinds += np.bincount(a.kind, minlength=4)
    assert (kinds > 0).all(), kinds                  # every kind of solution was exercised


def test_closed_form_on_the_kernel():
    """p*/p0 = (1 − s)^(−1/(ε − η)): s = 0.1, ε = 0.1, η = −0.1 gives 1.693509 (issue 4)."""
    P = pd.DataFrame(dict(producer=["a"], country=["A"], capacity_t=[1e12], cost_usd_per_t=[0.0],
                          base_output_t=[100.0], supply_elasticity=[0.1]))
    C = pd.DataFrame(dict(consumer=["X"], base_demand_t=[100.0], demand_elasticity=[-0.1]))
    m = Market("iso", P, C, 100.0, 1e6)
    r = clear_world(m, capacity_factor=0.9, engine="numba")
    assert r.price[0] / 100.0 == pytest.approx(0.9 ** (-1 / 0.2), rel=1e-12)
    assert r.price[0] / 100.0 == pytest.approx(1.693509, abs=5e-7)


def test_errors_name_the_same_rows():
    rng = np.random.default_rng(3)
    m = random_market(rng)
    m.producers.loc[0, "cost_usd_per_t"] = 0.0
    d = shocks(rng, m, 50)
    bad = [4, 17]
    d["demand_elasticity"][bad] = 0.0                # inelastic demand met at zero cost
    d["demand_factor"] = np.broadcast_to(d["demand_factor"], (50, len(m.consumers))).copy()
    d["demand_factor"][bad] = 1e-6
    d["capacity_factor"][bad, 0] = 1.0
    d["supply_elasticity"][bad, 0] = 0.0
    cv = build_curves(m, **d)
    rows = {}
    for engine in ("numpy", "numba"):
        with pytest.raises(ClearError, match="price floor") as e:
            solve_curves(cv, engine=engine, scenario="s")
        rows[engine] = e.value.rows
    assert rows["numpy"] == rows["numba"] == [4, 17]


def test_threads_do_not_change_results(monkeypatch):
    """Blocks on one thread or several: bitwise the same arrays."""
    rng = np.random.default_rng(11)
    m = random_market(rng)
    d = shocks(rng, m, 3 * BLOCK + 17)
    out = {}
    for n in ("1", "2"):
        monkeypatch.setenv("CRITMIN_THREADS", n)
        out[n] = clear_world(m, **d)
    for f in ("price", "output", "consumption", "producer_surplus_change", "hhi_after"):
        np.testing.assert_array_equal(getattr(out["1"], f), getattr(out["2"], f))


def test_engine_and_thread_settings_are_checked(monkeypatch):
    with pytest.raises(MarketError, match="CRITMIN_MARKET_ENGINE"):
        kernel.engine("fortran")
    monkeypatch.setenv("CRITMIN_MARKET_ENGINE", "NumPy ")
    assert kernel.engine() == "numpy"
    monkeypatch.setenv("CRITMIN_THREADS", "two")
    from critmin.market.threads import threads
    with pytest.raises(MarketError, match="CRITMIN_THREADS"):
        threads()
