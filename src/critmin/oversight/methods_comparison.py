"""Passing–Bablok regression for proportional bias between declared and control assays.

Beside Deming (`bias.deming`, which assumes normal errors of known ratio), Passing & Bablok
(1983) fit control = a + b · declared without any distributional assumption and resist a few
gross errors (a swapped sample, a typo): b > 1 means the declared grades fall proportionally
short, a ≠ 0 a constant offset. Pure functions; O(n²) memory in the number of pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from critmin.oversight.bias import BiasInputError, _vec, deming

__all__ = ["PassingBablokResult", "passing_bablok", "proportional_bias_table"]

MAX_PAIRS = 6000  # n(n − 1)/2 = 18 M slopes ≈ 144 MB: beyond that, use a subsample


@dataclass(frozen=True)
class PassingBablokResult:
    """y = intercept + slope · x (units of y; slope dimensionless when x and y share units),
    with (1 − alpha) confidence limits; n pairs, n_slopes N, shift K."""
    slope: float
    slope_lo: float
    slope_hi: float
    intercept: float
    intercept_lo: float
    intercept_hi: float
    n: int
    n_slopes: int
    shift: int


def passing_bablok(x, y, *, alpha: float = 0.05) -> PassingBablokResult:
    """Passing & Bablok (1983), the original procedure.

    Slopes S_ij = (y_j − y_i)/(x_j − x_i) over all pairs i < j, leaving out pairs with
    x_i = x_j and y_i = y_j (0/0) and slopes equal to −1; x_i = x_j with y_i ≠ y_j gives ±∞
    by the sign of y_j − y_i. With N slopes sorted and K = #{S < −1} (the shift that makes
    the estimator symmetric in x and y), b = S_((N+1)/2 + K) for odd N, else
    ½(S_(N/2 + K) + S_(N/2 + 1 + K)) (1-based order statistics).
    Confidence limits: C = z_(1 − α/2) √(n(n − 1)(2n + 5)/18), M1 = round((N − C)/2),
    M2 = N − M1 + 1, b_lo = S_(M1 + K), b_hi = S_(M2 + K) (clipped to 1..N);
    a = median(y − b x), a_lo = median(y − b_hi x), a_hi = median(y − b_lo x).
    The CI assumes a linear relation and n ≥ about 30 (the normal approximation of C)."""
    x, y = _vec(x, "x", 3), _vec(y, "y", 3)
    if x.size != y.size:
        raise BiasInputError("x and y must have the same length")
    if not 0 < alpha < 1:
        raise BiasInputError(f"alpha must lie in (0, 1), got {alpha}")
    n = x.size
    if n > MAX_PAIRS:
        raise BiasInputError(f"Passing–Bablok on {n:,} pairs needs {n * (n - 1) // 2:,} "
                             f"slopes; pass at most {MAX_PAIRS:,} (a random subsample)")
    i, j = np.triu_indices(n, k=1)
    dx, dy = x[j] - x[i], y[j] - y[i]
    keep = ~((dx == 0) & (dy == 0))
    dx, dy = dx[keep], dy[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(dx != 0, dy / np.where(dx != 0, dx, 1.0), np.inf * np.sign(dy))
    s = s[s != -1]
    N = s.size
    if N == 0:
        raise BiasInputError("Passing–Bablok: every pair of points is identical")
    K = int((s < -1).sum())

    def order(k: int) -> float:  # 1-based order statistic, clipped to the sample
        return float(np.partition(s, min(max(k, 1), N) - 1)[min(max(k, 1), N) - 1])

    if N % 2:
        b = order((N + 1) // 2 + K)
    else:
        b = 0.5 * (order(N // 2 + K) + order(N // 2 + 1 + K))
    C = stats.norm.ppf(1 - alpha / 2) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    M1 = int(round((N - C) / 2))
    M2 = N - M1 + 1
    b_lo, b_hi = order(M1 + K), order(M2 + K)
    a = float(np.median(y - b * x))
    a_lo = float(np.median(y - b_hi * x)) if np.isfinite(b_hi) else -math.inf
    a_hi = float(np.median(y - b_lo * x)) if np.isfinite(b_lo) else math.inf
    return PassingBablokResult(b, b_lo, b_hi, a, a_lo, a_hi, n, N, K)


def proportional_bias_table(pairs: pd.DataFrame, *, by: Sequence[str] = ("laboratory_id",),
                            alpha: float = 0.05, min_n: int = 10, max_n: int = 2000,
                            random_state: int = 0) -> pd.DataFrame:
    """Per group × element, control (y) on declared (x) grades in the declared unit:
    Passing–Bablok slope with its CI and intercept, the Deming slope (λ = 1) with its
    jackknife SE, and `proportional` = the PB slope CI lies wholly above 1 (declared grades
    proportionally low). Groups under `min_n` pairs are left out; groups above `max_n` are
    fitted on a seeded random subsample of `max_n` pairs (column n_used)."""
    keys = [*by, "element"]
    rng = np.random.default_rng(random_state)
    rows = []
    for key, g in pairs.groupby(keys, sort=True):
        if len(g) < min_n:
            continue
        x, y = g["declared"].to_numpy(float), g["control"].to_numpy(float)
        if x.size > max_n:
            take = rng.choice(x.size, max_n, replace=False)
            x, y = x[take], y[take]
        pb = passing_bablok(x, y, alpha=alpha)
        try:
            dm = deming(x, y)
            d_slope, d_se = dm.slope, dm.slope_se
        except BiasInputError:
            d_slope = d_se = float("nan")
        rows.append((*key, len(g), x.size, pb.slope, pb.slope_lo, pb.slope_hi, pb.intercept,
                     pb.intercept_lo, pb.intercept_hi, d_slope, d_se, pb.slope_lo > 1))
    return pd.DataFrame(rows, columns=[*keys, "n", "n_used", "pb_slope", "pb_slope_lo",
                                       "pb_slope_hi", "pb_intercept", "pb_intercept_lo",
                                       "pb_intercept_hi", "deming_slope", "deming_slope_se",
                                       "proportional"])
