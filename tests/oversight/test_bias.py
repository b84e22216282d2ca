"""Bias statistics against scipy, hand-computed cases, a textbook BH list, constructed drift
series, and the detection-power property on synthetic ledgers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from critmin.oversight.bias import (BiasInputError, LabBiasModel, benjamini_hochberg,
                                    bland_altman, cusum, deming, drift_alarms, duplicate_share,
                                    exceedance_rates, flagged_groups, heaping_test,
                                    paired_assays, paired_t, screen, splitting_exceedance, sprt,
                                    terminal_digit_test, threshold_test, wilcoxon_signed_rank)
from critmin.oversight.simulate import (KAZ_2024_VOLUMES, LaboratorySpec, power_study_config,
                                        simulate_ledger)


@pytest.fixture(scope="module")
def d_small():
    return np.random.default_rng(1).normal(0.05, 0.1, 12)


def test_paired_t_matches_scipy(d_small):
    got = paired_t(d_small)
    ref = stats.ttest_1samp(d_small, 0.0, alternative="greater")
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    two = paired_t(d_small, alternative="two-sided")
    assert two.p_value == pytest.approx(stats.ttest_1samp(d_small, 0.0).pvalue, rel=1e-10)


def test_wilcoxon_exact_matches_scipy(d_small):
    got = wilcoxon_signed_rank(d_small)
    ref = stats.wilcoxon(d_small, alternative="greater", method="exact")
    assert got.statistic == ref.statistic
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    less = wilcoxon_signed_rank(d_small, alternative="less")
    assert less.p_value == pytest.approx(
        stats.wilcoxon(d_small, alternative="less", method="exact").pvalue, rel=1e-12)


def test_wilcoxon_asymptotic_with_ties_and_zeros_matches_scipy():
    d = np.round(np.random.default_rng(2).normal(0.02, 0.1, 80), 2)  # ties and zeros
    assert (d == 0).any() and len(np.unique(np.abs(d))) < d.size
    got = wilcoxon_signed_rank(d)
    ref = stats.wilcoxon(d, alternative="greater", zero_method="wilcox", correction=False,
                         method="asymptotic")
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_bland_altman_constructed():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    ba = bland_altman(x, x * math.exp(0.1))
    assert ba["bias"] == pytest.approx(0.1) and ba["sd"] == pytest.approx(0, abs=1e-12)
    raw = bland_altman([10, 20, 30, 40], [11, 19, 33, 41], log=False)
    diffs = np.array([1, -1, 3, 1])
    assert raw["bias"] == pytest.approx(1.0)
    assert raw["loa_upper"] == pytest.approx(1 + 1.96 * diffs.std(ddof=1))
    # proportional bias: control = 1.2·declared -> log differences constant, raw differences grow
    prop = bland_altman([10, 20, 30, 40, 50], [12, 24, 36, 48, 60], log=False)
    assert prop["proportional_slope"] == pytest.approx(0.2 / 1.1)


def test_deming_hand_computed():
    # x = (1,2,3), y = (1,3,2): s_xx = 2, s_yy = 2, s_xy = 1
    r = deming([1, 2, 3], [1, 3, 2])            # λ = 1: slope = (0 + √(0 + 4))/2 = 1
    assert (r.slope, r.intercept) == pytest.approx((1.0, 0.0))
    r2 = deming([1, 2, 3], [1, 3, 2], error_ratio=2.0)  # u = 2 − 4: (−2 + √12)/2
    assert r2.slope == pytest.approx((-2 + math.sqrt(12)) / 2)
    assert r2.intercept == pytest.approx(2 - 2 * r2.slope)
    # λ → ∞ (x exact): ordinary least squares of y on x, s_xy/s_xx = 0.5
    assert deming([1, 2, 3], [1, 3, 2], error_ratio=1e12).slope == pytest.approx(0.5, abs=1e-6)
    exact = deming([1, 2, 3, 4, 5], [3, 5, 7, 9, 11], error_ratio=0.3)
    assert (exact.slope, exact.intercept, exact.slope_se) == pytest.approx((2, 1, 0), abs=1e-9)
    with pytest.raises(BiasInputError, match="uncorrelated"):
        deming([1, 2, 3], [1, 5, 1])


def test_lab_bias_model_hand_computed():
    # A: (0, 2), B: (4, 6), C: (2, 4). σ²_w = 2, v = 1, w = 1; Q = 8, τ² = (8 − 2)/(3 − 1) = 3;
    # μ = 3; B = 1/4; A's posterior mean = 0.25·3 + 0.75·1 = 1.5,
    # var = 0.75·1 + (1/4)²·(1/Σw*) = 0.75 + 0.0625·(4/3)
    m = LabBiasModel(delta=0.0).fit([0, 2, 4, 6, 2, 4], ["A", "A", "B", "B", "C", "C"])
    assert (m.sigma2_within_, m.tau2_, m.mu_) == pytest.approx((2.0, 3.0, 3.0))
    a = m.groups_.loc["A"]
    assert a["posterior_mean"] == pytest.approx(1.5)
    assert a["posterior_sd"] == pytest.approx(math.sqrt(0.75 + 0.0625 * 4 / 3))
    assert a["prob_gt_delta"] == pytest.approx(stats.norm.cdf(1.5 / a["posterior_sd"]))
    assert a["p_value"] == pytest.approx(stats.t.sf(1.0, 3))


def test_lab_bias_model_shrinks_small_groups():
    rng = np.random.default_rng(0)
    d = np.r_[rng.normal(0, 0.1, 200), [0.25]]  # one lab with a single high value
    g = np.r_[np.repeat([f"L{i}" for i in range(10)], 20), ["SMALL"]]
    m = LabBiasModel(delta=0.05).fit(d, g)
    small = m.groups_.loc["SMALL"]
    assert small["n"] == 1 and small["posterior_mean"] < 0.05
    assert small["prob_gt_delta"] < 0.5
    assert m is m.fit(d, g)  # fit returns self


def test_bh_textbook_list():
    # Benjamini & Hochberg (1995), §4: 15 p-values; BH at q = 0.05 rejects the 4 smallest
    # (Bonferroni: 3)
    p = [0.0201, 0.0001, 0.0004, 0.0019, 0.0095, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
         0.4262, 0.5719, 0.6528, 0.7590, 1.0000]
    rej, adj = benjamini_hochberg(p, q=0.05)
    assert sorted(np.asarray(p)[rej]) == [0.0001, 0.0004, 0.0019, 0.0095]
    assert adj == pytest.approx(stats.false_discovery_control(p), rel=1e-12)
    rej_nan, adj_nan = benjamini_hochberg([np.nan, 0.001, 0.04], q=0.05)
    assert list(rej_nan) == [False, True, True] and np.isnan(adj_nan[0])


def test_cusum_constructed():
    z = [0, 0, 0, 0, 2, 2, 2, 2]
    s, alarm = cusum(z, k=0.5, h=4.0)  # 0,0,0,0,1.5,3.0,4.5 -> alarm at index 6
    assert list(s[:7]) == [0, 0, 0, 0, 1.5, 3.0, 4.5] and alarm == 6
    assert cusum([-1, 0.4, 0.5, -3], k=0.5, h=1.0)[1] is None


def test_sprt_constructed():
    # x = δ = σ = 1: Λ grows by δ²/(2σ²) = 0.5 per step; ln(0.95/0.01) = 4.554 -> step 10
    llr, decision, i = sprt(np.ones(20), sigma=1.0, delta=1.0, alpha=0.01, beta=0.05)
    assert decision == "H1" and i == 9 and llr[9] == pytest.approx(5.0)
    _, decision0, i0 = sprt(np.zeros(20), sigma=1.0, delta=1.0, alpha=0.01, beta=0.05)
    assert decision0 == "H0" and i0 == 5  # Λ = −0.5 t; ln(0.05/0.99) = −2.986


def test_splitting_exceedance_constructed():
    e = splitting_exceedance([22.0, 22.0, 22.0, 2.0], [23.0, 21.9, 21.0, 2.5], abs_limit=0.2,
                             rel_limit=0.04)
    assert list(e) == [1, 0, -1, 1]  # L = max(0.2, 0.04·mean): 0.90, 0.878, 0.86, 0.2
    e2 = splitting_exceedance([22.0, 22.0], [22.3, 21.7], abs_limit=0.2)
    assert list(e2) == [1, -1]


def test_digit_forensics_constructed():
    rng = np.random.default_rng(5)
    honest = np.round(rng.normal(22, 1, 2000), 2)
    assert terminal_digit_test(honest, decimals=2)["p_value"] > 0.001
    heaped = np.round(np.round(rng.normal(22, 1, 500) * 20) / 20, 2)  # to 0.05
    t = terminal_digit_test(heaped, decimals=2)
    assert t["p_value"] < 1e-10 and set(np.flatnonzero(t["counts"])) == {0, 5}
    assert heaping_test(heaped, decimals=2)["p_value"] < 1e-10
    assert heaping_test(honest, decimals=2)["share"] == pytest.approx(0.2, abs=0.03)
    dup = duplicate_share([1.25, 1.25, 1.25, 2.0, 3.1])
    assert dup["duplicated"] == 3 and dup["top"] == [(1.25, 3)]
    # arsenic values piled up just below a 0.5 % penalty limit
    vals = np.r_[rng.uniform(0.3, 0.7, 200), rng.uniform(0.47, 0.4999, 40)]
    th = threshold_test(vals, threshold=0.5, width=0.05)
    assert th["below"] > th["above"] and th["p_value"] < 0.01
    assert threshold_test(rng.uniform(0.3, 0.7, 400), threshold=0.5, width=0.05)["p_value"] > 0.01


@pytest.fixture(scope="module")
def pairs():
    return paired_assays(simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), 11))


def test_paired_assays(pairs):
    assert pairs.attrs["synthetic"] is True
    assert np.allclose(pairs["d"], np.log(pairs["control"] / pairs["declared"]))
    assert set(pairs["laboratory_id"]) <= {f"L{i:02d}" for i in range(1, 21)}
    assert pairs["date"].is_monotonic_increasing


def test_screen_flags_the_planted_labs(pairs):
    tab = screen(pairs)
    labs = flagged_groups(tab).set_index("laboratory_id")
    assert labs.loc["L03", "flagged"] and labs.loc["L04", "flagged"]
    assert tab["q_value"].notna().all()
    eb = flagged_groups(screen(pairs, rule="eb", delta=0.05)).set_index("laboratory_id")
    assert eb.loc["L04", "flagged"] and not eb.drop(["L02", "L03", "L04"])["flagged"].any()
    ex = screen(pairs, by=["exporter_id"])
    assert "exporter_id" in ex and ex["flagged"].any()  # E02–E04 carry the biased labs


def test_drift_and_exceedance_tables(pairs):
    dr = drift_alarms(pairs).set_index(["laboratory_id", "element"])
    assert dr.loc[("L04", "Cu"), "alarm"]
    assert dr.xs("Cu", level="element").drop(["L02", "L03", "L04"])["alarm"].mean() < 0.2
    ex = exceedance_rates(pairs, {"Cu": (0.2, 0.0), "Au": (0.2, 0.04)})
    cu = ex[ex["element"] == "Cu"].set_index("laboratory_id")
    assert cu.loc["L04", "under_rate"] == 1.0 and cu.loc["L04", "p_asymmetry"] < 0.05


def test_drift_detected_after_bias_starts():
    cfg = power_study_config(under_reporting={})
    labs = [lab if lab.laboratory_id != "L03" else
            LaboratorySpec(laboratory_id="L03", bias={"*": -0.15}, bias_from="2024-07-01")
            for lab in cfg.laboratories]
    cfg = cfg.model_copy(update={"laboratories": labs, "control_share": 0.3})
    p = paired_assays(simulate_ledger(KAZ_2024_VOLUMES, cfg, 2))
    dr = drift_alarms(p).set_index(["laboratory_id", "element"])
    assert dr.loc[("L03", "Cu"), "alarm"]
    assert dr.loc[("L03", "Cu"), "alarm_date"] >= pd.Timestamp("2024-07-01")


def test_detection_power_over_seeds():
    """The issue's property on 50 seeds (the full study, 500 seeds, is benchmarks/
    oversight_power.py): labs biased 15 % and 40 % flagged in >= 95 % of seeds, unbiased labs
    in <= 5 %, BH's realised FDR <= q. Tolerance: with 50 seeds one miss is 2 %, so the
    thresholds are asserted as stated but on the mean over unbiased labs (17 × 50 trials)."""
    cfg = power_study_config()
    flags, fdp = [], []
    for seed in range(50):
        tab = screen(paired_assays(simulate_ledger(KAZ_2024_VOLUMES, cfg, seed)))
        flags.append(flagged_groups(tab).set_index("laboratory_id")["flagged"])
        false = tab["flagged"] & ~tab["laboratory_id"].isin(["L02", "L03", "L04"])
        fdp.append(false.sum() / max(1, tab["flagged"].sum()))
    rate = pd.concat(flags, axis=1).fillna(False).mean(axis=1)
    assert rate["L04"] >= 0.95 and rate["L03"] >= 0.95
    assert rate.drop(["L02", "L03", "L04"]).mean() <= 0.05
    assert np.mean(fdp) <= 0.05
