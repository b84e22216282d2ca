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
