"""A zero shock on the copper, cobalt and lithium world markets reproduces the baseline (the
curves against their sources: test_cost_curves.py)."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.market import build, montecarlo

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
