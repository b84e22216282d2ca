"""Render a DataFrame for the terminal: a rich table, CSV or JSON (one shape: records)."""

from __future__ import annotations

import datetime
import enum
import json
import math
import sys

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) < 0.001:
            return f"{v:.3g}"  # small probabilities must not print as 0.0000
        if abs(v) < 1:
            return f"{v:.4f}"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}"
    return str(v)


def render(df: pd.DataFrame, fmt: Format = Format.table, *, title: str | None = None,
           meta: dict | None = None, console: Console | None = None) -> None:
    """Print `df` (and `meta`, a small dict of summary figures) in the chosen format.

    JSON is {"meta": {...}, "data": [records]}; CSV prints the data only.
    """
    if fmt == Format.json:
        payload = {"meta": meta or {}, "data": json.loads(df.to_json(orient="records",
                                                                     date_format="iso"))}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    if fmt == Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    console = console or Console()
    table = Table(title=title, title_justify="left")
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    if meta:
        console.print("  ".join(f"[bold]{k}[/]: {_cell(v)}" for k, v in meta.items()))


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
