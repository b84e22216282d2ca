"""Market concentration."""

from __future__ import annotations

import numpy as np


def shares(quantities) -> np.ndarray:
    """s_i = q_i / sum_j q_j (dimensionless). Raises ValueError on negative or all-zero input."""
    q = np.asarray(quantities, dtype=float)
    if np.isnan(q).any() or (q < 0).any():
        raise ValueError("quantities must be non-negative numbers (no NaN)")
    total = q.sum()
    if total <= 0:
        raise ValueError("quantities sum to zero: shares undefined")
    return q / total


def hhi(quantities) -> float:
    """HHI = sum_i s_i^2, s_i = q_i / sum_j q_j (Herfindahl 1950; Hirschman 1945), on 0..1.

    Multiply by 10,000 for the antitrust scale. Units of `quantities` cancel.
    """
    s = shares(quantities)
    return float(np.sum(s * s))
