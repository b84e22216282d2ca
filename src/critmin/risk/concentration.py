"""Market concentration: shares, the Herfindahl-Hirschman index, top-k shares and the
governance-weighted HHI of the EU criticality method."""

from __future__ import annotations

import numpy as np


def shares(quantities) -> np.ndarray:
    """s_i = q_i / Σ_j q_j (dimensionless). Raises ValueError on negative, NaN or all-zero input."""
    q = np.asarray(quantities, dtype=float)
    if np.isnan(q).any() or (q < 0).any():
        raise ValueError("quantities must be non-negative numbers (no NaN)")
    total = q.sum()
    if total <= 0:
        raise ValueError("quantities sum to zero: shares undefined")
    return q / total


def hhi(quantities) -> float:
    """HHI = Σ_i s_i², s_i = q_i / Σ_j q_j (Herfindahl 1950; Hirschman 1945), on 0..1.

    Units of `quantities` cancel. `hhi_points` gives the 0..10,000 antitrust scale.
    """
    s = shares(quantities)
    return float(np.sum(s * s))


def hhi_points(quantities) -> float:
    """HHI on the 0..10,000 scale of the US merger guidelines: 10,000 × Σ_i s_i²."""
    return 10_000.0 * hhi(quantities)


def top_k_share(quantities, k: int) -> float:
    """CR_k = Σ of the k largest shares (0..1); the whole market when fewer than k suppliers."""
    if k < 1:
        raise ValueError("k must be at least 1")
    s = np.sort(shares(quantities))[::-1]
    return float(s[:k].sum())


def governance_weighted_hhi(quantities, governance, trade_factor=None) -> float:
    """HHI_WGI,t = Σ_c s_c² · WGI_c · t_c (European Commission 2017, CRM methodology, eq. 3).

    `governance` is each supplier's governance score already on the method's scale (the EU
    rescales the WGI to 0..10, 10 = worst; see critmin.risk.governance); `trade_factor` t_c
    defaults to 1 (no export restriction). Returns a number on the governance scale.
    """
    s = shares(quantities)
    w = np.asarray(governance, dtype=float)
    t = np.ones_like(s) if trade_factor is None else np.asarray(trade_factor, dtype=float)
    if w.shape != s.shape or t.shape != s.shape:
        raise ValueError("quantities, governance and trade_factor must have the same length")
    if np.isnan(w).any():
        raise ValueError("governance score missing (NaN) for a supplier with a share: "
                         "fill it explicitly before weighting")
    return float(np.sum(s * s * w * t))
