"""Cost-aware selection: the knapsack against brute-force enumeration of every subset, the
money budget always holds, the random share is never empty, costs follow the table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from critmin.errors import DataFileError
from critmin.oversight.costs import (control_costs, knapsack, load_cost_table,
                                     select_by_cost)
from critmin.oversight.selection import SelectionInputError, estimate_biases
from critmin.oversight.simulate import KAZ_2024_VOLUMES, power_study_config, simulate_ledger


def _brute(v, c, cap):
    best, arg = 0.0, ()
    for r in range(len(v) + 1):
        for sub in itertools.combinations(range(len(v)), r):
            if sum(c[i] for i in sub) <= cap and sum(v[i] for i in sub) > best:
                best, arg = sum(v[i] for i in sub), sub
    return best, arg


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    v = rng.uniform(-1e4, 1e5, 12)           # some worthless items
    c = rng.integers(60, 900, 12).astype(float)
    cap = float(rng.integers(500, 3000))
    best, _ = _brute(list(v), list(c), cap)
    got = knapsack(v, c, cap, step=1.0)       # integer costs on a 1-USD grid: exact
    assert c[got].sum() <= cap
    assert v[got].sum() == pytest.approx(best, rel=1e-12)


def test_knapsack_coarse_grid_stays_feasible():
    rng = np.random.default_rng(9)
    v, c = rng.uniform(0, 1, 40), rng.uniform(10, 100, 40)
    got = knapsack(v, c, 300.0, step=7.0)    # costs rounded up: never over budget
    assert c[got].sum() <= 300.0
    with pytest.raises(SelectionInputError, match="cost"):
        knapsack([1.0], [0.0], 10.0)


@pytest.fixture(scope="module")
def ledger():
    return simulate_ledger(KAZ_2024_VOLUMES, power_study_config(control_share=0.05),
                           random_state=4)


def test_costs_follow_the_table(ledger):
    tab = load_cost_table()
    k = dict(zip(tab["item"], tab["cost_usd"]))
    cost = control_costs(ledger)
    sh = ledger.shipments.set_index("shipment_id")
    cert = ledger.certificates
    sid = cert.loc[cert["element"] == "Cu", "shipment_id"].iloc[0]   # Cu, Au, Ag concentrate
    els = set(cert.loc[cert["shipment_id"] == sid, "element"])
    assert cost[sid] == pytest.approx(k["sampling"] * sh.loc[sid, "wet_t"]
                                      + sum(k[f"assay:{e}"] for e in els))
    sid = cert.loc[cert["element"] == "TREO", "shipment_id"].iloc[0]
    assert cost[sid] == pytest.approx(k["sampling"] * sh.loc[sid, "wet_t"] + k["assay:REE"])


def test_select_by_cost_budget_and_random_share(ledger):
    from critmin.oversight.bias import paired_assays
    from critmin.oversight.selection import candidates_from_ledger
    cand = candidates_from_ledger(ledger)
    cost = control_costs(ledger)
    est = estimate_biases(paired_assays(ledger))
    for budget in (2_000.0, 40_000.0):
        sel = select_by_cost(cand, cost, budget, bias_estimates=est, random_state=2)
        log = sel.log
        assert log["cost_usd"].sum() <= budget
        assert (log["reason"] == "random").sum() >= 1 and log["shipment_id"].is_unique
        assert log.loc[log["reason"] == "random", "cost_usd"].sum() <= max(
            0.10 * budget, log["cost_usd"].iloc[0])
        again = select_by_cost(cand, cost, budget, bias_estimates=est, random_state=2)
        pd.testing.assert_frame_equal(log, again.log)
    # the knapsack is optimal for its budget: it scores at least as much as filling the same
    # budget greedily in score order (on whole-USD costs, the grid of step=1)
    sel = select_by_cost(cand, cost, 20_000.0, bias_estimates=est, random_state=2, step=1.0)
    risk = sel.log[sel.log["reason"] == "risk"]
    left = 20_000.0 - sel.log.loc[sel.log["reason"] == "random", "cost_usd"].sum()
    pool = sel.log[sel.log["reason"] == "random"]["shipment_id"]
    from critmin.oversight.selection import _posterior_matrix, _value_columns, \
        expected_positive_part
    c2 = cand[~cand["shipment_id"].isin(pool)].reset_index(drop=True)
    els, V = _value_columns(c2, None)
    m, s = _posterior_matrix(c2, est, els, "laboratory_id", 0.10)
    score = (V * expected_positive_part(m, s)).sum(axis=1)
    greedy, spent = 0.0, 0.0
    for i in np.argsort(-score, kind="stable"):
        ci = np.ceil(cost[c2["shipment_id"].iloc[i]])
        if score[i] > 0 and spent + ci <= left:
            greedy, spent = greedy + score[i], spent + ci
    assert risk["score"].sum() >= greedy * (1 - 1e-12)


def test_bad_cost_table(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("item,basis,cost_usd,status,source\nsampling,per_wet_t,-1,x,y\n")
    with pytest.raises(DataFileError, match="line 2.*cost_usd|cost_usd.*line 2|:2"):
        load_cost_table(p)
    p.write_text("item,basis,cost_usd,status,source\nassay:Cu,per_wet_t,10,x,y\n")
    with pytest.raises(DataFileError, match="basis"):
        load_cost_table(p)


def test_simulate_policy_under_a_money_budget(ledger):
    from critmin.oversight.selection import simulate_policy
    cost = control_costs(ledger)
    run = simulate_policy(ledger, "risk", 0.05, periods=3, random_state=1, costs_usd=cost,
                          budget_usd="rate")
    per = run.periods
    cand_month = ledger.shipments.assign(period=pd.to_datetime(ledger.shipments["date"])
                                         .dt.to_period("M").astype(str))
    for row in per.itertuples():
        ids = cand_month.loc[cand_month["period"] == row.period, "shipment_id"]
        # M_t = rate · N_t · mean cost of the month's lots; the picks never exceed it
        assert row.spent_usd <= 0.05 * len(ids) * cost.reindex(ids).mean() + 1e-6
        assert row.spent_usd == pytest.approx(cost.reindex(
            run.log.loc[run.log["period"] == row.period, "shipment_id"]).sum())
    with pytest.raises(SelectionInputError, match="costs_usd"):
        simulate_policy(ledger, "risk", 0.05, periods=1, budget_usd="rate")
