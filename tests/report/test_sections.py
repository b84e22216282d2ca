"""The brief's sections show the numbers of the warehouse and of the models: each figure is
checked against an independent computation (direct SQL on the warehouse, a textbook relation,
or the planted truth of the synthetic ledger)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy.stats import norm

from critmin.credit import load_scenario as load_price_scenario
from critmin.market.scenario import load_scenario
from critmin.report import credit, flows, oversight, scenarios, supply
from critmin.report.build import split_scenarios
from critmin.errors import CritminError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXACT = 1e-9  # same figures summed in another order (SQL vs pandas): rounding only


def _trace(chart, name):
    (t,) = [t for t in chart.figure.data if t.name == name]
    return t


@pytest.fixture(scope="module")
def supply_section(con):
    return supply.section(con)


def _chart(section, key):
    (c,) = [c for c in section.charts if c.key == key]
    return c


def _numeric(values) -> bool:
    return values is not None and len(values) > 0 and not isinstance(values[0], str)


def _check_chart(c):
    assert c.source and any(str(y) in c.source for y in range(2015, 2026)), c.key
    assert c.figure.layout.title.text, c.key
    for axis, attr in (("x", c.figure.layout.xaxis), ("y", c.figure.layout.yaxis)):
        title = attr.title.text or ""
        if title != "year" and _numeric(getattr(c.figure.data[0], axis)):  # years need none
            assert "(" in title and ")" in title, f"{c.key}: {axis} axis {title!r} has no unit"


def test_every_chart_names_its_source_and_units(supply_section, flows_section,
                                                scenario_section, oversight_section):
    charts = [c for s in (supply_section, flows_section, scenario_section[1],
                          oversight_section) for c in s.charts]
    assert len(charts) >= 14
    for c in charts:
        _check_chart(c)


def test_hhi_lines_equal_sql(con, supply_section):
    # HHI = Σ q² / (Σ q)² straight from the World Mining Data rows
    rows = con.execute("""
        SELECT year, sum(quantity * quantity) / (sum(quantity) * sum(quantity))
        FROM production WHERE source = 'wmd' AND commodity = 'nickel' AND quantity > 0
        GROUP BY year ORDER BY year""").fetchall()
    t = _trace(_chart(supply_section, "hhi"), "Nickel")
    assert list(t.x) == [r[0] for r in rows]
    assert list(t.y) == pytest.approx([r[1] for r in rows], rel=EXACT)
    assert len(_chart(supply_section, "hhi").figure.data) == len(supply.DEFAULT_COMMODITIES)


def test_governance_weighted_hhi_equals_sql(con, supply_section):
    # Σ s² · clip(2 · (2.5 − PV), 0, 10) over producers with a PV estimate (EU CRM 2017 scale)
    (want,) = con.execute("""
        WITH p AS (SELECT country, quantity / sum(quantity) OVER () AS s FROM production
                   WHERE source = 'wmd' AND commodity = 'cobalt' AND year = 2022
                     AND quantity > 0)
        SELECT sum(s * s * greatest(0, least(10, 2 * (2.5 - g.value))))
        FROM p JOIN governance g ON g.country = p.country AND g.year = 2022
             AND g.indicator = 'PV.EST' AND g.value IS NOT NULL""").fetchone()
    t = _trace(_chart(supply_section, "gov-hhi"), "Cobalt")
    assert dict(zip(t.x, t.y))[2022] == pytest.approx(want, rel=EXACT)


def test_producer_shares_equal_sql(con, supply_section):
    chart = _chart(supply_section, "producer-shares")
    (year,) = con.execute("SELECT max(year) FROM production WHERE source = 'wmd' AND "
                          "commodity = 'palladium'").fetchone()
    top = con.execute("""
        SELECT country, quantity / sum(quantity) OVER () FROM production
        WHERE source = 'wmd' AND commodity = 'palladium' AND year = ?
        ORDER BY quantity DESC LIMIT 2""", [year]).fetchall()
    row = list(chart.figure.data[0].y).index(f"Palladium {year}")
    for rank, (iso3, share) in enumerate(top):
        t = _trace(chart, f"producer no. {rank + 1}")
        assert t.text[row] == iso3
        assert t.x[row] == pytest.approx(share, rel=EXACT)
    # the stacked segments of each bar add up to the whole world output
    total = sum(t.x[row] for t in chart.figure.data)
    assert total == pytest.approx(1.0, rel=EXACT)


def test_geopolrisk_bars_are_the_corrected_scores(supply_section):
    chart = _chart(supply_section, "geopolrisk")
    assert [t.name for t in chart.figure.data] == list(supply.IMPORTERS)
    for t in chart.figure.data:
        y = [v for v in t.y if v is not None and not math.isnan(v)]
        assert all(0.0 <= v <= 1.0 for v in y), t.name  # HHI × import risk, both in 0..1


@pytest.fixture(scope="module")
def flows_section(con):
    return flows.section(con, supply.DEFAULT_COMMODITIES)


def test_largest_shift_equals_sql(con, flows_section):
    chart = _chart(flows_section, "shifts")
    # largest absolute change of bilateral value over the commodities' HS codes, 2021 -> 2024
    rows = con.execute("""
        WITH v AS (
          SELECT h.commodity, t.exporter, t.importer,
                 sum(CASE WHEN t.year = 2024 THEN t.value_usd ELSE 0 END)
               - sum(CASE WHEN t.year = 2021 THEN t.value_usd ELSE 0 END) AS change
          FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6
          WHERE t.source = 'baci' AND t.year IN (2021, 2024)
            AND h.commodity IN (SELECT unnest(?))
          GROUP BY ALL)
        SELECT commodity, exporter, importer, change FROM v ORDER BY abs(change) DESC
        LIMIT 15""", [list(supply.DEFAULT_COMMODITIES)]).fetchall()
    bars = {y: x for t in chart.figure.data for y, x in zip(t.y, t.x)}
    assert len(bars) == len(rows) == flows.TOP_SHIFTS
    names = {k: k.replace("_", " ").capitalize() for k in supply.DEFAULT_COMMODITIES}
    for commodity, exp, imp, change in rows:
        label = f"{exp} → {imp} ({names[commodity]})"
        assert bars[label] == pytest.approx(change / 1e6, rel=EXACT), label


def test_russian_palladium_share_to_china_equals_sql(con, flows_section):
    (want,) = con.execute("""
        SELECT sum(value_usd) FILTER (WHERE importer = 'CHN') / sum(value_usd)
        FROM trade WHERE source = 'baci' AND exporter = 'RUS' AND year = 2024
          AND hs6 IN ('711021', '711029')""").fetchone()
    t = _trace(_chart(flows_section, "destinations-palladium"), "CHN")
    assert dict(zip(t.x, t.y))[2024] == pytest.approx(want, rel=EXACT)
    assert want > 0.15  # the re-routing the section is about: 5.6 % in 2021


def _market_files():
    return [(p, load_scenario(p)) for p in sorted((EXAMPLES / "scenarios").glob("*.yaml"))
            if p.name != "nickel_palladium_shock.yaml"]


@pytest.fixture(scope="module")
def scenario_section(con):
    runs = scenarios.run_scenarios(con, _market_files(), draws=200, seed=3)
    return runs, scenarios.section(con, runs)


def test_nornickel_price_band_matches_the_textbook_rise(con, scenario_section):
    runs, sec = scenario_section
    chart = _chart(sec, "price-bands")
    base, shocked = chart.figure.data[0], chart.figure.data[1]
    label = "nornickel nickel guidance 2025"
    i = list(shocked.y).index(label)
    # base price: the World Bank Pink Sheet nickel average of 2025, straight from SQL
    (p0,) = con.execute("SELECT avg(price) FROM prices WHERE source = 'wb_pink_sheet' AND "
                        "series = 'NICKEL' AND year(period) = 2025").fetchone()
    assert base.x[i] == pytest.approx(p0, rel=EXACT)
    # a cut of share s: p*/p0 = (1 − s)^(−1/(ε − η)) (notes/market.md §1.1), at the priors'
    # modes ε = 0.2, η = −0.125 (symmetric triangles, so the median draw sits there); world
    # output = WMD 2024 nickel. Tolerance 5e-4 of the price: the median of a ratio of draws is
    # not exactly the ratio at the modes, and capacity caps bind for a few steps.
    (world,) = con.execute("SELECT sum(quantity) FROM production WHERE source = 'wmd' AND "
                           "commodity = 'nickel' AND year = 2024").fetchone()
    s = 7500 / world
    assert shocked.x[i] == pytest.approx(p0 * (1 - s) ** (-1 / 0.325), rel=5e-4)
    lo, hi = shocked.customdata[i]
    assert lo <= shocked.x[i] <= hi


def test_every_market_scenario_runs(scenario_section):
    """PGM and rare-earth curves and the bloc solver (issue 4) run all five example scenarios;
    the bilateral ones report a price per bloc next to the world-price row the chart reads."""
    runs, sec = scenario_section
    assert {r.path.name for r in runs if r.error} == set()
    ban = {r.path.name: r for r in runs}["pgm_west_purchase_ban.yaml"]
    t = ban.table.set_index("metric")
    assert t.loc["price_usd_per_t:sanctioned", "shocked_P50"] < t.loc[
        "price_usd_per_t:rest", "shocked_P50"]


def test_exposure_share_equals_sql(con, scenario_section):
    _, sec = scenario_section
    chart = _chart(sec, "exposure-palladium")
    # extra-EU imports of palladium in 2024: Russia's share of their value
    (want,) = con.execute("""
        SELECT sum(t.value_usd) FILTER (WHERE t.exporter = 'RUS') / sum(t.value_usd)
        FROM trade t JOIN blocs b ON b.iso3 = t.importer AND b.bloc = 'EU27'
        WHERE t.source = 'baci' AND t.year = 2024 AND t.hs6 IN ('711021', '711029')
          AND t.exporter NOT IN (SELECT iso3 FROM blocs WHERE bloc = 'EU27')""").fetchone()
    t = _trace(chart, "RUS")
    assert dict(zip(t.y, t.x))["EU27"] == pytest.approx(want, rel=EXACT)
    for imp in scenarios.IMPORTERS:  # every importer's stack is its whole import bill
        assert sum(dict(zip(tr.y, tr.x))[imp] for tr in chart.figure.data) == \
            pytest.approx(1.0, rel=EXACT)


def test_reroute_table_marks_the_banned_buyers(scenario_section):
    _, sec = scenario_section
    (t,) = [t for t in sec.tables if t.title.startswith("Re-routing")]
    banned = dict(zip(t.frame["importer"], t.frame["buyer banned in the scenario"]))
    assert banned["GBR"] == "yes" and banned["CHN"] == "no" and banned["HKG"] == "no"


@pytest.fixture(scope="module")
def oversight_section(con):
    return oversight.section(con)


def test_oversight_is_labelled_synthetic(oversight_section):
    assert oversight_section.synthetic
    assert "SYNTHETIC" in oversight_section.title
    for c in oversight_section.charts:
        assert "SYNTHETIC" in c.figure.layout.title.text and "SYNTHETIC" in c.source


def test_planted_biases_are_shown_and_found(oversight_section):
    chart = _chart(oversight_section, "lab-bias")
    truth = dict(zip(*(_trace(chart, "Cu: planted true bias (synthetic)")[a]
                       for a in ("x", "y"))))
    # power_study_config plants 5, 15 and 40 % under-reporting: d = −ln(1 − u). Tolerance 0.01:
    # the truth is a mean of ln(true/declared) over the lab's shipments, which carries the
    # lab's own random assay error (1–2 %) averaged over tens of shipments
    for lab, u in {"L02": 0.05, "L03": 0.15, "L04": 0.40}.items():
        assert truth[lab] == pytest.approx(-math.log(1 - u), abs=0.01), lab
    est = _trace(chart, "Cu: estimate, 95 % interval")
    est = dict(zip(est.x, zip(est.y, est.error_y.array)))
    for lab in ("L03", "L04"):  # the interval covers the truth and excludes zero
        mean, half = est[lab]
        assert mean - half <= truth[lab] <= mean + half and mean - half > 0, lab
    (flagged,) = [t for t in oversight_section.tables if t.title.startswith("Laboratories")]
    assert set(flagged.frame["laboratory"]) == {"L03", "L04"}


def test_leakage_of_the_planted_labs_is_positive(oversight_section):
    chart = _chart(oversight_section, "leakage")
    nsr = _trace(chart, "under-declared value (NSR)")
    lo = {lab: y - m for lab, y, m in zip(nsr.x, nsr.y, nsr.error_y.arrayminus)}
    assert lo["L03"] > 0 and lo["L04"] > 0
    (table,) = [t for t in oversight_section.tables if t.title.startswith("Leakage")]
    assert table.frame["under-declared value (USD)"].iloc[0] == pytest.approx(
        sum(nsr.y), rel=EXACT)


def test_selection_spends_the_budget(oversight_section):
    chart = _chart(oversight_section, "selection")
    assert sum(sum(t.y) for t in chart.figure.data) == oversight.BUDGET


def test_credit_pd_is_normal_of_minus_distance_to_default():
    companies = sorted((EXAMPLES / "companies").glob("*.yaml"))
    scen = load_price_scenario(EXAMPLES / "scenarios" / "nickel_palladium_shock.yaml")
    sec = credit.section(companies, [scen])
    bars = _chart(sec, "pd-1y").figure
    (table,) = sec.tables
    f = table.frame.set_index(["company", "metric"])
    for when in ("before", "after"):
        t = [t for t in bars.data if t.name == f"structural, {when}"][0]
        for company, pd_ in zip(t.x, t.y):
            dd = f.loc[(company, "distance to default (1 y)"), when]
            # Merton (1974): PD = Φ(−DD) when DD uses the same drift as the PD (risk-neutral)
            assert pd_ == pytest.approx(norm.cdf(-dd), rel=1e-9), (company, when)
    nor = [t for t in bars.data if t.name == "structural, after"][0]
    before = [t for t in bars.data if t.name == "structural, before"][0]
    assert dict(zip(nor.x, nor.y))["MMC Norilsk Nickel (Nornickel)"] > \
        dict(zip(before.x, before.y))["MMC Norilsk Nickel (Nornickel)"]
    assert len(_chart(sec, "pd-term").figure.data) == 2 * len(companies)


def test_split_scenarios_sorts_market_and_price_files(tmp_path):
    market, price = split_scenarios(sorted((EXAMPLES / "scenarios").glob("*.yaml")))
    assert [p.name for p, _ in price] == ["nickel_palladium_shock.yaml"]
    assert len(market) == 6
    bad = tmp_path / "neither.yaml"
    bad.write_text("name: x\nfoo: 1\n")
    with pytest.raises(CritminError, match="neither.yaml.*neither a market scenario"):
        split_scenarios([bad])
