"""Brief section 2: trade-flow monitoring — the largest bilateral shifts since a base year and
where Russia's platinum-group metals go, from `critmin.risk.flows` on BACI flows."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from critmin.catalog import commodity as _commodity
from critmin.data import queries
from critmin.report.charts import GREY, Chart, Section, Table, colour, style
from critmin.risk import flows

BASE_YEAR = 2021
"""The last year before the 2022 sanctions: the shifts are measured from it."""
TOP_SHIFTS = 15
PGM_EXPORTER = "RUS"
PGMS = ("palladium", "platinum")
TOP_DESTINATIONS = 6
SERIES_YEARS = 10


def shifts_chart(con, commodities, year: int, base_year: int = BASE_YEAR,
                 top: int = TOP_SHIFTS) -> tuple[Chart, pd.DataFrame]:
    """The `top` largest changes in bilateral export value between `base_year` and `year`
    across `commodities` (`flows.changes`), as bars in million USD, coloured by commodity."""
    f = queries.commodity_flows(con, commodities=list(commodities), years=[base_year, year])
    ch = flows.changes(f, year, base_year, top=top)
    fig = go.Figure()
    order = [k for k in commodities if k in set(ch["commodity"])]
    labels = ch["exporter"] + " → " + ch["importer"] + " (" + ch["commodity"].map(
        lambda k: _commodity(k).name) + ")"
    for i, k in enumerate(commodities):
        if k not in order:
            continue
        m = ch["commodity"] == k
        fig.add_trace(go.Bar(
            y=labels[m], x=ch.loc[m, "change_usd"] / 1e6, orientation="h",
            name=_commodity(k).name, marker={"color": colour(i)},
            customdata=ch.loc[m, ["value_base_usd", "value_usd"]].to_numpy() / 1e6,
            hovertemplate="%{y}: %{x:,.0f} M USD<br>" + f"{base_year}: " +
                          "%{customdata[0]:,.0f} M USD, " + f"{year}: " +
                          "%{customdata[1]:,.0f} M USD<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=list(labels[::-1]))
    style(fig, title=f"Largest shifts in bilateral exports, {base_year} → {year}",
          x_title="change in export value (million USD)", y_title="",
          height=160 + 28 * len(ch))
    return Chart("shifts", fig, source=f"CEPII BACI {base_year} and {year} (HS92), all HS codes "
                 "of each commodity's chain",
                 note="Ranked by the absolute change in value; prices moved too, so a fall "
                      "can be a price fall rather than a lost buyer."), ch


def destinations_chart(con, commodity: str, exporter: str = PGM_EXPORTER,
                       top: int = TOP_DESTINATIONS) -> Chart:
    """Share (0..1) of `exporter`'s exports of `commodity` going to each of its `top`
    destinations over the years (`flows.bilateral_series`), plus China and Hong Kong."""
    last = queries.latest_trade_year(con)
    f = queries.commodity_flows(con, commodities=[commodity], exporter=exporter,
                                years=list(range(last - SERIES_YEARS + 1, last + 1)))
    s = flows.bilateral_series(f)
    years = sorted(s["year"].unique())
    recent = s[s["year"] >= BASE_YEAR - 1]
    lead = list(recent.groupby("importer")["value_usd"].sum().nlargest(top).index)
    dest = list(dict.fromkeys(["CHN", "HKG", *lead]))
    fig = go.Figure()
    for i, imp in enumerate(dest):
        d = s[s["importer"] == imp].set_index("year")["share"].reindex(years).fillna(0.0)
        fig.add_trace(go.Scatter(
            x=years, y=d.to_numpy(), name=imp, mode="lines+markers",
            line={"color": colour(i) if i < 7 else GREY,
                  "width": 3 if imp in ("CHN", "HKG") else 1.5,
                  "dash": "solid" if imp in ("CHN", "HKG") else "dot"},
            hovertemplate=imp + " %{x}: %{y:.1%}<extra></extra>"))
    c = _commodity(commodity)
    fig.update_xaxes(dtick=1)
    style(fig, title=f"Where {_country_name(exporter)}'s {c.name.lower()} goes: share of its "
                     "exports by destination", x_title="year",
          y_title="share of export value (0–1)", y_format=".0%")
    return Chart(f"destinations-{c.key}", fig,
                 source=f"CEPII BACI {years[0]}–{years[-1]} (HS92 {', '.join(c.hs6)})",
                 note="China and Hong Kong in bold; destinations absent in a year count as 0.")


def _country_name(iso3: str) -> str:
    from critmin.catalog import country
    return country(iso3).name


def section(con, commodities, *, base_year: int = BASE_YEAR) -> Section:
    """Section 2 of the brief: shifts across `commodities` (keys) and Russia's PGM exports."""
    year = queries.latest_trade_year(con)
    sec = Section("flows", "2. Trade-flow monitoring",
                  f"Which bilateral trade flows changed most between {base_year} (before the "
                  f"2022 sanctions) and {year}, and how Russia's platinum-group metals were "
                  "re-routed towards China and Hong Kong.")
    chart, _ = shifts_chart(con, list(commodities), year, base_year)
    sec.charts.append(chart)
    for pgm in PGMS:
        sec.charts.append(destinations_chart(con, pgm))
    f = queries.commodity_flows(con, commodities=list(PGMS), years=[base_year, year],
                                exporter=PGM_EXPORTER)
    ch = flows.changes(f, year, base_year, top=12)
    sec.tables.append(Table(
        f"Russia's PGM exports: largest changes, {base_year} → {year}",
        pd.DataFrame({"commodity": ch["commodity"], "importer": ch["importer"],
                      f"{base_year} (USD)": ch["value_base_usd"], f"{year} (USD)": ch["value_usd"],
                      "change (USD)": ch["change_usd"],
                      f"share {base_year} (0–1)": ch["share_base"],
                      f"share {year} (0–1)": ch["share"]}),
        source=f"CEPII BACI {base_year} and {year}; critmin.risk.flows.changes"))
    return sec
