"""Overlays on the structural PD: sovereign/transfer and sanctions payment-channel default
probabilities, receivables delayed or haircut by sanctions, and the credit-triangle
conversion of a spread into a hazard rate (to derive an overlay from a sovereign spread).

Combination rule (independent default channels): the firm survives only if it survives every
channel, S_total = Π_i (1 − PD_i), PD_total = 1 − S_total. Each component's share of the final
PD is its share of the total hazard, share_i = −ln(1 − PD_i) / −ln(1 − PD_total); these shares
are exact (they sum to 1) and do not depend on the order the channels are listed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critmin.credit.merton import CreditInputError

_ALMOST_ONE = 1.0 - np.finfo(float).eps


def _prob(name: str, p) -> np.ndarray:
    a = np.asarray(p, dtype=float)
    if np.isnan(a).any() or (a < 0).any() or (a > 1).any():
        raise CreditInputError(name, "must be a probability within [0, 1] (no NaN)")
    return a


def horizon_pd(annual_pd, horizon):
    """PD(T) = 1 − (1 − p)^T: a constant-hazard channel with one-year PD p, over T years."""
    p = _prob("annual_pd", annual_pd)
    T = np.asarray(horizon, dtype=float)
    if (T < 0).any():
        raise CreditInputError("horizon", "must not be negative")
    return 1.0 - (1.0 - p) ** T


@dataclass(frozen=True)
class CombinedPD:
    """PD_total and, per channel (structural first), its PD and its share of PD_total."""

    total: np.ndarray
    components: dict[str, np.ndarray]
    shares: dict[str, np.ndarray]


def combine_pd(structural_pd, overlays: dict[str, object]) -> CombinedPD:
    """PD_total = 1 − (1 − PD_struct) Π_i (1 − PD_i), channels independent.

    `structural_pd` and each overlay PD must be over the same horizon (use `horizon_pd` to
    turn an annual overlay into a T-year one); arrays broadcast. Shares are hazard shares
    −ln(1 − PD_i)/Σ_j −ln(1 − PD_j) (0 for every channel when PD_total = 0).
    """
    comps = {"structural": _prob("structural_pd", structural_pd)}
    for name, p in overlays.items():
        if name == "structural":
            raise CreditInputError(name, "overlay name 'structural' is reserved")
        comps[name] = _prob(name, p)
    arrays = np.broadcast_arrays(*comps.values())
    comps = dict(zip(comps, arrays))
    hazards = {k: -np.log1p(-np.minimum(v, _ALMOST_ONE)) for k, v in comps.items()}
    total_h = sum(hazards.values())
    total = -np.expm1(-total_h)                 # = 1 − Π(1 − PD_i), exact for tiny PDs
    total = np.where(np.any([v >= 1 for v in arrays], axis=0), 1.0, total)
    shares = {k: np.divide(h, total_h, out=np.zeros_like(total_h), where=total_h > 0)
              for k, h in hazards.items()}
    return CombinedPD(total=total, components=comps, shares=shares)


def receivables_loss(receivables, *, haircut=0.0, delay_years=0.0, discount_rate=0.0):
    """ΔV = R·[1 − (1 − h)·e^{−ρ·t}]: value lost on receivables R collected t years late and
    h short (sanctions-blocked payment channels), discounted at ρ per year (continuously
    compounded). Same money unit as R; subtract it from the asset value V (σV held)."""
    R = np.asarray(receivables, dtype=float)
    if np.isnan(R).any() or (R < 0).any():
        raise CreditInputError("receivables", "must be a non-negative amount")
    h = _prob("haircut", haircut)
    t = np.asarray(delay_years, dtype=float)
    if (t < 0).any():
        raise CreditInputError("delay_years", "must not be negative")
    return R * (1.0 - (1.0 - h) * np.exp(-np.asarray(discount_rate, float) * t))


def hazard_from_spread(spread, recovery=0.4):
    """λ = s / (1 − R): the credit triangle (Hull, OFOD, "Estimating default probabilities
    from bond yield spreads"); spread s per year, recovery R as a fraction of face."""
    s = np.asarray(spread, dtype=float)
    R = np.asarray(recovery, dtype=float)
    if (R >= 1).any() or (R < 0).any():
        raise CreditInputError("recovery", "must be within [0, 1)")
    return s / (1.0 - R)


def pd_from_hazard(hazard, horizon):
    """PD(T) = 1 − e^{−λT}: cumulative default probability under a flat hazard λ per year."""
    return 1.0 - np.exp(-np.asarray(hazard, float) * np.asarray(horizon, float))


def forward_hazards(average_hazards, tenors):
    """λ(T_{i−1}, T_i] = (λ̄_i T_i − λ̄_{i−1} T_{i−1}) / (T_i − T_{i−1}): forward hazard rates
    from average hazards λ̄_i to tenors T_i (years, increasing; first period from 0)."""
    lam = np.asarray(average_hazards, dtype=float)
    T = np.asarray(tenors, dtype=float)
    if lam.shape != T.shape or T.ndim != 1 or (np.diff(np.r_[0.0, T]) <= 0).any():
        raise CreditInputError("tenors", "must rise strictly from above 0, one per hazard")
    cum = lam * T
    return np.diff(np.r_[0.0, cum]) / np.diff(np.r_[0.0, T])
