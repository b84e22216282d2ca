"""Named producers on the traded (bloc) market of `critmin shock --producers`
(critmin.market.named.split_exporters): a company takes its share of its country's exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from critmin.errors import DataFileError
from critmin.market import montecarlo
from critmin.market.model import Market
from critmin.market.named import split_exporters
from critmin.market.report import shock_report
from critmin.market.scenario import Scenario, apply_scenario

BAN = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / \
    "pgm_west_purchase_ban.yaml"
DRAWS = 201          # odd: each P50 is one draw's value, so it commutes with monotone maps


def _csv(tmp_path, text, name="producers.csv"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def _ban_with(tmp_path, cut: dict | None, name: str) -> Path:
    """pgm_west_purchase_ban.yaml plus one output cut (None: as shipped)."""
    scen = yaml.safe_load(BAN.read_text(encoding="utf-8"))
    if cut is not None:
        scen["output_cuts"] = [{**cut, "source": "test"}]
    f = tmp_path / name
    f.write_text(yaml.safe_dump(scen), encoding="utf-8")
    return f


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("metric")


def _same_cells(a: pd.DataFrame, b: pd.DataFrame, rel: float):
    """Every numeric cell of a equals b's to `rel` (cells that are 0 in b: to 1e-12 absolute)."""
    assert list(a["metric"]) == list(b["metric"])
    num = [c for c in b.columns if c != "metric"]
    x, y = a[num].to_numpy(float), b[num].to_numpy(float)
    assert np.all(np.abs(x - y) <= rel * np.abs(y) + 1e-12), np.max(
        np.abs(x - y) / np.where(y != 0, np.abs(y), 1.0))


# --- the pure split ---------------------------------------------------------------------------

def _traded() -> Market:
    prod = pd.DataFrame({"producer": ["RUS", "ZAF"], "country": ["RUS", "ZAF"],
                         "capacity_t": [106.0, 53.0], "cost_usd_per_t": 0.0,
                         "base_output_t": [100.0, 50.0], "supply_elasticity": 0.05,
                         "band": "exports"})
    cons = pd.DataFrame({"consumer": ["USA", "CHN"], "base_demand_t": [90.0, 60.0],
                         "demand_elasticity": -0.1})
    return Market("palladium", prod, cons, 3.0e7, 1.05e8)


def test_split_shares_rows_and_keeps_totals():
    named = pd.DataFrame({"producer": ["A", "B"], "country": ["RUS", "RUS"],
                          "capacity_t": [24.0, 12.0], "line": [2, 3]})
    m = split_exporters(_traded(), named, pd.Series({"RUS": 80.0, "ZAF": 70.0}))
    P = m.producers.set_index("producer")
    assert list(m.producers["producer"]) == ["RUS", "A", "B", "ZAF"]
    assert P.loc[["RUS", "A", "B"], "share_of_country"].tolist() == pytest.approx(
        [0.55, 0.30, 0.15], rel=1e-12)
    assert P.loc["A", "base_output_t"] == pytest.approx(30.0, rel=1e-12)
    assert P.loc["A", "capacity_t"] == pytest.approx(31.8, rel=1e-12)
    assert P.loc[["RUS", "A", "B"], "base_output_t"].sum() == pytest.approx(100.0, rel=1e-12)
    assert (P["band"] == "exports").all() and (P["supply_elasticity"] == 0.05).all()
    assert P.loc[["A", "B"], "named"].all() and not P.loc[["RUS", "ZAF"], "named"].any()
    assert (m.producers["company"] == m.producers["producer"]).all()
    # a company cut finds its row and nothing else
    scen = Scenario(name="t", commodity="palladium", base_year=2024,
                    output_cuts=[{"company": "a", "cut_share": 0.5, "source": "test"}])
    cut = apply_scenario(m, scen)[0].producers.set_index("producer")["base_output_t"]
    assert cut.to_dict() == pytest.approx({"RUS": 55.0, "A": 15.0, "B": 15.0, "ZAF": 50.0})


def test_a_whole_country_drops_its_remainder():
    named = pd.DataFrame({"producer": ["Nornickel"], "country": ["RUS"],
                          "capacity_t": [80.0]})
    P = split_exporters(_traded(), named, pd.Series({"RUS": 80.0})).producers
    assert list(P["producer"]) == ["Nornickel", "ZAF"]
    assert P["base_output_t"].tolist() == [100.0, 50.0]


@pytest.mark.parametrize("named,production,field,words", [
    ({"producer": ["Zimplats"], "country": ["ZWE"], "capacity_t": [10.0]}, {"ZWE": 15.0},
     "country", "'Zimplats' (ZWE): ZWE exports no palladium"),
    ({"producer": ["A"], "country": ["RUS"], "capacity_t": [90.0]}, {"RUS": 80.0},
     "capacity_t", "1.125 × RUS's base-year output"),
    ({"producer": ["A", "B"], "country": ["RUS", "RUS"], "capacity_t": [60.0, 30.0]},
     {"RUS": 80.0}, None, "'B' (RUS): shares of RUS's output add up to 1.125 > 1"),
    ({"producer": ["A"], "country": ["ZAF"], "capacity_t": [10.0]}, {"RUS": 80.0},
     "country", "no World Mining Data output of ZAF"),
    ({"producer": ["zaf"], "country": ["RUS"], "capacity_t": [10.0]}, {"RUS": 80.0},
     "producer", "already a producer"),
])
def test_split_refusals_name_producer_and_country(named, production, field, words):
    t = pd.DataFrame(named).assign(line=range(2, 2 + len(named["producer"])))
    with pytest.raises(DataFileError) as e:
        split_exporters(_traded(), t, pd.Series(production), source="p.csv")
    assert e.value.path == "p.csv" and e.value.field == field
    assert e.value.line == 1 + len(named["producer"])
    assert words in str(e.value)


# --- shock_report on the PGM purchase ban -----------------------------------------------------

def test_split_leaves_the_bloc_report_unchanged(con, tmp_path):
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,0.4\n"
                       "Other Russia,RUS,0.1\nSibanye-Stillwater,ZAF,0.3\n")
    t0, m0 = shock_report(con, BAN, draws=DRAWS, seed=1)
    t1, m1 = shock_report(con, BAN, draws=DRAWS, seed=1, producers=f)
    # the split rows add up to their country's row at every price: the same clearing up to
    # the order of float sums
    _same_cells(t1, t0, 1e-9)
    assert "named_producers" not in m0
    note = m1["named_producers"]
    assert note.startswith(f"{f}: Nornickel (RUS, 40.00% of its exports, 38.38 t)")
    assert "Sibanye-Stillwater (ZAF, 30.00% of its exports, 33.54 t)" in note
    assert "not used" not in note


def test_company_cut_on_the_traded_market(con, tmp_path):
    share, cut = 0.4, 0.5
    f = _csv(tmp_path, f"producer,country,share_of_country_output\nNornickel,RUS,{share}\n")
    t0, _ = shock_report(con, BAN, draws=DRAWS, seed=1, producers=f)
    scen = _ban_with(tmp_path, {"company": "Nornickel", "cut_share": cut}, "cut.yaml")
    t1, m1 = shock_report(con, scen, draws=DRAWS, seed=1, producers=f)
    assert "output_cuts.0: Nornickel capacity and base output −50.00%" in m1["applied"]
    r0, r1 = _rows(t0), _rows(t1)
    x0, x1 = r0.loc["sanctioned_exports_t", "shocked_P50"], \
        r1.loc["sanctioned_exports_t", "shocked_P50"]
    assert r1.loc["sanctioned_exports_t", "base_P50"] == pytest.approx(
        (1 - share * cut) * r0.loc["sanctioned_exports_t", "base_P50"], rel=1e-12)
    # Tolerance. Russia's rows sell min(K, q0 (p_S/p0)^ε) at the sanctioned bloc's price p_S
    # (cost 0), so in each draw exports with the cut ≤ (1 − s·c) Q max(1, x1)^ε and without it
    # ≥ Q min(1, x0)^ε, x = p_S / p0, ε ≤ ε_max (the prior's upper bound). With an odd number
    # of draws each P50 is one draw's value, so P50s pass through these monotone maps: the
    # fall is at least s·c − (1 − s·c)((max(1, x1) / min(1, x0))^ε_max − 1), the output the
    # price rise (the cut's own, and the switch to one price when τ stops binding) brings back.
    eps_max = montecarlo.elasticity_priors("palladium").set_index("side").loc["supply", "high"]
    p = "price_usd_per_t:sanctioned"
    up = max(1.0, r1.loc[p, "shocked_P50"] / r1.loc[p, "base_P50"])
    down = min(1.0, r0.loc[p, "shocked_P50"] / r0.loc[p, "base_P50"])
    tol = (1 - share * cut) * ((up / down) ** eps_max - 1)
    fall = 1 - x1 / x0
    assert fall >= share * cut - tol
    assert tol < 0.5 * share * cut          # the test is not empty
    # measured (shipped extract, 201 draws, seed 1): 95.55 t → 77.66 t, a fall of 18.7%
    # against s·c = 20% and a bound of 17.5% (the sanctioned P50 price: −8.1% → +25.6%)


def test_a_full_share_company_cut_is_a_country_cut(con, tmp_path):
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,1\n")
    company = _ban_with(tmp_path, {"company": "Nornickel", "cut_share": 0.3}, "company.yaml")
    country = _ban_with(tmp_path, {"country": "RUS", "cut_share": 0.3}, "country.yaml")
    t1, _ = shock_report(con, company, draws=DRAWS, seed=2, producers=f)
    t0, _ = shock_report(con, country, draws=DRAWS, seed=2)
    _same_cells(t1, t0, 1e-9)


def test_an_asset_cut_without_the_file_names_the_missing_producer(con, tmp_path):
    from critmin.market.scenario import MarketScenarioError
    scen = _ban_with(tmp_path, {"asset": "Nornickel", "cut_share": 0.3}, "asset.yaml")
    with pytest.raises(MarketScenarioError, match="no producer 'Nornickel'"):
        shock_report(con, scen, draws=11, seed=0)
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,0.5\n")
    t, m = shock_report(con, scen, draws=11, seed=0, producers=f)
    assert "Nornickel capacity and base output −30.00%" in m["applied"]


def test_report_errors_name_producer_country_and_line(con, tmp_path):
    # ZWE mines palladium (WMD) but exports none under HS 711021/711029 in BACI 2024
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,0.5\n"
                       "Zimplats,Zimbabwe,0.8\n")
    with pytest.raises(DataFileError) as e:
        shock_report(con, BAN, draws=11, seed=0, producers=f)
    assert e.value.path == str(f) and e.value.line == 3 and e.value.field == "country"
    assert "Zimplats" in str(e.value) and "ZWE exports no palladium" in str(e.value)
    # a share row and a capacity row of one country over 1 (Russia's WMD 2024 Pd: 85.54 t)
    f = _csv(tmp_path, "producer,country,share_of_country_output,capacity_t\n"
                       "Nornickel,RUS,0.9,\nOther,RUS,,20\n", "over.csv")
    with pytest.raises(DataFileError) as e:
        shock_report(con, BAN, draws=11, seed=0, producers=f)
    assert e.value.path == str(f) and e.value.line == 3
    assert "'Other' (RUS): shares of RUS's output add up to 1.134 > 1" in str(e.value)
    # shares over 1 in share rows: the loader's own check, same file-and-line form
    f = _csv(tmp_path, "producer,country,share_of_country_output\nA,RUS,0.7\nB,RUS,0.4\n",
             "shares.csv")
    with pytest.raises(DataFileError) as e:
        shock_report(con, BAN, draws=11, seed=0, producers=f)
    assert e.value.line == 3 and "add up to 1.1" in str(e.value)


def test_cli_producers_on_the_bloc_path(warehouse_copy, tmp_path):
    import json
    from typer.testing import CliRunner
    from critmin.cli import app
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,0.4\n")
    r = CliRunner().invoke(app, ["shock", str(BAN), "--draws", "21", "--producers", str(f),
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "Nornickel (RUS, 40.00% of its exports" in json.loads(r.stdout)["meta"][
        "named_producers"]
