"""The oversight page: laboratory bias with intervals, flags and the budgeted re-assay
selection on a ledger. Today the page runs on a labelled synthetic Kazakh ledger;
`oversight_view(ledger, ...)` is the hook the registry's own ledger will be fed to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.web import charts
from critmin.output import records
from critmin.web._common import num

SEED = 20261129       # the CLI's default simulation seed
BUDGET = 40           # control samples in the period shown
Z95 = 1.959963984540054

SYNTHETIC_LABEL = ("SYNTHETIC LEDGER: made-up shipments and assays, calibrated to Kazakhstan's "
                   "BACI export volumes of 2024 (HS 260300, 261690, 284690); never real data.")


def synthetic_ledger(con, *, seed: int = SEED):
    """A synthetic ledger with planted laboratory biases (critmin.oversight.simulate, the
    power-study configuration), calibrated to Kazakhstan's 2024 BACI exports."""
    from critmin.oversight import simulate as sim
    return sim.simulate_ledger(sim.kaz_export_volumes(con, years=[2024]),
                               sim.power_study_config(), random_state=seed)


def _pct(d):
    # d is ln(control/declared): under-reporting in % of the true grade is 100(1 − e^−d)
    return 100 * (1 - np.exp(-np.asarray(d, dtype=float)))


def oversight_view(ledger, prices_usd_per_t: dict[str, float], *, budget: int = BUDGET,
                   seed: int = SEED, q: float = 0.05) -> dict:
    """The oversight picture of `ledger` (a critmin.oversight Ledger: shipments, certificates,
    control assays): per laboratory × element bias screen (under-reporting %, posterior 95 %
    interval, BH q-value, flag at FDR `q`), flagged laboratories, and `budget` shipments chosen
    for control sampling (seeded). prices_usd_per_t: element → USD/t used to value picks."""
    from critmin.oversight import bias
    from critmin.oversight.selection import select_from_ledger
    pairs = bias.paired_assays(ledger)
    table = bias.screen(pairs, by=["laboratory_id"], q=q)
    table["under_report_lo_pct"] = _pct(table["posterior_mean"] - Z95 * table["posterior_sd"])
    table["under_report_hi_pct"] = _pct(table["posterior_mean"] + Z95 * table["posterior_sd"])
    table["posterior_pct"] = _pct(table["posterior_mean"])
    flagged = bias.flagged_groups(table, by=["laboratory_id"]).reset_index(drop=True)
    sel = select_from_ledger(ledger, budget, random_state=seed,
                             prices_usd_per_t=prices_usd_per_t)
    traces = []
    for i, (element, g) in enumerate(table.groupby("element", sort=True)):
        g = g.dropna(subset=["posterior_mean"])
        if g.empty:
            continue
        traces.append(charts.interval(g["laboratory_id"], g["posterior_pct"],
                                      g["under_report_lo_pct"], g["under_report_hi_pct"],
                                      element, i))
    chart = charts.figure(
        traces, title="Laboratory bias: declared vs state control assays (posterior, 95 %)",
        x_title="laboratory", y_title="under-reporting (%)", grouped=True,
        source="critmin.oversight.bias.screen (partially pooled posterior per element)"
               + (" on the SYNTHETIC ledger" if ledger.synthetic else ""))
    cols = ["laboratory_id", "element", "n", "under_report_pct", "posterior_pct",
            "under_report_lo_pct", "under_report_hi_pct", "p_t", "q_value", "flagged"]
    return {
        "synthetic": bool(ledger.synthetic),
        "label": SYNTHETIC_LABEL if ledger.synthetic else None,
        "counts": {"shipments": len(ledger.shipments), "certificates": len(ledger.certificates),
                   "control_assays": len(ledger.control_assays), "pairs": len(pairs)},
        "q": q,
        "bias": records(table[cols]),
        "flagged": records(flagged[flagged["flagged"]]),
        "selection": {"budget": budget, "seed": sel.seed, "policy": sel.policy,
                      "n_random": sel.n_random,
                      "prices_usd_per_t": {k: num(v) for k, v in prices_usd_per_t.items()},
                      "rows": records(sel.log[["rank", "shipment_id", "laboratory_id",
                                               "exporter_id", "reason",
                                               "expected_recoverable_usd"]])},
        "charts": {"bias": chart},
    }


def synthetic_view(con, *, seed: int = SEED) -> dict:
    """`oversight_view` of the synthetic ledger, elements valued at warehouse prices of the
    ledger's main year (`critmin.oversight.prices`)."""
    from critmin.oversight.prices import element_prices
    led = synthetic_ledger(con, seed=seed)
    year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
    prices = element_prices(con, led.certificates["element"].unique(), year)
    return oversight_view(led, prices, seed=seed)
