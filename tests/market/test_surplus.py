"""Producer and consumer surplus changes of a shock (issue 4, deliverable 4) against closed forms
on small step-supply / isoelastic-demand markets, world path (montecarlo.run) and bloc path
(bilateral.run).

Supply rows are pure steps (ε = 0, no 'band', so the drawn ε does not reach them): PS of a row
is q_i (p − c_i). Demand is d0 (p/p0)^η with the drawn η, so the price and
CS change = −∫_{p0}^{p*} d0 (p/p0)^η dp = −d0 p0 (x^(η+1) − 1)/(η + 1), x = p*/p0, are exact
per draw. Tolerance 1e-6 relative: the solver converges to 1e-9 in ln p, which moves the areas
by ~1e-9 × (their size / price move); the remaining slack is float rounding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from critmin.market import bilateral, montecarlo
from critmin.market.model import Market
from critmin.market.scenario import apply_scenario, load_scenario

P0, CHOKE = 10_000.0, 1e12
REL = 1e-6


def _market(producers, consumers) -> Market:
    prod = pd.DataFrame(producers, columns=["producer", "country", "capacity_t",
                                            "cost_usd_per_t"])
    prod["base_output_t"] = prod["capacity_t"]
    prod["supply_elasticity"] = 0.0
    prod["band"] = None                      # steps: the Monte-Carlo ε applies to bands only
    cons = pd.DataFrame(consumers, columns=["consumer", "base_demand_t"])
    cons["demand_elasticity"] = -0.1
    return Market("nickel", prod, cons, P0, CHOKE)


def _cs(d0, x, eta):
    return -d0 * P0 * (x ** (eta + 1) - 1) / (eta + 1)


def test_world_surplus_changes_are_the_closed_form_areas():
    # two steps, 100 t at 5,000 and 100 t at 8,000; demand 200 t at p0. Cut A by 5% -> the
    # 195 t left clear at x = (195/200)^(1/η), above both costs.
    base = _market([("A", "AUS", 100.0, 5000.0), ("B", "CAN", 100.0, 8000.0)],
                   [("WLD", 200.0)])
    P = base.producers.copy()
    P.loc[0, ["capacity_t", "base_output_t"]] = 95.0
    shocked = Market("nickel", P, base.consumers, P0, CHOKE)
    t = montecarlo.run(base, shocked, draws=40, seed=5)
    eta = t["demand_elasticity"].to_numpy()
    x = (195.0 / 200.0) ** (1 / eta)
    assert t["base_price"].to_numpy() == pytest.approx(np.full(40, P0), rel=1e-9)
    assert t["price"].to_numpy() == pytest.approx(P0 * x, rel=1e-8)
    ps = 95 * (P0 * x - 5000) + 100 * (P0 * x - 8000) - (100 * 5000 + 100 * 2000)
    assert t["producer_surplus_change_usd"].to_numpy() == pytest.approx(ps, rel=REL)
    assert t["consumer_surplus_change_usd"].to_numpy() == pytest.approx(_cs(200, x, eta),
                                                                        rel=REL)


def test_bloc_surplus_changes_are_the_closed_form_areas(tmp_path):
    # RUS 150 t at cost 5,000, AUS 50 t at 6,000; CHN buys 140 t, USA 60 t. USA bans RUS with a
    # friction far above any price gap: two separate blocs, sanctioned {RUS, CHN} and rest
    # {AUS, USA}. Sanctioned: p_s = max(5000, p0 (150/140)^(1/η)) (at the step RUS is
    # dispatched pro rata and earns 0 over cost either way: 150 (p_s − 5000) is 0 there).
    base = _market([("RUS", "RUS", 150.0, 5000.0), ("AUS", "AUS", 50.0, 6000.0)],
                   [("CHN", 140.0), ("USA", 60.0)])
    f = tmp_path / "ban.yaml"
    f.write_text("name: ban\ncommodity: nickel\nbase_year: 2024\n"
                 "purchase_bans:\n  - buyers: [USA]\n    origins: [RUS]\n    source: test\n"
                 "frictions:\n  - origins: [RUS]\n    friction_usd_per_t: 1.0e+11\n"
                 "    source: test\n", encoding="utf-8")
    shocked, applied = apply_scenario(base, load_scenario(f))
    flows = pd.DataFrame({"exporter": ["RUS", "RUS", "AUS"], "importer": ["CHN", "USA", "CHN"],
                          "quantity_t": [110.0, 40.0, 30.0]})
    el = montecarlo.draw_elasticities("nickel", 30, 9)
    r = bilateral.run(base, shocked, applied, flows, el)
    eta = el["demand_elasticity"].to_numpy()
    assert r.group_names == ("sanctioned", "rest")
    ps_ = np.maximum(5000.0, P0 * (150 / 140) ** (1 / eta))
    pr = P0 * (50 / 60) ** (1 / eta)
    assert r.price[:, 0] == pytest.approx(ps_, rel=1e-8)
    assert r.price[:, 1] == pytest.approx(pr, rel=1e-8)
    d_sanct = 150 * (ps_ - 5000) - 150 * (P0 - 5000)
    d_rest = 50 * (pr - 6000) - 50 * (P0 - 6000)
    assert r.producer_surplus_change_usd[:, 0] == pytest.approx(d_sanct, rel=REL)
    assert r.producer_surplus_change_usd[:, 1] == pytest.approx(d_rest, rel=REL)
    assert r.consumer_surplus_change_usd == pytest.approx(
        _cs(140, ps_ / P0, eta) + _cs(60, pr / P0, eta), rel=REL)


def test_read_stage_surplus_equals_the_general_closed_form():
    """read_result's short form (from the outputs at p*) against `producer_surplus` (logs and
    powers from scratch) on random curves with caps binding below, at and above p*, pure steps
    (ε = 0), zero capacity and costs above the price: equal to 1e-9 of the larger area (both
    are exact; they differ by rounding only)."""
    from critmin.market.clear import build_curves, producer_surplus, read_result, solve_curves
    rng = np.random.default_rng(5)
    N, J, M = 30, 4, 4000
    cap = rng.uniform(10, 100, N)
    P = pd.DataFrame(dict(producer=[f"p{i}" for i in range(N)], country=[f"C{i % 5}" for i in
                                                                          range(N)],
                          capacity_t=cap, cost_usd_per_t=rng.uniform(0, 1800, N),
                          base_output_t=cap * rng.uniform(0.3, 1.0, N),
                          supply_elasticity=rng.uniform(0, 1, N)))
    C = pd.DataFrame(dict(consumer=[f"X{j}" for j in range(J)],
                          base_demand_t=np.full(J, P["base_output_t"].sum() / J),
                          demand_elasticity=rng.uniform(-1, -0.05, J)))
    m = Market("t", P, C, 1000.0, 5000.0)
    k = np.where(rng.random((M, N)) < 0.3, rng.uniform(0, 1, (M, N)), 1.0)
    k[::7, 0] = 0.0
    eps = np.where(rng.random((M, N)) < 0.2, 0.0, rng.uniform(0, 1.5, (M, N)))
    cv = build_curves(m, capacity_factor=k, supply_elasticity=eps,
                      demand_factor=rng.uniform(0.5, 1.5, (M, 1)))
    r = read_result(cv, solve_curves(cv))
    ref = producer_surplus(cv, r.price)
    base = dataclasses.replace(cv, K=np.broadcast_to(cv.K_base, cv.K.shape),
                               q0=np.broadcast_to(cv.q0_base, cv.q0.shape))
    old = producer_surplus(base, np.full(M, 1000.0))
    scale = np.maximum(np.abs(ref), np.abs(old)).max()
    np.testing.assert_allclose(r.producer_surplus_change, ref - old, rtol=0, atol=1e-9 * scale)
    qi = cv.q0 * (r.price[:, None] / 1000.0) ** cv.eps
    assert (qi >= cv.K).mean() > 0.05 and (qi < cv.K).mean() > 0.3   # both branches exercised
