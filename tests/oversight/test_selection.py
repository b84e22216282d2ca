"""Selection of shipments for control sampling: the random share is never zero, the budget
holds, the log is reproducible from its seed, risk finds the biased lab, and in a small seeded
simulation oracle ≥ risk ≥ random."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.oversight.selection import (SelectionInputError, candidates_from_ledger,
                                         declared_grade_prior, estimate_biases,
                                         expected_positive_part, select_from_ledger,
                                         select_shipments, simulate_policy, true_biases)
from critmin.oversight.simulate import KAZ_2024_VOLUMES, power_study_config, simulate_ledger


def _cands(n=40, labs=4, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"shipment_id": [f"S{i:03d}" for i in range(n)],
                         "exporter_id": "E1",
                         "laboratory_id": [f"L{i % labs}" for i in range(n)],
                         "dry_t": 1000.0,
                         "declared_value_usd": rng.uniform(1e6, 3e6, n)})


@pytest.mark.parametrize("policy", ["random", "value", "risk"])
@pytest.mark.parametrize("budget", [1, 2, 5, 13, 40, 100])
def test_budget_respected_and_random_share_never_zero(policy, budget):
    sel = select_shipments(_cands(), budget, policy=policy, random_share=0.01, random_state=3)
    assert len(sel.log) == min(budget, 40)
    assert sel.log["shipment_id"].is_unique
    assert (sel.log["reason"] == "random").sum() >= 1
    if policy != "random" and budget >= 13:
        assert (sel.log["reason"] == policy).sum() == min(budget, 40) - sel.n_random


def test_zero_budget_and_bad_inputs():
    assert select_shipments(_cands(), 0, random_state=1).log.empty
    for kw in ({"random_share": 0.0}, {"policy": "greedy"}, {"scoring": "ucb"}):
        with pytest.raises(SelectionInputError):
            select_shipments(_cands(), 5, random_state=1, **kw)
    with pytest.raises(SelectionInputError):
        select_shipments(_cands(), 2.5, random_state=1)
    with pytest.raises(SelectionInputError, match="oracle"):
        select_shipments(_cands(), 5, policy="oracle", random_state=1)
    bad = _cands()
    bad.loc[3, "declared_value_usd"] = np.nan
    with pytest.raises(SelectionInputError, match="S003"):
        select_shipments(bad, 5, policy="value", random_state=1)


@pytest.mark.parametrize("policy", ["random", "value", "risk"])
def test_log_has_reason_and_seed_and_is_reproducible(policy):
    a = select_shipments(_cands(), 8, policy=policy, random_state=42)
    b = select_shipments(_cands(), 8, policy=policy, random_state=42)
    pd.testing.assert_frame_equal(a.log, b.log)
    assert {"shipment_id", "reason", "expected_recoverable_usd", "score", "seed",
            "policy"} <= set(a.log.columns)
    assert (a.log["seed"] == 42).all() and (a.log["policy"] == policy).all()
    # no seed given: a fresh one is drawn, logged, and re-creates the selection
    c = select_shipments(_cands(), 8, policy=policy)
    d = select_shipments(_cands(), 8, policy=policy, random_state=c.seed)
    pd.testing.assert_frame_equal(c.log, d.log)


def _pairs(biased="L2", b=0.3, n=6, labs=4, seed=0):
    rng = np.random.default_rng(seed)
    lab = np.repeat([f"L{i}" for i in range(labs)], n)
    d = rng.normal(0, 0.02, lab.size) + np.where(lab == biased, b, 0.0)
    return pd.DataFrame({"laboratory_id": lab, "element": "*", "d": d})


@pytest.mark.parametrize("scoring", ["thompson", "option", "mean"])
def test_risk_picks_the_biased_lab_once_the_estimate_is_informative(scoring):
    est = estimate_biases(_pairs())
    row = est.set_index("laboratory_id").loc["L2"]
    assert row["posterior_mean"] > 0.25 and row["posterior_sd"] < 0.05
    sel = select_shipments(_cands(), 6, policy="risk", bias_estimates=est, scoring=scoring,
                           random_state=5)
    risk = sel.log[sel.log["reason"] == "risk"]
    assert len(risk) == 5 and (risk["laboratory_id"] == "L2").all()
    # the expected recoverable value is the posterior mean of ΔV: V·(e^{m+s²/2} − 1)
    v = _cands().set_index("shipment_id").loc[risk["shipment_id"], "declared_value_usd"]
    want = v.to_numpy() * np.expm1(row["posterior_mean"] + row["posterior_sd"] ** 2 / 2)
    assert np.allclose(risk["expected_recoverable_usd"], want, rtol=1e-9)


def test_without_estimates_risk_explores_by_value():
    sel = select_shipments(_cands(), 6, policy="risk", scoring="option", random_state=5)
    c = _cands().set_index("shipment_id")["declared_value_usd"]
    picked = sel.log.loc[sel.log["reason"] == "risk", "shipment_id"]
    rest = c.drop(sel.log.loc[sel.log["reason"] == "random", "shipment_id"])
    assert set(picked) == set(rest.nlargest(5).index)


def test_expected_positive_part():
    # E[(e^b − 1)^+] against Monte Carlo; the s = 0 limit is max(0, e^m − 1)
    rng = np.random.default_rng(0)
    for m, s in ((0.0, 0.1), (0.2, 0.05), (-0.1, 0.3)):
        x = np.maximum(np.expm1(rng.normal(m, s, 400_000)), 0).mean()
        assert expected_positive_part(m, s) == pytest.approx(x, rel=0.01)
    assert expected_positive_part(0.3, 0.0) == pytest.approx(np.expm1(0.3))
    assert expected_positive_part(-0.3, 0.0) == 0.0


def test_unchecked_labs_get_the_prior():
    est = estimate_biases(_pairs(labs=3), prior_sd=0.1)
    prior = est[est["laboratory_id"] == "*"].iloc[0]
    assert prior["posterior_sd"] >= 0.1
    assert estimate_biases(None).iloc[0].tolist() == ["*", "*", 0, 0.0, 0.1]


@pytest.fixture(scope="module")
def ledger():
    return simulate_ledger(KAZ_2024_VOLUMES, power_study_config(control_share=0.0),
                           random_state=11)


def test_candidates_from_ledger_values_contained_metal(ledger):
    c = candidates_from_ledger(ledger, period="2024-03")
    assert len(c) == (ledger.shipments["date"].dt.month == 3).sum()
    assert {"value_usd_Cu", "value_usd_Au", "value_usd_Ag"} <= set(c.columns)
    cu = c[c["hs6"] == "260300"].iloc[0]
    g = ledger.certificates.set_index(["shipment_id", "element"]).loc[
        (cu["shipment_id"], "Cu"), "value"]
    assert cu["value_usd_Cu"] == pytest.approx(cu["dry_t"] * g / 100 * 9100.0)
    assert (c.loc[c["hs6"] == "284690", "declared_contained_usd"] == 0).all()  # no REE price


def test_true_biases_recover_the_planted_ones(ledger):
    tb = true_biases(ledger).query("element == 'Cu'").set_index("laboratory_id")
    assert tb.loc["L04", "posterior_mean"] == pytest.approx(-np.log(0.6), abs=0.01)
    assert tb.loc["L01", "posterior_mean"] == pytest.approx(0.0, abs=0.01)


def test_oracle_ge_risk_ge_random_in_a_small_simulation(ledger):
    got = {p: [simulate_policy(ledger, p, 0.05, random_state=s).recovered_usd
               for s in (0, 1)] for p in ("random", "risk", "oracle")}
    mean = {p: np.mean(v) for p, v in got.items()}
    assert mean["oracle"] >= mean["risk"] >= 2 * mean["random"]


def test_simulate_policy_is_reproducible_and_logs_every_period(ledger):
    a = simulate_policy(ledger, "risk", 0.05, periods=3, random_state=4)
    b = simulate_policy(ledger, "risk", 0.05, periods=3, random_state=4)
    pd.testing.assert_frame_equal(a.log, b.log)
    assert list(a.periods["period"]) == ["2024-01", "2024-02", "2024-03"]
    assert (a.log.groupby("period").size().to_numpy() == a.periods["budget"].to_numpy()).all()
    assert a.log["seed"].nunique() == 3 and a.meta["synthetic"]
    # every policy meets the same random share in the same month
    r = simulate_policy(ledger, "value", 0.05, periods=3, random_state=4)
    ra = a.log[a.log["reason"] == "random"]["shipment_id"].tolist()
    assert ra == r.log[r.log["reason"] == "random"]["shipment_id"].tolist()


def _declared(gap=0.4, n=8):
    """Hand-made declared grades: exporter E1 (HS 260300) served by A, B, C; C declares
    e^-gap of the others' grades on lots of identical true grade (± a small alternating
    spread); exporter E2 served by D and E alike."""
    rows = []
    for exp, labs in (("E1", "ABC"), ("E2", "DE")):
        for lab in labs:
            for i in range(n):
                g = 20.0 * np.exp(0.05 * (-1) ** i) * (np.exp(-gap) if lab == "C" else 1.0)
                rows.append((f"{exp}{lab}{i}", lab, exp, "260300", "Cu", g))
    return pd.DataFrame(rows, columns=["shipment_id", "laboratory_id", "exporter_id", "hs6",
                                       "element", "value"])


def test_declared_grade_prior_measures_the_peer_gap():
    p = declared_grade_prior(_declared()).set_index("laboratory_id")
    # C is 0.4 below the pooled lots of A and B; A and B are 0.2 above their peers' pool
    assert p.loc["C", "gap_d"] == pytest.approx(0.4)
    assert p.loc["A", "gap_d"] == pytest.approx(-0.2)
    assert p.loc["D", "gap_d"] == pytest.approx(0.0, abs=1e-12)
    # pooled s²_w = Σ (ln g − mean)² / (N − k) = 3 labs · 8 lots · 0.05² / (24 − 3)
    s2w = 3 * 8 * 0.05 ** 2 / (24 - 3)
    assert p.loc["C", "gap_var"] == pytest.approx(s2w * (1 / 8 + 1 / 16), rel=0.02)
    assert p.loc["C", "n_peer_groups"] == 2 and p.loc["D", "n_peer_groups"] == 1
    # a lab alone in its cell, or with fewer than min_n lots, has no row
    solo = _declared()[lambda d: d["laboratory_id"] != "E"]
    assert "D" not in set(declared_grade_prior(solo)["laboratory_id"])
    assert declared_grade_prior(_declared().iloc[:0]).empty
    with pytest.raises(SelectionInputError, match="hs6"):
        declared_grade_prior(_declared().drop(columns="hs6"))


def test_declared_prior_flags_the_low_lab_before_any_control():
    prior = declared_grade_prior(_declared())
    est = estimate_biases(None, declared_prior=prior).set_index("laboratory_id")
    assert est.loc["C", "n"] == 0
    # shrunk toward μ = 0 by τ² = 0.01 against u = gap_var + τ²/2, but clearly first
    u = prior.set_index("laboratory_id").loc["C", "gap_var"] + 0.01 / 2
    want = (0.4 / u) / (1 / 0.01 + 1 / u)
    assert est.loc["C", "posterior_mean"] == pytest.approx(want)
    assert est.loc["C", "posterior_mean"] > 0.1 > est.drop(index=["C", "*"])[
        "posterior_mean"].max()
    assert est.loc["C", "posterior_sd"] < est.loc["*", "posterior_sd"] == 0.1
    cands = pd.DataFrame({"shipment_id": [f"S{i}" for i in range(20)],
                          "laboratory_id": list("ABCDE") * 4,
                          "value_usd_Cu": 1e6})
    sel = select_shipments(cands, 5, policy="risk", bias_estimates=est.reset_index(),
                           random_state=2)  # default 'option': every C lot first
    n_c = 4 - (sel.log.loc[sel.log["reason"] == "random", "laboratory_id"] == "C").sum()
    risk = sel.log[sel.log["reason"] == "risk"]
    assert (risk["laboratory_id"].head(n_c) == "C").all()
    sel = select_shipments(cands, 5, policy="risk", bias_estimates=est.reset_index(),
                           scoring="thompson", random_state=2)  # random draws: mostly C
    assert (sel.log.loc[sel.log["reason"] == "risk", "laboratory_id"] == "C").sum() >= 2


def test_declared_prior_adds_to_controls_and_is_neutral_when_absent():
    pairs = _pairs(labs=3)
    base = estimate_biases(pairs)
    same = estimate_biases(pairs, declared_prior=declared_grade_prior(_declared().iloc[:0]))
    pd.testing.assert_frame_equal(base, same)
    # a prior on L0 (no bias in its controls) of +0.3 pulls its mean up, tightens its sd
    dp = pd.DataFrame({"laboratory_id": ["L0"], "element": ["*"], "n": [8], "gap_d": [0.3],
                       "gap_var": [0.01], "n_peer_groups": [2]})
    both = estimate_biases(pairs, declared_prior=dp).set_index("laboratory_id")
    b0 = base.set_index("laboratory_id")
    assert both.loc["L0", "posterior_mean"] > b0.loc["L0", "posterior_mean"]
    assert both.loc["L0", "posterior_sd"] < b0.loc["L0", "posterior_sd"]
    assert both.loc["L1", "posterior_mean"] == pytest.approx(b0.loc["L1", "posterior_mean"])
    with pytest.raises(SelectionInputError, match="gap_d"):
        estimate_biases(pairs, declared_prior=dp.drop(columns="gap_d"))


def test_declared_prior_finds_l04_from_january(ledger):
    new = simulate_policy(ledger, "risk", 0.05, periods=1, random_state=0)
    old = simulate_policy(ledger, "risk", 0.05, periods=1, random_state=0,
                          scoring="thompson", declared_prior=False)
    pick = lambda r: r.log.loc[r.log["reason"] == "risk", "laboratory_id"]  # noqa: E731
    assert (pick(new) == "L04").sum() >= 2 > (pick(old) == "L04").sum()
    sel = select_from_ledger(ledger, 5, period="2024-01", random_state=0)
    assert (sel.log.loc[sel.log["reason"] == "risk", "laboratory_id"] == "L04").any()
