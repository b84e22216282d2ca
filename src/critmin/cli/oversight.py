"""Export-oversight commands: critmin oversight simulate / analyze / value."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from critmin.cli._shared import FormatOpt, _connect, _fail, app, err
from critmin.errors import CritminError
from critmin.output import Format, render

oversight_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                            help="Verify exporters' assay certificates against state control "
                                 "assays: simulate, analyze, value.")
app.add_typer(oversight_app, name="oversight")

SYNTHETIC = ("[bold red]SYNTHETIC LEDGER[/]: made-up shipments and assays, calibrated to "
             "Kazakhstan's BACI export volumes; never real data.")
# element -> (source, series) of the warehouse price used to value it
ELEMENT_PRICES = {"Cu": ("wb_pink_sheet", "COPPER"), "Au": ("wb_pink_sheet", "GOLD"),
                  "Ag": ("wb_pink_sheet", "SILVER"), "Ni": ("wb_pink_sheet", "NICKEL"),
                  "Pt": ("wb_pink_sheet", "PLATINUM"), "Pd": ("imf_pcps", "PPALLA")}


def _element_prices(con, elements, year: int) -> dict[str, float]:
    """USD/t of each element that has a warehouse price: the annual average of `year`."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.data.queries import annual_price
    prices = {}
    for element in elements:
        if element in ELEMENT_PRICES and (found := annual_price(con, *ELEMENT_PRICES[element],
                                                                year)):
            prices[element] = price_to_usd_per_t(*found)
    return prices


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
    fmt: Format = FormatOpt,
):
    """Bias of declared grades against control assays, per laboratory or exporter and element:
    one-sided tests, partial pooling, FDR-controlled flags, and CUSUM drift alarms."""
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
    except (CritminError, ValueError) as exc:
        _fail(exc)


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
        prices = _element_prices(_connect(), pairs["element"].unique(), year)
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
    budget: int = typer.Option(..., "--budget", help="control samples this period"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (logged either way)"),
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM; default all shipments"),
    policy: str = typer.Option("risk", "--policy", help="risk, value or random"),
    random_share: float = typer.Option(0.10, "--random-share",
                                       help="share picked at random (never zero)"),
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
        led = load_ledger(ledger)
        _banner(led)
        seed = seed if seed is not None else secrets.randbelow(2**31)
        year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
        elements = led.certificates["element"].unique()
        sel = select_from_ledger(led, budget, period=period, policy=policy,
                                 random_share=random_share, random_state=seed,
                                 prices_usd_per_t=_element_prices(_connect(), elements, year))
        render(sel.log, fmt, title=f"shipments selected for control sampling ({policy})",
               meta={"seed": sel.seed, "policy": sel.policy, "n_random": sel.n_random,
                     "budget": budget})
    except (CritminError, ValueError, KeyError) as exc:
        _fail(exc)
