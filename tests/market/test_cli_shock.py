"""`critmin shock SCENARIO.yaml`: world-level shock from the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from critmin.cli import app

SCEN = Path(__file__).resolve().parents[2] / "examples" / "scenarios"
runner = CliRunner()


def _json(args):
    r = runner.invoke(app, ["shock", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_shock_nornickel_json(warehouse_copy):
    out = _json([str(SCEN / "nornickel_nickel_guidance_2025.yaml"), "--draws", "300",
                 "--seed", "5"])
    rows = {r["metric"]: r for r in out["data"]}
    price = rows["price_usd_per_t"]
    assert price["shocked_P50"] > price["base_P50"]
    assert price["shocked_P5"] <= price["shocked_P50"] <= price["shocked_P95"]
    assert {"loss_making_share", "shortfall_t", "hhi_countries"} <= set(rows)
    meta = out["meta"]
    assert "cost_curves.csv" in meta["curve"] and "ILLUSTRATIVE" in meta["curve"]
    assert "[memory]" in meta["elasticities"]
    assert "Nornickel" in meta["applied"]
    assert meta["draws"] == 300 and meta["seed"] == 5
    # same seed, same answer
    assert _json([str(SCEN / "nornickel_nickel_guidance_2025.yaml"), "--draws", "300",
                  "--seed", "5"]) == out


def test_shock_loss_making_held_price(warehouse_copy):
    out = _json([str(SCEN / "nickel_loss_making_2025.yaml"), "--draws", "50"])
    assert 0.25 <= out["meta"]["loss_making_share_at_held_price"] <= 0.40
    assert out["meta"]["held_price_usd_per_t"] == 15000


def test_shock_table_and_year(warehouse_copy):
    r = runner.invoke(app, ["shock", str(SCEN / "nornickel_nickel_guidance_2025.yaml"),
                            "--draws", "20", "--year", "2024", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("metric,base_P5")
    r = runner.invoke(app, ["shock", str(SCEN / "nornickel_nickel_guidance_2025.yaml"),
                            "--draws", "20"])
    assert r.exit_code == 0, r.output
    assert "price_usd_per_t" in r.output.replace("…", "") or "price" in r.output


def test_shock_commodity_without_curve(warehouse_copy):
    r = runner.invoke(app, ["shock", str(SCEN / "pgm_west_purchase_ban.yaml"), "--draws", "5"])
    assert r.exit_code == 1
    assert "cost_curves.csv" in r.output
