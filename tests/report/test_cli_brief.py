"""`critmin brief`: one self-contained HTML file, errors that name what to fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from critmin.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECTIONS = ("supply", "flows", "scenarios", "oversight", "credit")
runner = CliRunner()


def figure_data(page: str, div_id: str) -> list[dict]:
    """The trace list that the page hands to Plotly.newPlot for the div `div_id`."""
    m = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', page)
    assert m, div_id
    data, _ = json.JSONDecoder().raw_decode(page, m.end())
    return data


def test_brief_is_one_self_contained_page(brief_run):
    out, result = brief_run
    assert result.exit_code == 0, result.output
    assert f"brief: {out}" in result.output.replace("\n", "")
    page = out.read_text(encoding="utf-8")
    assert page.count(get_plotlyjs()[:2000]) == 1  # the library once, inline
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    assert '<meta name="viewport"' in page
    for key in SECTIONS:
        assert f'<section id="{key}"' in page and f'href="#{key}"' in page, key
    assert page.count("Plotly.newPlot(") == 17
    assert page.count("<strong>Source:</strong>") >= 16
    assert "SYNTHETIC DATA" in page


def test_brief_commodities_option(warehouse_copy, tmp_path):
    out = tmp_path / "b.html"
    r = runner.invoke(app, ["brief", "--out", str(out), "--commodities", "nickel, cobalt",
                            "--scenario", str(EXAMPLES / "scenarios" /
                                              "nornickel_nickel_guidance_2025.yaml"),
                            "--draws", "20"])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert [t["name"] for t in figure_data(page, "plot-hhi")] == ["Nickel", "Cobalt"]
    # one market scenario given: the price scenario of the examples still stresses credit
    assert len(figure_data(page, "plot-price-bands")) == 2
    assert "plot-pd-1y" in page


def test_brief_names_a_file_that_is_no_scenario(warehouse_copy, tmp_path):
    bad = tmp_path / "oops.yaml"
    bad.write_text("name: not a scenario\nprice_change: 3\n")
    r = runner.invoke(app, ["brief", "--out", str(tmp_path / "b.html"), "--scenario",
                            str(bad)])
    assert r.exit_code == 1
    assert "oops.yaml" in r.output and "neither a market scenario" in r.output
    assert not (tmp_path / "b.html").exists()


def test_brief_names_an_unknown_commodity(warehouse_copy, tmp_path):
    r = runner.invoke(app, ["brief", "--out", str(tmp_path / "b.html"), "--commodities",
                            "nickle,unobtainium"])
    assert r.exit_code == 1
    assert "unobtainium" in r.output or "nickle" in r.output
