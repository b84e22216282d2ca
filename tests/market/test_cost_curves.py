"""The shipped cost curves (cost_curves.csv) against the figures they cite, their band widths
against World Mining Data, and the loss-making share in closed form."""

from __future__ import annotations

import pytest

from critmin.market import build

OZ_PER_T = 32150.7466          # troy ounces per tonne (1 oz = 31.1034768 g)
LB_PER_T = 2204.62262          # pounds per tonne (1 lb = 0.45359237 kg)

# (commodity, band) -> (low, high) as published (high None: an assumption, not checked), and
# USD/t per the source's unit
CITED = {
    # Implats FY2025 unit cost guidance, USD per 6E oz (rough-polished.expert news 138314)
    ("palladium", "southern_africa"): (1174, 1230, OZ_PER_T),
    ("platinum", "southern_africa"): (1174, 1230, OZ_PER_T),
    # Sibanye-Stillwater US PGM AISC, USD per 2E oz: Q3 2024 and Q3 2023 (min-met.com)
    ("palladium", "north_america"): (1274, 1922, OZ_PER_T),
    ("platinum", "north_america"): (1274, 1922, OZ_PER_T),
    # MP Materials NdPr oxide cost: USD 40/kg target, 'slightly north of USD 60/kg' Q1 2025
    ("rare_earths", "usa_mountain_pass"): (40, 60, 1000.0),
    # Antofagasta Q4 2024 production report: net cash cost 1.23 (Q4) and 1.64 (FY) USD/lb
    ("copper", "low_net_cash"): (1.23, 1.64, LB_PER_T),
    # ... cash costs before by-product credits 2.01 (Q4) and 2.37 (FY) USD/lb
    ("copper", "before_credits"): (2.01, 2.37, LB_PER_T),
    # ronin8 cobalt note: DRC hydroxide opex 2.50 USD/lb Co; refinery net 9.15 USD/lb Co
    ("cobalt", "drc_copper_cobalt"): (2.50, None, LB_PER_T),
    ("cobalt", "refined_rest"): (9.15, None, LB_PER_T),
    # S&P concentrate cash cost 2,529 USD/t LCE (2021); Thundersaid 12,500 USD/t for 10% IRR
    ("lithium", "hard_rock"): (2529, 12500, 1.0),
}


@pytest.mark.parametrize("key", sorted(CITED))
def test_curve_figures_are_the_cited_ones(key):
    commodity, band = key
    lo, hi, per = CITED[key]
    c = build.load_cost_curve(commodity).set_index("band").loc[band]
    # the file stores USD/t rounded to the dollar: 0.5 USD/t is the only tolerance
    assert c["c1_low_usd_per_t"] == pytest.approx(lo * per, abs=0.5)
    if hi is not None:
        assert c["c1_high_usd_per_t"] == pytest.approx(hi * per, abs=0.5)
    # one company's figures standing for a whole band are flagged; MP Materials is the band
    assert "ILLUSTRATIVE" in c["source"] or band == "usa_mountain_pass"


def test_every_uncited_figure_is_marked_an_assumption():
    for commodity in ("copper", "cobalt", "lithium"):
        for _, r in build.load_cost_curve(commodity).iterrows():
            if (commodity, r["band"]) not in CITED or CITED[(commodity, r["band"])][1] is None:
                assert "[assumption]" in r["source"] or "ASSUMPTION" in r["basis"], r["band"]


@pytest.mark.parametrize("commodity,band,countries", [
    ("palladium", "russia_byproduct", ["RUS"]),
    ("palladium", "southern_africa", ["ZAF", "ZWE"]),
    ("platinum", "russia_byproduct", ["RUS"]),
    ("platinum", "southern_africa", ["ZAF", "ZWE"]),
    ("rare_earths", "china_chain", ["CHN", "MMR"]),
    ("rare_earths", "usa_mountain_pass", ["USA"]),
])
def test_curve_shares_are_wmd_2024_shares(con, commodity, band, countries):
    """Band widths are the World Mining Data 2024 shares of the countries they stand for; the
    file rounds the cumulative shares to 0.005, so each width is within 0.01."""
    prod = build.base_inputs(con, commodity, 2024)["production"]
    c = build.load_cost_curve(commodity).set_index("band").loc[band]
    width = c["cumulative_share_to"] - c["cumulative_share_from"]
    assert width == pytest.approx(prod.reindex(countries).sum() / prod.sum(), abs=0.01)


def test_curve_loss_share_closed_form():
    """L(p) with C1 uniform within a band: at the middle of the southern-Africa Pd band half of
    that band and all of the North-America band are loss-making."""
    curve = build.load_cost_curve("palladium").set_index("band")
    p = 0.5 * (1174 + 1230) * OZ_PER_T
    sa, na = curve.loc["southern_africa"], curve.loc["north_america"]
    want = (0.5 * (sa["cumulative_share_to"] - sa["cumulative_share_from"])
            + (na["cumulative_share_to"] - na["cumulative_share_from"]))
    assert build.loss_making_share(curve.reset_index(), p) == pytest.approx(want, abs=1e-3)
