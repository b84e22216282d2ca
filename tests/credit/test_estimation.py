"""The iterative (Vassalou-Xing / Bharath-Shumway) estimator on a simulated asset path."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.credit.estimation import EstimationConvergenceError, MertonTimeSeries
from critmin.credit.merton import CreditInputError, equity_value


def _history(seed=0, sigma=0.25, mu=0.08, n=253, debt=60.0, rate=0.03):
    rng = np.random.default_rng(seed)
    steps = (mu - 0.5 * sigma**2) / 252 + sigma / np.sqrt(252) * rng.standard_normal(n - 1)
    V = 100.0 * np.exp(np.cumsum(np.r_[0.0, steps]))
    return V, equity_value(V, sigma, debt, rate, 1.0)


def test_estimator_contract_and_recovery():
    V, E = _history()
    est = MertonTimeSeries(tol=1e-10)
    assert est.fit(E, 60.0, 0.03) is est
    for name in ("asset_values_", "asset_vol_", "drift_", "equity_vol_", "distance_to_default_",
                 "default_probability_", "n_iter_", "asset_vol_path_"):
        assert hasattr(est, name)
    sample = np.std(np.diff(np.log(V)), ddof=1) * np.sqrt(252)
    # the fixed point is close to the realised volatility of the true path (not σ = 0.25
    # itself: one year of data); within 0.002 on this path
    assert est.asset_vol_ == pytest.approx(sample, abs=0.002)
    np.testing.assert_allclose(est.asset_values_, V, rtol=1e-3)
    # self-consistency at the fixed point, to the stopping tolerance
    implied = np.std(np.diff(np.log(est.asset_values_)), ddof=1) * np.sqrt(252)
    assert implied == pytest.approx(est.asset_vol_, abs=1e-9)
    assert est.asset_vol_ < est.equity_vol_
    assert est.distance_to_default_.shape == E.shape


def test_estimator_is_invariant_to_currency_unit_and_drift_option():
    _, E = _history(seed=2)
    a = MertonTimeSeries(tol=1e-10).fit(E, 60.0, 0.03)
    b = MertonTimeSeries(tol=1e-10).fit(E * 1e6, 60.0e6, 0.03)
    assert b.asset_vol_ == pytest.approx(a.asset_vol_, rel=1e-9)
    np.testing.assert_allclose(b.asset_values_ / 1e6, a.asset_values_, rtol=1e-9)
    q = MertonTimeSeries(tol=1e-10, drift="rate").fit(E, 60.0, 0.03)
    shift = (a.drift_ - 0.03) / a.asset_vol_        # DD_P − DD_Q = (μ − r)√T/σV
    np.testing.assert_allclose(a.distance_to_default_ - q.distance_to_default_, shift, rtol=1e-9)


def test_estimator_errors():
    _, E = _history()
    with pytest.raises(CreditInputError, match="equity_values"):
        MertonTimeSeries().fit(E[:2], 60.0, 0.03)
    with pytest.raises(CreditInputError, match="equity_values"):
        MertonTimeSeries().fit(np.full(10, 5.0), 60.0, 0.03)
    with pytest.raises(CreditInputError, match="equity"):
        MertonTimeSeries().fit(np.r_[E[:5], -1.0, E[6:]], 60.0, 0.03)
    with pytest.raises(CreditInputError, match="one value per date"):
        MertonTimeSeries().fit(E, np.ones(3), 0.03)
    with pytest.raises(CreditInputError, match="drift"):
        MertonTimeSeries(drift="physical").fit(E, 60.0, 0.03)
    with pytest.raises(EstimationConvergenceError, match="max_iter"):
        MertonTimeSeries(tol=1e-15, max_iter=2).fit(E, 60.0, 0.03)
