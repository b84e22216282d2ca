"""Apparent consumption (critmin.market.consumption) against direct SQL on the warehouse, its
errors and flags, and its place in `critmin shock` and `critmin market consumption`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import critmin.catalog
from critmin.catalog.commodities import content_factors
from critmin.cli import app
from critmin.market.consumption import apparent_consumption, consumption_from_warehouse
from critmin.market.model import MarketError

SCEN = Path(__file__).resolve().parents[2] / "examples" / "scenarios"
HS_CONTENT = Path(critmin.catalog.__file__).parent / "hs_content.csv"
runner = CliRunner()



def _sql_by_country(con, commodity: str, year: int) -> pd.DataFrame:
    """production, imports_t and exports_t per country straight from the warehouse tables and
    the raw catalog CSV: independent of the pandas code under test."""
    return con.execute(f"""
        WITH f AS (SELECT hs6::VARCHAR AS hs6, content FROM read_csv('{HS_CONTENT}',
                   all_varchar=true) WHERE commodity = ?),
        t AS (SELECT t.exporter, t.importer, t.quantity_t * f.content::DOUBLE AS c
              FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6 JOIN f ON f.hs6 = t.hs6
              WHERE t.source = 'baci' AND t.year = ? AND h.commodity = ?
                AND t.quantity_t IS NOT NULL AND t.exporter <> t.importer),
        p AS (SELECT country, sum(quantity) AS production FROM production WHERE source = 'wmd'
              AND measure = 'production' AND commodity = ? AND year = ? GROUP BY 1),
        i AS (SELECT importer AS country, sum(c) AS imports_t FROM t GROUP BY 1),
        e AS (SELECT exporter AS country, sum(c) AS exports_t FROM t GROUP BY 1)
        SELECT country, coalesce(production, 0) AS production, coalesce(imports_t, 0)
               AS imports_t, coalesce(exports_t, 0) AS exports_t
        FROM p FULL JOIN i USING (country) FULL JOIN e USING (country)""",
        [commodity, year, commodity, commodity, year]).df().set_index("country")


def test_nickel_2024_equals_direct_sql(con):
    table, notes = consumption_from_warehouse(con, "nickel", 2024)
    assert notes["year"] == 2024
    sql = _sql_by_country(con, "nickel", 2024)
    got = table.set_index("country")
    top = list(got.index[:3])
    neg = got.index[got["flags"].str.contains("negative")]
    assert len(neg) > 0     # ore re-exporters without mines: kept negative, flagged
    for c in [*top, neg[0]]:
        want = sql.loc[c, "production"] + sql.loc[c, "imports_t"] - sql.loc[c, "exports_t"]
        # float sums in two engines: 1e-9 relative
        assert got.loc[c, "apparent_consumption_t"] == pytest.approx(want, rel=1e-9, abs=1e-6)
        assert got.loc[c, "production_t"] == sql.loc[c, "production"]
    assert got.loc[neg[0], "apparent_consumption_t"] < 0
    # the only extra rows are countries whose every flow has unknown tonnes
    extra = got.loc[sorted(set(got.index) - set(sql.index))]
    assert set(sql.index) <= set(got.index)
    assert (extra["apparent_consumption_t"] == 0).all()
    assert (extra["flags"] == "unknown_quantities").all()


def test_world_identity_on_the_data_used(con):
    table, notes = consumption_from_warehouse(con, "nickel", 2024)
    sql = _sql_by_country(con, "nickel", 2024)
    world_p, world_i, world_e = sql[["production", "imports_t", "exports_t"]].sum()
    # BACI holds each flow once, as one exporter's export and one importer's import, so the
    # world mismatch is zero up to float summation (1e-9 relative)
    assert world_i == pytest.approx(world_e, rel=1e-9)
    assert world_i > 0
    assert table["apparent_consumption_t"].sum() == pytest.approx(
        world_p + world_i - world_e, rel=1e-12)
    assert notes["world_apparent_consumption_t"] == pytest.approx(world_p, rel=1e-9)


def test_content_unknown_code_raises():
    flows = pd.DataFrame({"hs6": ["261610", "711290"], "exporter": ["PER", "USA"],
                          "importer": ["CHN", "CHN"], "quantity_t": [100.0, 5.0],
                          "value_usd": [1e6, 1e5]})
    with pytest.raises(MarketError, match=r"silver: HS 711290 is content_unknown"):
        apparent_consumption(pd.Series({"MEX": 6000.0}), flows, content_factors(),
                             commodity="silver")


def test_content_unknown_in_the_warehouse_raises(con):
    # tin's only code, 260900, pools concentrates of 20-75% Sn: no factor holds
    with pytest.raises(MarketError, match=r"tin: HS 260900 is content_unknown"):
        consumption_from_warehouse(con, "tin", 2024)


def test_missing_production_and_code_without_factor_raise():
    flows = pd.DataFrame({"hs6": ["260400"], "exporter": ["PHL"], "importer": ["CHN"],
                          "quantity_t": [1000.0], "value_usd": [5e4]})
    f = content_factors()
    with pytest.raises(MarketError, match="nickel: no production"):
        apparent_consumption(pd.Series(dtype=float), flows, f, commodity="nickel")
    with pytest.raises(MarketError, match="production of CHN is missing"):
        apparent_consumption(pd.Series({"CHN": np.nan}), flows, f, commodity="nickel")
    with pytest.raises(MarketError, match="HS 999999 has no contained-nickel factor"):
        apparent_consumption(pd.Series({"PHL": 1.0}), flows.assign(hs6="999999"), f,
                             commodity="nickel")


def test_hub_and_unknown_tonnes_are_flagged_not_zeroed():
    fac = float(content_factors().query("hs6 == '260400' and commodity == 'nickel'")["content"]
                .iloc[0])
    flows = pd.DataFrame({"hs6": ["260400"] * 3, "exporter": ["PHL", "SGP", "PHL"],
                          "importer": ["SGP", "CHN", "JPN"],
                          "quantity_t": [1000.0, 3000.0, np.nan], "value_usd": [1.0, 2.0, 7.0]})
    t = apparent_consumption(pd.Series({"PHL": 400.0}), flows, content_factors(),
                             commodity="nickel").set_index("country")
    assert t.loc["SGP", "apparent_consumption_t"] == pytest.approx((1000 - 3000) * fac)
    assert t.loc["SGP", "flags"] == "negative"
    assert t.loc["JPN", "unknown_quantity_value_usd"] == 7.0
    assert t.loc["JPN", "flags"] == "unknown_quantities"
    assert t.loc["PHL", "apparent_consumption_t"] == pytest.approx(400 - 1000 * fac)


def test_cli_consumption_json(warehouse_copy, con):
    r = runner.invoke(app, ["market", "consumption", "nickel", "--year", "2024", "--top", "3",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["data"]) == 3
    sql = _sql_by_country(con, "nickel", 2024)
    first = out["data"][0]
    c = first["country"]
    assert first["apparent_consumption_t"] == pytest.approx(
        sql.loc[c, "production"] + sql.loc[c, "imports_t"] - sql.loc[c, "exports_t"], rel=1e-9)
    r = runner.invoke(app, ["market", "consumption", "tin", "--year", "2024"])
    assert r.exit_code != 0 and "260900" in r.output


def test_shock_reports_consumption_by_country(warehouse_copy, con):
    r = runner.invoke(app, ["shock", str(SCEN / "nornickel_nickel_guidance_2025.yaml"),
                            "--draws", "50", "--format", "json"])
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)["meta"]
    rows = meta["consumption_by_country"]
    assert len(rows) == 15
    assert "shocked world consumption / base world consumption" in meta["consumption_note"]
    base, _ = consumption_from_warehouse(con, "nickel", 2025)
    assert [x["country"] for x in rows] == list(base["country"][:15])
    ratios = {round(x["shocked_P50_t"] / x["base_apparent_consumption_t"], 12) for x in rows}
    # one world ratio for every country; a supply cut lowers what is consumed
    assert len(ratios) == 1 and ratios.pop() < 1


# --- dynamic mode: price path over the scenario's horizon --------------------------------------

def test_zero_shock_gives_a_flat_path_at_the_base_price(warehouse_copy, tmp_path):
    f = tmp_path / "flat.yaml"
    f.write_text("name: no shock over four quarters\ncommodity: nickel\nbase_year: 2024\n"
                 "horizon_periods: 4\nperiod: quarter\ndraws: 30\n")
    r = runner.invoke(app, ["shock", str(f), "--format", "json"])
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)["meta"]
    path = meta["price_path"]
    assert [p["period"] for p in path] == [1, 2, 3, 4]
    # nothing moves: every draw clears at the base price (solver tolerance, 1e-6 relative)
    for p in path:
        for q in ("P5", "P50", "P95"):
            assert p[q] == pytest.approx(meta["base_price_usd_per_t"], rel=1e-6)


def test_closures_move_the_path_after_the_scenarios_quarters(warehouse_copy):
    r = runner.invoke(app, ["shock", str(SCEN / "nickel_loss_making_2025.yaml"), "--draws", "20",
                            "--format", "json"])
    meta = json.loads(r.stdout)["meta"]
    path, p0 = meta["price_path"], meta["base_price_usd_per_t"]
    # the YAML closes producers after 3 quarters below C1: the first 3 quarters clear at p0
    # (no static shock), the 4th without the producers whose C1 is above p0
    assert [p["P50"] for p in path[:3]] == pytest.approx([p0] * 3, rel=1e-6)
    assert path[3]["P50"] > p0 * 1.05
    # exit in merit order stops once the price covers the marginal C1: the price stays far
    # below the choke (3.5 p0), less capacity closes than the 30 % loss-making band, and the
    # path does not cycle back to p0 (all-at-once closure did: choke, p0, p0, p0, choke)
    assert all(p0 * 1.05 < p["P50"] < 2 * p0 for p in path[3:])
    assert [p["closed_capacity_share_P50"] for p in path[:3]] == [0.0] * 3
    assert all(0 < p["closed_capacity_share_P50"] < 0.3 for p in path[3:])
