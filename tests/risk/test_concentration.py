"""Concentration measures against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from critmin.risk.concentration import (
    governance_weighted_hhi, hhi, hhi_points, shares, top_k_share,
)
from critmin.risk.governance import eu_scale, geopolrisk_g


def test_hhi_textbook_cases():
    # four equal firms: 4 × 0.25² = 0.25 (2,500 points); a monopoly: 1
    assert hhi([5, 5, 5, 5]) == 0.25 and hhi_points([5, 5, 5, 5]) == 2500
    assert hhi([7]) == 1.0
    # shares 60/30/10: 0.36 + 0.09 + 0.01 = 0.46 (exact in binary up to 1 ulp)
    assert hhi([60, 30, 10]) == pytest.approx(0.46, rel=1e-15)


def test_top_k():
    assert top_k_share([60, 30, 10], 1) == pytest.approx(0.6, rel=1e-15)
    assert top_k_share([60, 30, 10], 2) == pytest.approx(0.9, rel=1e-15)
    assert top_k_share([60, 30, 10], 5) == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(ValueError):
        top_k_share([1, 2], 0)


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="NaN"):
        shares([1, math.nan])
    with pytest.raises(ValueError, match="zero"):
        hhi([0, 0])


def test_governance_weighted_hhi_hand_computed():
    # shares 0.5/0.5, EU-scaled governance 8 and 2, one export tax factor 1.5:
    # 0.25·8·1.5 + 0.25·2·1 = 3.0 + 0.5 = 3.5
    assert governance_weighted_hhi([1, 1], [8, 2], [1.5, 1]) == pytest.approx(3.5, rel=1e-15)
    with pytest.raises(ValueError, match="missing"):
        governance_weighted_hhi([1, 1], [8, math.nan])


def test_governance_scales():
    np.testing.assert_allclose(geopolrisk_g([2.5, 0.0, -2.5, 3.0, -3.0]), [0, 0.5, 1, 0, 1])
    np.testing.assert_allclose(eu_scale([2.5, 0.0, -2.5]), [0, 5, 10])


def test_commodity_indicators_hand_computed():
    import pandas as pd

    from critmin.risk.indicators import commodity_indicators
    prod = pd.DataFrame([("x", "AAA", 2024, 60.0), ("x", "BBB", 2024, 30.0),
                         ("x", "CCC", 2024, 10.0)],
                        columns=["commodity", "country", "year", "quantity"])
    flows = pd.DataFrame([("x", 2024, "AAA", "ZZZ", 75.0), ("x", 2024, "BBB", "ZZZ", 25.0)],
                         columns=["commodity", "year", "exporter", "importer", "value_usd"])
    # PV: AAA 0 -> EU scale 5; BBB 2.5 -> 0; CCC has no estimate
    pv = pd.DataFrame([("AAA", 2024, 0.0), ("BBB", 2024, 2.5)],
                      columns=["country", "year", "value"])
    r = commodity_indicators(prod, flows, pv, 2024).iloc[0]
    assert r.production_hhi == pytest.approx(0.46, rel=1e-15)
    assert r.production_hhi_points == pytest.approx(4600, rel=1e-15)
    assert (r.top_producer, r.top_producer_share) == ("AAA", 0.6)
    # Σ s² · WGI over producers with an estimate: 0.36·5 + 0.09·0 = 1.8; CCC's 10 % missing
    assert r.gov_weighted_hhi == pytest.approx(1.8, rel=1e-12)
    assert r.gov_missing_share == pytest.approx(0.1, rel=1e-12)
    assert r.export_hhi == pytest.approx(0.625, rel=1e-15)  # 0.75² + 0.25²
