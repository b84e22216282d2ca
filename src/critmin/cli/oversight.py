"""Export-oversight commands: critmin oversight simulate / analyze / value."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from critmin.cli._shared import FormatOpt, _connect, _fail, app, err
from critmin.errors import CritminError
from critmin.oversight.prices import element_prices
from critmin.output import Format, render

oversight_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                            help="Verify exporters' assay certificates against state control "
                                 "assays: simulate, analyze, value.")
app.add_typer(oversight_app, name="oversight")

SYNTHETIC = ("[bold red]SYNTHETIC LEDGER[/]: made-up shipments and assays, calibrated to "
             "Kazakhstan's BACI export volumes; never real data.")
def _banner(ledger) -> None:
    if ledger.synthetic:
        err.print(SYNTHETIC)


@oversight_app.command("simulate")
def oversight_simulate(
    out: Path = typer.Option(..., "--out", help="folder to write the ledger tables to"),
    seed: int = typer.Option(20261129, "--seed"),
    config: Optional[Path] = typer.Option(None, "--config", help="simulation YAML"),
    year: Optional[int] = typer.Option(None, "--year",
                                       help="calibrate to Kazakhstan's BACI exports of this year "
                                            "(default 2024)"),
    file_format: str = typer.Option("csv", "--file-format", help="csv or parquet"),
):
    """Write a synthetic ledger (shipments, certificates, control assays) with planted
    laboratory biases, calibrated to Kazakhstan's exports of 260300, 261690 and 284690."""
    from critmin.yamlfile import load_yaml_model
    from critmin.errors import DataFileError
    from critmin.oversight import simulate as sim
    try:
        cfg = (load_yaml_model(config, sim.SimulationConfig, DataFileError) if config
               else sim.power_study_config())
        volumes = sim.kaz_export_volumes(_connect(), years=[year or 2024])
        led = sim.simulate_ledger(volumes, cfg, random_state=seed)
        folder = led.write(out, format=file_format)
        err.print(SYNTHETIC)
        err.print(f"{len(led.shipments):,} shipments, {len(led.certificates):,} certificate "
                  f"results, {len(led.control_assays):,} control assays -> {folder}")
    except (CritminError, ValueError) as exc:
        _fail(exc)


@oversight_app.command("analyze")
def oversight_analyze(
    ledger: Path = typer.Argument(..., help="ledger folder (CSV or Parquet tables)"),
    by: str = typer.Option("laboratory_id", "--by", help="laboratory_id or exporter_id"),
    q: float = typer.Option(0.05, "--q", help="false-discovery rate across groups × elements"),
    rule: str = typer.Option("bh", "--rule", help="bh, eb or both"),
    delta: float = typer.Option(0.03, "--delta", help="eb rule: bias threshold, ln scale"),
    inclusion: Optional[Path] = typer.Option(
        None, "--inclusion", help="CSV shipment_id,inclusion_prob of the checked shipments "
        "(from the selections that chose them); default: controls taken as a random sample "
        "within each HS code"),
    seed: int = typer.Option(20261129, "--seed", help="bootstrap seed of the leakage interval"),
    fmt: Format = FormatOpt,
):
    """Bias of declared grades against control assays, per laboratory or exporter and element:
    one-sided tests, partial pooling, FDR-controlled flags, CUSUM drift alarms; in table
    format also proportional bias (Passing–Bablok, Deming), crossed laboratory × exporter
    effects and the whole-stream leakage (Horvitz–Thompson) with its interval."""
    from critmin.oversight import bias
    from critmin.oversight.schema import load_ledger
    try:
        led = load_ledger(ledger)
        _banner(led)
        pairs = bias.paired_assays(led)
        table = bias.screen(pairs, by=[by], q=q, delta=delta, rule=rule)
        render(table, fmt, title=f"bias of declared vs control grades by {by} (one-sided: "
               f"under-declaration), FDR q = {q}, rule {rule}")
        if fmt == Format.table:
            render(bias.flagged_groups(table, by=[by]).reset_index(), fmt, title="flagged")
            alarms = bias.drift_alarms(pairs, by=[by])
            render(alarms[alarms["alarm"]].reset_index(drop=True), fmt,
                   title="CUSUM drift alarms")
            _analyze_extras(led, pairs, by, inclusion, seed, fmt)
    except (CritminError, ValueError) as exc:
        _fail(exc)


def _analyze_extras(led, pairs, by: str, inclusion: Optional[Path], seed: int, fmt) -> None:
    """The tables `analyze` adds in table format: proportional bias, crossed effects and
    whole-stream leakage (models in methods_comparison, crossed, leakage)."""
    from critmin.errors import DataFileError
    from critmin.oversight import terms as terms_mod
    from critmin.oversight import valuation
    from critmin.oversight.crossed import crossed_effects
    from critmin.oversight.leakage import stream_leakage
    from critmin.oversight.methods_comparison import proportional_bias_table
    render(proportional_bias_table(pairs, by=[by]), fmt,
           title="proportional bias, control = a + b · declared: Passing–Bablok (95 % CI) "
                 "and Deming slopes; proportional = PB slope CI above 1")
    fit = crossed_effects(pairs)
    for name, tab in (("laboratory", fit.labs_), ("exporter", fit.exporters_)):
        render(tab.reset_index().sort_values("effect", ascending=False).head(15)
               .reset_index(drop=True), fmt,
               title=f"crossed laboratory × exporter effects: top {name} effects "
                     "(ln control/declared, partially pooled)")
    year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
    prices = element_prices(_connect(), pairs["element"].unique(), year)
    per, _ = valuation.undeclared_from_pairs(pairs, led.shipments, terms_mod.default_terms(),
                                             prices, led.element_units())
    pi = None
    if inclusion is not None:
        try:
            inc = pd.read_csv(inclusion)
        except (OSError, pd.errors.ParserError) as exc:
            raise DataFileError(str(inclusion), None, None, f"cannot read: {exc}") from None
        for col in ("shipment_id", "inclusion_prob"):
            if col not in inc.columns:
                raise DataFileError(str(inclusion), 1, col, "column missing")
        pi = inc.set_index("shipment_id")["inclusion_prob"]
    render(stream_leakage(per, led.shipments, inclusion=pi, random_state=seed), fmt,
           title=f"whole-stream leakage, Horvitz–Thompson with a 95 % bootstrap interval, USD "
                 f"(prices: {year} annual averages; inclusion: "
                 f"{inclusion or 'random sample within each HS code'})")


@oversight_app.command("value")
def oversight_value(
    ledger: Path = typer.Argument(..., help="ledger folder"),
    by: str = typer.Option("laboratory_id", "--by",
                           help="laboratory_id, exporter_id or period"),
    terms: Optional[Path] = typer.Option(None, "--terms", help="contract terms YAML"),
    seed: int = typer.Option(20261129, "--seed", help="bootstrap seed"),
    fmt: Format = FormatOpt,
):
    """Value under-declared by the checked shipments and the mineral extraction tax lost,
    per laboratory, exporter or month, with bootstrap intervals (USD)."""
    from critmin.oversight import terms as terms_mod
    from critmin.oversight import valuation
    from critmin.oversight.bias import paired_assays
    from critmin.oversight.schema import load_ledger
    try:
        led = load_ledger(ledger)
        _banner(led)
        pairs = paired_assays(led)
        year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
        prices = element_prices(_connect(), pairs["element"].unique(), year)
        contract = terms_mod.load_terms(terms) if terms else terms_mod.default_terms()
        per, unpriced = valuation.undeclared_from_pairs(pairs, led.shipments, contract, prices,
                                                         led.element_units())
        out = valuation.aggregate_leakage(per, by, random_state=seed)
        render(out, fmt, title=f"under-declared value and lost extraction tax by {by}, USD "
               f"(prices: {year} annual averages of {', '.join(sorted(prices))})",
               meta={"shipments_checked": len(per),
                     "elements_not_valued (no price)": ",".join(sorted(unpriced)) or "none",
                     "undeclared_nsr_usd": float(per["undeclared_nsr_usd"].sum()),
                     "lost_tax_usd": float(per["lost_tax_usd"].sum())})
    except (CritminError, ValueError, KeyError) as exc:
        _fail(exc)


@oversight_app.command("mirror")
def oversight_mirror(
    records: Path = typer.Argument(..., help="paired export/import records (CSV or Parquet; "
                                   "layout in docs/methods.md, 'Mirror checks')"),
    large_gap: float = typer.Option(0.25, "--large-gap",
                                    help="relative gap that earns the large_gap flag"),
    flagged_only: bool = typer.Option(False, "--flagged-only"),
    fmt: Format = FormatOpt,
):
    """Mirror-trade gaps: what the importer declared (CIF) against what the exporter declared
    (FOB, uplifted for freight by transport mode), with hub, re-export and size flags."""
    from critmin.oversight import mirror
    try:
        gaps = mirror.mirror_gaps(mirror.read_mirror_records(records), large_gap=large_gap)
        if flagged_only:
            gaps = gaps[gaps["flags"] != ""]
        cols = [c for c in ("reporter", "partner", "year", "hs6", "commodity_code", "exporter",
                            "importer", "export_fob_usd", "import_cif_usd", "cif_fob_factor",
                            "gap_usd", "rel_gap", "qty_rel_gap", "flags") if c in gaps]
        render(gaps[cols].reset_index(drop=True), fmt, title="mirror-trade gaps (USD)",
               meta={"note": mirror.LEAD_NOTE})
    except (CritminError, ValueError) as exc:
        _fail(exc)


@oversight_app.command("select")
def oversight_select(
    ledger: Path = typer.Argument(..., help="ledger folder"),
    budget: Optional[int] = typer.Option(None, "--budget", help="control samples this period"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (logged either way)"),
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM; default all shipments"),
    policy: str = typer.Option("risk", "--policy", help="risk, value or random"),
    random_share: float = typer.Option(0.10, "--random-share",
                                       help="share picked at random (never zero)"),
    cost_budget: Optional[float] = typer.Option(
        None, "--cost-budget", help="money budget, USD: pick by knapsack on control costs "
        "instead of a count (--budget is then ignored)"),
    costs: Optional[Path] = typer.Option(None, "--costs", help="control-cost table CSV "
                                         "(default: the shipped table, assay costs assumed)"),
    fmt: Format = FormatOpt,
):
    """Choose shipments for state control sampling under a budget: a random share for
    unbiased monitoring plus risk-based picks by expected recoverable value; every pick
    logged with its reason and the seed."""
    import secrets

    from critmin.oversight.schema import load_ledger
    from critmin.oversight.selection import select_from_ledger
    try:
        if policy == "oracle":
            raise CritminError("--policy oracle needs the true biases: simulation only")
        if (budget is None) == (cost_budget is None):
            raise CritminError("give either --budget N (control samples) or --cost-budget USD")
        led = load_ledger(ledger)
        _banner(led)
        seed = seed if seed is not None else secrets.randbelow(2**31)
        year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
        elements = led.certificates["element"].unique()
        prices = element_prices(_connect(), elements, year)
        if cost_budget is not None:
            from critmin.oversight import costs as costs_mod
            from critmin.oversight.selection import ledger_inputs
            if policy != "risk":
                raise CritminError("--cost-budget selects by risk; drop --policy")
            cand, est = ledger_inputs(led, period=period, prices_usd_per_t=prices)
            sel = costs_mod.select_by_cost(
                cand, costs_mod.control_costs(led, costs_mod.load_cost_table(costs)),
                cost_budget, random_share=random_share, bias_estimates=est,
                random_state=seed)
            render(sel.log, fmt, title=f"shipments selected for control sampling under "
                   f"{cost_budget:,.0f} USD (knapsack on control costs)",
                   meta={"seed": sel.seed, "policy": "risk (cost)", "n_random": sel.n_random,
                         "budget_usd": cost_budget,
                         "spent_usd": float(sel.log["cost_usd"].sum())})
            return
        sel = select_from_ledger(led, budget, period=period, policy=policy,
                                 random_share=random_share, random_state=seed,
                                 prices_usd_per_t=prices)
        render(sel.log, fmt, title=f"shipments selected for control sampling ({policy})",
               meta={"seed": sel.seed, "policy": sel.policy, "n_random": sel.n_random,
                     "budget": budget})
    except (CritminError, ValueError, KeyError) as exc:
        _fail(exc)
