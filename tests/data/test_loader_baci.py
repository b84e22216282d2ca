"""BACI loaders on small files in the real CSV and SQLite layouts."""

from __future__ import annotations

import math

import pytest

from critmin.data.loaders.baci import catalog_hs6, read_baci_csv, read_baci_sqlite
from critmin.errors import DataFileError


def _rows(staged):
    return staged.tables["trade"].to_pandas().sort_values(["year", "exporter", "importer", "hs6"])


def test_csv_to_tidy_trade(data_dir):
    staged = read_baci_csv([data_dir / "baci_small.csv"])
    df = _rows(staged)
    assert len(df) == 6
    first = df[(df.exporter == "RUS") & (df.importer == "CHN") & (df.hs6 == "711021")].iloc[0]
    # v is thousands of USD: 1500.25 kUSD -> 1,500,250 USD (one multiplication: 1e-12 relative)
    assert first.value_usd == pytest.approx(1_500_250.0, rel=1e-12)
    assert first.quantity_t == 2.5 and first.year == 2022
    # NA and empty quantities are unknown, not zero
    na = df[(df.importer == "USA")].iloc[0]
    assert math.isnan(na.quantity_t)
    empty = df[df.hs6 == "284690"].iloc[0]
    assert math.isnan(empty.quantity_t)
    # padded numbers are read; BACI's non-ISO codes map through the catalog
    assert df[df.hs6 == "260400"].iloc[0].quantity_t == 100.5
    assert empty.exporter == "TWN"  # 490 'Other Asia, nes'
    assert set(df.exporter) | set(df.importer) >= {"USA", "FRA", "IND", "CHE"}
    assert staged.files[0][1] and len(staged.files[0][1]) == 64


def test_hs_codes_are_zero_padded_and_filtered(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("t,i,j,k,v,q\n2020,156,392,10121,1,1\n2020,156,392,260400,2,2\n")
    all_codes = _rows(read_baci_csv([f]))
    assert sorted(all_codes.hs6) == ["010121", "260400"]
    minerals = _rows(read_baci_csv([f], hs_filter=catalog_hs6()))
    assert list(minerals.hs6) == ["260400"]


def test_code_files_are_checked(data_dir):
    staged = read_baci_csv([data_dir / "baci_small.csv", data_dir / "baci_country_codes.csv",
                            data_dir / "baci_product_codes.csv"])
    assert len(staged.files) == 3


def test_product_not_in_product_file(data_dir, tmp_path):
    products = tmp_path / "product_codes.csv"
    products.write_text("code,description\n711021,x\n")
    with pytest.raises(DataFileError) as info:
        read_baci_csv([data_dir / "baci_small.csv", products])
    e = info.value
    assert e.path.endswith("baci_small.csv") and e.field == "k" and e.line == 4


def test_malformed_row_names_file_line_field(data_dir):
    with pytest.raises(DataFileError) as info:
        read_baci_csv([data_dir / "baci_malformed.csv"])
    e = info.value
    assert e.path.endswith("baci_malformed.csv")
    assert e.line == 4
    assert e.field == "q"
    assert "6 fields" in str(e)


def test_bad_quantity_names_line_and_field(data_dir):
    with pytest.raises(DataFileError) as info:
        read_baci_csv([data_dir / "baci_bad_quantity.csv"])
    assert (info.value.line, info.value.field) == (3, "q")
    assert "12,5x" in str(info.value)


def test_unknown_country_code(data_dir):
    with pytest.raises(DataFileError) as info:
        read_baci_csv([data_dir / "baci_unknown_country.csv"])
    assert (info.value.line, info.value.field) == (3, "i")
    assert "999" in str(info.value)


def test_not_a_baci_file(data_dir):
    with pytest.raises(DataFileError, match="not a BACI file"):
        read_baci_csv([data_dir / "pink_sheet_small.csv"])


def test_sqlite_layout(geopolrisk_mini):
    df = _rows(read_baci_sqlite(geopolrisk_mini / "baci.db"))
    assert len(df) == 4
    blx = df[df.year == 1995].iloc[0]
    assert (blx.exporter, blx.importer, blx.hs6) == ("BLX", "DEU", "260300")
    assert blx.value_usd == pytest.approx(88_981.0, rel=1e-12)
    assert math.isnan(df[df.importer == "USA"].iloc[0].quantity_t)


def test_sqlite_bad_value_names_rowid(geopolrisk_mini):
    import sqlite3
    con = sqlite3.connect(geopolrisk_mini / "baci.db")
    con.execute("UPDATE baci_trade SET v = 'abc' WHERE rowid = 3")
    con.commit()
    con.close()
    with pytest.raises(DataFileError) as info:
        read_baci_sqlite(geopolrisk_mini / "baci.db")
    assert (info.value.line, info.value.field) == (3, "v")


def test_right_aligned_na_quantities(tmp_path):
    # some BACI releases right-align q in a fixed width, 'NA' included
    f = tmp_path / "padded.csv"
    f.write_text("t,i,j,k,v,q\n2021,4,36,81110,0.019,           NA\n"
                 "2021,4,36,260400,1.5,       0.250\n")
    df = _rows(read_baci_csv([f]))
    assert math.isnan(df[df.hs6 == "081110"].iloc[0].quantity_t)
    assert df[df.hs6 == "260400"].iloc[0].quantity_t == 0.25
    f.write_text("t,i,j,k,v,q\n2021,4,36,81110,0.019,           NA\n2021,4,36,260400,1.5,  x\n")
    with pytest.raises(DataFileError) as info:
        read_baci_csv([f])
    assert (info.value.line, info.value.field) == (3, "q")


def test_staged_in_the_warehouse_connection(data_dir):
    import duckdb

    from critmin.data import warehouse
    con = duckdb.connect()
    warehouse.create_schema(con)
    staged = read_baci_csv([data_dir / "baci_small.csv"], con=con)
    assert isinstance(staged.tables["trade"], str)  # a temporary view, not a copy
    assert warehouse.write(con, staged) == {"trade": 6}
    assert con.execute("SELECT count(*) FROM trade WHERE exporter = 'RUS'").fetchall() == [(3,)]


def test_older_country_code_layout(data_dir, tmp_path):
    # BACI releases before 2024 name the columns differently
    f = tmp_path / "country_codes_V202301.csv"
    f.write_text("country_code,country_name_abbreviation,country_name_full,iso_2digit_alpha,"
                 "iso_3digit_alpha\n643,Russian Federation,Russian Federation,RU,RUS\n"
                 "999,Atlantis,Atlantis,AT,ATL\n")
    with pytest.raises(DataFileError) as info:
        read_baci_csv([data_dir / "baci_small.csv", f])
    assert (info.value.line, info.value.field) == (3, "country_code")
    assert "Atlantis" in str(info.value)
