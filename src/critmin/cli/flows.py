"""Trade-flow and exposure commands: critmin flows changes/series, critmin exposure."""

from __future__ import annotations

from typing import Optional

import typer

from critmin.catalog import importer_groups
from critmin.cli._shared import FormatOpt, _connect, _fail, app, flows_app
from critmin.errors import CritminError
from critmin.output import Format, render

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
                           help="supplier, bloc, reliance (net import reliance, contained t), "
                           "trade-risk (Klimek et al. 2015 first-order weighting) or systemic "
                           "(that risk propagated through re-exporters)"),
    damping: float = typer.Option(0.5, "--damping", min=0.0, max=0.999,
                                  help="with --by systemic: weight of a supplier's own supply "
                                  "chain against its own governance (0 = first order)"),
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
        (label, members), = importer_groups(importer).items()
        if year is None:
            year = queries.latest_trade_year(con)
        names = commodity.split(",") if commodity else ["nickel", "palladium", "platinum",
                                                         "rare earths", "cobalt", "lithium",
                                                         "copper"]
        if by == "reliance":
            from critmin.catalog import commodity as _commodity
            from critmin.catalog.commodities import content_factors
            keys = [_commodity(n).key for n in names]
            prod = queries.wmd_production(con, year=year, commodities=keys)
            out = exposure.import_reliance_table(
                queries.geopolrisk_flows_by_code(con, keys, [year]), prod, content_factors(),
                members, year)
            render(out, fmt, title=f"net import reliance of {label}, {year} (contained tonnes)")
            return
        f = queries.commodity_flows(con, commodities=names, years=[year])
        if by == "systemic":
            from critmin.risk.systemic import systemic_trade_risk
            # the whole network: hubs' own suppliers matter, not only the importer's
            out = systemic_trade_risk(f, queries.governance_estimates(con, "PV.PER.RNK"),
                                      damping=damping,
                                      groups={label: members} if len(members) > 1 else None)
            out = out[out["importer"] == (label if len(members) > 1 else members[0])]
            render(out.reset_index(drop=True), fmt,
                   title=f"systemic trade risk of {label}, {year} (damping {damping})")
            return
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
            raise CritminError("--by must be supplier, bloc, reliance, trade-risk or systemic, "
                               f"not {by!r}")
        render(out, fmt, title=f"imports of {label}, {year}"
               + ("" if internal or len(members) == 1 else " (from outside the bloc)"))
    except (CritminError, ValueError) as exc:
        _fail(exc)

