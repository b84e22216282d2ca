"""Unit conversions against their exact definitions."""

from __future__ import annotations

import pytest

from critmin.catalog.units import UnitError, canonical_unit, price_to_usd_per_t, to_tonnes


def test_mass():
    assert to_tonnes(1500, "kg") == 1.5
    assert to_tonnes(2, "kt") == 2000
    assert to_tonnes(1, "metr. t") == 1
    # 1 troy ounce = 31.1034768 g exactly; 32,150.7466 oz per tonne (rounded to 4 dp)
    assert to_tonnes(32_150.7466, "troy oz") == pytest.approx(1.0, rel=1e-9)


def test_prices():
    # gold at 2,000 USD/troy oz is 64.30 million USD/t: 2000 / 0.0311034768 kg * 1000
    assert price_to_usd_per_t(2000, "USD/troy oz") == pytest.approx(64_301_493.2, rel=1e-9)
    assert price_to_usd_per_t(15, "USD/lb") == pytest.approx(15 / 0.45359237 * 1000, rel=1e-12)
    assert price_to_usd_per_t(400, "USc/lb") == pytest.approx(4 / 0.45359237 * 1000, rel=1e-12)
    assert price_to_usd_per_t(1, "($/mt)") == 1


def test_unknown_units_fail_loudly():
    assert canonical_unit("metric tons") == "t"
    with pytest.raises(UnitError, match="Mio m3"):
        to_tonnes(1, "Mio m3")
    with pytest.raises(UnitError, match="USD/bbl"):
        price_to_usd_per_t(80, "USD/bbl")
