"""Overlays: combination under independence, hazard shares, receivables, credit triangle."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.credit.merton import CreditInputError
from critmin.credit.overlays import (combine_pd, forward_hazards, hazard_from_spread,
                                     horizon_pd, pd_from_hazard, receivables_loss)


def test_combination_and_shares():
    c = combine_pd(0.01, {"sovereign_transfer": 0.02, "payment_channel": 0.03})
    assert float(c.total) == pytest.approx(1 - 0.99 * 0.98 * 0.97, rel=1e-14)
    assert sum(float(v) for v in c.shares.values()) == pytest.approx(1.0, rel=1e-14)
    h = {k: -np.log1p(-v) for k, v in (("structural", 0.01), ("payment_channel", 0.03))}
    assert float(c.shares["payment_channel"]) == pytest.approx(
        h["payment_channel"] / -np.log(0.99 * 0.98 * 0.97), rel=1e-13)
    # order of the overlays does not matter
    d = combine_pd(0.01, {"payment_channel": 0.03, "sovereign_transfer": 0.02})
    assert float(d.total) == float(c.total)
    assert float(d.shares["structural"]) == pytest.approx(float(c.shares["structural"]))


def test_combination_edge_cases():
    z = combine_pd(0.0, {"x": 0.0})
    assert float(z.total) == 0 and float(z.shares["structural"]) == 0
    tiny = combine_pd(1e-17, {})
    assert float(tiny.total) == pytest.approx(1e-17, rel=1e-12)
    one = combine_pd(0.1, {"x": 1.0})
    assert float(one.total) == 1.0 and float(one.shares["x"]) > 0.9
    arr = combine_pd(np.array([0.0, 0.1]), {"x": 0.05})
    assert arr.total.shape == (2,)
    with pytest.raises(CreditInputError, match="payment_channel"):
        combine_pd(0.01, {"payment_channel": 1.5})
    with pytest.raises(CreditInputError, match="reserved"):
        combine_pd(0.01, {"structural": 0.1})


def test_horizon_pd_is_constant_hazard():
    np.testing.assert_allclose(horizon_pd(0.02, [1, 2, 5]), [0.02, 1 - 0.98**2, 1 - 0.98**5])


def test_receivables_loss_hand_computed():
    # R = 1, 10% haircut, paid 6 months late at 4.5%: 1 − 0.9 e^{−0.0225}
    got = receivables_loss(1.0, haircut=0.1, delay_years=0.5, discount_rate=0.045)
    assert float(got) == pytest.approx(1 - 0.9 * np.exp(-0.0225), rel=1e-14)
    assert float(receivables_loss(2.0)) == 0.0
    with pytest.raises(CreditInputError, match="haircut"):
        receivables_loss(1.0, haircut=1.5)


def test_hull_credit_triangle_examples():
    # notes §5.2 (Hull): 200 bp, R = 40% -> λ = 3.33%, 1-year PD 3.28%, 5-year 15.35%
    lam = hazard_from_spread(0.02, 0.4)
    assert float(lam) == pytest.approx(0.0333, abs=0.00005)
    assert float(pd_from_hazard(lam, 1)) == pytest.approx(0.0328, abs=0.00005)
    assert float(pd_from_hazard(lam, 5)) == pytest.approx(0.1535, abs=0.00005)
    # 150/180/195 bp at R = 0.4 over 1, 2, 3 years: averages 2.5/3.0/3.25%, forwards 3.5, 3.75%
    avg = hazard_from_spread(np.array([0.015, 0.018, 0.0195]), 0.4)
    np.testing.assert_allclose(avg, [0.025, 0.03, 0.0325], rtol=1e-12)
    np.testing.assert_allclose(forward_hazards(avg, [1, 2, 3]), [0.025, 0.035, 0.0375],
                               rtol=1e-12)
    with pytest.raises(CreditInputError, match="tenors"):
        forward_hazards(avg, [1, 1, 3])
