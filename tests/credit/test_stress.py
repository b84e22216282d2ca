"""The stress path: stages, the scenario file, and Nornickel before/after with overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from critmin.credit.company import load_company
from critmin.credit.merton import merton_solve
from critmin.credit.ratings import load_scale
from critmin.credit.stress import (ScenarioFileError, StressError, apply_price_changes,
                                   credit_report, load_scenario, revenue_by_metal,
                                   scenario_from_prices, stressed_asset_value, stressed_ebitda,
                                   term_structure_svg)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIO = EXAMPLES / "scenarios" / "nickel_palladium_shock.yaml"


@pytest.fixture(scope="module")
def nornickel():
    return load_company(EXAMPLES / "companies" / "nornickel_2024.yaml")


def test_operating_leverage_notes_example():
    # notes §5.1: at a 41% margin a −10% revenue shock cuts EBITDA by about 24% (c = 0)
    after = stressed_ebitda(41.0, -10.0)
    assert (after - 41.0) / 41.0 == pytest.approx(-0.244, abs=0.0005)
    assert stressed_ebitda(41.0, -10.0, 0.1) == pytest.approx(32.0, rel=1e-14)
    assert stressed_asset_value(100.0, 40.0, 30.0) == pytest.approx(75.0, rel=1e-14)
    with pytest.raises(StressError, match="EBITDA"):
        stressed_asset_value(100.0, 40.0, -1.0)


def test_revenue_stages():
    r = revenue_by_metal(10.0, {"nickel": 0.6, "other": 0.4})
    assert r == {"nickel": 6.0, "other": 4.0}
    assert apply_price_changes(r, {"nickel": -0.2, "copper": 0.5}) == pytest.approx(
        {"nickel": 4.8, "other": 4.0})


def test_scenario_file_and_market_prices():
    s = load_scenario(SCENARIO)
    assert s.price_changes == {"nickel": -0.20, "palladium": -0.25}
    assert "Assumption" in s.source
    m = scenario_from_prices({"Ni": 16800, "Pd": 980}, {"Ni": 13440, "Pd": 735, "Cu": 1},
                             name="market run", source="critmin shock")
    assert m.price_changes == pytest.approx({"nickel": -0.20, "palladium": -0.25})


def test_bad_scenario_files_name_the_field(tmp_path):
    cases = [("name: x\nsource: s\nprice_changes:\n  nikel: -0.2\n", "price_changes.nikel",
              "closest matches: Nickel"),
             ("name: x\nsource: s\nprice_changes:\n  nickel: -1.5\n", "price_changes.nickel",
              "> -1"),
             ("name: x\nprice_changes:\n  nickel: -0.2\n", "source", "required"),
             ("name: x\nsource: s\nprice_changes:\n  nickel: -0.2\noverlays:\n  p: 2\n",
              "overlays.p", "within")]
    for i, (text, field, match) in enumerate(cases):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(text)
        with pytest.raises(ScenarioFileError, match=match) as exc:
            load_scenario(path)
        assert exc.value.field == field


def test_nornickel_before_and_after(nornickel, tmp_path):
    rep = credit_report(nornickel, load_scenario(SCENARIO))
    s = rep.summary.set_index("metric")
    # stages: revenue −11.1% (Ni 28% × −20%, Pd 22% × −25%), EBITDA through (1 − c), c = 10%
    assert s.loc["revenue", "after"] == pytest.approx(12.5 * (1 - 0.056 - 0.055), rel=1e-12)
    d_ebitda = -12.5 * 0.111 * 0.9
    assert s.loc["ebitda", "after"] == pytest.approx(5.2 + d_ebitda, rel=1e-12)
    ratio = s.loc["asset_value (Merton)", "after"] / s.loc["asset_value (Merton)", "before"]
    assert ratio == pytest.approx((5.2 + d_ebitda) / 5.2, rel=1e-12)
    # the solve behind it: E = 1766/101.6797, σE 40%, KMV DP = 1.6 + 9.2/2 = 6.2
    sol = merton_solve(1766 / 101.6797, 0.40, 6.2, 0.045, 1.0)
    assert s.loc["asset_value (Merton)", "before"] == pytest.approx(float(sol.asset_value))
    assert s.loc["default point", "before"] == pytest.approx(6.2)
    # structural PD rises by orders of magnitude; the overlays dominate the total
    pd_s = "PD structural (1 y)"
    pd_t = "PD total with overlays (1 y)"
    assert s.loc[pd_s, "before"] < 1e-5 < 1e-4 < s.loc[pd_s, "after"] < 1e-3
    assert s.loc[pd_t, "before"] == pytest.approx(0.0494, abs=0.0001)
    assert s.loc[pd_t, "after"] > s.loc[pd_t, "before"]
    # default scale: 1-year bands 1 − (1 − MinWARF/10,000)^(1/10) from the rating factors.
    # Structural 0.00048% < Aa1's edge 0.0050% -> Aaa; 0.0232% in Aa2 [0.0150%, 0.0300%);
    # total 4.94% in B3 [3.650%, 5.188%). (Idealised scale: Aa1, A3 and B1.)
    assert s.loc["rating structural", "before"] == "Aaa"
    assert s.loc["rating structural", "after"] == "Aa2"
    assert s.loc["rating total (Moody's)", "before"] == "B3"
    assert s.loc["rating total (S&P/Fitch)", "after"] == "B-"
    assert s.loc["overlay share of PD total", "before"] > 0.999
    assert 0.99 < s.loc["overlay share of PD total", "after"] < s.loc[
        "overlay share of PD total", "before"]
    comp = rep.components.set_index("component")
    assert comp["share_before"].sum() == pytest.approx(1.0, rel=1e-12)
    assert comp.loc["payment_channel", "share_after"] > comp.loc["sovereign_transfer",
                                                                  "share_after"]
    # term structure: 10 horizons, cumulative PDs rise with the horizon and after > before
    ts = rep.term_structure
    assert list(ts["horizon_years"]) == [float(h) for h in range(1, 11)]
    for col in ("pd_structural_before", "pd_total_before", "pd_structural_after",
                "pd_total_after"):
        assert (np.diff(ts[col]) > 0).all()
    assert (ts["pd_total_after"] > ts["pd_total_before"]).all()
    assert rep.scale.name == "moodys_warf_implied_1y" and "fx.RUB" in rep.assumptions
    svg = term_structure_svg(rep, tmp_path / "ts.svg")
    text = svg.read_text()
    assert text.startswith("<svg") and text.count("<polyline") == 4


def test_report_without_scenario_and_other_scale(nornickel):
    rep = credit_report(nornickel, horizons=[1, 5], scale=load_scale("moodys_warf_10y"))
    assert list(rep.summary.columns) == ["metric", "unit", "before"]
    assert "PD structural (10 y)" in set(rep.summary["metric"])
    assert list(rep.term_structure.columns) == ["horizon_years", "pd_structural_before",
                                                "pd_total_before"]


def test_scenario_that_wipes_out_ebitda(nornickel):
    from critmin.credit.stress import PriceScenario
    crash = PriceScenario(name="crash", source="test",
                          price_changes={m: -0.9 for m in ("copper", "nickel", "palladium")})
    with pytest.raises(StressError, match="EBITDA"):
        credit_report(nornickel, crash)


def test_western_peer_loads_and_runs():
    peer = load_company(EXAMPLES / "companies" / "implats_fy2024.yaml")
    rep = credit_report(peer, load_scenario(SCENARIO))
    s = rep.summary.set_index("metric")
    assert s.loc["ebitda", "after"] < s.loc["ebitda", "before"]
    assert list(rep.components["component"]) == ["structural"]


def test_ebitda_split_by_metal_is_carried_through(tmp_path):
    import yaml
    data = yaml.safe_load((EXAMPLES / "companies" / "nornickel_2024.yaml").read_text())
    data["ebitda_by_metal"] = {m: {"value": w, "source": "test", "assumption": True}
                               for m, w in (("copper", 0.4), ("nickel", 0.3), ("palladium", 0.3))}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    rep = credit_report(load_company(path), load_scenario(SCENARIO))
    rev = rep.revenue
    s = rep.summary.set_index("metric")
    assert rev["ebitda_before"].sum() == pytest.approx(5.2, rel=1e-12)
    assert rev["ebitda_after"].sum() == pytest.approx(s.loc["ebitda", "after"], rel=1e-12)
    data["ebitda_by_metal"]["cobalt"] = {"value": 0.0, "source": "test"}
    path.write_text(yaml.safe_dump(data))
    from critmin.credit.company import CompanyFileError
    with pytest.raises(CompanyFileError, match="also be in revenue_by_metal") as exc:
        load_company(path)
    assert exc.value.field == "ebitda_by_metal.cobalt"
