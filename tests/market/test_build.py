"""critmin.market.build: the illustrative nickel curve, the world market from the warehouse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.data import queries
from critmin.market import build
from critmin.market.clear import clear_world
from critmin.market.model import MarketError



def test_nickel_curve_calibration():
    """Notes §3.2: calibrate so that L(15,000 USD/t) is 0.25–0.40, on the continuous curve and
    on the stepped market built from it."""
    curve = build.load_cost_curve("nickel")
    assert 0.25 <= build.loss_making_share(curve, 15_000) <= 0.40
    assert build.loss_making_share(curve, 6_000) == 1.0
    assert build.loss_making_share(curve, 25_000) == 0.0
    m = build.world_market(pd.Series({"IDN": 2e6, "RUS": 2e5, "AUS": 1e5}), curve, 15_000.0)
    P = m.producers
    stepped = P.loc[P["c1_usd_per_t"] > 15_000, "base_output_t"].sum() / P["base_output_t"].sum()
    assert 0.25 <= stepped <= 0.40
    assert "illustrative" in curve["source"].iloc[0].lower()


def test_world_production_equals_wmd_total(con):
    m = build.market_from_warehouse(con, "nickel", 2024)
    _, summary = queries.production(con, "nickel", year=2024, source="wmd",
                                    measure="production")
    assert summary["unit"] == "t"
    assert m.consumers["base_demand_t"].sum() == pytest.approx(summary["world_total"])
    assert m.producers["base_output_t"].sum() == pytest.approx(summary["world_total"])
    # the base price is the 2024 Pink Sheet average
    p = con.execute("SELECT avg(price) FROM prices WHERE source = 'wb_pink_sheet' AND "
                    "series = 'NICKEL' AND year(period) = 2024").fetchone()[0]
    assert m.base_price_usd_per_t == pytest.approx(p)


def test_russia_carve_out_equals_wmd(con):
    m = build.market_from_warehouse(con, "nickel", 2024)
    rus = con.execute("SELECT sum(quantity) FROM production WHERE commodity = 'nickel' AND "
                      "source = 'wmd' AND measure = 'production' AND year = 2024 AND "
                      "country = 'RUS'").fetchone()[0]
    P = m.producers
    named = P[P["country"] == "RUS"]
    assert len(named) == 1 and named["company"].iloc[0] == "Nornickel"
    assert named["band"].iloc[0] == "sulphide"
    assert named["base_output_t"].iloc[0] == pytest.approx(rus)
    # the sulphide band still totals its share of world production
    curve = build.load_cost_curve("nickel").set_index("band")
    share = curve.loc["sulphide", "cumulative_share_to"] - curve.loc["sulphide",
                                                                     "cumulative_share_from"]
    assert P.loc[P["band"] == "sulphide", "base_output_t"].sum() == pytest.approx(
        share * P["base_output_t"].sum())


def test_base_year_clears_at_base_price(con):
    """Sticky shut-down: the balanced base year clears at p0 for any elasticity."""
    m = build.market_from_warehouse(con, "nickel", 2024)
    r = clear_world(m, supply_elasticity=np.array([[0.0], [0.3]]),
                    demand_elasticity=np.array([[-0.05], [-0.2]]))
    np.testing.assert_allclose(r.price, m.base_price_usd_per_t, rtol=1e-9)


def test_missing_year_falls_back_to_latest_wmd(con):
    inp = build.base_inputs(con, "nickel", 2025)
    assert inp["production_year"] == 2024 and inp["price_year"] == 2025


def test_commodity_without_curve_names_the_file():
    with pytest.raises(MarketError, match="cost_curves.csv"):
        build.load_cost_curve("manganese")


def test_kg_tables_converted_to_tonnes(con):
    """Platinum is in kg in World Mining Data (production reaches the market in t) and in
    USD/troy oz in the Pink Sheet (converted to USD/t)."""
    inp = build.base_inputs(con, "platinum", 2024)
    _, s = queries.production(con, "platinum", year=inp["production_year"], source="wmd",
                              measure="production")
    assert s["unit"] == "kg"
    assert inp["production"].sum() == pytest.approx(s["world_total"] / 1000)
    assert inp["price_usd_per_t"] > 1e7  # ~1,000 USD/oz is ~3.2e7 USD/t


def test_named_producer_file_and_errors():
    curve = build.load_cost_curve("nickel")
    prod = pd.Series({"IDN": 2e6, "RUS": 2e5})
    user = pd.DataFrame(dict(producer=["Mine A"], country=["CAN"], technology=["sulphide"],
                             capacity_t=[50_000.0], c1_usd_per_t=[9_000.0]))
    m = build.world_market(prod, curve, 15_000.0, named_producers=user)
    row = m.producers[m.producers["producer"] == "Mine A"].iloc[0]
    assert row["base_output_t"] == 50_000 and row["c1_usd_per_t"] == 9_000
    with pytest.raises(MarketError, match="no band"):
        build.world_market(prod, curve, 15_000.0, named_producers={"RUS": "oxide"})
    with pytest.raises(MarketError, match="more than the band"):
        build.world_market(pd.Series({"RUS": 2e6, "IDN": 1e5}), curve, 15_000.0,
                           named_producers={"RUS": "sulphide"})
