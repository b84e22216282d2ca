"""The warehouse: built from the bundle, loads are transactions, provenance is recorded."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from critmin.data import loaders, warehouse
from critmin.errors import DataFileError, WarehouseError
from helpers import fingerprint


def test_build_matches_the_bundle(built_warehouse):
    con = warehouse.connect(built_warehouse, read_only=True)
    bundle = warehouse._bundle_dir()
    for name in [*warehouse.FACT_TABLES, "provenance"]:
        n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        assert n == pq.ParquetFile(bundle / f"{name}.parquet").metadata.num_rows > 0, name
    for catalog in ("commodities", "commodity_hs", "countries", "blocs", "price_series"):
        assert con.execute(f"SELECT count(*) FROM {catalog}").fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM commodities").fetchone()[0] == 65
    # every trade partner is a catalog country (BACI codes were mapped at bundle build)
    unmapped = con.execute("""SELECT DISTINCT c FROM (SELECT exporter c FROM trade UNION
        SELECT importer FROM trade) WHERE c NOT IN (SELECT iso3 FROM countries)""").fetchall()
    assert unmapped == []
    con.close()


def test_bundle_is_compact():
    size = sum(p.stat().st_size for p in warehouse._bundle_dir().glob("*.parquet"))
    assert size < 20e6, f"bundle is {size / 1e6:.1f} MB; the issue allows about 20 MB"


def test_schema_version_is_checked(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    warehouse.create_schema(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    con.close()
    with pytest.raises(WarehouseError, match="build --force"):
        warehouse.connect(path)


def test_missing_warehouse_without_build(tmp_path):
    with pytest.raises(WarehouseError, match="critmin data build"):
        warehouse.connect(tmp_path / "none.duckdb", build_if_missing=False)


def test_load_replaces_rows_it_supersedes(warehouse_copy, data_dir):
    con = warehouse.connect(warehouse_copy)
    before = con.execute("SELECT count(*) FROM production").fetchone()[0]
    prov = con.execute("SELECT count(*) FROM provenance").fetchone()[0]
    for _ in range(2):
        warehouse.write(con, loaders.stage("tidy-production", [data_dir / "tidy_production.csv"]))
    assert con.execute("SELECT count(*) FROM production").fetchone()[0] == before + 3
    rows = con.execute("SELECT file_sha256, rows, loader FROM provenance WHERE source = 'user'"
                       ).fetchall()
    assert len(rows) == 2 and rows[0][1] == 3 and len(rows[0][0]) == 64
    assert rows[0][2].startswith("critmin.data.loaders.tidy.production")
    assert con.execute("SELECT count(*) FROM provenance").fetchone()[0] == prov + 2
    con.close()


def test_failed_write_changes_nothing(warehouse_copy, data_dir):
    before = fingerprint(warehouse_copy)
    good = loaders.stage("tidy-production", [data_dir / "tidy_production.csv"])[0]
    bad = loaders.stage("tidy-trade", [data_dir / "tidy_trade.csv"])[0]
    bad.tables["trade"] = bad.tables["trade"].assign(exporter=None)  # violates NOT NULL
    con = warehouse.connect(warehouse_copy)
    with pytest.raises(WarehouseError, match="rolled back"):
        warehouse.write(con, [good, bad])  # the good half must not land either
    con.close()
    assert fingerprint(warehouse_copy) == before


def test_failed_parse_changes_nothing(warehouse_copy, data_dir):
    before = fingerprint(warehouse_copy)
    with pytest.raises(DataFileError):
        loaders.stage("baci", [data_dir / "baci_small.csv", data_dir / "baci_malformed.csv"])
    assert fingerprint(warehouse_copy) == before


def test_build_force_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    warehouse.build(path)
    before = fingerprint(path)

    def boom(*_):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        warehouse.build(path, force=True, progress=lambda step, *_: boom() if step == "trade"
                        else None)
    assert fingerprint(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.duckdb"]  # no temp files left


def test_home_override(monkeypatch, tmp_path):
    monkeypatch.setenv("CRITMIN_HOME", str(tmp_path))
    assert warehouse.warehouse_path() == tmp_path / "warehouse.duckdb"


def test_info_lists_sources_and_licences(built_warehouse):
    con = warehouse.connect(built_warehouse, read_only=True)
    df = warehouse.info(con)
    con.close()
    assert set(df.source) >= {"baci", "wmd", "wgi", "wb_pink_sheet", "usgs_mcs2025"}
    assert "imf_pcps" not in set(df.source)  # not redistributable: never shipped
    assert df.set_index(["table_name", "source"]).loc[("trade", "baci"), "licence"].startswith(
        "Etalab")
    assert isinstance(df, pd.DataFrame)
