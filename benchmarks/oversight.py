"""Bias estimation and risk scoring at national scale: 1,000,000 shipments, 100,000 control pairs.

What (SYNTHETIC ledger, seeded, built in memory here; never real data): 1,000,000 copper-
concentrate lots (HS 260300) of 200 exporter-hired laboratories serving 50 exporters (8 labs
each, about 2 exporters per lab), every lot certified for Cu (%) and Au (g/t); 50,000 lots
re-assayed by the state laboratory = 100,000 (declared, control) pairs. Labs L000–L009
under-report by 2–40 %, and exporter E000 by a further 10 % whichever lab it hires (a crossed
effect). Grades are log-normal; measurement error on the log scale, SD 0.02 for Cu,
0.08 for Au; reported to 2 decimals.

Timed steps, each path computing the same numbers (checked at the end):
  bias    `paired_assays` (ledger -> pairs) -> per lab × element one-sided paired t and
          Wilcoxon, empirical-Bayes posterior, BH q-values (`screen`); separately timed,
          crossed lab × exporter effects (`crossed_effects`, no per-group baseline);
  risk    `estimate_biases` (posterior per lab × element) -> score all 1,000,000 shipments
          (posterior-mean recoverable value and the 'option' score) -> `select_shipments`
          (10,000 picks: random share + risk).
Baseline (same run): the per-group way — a pandas groupby-apply calling `paired_t` and
`wilcoxon_signed_rank` per lab × element (the loop `screen` used before) and a Python loop
over laboratories × elements that masks the 1,000,000 candidates to score each group.
Inputs (ledger, candidate values) are built before the clock starts and shared by both paths.
Target (issue 5): the vectorised path plus the crossed fit under 10 s on this machine (best
of --repeat runs: the machine is shared). Exits 1 if it is not, or if the paths disagree.

    /work/venv/bin/python benchmarks/oversight.py [--shipments 1000000] [--pairs 100000]
                                                  [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from critmin.oversight.bias import (LabBiasModel, benjamini_hochberg, paired_assays, paired_t,
                                    screen, wilcoxon_signed_rank)
from critmin.oversight.crossed import crossed_effects
from critmin.oversight.schema import Ledger
from critmin.oversight.selection import (PRICES_2024_ASSUMED, estimate_biases,
                                         expected_positive_part, select_shipments)

N_LABS, N_EXPORTERS, LABS_PER_EXPORTER = 200, 50, 8
ELEMENTS = {"Cu": ("%", 22.0, 0.12, 0.02), "Au": ("g/t", 2.5, 0.45, 0.08)}
BUDGET = 10_000


def synthetic_ledger(n: int, n_pairs: int, seed: int = 0) -> Ledger:
    """The SYNTHETIC national-scale ledger described in the module docstring."""
    rng = np.random.default_rng(seed)
    labs = np.array([f"L{i:03d}" for i in range(N_LABS)])
    exporters = np.array([f"E{i:03d}" for i in range(N_EXPORTERS)])
    ex = rng.integers(0, N_EXPORTERS, n)
    # exporter x hires labs 4x + 7k (k < 8, mod 200): each lab serves about two exporters,
    # so lab and exporter effects are crossed, not nested
    lab = (4 * ex + 7 * rng.integers(0, LABS_PER_EXPORTER, n)) % N_LABS
    lab_bias = np.zeros(N_LABS)
    lab_bias[:10] = -np.linspace(0.02, 0.40, 10)
    ex_bias = np.zeros(N_EXPORTERS)
    ex_bias[0] = -0.10
    factor = (1 + lab_bias[lab]) * (1 + ex_bias[ex])
    ids = np.char.add("S", np.arange(n).astype(str))
    wet = rng.gamma(16.0, 1500 / 16.0, n)
    dry = wet * (1 - rng.normal(8.0, 1.5, n).clip(0, 30) / 100)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D")
    shipments = pd.DataFrame({"shipment_id": ids, "exporter_id": exporters[ex], "hs6": "260300",
                              "dry_t": dry, "date": dates, "synthetic": True})
    checked = np.sort(rng.choice(n, n_pairs // len(ELEMENTS), replace=False))
    certs, ctrl, truth = [], [], []
    for el, (unit, median, gsd_log, err) in ELEMENTS.items():
        g = median * np.exp(gsd_log * rng.standard_normal(n))
        dec = np.round(g * factor * np.exp(err * rng.standard_normal(n)), 2).clip(0.01)
        con = np.round(g[checked] * np.exp(err * rng.standard_normal(checked.size)), 2).clip(0.01)
        certs.append(pd.DataFrame({"shipment_id": ids, "laboratory_id": labs[lab], "element": el,
                                   "unit": unit, "value": dec, "synthetic": True}))
        ctrl.append(pd.DataFrame({"shipment_id": ids[checked], "kind": "control", "element": el,
                                  "unit": unit, "value": con, "synthetic": True}))
        truth.append(pd.DataFrame({"shipment_id": ids, "element": el, "value": g}))
    return Ledger(shipments=shipments, certificates=pd.concat(certs, ignore_index=True),
                  control_assays=pd.concat(ctrl, ignore_index=True),
                  truth=pd.concat(truth, ignore_index=True))


def candidate_values(ledger: Ledger) -> pd.DataFrame:
    """Candidates with declared contained value per element (USD) = dry t × grade × price."""
    c = ledger.certificates
    wide = c.pivot(index="shipment_id", columns="element", values="value")
    sh = ledger.shipments.set_index("shipment_id")
    lab = c.drop_duplicates("shipment_id").set_index("shipment_id")["laboratory_id"]
    out = sh[["exporter_id", "dry_t"]].join(lab)
    per_t = {"%": 1e-2, "g/t": 1e-6}
    for el, (unit, *_) in ELEMENTS.items():
        out[f"value_usd_{el}"] = (out["dry_t"] * wide.loc[out.index, el] * per_t[unit]
                                  * PRICES_2024_ASSUMED[el])
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# the two paths


def fast_path(ledger: Ledger, cand: pd.DataFrame) -> dict:
    pairs = paired_assays(ledger)
    table = screen(pairs)
    est = estimate_biases(pairs)
    sel = select_shipments(cand, BUDGET, policy="risk", bias_estimates=est, random_state=1)
    return {"pairs": pairs, "screen": table, "estimates": est, "selection": sel}


def naive_scores(cand: pd.DataFrame, est: pd.DataFrame) -> np.ndarray:
    """Option score per candidate, one laboratory × element at a time (the per-group way)."""
    score = np.zeros(len(cand))
    labs = cand["laboratory_id"]
    for el in ELEMENTS:
        e = est[est["element"] == el].set_index("laboratory_id")
        for lab in labs.unique():
            row = e.loc[lab] if lab in e.index else e.loc["*"]
            mask = (labs == lab).to_numpy()
            score[mask] += cand.loc[mask, f"value_usd_{el}"].to_numpy() * float(
                expected_positive_part(row["posterior_mean"], row["posterior_sd"]))
    return score


def naive_path(ledger: Ledger, cand: pd.DataFrame) -> dict:
    pairs = paired_assays(ledger)

    def tests(g: pd.DataFrame) -> pd.Series:
        d = g["d"].to_numpy()
        t = paired_t(d)
        w = wilcoxon_signed_rank(d) if (d != 0).any() else None
        return pd.Series({"n": d.size, "mean_d": t.mean, "t": t.statistic, "p_t": t.p_value,
                          "p_wilcoxon": w.p_value if w else 1.0})

    table = (pairs.groupby(["laboratory_id", "element"], sort=True)[["d"]].apply(tests)
             .reset_index())
    for el, g in pairs.groupby("element"):
        LabBiasModel(delta=0.03).fit(g["d"], g["laboratory_id"])
    table["q_value"] = benjamini_hochberg(table["p_t"].to_numpy())[1]
    est = estimate_biases(pairs)
    score = naive_scores(cand, est)
    top = np.argsort(-score, kind="stable")[:BUDGET]
    return {"screen": table, "score": score, "top": top}


def timed(fn, *args, repeat: int = 3) -> tuple[float, float, float, object]:
    """(best seconds, median seconds, peak traced MiB, result) over `repeat` runs. The best
    of several runs is the figure least disturbed by other work on a shared machine; the peak
    is of Python allocations (tracemalloc, numpy buffers included) in one more, traced run,
    so tracing does not slow the timing."""
    secs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        secs.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return min(secs), float(np.median(secs)), peak, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipments", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}; "
          f"SYNTHETIC ledger, {a.shipments:,} shipments, {a.pairs:,} control pairs")
    t0 = time.perf_counter()
    led = synthetic_ledger(a.shipments, a.pairs)
    cand = candidate_values(led)
    print(f"build inputs (untimed): {time.perf_counter() - t0:.1f} s")

    t_fast, m_fast, mem_fast, fast = timed(fast_path, led, cand, repeat=a.repeat)
    t_naive, m_naive, mem_naive, naive = timed(naive_path, led, cand, repeat=a.repeat)
    t_cross, m_cross, mem_cross, crossed = timed(crossed_effects, fast["pairs"],
                                                 repeat=a.repeat)

    # same numbers both ways
    f = fast["screen"].set_index(["laboratory_id", "element"])
    nv = naive["screen"].set_index(["laboratory_id", "element"]).loc[f.index]
    d_p = float(np.nanmax(np.abs(f[["p_t", "p_wilcoxon", "q_value"]].to_numpy()
                                 - nv[["p_t", "p_wilcoxon", "q_value"]].to_numpy())))
    sel = fast["selection"].log
    risk = sel[sel["reason"] == "risk"]
    idx = pd.Index(cand["shipment_id"]).get_indexer(risk["shipment_id"])
    d_s = float(np.max(np.abs(naive["score"][idx] - risk["score"].to_numpy())
                       / np.maximum(1.0, np.abs(risk["score"].to_numpy()))))
    rest = np.ones(len(cand), bool)
    rest[pd.Index(cand["shipment_id"]).get_indexer(sel.loc[sel["reason"] == "random",
                                                           "shipment_id"])] = False
    top = np.sort(naive["score"][rest])[::-1][: len(risk)]
    same_top = bool(np.allclose(np.sort(risk["score"].to_numpy())[::-1], top, rtol=1e-9))
    agree = d_p < 1e-9 and d_s < 1e-9 and same_top

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = crossed
    tab = fast["screen"]
    print(f"\n| path | seconds, best of {a.repeat} | median | peak traced memory, MiB |\n"
          f"|---|---:|---:|---:|\n"
          f"| vectorised: pairs, screen, estimates, score 10⁶ + select | {t_fast:.2f} | "
          f"{m_fast:.2f} | {mem_fast:.0f} |\n| naive per-group loop: pairs, groupby-apply "
          f"tests, estimates, loop per lab × element to score, sort | {t_naive:.2f} | "
          f"{m_naive:.2f} | {mem_naive:.0f} |\n"
          f"| crossed lab × exporter effects (fit on the pairs; no baseline) | {t_cross:.2f} | "
          f"{m_cross:.2f} | {mem_cross:.0f} |")
    print(f"\nspeed-up naive / vectorised (best times): {t_naive / t_fast:.1f}×; vectorised + "
          f"crossed = {t_fast + t_cross:.2f} s; process peak RSS {rss:.0f} MiB (ru_maxrss, "
          f"whole run incl. inputs); load average at the end {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"agreement: max |Δp| = {d_p:.1e}, max relative |Δscore| = {d_s:.1e}, same top "
          f"{len(risk):,} scores: {same_top}")
    planted = {f"L{i:03d}" for i in range(10)}
    print(f"screen: {len(tab)} lab × element groups, {int(tab['flagged'].sum())} flagged "
          f"(BH q = 0.05); planted labs L000–L009 flagged: "
          f"{sorted(set(tab.loc[tab['flagged'], 'laboratory_id']) & planted)}")
    e0 = c.exporters_.loc[("E000", "Cu"), "effect"] if ("E000", "Cu") in c.exporters_.index \
        else float("nan")
    print(f"crossed effects: exporter E000 Cu effect {e0:+.3f} (planted ln(1/0.9) = "
          f"{-np.log(0.9):+.3f})")
    ok = t_fast + t_cross < 10 and agree
    print(f"\n**Target (vectorised + crossed < 10 s, both paths agree): "
          f"{'PASS' if ok else 'FAIL'}**")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
