"""EU CRM supply risk on a hand-computed case."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.risk.eu_crm import eu_supply_risk, import_reliance, supply_risk


def test_import_reliance():
    assert import_reliance(10, 30, 10) == pytest.approx(20 / 30, rel=1e-15)
    assert import_reliance(10, 5, 20) == 0.0  # net exporter
    assert import_reliance(0, 0, 0) == 0.0


def test_supply_risk_formula():
    # [3·0.5/2 + 2·(1 − 0.25)] · (1 − 0.2) · 0.9 = (0.75 + 1.5) · 0.72 = 1.62
    assert supply_risk(3.0, 2.0, 0.5, 0.2, 0.9) == pytest.approx(1.62, rel=1e-15)


def test_eu_supply_risk_hand_computed():
    prod = pd.DataFrame([("x", "CHN", 2022, 80.0, "t"), ("x", "FIN", 2022, 20.0, "t")],
                        columns=["commodity", "country", "year", "quantity", "unit"])
    flows = pd.DataFrame([
        ("x", "111111", 2022, "CHN", "DEU", 3000.0),   # factor 0.01: 30 t contained
        ("x", "111111", 2022, "FIN", "USA", 1000.0),   # EU export: 10 t
        ("x", "111111", 2022, "FIN", "DEU", 500.0),    # intra-EU: ignored
    ], columns=["commodity", "hs6", "year", "exporter", "importer", "quantity_t"])
    factors = pd.DataFrame([("111111", "x", 0.01)], columns=["hs6", "commodity", "content"])
    # PV: CHN -0.5 -> EU scale 6; FIN 1.5 -> 2
    pv = pd.DataFrame([("CHN", 2022, -0.5), ("FIN", 2022, 1.5)],
                      columns=["country", "year", "value"])
    inputs = pd.DataFrame({"commodity": ["x"], "si_sr": [0.9]})
    r = eu_supply_risk(prod, flows, pv, factors, inputs, ["DEU", "FIN"], 2022,
                       {"x": 0.1}).iloc[0]
    # global supply: 0.8²·6 + 0.2²·2 = 3.84 + 0.08 = 3.92
    assert r.hhi_wgi_global == pytest.approx(3.92, rel=1e-12)
    # EU sourcing: FIN production 20 t + 30 t from CHN -> 0.4²·2 + 0.6²·6 = 0.32 + 2.16 = 2.48
    assert r.hhi_wgi_eu == pytest.approx(2.48, rel=1e-12)
    # IR = (30 − 10) / (20 + 30 − 10) = 0.5
    assert r.import_reliance == pytest.approx(0.5, rel=1e-12)
    # SR = (3.92·0.25 + 2.48·0.75)·0.9·0.9 = (0.98 + 1.86)·0.81 = 2.3004
    assert r.supply_risk == pytest.approx(2.3004, rel=1e-12)
    with pytest.raises(ValueError, match="SI_SR"):
        eu_supply_risk(prod, flows, pv, factors, pd.DataFrame({"commodity": ["x"],
                       "si_sr": [1.5]}), ["DEU", "FIN"], 2022, {"x": 0.1})
    with pytest.raises(KeyError, match="recycling"):
        eu_supply_risk(prod, flows, pv, factors, inputs, ["DEU"], 2022, {"x": None})


def test_uncountable_imports_are_unknown_not_zero():
    prod = pd.DataFrame([("x", "FIN", 2022, 20.0, "t")],
                        columns=["commodity", "country", "year", "quantity", "unit"])
    flows = pd.DataFrame([("x", "999999", 2022, "COD", "DEU", 3000.0)],
                         columns=["commodity", "hs6", "year", "exporter", "importer",
                                  "quantity_t"])
    factors = pd.DataFrame(columns=["hs6", "commodity", "content"])
    pv = pd.DataFrame([("FIN", 2022, 1.5)], columns=["country", "year", "value"])
    r = eu_supply_risk(prod, flows, pv, factors, pd.DataFrame({"commodity": ["x"],
                       "si_sr": [1.0]}), ["DEU", "FIN"], 2022, {"x": 0.0}).iloc[0]
    import math
    assert math.isnan(r.supply_risk) and "imports_not_counted" in r["flags"]
