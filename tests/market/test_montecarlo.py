"""critmin.market.montecarlo: elasticity draws and the base-vs-shocked Monte Carlo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.data import warehouse
from critmin.market import build, montecarlo
from critmin.market.model import MarketError
from critmin.market.scenario import apply_scenario, load_scenario

REPO_SCEN = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


@pytest.fixture(scope="module")
def nickel(built_warehouse):
    con = warehouse.connect(built_warehouse, read_only=True)
    inp = build.base_inputs(con, "nickel", 2025)
    m = build.market_from_warehouse(con, "nickel", 2025)
    con.close()
    return m, inp


def test_priors_from_notes():
    t = pd.read_csv(montecarlo.ELASTICITIES_FILE)
    want = {"copper", "nickel", "cobalt", "lithium", "platinum", "palladium", "rare_earths"}
    assert set(t["commodity"]) == want
    assert (t.groupby("commodity")["side"].apply(set) == {"supply", "demand"}).all()
    assert (t["distribution"] == "triangular").all()
    assert t["source"].str.contains(r"\[memory\]").all()
    assert t["source"].str.contains("Dahl 2020 MEDS").all()
    ni = montecarlo.elasticity_priors("nickel").set_index("side")
    assert (ni.loc["supply", "low"], ni.loc["supply", "high"]) == (0.1, 0.3)
    assert (ni.loc["demand", "low"], ni.loc["demand", "high"]) == (-0.2, -0.05)


def test_draws_same_seed_identical_and_in_range():
    a = montecarlo.draw_elasticities("nickel", 500, 7)
    b = montecarlo.draw_elasticities("nickel", 500, 7)
    c = montecarlo.draw_elasticities("nickel", 500, 8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["supply_elasticity"].between(0.1, 0.3).all()
    assert a["demand_elasticity"].between(-0.2, -0.05).all()
    ree = montecarlo.draw_elasticities("rare_earths", 10, 1)
    assert (ree["supply_elasticity"] == 0).all()
    with pytest.raises(MarketError, match="elasticities.csv"):
        montecarlo.draw_elasticities("gold", 10, 1)


def test_run_same_seed_identical(nickel):
    m, inp = nickel
    scen = load_scenario(REPO_SCEN / "nornickel_nickel_guidance_2025.yaml")
    a = montecarlo.run(m, scen, 200, 3, country_output=inp["production"])
    b = montecarlo.run(m, scen, 200, 3, country_output=inp["production"])
    pd.testing.assert_frame_equal(a, b)


def test_nornickel_cut_raises_p50_price(nickel):
    m, inp = nickel
    shocked, _ = apply_scenario(m, load_scenario(REPO_SCEN /
                                                 "nornickel_nickel_guidance_2025.yaml"))
    t = montecarlo.run(m, shocked, 1000, 1, country_output=inp["production"])
    s = montecarlo.summary(t)
    assert s.loc["price", "P50"] > s.loc["base_price", "P50"]
    np.testing.assert_allclose(t["base_price"], m.base_price_usd_per_t, rtol=1e-9)
    # small shock: s = 7.5 kt / 3.7 Mt, p*/p0 - 1 ≈ s/(ε − η) ≈ 0.6% at the prior modes
    assert 0.002 < s.loc["price_change_share", "P50"] < 0.02
    assert (t["shortfall_t"] == 0).all()
    # the before-HHI is World Mining Data's country HHI
    q = inp["production"] / inp["production"].sum()
    assert t["hhi_before"].iloc[0] == pytest.approx(float((q ** 2).sum()))
    assert (t["price"] >= t["base_price"]).all()


def test_loss_making_share_at_price(nickel):
    m, _ = nickel
    L = montecarlo.loss_making_at(m, np.array([15_000.0, 5_000.0, 30_000.0]))
    assert 0.25 <= L[0] <= 0.40 and L[1] == 1.0 and L[2] == 0.0


def test_summary_quantiles():
    t = pd.DataFrame({"draw": range(101), "x": np.arange(101.0)})
    s = montecarlo.summary(t)
    assert list(s.columns) == ["P5", "P50", "P95", "mean"]
    assert (s.loc["x", "P5"], s.loc["x", "P50"], s.loc["x", "P95"]) == (5.0, 50.0, 95.0)


def test_supply_by_producer_adds_up_and_names_the_cut(nickel):
    """One line per named producer and per cost-curve band; with one draw each line is that
    draw's output, so the lines add up to the ClearResults' totals exactly (1e-9, rounding of
    the sums); the Nornickel cut shows on Russia's line alone as a fall, the bands rise."""
    m, _ = nickel
    shocked, _ = apply_scenario(m, load_scenario(REPO_SCEN /
                                                 "nornickel_nickel_guidance_2025.yaml"))
    c = montecarlo.clear_pair(m, shocked, 1, 2)
    t = montecarlo.supply_by_producer(c).set_index("producer")
    bands = set(m.producers["band"].dropna()) - set(m.producers.loc[m.producers["named"],
                                                                    "band"])
    assert {f"{b} band" for b in bands} <= set(t.index)
    assert t["base_P50_t"].sum() == pytest.approx(c.base.output.sum(), rel=1e-9)
    assert t["shocked_P50_t"].sum() == pytest.approx(c.shocked.output.sum(), rel=1e-9)
    rus = t.loc["RUS (sulphide)"]
    assert rus["change_P50_t"] < -5_000                       # the 196-204 kt guidance cut
    assert (t.drop(index="RUS (sulphide)")["change_P50_t"] >= 0).all()
    assert (t["c1_min_usd_per_t"] <= t["c1_max_usd_per_t"]).all()
