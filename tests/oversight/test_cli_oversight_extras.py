"""`critmin oversight analyze` prints proportional bias, crossed effects and whole-stream
leakage; `critmin oversight select --cost-budget` keeps to the money budget."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from critmin.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    out = tmp_path_factory.mktemp("ledger") / "ledger"
    res = runner.invoke(app, ["oversight", "simulate", "--out", str(out), "--seed", "7"])
    assert res.exit_code == 0, res.output
    return out


def test_analyze_prints_the_new_tables(ledger, warehouse_copy):
    res = runner.invoke(app, ["oversight", "analyze", str(ledger)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for title in ("Passing–Bablok", "crossed laboratory × exporter", "whole-stream leakage"):
        assert title in res.output
    # L04 under-reports by 40 % (planted): its crossed effect is the top laboratory row
    lab_part = res.output[res.output.index("top laboratory effects"):]
    assert lab_part.split("│")[1].strip() == "L04"


def test_select_cost_budget(ledger, warehouse_copy):
    args = ["oversight", "select", str(ledger), "--cost-budget", "20000", "--seed", "3",
            "--format", "json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout[res.stdout.index("{"):])
    spent = sum(r["cost_usd"] for r in payload["data"])
    assert spent <= 20000 and payload["meta"]["spent_usd"] == pytest.approx(spent)
    assert {r["reason"] for r in payload["data"]} == {"random", "risk"}
    both = runner.invoke(app, ["oversight", "select", str(ledger), "--budget", "5",
                               "--cost-budget", "100"])
    assert both.exit_code == 1 and "either" in both.output
