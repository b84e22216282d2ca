"""Merton (1974) structural model and the KMV conventions: the two-equation solve for asset
value and volatility, distance to default, default probability (risk-neutral or physical),
debt value, credit spread, PD term structure and the Bharath-Shumway naive DD.

Units: money in any one currency unit (it cancels: everything is solved in ratios to debt);
rates and drifts continuously compounded per year; volatilities annual; horizons in years.
All functions take scalars or arrays (broadcast together) and return numpy values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from critmin.errors import CritminError

_EPS = np.finfo(float).eps
_CHUNK = 8192                                   # firms per block in the vectorised solve
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class CreditInputError(CritminError, ValueError):
    """A credit-model input that is missing, not finite or out of range; names the field."""

    def __init__(self, field: str, problem: str, index: int | None = None):
        self.field = field
        self.index = index
        where = f" (firm {index})" if index is not None else ""
        super().__init__(f"{field}{where}: {problem}")


class MertonConvergenceError(CritminError, ArithmeticError):
    """The Merton solve did not converge for a firm: names the firm index, its inputs and the
    tolerance."""

    def __init__(self, index: int, inputs: dict, tol: float, residual: float):
        self.index = index
        self.inputs = inputs
        self.tol = tol
        self.residual = residual
        shown = ", ".join(f"{k}={v:.6g}" for k, v in inputs.items())
        super().__init__(f"Merton solve did not converge for firm {index} ({shown}): "
                         f"scaled residual {residual:.3g} > tol {tol:g}")


@dataclass(frozen=True)
class MertonSolution:
    """Result of `merton_solve`: arrays of the broadcast input shape (numpy scalars for scalar
    input). `asset_value` is in the money unit of the inputs; `asset_vol` annual."""

    asset_value: np.ndarray
    asset_vol: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    iterations: np.ndarray


def _pdf(d):
    return _INV_SQRT_2PI * np.exp(-0.5 * d * d)


def _as_arrays(**named) -> list[np.ndarray]:
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in named.values()))
    out = []
    for (name, _), a in zip(named.items(), arrays):
        bad = ~np.isfinite(a)
        if bad.any():
            raise CreditInputError(name, "missing or not finite (NaN/inf)", _first(bad, a.ndim))
        out.append(a)
    return out


def _first(mask, ndim) -> int | None:
    return int(np.flatnonzero(mask)[0]) if ndim else None


def _require_positive(name: str, a: np.ndarray, what: str = "") -> None:
    bad = ~(a > 0)
    if bad.any():
        i = _first(bad, a.ndim)
        got = a.flat[i] if i is not None else float(a)
        raise CreditInputError(name, f"must be positive{what} (got {got:g})", i)


def _out(a):
    """0-d arrays become numpy scalars, so scalar input gives scalar output."""
    return a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a


# --- closed forms -------------------------------------------------------------------------

def d1_d2(asset_value, asset_vol, debt, rate, horizon):
    """d1 = [ln(V/D) + (r + σV²/2)T] / (σV√T), d2 = d1 − σV√T (Merton 1974; Hull, OFOD)."""
    V, s, D, r, T = _as_arrays(asset_value=asset_value, asset_vol=asset_vol, debt=debt,
                               rate=rate, horizon=horizon)
    sst = s * np.sqrt(T)
    d1 = (np.log(V / D) + (r + 0.5 * s * s) * T) / sst
    return _out(d1), _out(d1 - sst)


def equity_value(asset_value, asset_vol, debt, rate, horizon):
    """E = V N(d1) − D e^{−rT} N(d2): equity as a European call on the assets (Merton 1974)."""
    d1, d2 = d1_d2(asset_value, asset_vol, debt, rate, horizon)
    V, D, r, T = np.asarray(asset_value, float), np.asarray(debt, float), rate, horizon
    return _out(np.asarray(V * ndtr(d1) - D * np.exp(-np.asarray(r) * T) * ndtr(d2)))


def debt_value(asset_value, asset_vol, debt, rate, horizon):
    """B = V N(−d1) + D e^{−rT} N(d2) = V − E: market value of the risky zero-coupon debt."""
    d1, d2 = d1_d2(asset_value, asset_vol, debt, rate, horizon)
    V, D = np.asarray(asset_value, float), np.asarray(debt, float)
    return _out(np.asarray(V * ndtr(-d1) + D * np.exp(-np.asarray(rate) * horizon) * ndtr(d2)))


def credit_spread(asset_value, asset_vol, debt, rate, horizon):
    """s = −ln(B/D)/T − r: the yield spread of the risky debt over the risk-free rate
    (continuously compounded per year; Hull; FinancePy `MertonFirm.credit_spread`)."""
    B = debt_value(asset_value, asset_vol, debt, rate, horizon)
    T = np.asarray(horizon, float)
    return _out(np.asarray(-np.log(B / np.asarray(debt, float)) / T - np.asarray(rate, float)))


def distance_to_default(asset_value, asset_vol, debt, drift, horizon):
    """DD = [ln(V/D) + (μ − σV²/2)T] / (σV√T) (Merton; KMV log form, Crosbie & Bohn 2003).

    `drift` μ is the asset drift per year: pass the risk-free rate r for the risk-neutral DD
    (= d2), or a physical drift for the real-world DD (DD_P = DD_Q + (μ − r)√T/σV). `debt` is
    the default point (face value of debt, or `kmv_default_point`).
    """
    V, s, D, mu, T = _as_arrays(asset_value=asset_value, asset_vol=asset_vol, debt=debt,
                                drift=drift, horizon=horizon)
    _require_positive("asset_value", V)
    _require_positive("asset_vol", s)
    _require_positive("debt", D)
    _require_positive("horizon", T)
    return _out((np.log(V / D) + (mu - 0.5 * s * s) * T) / (s * np.sqrt(T)))


def default_probability(asset_value, asset_vol, debt, drift, horizon):
    """PD = N(−DD): probability that V_T < D at the horizon (risk-neutral with drift = r,
    physical with drift = μ). See `distance_to_default` for the arguments."""
    return _out(np.asarray(ndtr(-np.asarray(distance_to_default(asset_value, asset_vol, debt,
                                                                 drift, horizon)))))


def kmv_default_point(short_term_debt, long_term_debt, *, long_term_weight=0.5):
    """DP = STD + w·LTD with w = 0.5: the KMV default point (Crosbie & Bohn 2003)."""
    std, ltd, w = _as_arrays(short_term_debt=short_term_debt, long_term_debt=long_term_debt,
                             long_term_weight=long_term_weight)
    for name, a in (("short_term_debt", std), ("long_term_debt", ltd)):
        if (a < 0).any():
            raise CreditInputError(name, "must not be negative", _first(a < 0, a.ndim))
    dp = std + w * ltd
    _require_positive("default point (short_term_debt + w·long_term_debt)", dp)
    return _out(dp)


def pd_term_structure(asset_value, asset_vol, debt, drift, horizons=tuple(range(1, 11)), *,
                      debt_growth=0.0):
    """PD(T) = N(−DD(T)) for each T in `horizons` (years), V, σV held fixed and the default
    point growing at `debt_growth` (D_T = D e^{gT}; 0 = held fixed). Returns an array with the
    horizons on a new last axis."""
    T = np.asarray(horizons, dtype=float)
    if T.ndim != 1 or T.size == 0:
        raise CreditInputError("horizons", "must be a non-empty list of years")
    V, s, D, mu, g = (np.asarray(a, float)[..., None] for a in
                      (asset_value, asset_vol, debt, drift, debt_growth))
    return np.asarray(default_probability(V, s, D * np.exp(g * T), mu, T))


def forward_default_probability(cumulative_pd):
    """PD(T_{i−1}, T_i] = [PD(T_i) − PD(T_{i−1})] / [1 − PD(T_{i−1})]: the conditional PD in
    each period given survival to its start, along the last axis (first period: PD(T_1))."""
    c = np.asarray(cumulative_pd, float)
    prev = np.concatenate([np.zeros_like(c[..., :1]), c[..., :-1]], axis=-1)
    return (c - prev) / (1.0 - prev)


@dataclass(frozen=True)
class NaiveDD:
    """Bharath-Shumway naive estimate: naive asset volatility (annual), DD and PD = N(−DD)."""

    asset_vol: np.ndarray
    distance_to_default: np.ndarray
    default_probability: np.ndarray


def naive_distance_to_default(equity, equity_vol, debt, past_return, horizon=1.0) -> NaiveDD:
    """naive DD = [ln((E+F)/F) + (r_{t−1} − naive σV²/2)T] / (naive σV √T)
    (Bharath & Shumway 2008, RFS 21(3)), with naive σD = 0.05 + 0.25σE and
    naive σV = E/(E+F)·σE + F/(E+F)·naive σD; F = face value of debt (current liabilities +
    ½ long-term debt), r_{t−1} = the firm's stock return over the previous year."""
    E, sE, F, mu, T = _as_arrays(equity=equity, equity_vol=equity_vol, debt=debt,
                                 past_return=past_return, horizon=horizon)
    _require_positive("equity", E)
    _require_positive("equity_vol", sE)
    _require_positive("debt", F)
    _require_positive("horizon", T)
    sD = 0.05 + 0.25 * sE
    sV = E / (E + F) * sE + F / (E + F) * sD
    dd = (np.log((E + F) / F) + (mu - 0.5 * sV * sV) * T) / (sV * np.sqrt(T))
    return NaiveDD(_out(sV), _out(dd), _out(ndtr(-dd)))


# --- the two-equation solve -----------------------------------------------------------------

def _terms(x, s, k, T):
    """Pieces of the system in ratios to debt: x = V/D, s = σV, k = e^{−rT}."""
    sqT = np.sqrt(T)
    sst = s * sqT
    d1 = (np.log(x) - np.log(k)) / sst + 0.5 * sst  # ln(x) + rT = ln x − ln k
    d2 = d1 - sst
    return d1, d2, ndtr(d1), ndtr(d2), _pdf(d1), sqT


def _bracketed_newton(fun, x, lo, hi, max_iter):
    """Vectorised Newton safeguarded by bisection on [lo, hi] where f(lo) ≤ 0 ≤ f(hi).
    `fun(x)` returns (f, df, done). Returns (x, done, iterations)."""
    it = np.zeros(x.shape, dtype=int)
    done = np.zeros(x.shape, dtype=bool)
    for _ in range(max_iter):
        f, df, done = fun(x)
        done |= (hi - lo) <= 4 * _EPS * np.abs(x)
        if done.all():
            break
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - f / df
        step = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        x = np.where(done, x, step)
        it += ~done
    return x, done, it


def _invert_call(e, s, k, T, x0, tol, max_iter):
    """x = V/D solving x N(d1) − k N(d2) = e for fixed s; bracket e ≤ x ≤ e + k."""
    def fun(x):
        _, _, N1, N2, _, _ = _terms(x, s, k, T)
        f = x * N1 - k * N2 - e
        return f, N1, np.abs(f) <= tol * e + 16 * _EPS * (x + k)
    x0 = np.clip(x0, e, e + k)
    return _bracketed_newton(fun, x0, e.copy(), e + k, max_iter)


def _residuals(x, s, e, sE, k, T, tol):
    d1, d2, N1, N2, n1, sqT = _terms(x, s, k, T)
    f1 = x * N1 - k * N2 - e
    f2 = x * N1 * s - sE * e
    ok = ((np.abs(f1) <= tol * e + 16 * _EPS * (x + k))
          & (np.abs(f2) <= tol * sE * e + 16 * _EPS * x * s))
    return f1, f2, ok, (d1, d2, N1, N2, n1, sqT)


def _newton_2d(e, sE, k, T, tol, max_iter):
    """Newton on (f1, f2) in (x, s), each step kept inside the bracket
    e ≤ x ≤ e + k, σE·e/(e + k) ≤ s ≤ σE (a step that leaves it goes halfway to the bound)."""
    X = e + k                                   # FinancePy's start: V/D = E/D + e^{−rT}
    S = sE * e / X
    IT = np.zeros(e.shape, dtype=int)
    OK = np.zeros(e.shape, dtype=bool)
    act = np.arange(e.size)                     # only unsettled firms are iterated
    x, s, ea, sEa, ka, sq = X, S, e, sE, k, np.sqrt(T)
    lk = np.log(k)
    for _ in range(max_iter):
        sst = s * sq
        d1 = (np.log(x) - lk) / sst + 0.5 * sst
        d2 = d1 - sst
        N1 = ndtr(d1)
        xN1 = x * N1
        f1 = xN1 - ka * ndtr(d2) - ea
        f2 = xN1 * s - sEa * ea
        ok = ((np.abs(f1) <= tol * ea + 16 * _EPS * (x + ka))
              & (np.abs(f2) <= tol * sEa * ea + 16 * _EPS * x * s))
        OK[act[ok]] = True
        if ok.all():
            break
        keep = np.flatnonzero(~ok)
        act, x, s, ea, sEa, ka, sq, lk = (a[keep] for a in (act, x, s, ea, sEa, ka, sq, lk))
        f1, f2, d2, N1, xN1 = f1[keep], f2[keep], d2[keep], N1[keep], xN1[keep]
        n1 = _pdf(d1[keep])
        j12 = x * n1 * sq                       # ∂f1/∂s (vega); ∂f1/∂x = N1
        j21 = s * N1 + n1 / sq                  # ∂f2/∂x
        j22 = xN1 - x * n1 * d2                 # ∂f2/∂s
        det = N1 * j22 - j12 * j21
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            xn = x - (f1 * j22 - f2 * j12) / det
            sn = s - (N1 * f2 - j21 * f1) / det
        xlo, slo = ea, sEa * ea / (ea + ka)
        xc = np.fmin(np.fmax(xn, xlo), ea + ka)     # NaN goes to a bound too
        sc = np.fmin(np.fmax(sn, slo), sEa)
        x = np.where(xc != xn, 0.5 * (x + xc), xn)
        s = np.where(sc != sn, 0.5 * (s + sc), sn)
        X[act], S[act] = x, s
        IT[act] += 1
    return X, S, OK, IT


def _nested(e, sE, k, T, tol, max_iter):
    """Fallback: bracketed Newton on σV for g(s) = x(s) N(d1) s − σE e, with x(s) from the
    bracketed call inversion; g(σE e/(e+k)) ≤ 0 ≤ g(σE), so a root is always bracketed."""
    state = {"x": e + k}

    def g(s):
        x, _, _ = _invert_call(e, s, k, T, state["x"], tol * 1e-2, max_iter)
        state["x"] = x
        f1, f2, ok, (d1, d2, N1, N2, n1, sqT) = _residuals(x, s, e, sE, k, T, tol)
        j11, j12 = N1, x * n1 * sqT
        j21, j22 = s * N1 + n1 / sqT, x * N1 - x * n1 * d2
        return f2, j22 - j21 * j12 / j11, ok

    s0 = sE * e / (e + k)
    s, ok, it = _bracketed_newton(g, s0, s0.copy(), sE.copy(), max_iter)
    return state["x"], s, ok, it


def merton_solve(equity, equity_vol, debt, rate, horizon, *, tol=1e-12,
                 max_iter=60) -> MertonSolution:
    """Solve E = V N(d1) − D e^{−rT} N(d2) and σE E = N(d1) σV V for V and σV
    (Merton 1974; Jones, Mason & Rosenfeld 1984; Hull OFOD "Using equity prices to estimate
    default probabilities").

    Solved in ratios to debt (x = V/D, e = E/D), so the result does not depend on the money
    unit. Vectorised Newton on both equations, each step kept inside the bracket
    e ≤ x ≤ e + e^{−rT}, σE·e/(e + e^{−rT}) ≤ σV ≤ σE; firms that Newton does not settle go to
    a nested bracketed solve (Newton safeguarded by bisection on σV, with the call inverted
    for V at each σV), which always has a root inside its bracket. Converged means both
    equations hold to `tol` relative to E and σE·E (plus a few ulps of rounding).

    Inputs (broadcast together): equity E > 0 and debt D > 0 in one money unit, equity_vol
    σE > 0 annual, rate r continuously compounded per year, horizon T > 0 in years. Raises
    `CreditInputError` naming the bad field and firm, and `MertonConvergenceError` naming the
    firm index and inputs if a solve fails.
    """
    E, sE, D, r, T = _as_arrays(equity=equity, equity_vol=equity_vol, debt=debt, rate=rate,
                                horizon=horizon)
    for name, a in (("equity", E), ("equity_vol", sE), ("debt", D), ("horizon", T)):
        _require_positive(name, a)
    shape = E.shape
    e, sE_, k, T_ = (np.ravel(a).copy() for a in (E / D, sE, np.exp(-r * T), T))

    x, s, ok, it = (np.empty_like(e), np.empty_like(e), np.empty(e.shape, bool),
                    np.empty(e.shape, int))
    for i in range(0, e.size, _CHUNK):          # cache-sized blocks: ~1.5x faster than whole
        b = slice(i, i + _CHUNK)
        x[b], s[b], ok[b], it[b] = _newton_2d(e[b], sE_[b], k[b], T_[b], tol, max_iter)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        xb, sb, okb, itb = _nested(e[bad], sE_[bad], k[bad], T_[bad], tol, 4 * max_iter)
        x[bad], s[bad], ok[bad], it[bad] = xb, sb, okb, it[bad] + itb
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        f1, f2, _, _ = _residuals(x[i:i + 1], s[i:i + 1], e[i:i + 1], sE_[i:i + 1], k[i:i + 1],
                                  T_[i:i + 1], tol)
        res = max(abs(f1[0]) / e[i], abs(f2[0]) / (sE_[i] * e[i]))
        flat = {n: np.ravel(a)[i] for n, a in
                (("equity", E), ("equity_vol", sE), ("debt", D), ("rate", r), ("horizon", T))}
        raise MertonConvergenceError(i, flat, tol, float(res))

    x, s, it = x.reshape(shape), s.reshape(shape), it.reshape(shape)
    sst = s * np.sqrt(T)
    d1 = (np.log(x) + r * T) / sst + 0.5 * sst
    return MertonSolution(asset_value=_out(x * D), asset_vol=_out(s), d1=_out(d1),
                          d2=_out(d1 - sst), iterations=_out(it))


def asset_value_from_equity(equity, asset_vol, debt, rate, horizon, *, tol=1e-12,
                            max_iter=200):
    """V solving E = V N(d1) − D e^{−rT} N(d2) for a given σV (the one-dimensional inversion
    of the time-series method; Vassalou & Xing 2004). Bracketed Newton on E/D ≤ V/D ≤
    E/D + e^{−rT}; same units as `merton_solve`."""
    E, s, D, r, T = _as_arrays(equity=equity, asset_vol=asset_vol, debt=debt, rate=rate,
                               horizon=horizon)
    for name, a in (("equity", E), ("asset_vol", s), ("debt", D), ("horizon", T)):
        _require_positive(name, a)
    shape = E.shape
    e, s_, k, T_ = (np.ravel(a).copy() for a in (E / D, s, np.exp(-r * T), T))
    x, ok, _ = _invert_call(e, s_, k, T_, e + k, tol, max_iter)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise MertonConvergenceError(i, {"equity": np.ravel(E)[i], "asset_vol": s_[i],
                                         "debt": np.ravel(D)[i]}, tol, float("nan"))
    return _out((x * np.ravel(D)).reshape(shape))


def merton_summary(equity, equity_vol, debt, rate, horizon, *, drift=None, scale=None) -> dict:
    """One firm's Merton figures as a flat dict (what `critmin credit merton` prints): the
    solve, risk-neutral DD/PD, physical DD/PD if `drift` μ is given, debt value, spread and the
    rating of the PD used (physical if a drift is given, else risk-neutral) on `scale`
    (default: `ratings.load_scale()`), with the scale's name and source."""
    from critmin.credit import ratings  # noqa: PLC0415 (ratings does not import merton)

    for name, v in (("equity", equity), ("equity_vol", equity_vol), ("debt", debt),
                    ("rate", rate), ("horizon", horizon)):
        if np.ndim(v) != 0:
            raise CreditInputError(name, "merton_summary takes one firm (scalars)")
    sol = merton_solve(equity, equity_vol, debt, rate, horizon)
    V, sV = float(sol.asset_value), float(sol.asset_vol)
    out = {"equity": float(equity), "equity_vol": float(equity_vol), "debt": float(debt),
           "rate": float(rate), "horizon": float(horizon),
           "asset_value": V, "asset_vol": sV, "d1": float(sol.d1), "d2": float(sol.d2),
           "dd_risk_neutral": float(sol.d2), "pd_risk_neutral": float(ndtr(-sol.d2)),
           "debt_value": float(debt_value(V, sV, debt, rate, horizon)),
           "credit_spread": float(credit_spread(V, sV, debt, rate, horizon)),
           "iterations": int(sol.iterations)}
    pd_used, measure = out["pd_risk_neutral"], "risk-neutral (drift = rate)"
    if drift is not None:
        out["drift"] = float(drift)
        out["dd_physical"] = float(distance_to_default(V, sV, debt, drift, horizon))
        out["pd_physical"] = pd_used = float(ndtr(-out["dd_physical"]))
        measure = "physical (drift given)"
    scale = scale or ratings.load_scale()
    out["pd_for_rating"] = pd_used
    out["measure"] = measure
    out["rating"] = str(ratings.rating_for_pd(pd_used, scale))
    out["rating_sp_fitch"] = str(ratings.rating_for_pd(pd_used, scale, agency="sp_fitch"))
    out["rating_scale"] = scale.name
    out["rating_scale_source"] = scale.source
    return out
