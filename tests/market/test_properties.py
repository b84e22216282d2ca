"""Properties of the market clearing solvers (critmin.market.clear, .kernel, .spe), by hypothesis.

Every property runs under both engines: the `engine` fixture sets $CRITMIN_MARKET_ENGINE to
'numpy' or 'numba' for the whole test (clear_blocs has no engine argument and reads it there).
Without numba the numba cases are skipped, unless $CI is set: CI requires the full stack.

Tolerances. The solver stops within `tol` in ln p (relative price) of the exact root, so two
solves of the same root may differ by 2·tol. Where a property compares two solves, or a solve
with an independent oracle, the solver is asked for TIGHT = 1e-12 and the assertion is 1e-9
relative: a 500× margin over the solver residual, yet any real error (a wrong segment, a lost
producer, a wrong step share) is orders of magnitude larger. The zero-shock baseline and the
SPE comparison run at the default tol = 1e-9, the balance at both (see its docstring).

Counterexamples the properties found are kept at the end as regression tests.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from critmin.market import kernel
from critmin.market.clear import (
    PRICE_FLOOR_REL, ClearError, build_curves, clear_blocs, clear_world, read_result, solve_curves,
)
from critmin.market.model import Market
from critmin.market.spe import solve_spe

P0 = 100.0
TIGHT = 1e-12          # solver tol (ln p) where two solves or a solve and an oracle are compared
REL = 1e-9             # the asserted relative agreement

SETTINGS = dict(derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _need_numba():
    if not kernel.available():
        if os.environ.get("CI"):
            pytest.fail("numba is not importable, but $CI is set: CI requires the full stack "
                        "(pip install 'critmin[fast]')")
        pytest.skip("numba not installed: the compiled engine is not tested")


@pytest.fixture
def need_numba():
    """For the tests that run both engines themselves."""
    _need_numba()


@pytest.fixture(params=["numpy", "numba"])
def engine(request, monkeypatch):
    """The market engine for the whole test, through $CRITMIN_MARKET_ENGINE."""
    if request.param == "numba":
        _need_numba()
    monkeypatch.setenv(kernel.ENGINE_ENV, request.param)
    assert kernel.engine() == request.param
    return request.param


# --- markets ----------------------------------------------------------------------------------

def make_market(q0, K, cost, eps, d0, eta, *, p0=P0, choke=10 * P0, stocks=0.0, kappa=0.0,
                country=None, consumer=None, blocked=()) -> Market:
    n, j = len(q0), len(d0)
    prod = pd.DataFrame(dict(
        producer=[f"p{i}" for i in range(n)],
        country=list(country) if country is not None else [f"C{i:02d}" for i in range(n)],
        capacity_t=np.asarray(K, float), cost_usd_per_t=np.asarray(cost, float),
        base_output_t=np.asarray(q0, float), supply_elasticity=np.asarray(eps, float)))
    cons = pd.DataFrame(dict(
        consumer=list(consumer) if consumer is not None else [f"X{i:02d}" for i in range(j)],
        base_demand_t=np.asarray(d0, float), demand_elasticity=np.asarray(eta, float)))
    return Market("prop", prod, cons, float(p0), float(choke), stocks_t=float(stocks),
                  stock_release_share=float(kappa), blocked=frozenset(blocked))


def fl(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


EPS = st.one_of(st.just(0.0), fl(0.01, 1.0))          # 0: a pure step (merit order)
ETA = st.one_of(st.just(0.0), fl(-1.5, -0.01))        # 0: perfectly inelastic consumer
COST = fl(-0.5 * P0, 3 * P0).map(lambda c: max(c, 0.0))  # 0 (1 in 7), below and above p0


@st.composite
def markets(draw, n=(1, 12), j=(1, 5), eps=EPS, eta=ETA, cost=COST, stocks=True):
    """A world market: 1-12 producers (capacity > base output), 1-5 consumers, costs from 0 to
    3·p0, choke 1.5-20·p0, stocks 0 or positive."""
    N = draw(st.integers(*n))
    J = draw(st.integers(*j))
    return make_market(**_curve_args(draw, N, J, cost, eps, eta, stocks))


def _curve_args(draw, N, J, cost, eps, eta, stocks) -> dict:
    """make_market's curve arguments for N producers and J consumers."""
    q0 = np.array(draw(st.lists(fl(1.0, 1e4), min_size=N, max_size=N)))
    head = np.array(draw(st.lists(fl(0.01, 1.0), min_size=N, max_size=N)))
    return dict(
        q0=q0, K=q0 * (1 + head), cost=draw(st.lists(cost, min_size=N, max_size=N)),
        eps=draw(st.lists(eps, min_size=N, max_size=N)),
        d0=draw(st.lists(fl(1.0, 1e4), min_size=J, max_size=J)),
        eta=draw(st.lists(eta, min_size=J, max_size=J)), choke=draw(fl(1.5, 20.0)) * P0,
        stocks=draw(st.one_of(st.just(0.0), fl(1.0, 1e4))) if stocks else 0.0,
        kappa=draw(st.one_of(st.just(0.0), fl(0.01, 1.0))) if stocks else 0.0)


def shocks(m: Market, M: int):
    """(capacity_factor (M, N) in [0, 1.5], demand_factor (M, J) in [0.3, 3])."""
    N, J = len(m.producers), len(m.consumers)
    return st.tuples(
        st.lists(st.lists(fl(0.0, 1.5), min_size=N, max_size=N), min_size=M, max_size=M),
        st.lists(st.lists(fl(0.3, 3.0), min_size=J, max_size=J), min_size=M, max_size=M))


def excess(m: Market, p: float, *, k=1.0, g=1.0, net_import=0.0, below=False, eps=None,
           eta=None) -> float:
    """E(p) = Σ d_j − Σ q_i − R − m for one scenario, written from the module docstring
    (independent of the solver). below=True: E(p−), the producers with c_i = p left out.
    eps, eta: this scenario's elasticities instead of the market's."""
    P, C = m.producers, m.consumers
    p0 = m.base_price_usd_per_t
    x = p / p0
    cost = P["cost_usd_per_t"].to_numpy(float)
    on = cost < p if below else cost <= p
    k = np.broadcast_to(np.asarray(k, float), cost.shape)
    q = np.where(on, np.minimum(k * P["capacity_t"].to_numpy(float),
                                k * P["base_output_t"].to_numpy(float)
                                * x ** (P["supply_elasticity"].to_numpy(float) if eps is None
                                        else np.asarray(eps, float))), 0.0)
    d = np.asarray(g, float) * C["base_demand_t"].to_numpy(float) \
        * x ** (C["demand_elasticity"].to_numpy(float) if eta is None else np.asarray(eta, float))
    D0 = float(C["base_demand_t"].sum())
    R = min(m.stocks_t, m.stock_release_share * D0 * max(x - 1.0, 0.0))
    return float(d.sum() - q.sum() - R - net_import)


def has_price(m: Market, *, k=1.0, g=1.0, net_import=0.0, eps=None, eta=None) -> bool:
    """Excess demand > 0 at the solver's price floor (clear.ClearError otherwise), by a margin
    so that summation order cannot decide it."""
    floor = m.base_price_usd_per_t * PRICE_FLOOR_REL
    d = float((np.asarray(g, float) * m.consumers["base_demand_t"].to_numpy(float)).sum())
    return excess(m, floor, k=k, g=g, net_import=net_import, eps=eps, eta=eta) \
        > 1e-9 * (d + abs(net_import))


def feasible_imports(m: Market, k, g, share, eps=None, eta=None) -> np.ndarray:
    """Net imports (M,) of share × Σ d0, cut back to 99% of what keeps a price: imports below
    the excess demand at the price floor (else ClearError), exports below all supply and stocks
    at the choke price (see test_exports_beyond_supply_at_the_choke_price for why)."""
    p0, pc = m.base_price_usd_per_t, m.choke_price_usd_per_t
    D0 = float(m.consumers["base_demand_t"].sum())
    M = len(share)
    eps = [None] * M if eps is None else eps
    eta = [None] * M if eta is None else eta
    out = []
    for ki, gi, s, e, h in zip(k, g, share, eps, eta):
        top = excess(m, p0 * PRICE_FLOOR_REL, k=ki, g=gi, eps=e, eta=h)   # E(floor), m = 0
        avail = -excess(m, pc, k=ki, g=0.0, eps=e, eta=h)                 # Σ q(pc) + R(pc)
        out.append(float(np.clip(s * D0, -0.99 * avail, 0.99 * top)))
    return np.array(out)


def scaled(m: Market, *, a=1.0, b=1.0) -> Market:
    """Prices (p0, choke, costs) × a; quantities (capacities, base output and demand, stocks)
    × b."""
    P = m.producers.assign(capacity_t=m.producers["capacity_t"] * b,
                           base_output_t=m.producers["base_output_t"] * b,
                           cost_usd_per_t=m.producers["cost_usd_per_t"] * a)
    C = m.consumers.assign(base_demand_t=m.consumers["base_demand_t"] * b)
    return dataclasses.replace(m, producers=P, consumers=C,
                               base_price_usd_per_t=m.base_price_usd_per_t * a,
                               choke_price_usd_per_t=m.choke_price_usd_per_t * a,
                               stocks_t=m.stocks_t * b)


def balance(r):
    """(Σ output + release + imports − Σ consumption, Σ consumption + shortfall − Σ demand,
    scale = Σ demand + |imports|), each (M,)."""
    a = r.output.sum(1) + r.stock_release + r.net_import - r.consumption.sum(1)
    b = r.consumption.sum(1) + r.shortfall_t - r.demand.sum(1)
    return a, b, r.demand.sum(1) + np.abs(r.net_import)


def kinds(r):
    """Label each scenario for `pytest --hypothesis-show-statistics` (coverage of the cases)."""
    for step, short in zip(r.on_cost_step, r.shortfall_t > 0):
        event("on a cost step" if step else "shortfall at the choke" if short
              else "interior root")


# --- 1. zero shock ------------------------------------------------------------------------------

@st.composite
def balanced_markets(draw):
    """Base demand = Σ supply at p0, every cost below p0, some elasticity at p0 (a consumer
    with η < 0 or a producer with ε > 0: else E = 0 on a whole interval and p0 is only one of
    the clearing prices). Quantities are whole numbers, so that Σ d0 = Σ q0 holds exactly in
    floating point and E(p0) = 0 exactly (with real quantities a rounding of 1 ulp, divided by
    an elasticity as small as 1e-2 of one consumer's share, could move the price by 1e-12)."""
    N = draw(st.integers(1, 12))
    J = draw(st.integers(1, 5))
    q0 = np.array(draw(st.lists(st.integers(5, 10_000), min_size=N, max_size=N)), float)
    w = np.array(draw(st.lists(st.integers(1, 100), min_size=J, max_size=J)))
    Q = int(q0.sum())
    d0 = 1 + np.floor((Q - J) * w / w.sum())
    d0[-1] = Q - d0[:-1].sum()
    assert d0.min() >= 1 and d0.sum() == Q
    head = np.array(draw(st.lists(fl(0.01, 1.0), min_size=N, max_size=N)))
    c = draw(st.lists(st.one_of(st.just(0.0), fl(0.0, 0.999 * P0)), min_size=N, max_size=N))
    e = draw(st.lists(EPS, min_size=N, max_size=N))
    h = draw(st.lists(ETA, min_size=J, max_size=J))
    assume(any(x > 0 for x in e) or any(x < 0 for x in h))
    H = draw(st.one_of(st.just(0.0), fl(1.0, 1e4)))
    kappa = draw(st.one_of(st.just(0.0), fl(0.01, 1.0)))
    return make_market(q0, q0 * (1 + head), c, e, d0, h, choke=draw(fl(1.5, 20.0)) * P0,
                       stocks=H, kappa=kappa)


@settings(max_examples=50, **SETTINGS)
@given(m=balanced_markets())
def test_zero_shock_reproduces_the_baseline(engine, m):
    """No shock on a balanced base: price p0 (rel 1e-12: E(p0) = 0 exactly, the solver's first
    evaluation), output = base output (rel 1e-12), demand destroyed 0, no stock release, and the
    producer and consumer surplus changes 0 (abs 1e-12 of p0·Σ q0: both are closed forms of the
    same integral at the same price)."""
    r = clear_world(m)
    q0 = m.producers["base_output_t"].to_numpy(float)
    assert r.price[0] == pytest.approx(P0, rel=1e-12)
    assert not r.on_cost_step[0]
    np.testing.assert_allclose(r.output[0], q0, rtol=1e-12)
    assert abs(r.demand_destroyed_t[0]) <= 1e-12 * q0.sum()
    assert r.stock_release[0] == 0.0 and r.shortfall_t[0] == 0.0
    np.testing.assert_allclose(r.consumption[0], m.consumers["base_demand_t"], rtol=1e-12)
    scale = P0 * q0.sum()
    assert np.abs(r.producer_surplus_change).max() <= 1e-12 * scale
    assert np.abs(r.consumer_surplus_change).max() <= 1e-12 * scale


# --- 2. quantities balance ----------------------------------------------------------------------

@settings(max_examples=60, **SETTINGS)
@given(m=markets(), data=st.data())
def test_quantities_balance(engine, m, data):
    """In every scenario (interior roots, cost steps, the choke price; with net imports and
    exports through solve_curves):

    - Σ consumption + shortfall = Σ demand to 1e-9 of Σ demand + |net import| (bookkeeping);
    - Σ output + release + net import = Σ consumption: this is −E(p*), the solver's residual.
      At solver tol 1e-12 it must hold to 1e-9 of the total. At the default tol = 1e-9 (in
      ln p) the contract is |E(p*)| ≤ tol·|dE/d ln p| (Σ|η_j| d_j + Σ ε_i q_i + κ·D0·p*/p0),
      which can exceed 1e-9 of the total (slopes up to ~3.5 × total here). E.g. demand 1.9 t
      inelastic, all capacity cut (capacity_factor 0), stocks 1 t with κ = 1, net imports
      0.95 t, choke 1.5·p0: R = 1.9 (x − 1) = 0.95 puts the root exactly at the choke price;
      at tol 1e-9 numpy returns p*/pc − 1 = −3.8e-10 (numba −1.8e-10), a residual of that
      share of the total. So the default-tol check adds tol × that slope;
    - outputs in [0, capacity × capacity_factor], shortfall and consumption ≥ 0, release in
      [0, stocks]."""
    M = 4
    k, g = (np.array(a) for a in data.draw(shocks(m, M)))
    assume(all(has_price(m, k=k[i], g=g[i]) for i in range(M)))
    imp = feasible_imports(m, k, g, data.draw(st.lists(fl(-0.5, 0.5), min_size=M,
                                                       max_size=M)))
    cv = build_curves(m, capacity_factor=k, demand_factor=g)
    K = m.producers["capacity_t"].to_numpy(float) * k
    eps = m.producers["supply_elasticity"].to_numpy(float)
    eta = m.consumers["demand_elasticity"].to_numpy(float)
    kappa_D0 = m.stock_release_share * float(m.consumers["base_demand_t"].sum())
    for tol in (TIGHT, 1e-9):
        for r in (clear_world(m, capacity_factor=k, demand_factor=g, tol=tol),
                  read_result(cv, solve_curves(cv, net_import=imp, tol=tol))):
            if tol == TIGHT:
                kinds(r)
            a, b, scale = balance(r)
            slope = ((np.abs(eta) * r.demand).sum(1) + (eps * r.output).sum(1)
                     + kappa_D0 * r.price / m.base_price_usd_per_t)
            bound = REL * scale + (tol if tol > TIGHT else 0.0) * slope
            assert np.all(np.abs(a) <= bound), (tol, a / scale, r.price)
            assert np.all(np.abs(b) <= REL * scale), (tol, b / scale, r.price)
            assert np.all(r.output >= 0) and np.all(r.output <= K * (1 + 1e-12))
            assert np.all(r.shortfall_t >= 0) and np.all(r.consumption >= 0)
            assert np.all((r.stock_release >= 0) & (r.stock_release <= m.stocks_t))


# --- 3. monotone in the shock -------------------------------------------------------------------

@settings(max_examples=50, **SETTINGS)
@given(m=markets(), data=st.data())
def test_price_monotone_in_capacity_cut(engine, m, data):
    """Cuts s1 < s2 < ... (capacity_factor 1 − s) on a random producer subset: the price never
    falls (rel 1e-9 at solver tol 1e-12). A bigger cut lowers supply at every price, so E rises
    pointwise and its sign change cannot move down."""
    N = len(m.producers)
    hit = np.array(data.draw(st.lists(st.booleans(), min_size=N, max_size=N)))
    hit[data.draw(st.integers(0, N - 1))] = True
    s = np.sort(data.draw(st.lists(fl(0.0, 1.0), min_size=2, max_size=6)))
    assume(has_price(m))                     # then every cut has one: E only rises
    k = np.where(hit, 1.0 - s[:, None], 1.0)
    r = clear_world(m, capacity_factor=k, tol=TIGHT)
    kinds(r)
    p = r.price
    assert np.all(p[1:] >= p[:-1] * (1 - REL)), (s, p)


LABELS = "ABCDE"


@st.composite
def bloc_markets(draw, n=(1, 8), j=(1, 4), stocks=True, split=False):
    """Countries A.. (2-5); consumers are distinct countries, producers sit in any of them (a
    country may both produce and consume). Costs > 0 (1%-300% of p0), so every bloc that has
    consumers has a price. blocked: a random set of (exporter, importer) pairs, or (split=True)
    every pair between different groups of a random partition of the countries, both ways,
    so that no trade at all crosses the groups."""
    labels = LABELS[:draw(st.integers(2, 5))]
    J = draw(st.integers(j[0], min(j[1], len(labels))))
    consumer = list(draw(st.permutations(labels)))[:J]
    N = draw(st.integers(*n))
    country = draw(st.lists(st.sampled_from(labels), min_size=N, max_size=N))
    args = _curve_args(draw, N, J, fl(0.01 * P0, 3 * P0), EPS, ETA, stocks)
    pairs = [(a, b) for a in labels for b in labels if a != b]
    if split:
        group = dict(zip(labels, draw(st.lists(st.integers(0, 2), min_size=len(labels),
                                               max_size=len(labels)))))
        blocked = {(a, b) for a, b in pairs if group[a] != group[b]}
    else:
        blocked = set(draw(st.lists(st.sampled_from(pairs), max_size=len(pairs))))
    return make_market(**args, country=country, consumer=consumer, blocked=blocked)


def _bloc_of(r, country):
    k = r.component[country]
    return k, set(r.members[k]), r.price[0, k]


@settings(max_examples=50, **SETTINGS)
@given(data=st.data())
def test_a_ban_refines_the_blocs(engine, data):
    """One more blocked pair (e, i) in clear_blocs.

    The naive statement "the banning buyer's bloc price cannot fall" is FALSE for the
    components split: the ban can cut i's component C in two, and i's part may lose consumers
    as well as suppliers (test_a_ban_can_lower_the_banning_buyers_bloc_price). What is true:

    - the new components refine the old ones (a ban only removes links);
    - a component the ban does not split keeps its price exactly (same sub-market);
    - a split component's old price lies within its parts' prices: at most the highest, and at
      least the lowest when every part has consumers (E_C = Σ_k E_k over the parts, the stocks
      being split by base demand; a part without consumers has E_k = −S_k ≤ 0, so stranded
      supply can pull the old price below every priced part);
    - if i's part kept every consumer of C (it lost suppliers only; its stock share is the
      same), its price does not fall; if it kept every producer and there are no stocks, its
      price does not rise (with stocks the lost consumers take their stock share with them,
      which can raise the price).

    Prices to rel 1e-9 at solver tol 1e-12."""
    m = data.draw(bloc_markets())
    labels = sorted({*m.producers["country"], *m.consumers["consumer"]})
    free = [(a, b) for a in labels for b in labels if a != b and (a, b) not in m.blocked]
    assume(free)
    e, i = data.draw(st.sampled_from(free))
    m1 = dataclasses.replace(m, blocked=m.blocked | {(e, i)})
    r0, r1 = clear_blocs(m, tol=TIGHT), clear_blocs(m1, tol=TIGHT)
    nan = np.isnan
    for members in r0.members:
        old = r0.price[0, r0.component[members[0]]]
        parts = sorted({r1.component[c] for c in members})
        for k in parts:
            assert set(r1.members[k]) <= set(members)
        if len(parts) == 1:
            new = r1.price[0, parts[0]]
            assert (nan(old) and nan(new)) or old == new
            continue
        event("the ban splits a bloc")
        ps = np.array([r1.price[0, k] for k in parts])
        priced = ps[~nan(ps)]
        if nan(old):
            assert priced.size == 0
            continue
        assert old <= priced.max() * (1 + REL), (old, ps)
        if priced.size == ps.size:
            assert old >= priced.min() * (1 - REL), (old, ps)
    cons, prod_c = set(m.consumers["consumer"]), set(m.producers["country"])
    _, before, p_before = _bloc_of(r0, i)
    _, after, p_after = _bloc_of(r1, i)
    if after != before and not nan(p_before) and not nan(p_after):
        if before & cons <= after:
            event("the banning buyer's bloc lost suppliers only")
            assert p_after >= p_before * (1 - REL), (p_before, p_after)
        elif before & prod_c <= after and m.stocks_t * m.stock_release_share == 0:
            event("the banning buyer's bloc lost consumers only")
            assert p_after <= p_before * (1 + REL), (p_before, p_after)


def test_a_ban_can_lower_the_banning_buyers_bloc_price(engine):
    """X (small, 10 t) and Y (large, 100 t) sell; Z (10 t) and W (100 t) buy; Y may not sell
    to W. One bloc: 110 x^0.5 = 110 x^−0.5, p = p0. Z bans X: X–Z is cut and the blocs are
    {X, W} and {Y, Z}. Z's bloc keeps Y and sheds W: 100 x^0.5 = 10 x^−0.5, x = 0.1, the price
    falls to 10; {X, W}: 10 x^0.5 = 100 x^−0.5, x = 10, price 1000. Z's own ban lowered Z's
    price; the old price lies between the parts'."""
    base = make_market([10.0, 100.0], [1e6, 1e6], [1.0, 1.0], [0.5, 0.5], [10.0, 100.0],
                       [-0.5, -0.5], choke=5000.0, country=["X", "Y"], consumer=["Z", "W"],
                       blocked={("Y", "W")})
    r0 = clear_blocs(base)
    r1 = clear_blocs(dataclasses.replace(base, blocked=base.blocked | {("X", "Z")}))
    assert len(r0.members) == 1 and r0.price[0, 0] == pytest.approx(P0, rel=1e-9)
    assert set(r1.members) == {("W", "X"), ("Y", "Z")}
    assert r1.price[0, r1.component["Z"]] == pytest.approx(10.0, rel=1e-9)
    assert r1.price[0, r1.component["W"]] == pytest.approx(1000.0, rel=1e-9)


# --- 4. units and scale -------------------------------------------------------------------------

@settings(max_examples=50, **SETTINGS)
@given(m=markets(), a=fl(1e-3, 1e3), b=fl(1e-3, 1e3), data=st.data())
def test_unit_and_scale_invariance(engine, m, a, b, data):
    """Prices (p0, choke, costs) × a: the price × a, quantities unchanged. Quantities
    (capacities, base output and demand, stocks) × b: the price unchanged, outputs,
    consumption, release and shortfall × b. The curves depend on p only through p/p0 and c/p0
    and are homogeneous of degree 1 in the quantities. rel 1e-9 at solver tol 1e-12 (abs 1e-9
    of the total demand for quantities near 0, e.g. a marginal step dispatched at θ ≈ 0)."""
    k, g = (np.array(v) for v in data.draw(shocks(m, 2)))
    assume(all(has_price(m, k=k[i], g=g[i]) for i in range(2)))
    kw = dict(capacity_factor=k, demand_factor=g, tol=TIGHT)
    r = clear_world(m, **kw)
    kinds(r)
    ra = clear_world(scaled(m, a=a), **kw)
    rb = clear_world(scaled(m, b=b), **kw)
    np.testing.assert_allclose(ra.price, a * r.price, rtol=REL)
    np.testing.assert_allclose(rb.price, r.price, rtol=REL)
    tot = r.demand.sum(1, keepdims=True)
    for f in ("output", "consumption", "demand"):
        np.testing.assert_allclose(getattr(ra, f), getattr(r, f), rtol=REL, atol=REL * tot.max())
        np.testing.assert_allclose(getattr(rb, f), b * getattr(r, f), rtol=REL,
                                   atol=REL * b * tot.max())
    for f in ("stock_release", "shortfall_t"):
        np.testing.assert_allclose(getattr(ra, f), getattr(r, f), rtol=REL, atol=REL * tot.max())
        np.testing.assert_allclose(getattr(rb, f), b * getattr(r, f), rtol=REL,
                                   atol=REL * b * tot.max())


# --- 5. the LP oracle ---------------------------------------------------------------------------

@settings(max_examples=30, **SETTINGS)
@given(data=st.data(), world=st.booleans())
def test_blocs_equal_the_spe_without_trade_costs(engine, data, world):
    """Zero trade costs. Blocked pairs that cut every link between groups of countries (both
    ways: then no trade at all crosses the groups, so the SPE falls apart into the same
    sub-markets as the components split): each consumer's SPE price equals its bloc's price
    from clear_blocs, within the SPE's discretisation bound price_tolerance_rel (+1e-9 for the
    continuous solve). No stocks here: the SPE's stock pool ships to every consumer and is
    never blocked, while clear_blocs splits the stocks by base demand, so with stocks the two
    are different models. world=True: no blocked pairs, stocks allowed, clear_world's price
    equals every consumer's SPE price within the same bound. Small LP: ≤ 6 producers,
    ≤ 4 consumers, 400 price steps."""
    if world:
        m = dataclasses.replace(data.draw(bloc_markets(n=(1, 6), j=(1, 4))), blocked=frozenset())
    else:
        m = data.draw(bloc_markets(n=(1, 6), j=(1, 4), stocks=False, split=True))
    spe = solve_spe(m, steps=400)
    tol = spe.price_tolerance_rel + REL
    if world:
        r = clear_world(m)
        kinds(r)
        price = {j: (r.price[0], m) for j in m.consumers["consumer"]}
    else:
        r = clear_blocs(m)
        event(f"{len(r.members)} blocs")
        price = {j: (r.price[0, r.component[j]], sub_market(m, r.members[r.component[j]]))
                 for j in m.consumers["consumer"]}
    for j, (p, sub) in price.items():
        if not determinate(sub, p, tol):
            event("indeterminate price: skipped")
            continue
        assert spe.prices[j] == pytest.approx(p, rel=tol), (j, p, spe.prices[j], tol)


def sub_market(m: Market, countries) -> Market:
    """The producers and consumers of `countries` (a bloc), no blocked pairs."""
    P = m.producers[m.producers["country"].isin(countries)]
    C = m.consumers[m.consumers["consumer"].isin(countries)]
    return dataclasses.replace(m, producers=P, consumers=C, blocked=frozenset())


def determinate(m: Market, p: float, tol: float) -> bool:
    """False when excess demand is still 0 at p·(1 + tol): supply and demand are both vertical
    and equal there (e.g. steps against inelastic demand, Σ steps = Σ demand exactly), so every
    price of that flat stretch clears. clear picks its lowest end (the merit-order cost), the LP
    any vertex of its dual interval; neither is wrong. The choke price is always determinate."""
    if p >= m.choke_price_usd_per_t or m.producers.empty:
        return True
    D = float(m.consumers["base_demand_t"].sum())
    return excess(m, min(p * (1 + tol), m.choke_price_usd_per_t)) < -1e-9 * D


# --- 6. merit order -----------------------------------------------------------------------------

def bisect_price(m: Market, k, g) -> tuple[float, bool]:
    """(price, on a cost step) by plain bisection in p on the scalar excess demand down to
    adjacent doubles: lo < hi with E(lo) > 0 ≥ E(hi). The merit-order convention: when a cash
    cost c sits at hi with E(c−) > 0 (demand left over without the producers at c), the price
    is c, on the step. Above the choke price: the choke price (shortfall)."""
    pc = m.choke_price_usd_per_t
    if excess(m, pc, k=k, g=g) > 0:
        return pc, False
    lo, hi = m.base_price_usd_per_t * PRICE_FLOOR_REL, pc
    assert excess(m, lo, k=k, g=g) > 0
    while True:
        mid = math.sqrt(lo * hi)
        if not lo < mid < hi:
            mid = lo + 0.5 * (hi - lo)
            if not lo < mid < hi:
                break
        if excess(m, mid, k=k, g=g) > 0:
            lo = mid
        else:
            hi = mid
    cost = m.producers["cost_usd_per_t"].to_numpy(float)
    return hi, bool((cost == hi).any() and excess(m, hi, k=k, g=g, below=True) > 0)


@settings(max_examples=50, **SETTINGS)
@given(m=markets(eps=st.just(0.0)), data=st.data())
def test_merit_order_equals_bisection_on_steps(engine, m, data):
    """Pure steps (every ε = 0), inelastic or elastic consumers, stocks: the price equals the
    bisection oracle (rel 1e-9 at solver tol 1e-12), on_cost_step agrees whenever the oracle
    is on a step, and the outputs are the merit order: full steps below the price, the
    marginal producers (cost = price) dispatched pro rata θ = E(c−)/Σ marginal steps, none
    above (abs 1e-9 of total demand)."""
    M = 3
    k, g = (np.array(v) for v in data.draw(shocks(m, M)))
    assume(all(has_price(m, k=k[i], g=g[i]) for i in range(M)))
    r = clear_world(m, capacity_factor=k, demand_factor=g, tol=TIGHT)
    kinds(r)
    cost = m.producers["cost_usd_per_t"].to_numpy(float)
    step = k * np.minimum(m.producers["capacity_t"].to_numpy(float),
                          m.producers["base_output_t"].to_numpy(float))
    for i in range(M):
        p, on_step = bisect_price(m, k[i], g[i])
        assert r.price[i] == pytest.approx(p, rel=REL), (i, p, on_step)
        if on_step:
            assert r.on_cost_step[i]
        marginal = cost == p
        theta = 0.0
        if marginal.any() and step[i, marginal].sum() > 0:
            theta = np.clip(excess(m, p, k=k[i], g=g[i], below=True)
                            / step[i, marginal].sum(), 0.0, 1.0)
        expect = np.where(cost < p, step[i], np.where(marginal, theta * step[i], 0.0))
        np.testing.assert_allclose(r.output[i], expect, rtol=0,
                                   atol=REL * r.demand[i].sum())


# --- 7. the two engines -------------------------------------------------------------------------

@settings(max_examples=60, **SETTINGS)
@given(m=markets(), data=st.data())
def test_engines_agree(need_numba, m, data):
    """numpy and numba on the same curves (steps, caps, stocks, elasticities per scenario or
    per row, net imports and exports, shortfalls): the same price (rel 1e-9 at solver tol
    1e-12), the same kind (interior, cost step, choke) and outputs within 1e-9 of each
    producer's shocked capacity. Not parametrised by `engine`: it runs both."""
    M = 4
    N, J = len(m.producers), len(m.consumers)
    k, g = (np.array(v) for v in data.draw(shocks(m, M)))
    eps = eta = [None] * M
    el = {}
    if data.draw(st.booleans()):                       # elasticities drawn per scenario
        eps = data.draw(st.lists(st.lists(EPS, min_size=N, max_size=N), min_size=M, max_size=M))
        eta = data.draw(st.lists(st.lists(ETA, min_size=J, max_size=J), min_size=M, max_size=M))
        el = dict(supply_elasticity=eps, demand_elasticity=eta)
    assume(all(has_price(m, k=k[i], g=g[i], eps=eps[i], eta=eta[i]) for i in range(M)))
    imp = feasible_imports(m, k, g, data.draw(st.lists(fl(-0.5, 0.5), min_size=M, max_size=M)),
                           eps=eps, eta=eta)
    cv = build_curves(m, capacity_factor=k, demand_factor=g, **el)
    a = solve_curves(cv, net_import=imp, engine="numpy", tol=TIGHT)
    b = solve_curves(cv, net_import=imp, engine="numba", tol=TIGHT)
    ra, rb = read_result(cv, a), read_result(cv, b)
    kinds(ra)
    np.testing.assert_allclose(b.price, a.price, rtol=REL)
    np.testing.assert_array_equal(b.kind, a.kind)
    K = m.producers["capacity_t"].to_numpy(float) * k
    assert np.all(np.abs(rb.output - ra.output) <= REL * K + 1e-300), (ra.output, rb.output)


# --- counterexamples found by the properties ------------------------------------------------------
# Each failed before its fix (kernel.py: breakpoints bisected by index, no interior root on a
# breakpoint; clear.read_result: infeasible net exports raise).

def test_costs_one_ulp_apart(engine):
    """Found by test_a_ban_refines_the_blocs (numba engine, random search). Two 1 t steps at
    cash costs 1.0 and 1.0000000000000002 (distinct doubles whose ln(c/p0) is the same double),
    1 t of inelastic demand, p0 = 100: the price is 1.0 on the step (numpy). The kernel keeps
    both costs as breakpoints with equal lnB, `kernel._segment` (largest k with lnB[k] <= u)
    never returns the lower one, and the search ends in ClearError "price did not converge
    within max_iter=200" at any tol (1e-9 too). It needs the price on one of the twin steps;
    twins away from the root are harmless."""
    twin = float(np.nextafter(1.0, 2.0))
    m = make_market([1.0, 1.0], [2.0, 2.0], [1.0, twin], [0.0, 0.0], [1.0], [0.0], choke=200.0)
    r = clear_world(m)
    assert r.price[0] == 1.0 and r.on_cost_step[0]
    np.testing.assert_array_equal(r.output[0], [1.0, 0.0])


def test_on_cost_step_at_an_exact_tie(engine):
    """Found while probing test_engines_agree. A balanced base whose marginal producer's cost
    is p0 itself (1 t at cost 100 = p0, ε = 0.5; demand 1 t, η = −0.5): E(p0−) = 1 > 0 and
    E(p0) = 0 exactly. numpy reports the documented merit-order case (on the step, θ = 1,
    clear's docstring: θ ∈ (0, 1]); the kernel's stage-1 Newton lands on E = 0 at the
    breakpoint and reports an interior root (kind 0). Price (100) and output (1 t) agree; only
    `on_cost_step` (and Solution.kind / b) depend on the engine."""
    m = make_market([1.0], [2.0], [100.0], [0.5], [1.0], [-0.5])
    r = clear_world(m)
    assert r.price[0] == 100.0 and r.output[0, 0] == 1.0
    assert r.on_cost_step[0]


def test_exports_beyond_supply_at_the_choke_price(engine):
    """Found by test_quantities_balance (before its imports were cut to what is feasible):
    solve_curves with a net export (net_import = −2 t) larger than all supply and stocks at the
    choke price (1 t): kind 2, and read_result rations by avail / D = −1, so consumption is
    −1 t and the shortfall 2 t exceeds the 1 t demanded. The balances still hold. Expected:
    consumption ≥ 0 and shortfall ≤ demand (or a ClearError naming the infeasible exports).
    clear_blocs is not affected: its inter-bloc flow is capped at the exporter's supply."""
    m = make_market([1.0], [1.0], [10.0], [0.0], [1.0], [0.0], choke=200.0)
    cv = build_curves(m)
    sol = solve_curves(cv, net_import=-2.0)
    with pytest.raises(ClearError, match="net exports exceed"):
        read_result(cv, sol)
