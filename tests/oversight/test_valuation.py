"""Valuation: a published worked example, hand-computed payables and penalties, the assay
exchange, leakage per shipment and its aggregation, and input errors that name the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.catalog.units import price_to_usd_per_t
from critmin.oversight.terms import ContractTerms, PayableRule, default_terms
from critmin.oversight.valuation import (ValuationInputError, aggregate_leakage, assay_exchange,
                                         concentrate_value, contained_metal, dry_tonnes,
                                         ore_to_concentrate, payable_grade, payable_metal,
                                         penalty, recovered_grade, splitting_limit_check,
                                         umpire_settle, undeclared_value)

# SLR Consulting cut-off-grade worksheet (Hugging Face Space SLRConsulting/Cutoffgrade,
# data/Worksheet COGs.csv), as recorded in shared/notes/oversight.md §1.3. Money in kUSD,
# copper in klb, gold in troy oz. The sheet's intro text says TC US$90/t; its table uses 9.00.
SLR_WORKED_EXAMPLE = {
    "inputs": {"ore_t": 5_000_000, "cu_pct": 1.0, "au_g_t": 0.5, "rec_cu": 0.87, "rec_au": 0.90,
               "conc_cu_pct": 25.0, "pay_cu": 0.90, "pay_au": 0.99, "cu_usd_lb": 3.25,
               "au_usd_oz": 1500.0, "tc_usd_dmt": 9.0, "rc_cu_usd_lb": 0.09,
               "rc_au_usd_oz": 5.0},
    "outputs": {"concentrate_dmt": 174_000, "contained_cu_klb": 95_901,
                "contained_au_oz": 72_340, "payable_cu_klb": 86_311, "payable_au_oz": 71_617,
                "gross_kusd": 387_936, "tc_kusd": 1_566, "rc_cu_kusd": 7_768,
                "rc_au_kusd": 358, "net_kusd": 378_244},
}
# The sheet rounds ounces and klb before multiplying (72,340 oz vs 72,339.2 oz exact with the
# international troy ounce 31.1034768 g): the notes recompute every line to within ±US$2k and
# ±1 oz, so those are the tolerances here (well below 0.001 % of the totals).
USD_TOL = 2_000.0
OZ_TOL = 1.0


@pytest.fixture()
def slr_terms() -> ContractTerms:
    x = SLR_WORKED_EXAMPLE["inputs"]
    return ContractTerms.model_validate({
        "name": "SLR worked example",
        "treatment_charge_usd_per_dmt": x["tc_usd_dmt"],
        "payables": {"Cu": {"grade_unit": "%", "payable_fraction": x["pay_cu"]},
                     "Au": {"grade_unit": "g/t", "payable_fraction": x["pay_au"]}},
        "refining_charges": {"Cu": {"usd_per_lb": x["rc_cu_usd_lb"]},
                             "Au": {"usd_per_troy_oz": x["rc_au_usd_oz"]}},
    })


def test_worked_example_reproduces_published_figures(slr_terms):
    x, y = SLR_WORKED_EXAMPLE["inputs"], SLR_WORKED_EXAMPLE["outputs"]
    conc = ore_to_concentrate(x["ore_t"], x["cu_pct"], x["rec_cu"], x["conc_cu_pct"])
    assert conc == pytest.approx(y["concentrate_dmt"], abs=0.5)
    au = recovered_grade(x["ore_t"], x["au_g_t"], x["rec_au"], conc)
    assert contained_metal(conc, x["conc_cu_pct"], "%", unit="lb") / 1e3 == pytest.approx(
        y["contained_cu_klb"], abs=1)
    assert contained_metal(conc, au, "g/t") == pytest.approx(y["contained_au_oz"], abs=OZ_TOL)
    prices = {"Cu": price_to_usd_per_t(x["cu_usd_lb"], "USD/lb"),
              "Au": price_to_usd_per_t(x["au_usd_oz"], "USD/troy oz")}
    v = concentrate_value(conc, {"Cu": x["conc_cu_pct"], "Au": au}, slr_terms, prices).iloc[0]
    assert v["payable_t_Cu"] / 0.45359237 == pytest.approx(y["payable_cu_klb"], abs=1)
    assert v["payable_troy_oz_Au"] == pytest.approx(y["payable_au_oz"], abs=OZ_TOL + 0.5)
    assert v["gross_usd"] == pytest.approx(y["gross_kusd"] * 1e3, abs=USD_TOL)
    assert v["tc_usd"] == pytest.approx(y["tc_kusd"] * 1e3, abs=USD_TOL)
    assert v["rc_usd_Cu"] == pytest.approx(y["rc_cu_kusd"] * 1e3, abs=USD_TOL)
    assert v["rc_usd_Au"] == pytest.approx(y["rc_au_kusd"] * 1e3, abs=USD_TOL)
    assert v["nsr_usd"] == pytest.approx(y["net_kusd"] * 1e3, abs=USD_TOL)


CU_STANDARD = PayableRule(grade_unit="%", payable_fraction=0.965, min_deduction=1.0)


@pytest.mark.parametrize("grade, payable", [
    (25.0, 24.0),     # 0.965·25 = 24.125 > 25 − 1 = 24: the 1-unit minimum deduction applies
    (20.0, 19.0),     # 19.3 > 19
    (30.0, 28.95),    # 28.95 < 29: the 3.5 % deduction (1.05 units) exceeds the minimum
    (28.571428571428573, 27.571428571428573),  # break-even 1/0.035: both give the same
    (0.5, 0.0),       # below one unit nothing is payable
])
def test_copper_payable_with_minimum_deduction(grade, payable):
    assert payable_grade(grade, CU_STANDARD) == pytest.approx(payable)


def test_payable_metal_vectorised_keeps_index():
    g = pd.Series([25.0, 20.0], index=["s1", "s2"])
    p = payable_metal(pd.Series([1000.0, 1000.0], index=g.index), g, CU_STANDARD)
    assert list(p.index) == ["s1", "s2"] and p.name == "payable_t"
    assert p.tolist() == pytest.approx([240.0, 190.0])


def test_gold_bands_and_unit_conversion():
    au = default_terms().payables["Au"]
    # below the first band: nothing; 2 g/t: min(0.9·2, 2 − 1) = 1; 12 g/t: min(0.975·12, 11)
    assert payable_grade(np.array([0.8, 2.0, 12.0]), au).tolist() == pytest.approx(
        [0.0, 1.0, 11.0])
    # a grade given in % is converted: 0.0012 % = 12 g/t
    assert payable_grade(0.0012, au, grade_unit="%") == pytest.approx(11.0)
    assert payable_grade(12.0, au, grade_unit="ppm") == pytest.approx(11.0)


def test_penalty_tiers_and_in_value():
    terms = default_terms()
    # As 0.2–0.5 %: US$3 per 0.1 %; above 0.5 %: US$6 per 0.1 %. At 0.7 % As on 1,000 dmt:
    # 3·(0.3/0.1) + 6·(0.2/0.1) = 9 + 12 = US$21/dmt -> US$21,000.
    assert penalty(1000.0, 0.7, terms, "As") == pytest.approx(21_000.0)
    assert penalty(1000.0, 0.15, terms, "As") == 0.0
    whole = terms.model_copy(update={"penalties": [
        p.model_copy(update={"pro_rata": False}) for p in terms.penalties]})
    assert penalty(1000.0, 0.45, whole, "As") == pytest.approx(6_000.0)  # 2 whole steps
    prices = {"Cu": 9000.0}
    v = concentrate_value(1000.0, {"Cu": 25.0, "As": 0.7}, terms, prices).iloc[0]
    assert v["penalties_usd"] == pytest.approx(21_000.0)
    assert v["nsr_usd"] == pytest.approx(v["gross_usd"] - v["tc_usd"] - v["rc_usd"] - 21_000.0)


def test_non_payable_element_counts_in_contained_value_only():
    terms = default_terms()
    v = concentrate_value(100.0, {"Cu": 25.0, "La": 0.1}, terms, {"Cu": 9000.0, "La": 2000.0},
                          grade_units={"La": "%"}).iloc[0]
    assert v["contained_value_usd_La"] == pytest.approx(100 * 0.001 * 2000.0)
    assert "payable_value_usd_La" not in v.index
    assert v["contained_value_usd"] == pytest.approx(v["contained_value_usd_Cu"] + 200.0)


# --- assay exchange --------------------------------------------------------------------------

def test_splitting_limit_check_absolute_and_banded():
    cu = default_terms().splitting_limits["Cu"]           # 0.20 % absolute
    assert splitting_limit_check(25.10, 25.00, cu) == pytest.approx(25.05)
    assert splitting_limit_check(25.20, 25.00, cu) == pytest.approx(25.10)  # at the limit: split
    assert splitting_limit_check(25.30, 25.00, cu) == "umpire"
    assert splitting_limit_check(25.30, 25.00, 0.5) == pytest.approx(25.15)  # plain number
    au = default_terms().splitting_limits["Au"]           # 0.20 g/t below 10 g/t, 4 % above
    assert splitting_limit_check(5.0, 5.3, au) == "umpire"
    assert splitting_limit_check(20.0, 20.7, au) == pytest.approx(20.35)  # 4 % of 20.35 = 0.81
    assert splitting_limit_check(20.0, 20.7, au, seller_weight=1.0) == pytest.approx(20.0)
    out = splitting_limit_check(pd.Series([25.1, 25.3], index=["a", "b"]),
                                pd.Series([25.0, 25.0], index=["a", "b"]), cu)
    assert out["a"] == pytest.approx(25.05) and out["b"] == "umpire"


@pytest.mark.parametrize("rule, umpire, final", [
    ("mean_umpire_nearer", 25.25, (25.25 + 25.30) / 2),    # nearer = seller 25.30
    ("mean_umpire_nearer", 25.40, (25.40 + 25.30) / 2),    # outside, still mean with nearer
    ("umpire_final", 25.40, 25.40),
    ("between_mean_else_nearer", 25.25, (25.25 + 25.30) / 2),
    ("between_mean_else_nearer", 25.40, 25.30),            # outside -> nearer party
    ("between_mean_else_umpire", 25.40, 25.40),            # outside -> umpire
    ("mean_umpire_nearer", 25.15, 25.15),                  # exactly mid-way -> umpire
])
def test_umpire_rules(rule, umpire, final):
    assert umpire_settle(25.30, 25.00, umpire, rule) == pytest.approx(final)


def test_assay_exchange_table():
    cu = default_terms().splitting_limits["Cu"]
    t = assay_exchange([25.1, 25.3, 25.6], [25.0, 25.0, 25.0], cu, umpire=[np.nan, 25.25, np.nan])
    assert t["within_limit"].tolist() == [True, False, False]
    assert t["final"].iloc[0] == pytest.approx(25.05)
    assert t["final"].iloc[1] == pytest.approx(25.275)
    assert np.isnan(t["final"].iloc[2]) and t["basis"].iloc[2] == "umpire pending"


# --- leakage ---------------------------------------------------------------------------------

def _ledger():
    idx = pd.Index(["s1", "s2", "s3", "s4"], name="shipment")
    declared = pd.DataFrame({"Cu": [24.0, 25.0, 22.0, 25.0], "Au": [3.0, 4.0, 5.0, 2.0]},
                            index=idx)
    control = pd.DataFrame({"Cu": [25.0, 25.0, 23.0, 25.0], "Au": [3.5, 4.0, 5.0, np.nan]},
                           index=idx)
    dmt = pd.Series([1000.0, 2000.0, 1500.0, 500.0], index=idx)
    return declared, control, dmt


def test_undeclared_value_and_lost_tax():
    declared, control, dmt = _ledger()
    terms = default_terms()
    prices = {"Cu": 9000.0, "Au": price_to_usd_per_t(2000.0, "USD/troy oz")}
    out = undeclared_value(declared, control, dmt, terms, prices, on_date="2024-06-30",
                           missing="declared")
    # s1: 1 % more Cu on 1,000 dmt = 10 t · 9,000 = US$90,000 contained; MET 8.55 % of it
    assert out.loc["s1", "undeclared_contained_usd_Cu"] == pytest.approx(90_000.0)
    au_usd = 1000 * 0.5 / 31.1034768 * 2000.0
    assert out.loc["s1", "undeclared_contained_usd_Au"] == pytest.approx(au_usd)
    assert out.loc["s1", "lost_tax_usd"] == pytest.approx(0.0855 * 90_000 + 0.075 * au_usd)
    assert out.loc["s2", "undeclared_nsr_usd"] == 0.0
    # payable Cu at 24 % vs 25 %: 23 % vs 24 % (1-unit minimum deduction) -> 10 t payable more
    assert out.loc["s1", "undeclared_nsr_usd"] == pytest.approx(
        10 * 9000.0 - 10 * price_to_usd_per_t(0.02125, "USD/lb")
        + (payable_grade(3.5, terms.payables["Au"]) - payable_grade(3.0, terms.payables["Au"]))
        * 1000 / 31.1034768 * (2000.0 - 5.0))
    assert out.loc["s4", "elements_not_checked"] == "Au"
    with pytest.raises(ValuationInputError, match=r"control_grades\['Au'\].*'s4'"):
        undeclared_value(declared, control, dmt, terms, prices, on_date="2024-06-30")


def test_aggregate_leakage_bootstrap_and_normal():
    rng = np.random.default_rng(0)
    per = pd.DataFrame({
        "exporter": ["A"] * 30 + ["B"] * 20 + ["C"],
        "laboratory": rng.choice(["L1", "L2"], 51),
        "date": pd.date_range("2024-01-01", periods=51, freq="7D"),
        "undeclared_nsr_usd": np.r_[rng.normal(5e4, 2e4, 30), rng.normal(0, 1e4, 20), 1e5],
        "lost_tax_usd": np.r_[rng.normal(4e3, 1e3, 30), rng.normal(0, 1e3, 20), 8e3],
    })
    a = aggregate_leakage(per, "exporter", random_state=1)
    b = aggregate_leakage(per, "exporter", random_state=1)
    pd.testing.assert_frame_equal(a, b)  # seeded: reproducible
    ra = a.set_index("exporter")
    assert ra.loc["A", "n_shipments"] == 30
    assert ra.loc["A", "undeclared_nsr_usd"] == pytest.approx(
        per.loc[per.exporter == "A", "undeclared_nsr_usd"].sum())
    assert ra.loc["A", "undeclared_nsr_usd_lo"] < ra.loc["A", "undeclared_nsr_usd"] < ra.loc[
        "A", "undeclared_nsr_usd_hi"]
    assert ra.loc["B", "lost_tax_usd_lo"] < 0 < ra.loc["B", "lost_tax_usd_hi"]
    assert np.isnan(ra.loc["C", "lost_tax_usd_lo"])  # one shipment: no interval
    n = aggregate_leakage(per, "exporter", method="normal").set_index("exporter")
    # the two intervals agree roughly for 30 near-normal values
    assert n.loc["A", "undeclared_nsr_usd_hi"] == pytest.approx(
        ra.loc["A", "undeclared_nsr_usd_hi"], rel=0.05)
    p = aggregate_leakage(per, ["period"], period_freq="Q", random_state=0)
    assert p["period"].tolist()[0] == "2024Q1" and p["n_shipments"].sum() == 51
    lab = aggregate_leakage(per, ["exporter", "laboratory"], random_state=0)
    assert lab["n_shipments"].sum() == 51


# --- bad input -------------------------------------------------------------------------------

def test_bad_inputs_name_the_field():
    with pytest.raises(ValuationInputError, match="dry_tonnes: must be non-negative") as e:
        contained_metal(-5.0, 25.0, "%")
    assert e.value.field == "dry_tonnes"
    with pytest.raises(ValuationInputError, match="moisture_pct: 120 is above 100"):
        dry_tonnes(1000.0, 120.0)
    with pytest.raises(ValuationInputError, match="moisture_pct"):
        dry_tonnes(1000.0, 100.0)
    assert dry_tonnes(1000.0, 8.0) == pytest.approx(920.0)
    with pytest.raises(ValuationInputError, match="grade: 250000 is above 100"):
        contained_metal(10.0, 250_000.0, "%")  # ppm given where % is declared
    # gold declared in g/t but given in ppb: above the terms' plausible maximum
    with pytest.raises(ValuationInputError, match=r"grade Au: 12000 is above 1000 g/t.*max_grade"):
        concentrate_value(10.0, {"Cu": 25.0, "Au": 12_000.0}, default_terms(),
                          {"Cu": 9000.0, "Au": 6e7})
    with pytest.raises(ValuationInputError, match="grade_unit"):
        contained_metal(10.0, 5.0, "oz/t")
    with pytest.raises(ValuationInputError, match=r"grade Cu: missing value.*'b'"):
        concentrate_value(pd.Series([1.0, 2.0], index=["a", "b"]),
                          {"Cu": pd.Series([25.0, np.nan], index=["a", "b"])},
                          default_terms(), {"Cu": 9000.0})
    with pytest.raises(ValuationInputError, match=r"prices_usd_per_t\['Au'\]"):
        concentrate_value(10.0, {"Cu": 25.0, "Au": 3.0}, default_terms(), {"Cu": 9000.0})
    with pytest.raises(ValuationInputError, match="recovery"):
        ore_to_concentrate(1e6, 1.0, 87.0, 25.0)  # recovery in % instead of a fraction
    with pytest.raises(ValuationInputError, match="limits"):
        splitting_limit_check(25.0, 25.1, -1.0)


def test_undeclared_from_pairs_values_each_element_set_on_its_own():
    """A copper shipment and a gold-ore shipment in one ledger: each is valued on its own
    elements (nothing filled in), and an element without a price is reported, not zeroed."""
    from critmin.oversight.terms import default_terms
    from critmin.oversight.valuation import undeclared_from_pairs, undeclared_value
    pairs = pd.DataFrame([
        ("S1", "E1", "L1", "Cu", 25.0, 26.0), ("S2", "E2", "L2", "Au", 5.0, 6.0),
        ("S2", "E2", "L2", "TREO", 1.0, 1.2)],
        columns=["shipment_id", "exporter_id", "laboratory_id", "element", "declared",
                 "control"])
    ships = pd.DataFrame({"shipment_id": ["S1", "S2"], "exporter_id": ["E1", "E2"],
                          "dry_t": [100.0, 50.0],
                          "date": pd.to_datetime(["2024-03-01", "2024-04-01"])})
    prices = {"Cu": 9_000.0, "Au": 2_000.0 / 0.0311034768 * 1000}
    units = {"Cu": "%", "Au": "g/t", "TREO": "%"}
    per, unpriced = undeclared_from_pairs(pairs, ships, default_terms(), prices, units)
    assert unpriced == {"TREO"}
    assert list(per.index) == ["S1", "S2"] and list(per["laboratory_id"]) == ["L1", "L2"]
    # each row equals a direct call on that shipment's own elements
    one = undeclared_value(pd.DataFrame({"Au": [5.0]}, index=["S2"]),
                           pd.DataFrame({"Au": [6.0]}, index=["S2"]),
                           pd.Series([50.0], index=["S2"]), default_terms(), {"Au": prices["Au"]},
                           on_date=pd.Series(pd.to_datetime(["2024-04-01"]), index=["S2"]),
                           grade_units={"Au": "g/t"})
    assert per.loc["S2", "undeclared_nsr_usd"] == pytest.approx(
        one.loc["S2", "undeclared_nsr_usd"], rel=1e-12)
    assert per.loc["S1", "undeclared_nsr_usd"] > 0  # 1 unit of Cu more at control
