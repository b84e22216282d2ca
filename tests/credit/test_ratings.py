"""PD -> rating: the bundled scale's bands, the lookup and the table's checks."""

from __future__ import annotations

import numpy as np
import pytest

from critmin.credit.ratings import (available_scales, describe_scale, load_scale, rating_for_pd,
                                    scale_table)
from critmin.errors import DataFileError


def test_bundled_scales():
    assert {"moodys_idealised_1y", "moodys_warf_10y"} <= set(available_scales())
    s = load_scale()
    assert s.name == "moodys_idealised_1y" and s.horizon_years == 1
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
    assert rating_for_pd(pd) == moodys
    assert rating_for_pd(pd, agency="sp_fitch") == sp


def test_each_reference_pd_maps_to_its_own_grade():
    s = load_scale()
    t = s.table.dropna(subset=["pd_ref"])
    np.testing.assert_array_equal(rating_for_pd(t["pd_ref"].to_numpy(), s), t["moodys"])
    w = load_scale("moodys_warf_10y")
    assert rating_for_pd(0.036, w) == "Baa2" and rating_for_pd(0.272, w) == "B2"


def test_describe_scale_names_the_mapping_and_source():
    text = describe_scale()
    assert "moodys_idealised_1y" in text and "Source:" in text and "B2" in text
    assert "5.7890%" in text


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
