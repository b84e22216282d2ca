"""The exception tree of critmin: every error a user can see derives from `CritminError`."""

from __future__ import annotations


class CritminError(Exception):
    """Base of all critmin errors; the message names the thing to fix."""


class UnknownNameError(CritminError, LookupError):
    """A commodity, country or bloc name that the catalog does not know.

    `suggestions` holds the closest catalog names, best first.
    """

    def __init__(self, kind: str, name: str, suggestions: list[str] | tuple[str, ...] = ()):
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)
        hint = f"; closest matches: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")


class DataFileError(CritminError, ValueError):
    """A source file that cannot be loaded: names the file, line (1-based, header = 1) and field."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")


class WarehouseError(CritminError):
    """The warehouse is missing, locked, or does not hold what a query needs."""
