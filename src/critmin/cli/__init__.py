"""The `critmin` command line: one Typer app, its commands in modules by subject."""

from critmin.cli import credit, data, flows, market, oversight, registry, report, risk  # noqa: F401
from critmin.cli._shared import app


def main() -> None:
    app()


__all__ = ["app", "main"]
