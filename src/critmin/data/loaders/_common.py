"""Helpers shared by the loaders: file checks, line finding, name resolution with good errors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterable

from critmin.catalog import commodity, country
from critmin.errors import DataFileError, UnknownNameError


def existing(path: str | Path) -> Path:
    """The path, or a DataFileError if it is not a readable file."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(str(p), None, None, "no such file")
    return p


def read_header(path: Path, encoding: str = "utf-8-sig") -> list[str]:
    """Column names of a CSV file's first line."""
    with open(path, newline="", encoding=encoding) as fh:
        try:
            return [h.strip() for h in next(csv.reader(fh))]
        except StopIteration:
            raise DataFileError(str(path), 1, None, "file is empty") from None


def require_columns(path: Path, header: list[str], needed: Iterable[str]) -> None:
    """Raise naming the first missing column of `needed`."""
    for col in needed:
        if col not in header:
            raise DataFileError(str(path), 1, col, f"missing column; header has {header}")


def find_line(path: Path, field: str, predicate: Callable[[str], bool],
              encoding: str = "utf-8-sig") -> int | None:
    """1-based line number (header = 1) of the first row whose `field` satisfies `predicate`.

    Used only on the error path, to point at a row the fast columnar reader rejected.
    """
    with open(path, newline="", encoding=encoding) as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            value = row.get(field)
            if value is not None and predicate(value):
                return reader.line_num
    return None


def resolve_country(name: str, path: str | Path, line: int | None, field: str) -> str:
    """ISO3 of a country name or code, or a DataFileError naming file, line, field and the
    closest catalog names."""
    try:
        return country(name).iso3
    except UnknownNameError as exc:
        raise DataFileError(str(path), line, field, str(exc)) from None


def resolve_commodity(name: str, path: str | Path, line: int | None, field: str) -> str:
    """Catalog key of a commodity name, or a DataFileError with the closest catalog names."""
    try:
        return commodity(name).key
    except UnknownNameError as exc:
        raise DataFileError(str(path), line, field, str(exc)) from None
