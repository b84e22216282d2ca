"""Cost curves for copper, cobalt and lithium (cost_curves.csv) against the figures they cite,
and a zero shock on each world market reproducing the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.market import build, montecarlo

LB_PER_T = 2204.62262          # pounds per tonne (1 lb = 0.45359237 kg)

# (commodity, band) -> (low, high) as published (None: an assumption, not checked), unit factor
CITED = {
    # Antofagasta Q4 2024 production report: net cash cost 1.23 (Q4) and 1.64 (FY) USD/lb
    ("copper", "low_net_cash"): (1.23, 1.64, LB_PER_T),
    # ... cash costs before by-product credits 2.01 (Q4) and 2.37 (FY) USD/lb
    ("copper", "before_credits"): (2.01, 2.37, LB_PER_T),
    # ronin8 cobalt note: DRC hydroxide opex 2.50 USD/lb Co; refinery net 9.15 USD/lb Co
    ("cobalt", "drc_copper_cobalt"): (2.50, None, LB_PER_T),
    ("cobalt", "refined_rest"): (9.15, None, LB_PER_T),
    # S&P concentrate cash cost 2,529 USD/t LCE (2021); Thundersaid 12,500 USD/t for 10% IRR
    ("lithium", "hard_rock"): (2529, 12500, 1.0),
}



@pytest.mark.parametrize("key", sorted(CITED))
def test_curve_rows_are_the_cited_figures(key):
    commodity, band = key
    lo, hi, per = CITED[key]
    c = build.load_cost_curve(commodity).set_index("band").loc[band]
    # stored in whole USD/t: 0.5 USD/t is the rounding
    assert c["c1_low_usd_per_t"] == pytest.approx(lo * per, abs=0.5)
    if hi is not None:
        assert c["c1_high_usd_per_t"] == pytest.approx(hi * per, abs=0.5)
    assert "ILLUSTRATIVE" in c["source"]


def test_every_uncited_figure_is_marked_an_assumption():
    for commodity in ("copper", "cobalt", "lithium"):
        for _, r in build.load_cost_curve(commodity).iterrows():
            if (commodity, r["band"]) not in CITED or CITED[(commodity, r["band"])][1] is None:
                assert "[assumption]" in r["source"] or "ASSUMPTION" in r["basis"], r["band"]


@pytest.mark.parametrize("commodity", ["copper", "cobalt", "lithium"])
def test_zero_shock_reproduces_the_baseline(con, commodity):
    """No shock: every draw clears at the base-year price (World Bank / USGS, warehouse) and
    moves no surplus; rtol 1e-9 is the solver's tolerance in ln p."""
    inp = build.base_inputs(con, commodity, 2024)
    m = build.market_from_warehouse(con, commodity, 2024)
    t = montecarlo.run(m, None, draws=30, seed=4, country_output=inp["production"])
    np.testing.assert_allclose(t["price"], inp["price_usd_per_t"], rtol=1e-9)
    np.testing.assert_allclose(t["producer_surplus_change_usd"], 0.0,
                               atol=1e-6 * inp["price_usd_per_t"] * m.consumers[
                                   "base_demand_t"].sum())
    np.testing.assert_allclose(t["consumer_surplus_change_usd"], 0.0,
                               atol=1e-6 * inp["price_usd_per_t"] * m.consumers[
                                   "base_demand_t"].sum())
    np.testing.assert_allclose(t["hhi_after"].to_numpy(float), t["hhi_before"].to_numpy(float),
                               rtol=1e-9)
