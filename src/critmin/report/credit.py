"""Brief section 5: producers' default probabilities before and after a price scenario, from
`critmin.credit.credit_report` (Merton/KMV with overlays) on company files."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from critmin.credit import credit_report, load_company, load_scale
from critmin.report.charts import Chart, Section, Table, colour, style, symbol

SUMMARY_ROWS = ("distance to default (1 y)", "PD structural (1 y)",
                "PD total with overlays (1 y)", "rating total (Moody's)",
                "rating total (S&P/Fitch)")


def reports(companies, scenario) -> list:
    """`credit_report` of each company file under the price scenario (a PriceScenario)."""
    scale = load_scale()
    return [credit_report(load_company(p), scenario, scale=scale) for p in companies]


def term_structure_chart(reps, scenario, key: str = "pd-term") -> Chart:
    """Cumulative PD (total, with overlays) by horizon, before and after, one colour per
    company, solid before and dashed after; log axis."""
    fig = go.Figure()
    for i, rep in enumerate(reps):
        t = rep.term_structure
        for when, dash in (("before", "solid"), ("after", "dash")):
            fig.add_trace(go.Scatter(
                x=t["horizon_years"], y=t[f"pd_total_{when}"], name=f"{rep.company}, {when}",
                mode="lines+markers", line={"color": colour(i), "dash": dash, "width": 2},
                marker={"symbol": symbol(i), "size": 6},
                hovertemplate="%{x:g} y: PD %{y:.3g}<extra>%{fullData.name}</extra>"))
    style(fig, title=f"Default probability before and after “{scenario.name}”",
          x_title="horizon (years)", y_title="cumulative default probability (log scale, "
          "0–1)", y_log=True, height=460)
    fig.update_xaxes(dtick=1)
    return Chart(key, fig,
                 source="company files (annual reports FY2024 in examples/companies; figures "
                        "marked assumption there are ours); price scenario: " + scenario.source,
                 note="Solid: before, dashed: after. Merton/KMV structural PD combined with "
                      "the overlays (sovereign transfer, payment channel) a company file gives.")


def pd_bars_chart(reps, scenario, key: str = "pd-1y") -> Chart:
    """The structural and the total (with overlays) PD at the rating horizon per company,
    before and after, as grouped bars on a log axis."""
    fig = go.Figure()
    names = [rep.company for rep in reps]
    kinds = (("PD structural", "structural"), ("PD total", "total with overlays"))
    i = 0
    for prefix, label in kinds:
        for when in ("before", "after"):
            ys, metrics = [], []
            for rep in reps:
                s = rep.summary.set_index("metric")
                metric = [m for m in s.index if m.startswith(prefix)][-1]
                metrics.append(metric)
                ys.append(s.loc[metric, when])
            fig.add_trace(go.Bar(
                x=names, y=ys, name=f"{label}, {when}", customdata=metrics,
                marker={"color": colour(i), "pattern": {"shape": "/" if when == "after"
                                                        else ""}},
                hovertemplate="%{x}: %{customdata} = %{y:.3g}<extra>%{fullData.name}"
                              "</extra>"))
            i += 1
    fig.update_layout(barmode="group")
    style(fig, title=f"One-year default probability before and after “{scenario.name}”",
          x_title="company", y_title="default probability (log scale, 0–1)", y_log=True,
          height=440)
    return Chart(key, fig, source="company files (annual reports FY2024 in examples/companies; "
                 "figures marked assumption there are ours); price scenario: " + scenario.source,
                 note="Hatched bars: after the scenario. The structural PD moves with the "
                      "prices; overlays (sovereign transfer, payment channel) do not.")


def summary_table(reps, scenario) -> Table:
    """Distance to default, PDs and ratings per company, before and after."""
    rows = []
    for rep in reps:
        s = rep.summary.set_index("metric")
        for metric in SUMMARY_ROWS:
            if metric in s.index:
                rows.append({"company": rep.company, "metric": metric,
                             "unit": s.loc[metric, "unit"], "before": s.loc[metric, "before"],
                             "after": s.loc[metric, "after"]})
    scale = reps[0].scale.name if reps else "default"
    return Table(f"Credit before and after “{scenario.name}”", pd.DataFrame(rows),
                 source=f"critmin.credit.credit_report; rating scale {scale} "
                        "(src/critmin/credit/ratings.csv, sources per row there)")


def section(companies, scenarios) -> Section:
    """Section 5 of the brief for company YAML files and price scenarios (PriceScenario)."""
    sec = Section("credit", "5. Producers' credit under a price scenario",
                  "Structural (Merton/KMV) default probabilities of the producers before and "
                  "after a commodity-price scenario; revenue moves with the prices, EBITDA "
                  "through operating leverage and the asset value with EBITDA.")
    for i, scenario in enumerate(scenarios):
        reps = reports(companies, scenario)
        changes = ", ".join(f"{k} {v:+.0%}" for k, v in scenario.price_changes.items())
        sec.notes.append(f"“{scenario.name}”: price changes {changes}; source: "
                         f"{scenario.source}.")
        tag = "" if i == 0 else f"-{i + 1}"
        sec.charts.append(pd_bars_chart(reps, scenario, f"pd-1y{tag}"))
        sec.charts.append(term_structure_chart(reps, scenario, f"pd-term{tag}"))
        sec.tables.append(summary_table(reps, scenario))
    return sec
