"""Detection power of the oversight bias screen on SYNTHETIC ledgers with planted biases.

What: `power_study_config()`: 20 exporter-hired laboratories serving 8 exporters, of which L02,
L03 and L04 under-report every element by 5 %, 15 % and 40 %; volumes = Kazakhstan's 2024
BACI exports of HS 260300, 261690 and 284690 (`KAZ_2024_VOLUMES`, about 1,450 lots); the state
laboratory re-assays a random `control_share` of shipments (default budget 10 %). For each
seed: `simulate_ledger` -> `paired_assays` -> `screen` (one-sided paired t per lab × element,
Benjamini–Hochberg at q = 0.05 across all labs × elements; a lab is flagged when any of its
elements is). The EB rule (posterior P(b > 0.03) ≥ 0.95 from `LabBiasModel`) is reported too.

Reported per planted bias: control samples per lab (mean shipments re-assayed), detection
rate (share of seeds in which the lab is flagged; for 0 % = the false-alarm rate of each
unbiased lab, mean and worst of 17), and the realised false-discovery proportion of the
lab × element rejections averaged over seeds (the FDR BH promises to keep ≤ q·m0/m ≤ q).
Exits 1 if the issue's property fails at the default budget.

    /work/venv/bin/python benchmarks/oversight_power.py [--seeds 500] [--sweep-seeds 200]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd

from critmin.oversight.bias import paired_assays, screen
from critmin.oversight.simulate import KAZ_2024_VOLUMES, power_study_config, simulate_ledger

Q = 0.05
EB_DELTA = 0.03  # ln scale: about 3 % under-reporting, the "economically relevant" bias
PLANTED = {"L02": 5, "L03": 15, "L04": 40}


def study(share: float, seeds: range) -> tuple[pd.DataFrame, dict]:
    cfg = power_study_config(control_share=share)
    labs = [lab.laboratory_id for lab in cfg.laboratories]
    bh = pd.DataFrame(False, index=list(seeds), columns=labs)
    eb = bh.copy()
    nctrl = pd.DataFrame(0, index=list(seeds), columns=labs)
    fdp, fdp_eb, n_rej = [], [], []
    for s in seeds:
        pairs = paired_assays(simulate_ledger(KAZ_2024_VOLUMES, cfg, random_state=s))
        tab = screen(pairs, q=Q, delta=EB_DELTA)
        tab["eb"] = (tab["prob_gt_delta"] >= 0.95) & (tab["n"] >= 2)
        bh.loc[s] = tab.groupby("laboratory_id")["flagged"].any().reindex(labs, fill_value=False)
        eb.loc[s] = tab.groupby("laboratory_id")["eb"].any().reindex(labs, fill_value=False)
        nctrl.loc[s] = pairs.groupby("laboratory_id")["shipment_id"].nunique().reindex(
            labs, fill_value=0)
        null = ~tab["laboratory_id"].isin(list(PLANTED))
        for flag, out in (("flagged", fdp), ("eb", fdp_eb)):
            r = int(tab[flag].sum())
            out.append(int((tab[flag] & null).sum()) / max(r, 1))
        n_rej.append(int(tab["flagged"].sum()))
    rows = []
    for bias in (40, 15, 5, 0):
        cols = [lab for lab, b in PLANTED.items() if b == bias] if bias else \
            [lab for lab in labs if lab not in PLANTED]
        rate, rate_eb = bh[cols].mean(), eb[cols].mean()
        rows.append({"planted_under_reporting_pct": bias,
                     "labs": len(cols),
                     "control_samples_per_lab": float(nctrl[cols].to_numpy().mean()),
                     "detection_rate_bh": float(rate.mean()),
                     "worst_lab_bh": float(rate.max()),
                     "detection_rate_eb": float(rate_eb.mean())})
    return pd.DataFrame(rows), {"fdr_bh": float(np.mean(fdp)), "fdr_eb": float(np.mean(fdp_eb)),
                                "mean_rejections": float(np.mean(n_rej))}


def show(share, table, summ, n, secs):
    print(f"\n### control share {share:.0%}, {n} seeds ({secs:.1f} s)\n")
    print("| planted under-reporting | labs | control samples / lab | detection rate (BH) "
          "| worst lab (BH) | detection rate (EB, δ = 0.03) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in table.itertuples():
        name = f"{r.planted_under_reporting_pct} %" if r.planted_under_reporting_pct \
            else "0 % (false alarms)"
        print(f"| {name} | {r.labs} | {r.control_samples_per_lab:.1f} | "
              f"{r.detection_rate_bh:.3f} | {r.worst_lab_bh:.3f} | {r.detection_rate_eb:.3f} |")
    print(f"\nrealised FDR over lab × element rejections: BH {summ['fdr_bh']:.4f} "
          f"(q = {Q}), EB rule {summ['fdr_eb']:.4f}; mean rejections per seed "
          f"{summ['mean_rejections']:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--sweep-seeds", type=int, default=200)
    a = ap.parse_args()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}; SYNTHETIC ledgers")
    ok = True
    for share, n in ((0.10, a.seeds), (0.05, a.sweep_seeds), (0.20, a.sweep_seeds)):
        if n <= 0:
            continue
        t0 = time.perf_counter()
        table, summ = study(share, range(n))
        show(share, table, summ, n, time.perf_counter() - t0)
        if share == 0.10:
            by = table.set_index("planted_under_reporting_pct")
            ok = (by.loc[40, "worst_lab_bh"] >= 0.95 and by.loc[15, "worst_lab_bh"] >= 0.95
                  and by.loc[0, "worst_lab_bh"] <= 0.05 and summ["fdr_bh"] <= Q)
            print(f"\n**Property at the default budget (15 % and 40 % flagged in >= 95 % of "
                  f"seeds, every unbiased lab in <= 5 %, FDR <= {Q}): "
                  f"{'PASS' if ok else 'FAIL'}**")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
