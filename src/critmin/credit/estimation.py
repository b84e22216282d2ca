"""Iterative Merton estimation from an equity value history (KMV / Crosbie & Bohn;
Vassalou & Xing 2004; Bharath & Shumway 2008), as an estimator (parameters in __init__,
`fit` returns self, results in attributes ending in `_`). No randomness, so no random_state.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from critmin.credit.merton import (CreditInputError, asset_value_from_equity,
                                   distance_to_default)
from critmin.errors import CritminError


class EstimationConvergenceError(CritminError, ArithmeticError):
    """The σV fixed-point iteration did not settle within max_iter; names the last change."""


class MertonTimeSeries:
    """σV ← std(Δ ln V_t(σV))·√(periods_per_year), with V_t inverting
    E_t = V_t N(d1) − D_t e^{−r_t T} N(d2) each day, until |ΔσV| < tol
    (Vassalou & Xing 2004, §II; Bharath & Shumway 2008, §I.A; they stop at 1e-3).

    Parameters: `horizon` T in years (1 in V-X and B-S); `periods_per_year` of the history
    (252 for daily data); `tol` on σV (annual, absolute); `max_iter`; `drift`: "estimated"
    (μ = mean Δ ln V · periods_per_year + σV²/2, so that DD uses the GBM drift; V-X, B-S) or
    "rate" (risk-neutral DD = d2) for the DD/PD attributes.

    After `fit`: `asset_values_` (per date, the equity's money unit), `asset_vol_` (annual),
    `drift_` (per year; the estimated μ even when drift="rate"), `equity_vol_` (the seed's
    annualised equity volatility), `distance_to_default_` and `default_probability_` (per
    date), `n_iter_`, `asset_vol_path_` (σV after each iteration).
    """

    def __init__(self, *, horizon: float = 1.0, periods_per_year: int = 252, tol: float = 1e-6,
                 max_iter: int = 100, drift: str = "estimated"):
        self.horizon = horizon
        self.periods_per_year = periods_per_year
        self.tol = tol
        self.max_iter = max_iter
        self.drift = drift

    def fit(self, equity_values, debt, rate) -> MertonTimeSeries:
        """Fit on a history of equity market values E_t (> 0, oldest first, at least 3), the
        default point D_t (scalar or per date, same money unit) and the risk-free rate r_t
        (continuously compounded per year; scalar or per date)."""
        if self.drift not in ("estimated", "rate"):
            raise CreditInputError("drift", f"must be 'estimated' or 'rate', not {self.drift!r}")
        E = np.asarray(equity_values, dtype=float)
        if E.ndim != 1 or E.size < 3:
            raise CreditInputError("equity_values", "need a 1-D history of at least 3 values")
        try:
            D, r = (np.broadcast_to(np.asarray(a, float), E.shape) for a in (debt, rate))
        except ValueError:
            raise CreditInputError("debt/rate", "must be scalars or one value per date") from None
        n = self.periods_per_year
        sE = float(np.std(np.diff(np.log(E)), ddof=1) * np.sqrt(n)) if (E > 0).all() else 0.0
        # seed (B-S): σV = σE·E/(E + F) at the latest date; E > 0 etc. checked by the inversion
        sigma = sE * E[-1] / (E[-1] + D[-1]) if sE > 0 else 0.0
        if not sigma > 0:
            raise CreditInputError("equity_values", "need positive values that are not all equal")
        path = []
        for _ in range(self.max_iter):
            V = asset_value_from_equity(E, sigma, D, r, self.horizon)
            ret = np.diff(np.log(V))
            new = float(np.std(ret, ddof=1) * np.sqrt(n))
            path.append(new)
            change, sigma = abs(new - sigma), new
            if change < self.tol:
                break
        else:
            raise EstimationConvergenceError(
                f"σV iteration did not settle in {self.max_iter} iterations "
                f"(last change {change:.3g} >= tol {self.tol:g}); raise max_iter or tol")
        V = asset_value_from_equity(E, sigma, D, r, self.horizon)
        mu = float(np.mean(np.diff(np.log(V))) * n + 0.5 * sigma * sigma)
        self.asset_values_ = V
        self.asset_vol_ = sigma
        self.drift_ = mu
        self.equity_vol_ = sE
        drift = mu if self.drift == "estimated" else r
        self.distance_to_default_ = np.asarray(distance_to_default(V, sigma, D, drift,
                                                                   self.horizon))
        self.default_probability_ = ndtr(-self.distance_to_default_)
        self.n_iter_ = len(path)
        self.asset_vol_path_ = np.array(path)
        return self
