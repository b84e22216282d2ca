"""Ranged shock sizes in the Monte Carlo (critmin.market.sizes): each draw's market equals the
scenario applied at that draw's sizes, drawn sizes stay in range, errors name the field."""

from __future__ import annotations


import numpy as np
import pytest

from critmin.data import warehouse
from critmin.market import build, montecarlo
from critmin.market.clear import clear_world
from critmin.market.scenario import (
    MarketScenarioError, apply_scenario, at_values, load_scenario, uncertain_fields,
)

RANGED = """\
name: ranged
commodity: nickel
base_year: 2025
draws: 300
seed: 4
output_cuts:
  - company: Nornickel
    cut_t: {low: 3500, mode: 7500, high: 11500}
    source: guidance 204-211 kt to 196-204 kt, midpoint 207.5 kt less 196 / 204 kt [derived]
  - asset: hpal step 3
    cut_share: {low: 0.01, high: 0.05}
    source: test
demand_shocks:
  - change_share: -0.01
    source: test
stock_releases:
  - release_t: {low: 1000, high: 40000}
    price_responsive_share: 0.3
    source: test
  - release_t: {low: 500, high: 5000}
    holder: CHN
    source: test
"""


RANGED_DEMAND = """\
name: ranged demand
commodity: nickel
base_year: 2025
draws: 300
seed: 9
output_cuts:
  - company: Nornickel
    cut_share: {low: 0.02, mode: 0.03, high: 0.06}
    source: test
demand_shocks:
  - change_share: {low: -0.05, high: 0.02}
    source: test
stock_releases:
  - release_t: {low: 500, high: 5000}
    holder: CHN
    source: test
"""


@pytest.fixture(scope="module")
def nickel(built_warehouse):
    con = warehouse.connect(built_warehouse, read_only=True)
    m = build.market_from_warehouse(con, "nickel", 2025)
    con.close()
    return m


def scenario(tmp_path, text=RANGED):
    f = tmp_path / "s.yaml"
    f.write_text(text, encoding="utf-8")
    return load_scenario(f)


@pytest.mark.parametrize("text", [RANGED, RANGED_DEMAND], ids=["pool", "demand"])
def test_each_draw_is_the_scenario_applied_at_its_sizes(nickel, tmp_path, text):
    """The oracle: for 12 draws, apply_scenario at that draw's sizes (a fresh market, no
    factors) and clear it with that draw's elasticities; prices, outputs and consumption equal
    the vectorised run's to 1e-9 (both solve to 1e-9 in ln p; the markets differ only by the
    rounding of q_low + t (q_k − q_low) against q(x) computed directly)."""
    scen = scenario(tmp_path, text)
    c = montecarlo.clear_pair(nickel, scen, scen.draws, scen.seed)
    paths = [p for p, _ in uncertain_fields(scen)]
    assert list(c.sizes.drawn.columns) == [".".join(map(str, p)) for p in paths]
    eps, eta = montecarlo.elasticity_arrays(c.shocked_market, c.el)
    for d in range(0, scen.draws, 25):
        values = {p: c.sizes.drawn[".".join(map(str, p))].iloc[d] for p in paths}
        m_d, _ = apply_scenario(nickel, at_values(scen, values))
        r = clear_world(m_d, supply_elasticity=eps[d:d + 1], demand_elasticity=eta[d:d + 1],
                        tol=1e-12)
        assert c.shocked.price[d] == pytest.approx(r.price[0], rel=1e-9)
        np.testing.assert_allclose(c.shocked.output[d], r.output[0], rtol=1e-9, atol=1e-6)
        assert c.shocked.consumption[d].sum() == pytest.approx(r.consumption[0].sum(), rel=1e-9)


def test_drawn_sizes_stay_in_range_and_repeat_with_the_seed(nickel, tmp_path):
    scen = scenario(tmp_path)
    a = montecarlo.run(nickel, scen, 300, 4)
    b = montecarlo.run(nickel, scen, 300, 4)
    a.equals(b) or pytest.fail("same seed, different tables")
    for path, r in uncertain_fields(scen):
        x = a[f"shock:{'.'.join(map(str, path))}"]
        assert x.between(r.low, r.high).all() and x.std() > 0
    # the elasticity draws do not move when ranges are added (their own stream)
    plain = montecarlo.run(nickel, apply_scenario(nickel, scen)[0], 300, 4)
    np.testing.assert_array_equal(a["supply_elasticity"], plain["supply_elasticity"])
    # triangular (3,500, 7,500, 11,500) is symmetric: its median is the mode (sd 1,633 t, the
    # sample median's standard error about 120 t at 300 draws; 400 t is 3.4 of them)
    assert a["shock:output_cuts.0.cut_t"].median() == pytest.approx(7500, abs=400)


def test_a_collapsed_range_is_the_single_value(nickel, tmp_path):
    one = scenario(tmp_path, "name: one\ncommodity: nickel\nbase_year: 2025\noutput_cuts:\n"
                             "  - company: Nornickel\n    cut_t: 7500\n    source: s\n")
    rng = scenario(tmp_path, "name: rng\ncommodity: nickel\nbase_year: 2025\noutput_cuts:\n"
                             "  - company: Nornickel\n    cut_t: {low: 7500, high: 7500}\n"
                             "    source: s\n")
    a = montecarlo.run(nickel, one, 200, 1)
    b = montecarlo.run(nickel, rng, 200, 1)
    np.testing.assert_allclose(b["price"], a["price"], rtol=1e-12)
    np.testing.assert_allclose(b["producer_surplus_change_usd"],
                               a["producer_surplus_change_usd"], rtol=1e-9)


@pytest.mark.parametrize("snippet, field", [
    ("cut_t: {low: 9000, high: 5000}", "output_cuts.0.cut_t"),
    ("cut_share: {low: 0.5, high: 1.0}", "output_cuts.0"),
    ("cut_t: {low: -1, high: 5000}", "output_cuts.0"),
    ("cut_t: {low: 5000, hihg: 9000}", "output_cuts.0.cut_t."),
])
def test_range_errors_name_the_field_and_line(tmp_path, snippet, field):
    text = ("name: x\ncommodity: nickel\nbase_year: 2025\noutput_cuts:\n  - company: Nornickel\n"
            f"    {snippet}\n    source: s\n")
    with pytest.raises(MarketScenarioError) as e:
        scenario(tmp_path, text)
    assert e.value.field.startswith(field) and e.value.line in (5, 6)


HEAD = "name: x\ncommodity: nickel\nbase_year: 2025\n"


@pytest.mark.parametrize("body, words", [
    # (1 − s1)(1 − s2) is not linear in (s1, s2) jointly: the pair is named
    ("output_cuts:\n  - company: Nornickel\n    cut_share: {low: 0.01, high: 0.1}\n"
     "    source: s\n  - country: RUS\n    cut_share: {low: 0.01, high: 0.1}\n    source: s\n",
     "output_cuts.0.cut_share and output_cuts.1.cut_share"),
    # the pool releases κ·D0 (x − 1): D0 moves with a demand shock, which the per-draw factors
    # cannot carry, so the combination is refused rather than approximated
    ("demand_shocks:\n  - change_share: {low: -0.03, high: 0.01}\n    source: s\n"
     "stock_releases:\n  - release_t: 20000\n    price_responsive_share: 0.3\n    source: s\n",
     "demand_shocks.0.change_share: a ranged demand shock"),
    ("output_cuts:\n  - company: Nornickel\n    cut_t: {low: 1000, high: 5000000}\n"
     "    source: s\n", "exceeds the base output"),
], ids=["two shares", "demand with a pool", "above the target"])
def test_ranges_the_method_cannot_hold_are_refused(nickel, tmp_path, body, words):
    with pytest.raises(Exception, match=words):
        montecarlo.run(nickel, scenario(tmp_path, HEAD + body), 10, 1)
