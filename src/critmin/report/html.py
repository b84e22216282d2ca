"""Assemble the brief: one self-contained HTML page (Plotly's JavaScript inlined once, every
figure a div that uses it; no network), from the sections' charts and tables."""

from __future__ import annotations

import datetime as dt
import html as _html
from importlib import resources
from types import SimpleNamespace

import jinja2
import pandas as pd
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from critmin.output import _cell
from critmin.report.charts import Section

PLOTLY_CONFIG = {"responsive": True, "displaylogo": False,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d"], "toImageButtonOptions":
                 {"format": "png", "scale": 2}}


def table_html(frame: pd.DataFrame, caption: str) -> str:
    """A plain HTML table with the numbers formatted as the CLI formats them."""
    head = "".join(f'<th scope="col">{_html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(f'<td{" class=num" if num else ""}>{_html.escape(_cell(v))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f"<table><caption>{_html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _chart_view(chart) -> SimpleNamespace:
    # the title moves out of the figure into the page, where it wraps on a narrow screen; a
    # plain dict, because re-validating a Figure costs more than the section that built it
    spec = chart.figure.to_dict()
    title = (spec["layout"].get("title") or {}).get("text") or chart.key
    spec["layout"]["title"] = None
    spec["layout"].setdefault("margin", {})["t"] = 10
    height = spec["layout"].get("height") or 420
    return SimpleNamespace(
        key=chart.key, title=title, source=chart.source, note=chart.note,
        html=pio.to_html(spec, validate=False, full_html=False, include_plotlyjs=False,
                         div_id=f"plot-{chart.key}", config=PLOTLY_CONFIG,
                         default_width="100%", default_height=f"{height}px"))


def render_page(sections: list[Section], *, data_sources, warehouse: str, version: str,
                synthetic_note: str, generated: dt.datetime | None = None,
                title: str = "critmin brief: critical-mineral supply chains") -> str:
    """The whole page as a string. `data_sources`: objects with title, attribution and
    licence (critmin.data.sources.Source)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    template = env.from_string(resources.files("critmin.report").joinpath(
        "templates/brief.html").read_text(encoding="utf-8"))
    views = [SimpleNamespace(
        key=s.key, title=s.title, intro=s.intro, synthetic=s.synthetic,
        synthetic_note=synthetic_note, notes=s.notes,
        charts=[_chart_view(c) for c in s.charts],
        tables=[SimpleNamespace(source=t.source, html=table_html(t.frame, t.title))
                for t in s.tables]) for s in sections]
    generated = generated or dt.datetime.now(dt.timezone.utc)
    return template.render(title=title, sections=views, data_sources=data_sources,
                           warehouse=warehouse, version=version,
                           generated=generated.strftime("%Y-%m-%d %H:%M UTC"),
                           plotly_js=Markup(get_plotlyjs()))
