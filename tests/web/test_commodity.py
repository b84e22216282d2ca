"""The commodity page and its JSON twin: the same numbers, and those numbers equal direct SQL
on the warehouse and the peer library's published GeoPolRisk output."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from web._html import figure_traces, rows

PEER = Path(__file__).resolve().parents[1] / "reference" / "geopolrisk_peer_2.0.1.csv"


@pytest.fixture(scope="module")
def nickel(client):
    r = client.get("/api/commodity/nickel", params={"importer": "EU27", "year": 2022})
    assert r.status_code == 200
    return r.json()


def test_producer_shares_equal_direct_sql(nickel, wh_con):
    sql = dict(wh_con.execute(
        "SELECT country, quantity / sum(quantity) OVER () FROM production WHERE "
        "commodity = 'nickel' AND source = 'wmd' AND measure = 'production' AND year = 2022"
    ).fetchall())
    got = {r["country"]: r["share"] for r in nickel["producers"]["rows"]}
    assert len(got) == 12 and max(got, key=got.get) == "IDN"
    for iso3, share in got.items():
        # same data, different summation order: equal to float rounding
        assert share == pytest.approx(sql[iso3], rel=1e-12), iso3


def test_hhi_series_equals_direct_sql(nickel, wh_con):
    for row in nickel["concentration"]:
        q = np.array([v for (v,) in wh_con.execute(
            "SELECT quantity FROM production WHERE commodity = 'nickel' AND source = 'wmd' "
            "AND measure = 'production' AND year = ? AND quantity > 0", [row["year"]]
        ).fetchall()])
        s = q / q.sum()
        assert row["production_hhi"] == pytest.approx(float((s ** 2).sum()), rel=1e-12)


def test_top_exporters_equal_direct_sql(nickel, wh_con):
    sql = wh_con.execute(
        "SELECT t.exporter, sum(t.value_usd) FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6 "
        "WHERE h.commodity = 'nickel' AND t.source = 'baci' AND t.year = 2022 "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 12").fetchall()
    got = [(r["country"], r["value_usd"]) for r in nickel["trade"]["top_exporters"]]
    assert [c for c, _ in got] == [c for c, _ in sql]
    for (_, a), (_, b) in zip(got, sql):
        assert a == pytest.approx(b, rel=1e-12)


def test_geopolrisk_compat_equals_peer_output(nickel):
    """geopolrisk-py 2.0.1's own score for the EU, nickel, 2022 (tests/reference)."""
    with PEER.open() as f:
        peer = next(r for r in csv.DictReader(f) if r["material"] == "Nickel"
                    and r["importer_iso3"] == "EU27" and r["year"] == "2022")
    compat = next(r for r in nickel["risk"]["geopolrisk"] if r["method"] == "compat")
    # compat mode reproduces the peer to rounding (tests/risk/test_geopolrisk_compat: 1e-9)
    assert compat["score"] == pytest.approx(float(peer["score"]), rel=1e-8)
    assert compat["cf"] == pytest.approx(float(peer["cf"]), rel=1e-8)
    assert {r["method"] for r in nickel["risk"]["geopolrisk"]} == {"compat", "corrected"}


def test_html_shows_the_json_numbers(client, nickel):
    r = client.get("/commodity/nickel", params={"importer": "EU27", "year": 2022})
    assert r.status_code == 200
    page = r.text
    shown = rows(page, "producers-table", "country")
    for row in nickel["producers"]["rows"]:
        (q_val, q_txt), (s_val, s_txt) = shown[row["country"]]
        assert float(q_val) == row["quantity"] and float(s_val) == row["share"]
        assert s_txt == f"{100 * row['share']:.1f} %"
        assert q_txt == f"{row['quantity']:,.0f}"
    gpr = rows(page, "geopolrisk-table", "method")
    for g in nickel["risk"]["geopolrisk"]:
        assert float(gpr[g["method"]][3][0]) == g["score"]
    for name, fig in nickel["charts"].items():
        assert figure_traces(page, name) == len(fig["data"]) >= 1
    assert len(nickel["charts"]["flows"]["data"]) == 5
    for fig in nickel["charts"].values():  # units on every axis
        assert fig["layout"]["yaxis"]["title"]["text"] and fig["layout"]["xaxis"]["title"]["text"]


def test_defaults_and_errors(client):
    r = client.get("/api/commodity/Rare earths")
    assert r.status_code == 200 and r.json()["commodity"]["key"] == "rare_earths"
    assert r.json()["year"] == max(r.json()["years"])
    bad = client.get("/api/commodity/unobtainium")
    assert bad.status_code == 404
    assert "unknown commodity 'unobtainium'" in bad.json()["error"]["message"]
    assert client.get("/commodity/unobtainium").status_code == 404
    imp = client.get("/api/commodity/nickel", params={"importer": "Atlantis"})
    assert imp.status_code == 422 and "Atlantis" in imp.json()["error"]["message"]
    assert client.get("/commodity/nickel", params={"importer": "Atlantis"}).status_code == 422
    gold = client.get("/commodity/gold")
    assert gold.status_code == 200 and '<option value="gold" selected>' in gold.text
    yr = client.get("/api/commodity/nickel", params={"year": 1990})
    assert yr.status_code == 422 and "2018" in yr.json()["error"]["message"]
    assert not math.isnan(client.get("/api/commodity/cobalt").json()["producers"]["hhi"])


def test_index_and_assets(client):
    r = client.get("/")
    assert r.status_code == 200
    for href in ("/commodity/nickel", "/scenario", "/credit", "/oversight"):
        assert f'href="{href}"' in r.text
    assert client.get("/api").json()["pages"]["scenario"] == "/scenario"
    go = client.get("/commodity", params={"name": "rare earths", "importer": "EU27",
                                          "year": "2022"}, follow_redirects=False)
    assert go.status_code == 303
    assert go.headers["location"] == "/commodity/rare%20earths?importer=EU27&year=2022"
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and b"plotly" in js.content[:2000].lower()
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/nope.js").status_code == 404
