"""Loader for users' own data in a documented tidy CSV layout (one file per table).

production.csv: commodity, country, year, quantity, unit [, estimated, measure, source]
trade.csv:      year, exporter, importer, hs6, value_usd [, quantity_t, source]
prices.csv:     commodity, period (YYYY-MM, YYYY-MM-01 or YYYY), price, unit [, series, source]

Names may be any catalog name or alias; they are stored as catalog keys. Empty optional cells
are unknown, never zero. `source` defaults to 'user' and may not be the id of a shipped
source (loading would replace the public rows).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from critmin.data.loaders._common import (
    existing, read_header, require_columns, resolve_commodity, resolve_country,
)
from critmin.data.sources import SOURCES
from critmin.data.warehouse import Staged, sha256_file
from critmin.errors import DataFileError

LAYOUTS: dict[str, tuple[list[str], dict[str, str]]] = {
    # table: (required columns, optional columns with their default)
    "production": (["commodity", "country", "year", "quantity", "unit"],
                   {"estimated": "", "measure": "production", "source": "user"}),
    "trade": (["year", "exporter", "importer", "hs6", "value_usd"],
              {"quantity_t": "", "source": "user"}),
    "prices": (["commodity", "period", "price", "unit"], {"series": "", "source": "user"}),
}
TRUE, FALSE = {"true", "1", "yes", "y", "e"}, {"false", "0", "no", "n", "r"}


def _names(df: pd.DataFrame, col: str, resolve, path: Path) -> pd.Series:
    # resolve each distinct name once: files may hold millions of rows and a few hundred names
    mapping = {}
    for name in df[col].unique():
        line = int(df.index[df[col] == name][0]) + 2
        mapping[name] = resolve(name, path, line, col)
    return df[col].map(mapping)


def _numbers(df: pd.DataFrame, col: str, path: Path, *, required: bool, integer: bool = False,
             minimum: float | None = None) -> pd.Series:
    text = df[col].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & ((text != "") | required)
    if integer:
        bad |= values.notna() & (values % 1 != 0)
    if minimum is not None:
        bad |= values < minimum
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        need = "an integer" if integer else "a number"
        limit = f" >= {minimum:g}" if minimum is not None else ""
        raise DataFileError(str(path), i + 2, col, f"expected {need}{limit}: {text.iloc[i]!r}")
    return values


def _period(text: str, path: Path, line: int) -> tuple[dt.date, str]:
    t = text.strip()
    for pattern, freq in ((r"\d{4}", "A"), (r"\d{4}-\d{2}", "M"), (r"\d{4}-\d{2}-01", "M")):
        if re.fullmatch(pattern, t):
            parts = [int(x) for x in t.split("-")] + [1, 1]
            try:
                return dt.date(parts[0], parts[1], 1), freq
            except ValueError:
                break
    raise DataFileError(str(path), line, "period",
                        f"expected YYYY, YYYY-MM or YYYY-MM-01: {text!r}")


def read_si_inputs(path: str | Path) -> pd.DataFrame:
    """Substitution indices for the EU supply-risk score: a CSV with columns commodity and
    si_sr (0..1, the EU's published values or your own). Commodities resolve via the catalog."""
    p = existing(path)
    require_columns(p, read_header(p), ["commodity", "si_sr"])
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    out = pd.DataFrame({"commodity": _names(df, "commodity", resolve_commodity, p)})
    out["si_sr"] = _numbers(df, "si_sr", p, required=True, minimum=0)
    bad = out["si_sr"] > 1
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DataFileError(str(p), i + 2, "si_sr", f"must lie in 0..1: {df['si_sr'][i]!r}")
    return out


def read_tidy_csv(path: str | Path, table: str) -> Staged:
    """Read a user's tidy CSV for `table` ('production', 'trade' or 'prices')."""
    if table not in LAYOUTS:
        raise DataFileError(str(path), None, None,
                            f"unknown tidy table {table!r}; expected one of {sorted(LAYOUTS)}")
    p = existing(path)
    required, optional = LAYOUTS[table]
    header = read_header(p)
    require_columns(p, header, required)
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if df.empty:
        raise DataFileError(str(p), 2, None, "no data rows")
    for col, default in optional.items():
        if col not in df:
            df[col] = default
    out = pd.DataFrame(index=df.index)
    if table == "production":
        out["commodity"] = _names(df, "commodity", resolve_commodity, p)
        out["country"] = _names(df, "country", resolve_country, p)
        out["year"] = _numbers(df, "year", p, required=True, integer=True).astype("int16")
        out["quantity"] = _numbers(df, "quantity", p, required=True, minimum=0)
        out["unit"] = df["unit"].str.strip()
        flags = df["estimated"].str.strip().str.lower()
        bad = ~flags.isin(TRUE | FALSE | {""})
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataFileError(str(p), i + 2, "estimated", f"expected true/false: {flags[i]!r}")
        out["estimated"] = flags.map(lambda f: True if f in TRUE else False if f in FALSE
                                     else pd.NA).astype("boolean")
        out["measure"] = df["measure"].str.strip().replace("", "production")
    elif table == "trade":
        out["year"] = _numbers(df, "year", p, required=True, integer=True).astype("int16")
        out["exporter"] = _names(df, "exporter", resolve_country, p)
        out["importer"] = _names(df, "importer", resolve_country, p)
        hs = df["hs6"].str.strip()
        bad = ~hs.str.fullmatch(r"\d{6}")
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataFileError(str(p), i + 2, "hs6", f"expected six digits: {hs[i]!r}")
        out["hs6"] = hs
        out["value_usd"] = _numbers(df, "value_usd", p, required=True, minimum=0)
        out["quantity_t"] = _numbers(df, "quantity_t", p, required=False, minimum=0)
    else:
        out["commodity"] = _names(df, "commodity", resolve_commodity, p)
        periods = [_period(t, p, i + 2) for i, t in enumerate(df["period"])]
        out["period"] = [d for d, _ in periods]
        out["frequency"] = [f for _, f in periods]
        out["price"] = _numbers(df, "price", p, required=True, minimum=0)
        out["unit"] = df["unit"].str.strip()
        out["series"] = df["series"].str.strip().where(df["series"].str.strip() != "",
                                                       out["commodity"])
    out["source"] = df["source"].str.strip().replace("", "user")
    reserved = out["source"].isin([s for s in SOURCES if s != "user"])
    if reserved.any():
        i = int(reserved.to_numpy().nonzero()[0][0])
        raise DataFileError(str(p), i + 2, "source",
                            f"{out['source'].iloc[i]!r} is a public dataset id; name your own "
                            "source (e.g. 'user' or 'ministry_2025')")
    empty_unit = "unit" in out and (out["unit"] == "").any()
    if empty_unit:
        i = int((out["unit"] == "").to_numpy().nonzero()[0][0])
        raise DataFileError(str(p), i + 2, "unit", "unit missing")
    sources = out["source"].unique()
    return Staged(source=sources[0] if len(sources) == 1 else "user", loader=f"tidy.{table}",
                  tables={table: out.reset_index(drop=True)}, files=[(str(p), sha256_file(p))])
