"""What the web views share: the warehouse handle, DataFrame → JSON records and the one error
shape."""

from __future__ import annotations

import datetime
import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd


class Warehouse:
    """One read-only DuckDB connection, opened on first use (the warehouse is built from the
    bundled extract when missing); each request gets its own cursor because a DuckDB connection
    must not be shared between threads."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._con = None
        self._lock = threading.Lock()

    def cursor(self):
        from critmin.data import warehouse
        with self._lock:
            if self._con is None:
                self._con = warehouse.connect(self.path or warehouse.warehouse_path(),
                                              read_only=True)
            return self._con.cursor()


def _plain(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (pd.Timestamp, datetime.date)):
        return v.isoformat()
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows at full float precision (pandas' to_json keeps 10 decimal places: a PD
    of 4.787934852e-06 would come out as 4.7879e-06); NaN, NA and infinities become null."""
    return [{str(k): _plain(v) for k, v in row.items()}
            for row in df.astype(object).to_dict(orient="records")]


def num(v) -> float | None:
    """A float for JSON, None for missing."""
    if v is None or v is pd.NA:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def error(message: str, *, field: str | None = None, line: int | None = None) -> dict:
    """The one error shape of the web app: {"error": {"message", "field", "line"}}."""
    return {"error": {"message": message, "field": field, "line": line}}
