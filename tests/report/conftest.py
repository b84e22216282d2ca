"""Fixtures of the brief's tests: a read-only connection to the built warehouse, and one brief
written through the CLI for the whole session (the CLI and browser tests share it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from critmin.cli import app

BRIEF_DRAWS = 60  # enough for P5/P95 to be ordered; the brief's default is 300



@pytest.fixture(scope="session")
def brief_run(built_warehouse: Path, tmp_path_factory):
    """(path of the HTML file, CliRunner result) of `critmin brief --out ... --draws 60` on a
    private copy of the built warehouse."""
    home = tmp_path_factory.mktemp("brief-home")
    shutil.copy(built_warehouse, home / "warehouse.duckdb")
    out = tmp_path_factory.mktemp("brief") / "critmin-brief.html"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRITMIN_HOME", str(home))
        result = CliRunner().invoke(app, ["brief", "--out", str(out), "--draws",
                                          str(BRIEF_DRAWS)])
    return out, result
