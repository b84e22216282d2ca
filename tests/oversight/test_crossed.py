"""Crossed laboratory × exporter effects: planted crossed biases are recovered where a one-way
lab screen confounds them, few-sample labs are shrunk, and bad input is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.oversight.bias import BiasInputError
from critmin.oversight.crossed import crossed_effects

LAB = {f"L{i:02d}": 0.0 for i in range(12)} | {"L05": 0.20, "L08": 0.10}
EXP = {f"E{i}": 0.0 for i in range(6)} | {"E0": 0.15}


def _pairs(seed=0, sigma=0.05):
    """E0 (under-declares 0.15 on the ln scale) sends 80 % of its lots to L00 and L01, which
    are honest; the other exporters spread over all labs. L11 gets only 3 lots."""
    rng = np.random.default_rng(seed)
    rows = []
    labs = [lab for lab in LAB if lab != "L11"]
    for ex in EXP:
        for _ in range(400):
            if ex == "E0" and rng.random() < 0.8:
                lab = ("L00", "L01")[rng.integers(2)]
            else:
                lab = labs[rng.integers(len(labs))]
            rows.append((lab, ex))
    rows += [("L11", "E3")] * 3
    df = pd.DataFrame(rows, columns=["laboratory_id", "exporter_id"])
    truth = df["laboratory_id"].map(LAB) + df["exporter_id"].map(EXP)
    out = []
    for el, s in (("Cu", sigma), ("Au", 2 * sigma)):
        out.append(df.assign(element=el, d=truth + rng.normal(0, s, len(df))))
    return pd.concat(out, ignore_index=True)


def test_recovers_planted_crossed_effects():
    pairs = _pairs()
    fit = crossed_effects(pairs)
    for el in ("Cu", "Au"):
        lab = fit.labs_.xs(el, level="element")
        exp = fit.exporters_.xs(el, level="element")
        ref = lab.loc["L02"]  # an honest, well-sampled lab: effects are contrasts against it
        # contrast a_l − a_ref vs the planted v_l − 0 within 4 posterior SDs of the contrast
        # (+0.01 for shrinkage, of order σ²/(n τ²) on a 0.2 effect)
        for g, v in LAB.items():
            if g != "L11":
                tol = 4 * np.hypot(lab.loc[g, "sd"], ref["sd"]) + 0.01
                assert lab.loc[g, "effect"] - ref["effect"] == pytest.approx(v, abs=tol), (el, g)
        # exporters: 400 lots each, SE of a contrast ≈ 0.1·√(2/400) = 0.007 (Au) → 0.03
        assert exp.loc["E0", "effect"] - exp.drop("E0")["effect"].mean() == pytest.approx(
            0.15, abs=0.03)
        # the planted labs are ordered right above the honest ones
        assert lab.loc["L05", "effect"] > lab.loc["L08", "effect"] > lab.drop(
            ["L05", "L08"])["effect"].max()
    # the one-way view charges E0's under-declaration to its honest labs; the crossed one not
    cu = fit.labs_.xs("Cu", level="element")
    one_way = pairs[pairs["element"] == "Cu"].groupby("laboratory_id")["d"].mean()
    # L00 gets ≈ 48 % of its lots from E0: one-way gap ≈ 0.48 · 0.15 = 0.07 (SE ≈ 0.005)
    assert one_way["L00"] - one_way["L02"] > 0.05
    assert abs(cu.loc["L00", "effect"] - cu.loc["L02", "effect"]) < 0.02


def test_few_sample_lab_is_shrunk():
    fit = crossed_effects(_pairs(seed=1))
    for el in ("Cu", "Au"):
        r = fit.labs_.loc[("L11", el)]
        c = fit.components_.loc[el]
        assert r["n"] == 3
        # B = (σ²/τ²)/(n + σ²/τ²): the effect keeps (1 − B) of the cell residual mean
        b = (c["sigma2"] / c["tau2_lab"]) / (3 + c["sigma2"] / c["tau2_lab"])
        assert 0.05 < b < 1
        assert abs(r["effect"]) < abs(r["raw_mean"]) or abs(r["raw_mean"]) < 1e-3
        big = fit.labs_.xs(el, level="element").drop("L11")
        assert r["sd"] > big["sd"].max()


def test_bad_input_is_named():
    p = _pairs().head(50)
    with pytest.raises(BiasInputError, match="exporter_id"):
        crossed_effects(p.drop(columns="exporter_id"))
    bad = p.copy()
    bad.loc[7, "d"] = np.nan
    with pytest.raises(BiasInputError, match="row 7"):
        crossed_effects(bad)
    with pytest.raises(BiasInputError, match="3 or more"):
        crossed_effects(p.head(2))
    # an element with too few pairs is left out, the others fitted
    few = pd.concat([p, p.head(2).assign(element="Ag")], ignore_index=True)
    assert "Ag" not in crossed_effects(few).components_.index
