"""Loaders for wide monthly price tables: the World Bank Pink Sheet and IMF PCPS CSVs
(a `date` column, one column per series code), keeping the series the catalog maps to a
commodity."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from critmin.catalog.prices import series_for
from critmin.data.loaders._common import existing, read_header, require_columns
from critmin.data.warehouse import Staged, sha256_file
from critmin.errors import DataFileError


def _read_wide(path: Path, source: str) -> pd.DataFrame:
    header = read_header(path)
    require_columns(path, header, ["date"])
    known = series_for(source)
    keep = [c for c in header if c in known]
    if not keep:
        raise DataFileError(str(path), 1, None,
                            f"no known {source} price series among the columns; "
                            f"expected some of {sorted(known)}")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                      usecols=["date", *keep])
    rows = []
    for col in ["date", *keep]:
        raw[col] = raw[col].str.strip()
    periods = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    bad = periods.isna() | (periods.dt.day != 1)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DataFileError(str(path), i + 2, "date",
                            f"not the first day of a month as YYYY-MM-DD: {raw['date'][i]!r}")
    for col in keep:
        values = pd.to_numeric(raw[col].replace({"..": "", "…": "", "NA": ""}), errors="coerce")
        text = raw[col]
        bad = values.isna() & ~text.isin(["", "..", "…", "NA"])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataFileError(str(path), i + 2, col, f"not a number: {text[i]!r}")
        bad = values <= 0
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataFileError(str(path), i + 2, col, f"price must be positive: {text[i]!r}")
        commodity, unit = known[col]
        ok = values.notna()
        rows.append(pd.DataFrame({
            "commodity": commodity, "period": periods[ok].dt.date, "frequency": "M",
            "price": values[ok], "unit": unit, "series": col, "source": source,
        }))
    return pd.concat(rows, ignore_index=True)


def read_pink_sheet_csv(path: str | Path, *, source: str = "wb_pink_sheet") -> Staged:
    """World Bank Pink Sheet monthly prices (nominal USD; unit per series in price_series.csv)."""
    p = existing(path)
    return Staged(source=source, loader="prices.pink_sheet",
                  tables={"prices": _read_wide(p, source)}, files=[(str(p), sha256_file(p))])


def read_imf_pcps_csv(path: str | Path, *, source: str = "imf_pcps") -> Staged:
    """IMF PCPS monthly prices (nominal USD). Not shipped: IMF terms forbid redistribution."""
    p = existing(path)
    return Staged(source=source, loader="prices.imf_pcps",
                  tables={"prices": _read_wide(p, source)}, files=[(str(p), sha256_file(p))])
