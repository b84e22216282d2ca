"""Passing–Bablok regression against an independent brute-force implementation written here
from the 1983 paper's definitions (pair loop, full sort), scipy's Theil–Sen (the unshifted
median of slopes: equal to PB when no slope is below −1), and textbook properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from critmin.oversight.bias import BiasInputError
from critmin.oversight.methods_comparison import passing_bablok, proportional_bias_table


def _brute(x, y, alpha=0.05):
    """Passing & Bablok (1983) step by step with Python loops and a full sort."""
    slopes = []
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[j] - x[i], y[j] - y[i]
            if dx == 0 and dy == 0:
                continue
            sl = dy / dx if dx != 0 else (math.inf if dy > 0 else -math.inf)
            if sl != -1:
                slopes.append(sl)
    slopes.sort()
    N, K = len(slopes), sum(s < -1 for s in slopes)
    b = (slopes[(N + 1) // 2 + K - 1] if N % 2 else
         (slopes[N // 2 + K - 1] + slopes[N // 2 + K]) / 2)
    C = stats.norm.ppf(1 - alpha / 2) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    m1 = round((N - C) / 2)
    lo, hi = slopes[m1 + K - 1], slopes[N - m1 + 1 + K - 1]
    a = float(np.median([yy - b * xx for xx, yy in zip(x, y)]))
    return b, lo, hi, a, K


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_with_ties_and_negative_slopes(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0.5, 3.0, 45), 1)        # x ties: some slopes are ±inf
    y = np.round(0.1 + 1.2 * x + rng.normal(0, 0.4, 45), 1)  # noisy: slopes below −1
    b, lo, hi, a, K = _brute(list(x), list(y))
    got = passing_bablok(x, y)
    assert K > 0 and got.shift == K
    # the same order statistics, so equal up to floating rounding of the median average
    assert got.slope == pytest.approx(b, rel=1e-12)
    assert (got.slope_lo, got.slope_hi) == pytest.approx((lo, hi), rel=1e-12)
    assert got.intercept == pytest.approx(a, rel=1e-12, abs=1e-12)


def test_equals_theil_sen_when_no_slope_is_below_minus_one():
    # a steep, tight line: every pairwise slope is near 2, so K = 0 and PB = median slope
    x = np.linspace(1, 10, 31)
    y = 2 * x + np.random.default_rng(4).normal(0, 0.05, 31)
    got = passing_bablok(x, y)
    ts = stats.theilslopes(y, x)
    assert got.shift == 0
    assert got.slope == pytest.approx(ts.slope, rel=1e-12)


def test_exact_on_noiseless_line_and_symmetric_in_swap():
    x = np.array([1.0, 2.5, 3.0, 4.2, 6.0, 7.5, 9.0])
    got = passing_bablok(x, 0.3 + 1.25 * x)
    assert got.slope == pytest.approx(1.25, rel=1e-12)
    assert got.intercept == pytest.approx(0.3, abs=1e-12)
    rng = np.random.default_rng(7)
    u = rng.uniform(1, 20, 41)
    v = 1.1 * u + rng.normal(0, 1.0, 41)
    # the shift K makes the estimator symmetric: swapping x and y gives the reciprocal slope
    # (exact for odd N; for even N the two middle slopes are averaged, hence the tolerance)
    assert passing_bablok(v, u).slope == pytest.approx(1 / passing_bablok(u, v).slope, rel=1e-6)


def test_ci_coverage_near_nominal_and_narrows_with_n():
    rng = np.random.default_rng(12)
    reps, cover = 300, 0
    for _ in range(reps):
        x = rng.uniform(1, 10, 40)
        r = passing_bablok(x, 0.5 + 1.1 * x + rng.normal(0, 0.3, 40))
        cover += r.slope_lo <= 1.1 <= r.slope_hi
    # nominal 95 %; binomial SD over 300 replicates ≈ 1.3 pts, so 90 % is ~4 SD below
    assert cover / reps >= 0.90
    x = rng.uniform(1, 10, 400)
    big = passing_bablok(x, 0.5 + 1.1 * x + rng.normal(0, 0.3, 400))
    # width ∝ 1/√n: 10× the pairs ≈ 3.2× narrower; 2.5 leaves room for sampling
    assert big.slope_hi - big.slope_lo < (r.slope_hi - r.slope_lo) / 2.5


def test_bad_input():
    with pytest.raises(BiasInputError, match="same length"):
        passing_bablok([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(BiasInputError, match="identical"):
        passing_bablok([1, 1, 1], [2, 2, 2])
    with pytest.raises(BiasInputError, match="at least 3"):
        passing_bablok([1, 2], [1, 2])


def test_table_flags_a_proportionally_low_lab():
    rng = np.random.default_rng(3)
    rows = []
    for lab, k in (("honest", 1.0), ("low", 0.8)):
        c = rng.lognormal(np.log(20), 0.15, 60)
        rows.append(pd.DataFrame({"laboratory_id": lab, "element": "Cu", "control": c,
                                  "declared": k * c * np.exp(rng.normal(0, 0.01, 60))}))
    tab = proportional_bias_table(pd.concat(rows)).set_index("laboratory_id")
    assert tab.loc["low", "proportional"] and not tab.loc["honest", "proportional"]
    assert tab.loc["low", "pb_slope"] == pytest.approx(1 / 0.8, rel=0.02)   # noise 1 %
    assert tab.loc["low", "deming_slope"] == pytest.approx(1 / 0.8, rel=0.02)
