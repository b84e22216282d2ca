"""`critmin shock SCENARIO.yaml`: world-level shock from the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
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


def test_shock_commodity_without_curve(warehouse_copy, tmp_path):
    """Manganese has no cost curve: a world-level shock names the file."""
    f = tmp_path / "manganese_cut.yaml"
    f.write_text("name: manganese cut\ncommodity: manganese\nbase_year: 2024\noutput_cuts:\n"
                 "  - country: ZAF\n    cut_share: 0.1\n    source: test\n")
    r = runner.invoke(app, ["shock", str(f), "--draws", "5"])
    assert r.exit_code == 1
    assert "cost_curves.csv" in r.output


MARKET_SCENARIOS = sorted(p for p in SCEN.glob("*.yaml")
                          if "price_changes" not in yaml.safe_load(p.read_text()))


@pytest.mark.parametrize("path", MARKET_SCENARIOS, ids=lambda p: p.stem)
def test_every_example_scenario_runs(warehouse_copy, path):
    out = _json([str(path), "--draws", "40", "--seed", "1"])
    price = {r["metric"]: r for r in out["data"]}["price_usd_per_t"]
    assert price["shocked_P5"] <= price["shocked_P50"] <= price["shocked_P95"]
    assert "not run" not in json.dumps(out["meta"])


def test_pgm_ban_reports_blocs_reroutes_and_exposure(warehouse_copy):
    out = _json([str(SCEN / "pgm_west_purchase_ban.yaml"), "--draws", "100"])
    rows = {r["metric"]: r for r in out["data"]}
    assert rows["price_usd_per_t:sanctioned"]["shocked_P95"] < rows[
        "price_usd_per_t:rest"]["shocked_P5"]
    bound = rows["price_usd_per_t:zero_friction_bound"]
    assert bound["shocked_P50"] == pytest.approx(bound["base_P50"], rel=1e-9)
    meta = out["meta"]
    assert [b["bloc"] for b in meta["blocs"]] == ["sanctioned", "rest"]
    moved = {f["importer"]: f["change_P50_t"] for f in meta["rerouted_flows"]}
    assert moved["USA"] < 0 < moved["CHN"] and moved["HKG"] > 0
    exposed = {e["importer"]: e for e in meta["exposure"]}
    assert exposed["USA"]["bloc"] == "rest" and exposed["USA"]["share_from_sanctioned"] > 0.3
    assert exposed["ARM"]["share_from_sanctioned"] == pytest.approx(1.0)
    r = runner.invoke(app, ["shock", str(SCEN / "pgm_west_purchase_ban.yaml"), "--draws", "20"])
    assert r.exit_code == 0, r.output
    assert "rerouted_flows" in r.output and "exposure" in r.output


def test_loss_making_closures_dynamic(warehouse_copy):
    out = _json([str(SCEN / "nickel_loss_making_2025.yaml"), "--draws", "20"])
    cl = out["meta"]["closures"]
    assert len(cl) == 8 and cl[0]["closed_share_of_base_output"] == 0.0
    # closes after 3 quarters below C1 and never restarts at the held price: L(15,000)
    assert cl[2]["closed_share_of_base_output"] == pytest.approx(
        out["meta"]["loss_making_share_at_held_price"], rel=1e-12)


def test_a_user_curve_replaces_the_shipped_one(warehouse_copy, tmp_path):
    """Nickel bands all at C1 9,000–11,000 USD/t (keeping the band 'sulphide' that Nornickel's
    default split is carved from): none of the output is cash-negative at the base price
    (about 15,200 USD/t), where the shipped curve has about 0.30 (its bands are calibrated to
    that); a curve with a gap is refused naming the file."""
    from critmin.market import build
    cols = ",".join(build.CURVE_COLUMNS)
    good = tmp_path / "my_curve.csv"
    good.write_text(f"{cols}\nnickel,sulphide,0,0.3,9000,10000,C1 USD/t,my own survey\n"
                    "nickel,other,0.3,1,10000,11000,C1 USD/t,my own survey\n")
    scen = str(SCEN / "nornickel_nickel_guidance_2025.yaml")
    mine = {r["metric"]: r for r in _json([scen, "--draws", "50", "--curve", str(good)])["data"]}
    shipped = {r["metric"]: r for r in _json([scen, "--draws", "50"])["data"]}
    assert mine["loss_making_share"]["base_P50"] == 0.0
    assert shipped["loss_making_share"]["base_P50"] == pytest.approx(0.30, abs=0.05)
    bad = tmp_path / "gap.csv"
    bad.write_text(f"{cols}\nnickel,a,0,0.4,9000,11000,x,y\nnickel,b,0.5,1,9000,11000,x,y\n")
    r = runner.invoke(app, ["shock", scen, "--draws", "50", "--curve", str(bad)])
    assert r.exit_code == 1 and "gap.csv" in r.output and "tile 0..1" in r.output
