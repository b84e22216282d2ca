"""Render a DataFrame for the terminal: a rich table, CSV or JSON (one shape: records)."""

from __future__ import annotations

import enum
import json
import math
import sys

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
