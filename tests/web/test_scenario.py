"""The scenario page: run from the form or the JSON API, downloads, and errors shown next to
the field with its line."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import yaml

from web._html import figure_traces, rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / \
    "nornickel_nickel_guidance_2025.yaml"
RUN = {"draws": "300", "seed": "7"}


@pytest.fixture(scope="module")
def text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def result(client, text):
    r = client.post("/api/scenario", data={"yaml_text": text, **RUN})
    assert r.status_code == 200, r.text
    return r.json()


def test_run_numbers_match_independent_figures(result, wh_con, text):
    assert result["draws"] == 300 and result["seed"] == 7
    bands = {b["metric"]: b for b in result["bands"]}
    # base price: the mean of the 2025 monthly World Bank Pink Sheet nickel prices (USD/t)
    (p0,), = wh_con.execute("SELECT avg(price) FROM prices WHERE source = 'wb_pink_sheet' AND "
                            "series = 'NICKEL' AND year(period) = 2025").fetchall()
    for q in ("P5", "P50", "P95"):
        assert bands["price_usd_per_t"][f"base_{q}"] == pytest.approx(p0, rel=1e-9)
    # a supply cut can only raise the price: every shocked percentile is above the base
    assert bands["price_usd_per_t"]["shocked_P5"] > p0
    supply = {s["country"]: s for s in result["supply_changes"]}
    # the cut is a range {low, mode, high}: the supply table shows it at its central value (the
    # mode), the bands draw it; the drawn sizes stay in the range
    cut = yaml.safe_load(text)["output_cuts"][0]["cut_t"]
    assert supply["RUS"]["change_t"] == pytest.approx(-cut["mode"], abs=1e-6)
    drawn = bands["shock:output_cuts.0.cut_t"]
    assert cut["low"] <= drawn["shocked_P5"] < drawn["shocked_P50"] < drawn["shocked_P95"] \
        <= cut["high"]
    wmd = dict(wh_con.execute("SELECT country, quantity FROM production WHERE source = 'wmd' "
                              "AND commodity = 'nickel' AND year = 2024").fetchall())
    assert supply["RUS"]["base_t"] == pytest.approx(wmd["RUS"], rel=1e-12)
    assert sum(s["base_t"] for s in supply.values()) == pytest.approx(sum(wmd.values()),
                                                                      rel=1e-9)
    # exposure: BACI value of Russia's nickel exports to China in 2024, by direct SQL
    (chn,), = wh_con.execute(
        "SELECT sum(t.value_usd) FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6 WHERE "
        "h.commodity = 'nickel' AND t.source = 'baci' AND t.year = 2024 AND "
        "t.exporter = 'RUS' AND t.importer = 'CHN'").fetchall()
    expo = {e["importer"]: e for e in result["exposure"]["rows"]}
    assert result["exposure"]["origins"] == ["RUS"]
    assert expo["CHN"]["value_from_origins_usd"] == pytest.approx(chn, rel=1e-9)


def test_form_run_shows_the_json_numbers(client, text, result):
    r = client.post("/scenario", data={"yaml_text": text, **RUN,
                                       "example": EXAMPLE.name})
    assert r.status_code == 200
    shown = rows(r.text, "bands-table", "metric")
    for b in result["bands"]:
        vals = [float(v) for v, _ in shown[b["metric"]]]
        assert vals == [b[k] for k in ("base_P5", "base_P50", "base_P95", "shocked_P5",
                                       "shocked_P50", "shocked_P95")]
    assert figure_traces(r.text, "price") == 2 and figure_traces(r.text, "supply") == 2
    assert 'action="/api/scenario?format=csv"' in r.text


def test_csv_download(client, text, result):
    r = client.post("/api/scenario", params={"format": "csv"},
                    data={"yaml_text": text, **RUN})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [t["metric"] for t in table] == [b["metric"] for b in result["bands"]]
    for t, b in zip(table, result["bands"]):
        assert float(t["shocked_P50"]) == pytest.approx(b["shocked_P50"], rel=1e-12)


def test_upload_and_json_body(client, text, result):
    up = client.post("/api/scenario", data=RUN,
                     files={"upload": ("guidance.yaml", text.encode(), "text/yaml")})
    assert up.status_code == 200 and up.json()["scenario"]["file"] == "guidance.yaml"
    assert up.json()["bands"] == result["bands"]
    js = client.post("/api/scenario", json={"yaml": text, "draws": 300, "seed": 7})
    assert js.status_code == 200 and js.json()["bands"] == result["bands"]


def _error_next_to_textarea(page: str) -> str:
    m = re.search(r'<textarea id="yaml_text".*?</textarea>\s*<p class="field-error" '
                  r'id="yaml-error"[^>]*>(.*?)</p>', page, re.S)
    assert m, "no error right after the textarea"
    return re.sub(r"<[^>]+>", "", m.group(1))


@pytest.mark.parametrize("bad, line, field, words", [
    ("name: x\ncommodity: nikel\nbase_year: 2024\n", 2, "commodity", "closest matches: nickel"),
    ("name: x\ncommodity: nickel\nbase_year: 2024\noutput_cuts:\n  - country: RUS\n"
     "    cut_share: 1.5\n    source: test\n", 6, "output_cuts.0.cut_share", "less than or equal"),
    ("name: x\ncommodity: nickel\nbase_year: [2024\n", 4, None, "not valid YAML"),
    ("name: x\ncommodity: nickel\nbase_year: 2024\ncolour: red\n", 4, "colour",
     "extra inputs are not permitted"),
])
def test_invalid_yaml_shows_field_error(client, bad, line, field, words):
    r = client.post("/scenario", data={"yaml_text": bad})
    assert r.status_code == 422
    assert "Traceback" not in r.text
    msg = _error_next_to_textarea(r.text)
    assert f"Line {line}" in msg and words in msg
    if field:
        assert f'data-field="{field}"' in r.text
    assert 'aria-invalid="true"' in r.text and 'aria-describedby="yaml-hint yaml-error"' in r.text
    api = client.post("/api/scenario", json={"yaml": bad})
    assert api.status_code == 422
    err = api.json()["error"]
    assert err["line"] == line and err["field"] == field and words in err["message"]


def test_form_field_errors_sit_next_to_their_field(client, text):
    r = client.post("/scenario", data={"yaml_text": text, "draws": "lots"})
    assert r.status_code == 422
    assert re.search(r'id="draws".*?<p class="field-error" id="draws-error"[^>]*>draws must be '
                     r'a whole number', r.text, re.S)
    big = client.post("/api/scenario", data={"yaml_text": text, "draws": "10000000"})
    assert big.status_code == 422 and big.json()["error"]["field"] == "draws"
    empty = client.post("/api/scenario", data={"yaml_text": "  "})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["message"]
    model = client.post("/api/scenario", json={"yaml": text.replace("commodity: nickel",
                                                                    "commodity: manganese")})
    assert model.status_code == 422 and "cost curve" in model.json()["error"]["message"]


def test_form_prefilled_from_examples(client, text):
    r = client.get("/scenario")
    assert r.status_code == 200
    assert "Nornickel cut its 2025 nickel guidance" in r.text  # the default example's text
    other = client.get("/api/scenario", params={"example": "pgm_west_purchase_ban.yaml"})
    assert other.json()["example"] == "pgm_west_purchase_ban.yaml"
    assert "purchase_bans" in other.json()["yaml"]
    assert "nickel_palladium_shock.yaml" not in other.json()["examples"]  # a credit scenario
    assert '<label for="yaml_text">' in r.text and '<label for="upload">' in r.text


def test_purchase_ban_runs_with_re_routing(client):
    """The PGM ban runs on the BACI traded market: the page's JSON carries the bloc prices and
    the re-routed Russian flows (issue 4)."""
    ban = (EXAMPLE.parent / "pgm_west_purchase_ban.yaml").read_text(encoding="utf-8")
    r = client.post("/api/scenario", data={"yaml_text": ban, "draws": "50", "seed": "1"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["re_routing"]["computed"] is True
    moved = {f["importer"]: f["change_P50_t"] for f in out["re_routing"]["rows"]}
    assert moved["USA"] < 0 < moved["CHN"]
    bands = {b["metric"]: b for b in out["bands"]}
    assert bands["price_usd_per_t:sanctioned"]["shocked_P50"] < bands[
        "price_usd_per_t:rest"]["shocked_P50"]


def test_multi_period_scenario_charts_its_price_path(client):
    """nickel_loss_making_2025.yaml (8 quarters, closures): the page draws the dynamic price
    path, and the chart's median line is meta.price_path's P50, period by period."""
    import json
    text = (EXAMPLE.parent / "nickel_loss_making_2025.yaml").read_text(encoding="utf-8")
    r = client.post("/api/scenario", data={"yaml_text": text, "draws": "60", "seed": "3"})
    assert r.status_code == 200, r.text
    path = r.json()["meta"]["price_path"]
    assert len(path) == 8
    page = client.post("/scenario", data={"yaml_text": text, "draws": "60", "seed": "3"})
    assert figure_traces(page.text, "path") == 3
    fig = json.loads(re.search(r'<script type="application/json" id="fig-path">(.*?)</script>',
                               page.text, re.S).group(1))
    assert fig["data"][0]["y"] == [p["P50"] for p in path]
    single = client.post("/scenario", data={"yaml_text": EXAMPLE.read_text(encoding="utf-8"),
                                            **RUN})
    assert 'id="fig-path"' not in single.text           # one period: no path chart
