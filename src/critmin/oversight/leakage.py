"""Whole-stream leakage from the controlled shipments: Horvitz–Thompson (issue 5, item 5).

The controls are not a simple random sample: risk picks go where under-declaration is likely,
so the mean of the checked shipments overstates the stream. With the inclusion probability
π_i of each shipment under the selection design, the Horvitz & Thompson (1952) estimator

    T̂ = Σ_{i ∈ s} y_i / π_i                  (y_i = under-declared value of shipment i, USD)

is unbiased for the stream total T = Σ_i y_i provided every π_i > 0 — which is what the
never-zero random share guarantees.

Inclusion probabilities of `selection.select_shipments` (count budget B, N candidates):
n_r = max(1, round(r·B)) drawn uniformly, then the n_k = B − n_r best risk scores among the
rest. With the risk order fixed before the draw (score, then declared value), shipment i at
1-based rank j enters by risk iff it is not drawn and fewer than n_k of the j − 1 shipments
ranked above it are left after the draw:

    π_i = n_r/N + (1 − n_r/N) · P(H ≥ j − n_k),  H ~ Hypergeometric(N − 1, j − 1, n_r)

(H = ranked-above shipments taken by the random draw). The top n_k have π = 1. Policy
'random': π = B/N. Thompson scoring and PPS ('value') have no closed form and are refused.
Exact ties of score and value are broken at random by the selection; here by position (the
difference is confined to tied shipments).

Interval: a generalized bootstrap (Bertail & Combris 1997; Beaumont & Patak 2012): T̂* =
Σ a_i z_i, z_i = y_i/π_i, with independent weights a_i of mean 1 and variance 1 − π_i
(gamma-distributed, so never negative); its variance is the Poisson-sampling estimator
Σ (1 − π_i) z_i², which treats the draws as independent. Certainty units (π = 1) are fixed.
Percentile interval. Under-declared value is concentrated in a few laboratories, so plain
T̂ is skewed: when the random share misses them the interval is too narrow. The difference
estimator (`prediction=`, the risk model's ŷ) scales up only residuals y − ŷ and removes
most of that skew (coverage measured in tests/oversight/test_leakage.py and docs/methods.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from critmin.oversight.selection import (SelectionInputError, _value_columns,
                                         expected_positive_part, posterior_bias)

__all__ = ["LeakageEstimate", "inclusion_probabilities", "horvitz_thompson",
           "stratified_srs_inclusion", "stream_leakage"]


@dataclass(frozen=True)
class LeakageEstimate:
    """T̂ (USD), its standard error se = √(Σ (1 − π_i) z_i²) (USD), its percentile-bootstrap
    interval (lo, hi) at `level`, the sampled count n, certainty units n_certain, the
    population size N, and the naive N·ȳ for contrast."""
    total: float
    se: float
    lo: float
    hi: float
    level: float
    n: int
    n_certain: int
    N: int
    naive_total: float


def inclusion_probabilities(candidates: pd.DataFrame, budget: int, *,
                            random_share: float = 0.10, policy: str = "risk",
                            bias_estimates: pd.DataFrame | None = None,
                            by: str = "laboratory_id", prior_sd: float = 0.10,
                            scoring: str = "option") -> pd.DataFrame:
    """π_i of every candidate under `select_shipments` with the same arguments (module
    docstring), indexed by shipment_id: inclusion_prob and expected_recoverable_usd (the
    posterior-mean ΔV from `bias_estimates`, USD; the prediction ŷ of the difference
    estimator, known for every shipment before any control)."""
    if scoring == "thompson" or policy == "value":
        raise SelectionInputError("inclusion probabilities have no closed form for Thompson "
                                  "scoring or the 'value' (PPS) policy; use 'option' or 'mean' "
                                  "scoring, or policy 'random'")
    cand = candidates.reset_index(drop=True)
    N = len(cand)
    k = min(int(budget), N)
    ids = cand["shipment_id"].to_numpy(object)
    if N == 0:
        return pd.DataFrame(columns=["inclusion_prob", "expected_recoverable_usd"])
    els, V = _value_columns(cand, None)
    m, s, exp_rec = posterior_bias(cand, bias_estimates, els, V, by, prior_sd)
    if policy == "random":
        return pd.DataFrame({"inclusion_prob": np.full(N, k / N),
                             "expected_recoverable_usd": exp_rec}, index=ids)
    n_r = min(k, max(1, round(random_share * budget))) if k >= 1 else 0
    n_k = k - n_r
    score = (np.maximum(exp_rec, 0.0)
             if scoring == "mean" or policy == "oracle"
             else (V * expected_positive_part(m, s)).sum(axis=1))
    order = np.lexsort((np.arange(N), -V.sum(axis=1), -score))
    j = np.empty(N, dtype=np.int64)
    j[order] = np.arange(1, N + 1)
    p_rand = n_r / N
    # P(H ≥ j − n_k) = sf(j − n_k − 1); rank j ≤ n_k gives 1
    p_risk = hypergeom.sf(j - n_k - 1, N - 1, j - 1, n_r) if n_k > 0 else np.zeros(N)
    p_risk = np.where(j <= n_k, 1.0, p_risk)
    return pd.DataFrame({"inclusion_prob": p_rand + (1 - p_rand) * p_risk,
                         "expected_recoverable_usd": exp_rec}, index=ids)


def stratified_srs_inclusion(sampled: pd.Series, strata: pd.Series) -> pd.Series:
    """π_i = n_h / N_h for every unit of stratum h (a simple random sample within each
    stratum, e.g. month): `sampled` (bool) and `strata` indexed alike. Strata with no sampled
    unit get π = 0 (their leakage cannot be extrapolated: `horvitz_thompson` refuses)."""
    n = sampled.groupby(strata).transform("sum")
    N = sampled.groupby(strata).transform("size")
    return (n / N).rename("inclusion_prob")


def horvitz_thompson(y, pi, *, population: int, prediction=None,
                     prediction_total: float | None = None, level: float = 0.95,
                     n_boot: int = 2000, random_state=None) -> LeakageEstimate:
    """T̂ = Σ y_i/π_i over the sampled units (`y`, `pi` aligned; USD) with the bootstrap
    interval of the module docstring; `population` = N (for the naive N·ȳ shown beside).
    With `prediction` ŷ_i of the sampled units and `prediction_total` Σ_U ŷ over the whole
    stream, the difference estimator T̂ = Σ_U ŷ + Σ_s (y_i − ŷ_i)/π_i (Särndal, Swensson &
    Wretman 1992, §6.3): still design-unbiased for any ŷ fixed before the draw, and far less
    variable when ŷ tracks y, because only the residuals are scaled up."""
    y = np.asarray(y, float)
    if (prediction is None) != (prediction_total is None):
        raise SelectionInputError("pass both prediction and prediction_total, or neither")
    naive = float(population * y.mean()) if y.size else 0.0
    base = 0.0
    if prediction is not None:
        yhat = np.asarray(prediction, float)
        if yhat.shape != y.shape or not np.isfinite(yhat).all():
            raise SelectionInputError("prediction must be finite and aligned with y")
        y, base = y - yhat, float(prediction_total)
    pi = np.asarray(pi, float)
    if y.shape != pi.shape or y.ndim != 1:
        raise SelectionInputError("y and pi must be 1-D and of equal length")
    if not np.isfinite(y).all():
        raise SelectionInputError(f"y: sampled unit {int(np.flatnonzero(~np.isfinite(y))[0])} "
                                  "has no finite value")
    if not ((pi > 0) & (pi <= 1 + 1e-12)).all():
        i = int(np.flatnonzero(~((pi > 0) & (pi <= 1 + 1e-12)))[0])
        raise SelectionInputError(f"pi: sampled unit {i} has inclusion probability {pi[i]}; "
                                  "every π must lie in (0, 1] (a zero π means part of the "
                                  "stream could never be checked: no extrapolation)")
    if not 0 < level < 1:
        raise SelectionInputError(f"level must lie in (0, 1), got {level}")
    z = y / pi
    total = base + float(z.sum())
    rng = np.random.default_rng(random_state)
    u = np.flatnonzero(pi < 1 - 1e-12)  # certainty units (π = 1) carry no sampling error
    if u.size >= 2:
        # generalized bootstrap weights a ~ Gamma(1/(1 − π), 1 − π): mean 1, variance 1 − π
        k = 1 - pi[u]
        sums = np.empty(n_boot)
        step = max(1, 2_000_000 // u.size)
        for s0 in range(0, n_boot, step):
            kk = min(step, n_boot - s0)
            a = rng.gamma(1 / k, k, size=(kk, u.size))
            sums[s0:s0 + kk] = (a - 1) @ z[u]
        lo, hi = total + np.quantile(sums, [(1 - level) / 2, (1 + level) / 2])
    else:
        lo = hi = float("nan")
    certain = pi >= 1 - 1e-12
    se = float(np.sqrt(((1 - pi) * z * z).sum()))
    return LeakageEstimate(total, se, float(lo), float(hi), level, int(y.size), int(certain.sum()),
                           int(population), naive)


def stream_leakage(per_shipment: pd.DataFrame, shipments: pd.DataFrame, *,
                   inclusion: pd.Series | None = None,
                   columns=("undeclared_contained_usd", "undeclared_nsr_usd", "lost_tax_usd"),
                   level: float = 0.95, n_boot: int = 2000, random_state=None) -> pd.DataFrame:
    """Whole-stream totals (USD) from the checked shipments of a ledger, one row per column of
    `per_shipment` (`valuation.undeclared_from_pairs`, indexed by shipment_id).

    The stream is every shipment of the HS codes that were valued. `inclusion` (π by
    shipment_id, e.g. from the selection that chose the controls) is used when given; else
    the controls are taken as a simple random sample within each HS code over the ledger's
    period (`stratified_srs_inclusion`, post-stratified by HS code; true of
    `simulate_ledger`'s controls, an SRS of all shipments). Risk-picked controls are NOT an
    SRS: pass their `inclusion` (`inclusion_probabilities` of each period's selection).
    Columns: quantity, n_checked, n_stream, estimate, se, lo, hi, naive (N·ȳ), level."""
    sh = shipments.set_index("shipment_id")
    stream = sh[sh["hs6"].isin(sh.loc[per_shipment.index, "hs6"].unique())]
    if inclusion is None:
        pi = stratified_srs_inclusion(pd.Series(stream.index.isin(per_shipment.index),
                                                index=stream.index), stream["hs6"])
    else:
        pi = inclusion.reindex(per_shipment.index)
        if pi.isna().any():
            raise SelectionInputError(f"inclusion probability missing for checked shipment "
                                      f"{pi.index[pi.isna()][0]!r}")
    p = pi.loc[per_shipment.index].to_numpy(float)
    rows = []
    for k, c in enumerate(columns):
        e = horvitz_thompson(per_shipment[c].to_numpy(float), p, population=len(stream),
                             level=level, n_boot=n_boot,
                             random_state=None if random_state is None else random_state + k)
        rows.append((c, e.n, e.N, e.total, e.se, e.lo, e.hi, e.naive_total, level))
    return pd.DataFrame(rows, columns=["quantity", "n_checked", "n_stream", "estimate", "se",
                                       "lo", "hi", "naive", "level"])
