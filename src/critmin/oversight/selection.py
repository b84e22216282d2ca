"""Selection of shipments for state control sampling under a budget (issue 5, item 4).

Every period the state laboratory can re-assay `budget` shipments. The selection is

1. a **random share** r (default 10 %, never zero): n_rand = max(1, round(r · B)) shipments
   drawn uniformly without replacement. Unpredictable picks keep every exporter exposed
   (deterrence under inspector leadership, Avenhaus, von Stengel & Zamir 2002) and give
   unbiased monitoring data for the bias screen;
2. the rest, B − n_rand, by the **policy**:
   - ``random``: all B uniform (the baseline);
   - ``value``: probability ∝ declared value (PPS without replacement, Efraimidis & Spirakis
     2006 keys u^(1/w));
   - ``risk``: the highest score of recoverable value given the current bias estimates
     (greedy top-k, the exact 0/1 knapsack solution when every control costs one sample);
   - ``oracle``: as ``risk`` with the TRUE biases (synthetic ledgers only).

Recoverable value of shipment i with declared contained value V_ie of element e, declaring
group j (laboratory) and group bias b_je on the ln scale (d = ln(control/declared), d > 0 =
declared too low; `critmin.oversight.bias`):

    ΔV_i = Σ_e V_ie · (e^{b_je} − 1)                 value of control − value declared

With a normal posterior b ~ N(m, s²) (`estimate_biases`, from `LabBiasModel` on the control
assays so far and, by default, a peer prior from DECLARED grades, `declared_grade_prior`):

    expected_recoverable_usd = Σ_e V_ie · (e^{m + s²/2} − 1)               (posterior mean of ΔV)
    score 'thompson' = Σ_e V_ie · (e^{b̃_je} − 1), b̃ ~ N(m, s²) drawn per group × element,
                       afresh for each pick
    score 'option'   = Σ_e V_ie · E[(e^b − 1)^+]                            (default)
                     = Σ_e V_ie · [e^{m + s²/2} Φ((m + s²)/s) − Φ(m/s)]
    score 'mean'     = max(0, expected_recoverable_usd)

Declared-grade prior (`declared_grade_prior`, [assumption] lots assigned to labs at random
within an exporter × product): a lab whose declared grades sit below those of the other labs
serving the same exporter and HS code gets a prior mean bias ≈ that gap (shrunk), before any
control. The under-reporting lab is then ranked first from the first month instead of being
found by exploration. Benchmark (benchmarks/RESULTS.md, "oversight selection", second
section of 2026-11-29; 40 synthetic seeds, 5 % rate): share of the oracle 0.71 (Thompson,
controls only: the previous default) → 0.82 (Thompson + prior) → 0.90 ('option' + prior);
at 10 %: 0.83 → 0.90 → 0.93. With the prior the posterior is already informative, so the
deterministic 'option' score (the expected positive part, a call on the bias with strike 0)
wins: it exploits the flagged lab at once and still explores through the posterior width,
where Thompson spends picks on random draws. Without the prior 'option' can settle on a
moderately biased lab before finding a worse one (0.58 of the oracle at 5 %) and 'thompson'
(batch Thompson sampling, a fresh draw per pick; Kandasamy et al. 2018) was better; pass
``scoring='thompson', declared_prior=False`` for that earlier behaviour. 'mean' is pure
exploitation and does worst. Thompson picks are random but come from the logged seed. One
Thompson draw per lab per period (instead of per pick) was tried and did worse (0.77 vs 0.81
on 12 seeds at 5 %).

Every selection is logged (`Selection.log`): shipment, reason, expected recoverable value,
score, the seed and the policy; the same candidates, estimates and seed give the same log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtr

from critmin.catalog.units import price_to_usd_per_t
from critmin.errors import CritminError
from critmin.oversight.bias import BiasInputError, LabBiasModel
from critmin.oversight.schema import Ledger
from critmin.oversight.terms import ContractTerms, default_terms
from critmin.oversight.valuation import concentrate_value, undeclared_value

__all__ = ["POLICIES", "PRICES_2024_ASSUMED", "Selection", "SelectionInputError",
           "PolicyRun", "candidates_from_ledger", "estimate_biases", "true_biases",
           "declared_grades", "declared_grade_prior", "ledger_inputs",
           "select_shipments", "select_from_ledger", "simulate_policy",
           "expected_positive_part"]

Policy = Literal["random", "value", "risk", "oracle"]
Scoring = Literal["option", "mean", "thompson"]
POLICIES: tuple[str, ...] = ("random", "value", "risk", "oracle")
ANY = "*"  # group or element key of a bias-estimate row that applies to all others

# Stated assumptions for 2024 (round annual averages; pass warehouse prices where available):
# LME copper ~9,100 USD/t, LBMA gold ~2,400 USD/troy oz, silver ~28 USD/troy oz.
PRICES_2024_ASSUMED: dict[str, float] = {
    "Cu": 9_100.0,
    "Au": price_to_usd_per_t(2_400.0, "USD/troy oz"),
    "Ag": price_to_usd_per_t(28.0, "USD/troy oz"),
}

LOG_COLUMNS = ["shipment_id", "laboratory_id", "exporter_id", "rank", "reason",
               "expected_recoverable_usd", "score", "seed", "policy"]


class SelectionInputError(CritminError, ValueError):
    """Inputs a selection cannot use (bad budget, share, policy, missing columns)."""


@dataclass(frozen=True)
class Selection:
    """The shipments selected for control sampling in one period.

    `log`: one row per selected shipment in order of selection (random picks first):
    shipment_id, laboratory_id, exporter_id, rank, reason ('random' | 'value' | 'risk' |
    'oracle'), expected_recoverable_usd (posterior mean of ΔV; NaN without estimates), score
    (the ranking quantity of the reason: the uniform key, the PPS key, or the risk score),
    seed, policy. `seed` re-creates the selection exactly."""
    log: pd.DataFrame
    seed: int
    policy: str
    budget: int
    n_random: int
    scoring: str | None = None

    @property
    def shipment_ids(self) -> list[str]:
        return self.log["shipment_id"].tolist()


# ---------------------------------------------------------------------------------------------
# maths


def expected_positive_part(m, s):
    """E[(e^b − 1)^+] for b ~ N(m, s²) = e^{m + s²/2} Φ((m + s²)/s) − Φ(m/s); max(0, e^m − 1)
    at s = 0 (the Black–Scholes call on a lognormal with strike 1)."""
    m = np.asarray(m, float)
    s = np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.exp(m + s * s / 2) * ndtr((m + s * s) / s) - ndtr(m / s)
    return np.where(s > 0, np.maximum(v, 0.0), np.maximum(np.expm1(m), 0.0))


def _seed(random_state) -> int:
    """An int seed to log: the int given, one drawn from a Generator, or fresh entropy."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2 ** 63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2 ** 63 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise SelectionInputError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    raise SelectionInputError("random_state must be an int seed, a numpy Generator or None, "
                              f"not {type(random_state).__name__}")


# ---------------------------------------------------------------------------------------------
# bias estimates


def estimate_biases(pairs: pd.DataFrame, *, by: str = "laboratory_id",
                    prior_sd: float = 0.10, sigma_within: float = 0.05,
                    declared_prior: pd.DataFrame | None = None) -> pd.DataFrame:
    """Posterior N(posterior_mean, posterior_sd²) of the bias b_je of each group j × element e
    on the ln scale, from paired assays (`bias.paired_assays` columns `by`, element, d).

    Per element, `LabBiasModel` gives σ²_w, τ̂² and the group means; the posterior is then
    recomputed with τ² = max(τ̂², prior_sd²) (Morris 1983, as in `LabBiasModel`):
    B = v/(v + τ²), v = σ²_w/n_j, mean = B μ + (1 − B) d̄_j, var = (1 − B) v + B²/Σw*.
    The floor `prior_sd` is a [design] prior: laboratories may differ by about that much
    (0.10 ≈ 10 %) before any data say so; without it an early sample of honest labs gives
    τ̂² = 0 and every unchecked lab would be taken as known-honest. One row per element with
    group "*" holds the prior of groups not yet checked: N(μ, τ² + 1/Σw*).

    Columns: `by`, element, n, posterior_mean, posterior_sd. An element with no group of two
    or more pairs (σ²_w not estimable) uses σ_w = `sigma_within` ([design], 0.05 ≈ 5 % on the
    ln scale, between the Cu and Au spread of the simulated labs). With no pairs at all, the
    table has one row ("*", "*") = N(0, prior_sd²).

    `declared_prior` (optional; `declared_grade_prior`): a peer-gap observation g_j of
    b_j − μ with variance u_j per group × element, from declared grades alone (no control
    needed). It enters as one more independent measurement of b_j next to the control mean:
    precision P = 1/τ² + n_j/σ²_w + 1/u_j, mean = (μ/τ² + d̄_j n_j/σ²_w + (μ + g_j)/u_j)/P,
    var = 1/P + (1/(τ² P))² /Σw*. Groups with a prior but no control get their own row
    (n = 0). Without `declared_prior` the result is exactly the control-only posterior
    above. The gap shares the lot's declared-assay error with the control d of the same lots
    (ignored: a small positive correlation that makes the combined posterior a little too
    narrow)."""
    if not prior_sd > 0:
        raise SelectionInputError(f"prior_sd must be > 0, got {prior_sd}")
    cols = [by, "element", "n", "posterior_mean", "posterior_sd"]
    rows: list[tuple] = []
    has_pairs = pairs is not None and len(pairs) > 0
    if has_pairs:
        missing = {by, "element", "d"} - set(pairs.columns)
        if missing:
            raise SelectionInputError(f"pairs lack columns {sorted(missing)}")
    dp = None
    if declared_prior is not None and len(declared_prior):
        missing = {by, "element", "gap_d", "gap_var"} - set(declared_prior.columns)
        if missing:
            raise SelectionInputError(f"declared_prior lacks columns {sorted(missing)}")
        dp = declared_prior[np.isfinite(declared_prior["gap_var"])
                            & (declared_prior["gap_var"] > 0)]
    els = sorted(set(pairs["element"] if has_pairs else [])
                 | set(dp["element"] if dp is not None else []))
    for el in els:
        g = pairs[pairs["element"] == el] if has_pairs else None
        if g is not None and len(g):
            agg = g.groupby(by, sort=True)["d"].agg(["size", "mean"])
            try:
                fit = LabBiasModel().fit(g["d"].to_numpy(), g[by].to_numpy())
                s2w, tau2_hat = fit.sigma2_within_, fit.tau2_
            except BiasInputError:  # no group with two pairs yet: assumed within-group SD
                s2w, tau2_hat = sigma_within ** 2, 0.0
            n = agg["size"].to_numpy(float)
            dbar = agg["mean"].to_numpy()
            v = s2w / n
            tau2 = max(tau2_hat, prior_sd ** 2)
            ws = 1 / (v + tau2)
            mu, var_mu = float((ws * dbar).sum() / ws.sum()), float(1 / ws.sum())
            ctl = {lab: (int(k), d, vv) for lab, k, d, vv in zip(agg.index, n, dbar, v)}
        else:  # declared grades only, no control yet for this element
            tau2, mu, var_mu, ctl = prior_sd ** 2, 0.0, 0.0, {}
        pri = ({} if dp is None else
               {lab: (gd, gv + tau2 / max(int(k), 1)) for lab, gd, gv, k in
                dp[dp["element"] == el][[by, "gap_d", "gap_var", "n_peer_groups"]].itertuples(
                    index=False, name=None)})
        for lab in sorted(set(ctl) | set(pri), key=str):
            k, d, vv = ctl.get(lab, (0, 0.0, np.inf))
            gd, u = pri.get(lab, (0.0, np.inf))
            prec = 1 / tau2 + 1 / vv + 1 / u
            pm = (mu / tau2 + d / vv + (mu + gd) / u) / prec
            ps = np.sqrt(1 / prec + (1 / (tau2 * prec)) ** 2 * var_mu)
            rows.append((lab, el, k, float(pm), float(ps)))
        rows.append((ANY, el, 0, mu, float(np.sqrt(tau2 + var_mu))))
    if not rows:
        rows.append((ANY, ANY, 0, 0.0, prior_sd))
    return pd.DataFrame(rows, columns=cols)


def declared_grades(ledger: Ledger, *, by: str = "laboratory_id") -> pd.DataFrame:
    """The declared grades of a ledger, one row per certificate × element: shipment_id,
    element, value, `by` (the certificate's), exporter_id, hs6, date (input of
    `declared_grade_prior`; needs no control assay)."""
    c = ledger.certificates[["shipment_id", "element", "value", *(
        [by] if by in ledger.certificates.columns else [])]]
    sh = ledger.shipments[["shipment_id", "exporter_id", "hs6", "date",
                           *([by] if by not in c.columns else [])]]
    return c.merge(sh, on="shipment_id")


def declared_grade_prior(declared: pd.DataFrame, *, by: str = "laboratory_id",
                         cell: tuple[str, ...] = ("exporter_id", "hs6"),
                         min_n: int = 2) -> pd.DataFrame:
    """A per-group prior on the control bias from DECLARED grades alone (before any control).

    Within a cell (default: one exporter × one HS code) and an element, the ln declared grade
    of group (laboratory) j is compared with the pooled lots of its peers (the other groups of
    the cell): gap_d = mean_peers(ln g) − mean_j(ln g), on the scale of d = ln(control /
    declared), so gap_d > 0 = j declares lower than its peers (under-reports if they are
    honest); gap_var = s²_w (1/n_j + 1/n_peers), s²_w the pooled within-group variance of
    ln g in the cell. A group in several cells: precision-weighted mean of its gaps.
    Columns: `by`, element, n (lots of j), gap_d, gap_var, n_peer_groups (fewest peers).
    `estimate_biases(declared_prior=...)` reads gap_d as a measurement of b_j − μ with
    variance gap_var + τ²/n_peer_groups (the peers' own mean bias).

    [assumption] Lots are assigned to laboratories AT RANDOM within an exporter and product,
    so every lab of a cell sees the same true-grade distribution and a gap in declared grades
    is a gap in bias. It fails when assignment is not random: a lab serving one mine or one
    grade band of an exporter (e.g. the high-grade stockpile), a lab hired only in a season
    when the ore was poorer, or a lab the exporter switched to after a grade change; then the
    gap is partly real grade and the prior would send controls to an honest lab (the control
    data then correct it: the prior is one measurement among the controls, never a verdict).
    It also sees only RELATIVE bias: if every lab of a cell under-reports alike, gaps are 0.
    Groups with fewer than `min_n` lots in a cell, or cells with one group, give no row."""
    need = {by, "element", "value", *cell}
    if missing := need - set(declared.columns):
        raise SelectionInputError(f"declared grades lack columns {sorted(missing)}")
    d = declared[(declared["value"] > 0) & declared[by].notna()]
    cols = [by, "element", "n", "gap_d", "gap_var", "n_peer_groups"]
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d.assign(lg=np.log(d["value"].to_numpy(float)))
    keys = [*cell, "element"]
    a = d.groupby([*keys, by], sort=True)["lg"].agg(n="size", s="sum", ss=lambda x: (
        (x - x.mean()) ** 2).sum()).reset_index()
    a = a[a["n"] >= min_n]
    if a.empty:
        return pd.DataFrame(columns=cols)
    tot = a.groupby(keys)[["n", "s", "ss"]].transform("sum")
    k = a.groupby(keys)[by].transform("size")
    a = a.assign(N=tot["n"], S=tot["s"], SS=tot["ss"], k=k)
    a = a[(a["k"] >= 2) & (a["N"] - a["k"] > 0)]
    if a.empty:
        return pd.DataFrame(columns=cols)
    s2w = a["SS"] / (a["N"] - a["k"])
    n_peer = a["N"] - a["n"]
    gap = (a["S"] - a["s"]) / n_peer - a["s"] / a["n"]
    var = s2w * (1 / a["n"] + 1 / n_peer)
    a = a.assign(gap=gap, var=var, w=1 / var)[np.isfinite(var) & (var > 0)]
    if a.empty:
        return pd.DataFrame(columns=cols)
    a = a.assign(wg=a["w"] * a["gap"], kp=a["k"] - 1)
    out = a.groupby([by, "element"], sort=True).agg(n=("n", "sum"), wg=("wg", "sum"),
                                                    w=("w", "sum"), kp=("kp", "min"))
    out = out.assign(gap_d=out["wg"] / out["w"], gap_var=1 / out["w"],
                     n_peer_groups=out["kp"].astype(int)).reset_index()
    return out[cols]


def true_biases(ledger: Ledger, *, by: str = "laboratory_id") -> pd.DataFrame:
    """The TRUE bias of each group × element of a synthetic ledger: mean over all the group's
    shipments of ln(true / declared), posterior_sd 0 (the oracle's knowledge). Same columns
    as `estimate_biases`."""
    if ledger.truth is None or ledger.truth.empty:
        raise SelectionInputError("the oracle needs a ledger with a truth table "
                                  "(synthetic ledgers only)")
    c = ledger.certificates.merge(ledger.truth[["shipment_id", "element", "value"]],
                                  on=["shipment_id", "element"], suffixes=("", "_true"))
    c = c.merge(ledger.shipments[["shipment_id", "exporter_id"]], on="shipment_id")
    c = c[(c["value"] > 0) & (c["value_true"] > 0)]
    c = c.assign(d=np.log(c["value_true"] / c["value"]))
    out = c.groupby([by, "element"], as_index=False).agg(n=("d", "size"),
                                                         posterior_mean=("d", "mean"))
    return out.assign(posterior_sd=0.0)[[by, "element", "n", "posterior_mean", "posterior_sd"]]


def _posterior_matrix(cand: pd.DataFrame, estimates: pd.DataFrame, elements: list[str],
                      by: str, prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """(m, s) arrays n × E for each candidate's group and each element: the exact row, else
    (*, element), else (group, *), else (*, *), else N(0, prior_sd²)."""
    if by not in estimates.columns:
        raise SelectionInputError(f"bias_estimates lack the group column {by!r}")
    est = {(g, e): (m, s) for g, e, m, s in estimates[[by, "element", "posterior_mean",
                                                        "posterior_sd"]].itertuples(
        index=False, name=None)}
    # look up each distinct group once, then broadcast by the group codes (10⁶ candidates)
    codes, uniq = pd.factorize(cand[by], use_na_sentinel=False)
    m = np.empty((len(cand), len(elements)))
    s = np.empty_like(m)
    for k, el in enumerate(elements):
        ms = np.array([next((est[key] for key in ((g, el), (ANY, el), (g, ANY), (ANY, ANY))
                             if key in est), (0.0, prior_sd)) for g in uniq],
                      dtype=float).reshape(-1, 2)
        m[:, k], s[:, k] = ms[codes, 0], ms[codes, 1]
    return m, s


# ---------------------------------------------------------------------------------------------
# candidates


def posterior_bias(cand: pd.DataFrame, bias_estimates: pd.DataFrame | None,
                   elements: list[str], V: np.ndarray, by: str, prior_sd: float):
    """(m, s, expected recoverable USD per candidate): the posterior mean and SD of each
    candidate's ln bias per element (`bias_estimates`, None = the prior N(0, prior_sd²) for
    every group) and Σ_e V·E[e^b − 1] with b ~ N(m, s²), V the declared value by element."""
    est = bias_estimates if bias_estimates is not None else pd.DataFrame(
        [(ANY, ANY, 0, 0.0, prior_sd)], columns=[by, "element", "n", "posterior_mean",
                                                 "posterior_sd"])
    m, s = _posterior_matrix(cand, est, elements, by, prior_sd)
    return m, s, (V * np.expm1(m + s * s / 2)).sum(axis=1)


def _value_columns(cand: pd.DataFrame, values) -> tuple[list[str], np.ndarray]:
    """(elements, V n × E): per-element `value_usd_<el>` columns, else `values` or
    `declared_value_usd` as one element '*'."""
    if values is not None:
        v = np.asarray(values, float).reshape(len(cand), -1) if not isinstance(
            values, pd.DataFrame) else values.to_numpy(float)
        els = list(values.columns) if isinstance(values, pd.DataFrame) else [ANY]
    else:
        vc = [c for c in cand.columns if c.startswith("value_usd_")]
        if vc:
            els, v = [c.removeprefix("value_usd_") for c in vc], cand[vc].to_numpy(float)
        elif "declared_value_usd" in cand.columns:
            els, v = [ANY], cand[["declared_value_usd"]].to_numpy(float)
        else:
            raise SelectionInputError("candidates need value_usd_<element> columns or "
                                      "declared_value_usd (or pass values=)")
    if v.shape[0] != len(cand):
        raise SelectionInputError("values must have one row per candidate")
    if np.isnan(v).any() or (v < 0).any():
        i = int(np.flatnonzero(np.isnan(v).any(axis=1) | (v < 0).any(axis=1))[0])
        raise SelectionInputError(f"declared value missing or negative for candidate "
                                  f"{cand['shipment_id'].iloc[i]!r}; values are never filled in")
    return els, v


def _priced_groups(grades: pd.DataFrame, prices: Mapping[str, float]):
    """Shipments grouped by the set of elements they carry (copper concentrate, gold ore ...),
    restricted to priced elements: [(index, elements)]. No grade is ever filled in."""
    mask = grades.notna().to_numpy()
    cols = np.asarray(grades.columns, dtype=object)
    patterns, inv = np.unique(mask, axis=0, return_inverse=True)
    out = []
    for k, pat in enumerate(patterns):
        els = [e for e in cols[pat] if e in prices]
        if els:
            out.append((grades.index[inv.ravel() == k], els))
    return out


def candidates_from_ledger(ledger: Ledger, *, terms: ContractTerms | None = None,
                           prices_usd_per_t: Mapping[str, float] | None = None,
                           period: str | None = None) -> pd.DataFrame:
    """Candidates for selection from a ledger: one row per shipment (of `period`, 'YYYY-MM',
    if given): shipment_id, exporter_id, laboratory_id (the certificate's; the first if a
    shipment has several), hs6, date, dry_t, value_usd_<el> = V_e = D · g_e · k_u · π_e at
    the declared grade (contained value, the MET base; 0 for an element the shipment does not
    carry) for every priced element, and declared_contained_usd = Σ_e V_e. Default prices:
    `PRICES_2024_ASSUMED` (stated assumptions)."""
    terms = terms or default_terms()
    prices = dict(PRICES_2024_ASSUMED if prices_usd_per_t is None else prices_usd_per_t)
    sh = ledger.shipments
    if period is not None:
        sh = sh[pd.to_datetime(sh["date"]).dt.to_period("M").astype(str) == period]
    cert = ledger.certificates[ledger.certificates["shipment_id"].isin(sh["shipment_id"])]
    grades = cert.pivot_table(index="shipment_id", columns="element", values="value",
                              aggfunc="first")
    lab = cert.drop_duplicates("shipment_id").set_index("shipment_id")["laboratory_id"]
    out = sh[["shipment_id", "exporter_id", "hs6", "date", "dry_t"]].set_index("shipment_id")
    out = out.join(lab)
    els = sorted({e for e in grades.columns if e in prices})
    vals = pd.DataFrame(0.0, index=out.index, columns=[f"value_usd_{e}" for e in els])
    units = ledger.element_units()
    groups = _priced_groups(grades, prices)
    for idx, ge in groups:
        cv = concentrate_value(out.loc[idx, "dry_t"], grades.loc[idx, ge], terms,
                               {e: prices[e] for e in ge}, grade_units={e: units[e] for e in ge})
        for e in ge:
            vals.loc[idx, f"value_usd_{e}"] = cv[f"contained_value_usd_{e}"].to_numpy()
    out = out.join(vals)
    out["declared_contained_usd"] = vals.sum(axis=1)
    return out.reset_index()[["shipment_id", "exporter_id", "laboratory_id", "hs6", "date",
                              "dry_t", *vals.columns, "declared_contained_usd"]]


# ---------------------------------------------------------------------------------------------
# selection


def select_shipments(candidates: pd.DataFrame, budget: int, *, random_share: float = 0.10,
                     policy: Policy = "risk", bias_estimates: pd.DataFrame | None = None,
                     values=None, random_state=None, scoring: Scoring = "option",
                     by: str = "laboratory_id", prior_sd: float = 0.10) -> Selection:
    """Select `budget` shipments (a number of control samples) from `candidates`: first
    n_rand = max(1, round(random_share · budget)) uniformly at random (all of them for policy
    'random'), then the rest by `policy` (module docstring). Deterministic given the seed.

    candidates: shipment_id (unique), `by` (default laboratory_id; needed by risk/oracle),
        optional exporter_id, and declared values: `value_usd_<element>` columns (as made by
        `candidates_from_ledger`) or `declared_value_usd`, or pass `values`.
    bias_estimates: as `estimate_biases` (risk; None = the prior N(0, prior_sd²) for all, so
        risk falls back to value order) or `true_biases` (oracle, required).
    random_state: int seed (logged), numpy Generator (an int seed is drawn from it and logged)
        or None (fresh entropy, logged).
    A budget at or above the number of candidates selects them all."""
    if policy not in POLICIES:
        raise SelectionInputError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if scoring not in ("option", "mean", "thompson"):
        raise SelectionInputError(f"scoring must be 'option', 'mean' or 'thompson', "
                                  f"not {scoring!r}")
    if not 0 < random_share <= 1:
        raise SelectionInputError(f"random_share must be in (0, 1] (never zero: the random "
                                  f"share deters and keeps monitoring unbiased), got "
                                  f"{random_share}")
    if isinstance(budget, bool) or not float(budget).is_integer() or budget < 0:
        raise SelectionInputError(f"budget must be a whole number of control samples >= 0, "
                                  f"got {budget!r}")
    if "shipment_id" not in candidates.columns:
        raise SelectionInputError("candidates need a shipment_id column")
    if candidates["shipment_id"].duplicated().any():
        dup = candidates.loc[candidates["shipment_id"].duplicated(), "shipment_id"].iloc[0]
        raise SelectionInputError(f"candidates list shipment {dup!r} twice")
    if policy == "oracle" and bias_estimates is None:
        raise SelectionInputError("policy 'oracle' needs bias_estimates with the true biases "
                                  "(`true_biases(ledger)`; synthetic ledgers only)")
    seed = _seed(random_state)
    rng = np.random.default_rng(seed)
    cand = candidates.reset_index(drop=True)
    n = len(cand)
    k = min(int(budget), n)
    n_rand = k if policy == "random" else (min(k, max(1, round(random_share * budget)))
                                           if k >= 1 else 0)
    elements, V = _value_columns(cand, values) if (policy != "random" or
                                                    bias_estimates is not None) else ([], None)
    exp_rec = np.full(n, np.nan)
    m = s = None
    if bias_estimates is not None or policy in ("risk", "oracle"):
        if by not in cand.columns:
            raise SelectionInputError(f"candidates need the group column {by!r} for policy "
                                      f"{policy!r}")
        m, s, exp_rec = posterior_bias(cand, bias_estimates, elements, V, by, prior_sd)

    # 1. the random share: uniform keys; the first n_rand in key order
    ukey = rng.random(n)
    # the n_rand largest keys in key order (a partition, not a sort of all n)
    order_r = (np.argpartition(-ukey, n_rand - 1)[:n_rand] if 0 < n_rand < n
               else np.arange(n)[:n_rand])
    order_r = order_r[np.argsort(-ukey[order_r], kind="stable")]
    chosen = list(order_r)
    reasons = ["random"] * n_rand
    scores = list(ukey[order_r])
    left = np.ones(n, bool)
    left[order_r] = False
    rest = np.flatnonzero(left)
    n_rest = k - n_rand
    # 2. the rest by policy
    if n_rest > 0:
        Vtot = V.sum(axis=1)
        if policy == "value":
            u = rng.random(rest.size)
            with np.errstate(divide="ignore"):
                key = np.where(Vtot[rest] > 0, np.log(u) / Vtot[rest], -np.inf)  # ln u^(1/w)
            pick = np.lexsort((-u, -key))[:n_rest]
        elif policy == "risk" and scoring == "thompson":
            pick, key = _batch_thompson(V[rest], m[rest], s[rest],
                                        cand[by].astype(str).to_numpy()[rest], n_rest, rng)
        else:  # risk ('option' or 'mean'), oracle (known biases: all scorings agree)
            if scoring == "mean" or policy == "oracle":
                score = np.maximum(exp_rec, 0.0)
            else:
                score = (V * expected_positive_part(m, s)).sum(axis=1)
            key = score[rest]
            pick = _top_k(key, Vtot[rest], ukey[rest], n_rest)
        chosen += list(rest[pick])
        reasons += [policy] * n_rest
        scores += list(key[pick])
    idx = np.array(chosen, dtype=int)
    log = pd.DataFrame({
        "shipment_id": cand["shipment_id"].iloc[idx].to_numpy(object),
        "laboratory_id": (cand[by].iloc[idx].to_numpy(object) if by in cand.columns
                          else np.full(idx.size, None, object)),
        "exporter_id": (cand["exporter_id"].iloc[idx].to_numpy(object) if "exporter_id" in
                        cand.columns else np.full(idx.size, None, object)),
        "rank": np.arange(1, idx.size + 1),
        "reason": reasons,
        "expected_recoverable_usd": exp_rec[idx],
        "score": np.asarray(scores, float),
        "seed": seed, "policy": policy})
    if by != "laboratory_id":
        log = log.rename(columns={"laboratory_id": by})
    return Selection(log=log, seed=seed, policy=policy, budget=int(budget), n_random=n_rand,
                     scoring=None if policy in ("random", "value") else
                     ("mean" if policy == "oracle" else scoring))


def _top_k(key: np.ndarray, value: np.ndarray, u: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest `key`, ties (e.g. no information yet) broken by larger
    `value` (declared value), then larger `u` (at random). Sorts only the rows at or above the
    k-th largest key, so a million candidates cost one partition, not a full sort."""
    if k < key.size:
        kth = np.partition(key, key.size - k)[key.size - k]
        sub = np.flatnonzero(key >= kth)
    else:
        sub = np.arange(key.size)
    return sub[np.lexsort((-u[sub], -value[sub], -key[sub]))][:k]


def _batch_thompson(V: np.ndarray, m: np.ndarray, s: np.ndarray, groups: np.ndarray, k: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Batch Thompson sampling (Kandasamy et al. 2018): for each of the k picks a fresh draw
    b̃ ~ N(m, s²) per group × element (shipments of a group share it), score
    Σ_e V_e (e^b̃ − 1), take the best shipment not yet taken. Returns (picks, score of every
    row at the draw that picked it, NaN elsewhere)."""
    _, inv = np.unique(groups, return_inverse=True)
    left = np.ones(len(V), bool)
    picks, key = [], np.full(len(V), np.nan)
    for _ in range(k):
        z = rng.standard_normal((int(inv.max()) + 1, m.shape[1]))[inv]
        sc = np.where(left, (V * np.expm1(m + s * z)).sum(axis=1), -np.inf)
        j = int(np.argmax(sc))
        picks.append(j)
        key[j] = sc[j]
        left[j] = False
    return np.array(picks, dtype=int), key


def select_from_ledger(ledger: Ledger, budget: int, *, period: str | None = None,
                       policy: Policy = "risk", random_share: float = 0.10,
                       random_state=None, terms: ContractTerms | None = None,
                       prices_usd_per_t: Mapping[str, float] | None = None,
                       scoring: Scoring = "option", prior_sd: float = 0.10,
                       exclude_checked: bool = True, declared_prior: bool = True
                       ) -> Selection:
    """One period's selection from a ledger (the CLI's `critmin oversight select`): candidates
    from `candidates_from_ledger` (shipments already carrying a control assay left out when
    `exclude_checked`), bias estimates from all the ledger's control assays
    (`paired_assays` -> `estimate_biases`, with `declared_grade_prior` of the ledger's
    declared grades up to the end of `period` when `declared_prior`), then
    `select_shipments`."""
    cand, est = ledger_inputs(ledger, period=period, oracle=policy == "oracle", terms=terms,
                              prices_usd_per_t=prices_usd_per_t, prior_sd=prior_sd,
                              exclude_checked=exclude_checked, declared_prior=declared_prior)
    return select_shipments(cand, budget, random_share=random_share, policy=policy,
                            bias_estimates=est, random_state=random_state, scoring=scoring,
                            prior_sd=prior_sd)


def ledger_inputs(ledger: Ledger, *, period: str | None = None, oracle: bool = False,
                  terms: ContractTerms | None = None,
                  prices_usd_per_t: Mapping[str, float] | None = None,
                  prior_sd: float = 0.10, exclude_checked: bool = True,
                  declared_prior: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(candidates, bias estimates) of one period of a ledger, as `select_from_ledger` uses
    them (and the cost-aware `costs.select_by_cost`): candidates from
    `candidates_from_ledger` without already-checked shipments when `exclude_checked`;
    estimates from all control assays (`estimate_biases`, with the declared-grade prior of
    declared grades up to the end of `period` when `declared_prior`), or the true biases
    when `oracle` (synthetic ledgers)."""
    from critmin.oversight.bias import paired_assays
    cand = candidates_from_ledger(ledger, terms=terms, prices_usd_per_t=prices_usd_per_t,
                                  period=period)
    if exclude_checked:
        cand = cand[~cand["shipment_id"].isin(ledger.control_assays["shipment_id"])]
    if oracle:
        return cand, true_biases(ledger)
    dprior = None
    if declared_prior:
        dg = declared_grades(ledger)
        if period is not None:
            dg = dg[pd.to_datetime(dg["date"]).dt.to_period("M").astype(str) <= period]
        dprior = declared_grade_prior(dg)
    return cand, estimate_biases(paired_assays(ledger), prior_sd=prior_sd,
                                 declared_prior=dprior)


# ---------------------------------------------------------------------------------------------
# sequential simulation


@dataclass(frozen=True)
class PolicyRun:
    """The outcome of `simulate_policy`: `periods` (one row per month: period, n_shipments,
    budget, n_random, recovered_usd = Σ ΔV contained over the selected shipments,
    recovered_nsr_usd, recovered_tax_usd, spent_usd (NaN without costs_usd),
    cumulative_usd) and `log` (every period's
    `Selection.log` with a `period` column and the realised `recovered_usd` per shipment)."""
    periods: pd.DataFrame
    log: pd.DataFrame
    policy: str
    rate: float
    seed: int
    scoring: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def recovered_usd(self) -> float:
        return float(self.periods["recovered_usd"].sum())


def _control_grades(ledger: Ledger, config, rng: np.random.Generator) -> pd.DataFrame:
    """A state-laboratory control assay of every (shipment, element) of the truth table, with
    the measurement model of `simulate.simulate_ledger` (its `measure`/`report` closures are not
    public, so this is the minimal equivalent; keep the two in step):
    c = g·exp(ε), ε ~ N(0, (a/g + b)²) with the element's `PrecisionSpec`, reported to the
    product's decimals and floored at its detection limit."""
    from critmin.oversight.simulate import DEFAULT_PRECISION, DEFAULT_PRODUCTS
    precision = config.precision if config is not None else DEFAULT_PRECISION
    products = config.products if config is not None else DEFAULT_PRODUCTS
    spec = {(p.hs6, g.element): (g.decimals, g.detection_limit) for p in products
            for g in p.grades}
    t = ledger.truth.merge(ledger.shipments[["shipment_id", "hs6"]], on="shipment_id")
    missing = {e for e in t["element"].unique() if e not in precision}
    if missing:
        raise SelectionInputError(f"no measurement precision for elements {sorted(missing)}; "
                                  "pass the ledger's SimulationConfig as config=")
    g = t["value"].to_numpy(float)
    a = t["element"].map(lambda e: precision[e].a).to_numpy(float)
    b = t["element"].map(lambda e: precision[e].b).to_numpy(float)
    x = g * np.exp((a / g + b) * rng.standard_normal(g.size))
    dec = np.array([spec.get(k, (6, 0.0))[0] for k in zip(t["hs6"], t["element"])])
    dl = np.array([spec.get(k, (6, 0.0))[1] for k in zip(t["hs6"], t["element"])])
    x = np.maximum(np.round(x * 10.0 ** dec) / 10.0 ** dec, dl)
    return t.assign(control=x)[["shipment_id", "element", "control"]]


def _shipment_outcomes(ledger: Ledger, controls: pd.DataFrame, terms: ContractTerms,
                       prices: Mapping[str, float]) -> pd.DataFrame:
    """Per shipment: ΔV (undeclared_contained_usd), ΔNSR and lost MET if it is controlled, via
    `valuation.undeclared_value` on each set of priced elements (dates for the MET rates)."""
    dec = ledger.certificates.pivot_table(index="shipment_id", columns="element",
                                          values="value", aggfunc="first")
    ctl = controls.pivot_table(index="shipment_id", columns="element", values="control",
                               aggfunc="first").reindex(index=dec.index, columns=dec.columns)
    ship = ledger.shipments.set_index("shipment_id").loc[dec.index]
    units = ledger.element_units()
    groups = _priced_groups(dec, prices)
    parts = []
    for idx, els in groups:
        parts.append(undeclared_value(
            dec.loc[idx, els], ctl.loc[idx, els], ship.loc[idx, "dry_t"], terms,
            {e: prices[e] for e in els}, on_date=pd.to_datetime(ship.loc[idx, "date"]),
            grade_units={e: units[e] for e in els}, carry_forward=True)[
            ["undeclared_contained_usd", "undeclared_nsr_usd", "lost_tax_usd"]])
    out = pd.concat(parts) if parts else pd.DataFrame(
        columns=["undeclared_contained_usd", "undeclared_nsr_usd", "lost_tax_usd"])
    return out.reindex(dec.index, fill_value=0.0)  # unpriced shipments recover nothing valued


def simulate_policy(ledger: Ledger, policy: Policy, rate: float, periods: int = 12, *,
                    random_share: float = 0.10, random_state: int = 0,
                    scoring: Scoring = "option", prior_sd: float = 0.10,
                    terms: ContractTerms | None = None,
                    prices_usd_per_t: Mapping[str, float] | None = None,
                    config=None, by: str = "laboratory_id",
                    declared_prior: bool = True,
                    costs_usd: pd.Series | None = None,
                    budget_usd: Mapping[str, float] | str | None = None) -> PolicyRun:
    """Run a selection policy month by month on a SYNTHETIC ledger (it needs `truth`).

    For each of the first `periods` calendar months with shipments: budget
    B_t = max(1, round(rate · N_t)); select with `select_shipments` (seed of month t derived
    from `random_state` and t, so every policy sees the same random share in the same month);
    observe a control assay of each selected shipment; refit the bias estimates on all
    controls so far (`estimate_biases`); recovered value = Σ ΔV over the selected shipments.

    Control assays: one per (shipment, element) drawn once from the truth with the measurement
    model of `simulate.py` (`_control_grades`), seeded by `random_state` alone, so every policy
    meets the same control result for the same shipment (common random numbers). The ledger's
    own `control_assays` are ignored (the run starts with no history). ΔV, ΔNSR and lost MET
    use `undeclared_value` with `terms` (default `default_terms()`) and `prices_usd_per_t`
    (default `PRICES_2024_ASSUMED`); shipments without a priced element recover 0.
    Oracle: `true_biases(ledger)` (the realised bias of each lab over all its shipments).

    `declared_prior` (policy 'risk' only; default True): each month the bias estimates also
    take `declared_grade_prior` of the declared grades of every shipment up to the end of
    that month (declared grades are known when lots are selected; no truth used). False =
    the control-only estimates (the behaviour before 2026-11-29's second benchmark).

    `costs_usd` (cost of a control per shipment_id, `costs.control_costs`): every period also
    records spent_usd = Σ cost of the picks. `budget_usd` (policy 'risk', needs `costs_usd`):
    select under a MONEY budget with `costs.select_by_cost` (knapsack) instead of a count:
    "rate" = M_t = rate · N_t · mean cost of the month's candidates (what a uniform count
    budget of the same rate spends on average), or a mapping period -> USD (e.g. what
    another run spent, for comparisons at equal money)."""
    if budget_usd is not None and costs_usd is None:
        raise SelectionInputError("budget_usd needs costs_usd")
    if ledger.truth is None or ledger.truth.empty:
        raise SelectionInputError("simulate_policy needs a synthetic ledger with a truth table")
    if not 0 < rate <= 1:
        raise SelectionInputError(f"rate must be in (0, 1], got {rate}")
    terms = terms or default_terms()
    prices = dict(PRICES_2024_ASSUMED if prices_usd_per_t is None else prices_usd_per_t)
    ss = np.random.SeedSequence(random_state)
    ctrl_ss, sel_ss = ss.spawn(2)
    controls = _control_grades(ledger, config, np.random.default_rng(ctrl_ss))
    outcome = _shipment_outcomes(ledger, controls, terms, prices)
    cand_all = candidates_from_ledger(ledger, terms=terms, prices_usd_per_t=prices)
    cand_all["period"] = pd.to_datetime(cand_all["date"]).dt.to_period("M").astype(str)
    cert = ledger.certificates[["shipment_id", "element", "value"]].rename(
        columns={"value": "declared"})
    pairs_all = cert.merge(controls, on=["shipment_id", "element"]).merge(
        cand_all[["shipment_id", by]], on="shipment_id")
    pairs_all = pairs_all[(pairs_all["declared"] > 0) & (pairs_all["control"] > 0)]
    pairs_all = pairs_all.assign(d=np.log(pairs_all["control"] / pairs_all["declared"]))
    oracle_est = true_biases(ledger, by=by) if policy == "oracle" else None
    decl = None
    if declared_prior and policy == "risk":
        decl = ledger.certificates[["shipment_id", "element", "value"]].merge(
            cand_all[["shipment_id", by, "exporter_id", "hs6", "period"]], on="shipment_id")
    month_seeds = [int(s.generate_state(1, np.uint64)[0] % (2 ** 63))
                   for s in sel_ss.spawn(periods)]
    checked: list[str] = []
    rows, logs = [], []
    months = sorted(cand_all["period"].unique())[:periods]
    for t, month in enumerate(months):
        cand = cand_all[cand_all["period"] == month]
        budget = max(1, int(round(rate * len(cand))))
        est = oracle_est if oracle_est is not None else estimate_biases(
            pairs_all[pairs_all["shipment_id"].isin(checked)], by=by, prior_sd=prior_sd,
            declared_prior=None if decl is None else declared_grade_prior(
                decl[decl["period"] <= month], by=by))
        if budget_usd is not None and policy == "risk":
            from critmin.oversight.costs import select_by_cost
            c_t = costs_usd.reindex(cand["shipment_id"])
            m_t = (rate * len(cand) * float(c_t.mean()) if isinstance(budget_usd, str)
                   else float(budget_usd[month]))
            sel = select_by_cost(cand, c_t, m_t,
                                 random_share=random_share, bias_estimates=est,
                                 random_state=month_seeds[t], by=by, prior_sd=prior_sd)
            budget = len(sel.log)
        else:
            sel = select_shipments(cand, budget, random_share=random_share, policy=policy,
                                   bias_estimates=est, random_state=month_seeds[t],
                                   scoring=scoring, by=by, prior_sd=prior_sd)
        ids = sel.shipment_ids
        checked += ids
        got = outcome.loc[ids]
        logs.append(sel.log.assign(period=month,
                                   recovered_usd=got["undeclared_contained_usd"].to_numpy()))
        rows.append((month, len(cand), budget, sel.n_random,
                     float(got["undeclared_contained_usd"].sum()),
                     float(got["undeclared_nsr_usd"].sum()), float(got["lost_tax_usd"].sum()),
                     float(costs_usd.reindex(ids).sum()) if costs_usd is not None
                     else float("nan")))
    per = pd.DataFrame(rows, columns=["period", "n_shipments", "budget", "n_random",
                                      "recovered_usd", "recovered_nsr_usd",
                                      "recovered_tax_usd", "spent_usd"])
    per["cumulative_usd"] = per["recovered_usd"].cumsum()
    log = pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=LOG_COLUMNS)
    return PolicyRun(periods=per, log=log, policy=policy, rate=rate, seed=int(random_state),
                     scoring=None if policy in ("random", "value") else scoring,
                     meta={"synthetic": True, "prices_usd_per_t": prices,
                           "total_undeclared_usd": float(
                               outcome.loc[cand_all["shipment_id"][
                                   cand_all["period"].isin(months)]][
                                   "undeclared_contained_usd"].sum())})
