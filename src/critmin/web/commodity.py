"""The commodity page: producers, concentration over time, trade flows and risk indicators,
as one JSON-ready dict that both the HTML page and /api/commodity/{name} return."""

from __future__ import annotations

import pandas as pd

from critmin.errors import CritminError
from critmin.web import charts
from critmin.output import records
from critmin.web._common import num

TOP = 12          # producers / exporters / importers listed
SERIES_TOP = 5    # exporters drawn over the years
FIRST_YEAR = 2018  # World Mining Data in the bundle starts here; trade is drawn from it too


def _names(con) -> dict[str, str]:
    return dict(con.execute("SELECT iso3, name FROM countries").fetchall())


def _geopolrisk(con, key: str, importer: str, year: int) -> list[dict]:
    """GeoPolRisk score of `importer` for `key` in `year`, in the peer-compatible and the
    corrected mode (the CLI's `critmin risk geopolrisk`, same code)."""
    from critmin.catalog import importer_groups
    from critmin.risk.run import geopolrisk_results
    out = []
    for method in ("compat", "corrected"):
        g = geopolrisk_results(con, [key], importer_groups(importer), [year], method)
        for r in g.itertuples(index=False):
            out.append({"method": method, "importer": r.importer, "year": int(r.year),
                        "hhi": num(r.hhi), "import_risk": num(r.import_risk),
                        "price_usd_per_kg": num(r.price_usd_per_kg), "score": num(r.score),
                        "cf": num(r.cf), "flags": getattr(r, "flags", "") or ""})
    return out


def _ranked(flows: pd.DataFrame, who: str, names: dict[str, str]) -> list[dict]:
    """The TOP countries by value_usd on side `who` (exporter or importer), with their share
    (0..1) of the total over all countries."""
    g = flows.groupby(who)["value_usd"].sum().sort_values(ascending=False)
    total = float(g.sum())
    return [{"country": k, "country_name": names.get(k, k), "value_usd": float(v),
             "share": float(v) / total if total else None} for k, v in g.head(TOP).items()]


def commodity_view(con, name: str, *, importer: str = "EU27", year: int | None = None) -> dict:
    """Everything the commodity page shows, for `year` (default: the latest year of World
    Mining Data production). Quantities in the commodity's WMD unit, trade in USD, HHI on
    0..1, governance-weighted HHI on the EU 0..10 scale (see critmin.risk.indicators)."""
    from critmin.catalog import commodity as _commodity
    from critmin.data import queries
    from critmin.risk.indicators import commodity_indicators
    c = _commodity(name)
    years = queries.wmd_years(con, c.key)
    if not years:
        raise CritminError(f"no World Mining Data production of {c.name} in the warehouse")
    year = int(year or years[-1])
    if year not in years:
        raise CritminError(f"year {year}: {c.name} production is held for "
                           f"{years[0]}–{years[-1]}")
    names = _names(con)
    prod_table, summary = queries.production(con, c.key, year=year, source="wmd",
                                             measure="production")
    unit = summary["unit"]
    top = prod_table.head(TOP)

    prod_all = queries.wmd_production(con, commodities=[c.key])
    flows = queries.commodity_flows(con, commodities=[c.key],
                                    years=list(range(min(FIRST_YEAR, year), year + 1)))
    pv = queries.governance_estimates(con)
    conc = pd.concat([commodity_indicators(prod_all, flows, pv, y) for y in years
                      if y <= year], ignore_index=True)
    ind = conc[conc["year"] == year].iloc[0]

    fy = flows[flows["year"] == year]
    exporters, importers = _ranked(fy, "exporter", names), _ranked(fy, "importer", names)
    lead = [e["country"] for e in exporters[:SERIES_TOP]]
    series = (flows[flows["exporter"].isin(lead)].groupby(["exporter", "year"], as_index=False)
              ["value_usd"].sum())

    risk = {k: num(ind[k]) for k in ("production_hhi", "top_producer_share", "top3_share",
                                     "gov_weighted_hhi", "gov_missing_share", "export_hhi",
                                     "top_exporter_share")}
    risk |= {k: None if pd.isna(ind[k]) else str(ind[k]) for k in ("top_producer",
                                                                    "top_exporter")}
    gpr = _geopolrisk(con, c.key, importer, year) if c.geopolrisk_id else []

    wmd = "World Mining Data (warehouse table production, source wmd)"
    baci = "CEPII BACI bilateral trade, all HS6 codes of the chain (warehouse table trade)"
    chart_prod = charts.figure(
        [charts.bar([names.get(k, k) for k in top["country"]], top["quantity"].tolist(),
                    f"production ({unit})")],
        title=f"Top producers of {c.name}, {year}", x_title="country",
        y_title=f"production ({unit})", source=wmd)
    chart_conc = charts.figure(
        [charts.line(conc["year"], [num(v) for v in conc["production_hhi"]],
                     "production HHI", 0),
         charts.line(conc["year"], [num(v) for v in conc["export_hhi"]],
                     "export-value HHI", 1, dash="dash")],
        title=f"Concentration of {c.name} over time", x_title="year",
        y_title="HHI (0–1)", source=f"{wmd}; {baci}", y_range=[0, 1])
    chart_gov = charts.figure(
        [charts.line(conc["year"], [num(v) for v in conc["gov_weighted_hhi"]],
                     "governance-weighted HHI", 2)],
        title="Governance-weighted HHI (EU method, WGI political stability)", x_title="year",
        y_title="HHI × WGI (EU 0–10 scale)", source=f"{wmd}; World Bank WGI PV.EST")
    chart_flows = charts.figure(
        [charts.line(g["year"], (g["value_usd"] / 1e6).tolist(), names.get(e, e), i)
         for i, (e, g) in enumerate((e, series[series["exporter"] == e]) for e in lead)],
        title=f"Exports of the top {len(lead)} exporters of {year}", x_title="year",
        y_title="export value (million USD)", source=baci)

    return {
        "commodity": {"key": c.key, "name": c.name, "unit": unit},
        "year": year, "years": years, "importer": importer,
        "producers": {"source": wmd, "unit": unit, "world_total": num(summary["world_total"]),
                      "hhi": num(summary["hhi"]), "count": len(prod_table),
                      "rows": records(top[["country", "country_name", "quantity", "share",
                                           "estimated"]])},
        "concentration": records(conc[["year", "producers", "production_hhi", "top_producer",
                                       "top_producer_share", "gov_weighted_hhi",
                                       "export_hhi"]]),
        "trade": {"year": year, "source": baci, "top_exporters": exporters,
                  "top_importers": importers,
                  "series": records(series.rename(columns={"exporter": "country"}))},
        "risk": {"indicators": risk, "geopolrisk": gpr,
                 "geopolrisk_note": None if c.geopolrisk_id else
                 f"{c.name} has no HS code in the GeoPolRisk method's map"},
        "charts": {"producers": chart_prod, "concentration": chart_conc,
                   "governance": chart_gov, "flows": chart_flows},
    }
