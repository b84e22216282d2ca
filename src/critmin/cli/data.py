"""Warehouse and catalog commands: data build/info/load/sources, commodities, countries,
production, trade, and the demo main job."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from critmin.cli._shared import FormatOpt, _connect, _fail, _progress, app, data_app, err
from critmin.errors import CritminError
from critmin.output import Format, render

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


