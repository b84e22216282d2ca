"""Small CSV tables users may replace (costs, baskets): read as text, columns checked, every
problem a `DataFileError` naming the file (and line 1 and the column when one is missing)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from critmin.errors import DataFileError


def read_text_table(path: str | Path, columns: Iterable[str], what: str) -> pd.DataFrame:
    """`path` as a table of strings (empty cells ''), with every one of `columns` present;
    `what` names the table in errors ('cost table', 'TREO basket')."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(str(path), None, None, f"cannot read {what}: {exc}") from None
    for c in columns:
        if c not in df.columns:
            raise DataFileError(str(path), 1, c, f"column missing from the {what}")
    return df
