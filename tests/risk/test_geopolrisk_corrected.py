"""Corrected mode: each of the peer's defects fixed, one at a time, on small hand-computed cases.

The case: importer AAA (ISO3 'DEU' for the catalog) buys a material from two suppliers; numbers
are chosen so every figure can be checked on paper.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from critmin.risk import geopolrisk as gpr

C = "nickel"


def flows(rows):
    return pd.DataFrame(rows, columns=["commodity", "hs6", "stage", "year", "exporter",
                                       "importer", "quantity_t", "value_usd"])


PRODUCTION = pd.DataFrame([
    (C, "IDN", 2022, 60.0, "t"), (C, "PHL", 2022, 30.0, "t"), (C, "DEU", 2022, 10.0, "t"),
], columns=["commodity", "country", "year", "quantity", "unit"])
# PV estimates: g = (2.5 - PV) / 5 -> IDN 0.5 (PV 0), PHL 0.3 (PV 1), TWN 0.2 (PV 1.5)
PV = pd.DataFrame([("IDN", 2022, 0.0), ("PHL", 2022, 1.0), ("TWN", 2022, 1.5),
                   ("HKG", 2022, 2.5)], columns=["country", "year", "value"])
FACTORS = pd.DataFrame([("260400", C, 0.01), ("750210", C, 1.0)],
                       columns=["hs6", "commodity", "content"])
STAGES = {C: "extraction"}
HHI = (0.6 ** 2 + 0.3 ** 2 + 0.1 ** 2)  # 0.46


def run(f, corrections=gpr.Corrections(), pv=PV, importers=None):
    return gpr.corrected(f, PRODUCTION, pv, FACTORS, STAGES, importers or {"DEU": ("DEU",)},
                         [2022], [C], corrections).iloc[0]


def test_ore_tonnes_become_contained_metal():
    f = flows([(C, "260400", "ore", 2022, "IDN", "DEU", 1000.0, 50_000.0),   # 10 t Ni
               (C, "750210", "refined", 2022, "PHL", "DEU", 5.0, 100_000.0)])  # 5 t Ni
    r = run(f)
    # F = 10 + 5 = 15 t Ni; N = 0.5·10 + 0.3·5 = 6.5; WTA = 6.5 / (15 + 10)
    assert r.import_qty_t == pytest.approx(15.0, rel=1e-12)
    assert r.import_risk == pytest.approx(6.5 / 25, rel=1e-12)
    assert r.score == pytest.approx(HHI * 6.5 / 25, rel=1e-12)
    # the peer's way (gross tonnes): (0.5·1000 + 0.3·5) / (1005 + 10)
    gross = run(f, gpr.Corrections(content=False))
    assert gross.import_risk == pytest.approx(501.5 / 1015, rel=1e-12)


def test_price_from_the_own_stage_per_contained_kg():
    f = flows([(C, "260400", "ore", 2022, "IDN", "DEU", 1000.0, 50_000.0),
               (C, "750210", "refined", 2022, "PHL", "DEU", 5.0, 100_000.0)])
    # nickel is mined (extraction): priced on the ore code, 50,000 USD / 10,000 kg Ni
    assert run(f).price_usd_per_kg == pytest.approx(5.0, rel=1e-12)
    # all codes pooled on contained tonnes: 150,000 USD / 15,000 kg
    pooled = run(f, gpr.Corrections(own_stage_price=False))
    assert pooled.price_usd_per_kg == pytest.approx(10.0, rel=1e-12)


def test_no_data_is_not_zero_risk():
    f = flows([(C, "260400", "ore", 2022, "IDN", "JPN", 100.0, 10.0)])
    prod = PRODUCTION[PRODUCTION.country != "KAZ"]
    r = gpr.corrected(f, prod, PV, FACTORS, STAGES, {"KAZ": ("KAZ",)}, [2022], [C]).iloc[0]
    assert math.isnan(r.score) and "no_supply_data" in r["flags"]
    with pytest.raises(ValueError, match="no imports and no production"):
        gpr.corrected(f, prod, PV, FACTORS, STAGES, {"KAZ": ("KAZ",)}, [2022], [C],
                      gpr.Corrections(missing_data="error"))


def test_taiwan_gets_its_own_governance():
    f = flows([(C, "750210", "refined", 2022, "TWN", "DEU", 10.0, 1.0)])
    r = run(f)
    # Taiwan matched on ISO3: g = (2.5 - 1.5) / 5 = 0.2, not the peer's default 0.5
    assert r.import_risk == pytest.approx(0.2 * 10 / (10 + 10), rel=1e-12)
    assert r.default_governance_share == 0


def test_missing_governance_is_explicit():
    f = flows([(C, "750210", "refined", 2022, "CUW", "DEU", 10.0, 1.0),
               (C, "750210", "refined", 2022, "IDN", "DEU", 30.0, 1.0)])
    flagged = run(f)
    assert flagged.default_governance_share == pytest.approx(0.25, rel=1e-12)
    assert "default_governance" in flagged["flags"]
    assert flagged.import_risk == pytest.approx((0.5 * 10 + 0.5 * 30) / 50, rel=1e-12)
    excluded = run(f, gpr.Corrections(missing_governance="exclude"))
    assert excluded.import_qty_t == 30 and excluded.import_risk == pytest.approx(15 / 40)
    with pytest.raises(KeyError, match="CUW"):
        run(f, gpr.Corrections(missing_governance="error"))


def test_codes_without_a_factor_are_left_out_and_reported():
    f = flows([(C, "750210", "refined", 2022, "IDN", "DEU", 10.0, 300.0),
               (C, "999999", "scrap", 2022, "PHL", "DEU", 50.0, 100.0)])
    r = run(f)
    assert r.import_qty_t == 10 and r.excluded_value_share == pytest.approx(0.25)
    assert "codes_without_factor" in r["flags"]
    only_unfactored = run(flows([(C, "999999", "scrap", 2022, "PHL", "DEU", 50.0, 100.0)]))
    assert math.isnan(only_unfactored.score) and "imports_not_counted" in only_unfactored["flags"]


def test_re_export_hub_look_through():
    f = flows([(C, "750210", "refined", 2022, "HKG", "DEU", 10.0, 1.0),
               (C, "750210", "refined", 2022, "IDN", "HKG", 30.0, 1.0),   # g 0.5
               (C, "750210", "refined", 2022, "PHL", "HKG", 10.0, 1.0)])  # g 0.3
    plain = run(f)
    assert plain.import_risk == pytest.approx(0.0, abs=1e-15)  # HKG's own PV 2.5: g = 0
    hub = run(f, gpr.Corrections(hubs=("HKG",)))
    # HKG's g becomes (0.5·30 + 0.3·10) / 40 = 0.45
    assert hub.import_risk == pytest.approx(0.45 * 10 / 20, rel=1e-12)
    assert "hub_adjusted" in hub["flags"]


def test_group_imports_from_members_carry_no_risk():
    f = flows([(C, "750210", "refined", 2022, "FRA", "DEU", 10.0, 1.0),
               (C, "750210", "refined", 2022, "IDN", "FRA", 10.0, 1.0)])
    r = run(f, importers={"EU": ("DEU", "FRA")})
    assert r.import_qty_t == 20 and r.import_risk == pytest.approx(0.5 * 10 / 30, rel=1e-12)
