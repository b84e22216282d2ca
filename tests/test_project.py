"""Project-level promises: CI runs the README's test command; every schema column is documented."""

from __future__ import annotations

import re

from pathlib import Path

from critmin.data.schema import TABLES

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2, "README must open with exactly two set-up commands"
    ci = (REPO / ".ci" / "run").read_text()
    assert "grep -m1 -- '-m pytest' README.md" in ci
    assert "-m pytest" in block[1] and "pytest" not in block[0]


def test_every_warehouse_column_is_documented():
    doc = (REPO / "docs" / "data.md").read_text()
    for table in TABLES.values():
        assert f"`{table.name}`" in doc, table.name
        for col in table.columns:
            assert col.name in doc, f"{table.name}.{col.name} missing from docs/data.md"
