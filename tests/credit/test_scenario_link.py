"""Market-simulator result -> price changes -> credit stress, with the PD band over quantiles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from critmin.credit.company import assumptions, inputs_table, load_company
from critmin.credit.scenario_link import (credit_report_with_band, load_market_result,
                                          price_link, scenario_kind, scenarios_by_quantile)
from critmin.credit.stress import (PriceScenario, ScenarioFileError, StressError, credit_report,
                                   load_scenario)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NORNICKEL = EXAMPLES / "companies" / "nornickel_2024.yaml"
MARKET = EXAMPLES / "scenarios" / "nornickel_nickel_guidance_2025.yaml"
PRICES = EXAMPLES / "scenarios" / "nickel_palladium_shock.yaml"

# A hand-made shock result: base 16,000 USD/t in every draw; shocked P5/P50/P95 12,800 /
# 14,400 / 16,800, i.e. -20% / -10% / +5% (16,800/16,000 - 1).
TABLE = [{"metric": "price_usd_per_t", "base_P5": 16000.0, "base_P50": 16000.0,
          "base_P95": 16000.0, "shocked_P5": 12800.0, "shocked_P50": 14400.0,
          "shocked_P95": 16800.0},
         {"metric": "shortfall_t", "base_P5": 0.0, "base_P50": 0.0, "base_P95": 0.0,
          "shocked_P5": 0.0, "shocked_P50": 0.0, "shocked_P95": 0.0}]
META = {"scenario": "hand case", "commodity": "Ni", "base_year": 2025, "draws": 3, "seed": 0}


@pytest.fixture(scope="module")
def nornickel():
    return load_company(NORNICKEL)


@pytest.fixture()
def palladium_only(tmp_path):
    path = tmp_path / "pd.yaml"
    path.write_text("name: Palladium -25%\nsource: test (illustrative)\nprice_changes:\n"
                    "  palladium: -0.25\n")
    return load_scenario(path)


def test_price_link_hand_case():
    ln = price_link(TABLE, META)
    assert ln.commodity == "nickel" and ln.exact and ln.base_price_usd_per_t == 16000.0
    assert ln.changes == pytest.approx({"P5": -0.20, "P50": -0.10, "P95": 0.05}, abs=1e-15)
    assert "hand case" in ln.source and "-10.00%" in ln.source
    # a held price (price_level) is the scenario's price in every quantile: 15,000/16,000 - 1
    held = price_link(TABLE, {**META, "held_price_usd_per_t": 15000.0})
    assert held.changes == pytest.approx({q: -0.0625 for q in ("P5", "P50", "P95")}, abs=1e-15)
    # a base price that varies by draw: ratio of quantiles, flagged as not exact
    varying = [dict(TABLE[0], base_P5=15000.0)]
    v = price_link(varying, META)
    assert not v.exact and v.changes["P5"] == pytest.approx(12800 / 15000 - 1, rel=1e-14)


@pytest.mark.parametrize("table, meta, match", [
    (TABLE[1:], META, "price_usd_per_t"),
    ([dict(TABLE[0], shocked_P50=None)], META, "shocked_P50"),
    ([dict(TABLE[0], base_P95=0.0)], META, "base_P95"),
    (TABLE, {"scenario": "x"}, "meta.commodity"),
])
def test_price_link_bad_results_name_the_field(table, meta, match):
    with pytest.raises(StressError, match=match):
        price_link(table, meta)


def test_scenarios_by_quantile_merge_and_clash(palladium_only):
    scens = scenarios_by_quantile([price_link(TABLE, META)], palladium_only)
    assert scens["P5"].price_changes == pytest.approx({"nickel": -0.20, "palladium": -0.25})
    assert scens["P95"].price_changes == pytest.approx({"nickel": 0.05, "palladium": -0.25})
    assert "[P5 price]" in scens["P5"].name and "[" not in scens["P50"].name
    with pytest.raises(StressError, match="two market results"):
        scenarios_by_quantile([price_link(TABLE, META)] * 2)
    with pytest.raises(StressError, match="both a market result and the price-change file"):
        scenarios_by_quantile([price_link(TABLE, META)], load_scenario(PRICES))


def test_band_on_nornickel_by_hand(nornickel, palladium_only):
    rep = credit_report_with_band(nornickel, [price_link(TABLE, META)], palladium_only,
                                  horizons=[1, 5])
    s = rep.summary.set_index("metric")
    # P50: nickel -10% on 28% of revenue, palladium -25% on 22%: R' = 12.5 (1 - 0.028 - 0.055)
    assert s.loc["revenue", "after"] == pytest.approx(12.5 * (1 - 0.028 - 0.055), rel=1e-12)
    # EBITDA' = 5.2 + ΔR (1 - c), c = 10% (the file's price-linked cost share)
    assert s.loc["ebitda", "after"] == pytest.approx(5.2 - 12.5 * 0.083 * 0.9, rel=1e-12)
    # the report is the plain credit_report at the P50 changes
    p50 = credit_report(nornickel, PriceScenario(
        name="p50", source="test", price_changes={"nickel": -0.10, "palladium": -0.25}),
        horizons=[1, 5])
    np.testing.assert_allclose(rep.summary["after"][s.index.get_loc("PD structural (1 y)")],
                               p50.summary.set_index("metric").loc["PD structural (1 y)",
                                                                    "after"], rtol=1e-12)
    band = rep.band.set_index("price_quantile")
    assert list(band.index) == ["P5", "P50", "P95"]
    assert band["price_change_nickel"].tolist() == pytest.approx([-0.20, -0.10, 0.05])
    assert (band["price_change_palladium"] == -0.25).all()
    # lower price, higher PD: strictly ordered structural and total PDs across the band
    assert band.loc["P5", "pd_structural"] > band.loc["P50", "pd_structural"] > \
        band.loc["P95", "pd_structural"]
    assert band.loc["P50", "pd_total"] == pytest.approx(
        s.loc["PD total with overlays (1 y)", "after"], rel=1e-12)
    assert band.loc["P5", "pd_total"] > band.loc["P95", "pd_total"]


def test_without_market_links_it_is_the_plain_report(nornickel):
    rep = credit_report_with_band(nornickel, [], load_scenario(PRICES), horizons=[1])
    assert rep.band is None and rep.scenario == "Nickel -20%, palladium -25%"


def test_inputs_table_marks_every_assumption(nornickel):
    t = inputs_table(nornickel).set_index("field")
    assert set(t.index[t["assumption"]]) == set(assumptions(nornickel))
    assert t["source"].str.len().gt(10).all()
    assert not t.loc["revenue", "assumption"] and t.loc["revenue", "value"] == 12.5
    assert t.loc["market_cap", "unit"] == "RUB bn" and t.loc["ebitda", "unit"] == "USD bn"
    assert t.loc["overlays.payment_channel", "unit"] == "annual PD"


def test_scenario_kind_and_bad_files(tmp_path):
    assert scenario_kind(MARKET) == "market" and scenario_kind(PRICES) == "price"
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: x\n")
    with pytest.raises(ScenarioFileError, match="neither a price scenario"):
        scenario_kind(odd)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"meta": {"commodity": "nickel", "scenario": "s"},
                               "data": TABLE[1:]}))
    assert scenario_kind(bad) == "market_result"
    with pytest.raises(ScenarioFileError, match="bad.json.*price_usd_per_t"):
        load_market_result(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ScenarioFileError, match="field 'meta'"):
        load_market_result(bad)


def test_cli_market_scenario_saved_result_and_yaml_agree(warehouse_copy, tmp_path):
    from critmin.cli import app
    runner = CliRunner()
    shock = runner.invoke(app, ["shock", str(MARKET), "--draws", "200", "--format", "json"])
    assert shock.exit_code == 0, shock.output
    saved = tmp_path / "shock.json"
    saved.write_text(shock.stdout)
    row = next(r for r in json.loads(shock.stdout)["data"] if r["metric"] == "price_usd_per_t")
    pd_yaml = tmp_path / "pd.yaml"
    pd_yaml.write_text("name: Palladium -25%\nsource: test\nprice_changes:\n  palladium: -0.25\n")
    outs = []
    for src in (saved, MARKET):
        res = runner.invoke(app, ["credit", str(NORNICKEL), "-s", str(src), "-s", str(pd_yaml),
                                  "--draws", "200", "--horizon", "1-10", "--format", "json"])
        assert res.exit_code == 0, res.output
        outs.append(json.loads(res.stdout))
    from_file, from_run = outs
    # the same market run (scenario seed, 200 draws) whether saved first or run here
    assert from_file["data"]["band"] == from_run["data"]["band"]
    band = {r["price_quantile"]: r for r in from_file["data"]["band"]}
    # P50 nickel change read independently from the shock JSON; 1e-9 because pandas writes
    # JSON floats with 10 decimals
    assert band["P50"]["price_change_nickel"] == pytest.approx(
        row["shocked_P50"] / row["base_P50"] - 1, abs=1e-9)
    assert band["P50"]["price_change_nickel"] > 0      # a guidance cut raises the price
    assert band["P5"]["pd_structural"] >= band["P95"]["pd_structural"]
    summary = {r["metric"]: r for r in from_file["data"]["summary"]}
    assert "overlay share of PD total" in summary
    assert 0.99 < summary["overlay share of PD total"]["after"] < 1
    assert len(from_file["data"]["term_structure"]) == 10
    assert {"pd_total_before", "pd_total_after"} <= set(from_file["data"]["term_structure"][0])
    assert any(r["assumption"] for r in from_file["data"]["inputs"])
    assert "critmin shock" in from_file["meta"]["scenario_source"]
    assert from_file["meta"]["scale_unverified"] == []     # the default scale is fully sourced


def test_cli_table_shows_overlay_share_term_structure_and_assumptions(tmp_path):
    from critmin.cli import app
    res = CliRunner().invoke(app, ["credit", str(NORNICKEL), "-s", str(PRICES), "--horizon",
                                   "1-10"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    for text in ("overlay share of PD total", "payment_channel", "pd_total_after",
                 "inputs (assumption", "[pub]", "moodys_warf_implied_1y", "assumptions"):
        assert text in out, text
    assert "Unverified" not in out     # the default scale has no unverified grade
    two_files = CliRunner().invoke(app, ["credit", str(NORNICKEL), "-s", str(PRICES), "-s",
                                         str(PRICES)])
    assert two_files.exit_code == 1 and "second price-change file" in two_files.output
