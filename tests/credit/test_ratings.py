"""PD -> rating: the bundled scale's bands, the lookup and the table's checks."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.credit.ratings import (available_scales, describe_scale, load_scale, rating_for_pd,
                                    scale_table)
from critmin.errors import DataFileError


def test_bundled_scales():
    assert set(available_scales()) == {"moodys_idealised_1y", "moodys_warf_implied_1y",
                                       "moodys_warf_10y", "moodys_hist_1920_2009_1y",
                                       "moodys_hist_1970_2012_1y", "moodys_hist_1970_2012_10y"}
    s = load_scale()
    assert s.name == "moodys_warf_implied_1y" and s.horizon_years == 1
    t = scale_table(s)
    assert list(t["moodys"][:3]) == ["Aaa", "Aa1", "Aa2"] and list(t["moodys"][-2:]) == ["Ca", "C"]
    assert (t["pd_max"] > t["pd_min"]).iloc[:-1].all()


@pytest.mark.parametrize("pd, moodys, sp", [
    (0.0, "Aaa", "AAA"), (0.0017, "Baa2", "BBB"), (0.0042, "Baa3", "BBB-"),
    (0.0716, "B2", "B"), (0.05789, "B2", "B"), (0.05788, "B1", "B+"), (0.127, "B3", "B-"),
    (0.6, "Caa3", "CCC-"), (0.9, "Ca", "CC"), (1.0, "C", "C"),
])
def test_idealised_one_year_bands(pd, moodys, sp):
    # B2 covers [5.789%, 9.121%): geometric midpoints of 4.68/7.16/11.62% (notes §2.2)
    s = load_scale("moodys_idealised_1y")
    assert rating_for_pd(pd, s) == moodys
    assert rating_for_pd(pd, s, agency="sp_fitch") == sp


@pytest.mark.parametrize("name", ["moodys_idealised_1y", "moodys_warf_implied_1y"])
def test_each_reference_pd_maps_to_its_own_grade(name):
    s = load_scale(name)
    t = s.table.dropna(subset=["pd_ref"])
    np.testing.assert_array_equal(rating_for_pd(t["pd_ref"].to_numpy(), s), t["moodys"])
    w = load_scale("moodys_warf_10y")
    assert rating_for_pd(0.036, w) == "Baa2" and rating_for_pd(0.272, w) == "B2"


def test_describe_scale_names_the_mapping_and_source():
    assert "Unverified" not in describe_scale()     # the default scale is fully sourced
    text = describe_scale(load_scale("moodys_idealised_1y"))
    assert "moodys_idealised_1y" in text and "Source:" in text and "B2" in text
    assert "5.7887%" in text           # sqrt(4.68% x 7.16%)
    assert "Unverified" in text and "B2" in text.split("Unverified")[1]


def test_bad_pd_and_agency():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rating_for_pd(1.2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rating_for_pd(float("nan"))
    with pytest.raises(ValueError, match="agency"):
        rating_for_pd(0.1, agency="fitch")


def test_replaceable_table_and_its_checks(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text("scale,horizon_years,moodys,sp_fitch,pd_ref,pd_min,provenance,source\n"
                    "two,1,Good,G,0.01,0,mine,me\nBad,B,B,B,0.2,0.05,mine,me\n".replace(
                        "Bad,B,B,B", "two,1,Bad,B"))
    s = load_scale("two", path=good)
    assert rating_for_pd([0.01, 0.5], s).tolist() == ["Good", "Bad"] and s.source == "me"
    with pytest.raises(DataFileError, match="no scale 'three'"):
        load_scale("three", path=good)
    bad = tmp_path / "bad.csv"
    bad.write_text("scale,horizon_years,moodys,sp_fitch,pd_ref,pd_min,provenance,source\n"
                   "x,1,A,A,0.01,0,p,s\nx,1,B,B,0.2,0,p,s\n")
    with pytest.raises(DataFileError, match=r"line 3, field 'pd_min'"):
        load_scale("x", path=bad)
    short = tmp_path / "short.csv"
    short.write_text("scale,moodys\nx,A\n")
    with pytest.raises(DataFileError, match="field 'horizon_years'"):
        load_scale("x", path=short)


# --- provenance of the bundled table --------------------------------------------------------

# hsbc/pyratings README.md (commit 0f1636cb), long-term translation table: Moody's grade,
# S&P equivalent, rating factor (WARF) and MinWARF (inclusive band edge).
PYRATINGS = [("Aaa", "AAA", 1, 1), ("Aa1", "AA+", 10, 5), ("Aa2", "AA", 20, 15),
             ("Aa3", "AA-", 40, 30), ("A1", "A+", 70, 55), ("A2", "A", 120, 95),
             ("A3", "A-", 180, 150), ("Baa1", "BBB+", 260, 220), ("Baa2", "BBB", 360, 310),
             ("Baa3", "BBB-", 610, 485), ("Ba1", "BB+", 940, 775), ("Ba2", "BB", 1350, 1145),
             ("Ba3", "BB-", 1766, 1558), ("B1", "B+", 2220, 1993), ("B2", "B", 2720, 2470),
             ("B3", "B-", 3490, 3105), ("Caa1", "CCC+", 4770, 4130),
             ("Caa2", "CCC", 6500, 5635), ("Caa3", "CCC-", 8070, 7285),
             ("Ca", "CC", 9998, 9034), ("C", "C", 9999, 9998.5)]
# Moody's average cumulative default rates (%), by letter grade Aaa, Aa, A, Baa, Ba, B, Caa-C:
# 1920-2009 issuer-weighted, 1 year, as quoted by Falkenblog (Aug 2011); 1970-2012, 1 and 10
# years, Hull's table as quoted by leetquiz (FRM part 2, Q.3051).
HISTORICAL = {"moodys_hist_1920_2009_1y": [0.00, 0.07, 0.09, 0.29, 1.36, 4.03, 14.28],
              "moodys_hist_1970_2012_1y": [0.000, 0.022, 0.063, 0.177, 1.112, 4.051, 16.448],
              "moodys_hist_1970_2012_10y": [0.503, 0.922, 2.480, 4.740, 19.708, 41.947,
                                            69.483]}


def _table():
    import pandas as pd
    from critmin.credit.ratings import DEFAULT_PATH
    return pd.read_csv(DEFAULT_PATH)


def test_every_row_has_a_source_and_a_tagged_provenance():
    from critmin.credit.ratings import PROVENANCE_TAGS
    t = _table()
    assert t["source"].str.strip().str.len().gt(20).all()
    tags = t["provenance"].str.split(":").str[0].str.strip()
    assert set(tags) <= set(PROVENANCE_TAGS), set(tags) - set(PROVENANCE_TAGS)


@pytest.mark.parametrize("name", ["moodys_idealised_1y", "moodys_warf_implied_1y",
                                  "moodys_warf_10y", *HISTORICAL])
def test_scales_are_monotone(name):
    t = load_scale(name).table
    ref = t["pd_ref"].dropna().to_numpy(float)
    assert (np.diff(ref) > 0).all()
    assert (np.diff(t["pd_min"].to_numpy(float)) > 0).all()
    # each reference PD lies in its own band (Ca has none: no published 1-year rate)
    np.testing.assert_array_equal(rating_for_pd(ref, load_scale(name)),
                                  t.dropna(subset=["pd_ref"])["moodys"])


def test_warf_scale_equals_pyratings_table():
    # every number of the 10-year scale is read from the pyratings README: exact equality
    # (pd = factor / 10,000; Aaa's band starts at 0 by design instead of MinWARF 1)
    t = load_scale("moodys_warf_10y").table
    assert list(zip(t["moodys"], t["sp_fitch"])) == [(m, s) for m, s, _, _ in PYRATINGS]
    np.testing.assert_allclose(t["pd_ref"], [f / 1e4 for _, _, f, _ in PYRATINGS], rtol=1e-12)
    np.testing.assert_allclose(t["pd_min"][1:], [lo / 1e4 for *_, lo in PYRATINGS[1:]],
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["moodys_idealised_1y", "moodys_warf_implied_1y"])
def test_sp_fitch_equivalents_match_pyratings_on_every_scale(name):
    eq = {m: s for m, s, _, _ in PYRATINGS}
    t = load_scale(name).table
    assert dict(zip(t["moodys"], t["sp_fitch"])) == eq


# --- the default scale: one-year PDs implied by the 10-year rating factors -----------------

def test_default_scale_is_fully_sourced():
    from critmin.credit.ratings import DEFAULT_SCALE
    s = load_scale()
    assert s.name == DEFAULT_SCALE == "moodys_warf_implied_1y" and s.unverified == []
    tags = s.table["provenance"].str.split(":").str[0].str.strip()
    assert set(tags) == {"derived"}
    # every row names the two sources its figures come from
    assert s.table["source"].str.contains("hsbc/pyratings README.md").all()
    assert s.table["source"].str.contains("donglianglarryyi.blogspot.com").all()


def test_implied_one_year_scale_equals_constant_hazard_of_pyratings_factors():
    # recomputed here from the pyratings numbers typed above (not from the CSV's 10-year
    # scale): pd_1y = 1 - (1 - RF/10,000)^(1/10), written as -expm1(log1p(-RF/1e4)/10) because
    # the plain form loses ~1e-12 of Aaa's 1e-5 to cancellation; rtol 1e-12 is round-off only
    t = load_scale("moodys_warf_implied_1y").table
    assert list(zip(t["moodys"], t["sp_fitch"])) == [(m, s) for m, s, _, _ in PYRATINGS]
    one_year = lambda rf: -np.expm1(np.log1p(-rf / 1e4) / 10)
    np.testing.assert_allclose(t["pd_ref"], [one_year(f) for _, _, f, _ in PYRATINGS],
                               rtol=1e-12, atol=0)
    assert t["pd_min"].iloc[0] == 0          # design, like the 10-year scale's Aaa
    np.testing.assert_allclose(t["pd_min"][1:], [one_year(lo) for *_, lo in PYRATINGS[1:]],
                               rtol=1e-12, atol=0)
    # hand check: B2's factor 2720 -> 1 - 0.728^0.1 = 3.1247%; Baa2's 360 -> 0.3660%
    assert t.set_index("moodys").loc["B2", "pd_ref"] == pytest.approx(0.031247, abs=5e-7)
    assert t.set_index("moodys").loc["Baa2", "pd_ref"] == pytest.approx(0.003660, abs=5e-7)


@pytest.mark.parametrize("pd", [0.0, 1e-6, 3e-4, 0.0017, 0.0042, 0.0312, 0.0716, 0.15, 0.3, 0.59,
                                1.0])
def test_implied_one_year_grade_equals_the_ten_year_grade(pd):
    # the conversion is monotone, so a 1-year PD grades as its 10-year constant-hazard
    # compound does on the rating-factor scale (same grade, exactly)
    ten = 1 - (1 - pd) ** 10
    assert rating_for_pd(pd) == rating_for_pd(ten, load_scale("moodys_warf_10y"))


def test_constant_hazard_bias_against_the_idealised_anchors():
    # the two idealised figures found in a source: constant hazard overstates Baa2/Baa3 ...
    d = load_scale().table.set_index("moodys")["pd_ref"]
    ideal = load_scale("moodys_idealised_1y").table.set_index("moodys")["pd_ref"]
    assert d["Baa2"] > ideal["Baa2"] and d["Baa3"] > ideal["Baa3"]
    # ... and understates speculative grades against the historical one-year rate (Moody's
    # 1970-2012 B: 4.051%; B2's implied 3.12% is below it), so a PD grades worse by default
    assert d["B2"] < 0.04051
    assert rating_for_pd(0.0716) == "Caa1" and rating_for_pd(0.0716, load_scale(
        "moodys_idealised_1y")) == "B2"


@pytest.mark.parametrize("name", list(HISTORICAL))
def test_historical_scales_equal_the_published_rates(name):
    t = load_scale(name).table
    assert list(t["moodys"]) == ["Aaa", "Aa", "A", "Baa", "Ba", "B", "Caa-C"]
    assert list(t["sp_fitch"]) == ["AAA", "AA", "A", "BBB", "BB", "B", "CCC/C"]
    # read from the CSV, compared with the published percentages: equal to float rounding
    np.testing.assert_allclose(t["pd_ref"] * 100, HISTORICAL[name], rtol=0, atol=1e-12)
    assert load_scale(name).horizon_years == (10 if name.endswith("10y") else 1)


def test_idealised_baa_and_historical_comparison():
    ideal = load_scale("moodys_idealised_1y").table.set_index("moodys")
    # Baa2 0.17% and Baa3 0.42%: the two idealised 1-year figures found in a public file
    assert ideal.loc["Baa2", "pd_ref"] == 0.0017 and ideal.loc["Baa3", "pd_ref"] == 0.0042
    # the same PD grades better on the historical scale: B2's idealised 7.16% is Caa-C there
    # only above 7.59% (sqrt(4.03% x 14.28%)), so it maps to B
    assert rating_for_pd(0.0716, load_scale("moodys_hist_1920_2009_1y")) == "B"


def test_unverified_rows_are_kept_marked_and_listed():
    s = load_scale("moodys_idealised_1y")
    assert s.unverified == [g for g in s.table["moodys"]
                            if g not in ("Baa2", "Baa3", "Ca", "C")]
    assert load_scale("moodys_warf_10y").unverified == []
    for name in HISTORICAL:
        assert load_scale(name).unverified == []


def test_row_without_source_is_refused(tmp_path):
    bad = tmp_path / "nosource.csv"
    bad.write_text("scale,horizon_years,moodys,sp_fitch,pd_ref,pd_min,provenance,source\n"
                   "x,1,A,A,0.01,0,pub: p,s\nx,1,B,B,0.2,0.05,pub: p,\n")
    with pytest.raises(DataFileError, match=r"line 3, field 'source'"):
        load_scale("x", path=bad)
