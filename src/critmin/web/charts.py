"""Plotly figure specs as plain dicts (rendered in the browser by static/app.js), in the
Okabe–Ito colour-blind-safe palette, every axis titled with its unit."""

from __future__ import annotations

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies; black is left out of traces because the text is black.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


def colour(i: int) -> str:
    """The i-th palette colour (cycles)."""
    return OKABE_ITO[i % len(OKABE_ITO)]


def figure(traces: list[dict], *, title: str, x_title: str, y_title: str, source: str,
           y_format: str | None = None, y_range: list | None = None,
           x_type: str | None = None, grouped: bool = False) -> dict:
    """{"data", "layout", "title", "source"}: the page shows `title` above the chart (HTML
    wraps on a phone, a Plotly title does not) and `source`, where the numbers come from,
    under it; `x_title`/`y_title` must carry units. grouped: points of different traces at
    the same category sit side by side instead of on top of each other."""
    yaxis = {"title": {"text": y_title}, "automargin": True, "zeroline": False}
    if y_format:
        yaxis["tickformat"] = y_format
    if y_range:
        yaxis["range"] = y_range
    xaxis = {"title": {"text": x_title, "standoff": 12}, "automargin": True}
    if x_type:
        xaxis["type"] = x_type
    if x_title.startswith("year"):  # whole years, never "2,018.5"
        xaxis.update(dtick=1, tickformat="d")
    layout = {"xaxis": xaxis, "yaxis": yaxis,
              "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
              "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"},
              "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#111"},
              "paper_bgcolor": "#fff", "plot_bgcolor": "#fff", "height": 340}
    if grouped:
        layout["scattermode"] = "group"
    return {"data": traces, "layout": layout, "title": title, "source": source}


def bar(x, y, name: str, i: int = 0, **kw) -> dict:
    return {"type": "bar", "x": list(x), "y": list(y), "name": name,
            "marker": {"color": colour(i)}, **kw}


def line(x, y, name: str, i: int = 0, *, dash: str | None = None, **kw) -> dict:
    ln = {"color": colour(i), "width": 2}
    if dash:
        ln["dash"] = dash
    # markers of different shapes so lines differ by more than colour
    symbols = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star"]
    return {"type": "scatter", "mode": "lines+markers", "x": list(x), "y": list(y),
            "name": name, "line": ln, "marker": {"symbol": symbols[i % len(symbols)], "size": 7},
            **kw}


def interval(x, mid, lo, hi, name: str, i: int = 0, **kw) -> dict:
    """Points at `mid` with asymmetric error bars down to `lo` and up to `hi`."""
    mid, lo, hi = list(mid), list(lo), list(hi)
    return {"type": "scatter", "mode": "markers", "x": list(x), "y": mid, "name": name,
            "marker": {"color": colour(i), "size": 10,
                       "symbol": ["circle", "square", "diamond", "triangle-up"][i % 4]},
            "error_y": {"type": "data", "symmetric": False, "color": colour(i),
                        "array": [None if h is None or m is None else h - m
                                  for h, m in zip(hi, mid)],
                        "arrayminus": [None if l_ is None or m is None else m - l_
                                       for l_, m in zip(lo, mid)]}, **kw}
