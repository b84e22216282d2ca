"""Merton/KMV against published worked examples, properties of the solve, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from critmin.credit.merton import (
    CreditInputError, MertonConvergenceError, _nested, credit_spread, d1_d2, debt_value,
    default_probability, distance_to_default, equity_value, forward_default_probability,
    kmv_default_point, merton_solve, merton_summary, naive_distance_to_default,
    pd_term_structure,
)
from critmin.errors import CritminError

# Hull, Options, Futures, and Other Derivatives, "Using equity prices to estimate default
# probabilities": E = 3, σE = 80%, D = 10, r = 5%, T = 1 -> V0 = 12.40, σV = 21.23%,
# N(−d2) = 12.7%, market value of debt 9.40, expected loss (9.51 − 9.40)/9.51 = 1.2%.
HULL = dict(equity=3.0, equity_vol=0.80, debt=10.0, rate=0.05, horizon=1.0)

# MathWorks Risk Management Toolbox, `mertonmodel` doc example (MertonData.mat, inputs as
# displayed), single-point approach with 'Drift': published to 4 decimals.
MW_INPUTS = dict(
    equity=np.array([2.6406e7, 2.6817e7, 3.977e7, 2.947e7, 2.528e7]),
    equity_vol=np.array([0.7103, 0.3929, 0.3121, 0.4595, 0.6181]),
    debt=np.array([4e7, 3.5e7, 3.5e7, 3.2e7, 4e7]), rate=0.05, horizon=1.0)
MW_DRIFT = np.array([0.0306, 0.03, 0.031, 0.0302, 0.0305])
MW_A_1E7 = [6.4210, 6.0109, 7.3063, 5.9906, 6.3231]
MW_SA = [0.3010, 0.1753, 0.1699, 0.2263, 0.2511]
MW_DD = [1.5237, 3.1679, 4.4298, 2.7916, 1.8196]
MW_PD = [0.0638, 0.0008, 0.0000, 0.0026, 0.0344]


def test_hull_worked_example():
    s = merton_solve(**HULL)
    # published to 2 decimals (V, B), 2 decimals of a percent (σV) and 1 of a percent (PD):
    # tolerance = half a unit in the last published place
    assert float(s.asset_value) == pytest.approx(12.40, abs=0.005)
    assert float(s.asset_vol) == pytest.approx(0.2123, abs=0.00005)
    assert float(ndtr(-s.d2)) == pytest.approx(0.127, abs=0.0005)
    B = debt_value(s.asset_value, s.asset_vol, 10, 0.05, 1)
    assert float(B) == pytest.approx(9.40, abs=0.005)
    promised = 10 * np.exp(-0.05)
    assert promised == pytest.approx(9.51, abs=0.005)
    assert (promised - B) / promised == pytest.approx(0.012, abs=0.0005)
    # the spread follows from B: s = −ln(B/D)/T − r
    assert float(credit_spread(s.asset_value, s.asset_vol, 10, 0.05, 1)) == pytest.approx(
        -np.log(B / 10) - 0.05, rel=1e-12)


def test_hull_term_structure_derived():
    # notes credit.md §1.5 [derived, cross-checked]: T = 0.5, 1, 2, 3, 5 -> 6.40%, 12.70%,
    # 18.46%, 20.95%, 22.92% (risk-neutral, V and σV held); published to 0.01%
    s = merton_solve(**HULL)
    pd = pd_term_structure(s.asset_value, s.asset_vol, 10, 0.05, [0.5, 1, 2, 3, 5])
    np.testing.assert_allclose(pd, [0.0640, 0.1270, 0.1846, 0.2095, 0.2292], atol=0.00005)


def test_mathworks_mertonmodel_example():
    s = merton_solve(**MW_INPUTS)
    # 4 decimals published; the inputs themselves are the rounded displayed values, so allow
    # one unit in the 4th decimal
    np.testing.assert_allclose(s.asset_value / 1e7, MW_A_1E7, atol=1e-4)
    np.testing.assert_allclose(s.asset_vol, MW_SA, atol=1e-4)
    dd = distance_to_default(s.asset_value, s.asset_vol, MW_INPUTS["debt"], MW_DRIFT, 1.0)
    np.testing.assert_allclose(dd, MW_DD, atol=1e-4)
    pd = default_probability(s.asset_value, s.asset_vol, MW_INPUTS["debt"], MW_DRIFT, 1.0)
    np.testing.assert_allclose(pd, MW_PD, atol=0.5e-4 + 1e-12)


@pytest.mark.parametrize("debt, equity_vol, V, sV, dd, pd", [
    # notes credit.md §4.2 [derived]: Nornickel-like E = 17.4, r = 4.5%, T = 1; V to 0.1,
    # σV and DD to the digits shown (DD 4.05 is shown as 4.1: rounded twice, hence 0.06);
    # PD to the rounding shown
    (8.6, 0.30, 25.6, 0.20, 5.5, 0.0),
    (8.6, 0.40, 25.6, 0.27, 4.1, 0.00003),
    (8.6, 0.50, 25.6, 0.34, 3.2, 0.0007),
    (10.8, 0.40, 27.7, 0.25, 3.8, 0.00007),
    (10.8, 0.50, 27.7, 0.31, 3.0, 0.0014),
])
def test_notes_nornickel_table(debt, equity_vol, V, sV, dd, pd):
    s = merton_solve(17.4, equity_vol, debt, 0.045, 1.0)
    assert float(s.asset_value) == pytest.approx(V, abs=0.05)
    assert float(s.asset_vol) == pytest.approx(sV, abs=0.005)
    assert float(s.d2) == pytest.approx(dd, abs=0.06)
    assert float(ndtr(-s.d2)) == pytest.approx(pd, abs=0.00005)


def test_notes_nornickel_stresses():
    # notes §4.2 [derived]: term structure 0.01/0.32/1.19/3.60%; equity −50% with σE 55% ->
    # 1.1%; −70% with σE 65% -> 4.5%; asset value −30% -> 0.85%, −40% -> 3.8%
    s = merton_solve(17.4, 0.40, 10.8, 0.045, 1.0)
    curve = pd_term_structure(s.asset_value, s.asset_vol, 10.8, 0.045, [1, 2, 3, 5])
    np.testing.assert_allclose(curve, [0.0001, 0.0032, 0.0119, 0.0360], atol=0.00005)
    for E, sE, want in ((17.4 * 0.5, 0.55, 0.011), (17.4 * 0.3, 0.65, 0.045)):
        t = merton_solve(E, sE, 10.8, 0.045, 1.0)
        assert float(ndtr(-t.d2)) == pytest.approx(want, abs=0.0005)
    for f, want in ((0.7, 0.0085), (0.6, 0.038)):
        got = default_probability(s.asset_value * f, s.asset_vol, 10.8, 0.045, 1.0)
        assert float(got) == pytest.approx(want, abs=0.00005 if want < 0.01 else 0.0005)


# --- properties --------------------------------------------------------------------------------

def _grid(n=4000, seed=11):
    rng = np.random.default_rng(seed)
    return dict(equity=np.exp(rng.uniform(np.log(0.01), np.log(100), n)),
                equity_vol=rng.uniform(0.05, 2.0, n), debt=np.ones(n),
                rate=rng.uniform(-0.02, 0.15, n), horizon=rng.uniform(0.1, 20, n))


def test_equity_equations_hold_at_solution():
    g = _grid()
    s = merton_solve(**g)
    E = equity_value(s.asset_value, s.asset_vol, g["debt"], g["rate"], g["horizon"])
    np.testing.assert_allclose(E, g["equity"], rtol=1e-10, atol=0)
    sE = ndtr(s.d1) * s.asset_vol * s.asset_value / g["equity"]
    np.testing.assert_allclose(sE, g["equity_vol"], rtol=1e-10, atol=0)
    assert (s.asset_vol <= g["equity_vol"]).all() and (s.asset_value > g["equity"]).all()


def test_solve_is_invariant_to_currency_unit():
    g = _grid(500)
    base = merton_solve(**g)
    for unit in (1e-6, 1e3, 1e9):
        s = merton_solve(g["equity"] * unit, g["equity_vol"], g["debt"] * unit, g["rate"],
                         g["horizon"])
        np.testing.assert_allclose(s.asset_value / unit, base.asset_value, rtol=1e-12)
        np.testing.assert_allclose(s.asset_vol, base.asset_vol, rtol=1e-12)
        np.testing.assert_allclose(s.d2, base.d2, rtol=1e-9, atol=1e-12)


def test_pd_falls_with_asset_value_rises_with_volatility_and_debt():
    V = np.linspace(11, 40, 60)
    pd = default_probability(V, 0.25, 10, 0.05, 1)
    assert (np.diff(pd) < 0).all()
    vol = np.linspace(0.05, 1.0, 60)
    assert (np.diff(default_probability(20, vol, 10, 0.05, 1)) > 0).all()
    debt = np.linspace(1, 19, 60)
    assert (np.diff(default_probability(20, 0.25, debt, 0.05, 1)) > 0).all()
    # and through the solve: more debt or more equity volatility at the same market cap
    pd_d = ndtr(-merton_solve(5.0, 0.5, debt, 0.05, 1).d2)
    assert (np.diff(pd_d) > 0).all()
    pd_v = ndtr(-merton_solve(5.0, vol, 10.0, 0.05, 1).d2)
    assert (np.diff(pd_v) > 0).all()


def test_limits():
    # E -> 0: V -> D e^{−rT}; low leverage: σV -> σE
    s = merton_solve(1e-6, 0.6, 1.0, 0.05, 1.0)
    assert float(s.asset_value) == pytest.approx(np.exp(-0.05), rel=1e-5)
    s = merton_solve(1e4, 0.6, 1.0, 0.05, 1.0)
    assert float(s.asset_vol) == pytest.approx(0.6, rel=1e-4)


def test_fallback_agrees_with_newton_and_extreme_inputs_converge():
    g = _grid(300, seed=3)
    s = merton_solve(**g)
    e, k = g["equity"] / g["debt"], np.exp(-g["rate"] * g["horizon"])
    x, sv, ok, _ = _nested(e, g["equity_vol"], k, g["horizon"], 1e-12, 240)
    assert ok.all()
    np.testing.assert_allclose(x, s.asset_value, rtol=1e-10)
    np.testing.assert_allclose(sv, s.asset_vol, rtol=1e-8)
    # a wide sweep (E/D 1e-4..1e4, σE to 500%, T to 30 y, negative rates) all converge
    rng = np.random.default_rng(5)
    n = 20000
    e = 10 ** rng.uniform(-4, 4, n)
    D = 10 ** rng.uniform(-3, 12, n)
    s = merton_solve(e * D, rng.uniform(0.02, 5, n), D, rng.uniform(-0.05, 0.3, n),
                     10 ** rng.uniform(-1.5, 1.5, n))
    assert np.isfinite(s.asset_value).all()


def test_not_converging_names_the_firm():
    with pytest.raises(MertonConvergenceError, match=r"firm 0 \(equity=3.*tol") as exc:
        merton_solve(**HULL, max_iter=1)
    assert isinstance(exc.value, CritminError) and exc.value.index == 0


def test_scalar_in_scalar_out_and_arrays_broadcast():
    s = merton_solve(**HULL)
    assert np.ndim(s.asset_value) == 0 and isinstance(float(s.asset_value), float)
    a = merton_solve([3.0, 3.0], 0.8, 10.0, 0.05, 1.0)
    assert a.asset_value.shape == (2,)
    d1, d2 = d1_d2(s.asset_value, s.asset_vol, 10, 0.05, 1)
    assert float(d1) == pytest.approx(float(s.d1), rel=1e-12)


def test_physical_drift_shifts_dd():
    s = merton_solve(**HULL)
    q = distance_to_default(s.asset_value, s.asset_vol, 10, 0.05, 1)
    p = distance_to_default(s.asset_value, s.asset_vol, 10, 0.10, 1)
    assert float(p - q) == pytest.approx(0.05 / float(s.asset_vol), rel=1e-12)
    assert float(q) == pytest.approx(float(s.d2), rel=1e-12)


def test_kmv_default_point_and_forward_pd():
    assert kmv_default_point(2.0, 6.0) == 5.0
    assert kmv_default_point(2.0, 6.0, long_term_weight=0.75) == 6.5
    fwd = forward_default_probability([0.1, 0.19, 0.271])
    np.testing.assert_allclose(fwd, [0.1, 0.1, 0.1], rtol=1e-12)


def test_naive_bharath_shumway_hand_computed():
    # E = 6, F = 4, σE = 0.4, past return 0.1, T = 1: σD = 0.05 + 0.1 = 0.15,
    # σV = 0.6·0.4 + 0.4·0.15 = 0.30, DD = [ln(2.5) + 0.1 − 0.045]/0.30
    n = naive_distance_to_default(6.0, 0.4, 4.0, 0.10, 1.0)
    assert float(n.asset_vol) == pytest.approx(0.30, rel=1e-14)
    want = (np.log(2.5) + 0.1 - 0.045) / 0.30
    assert float(n.distance_to_default) == pytest.approx(want, rel=1e-14)
    assert float(n.default_probability) == pytest.approx(float(ndtr(-want)), rel=1e-14)


@pytest.mark.parametrize("field, kwargs, match", [
    ("equity", dict(HULL, equity=-1.0), "equity: must be positive"),
    ("equity_vol", dict(HULL, equity_vol=0.0), "equity_vol: must be positive"),
    ("debt", dict(HULL, debt=0.0), "debt: must be positive"),
    ("horizon", dict(HULL, horizon=0.0), "horizon: must be positive"),
    ("rate", dict(HULL, rate=float("nan")), "rate: missing"),
])
def test_bad_input_names_the_field(field, kwargs, match):
    with pytest.raises(CreditInputError, match=match) as exc:
        merton_solve(**kwargs)
    assert exc.value.field == field and isinstance(exc.value, ValueError)


def test_bad_input_in_an_array_names_the_firm():
    with pytest.raises(CreditInputError, match=r"equity \(firm 2\): must be positive"):
        merton_solve([3.0, 2.0, -1.0], 0.8, 10.0, 0.05, 1.0)
    with pytest.raises(CreditInputError, match="asset_vol"):
        distance_to_default(10, 0.0, 5, 0.05, 1)
    with pytest.raises(CreditInputError, match="long_term_debt"):
        kmv_default_point(1.0, -2.0)


def test_merton_summary_prints_the_rating_scale():
    out = merton_summary(3.0, 0.8, 10.0, 0.05, 1.0, drift=0.08)
    assert out["asset_value"] == pytest.approx(12.395, abs=0.001)
    assert out["pd_risk_neutral"] == pytest.approx(0.127, abs=0.0005)
    assert out["pd_physical"] < out["pd_risk_neutral"]
    assert out["rating_scale"] == "moodys_warf_implied_1y"
    assert "Moody's" in out["rating_scale_source"]
    # physical PD 9.99% lies in Caa2's implied 1-year band [7.955%, 12.224%) = 1 − (1 − MinWARF
    # 5635, 7285 / 10,000)^(1/10); on the idealised scale it was B3 (B3 [9.12%, 14.21%))
    assert out["rating"] == "Caa2" and out["rating_sp_fitch"] == "CCC"
