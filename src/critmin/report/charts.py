"""The brief's figure styling: the Okabe–Ito palette, one layout for every chart, and the
containers a section hands to the page (charts with their source, tables)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Yellow comes last: it is hard to see as a thin line on white. Grey is kept for
# "other".
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
             "#F0E442")
GREY = "#999999"
# markers differ by shape too, so a line is told apart without its colour
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "pentagon")


def colour(i: int) -> str:
    """The i-th palette colour (cycles)."""
    return OKABE_ITO[i % len(OKABE_ITO)]


def symbol(i: int) -> str:
    """The i-th marker symbol (cycles)."""
    return SYMBOLS[i % len(SYMBOLS)]


@dataclass
class Chart:
    """One figure of the brief: `source` names the data and years its numbers come from;
    `note` (optional) says how to read it."""

    key: str
    figure: go.Figure
    source: str
    note: str = ""


@dataclass
class Table:
    """A small table shown under the charts; column names carry their units."""

    title: str
    frame: pd.DataFrame
    source: str


@dataclass
class Section:
    """One numbered part of the brief: charts, tables and plain-text notes."""

    key: str
    title: str
    intro: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False


def style(fig: go.Figure, *, title: str, x_title: str, y_title: str, height: int = 420,
          y_format: str | None = None, y_log: bool = False, legend: bool = True) -> go.Figure:
    """Apply the brief's layout: a left-aligned title, titled axes (give units), the legend
    above the plot (it never covers tick labels on a phone), white background, automargins."""
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        font={"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12,
              "color": "#111"},
        paper_bgcolor="#fff", plot_bgcolor="#fff", height=height, autosize=True,
        margin={"l": 10, "r": 10, "t": 60, "b": 10}, showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0,
                "traceorder": "normal"},
        hoverlabel={"namelength": -1})
    fig.update_xaxes(title_text=x_title, automargin=True, showline=True, linecolor="#444",
                     gridcolor="#e5e5e5")
    fig.update_yaxes(title_text=y_title, automargin=True, showline=True, linecolor="#444",
                     gridcolor="#e5e5e5", zeroline=False)
    if y_format:
        fig.update_yaxes(tickformat=y_format)
    if y_log:
        fig.update_yaxes(type="log", exponentformat="power")
    return fig
