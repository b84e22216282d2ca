"""What the web views share: the warehouse handle, DataFrame → JSON records and the one error
shape."""

from __future__ import annotations

import math
import threading
from pathlib import Path

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


def num(v) -> float | None:
    """A float for JSON, None for missing."""
    if v is None or v is pd.NA:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def error(message: str, *, field: str | None = None, line: int | None = None) -> dict:
    """The one error shape of the web app: {"error": {"message", "field", "line"}}."""
    return {"error": {"message": message, "field": field, "line": line}}
