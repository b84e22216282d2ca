"""Supply-risk indicators straight from a warehouse connection: the queries each indicator
needs, then the pure functions of this package. One place for the CLI, the brief and the web
app."""

from __future__ import annotations

import pandas as pd


def indicator_inputs(con, year: int, commodities: list[str] | None = None):
    """(World Mining Data production, BACI flows by commodity, WGI PV estimates) of `year`,
    as `critmin.risk.indicators.commodity_indicators` takes them."""
    from critmin.data import queries
    prod = queries.wmd_production(con, year=year)
    flows = queries.commodity_flows(con, years=[year], commodities=commodities)
    return prod, flows, queries.governance_estimates(con)


def geopolrisk_results(con, materials: list[str], groups: dict[str, tuple[str, ...]],
                       years: list[int], method: str = "compat", corrections=None
                       ) -> pd.DataFrame:
    """GeoPolRisk scores (`critmin.risk.geopolrisk.compat` or `.corrected`) of `materials`
    (catalog keys) for importer `groups` ({label: ISO3 members}) over `years`."""
    from critmin.catalog import commodity
    from critmin.catalog.commodities import content_factors
    from critmin.data import queries
    from critmin.risk import geopolrisk as gpr
    inp = queries.geopolrisk_inputs(con, materials, years)
    if method == "compat":
        return gpr.compat(inp["flows"], inp["production"], inp["governance"], groups, years,
                          materials)
    if method != "corrected":
        raise ValueError(f"method must be compat or corrected, not {method!r}")
    return gpr.corrected(
        queries.geopolrisk_flows_by_code(con, materials, years), inp["production"],
        queries.governance_estimates(con), content_factors(),
        {m: commodity(m).stage for m in materials}, groups, years, materials,
        corrections or gpr.Corrections())
