"""The DuckDB warehouse: where it lives, how it is built from the bundled extract, and the one
transactional writer every loader goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import duckdb
import pandas as pd
import platformdirs

from critmin.catalog import commodities as _commodities
from critmin.catalog import countries as _countries
from critmin.catalog.prices import price_series_table
from critmin.data.schema import SCHEMA_VERSION, TABLES
from critmin.errors import CritminError, WarehouseError

FACT_TABLES = ("production", "reserves", "trade", "governance", "prices")


def home() -> Path:
    """critmin's data directory: $CRITMIN_HOME, else the platform's user data directory."""
    env = os.environ.get("CRITMIN_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("critmin"))


def warehouse_path() -> Path:
    """Path of the warehouse DuckDB file."""
    return home() / "warehouse.duckdb"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Staged:
    """What a loader produced, validated and ready to write in one transaction.

    `tables` maps a warehouse table name to its new rows in warehouse columns: a pandas
    DataFrame, an Arrow table, or the name of a temporary table already staged in the
    connection `write` will use (large loads stage there to avoid copies).
    `keys` optionally gives, per table, the distinct `replace_on` values of the new rows when
    the loader knows them more cheaply than a scan of the rows.
    `files` lists (path, sha256) of the input files.
    """

    source: str
    loader: str
    tables: dict[str, Any]
    files: list[tuple[str, str]] = field(default_factory=list)
    keys: dict[str, Any] = field(default_factory=dict)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every warehouse table that does not exist yet."""
    for t in TABLES.values():
        con.execute(t.ddl())
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")


def write_catalog(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)write the catalog tables so SQL users can join names, blocs and HS codes."""
    frames = {
        "commodities": _commodities.commodity_table(),
        "commodity_hs": _commodities.hs_table(),
        "countries": _countries.country_table(),
        "blocs": _countries.bloc_table(),
        "price_series": price_series_table(),
    }
    for name, df in frames.items():
        con.register("_catalog", df)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _catalog")
        con.unregister("_catalog")


def write(con: duckdb.DuckDBPyConnection, staged: Staged | list[Staged]) -> dict[str, int]:
    """Write loaders' output in one transaction: replace the rows each supersedes, insert the new
    rows, record provenance. On any error nothing is changed. Returns rows written per table."""
    from critmin import __version__

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    counts: dict[str, int] = {}
    batch = staged if isinstance(staged, list) else [staged]
    con.execute("BEGIN TRANSACTION")
    try:
        for staged in batch:
            for name, data in staged.tables.items():
                t = TABLES[name]
                registered = []
                rel = data if isinstance(data, str) else "_staged"
                if not isinstance(data, str):
                    con.register("_staged", data)
                    registered.append("_staged")
                cols = ", ".join(t.column_names)
                if t.replace_on:
                    keys = ", ".join(t.replace_on)
                    if name in staged.keys:
                        con.register("_keys", staged.keys[name])
                        registered.append("_keys")
                        key_rel = "_keys"
                    else:
                        key_rel = f"(SELECT DISTINCT {keys} FROM {rel})"
                    match = " AND ".join(f"{name}.{k} IS NOT DISTINCT FROM s.{k}"
                                         for k in t.replace_on)
                    con.execute(f"DELETE FROM {name} USING {key_rel} s WHERE {match}")
                n = con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {rel}"
                                ).fetchall()[0][0]
                for tmp in registered:
                    con.unregister(tmp)
                counts[name] = counts.get(name, 0) + n
                for path, digest in staged.files or [("", "")]:
                    con.execute(
                        "INSERT INTO provenance VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [name, staged.source, str(path), digest,
                         f"critmin.data.loaders.{staged.loader} {__version__}", now, n],
                    )
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, (CritminError, KeyboardInterrupt)):
            raise
        sources = sorted({b.source for b in batch})
        raise WarehouseError(f"load of {sources} failed and was rolled back: {exc}") from exc
    return counts


def _bundle_dir() -> Path:
    return Path(str(resources.files("critmin.data").joinpath("bundle")))


def build(path: str | Path | None = None, *, force: bool = False,
          progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Build the warehouse from the bundled Parquet extract; returns its path.

    The new file is written beside the target and renamed into place, so a failed or
    interrupted build leaves any existing warehouse untouched. `progress(step, done, total)`
    is called after each table.
    """
    target = Path(path) if path else warehouse_path()
    if target.exists() and not force:
        return target
    bundle = _bundle_dir()
    missing = [t for t in FACT_TABLES + ("provenance",) if not (bundle / f"{t}.parquet").exists()]
    if missing:
        raise WarehouseError(
            f"bundled extract incomplete in {bundle}: missing {missing}; "
            "run scripts/build_bundle.py from a source checkout"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".warehouse-", suffix=".duckdb", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB wants to create the file itself
    steps = ["catalog", *FACT_TABLES, "provenance"]
    try:
        con = duckdb.connect(str(tmp))
        try:
            create_schema(con)
            write_catalog(con)
            if progress:
                progress("catalog", 1, len(steps))
            for i, name in enumerate(steps[1:], start=2):
                cols = ", ".join(TABLES[name].column_names)
                src = str(bundle / f"{name}.parquet").replace("'", "''")
                con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM read_parquet('{src}')")
                if progress:
                    progress(name, i, len(steps))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), "
                        "('built_from', 'bundle'), ('built_at', ?)",
                        [str(SCHEMA_VERSION), dt.datetime.now(dt.timezone.utc).isoformat()])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return target


def connect(path: str | Path | None = None, *, read_only: bool = False,
            build_if_missing: bool = True,
            progress: Callable[[str, int, int], None] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, building it from the bundled extract first if it does not exist."""
    target = Path(path) if path else warehouse_path()
    if not target.exists():
        if not build_if_missing:
            raise WarehouseError(f"no warehouse at {target}; run `critmin data build`")
        build(target, progress=progress)
    con = duckdb.connect(str(target), read_only=read_only)
    # fetchall, not fetchone: DuckDB 2 refuses new work while a result is unfinished
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    version = rows[0] if rows else None
    if version is None or int(version[0]) != SCHEMA_VERSION:
        con.close()
        raise WarehouseError(
            f"warehouse {target} has schema {version and version[0]}, this critmin needs "
            f"{SCHEMA_VERSION}; run `critmin data build --force`"
        )
    return con


def info(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows per (table, source) with the source's licence, and the latest load time."""
    from critmin.data.sources import SOURCES

    parts = [
        f"SELECT '{t}' AS table_name, source, count(*) AS rows FROM {t} GROUP BY source"
        for t in FACT_TABLES
    ]
    df = con.execute(" UNION ALL ".join(parts) + " ORDER BY table_name, source").df()
    last = con.execute(
        "SELECT dataset AS table_name, source, max(loaded_at) AS loaded_at "
        "FROM provenance GROUP BY ALL"
    ).df()
    df = df.merge(last, on=["table_name", "source"], how="left")
    df["licence"] = [SOURCES[s].licence if s in SOURCES else "" for s in df["source"]]
    return df
