"""Bias detection on paired assays: d = ln(control / declared), d > 0 = declared too low.

Under-declaration is the fraud of interest, so tests are one-sided (H1: E d > 0). Pure
functions plus one estimator (`LabBiasModel`); `screen` strings them together for a ledger.
Methods, assumptions and sources: docs/methods.md, "Export oversight".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from critmin.errors import CritminError
from critmin.oversight.schema import Ledger


class BiasInputError(CritminError, ValueError):
    """Inputs a bias statistic cannot use (too few values, non-positive grades, bad option)."""


# ---------------------------------------------------------------------------------------------
# pairs


def paired_assays(ledger: Ledger) -> pd.DataFrame:
    """One row per (shipment, element) with both a declared certificate result and a state
    control assay: shipment_id, exporter_id, laboratory_id (the declaring lab), hs6, element,
    unit, date (shipment), declared, control, umpire (NaN if none), d = ln(control/declared).
    Units must already agree (`load_ledger` checks that). Pairs with a non-positive value
    cannot enter ln and are dropped; their count is in `attrs['dropped_nonpositive']`."""
    ca = ledger.control_assays
    # only certificates of checked shipments can pair: cut them first (10⁶ lots, 5 % checked)
    keep = np.flatnonzero(ledger.certificates["shipment_id"].isin(
        ca["shipment_id"].unique()).to_numpy())
    cert = ledger.certificates.iloc[keep]
    dup = cert.duplicated(["shipment_id", "element"]).to_numpy()
    if dup.any():
        i = int(keep[np.flatnonzero(dup)[0]])
        row = ledger.certificates.iloc[i]
        raise BiasInputError(f"certificates row {i}: shipment {row['shipment_id']!r} "
                             f"has two declared {row['element']} results; keep one")
    ctrl = (ca[ca["kind"] == "control"].groupby(["shipment_id", "element"], as_index=False)
            ["value"].mean().rename(columns={"value": "control"}))
    ump = (ca[ca["kind"] == "umpire"].groupby(["shipment_id", "element"], as_index=False)
           ["value"].mean().rename(columns={"value": "umpire"}))
    out = (cert[["shipment_id", "laboratory_id", "element", "unit", "value"]]
           .rename(columns={"value": "declared"})
           .merge(ctrl, on=["shipment_id", "element"])
           .merge(ump, on=["shipment_id", "element"], how="left")
           .merge(ledger.shipments[["shipment_id", "exporter_id", "hs6", "date"]],
                  on="shipment_id"))
    ok = (out["declared"] > 0) & (out["control"] > 0)
    dropped = int((~ok).sum())
    out = out[ok].copy()
    out["d"] = np.log(out["control"] / out["declared"])
    out = out[["shipment_id", "exporter_id", "laboratory_id", "hs6", "element", "unit", "date",
               "declared", "control", "umpire", "d"]].sort_values(["date", "shipment_id"])
    out = out.reset_index(drop=True)
    out.attrs["dropped_nonpositive"] = dropped
    out.attrs["synthetic"] = ledger.synthetic
    return out


# ---------------------------------------------------------------------------------------------
# paired tests


def _vec(x, name: str, min_n: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size < min_n or not np.isfinite(a).all():
        raise BiasInputError(f"{name}: need at least {min_n} finite values (got {a.size})")
    return a


@dataclass(frozen=True)
class TestResult:
    """statistic, one-sided p-value, n, mean and its standard error (for t)."""
    statistic: float
    p_value: float
    n: int
    mean: float
    se: float = float("nan")


def paired_t(d, *, alternative: Literal["greater", "less", "two-sided"] = "greater"
             ) -> TestResult:
    """t = mean(d) / (s_d / √n), df = n − 1 (paired t on the differences d); p from Student t.
    Default one-sided H1: mean d > 0 (declared below control)."""
    d = _vec(d, "d", 2)
    n, m, s = d.size, float(d.mean()), float(d.std(ddof=1))
    se = s / math.sqrt(n)
    t = m / se if se > 0 else (math.inf * np.sign(m) if m else 0.0)
    p = {"greater": stats.t.sf(t, n - 1), "less": stats.t.cdf(t, n - 1),
         "two-sided": 2 * stats.t.sf(abs(t), n - 1)}[alternative]
    return TestResult(float(t), float(p), n, m, se)


def _signed_rank_exact_sf(w: float, n: int) -> float:
    """P(W+ ≥ w) under H0 for n untied, non-zero differences (counts by dynamic programming)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return float(counts[int(math.ceil(w - 1e-9)):].sum() / 2.0 ** n)


def wilcoxon_signed_rank(d, *, alternative: Literal["greater", "less", "two-sided"] = "greater",
                         method: Literal["auto", "exact", "asymptotic"] = "auto") -> TestResult:
    """W+ = Σ_{d_i > 0} rank(|d_i|) over non-zero d (zeros dropped, Wilcoxon 1945); exact null
    distribution when n ≤ 50 without ties ('auto'), else the normal approximation
    z = (W+ − n(n+1)/4) / √(n(n+1)(2n+1)/24 − Σ(t³ − t)/48), no continuity correction."""
    d = _vec(d, "d", 1)
    d = d[d != 0]
    n = d.size
    if n == 0:
        raise BiasInputError("d: all differences are zero")
    r = stats.rankdata(np.abs(d))
    w = float(r[d > 0].sum())
    _, tie = np.unique(np.abs(d), return_counts=True)
    ties = bool((tie > 1).any())
    use_exact = method == "exact" or (method == "auto" and n <= 50 and not ties)
    if use_exact:
        if ties:
            raise BiasInputError("exact Wilcoxon needs untied |d|; use method='asymptotic'")
        upper = _signed_rank_exact_sf(w, n)
        lower = _signed_rank_exact_sf(n * (n + 1) / 2 - w, n)
        p = {"greater": upper, "less": lower,
             "two-sided": min(1.0, 2 * min(upper, lower))}[alternative]
    else:
        mu = n * (n + 1) / 4
        var = n * (n + 1) * (2 * n + 1) / 24 - ((tie ** 3 - tie).sum()) / 48
        z = (w - mu) / math.sqrt(var)
        p = {"greater": stats.norm.sf(z), "less": stats.norm.cdf(z),
             "two-sided": 2 * stats.norm.sf(abs(z))}[alternative]
    return TestResult(w, float(p), n, float(np.median(d)))


# ---------------------------------------------------------------------------------------------
# agreement and proportional bias


def bland_altman(declared, control, *, log: bool = True, z: float = 1.96) -> dict[str, float]:
    """Bland & Altman (1986): differences D = ln c − ln d (log=True) or c − d; bias = mean D,
    limits of agreement = bias ± z·sd(D); proportional bias = OLS slope of D on the pair mean
    (of ln values when log) with its two-sided p-value (slope ≠ 0 means the gap grows with
    grade)."""
    x, y = _vec(declared, "declared", 3), _vec(control, "control", 3)
    if x.size != y.size:
        raise BiasInputError("declared and control must have the same length")
    if log:
        if (x <= 0).any() or (y <= 0).any():
            raise BiasInputError("log Bland–Altman needs positive values")
        x, y = np.log(x), np.log(y)
    diff, avg = y - x, (x + y) / 2
    b, s = float(diff.mean()), float(diff.std(ddof=1))
    reg = stats.linregress(avg, diff) if np.ptp(avg) > 0 else None
    return {"n": int(x.size), "bias": b, "sd": s, "loa_lower": b - z * s, "loa_upper": b + z * s,
            "proportional_slope": float(reg.slope) if reg else float("nan"),
            "proportional_p": float(reg.pvalue) if reg else float("nan")}


@dataclass(frozen=True)
class DemingResult:
    """y = intercept + slope·x with errors in both; SEs by jackknife (Linnet 1993)."""
    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    n: int


def _deming_fit(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, float]:
    mx, my = x.mean(), y.mean()
    sxx, syy = ((x - mx) ** 2).sum(), ((y - my) ** 2).sum()
    sxy = ((x - mx) * (y - my)).sum()
    if sxy == 0:
        raise BiasInputError("Deming: x and y are uncorrelated (s_xy = 0)")
    u = syy - lam * sxx
    slope = (u + math.sqrt(u * u + 4 * lam * sxy * sxy)) / (2 * sxy)
    return slope, my - slope * mx


def deming(x, y, *, error_ratio: float = 1.0) -> DemingResult:
    """Deming regression (Linnet 1993): with λ = var(error in y) / var(error in x),
    slope = [s_yy − λ s_xx + √((s_yy − λ s_xx)² + 4 λ s_xy²)] / (2 s_xy),
    intercept = ȳ − slope·x̄ (s = sums of squared / cross deviations). Control (y) on declared
    (x): slope > 1 = declared proportionally low, intercept = constant offset."""
    x, y = _vec(x, "x", 3), _vec(y, "y", 3)
    if x.size != y.size:
        raise BiasInputError("x and y must have the same length")
    if not error_ratio > 0:
        raise BiasInputError("error_ratio must be > 0")
    b, a = _deming_fit(x, y, error_ratio)
    n = x.size
    jk = np.array([_deming_fit(np.delete(x, i), np.delete(y, i), error_ratio)
                   for i in range(n)])
    se = np.sqrt((n - 1) / n * ((jk - jk.mean(axis=0)) ** 2).sum(axis=0))
    return DemingResult(float(b), float(a), float(se[0]), float(se[1]), n)


# ---------------------------------------------------------------------------------------------
# partial pooling


class LabBiasModel:
    """Empirical-Bayes normal–normal model of group (laboratory, exporter, …) biases:
    d_ij = b_j + ε_ij, ε ~ N(0, σ²_w), b_j ~ N(μ, τ²).

    σ²_w = pooled within-group variance Σ(n_j − 1)s_j² / Σ(n_j − 1); v_j = σ²_w / n_j;
    τ² by DerSimonian–Laird moments, τ² = max(0, (Q − (k − 1)) / (Σw − Σw²/Σw)), w = 1/v;
    μ = Σ w*_j d̄_j / Σ w*_j with w* = 1/(v_j + τ²). Posterior (Morris 1983):
    B_j = v_j/(v_j + τ²), mean = B_j μ + (1 − B_j) d̄_j, var = (1 − B_j) v_j + B_j² / Σw*.
    A group with few samples has large v_j, so it is pulled to μ and not flagged on noise.

    Parameters: `delta` (the economically relevant bias on the ln scale; P(b_j > delta) is
    reported), `center` ("mean" = shrink to μ̂, "zero" = to 0, μ fixed).
    After `fit`: `groups_` (DataFrame by group: n, mean, posterior_mean, posterior_sd,
    prob_gt_delta, p_value = one-sided t-test of d̄_j > 0 on σ²_w with N − k df),
    `mu_`, `tau2_`, `sigma2_within_`, `df_within_`. No randomness (no random_state).
    """

    def __init__(self, *, delta: float = 0.0, center: Literal["mean", "zero"] = "mean"):
        self.delta = delta
        self.center = center

    def fit(self, d, groups) -> LabBiasModel:
        if self.center not in ("mean", "zero"):
            raise BiasInputError(f"center must be 'mean' or 'zero', not {self.center!r}")
        d = _vec(d, "d", 2)
        g = pd.Series(np.asarray(groups, dtype=object).ravel() if not isinstance(
            groups, pd.DataFrame) else list(groups.itertuples(index=False, name=None)))
        if g.size != d.size:
            raise BiasInputError("d and groups must have the same length")
        agg = pd.DataFrame({"g": g.to_numpy(), "d": d}).groupby("g", sort=True)["d"].agg(
            ["size", "mean", "var"])
        n = agg["size"].to_numpy(float)
        dfw = float((n - 1).sum())
        if dfw <= 0:
            raise BiasInputError("need at least one group with two or more values")
        s2w = float(np.nansum((n - 1) * agg["var"].to_numpy()) / dfw)
        if not s2w > 0:
            raise BiasInputError("within-group variance is zero")
        m = agg["mean"].to_numpy()
        v = s2w / n
        w = 1 / v
        k = m.size
        if k > 1:
            mbar = (w * m).sum() / w.sum()
            Q = (w * (m - mbar) ** 2).sum()
            tau2 = max(0.0, (Q - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
        else:
            tau2 = 0.0
        ws = 1 / (v + tau2)
        if self.center == "mean":
            mu, var_mu = float((ws * m).sum() / ws.sum()), float(1 / ws.sum())
        else:
            mu, var_mu = 0.0, 0.0
        B = v / (v + tau2) if tau2 > 0 else np.ones_like(v)
        post_m = B * mu + (1 - B) * m
        post_sd = np.sqrt((1 - B) * v + B ** 2 * var_mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = (post_m - self.delta) / post_sd
        prob = np.where(post_sd > 0, stats.norm.cdf(zz), (post_m > self.delta).astype(float))
        tstat = m / np.sqrt(v)
        self.groups_ = pd.DataFrame({
            "n": n.astype(int), "mean": m, "posterior_mean": post_m, "posterior_sd": post_sd,
            "prob_gt_delta": prob, "p_value": stats.t.sf(tstat, dfw)}, index=agg.index)
        self.groups_.index.name = "group"
        self.mu_, self.tau2_, self.sigma2_within_, self.df_within_ = mu, tau2, s2w, dfw
        return self


# ---------------------------------------------------------------------------------------------
# multiplicity


def benjamini_hochberg(p, *, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini & Hochberg (1995) step-up: reject the k smallest p-values, k = max{i:
    p_(i) ≤ i·q/m}; adjusted p_(i) = min_{j ≥ i} m·p_(j)/j (capped at 1). NaN p-values are
    not tested (not rejected, adjusted NaN; m counts the others). Controls the FDR at q·m0/m
    for independent or positively dependent (PRDS) tests. Returns (reject, adjusted)."""
    p = np.asarray(p, dtype=float)
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise BiasInputError("p-values must lie in [0, 1]")
    reject = np.zeros(p.shape, bool)
    adj = np.full(p.shape, np.nan)
    m = int(ok.sum())
    if m == 0:
        return reject, adj
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[idx], kind="stable")]
    ps = p[order]
    ranks = np.arange(1, m + 1)
    a = np.minimum.accumulate((m * ps / ranks)[::-1])[::-1]
    adj[order] = np.minimum(a, 1.0)
    below = np.flatnonzero(ps <= ranks * q / m)
    if below.size:
        reject[order[: below[-1] + 1]] = True
    return reject, adj


# ---------------------------------------------------------------------------------------------
# drift over time


def cusum(z, *, k: float = 0.5, h: float = 5.0) -> tuple[np.ndarray, int | None]:
    """One-sided upper CUSUM (Page 1954) on standardised values z (in σ units):
    S_0 = 0, S_t = max(0, S_{t−1} + z_t − k); alarm at the first t with S_t > h.
    Returns (S path, index of the first alarm or None). k = δ/2 targets a shift δ."""
    z = _vec(z, "z", 1)
    s = np.empty_like(z)
    acc, alarm = 0.0, None
    for t, v in enumerate(z):
        acc = max(0.0, acc + v - k)
        s[t] = acc
        if alarm is None and acc > h:
            alarm = t
    return s, alarm


def sprt(x, *, sigma: float, delta: float, alpha: float = 0.01, beta: float = 0.05
         ) -> tuple[np.ndarray, str, int | None]:
    """Wald SPRT of H0: mean 0 vs H1: mean δ for N(·, σ²) data: Λ_t = Σ (δ/σ²)(x_i − δ/2);
    stop for H1 when Λ ≥ ln((1 − β)/α), for H0 when Λ ≤ ln(β/(1 − α)).
    Returns (Λ path, decision 'H1' | 'H0' | 'continue', stopping index or None)."""
    x = _vec(x, "x", 1)
    if not (sigma > 0 and delta > 0 and 0 < alpha < 1 and 0 < beta < 1):
        raise BiasInputError("sprt needs sigma > 0, delta > 0 and alpha, beta in (0, 1)")
    llr = np.cumsum(delta / sigma ** 2 * (x - delta / 2))
    up, lo = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))
    hit = np.flatnonzero((llr >= up) | (llr <= lo))
    if not hit.size:
        return llr, "continue", None
    i = int(hit[0])
    return llr, ("H1" if llr[i] >= up else "H0"), i


def robust_sd(x) -> float:
    """1.4826 · median(|x − median x|) (normal-consistent MAD)."""
    x = _vec(x, "x", 2)
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def drift_alarms(pairs: pd.DataFrame, *, by: Sequence[str] = ("laboratory_id",),
                 k: float = 0.5, h: float = 5.0) -> pd.DataFrame:
    """CUSUM per group × element over time: z = d / σ_e with σ_e the robust SD of d of
    element e over all groups (so a few biased labs do not inflate it). Returns by…, element,
    n, cusum_max, alarm (bool), alarm_date (the shipment date of the first alarm)."""
    rows = []
    keys = [*by, "element"]
    sig = {e: robust_sd(g["d"]) if len(g) > 1 else float("nan")
           for e, g in pairs.groupby("element")}
    for key, g in pairs.sort_values("date").groupby(keys, sort=True):
        s_e = sig[key[-1]]
        if not s_e > 0:
            continue
        s, a = cusum(g["d"].to_numpy() / s_e, k=k, h=h)
        rows.append((*key, len(g), float(s.max()), a is not None,
                     g["date"].iloc[a] if a is not None else pd.NaT))
    return pd.DataFrame(rows, columns=[*keys, "n", "cusum_max", "alarm", "alarm_date"])


# ---------------------------------------------------------------------------------------------
# splitting limits


def splitting_exceedance(declared, control, *, abs_limit: float = 0.0, rel_limit: float = 0.0
                         ) -> np.ndarray:
    """+1 where control − declared > L (declared too low), −1 where declared − control > L,
    else 0; L = max(abs_limit, rel_limit · (declared + control)/2)."""
    x = np.asarray(declared, float)
    y = np.asarray(control, float)
    lim = np.maximum(abs_limit, rel_limit * (x + y) / 2)
    return np.where(y - x > lim, 1, np.where(x - y > lim, -1, 0))


def exceedance_rates(pairs: pd.DataFrame, limits: dict[str, tuple[float, float]], *,
                     by: Sequence[str] = ("laboratory_id",)) -> pd.DataFrame:
    """Share of pairs outside the splitting limit per group × element; `limits` maps element
    -> (abs, rel). Columns: by…, element, n, under (control above declared beyond the limit),
    over, under_rate, over_rate, p_asymmetry = P(Binomial(under + over, ½) ≥ under) (under a
    symmetric error model exceedances fall equally on both sides)."""
    keys = [*by, "element"]
    rows = []
    for key, g in pairs.groupby(keys, sort=True):
        if key[-1] not in limits:
            continue
        a, r = limits[key[-1]]
        e = splitting_exceedance(g["declared"], g["control"], abs_limit=a, rel_limit=r)
        u, o = int((e == 1).sum()), int((e == -1).sum())
        p = float(stats.binom.sf(u - 1, u + o, 0.5)) if u + o else 1.0
        rows.append((*key, len(g), u, o, u / len(g), o / len(g), p))
    return pd.DataFrame(rows, columns=[*keys, "n", "under", "over", "under_rate",
                                       "over_rate", "p_asymmetry"])


# ---------------------------------------------------------------------------------------------
# digit forensics (for narrow-range grades; Benford's first digit does not apply)


def _last_digits(values, decimals: int) -> np.ndarray:
    v = _vec(values, "values", 1)
    return (np.rint(np.abs(v) * 10.0 ** decimals).astype(np.int64) % 10)


def terminal_digit_test(values, *, decimals: int) -> dict:
    """Chi-square test that the last reported digit (at `decimals`) is uniform on 0–9:
    X² = Σ (O_k − n/10)² / (n/10), 9 df. Valid when the measurement error spans many units of
    the last digit (true for assays reported beyond their precision)."""
    dig = _last_digits(values, decimals)
    counts = np.bincount(dig, minlength=10)
    chi2, p = stats.chisquare(counts)
    return {"n": int(dig.size), "counts": counts, "chi2": float(chi2), "p_value": float(p)}


def heaping_test(values, *, decimals: int, digits: Sequence[int] = (0, 5)) -> dict:
    """Rounding/heaping to round values: share of last digits in `digits` vs the uniform
    len(digits)/10; one-sided binomial p-value for an excess."""
    dig = _last_digits(values, decimals)
    k = int(np.isin(dig, digits).sum())
    p0 = len(set(digits)) / 10
    return {"n": int(dig.size), "heaped": k, "share": k / dig.size, "expected_share": p0,
            "p_value": float(stats.binom.sf(k - 1, dig.size, p0))}


def duplicate_share(values, *, decimals: int | None = None) -> dict:
    """Share of values (rounded to `decimals` if given) that equal another value in the set,
    and the most repeated values. Compare across labs: a copied or invented certificate
    repeats numbers more often than independent assays of similar material."""
    v = _vec(values, "values", 1)
    if decimals is not None:
        v = np.round(v, decimals)
    uniq, cnt = np.unique(v, return_counts=True)
    dup = int(cnt[cnt > 1].sum())
    top = sorted(zip(cnt.tolist(), uniq.tolist()), reverse=True)[:5]
    return {"n": int(v.size), "duplicated": dup, "share": dup / v.size,
            "top": [(val, c) for c, val in top if c > 1]}


def threshold_test(values, *, threshold: float, width: float) -> dict:
    """Mass just below a payable or penalty threshold: counts in [t − w, t) vs [t, t + w);
    with a smooth density they are about equal, so P(Binomial(below + above, ½) ≥ below) is a
    one-sided p-value for an excess just below (use for penalty limits, e.g. As 0.5 %; mirror
    the values for an excess just above a payable minimum)."""
    v = _vec(values, "values", 1)
    if not width > 0:
        raise BiasInputError("width must be > 0")
    below = int(((v >= threshold - width) & (v < threshold)).sum())
    above = int(((v >= threshold) & (v < threshold + width)).sum())
    p = float(stats.binom.sf(below - 1, below + above, 0.5)) if below + above else 1.0
    return {"below": below, "above": above, "p_value": p}


# ---------------------------------------------------------------------------------------------
# the screen


def group_tests(pairs: pd.DataFrame, keys: Sequence[str], *, min_n: int = 2) -> pd.DataFrame:
    """`paired_t` and `wilcoxon_signed_rank` (one-sided, 'auto') of column d for every group of
    `keys` at once: keys…, n, mean_d, t, p_t, p_wilcoxon (1.0 when every d is 0; NaN tests for
    groups under max(2, min_n) pairs). Same numbers as calling the two tests group by group,
    computed from grouped sums and within-group ranks so that 10⁵–10⁶ pairs take well under a
    second; only small untied groups (n ≤ 50, exact Wilcoxon null) are visited one by one."""
    keys = list(keys)
    d_all = pairs["d"].to_numpy(float)
    if not np.isfinite(d_all).all():
        i = int(np.flatnonzero(~np.isfinite(d_all))[0])
        raise BiasInputError(f"pairs row {i}: d is not finite ({d_all[i]})")
    df = pairs[keys].assign(_d=d_all)  # underscored names: never a caller's key column
    g = df.groupby(keys, sort=True)
    agg = g.agg(n=("_d", "size"), s=("_d", "sum"))
    n = agg["n"].to_numpy(float)
    mean = agg["s"].to_numpy() / n
    # the two-pass variance: sums of squares lose digits when |mean| ≫ sd
    var = g["_d"].var(ddof=1).to_numpy()
    se = np.sqrt(var / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, mean / se, np.where(mean != 0, math.inf * np.sign(mean), 0.0))
    tested = n >= max(2, min_n)
    p_t = np.where(tested, stats.t.sf(t, np.maximum(n - 1, 1)), np.nan)
    t = np.where(tested, t, np.nan)
    # Wilcoxon: zeros dropped, |d| ranked within group (average ranks for ties)
    nzm = d_all != 0
    nz = df.loc[nzm, keys].assign(_a=np.abs(d_all[nzm]), _pos=d_all[nzm] > 0)
    nz["_r"] = nz.groupby(keys, sort=False)["_a"].rank(method="average")
    nz["_rp"] = nz["_r"] * nz["_pos"]
    tie = nz.groupby([*keys, "_a"], sort=False).size().astype(float)
    tt = pd.DataFrame({"t3": tie ** 3 - tie, "tied": tie > 1}).groupby(
        level=list(range(len(keys)))).sum()
    w = nz.groupby(keys, sort=True).agg(m=("_r", "size"), w=("_rp", "sum"))
    w = w.join(tt) if len(tt) else w.assign(t3=0.0, tied=0)
    w = w.reindex(agg.index)
    m = w["m"].fillna(0).to_numpy(float)
    ww = w["w"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (ww - m * (m + 1) / 4) / np.sqrt(m * (m + 1) * (2 * m + 1) / 24
                                                    - w["t3"].to_numpy(float) / 48)
    p_w = np.where(m > 0, stats.norm.sf(z), 1.0)
    exact = (m > 0) & (m <= 50) & (w["tied"].fillna(0).to_numpy() == 0)
    for i in np.flatnonzero(exact & tested):
        p_w[i] = _signed_rank_exact_sf(ww[i], int(m[i]))
    p_w = np.where(tested, p_w, np.nan)
    out = agg.index.to_frame(index=False)
    return out.assign(n=n.astype(int), mean_d=mean, t=t, p_t=p_t, p_wilcoxon=p_w)


def screen(pairs: pd.DataFrame, *, by: Sequence[str] = ("laboratory_id",), q: float = 0.05,
           delta: float = 0.03, posterior_level: float = 0.95, min_n: int = 2,
           rule: Literal["bh", "eb", "both"] = "bh") -> pd.DataFrame:
    """Per group (default laboratory) × element: n, mean_d, under_report_pct = 100(1 − e^−d̄),
    t and p_t (one-sided paired t), p_wilcoxon, the `LabBiasModel` posterior (fitted per
    element over all groups), q_value (BH-adjusted p_t over all groups × elements) and
    `flagged`:
    - rule "bh" (default): BH rejects at level q (FDR across groups × elements ≤ q);
    - rule "eb": posterior P(b > delta) ≥ posterior_level (delta on the ln scale; the default
      0.03 ≈ 3 % under-reporting; with delta = 0 this rule flags many honest labs);
    - rule "both": both.
    Groups with fewer than `min_n` pairs are listed untested (p NaN, not flagged)."""
    if rule not in ("bh", "eb", "both"):
        raise BiasInputError(f"rule must be 'bh', 'eb' or 'both', not {rule!r}")
    keys = [*by, "element"]
    out = group_tests(pairs, keys, min_n=min_n)
    out["under_report_pct"] = 100 * (1 - np.exp(-out["mean_d"]))
    post = []
    for e, g in pairs.groupby("element", sort=True):
        try:
            model = LabBiasModel(delta=delta).fit(g["d"], g[list(by)] if len(by) > 1
                                                  else g[by[0]])
        except BiasInputError:
            continue
        gr = model.groups_
        idx = gr.index if len(by) > 1 else [(i,) for i in gr.index]
        post.append(pd.DataFrame([(*i, e) for i in idx], columns=keys).assign(
            posterior_mean=gr["posterior_mean"].to_numpy(),
            posterior_sd=gr["posterior_sd"].to_numpy(),
            prob_gt_delta=gr["prob_gt_delta"].to_numpy()))
    if post:
        out = out.merge(pd.concat(post, ignore_index=True), on=keys, how="left")
    else:
        out = out.assign(posterior_mean=np.nan, posterior_sd=np.nan, prob_gt_delta=np.nan)
    rej, adj = benjamini_hochberg(out["p_t"].to_numpy(), q=q)
    out["q_value"] = adj
    eb = (out["prob_gt_delta"] >= posterior_level).to_numpy() & (out["n"] >= min_n).to_numpy()
    out["flagged"] = {"bh": rej, "eb": eb, "both": rej & eb}[rule]
    return out


def flagged_groups(table: pd.DataFrame, *, by: Sequence[str] = ("laboratory_id",)
                   ) -> pd.DataFrame:
    """Collapse a `screen` table to one row per group: flagged if any element is, with the
    flagged elements listed."""
    g = table.groupby(list(by), sort=True)
    return pd.DataFrame({
        "n_pairs": g["n"].sum(),
        "flagged": g["flagged"].any(),
        "elements": g.apply(lambda x: ",".join(x.loc[x["flagged"], "element"]),
                            include_groups=False),
    }).reset_index()
