"""Scenario files: every example loads and applies; bad files name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from critmin.market.model import Market
from critmin.market.scenario import (MarketScenarioError, Scenario, apply_scenario,
                                     load_scenario)
from critmin.market.spe import solve_spe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"
FILES = ["nornickel_nickel_guidance_2025.yaml", "nickel_loss_making_2025.yaml",
         "pgm_west_purchase_ban.yaml", "china_ree_export_quota.yaml",
         "kazakh_ree_new_supply.yaml"]


def _market(commodity, producers, consumers, p0, choke):
    prod = pd.DataFrame(producers, columns=["producer", "country", "capacity_t",
                                            "cost_usd_per_t", "base_output_t",
                                            "supply_elasticity"])
    cons = pd.DataFrame(consumers, columns=["consumer", "base_demand_t", "demand_elasticity"])
    return Market(commodity, prod, cons, p0, choke)


# Stylised test markets (our assumptions, sized loosely on market.md §3): not calibrated.
NICKEL = _market("nickel", [
    ("Nornickel", "RUS", 210e3, 9_000, 207.5e3, 0.0),
    ("Indonesia HPAL", "IDN", 900e3, 9_000, 850e3, 0.1),
    ("Indonesia RKEF", "IDN", 1.4e6, 12_000, 1.3e6, 0.1),
    ("China NPI", "CHN", 500e3, 15_500, 450e3, 0.2),
    ("Western sulphide", "AUS", 400e3, 16_000, 350e3, 0.2)],
    [("CHN", 2.3e6, -0.1), ("USA", 0.3e6, -0.1), ("DEU", 0.3e6, -0.1),
     ("JPN", 0.25e6, -0.1)], 15_000.0, 54_000.0)
PALLADIUM = _market("palladium", [
    ("Nornickel", "RUS", 95.0, 500, 90.0, 0.0),
    ("South Africa", "ZAF", 120.0, 800, 115.0, 0.0),
    ("North America", "CAN", 40.0, 900, 35.0, 0.0)],
    [("USA", 60.0, -0.1), ("JPN", 35.0, -0.1), ("DEU", 30.0, -0.1), ("GBR", 10.0, -0.1),
     ("CHN", 70.0, -0.1), ("HKG", 40.0, -0.1)], 1_000.0, 5_000.0)
REE = _market("rare_earths", [
    ("China", "CHN", 300e3, 8_000, 270e3, 0.0),
    ("Lynas", "AUS", 25e3, 10_000, 20e3, 0.0),
    ("MP Materials", "USA", 40e3, 11_000, 35e3, 0.0)],
    [("CHN", 200e3, -0.2), ("JPN", 50e3, -0.2), ("USA", 40e3, -0.2), ("DEU", 35e3, -0.2)],
    15_000.0, 100_000.0)


@pytest.mark.parametrize("name", FILES)
def test_every_example_loads_and_applies(name):
    s = load_scenario(EXAMPLES / name)
    assert isinstance(s, Scenario) and s.name
    market = {"nickel": NICKEL, "palladium": PALLADIUM, "rare_earths": REE}[s.commodity]
    shocked, shocks = apply_scenario(market, s)
    assert shocks.log
    solve_spe(shocked, **shocks.spe_arguments(shocked), steps=400)


def test_readme_documents_every_example():
    text = (EXAMPLES / "README.md").read_text()
    for name in FILES:
        assert name in text


def test_nornickel_cut_shrinks_its_step_and_raises_the_price():
    s = load_scenario(EXAMPLES / FILES[0])
    m, _ = apply_scenario(NICKEL, s)
    row = m.producers.set_index("producer").loc["Nornickel"]
    assert row["base_output_t"] == pytest.approx(200e3)        # 207.5 kt − 7.5 kt
    assert row["capacity_t"] == pytest.approx(210e3 * 200 / 207.5)
    assert solve_spe(m).prices["CHN"] >= solve_spe(NICKEL).prices["CHN"]


def test_dynamic_settings_are_carried_not_applied():
    s = load_scenario(EXAMPLES / FILES[1])
    m, shocks = apply_scenario(NICKEL, s)
    assert m.producers.equals(NICKEL.producers) and m.consumers.equals(NICKEL.consumers)
    assert shocks.price_level.price_usd_per_t == 15_000
    assert shocks.closures.periods_below_cost == 3
    assert (shocks.horizon_periods, shocks.period) == (8, "quarter")


def test_pgm_ban_reroutes_and_friction_moves_netbacks():
    s = load_scenario(EXAMPLES / FILES[2])
    m, shocks = apply_scenario(PALLADIUM, s)
    assert {("RUS", c) for c in ("USA", "JPN", "DEU", "GBR")} <= m.blocked
    assert not {("RUS", "CHN"), ("RUS", "HKG")} & m.blocked
    base = solve_spe(PALLADIUM)
    # zero-friction bound: non-Russian supply (150 t) covers Western demand (135 t at p0) and
    # Russian metal (90 t) goes to CHN/HKG: the world price does not move
    free = solve_spe(m)
    assert free.prices.to_numpy() == pytest.approx(base.prices.to_numpy(), rel=1e-12)
    assert free.flows.loc["RUS", ["CHN", "HKG"]].sum() == pytest.approx(90.0)
    # with τ = 10% of p0: Russia's netback is the Chinese price less τ, Western prices rise
    tau = 0.10 * PALLADIUM.base_price_usd_per_t
    r = solve_spe(m, **shocks.spe_arguments(m))
    assert r.netbacks["RUS"] == pytest.approx(r.prices["CHN"] - tau, abs=1e-6)
    assert (r.prices[["USA", "JPN", "DEU"]] >= base.prices[["USA", "JPN", "DEU"]] - 1e-9).all()


def test_china_quota_separates_domestic_and_world_prices():
    s = load_scenario(EXAMPLES / FILES[3])
    m, shocks = apply_scenario(REE, s)
    assert shocks.export_quota == {"CHN": 30_000.0}
    r = solve_spe(m, **shocks.spe_arguments(m))
    assert r.flows.loc["CHN", ["JPN", "USA", "DEU"]].sum() == pytest.approx(30_000.0)
    assert r.quota_rent_usd_per_t["CHN"] > 0
    assert r.prices["JPN"] == pytest.approx(r.prices["CHN"] + r.quota_rent_usd_per_t["CHN"],
                                            abs=1e-6)


def test_kazakh_supply_is_a_new_producer():
    s = load_scenario(EXAMPLES / FILES[4])
    m, _ = apply_scenario(REE, s)
    row = m.producers.set_index("producer").loc["Kazakhstan new REE supply"]
    assert (row["country"], row["capacity_t"], row["cost_usd_per_t"]) == ("KAZ", 5000, 12000)


BASE = "name: x\ncommodity: nickel\nbase_year: 2025\n"


@pytest.mark.parametrize("text, field, line, match", [
    (BASE + "colour: red\n", "colour", 4, "extra inputs"),
    (BASE + "output_cuts:\n  - country: RUS\n    cut_share: 0.1\n    source: s\n    size: 1\n",
     "output_cuts.0.size", 8, "extra inputs"),
    (BASE + "output_cuts:\n  - country: RUS\n    cut_t: -5\n    source: s\n",
     "output_cuts.0.cut_t", 6, "greater than 0"),
    (BASE + "output_cuts:\n  - country: Rusia\n    cut_share: 0.1\n    source: s\n",
     "output_cuts.0.country", 5, "closest matches: russia"),
    (BASE + "purchase_bans:\n  - buyers: [G77]\n    origins: [RUS]\n    source: s\n",
     "purchase_bans.0.buyers.0", 5, "unknown country or bloc 'g77'"),
    (BASE + "output_cuts:\n  - country: RUS\n    cut_share: 1.5\n    source: s\n",
     "output_cuts.0.cut_share", 6, "less than or equal to 1"),
    (BASE + "export_quotas:\n  - exporter: CHN\n    quota_t: 1\n",
     "export_quotas.0.source", 5, "required"),
    (BASE + "period: month\n", "period", 4, "'year' or 'quarter'"),
    ("name: x\ncommodity: nikel\nbase_year: 2025\n", "commodity", 2, "closest matches: nickel"),
])
def test_bad_files_name_file_line_and_field(tmp_path, text, field, line, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MarketScenarioError, match=match) as exc:
        load_scenario(path)
    assert (exc.value.path, exc.value.field, exc.value.line) == (str(path), field, line)
    assert str(path) in str(exc.value) and f"line {line}" in str(exc.value)


def test_apply_errors_name_the_field(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "output_cuts:\n  - company: Vale\n    cut_t: 10\n    source: s\n")
    with pytest.raises(MarketScenarioError, match="no producer 'Vale'") as exc:
        apply_scenario(NICKEL, load_scenario(path))
    assert (exc.value.field, exc.value.line) == ("output_cuts.0.company", 5)
    path.write_text(BASE + "output_cuts:\n  - company: Nornickel\n    cut_t: 1.0e6\n"
                           "    source: s\n")
    with pytest.raises(MarketScenarioError, match="exceeds the base output") as exc:
        apply_scenario(NICKEL, load_scenario(path))
    assert exc.value.field == "output_cuts.0.cut_t"
    with pytest.raises(MarketScenarioError, match="the market is palladium"):
        apply_scenario(PALLADIUM, load_scenario(path))


def test_every_schema_field_is_documented():
    from critmin.market import scenario as sc  # noqa: PLC0415

    doc = (Path(__file__).resolve().parents[2] / "docs" / "methods.md").read_text()
    for model in (sc.Scenario, sc.OutputCut, sc.ExportBan, sc.ExportQuota, sc.ExportTax,
                  sc.PurchaseBan, sc.Friction, sc.DemandShock, sc.StockRelease, sc.NewSupply,
                  sc.Closures, sc.PriceLevel):
        for name in model.model_fields:
            assert f"`{name}" in doc, f"{model.__name__}.{name} missing from the docs"
