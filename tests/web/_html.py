"""Reading numbers back out of the rendered pages (regular expressions over our own markup)."""

from __future__ import annotations

import html
import re


def table(text: str, table_id: str) -> str:
    m = re.search(rf'<table id="{re.escape(table_id)}".*?</table>', text, re.S)
    assert m, f"no table #{table_id} in the page"
    return m.group(0)


def rows(text: str, table_id: str, key: str) -> dict[str, list[tuple[str, str]]]:
    """{row key (data-<key>): [(data-value, shown text) of each numeric cell]}."""
    out = {}
    for k, body in re.findall(rf'<tr data-{key}="([^"]*)">(.*?)</tr>', table(text, table_id),
                              re.S):
        out[html.unescape(k)] = [(v, html.unescape(t)) for v, t in
                                 re.findall(r'<td class="n" data-value="([^"]*)">([^<]*)</td>',
                                            body)]
    return out


def figure_traces(text: str, chart_id: str) -> int:
    """Number of traces in the figure JSON embedded for chart `chart_id`."""
    import json
    m = re.search(rf'<script type="application/json" id="fig-{re.escape(chart_id)}">(.*?)'
                  r'</script>', text, re.S)
    assert m, f"no figure {chart_id}"
    return len(json.loads(m.group(1))["data"])
