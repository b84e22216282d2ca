"""TREO valued as a rare-earth oxide basket: the price against Σ w·p computed in DuckDB SQL from
the warehouse prices table, the reported renormalisation, years with a missing oxide price, bad
basket files, and `critmin oversight value` on a ledger with rare-earth control assays."""

from __future__ import annotations

import csv
import json

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from critmin.cli import app
from critmin.errors import DataFileError
from critmin.oversight.prices import (default_basket_path, element_prices, load_treo_basket,
                                      treo_basket_price)

runner = CliRunner()

# Σ w·p / Σ w over the valued rows, straight from the CSV and the prices table (USD/kg -> USD/t)
SQL = """
WITH b AS (SELECT * FROM read_csv(?, all_varchar = true, header = true)),
p AS (SELECT source, series, year(period) AS y, avg(price) AS price, any_value(unit) AS unit
      FROM prices GROUP BY source, series, year(period))
SELECT sum(CAST(b.share AS DOUBLE) * p.price) / sum(CAST(b.share AS DOUBLE)) * 1000,
       count(*), bool_and(p.unit = 'USD/kg')
FROM b JOIN p ON p.source = b.price_source AND p.series = b.price_series AND p.y = ?
WHERE b.status <> 'excluded'
"""



def _rows():
    with open(default_basket_path(), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2023, 2024])
def test_basket_price_is_sum_of_share_times_price_in_sql(con, year):
    usd, tab = treo_basket_price(con, year)
    expected, n, all_usd_per_kg = con.execute(SQL, [str(default_basket_path()), year]).fetchone()
    valued = [r for r in _rows() if r["status"] != "excluded"]
    assert n == len(valued) and all_usd_per_kg  # every valued oxide has a USD/kg price
    # same sum in another order: float rounding only, 1e-9 relative
    assert usd == pytest.approx(expected, rel=1e-9)
    assert element_prices(con, ["Cu", "TREO"], year)["TREO"] == usd
    # GEUS MiMa 2022/01 (notes/oversight.md §1.4): baskets range 7-30 USD/kg TREO, light-REE
    # bastnäsite/monazite at the low end
    assert 5_000 < usd < 30_000


def test_shares_and_renormalisation_are_reported(con):
    rows = _rows()
    listed = sum(float(r["share"]) for r in rows)
    excluded = sum(float(r["share"]) for r in rows if r["status"] == "excluded")
    assert 0.99 < listed <= 1 + 1e-12  # a published distribution, rounded to 3 figures
    _, tab = treo_basket_price(con, 2024)
    assert list(tab["oxide"]) == [r["oxide"] for r in rows]  # no oxide dropped silently
    # the excluded share is the excluded oxides plus the part of TREO the file does not list
    assert tab.attrs["excluded_share"] == pytest.approx(excluded + (1 - listed), abs=1e-12)
    assert tab["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (tab.loc[tab["status"] == "excluded", "weight"] == 0).all()
    # the proxy oxide (Pr6O11) is valued at its stated proxy series and says so
    pr = tab.set_index("oxide").loc["Pr6O11"]
    assert pr["status"] == "proxy" and pr["note"].startswith("[assumption]")
    assert pr["usd_per_t"] == tab.set_index("oxide").loc["Nd2O3", "usd_per_t"]


def test_year_without_prices_leaves_treo_unvalued(con):
    usd, tab = treo_basket_price(con, 2019)  # USGS MCS 2025 covers 2020-2024
    assert usd is None
    assert set(tab.attrs["missing"]) == set(tab.loc[tab["status"] != "excluded", "oxide"])
    assert "TREO" not in element_prices(con, ["TREO"], 2019)


def test_one_missing_oxide_price_leaves_treo_unvalued(warehouse_copy):
    c = duckdb.connect(str(warehouse_copy))
    c.execute("DELETE FROM prices WHERE source = 'usgs_mcs2025' AND "
              "series = 'rareee:Price_Dy2O3_dkg' AND year(period) = 2024")
    usd, tab = treo_basket_price(c, 2024)
    assert usd is None and tab.attrs["missing"] == ["Dy2O3"]
    prices = element_prices(c, ["Cu", "TREO"], 2024)
    assert "Cu" in prices and "TREO" not in prices
    assert treo_basket_price(c, 2023)[0] is not None  # other years unaffected
    c.close()


def _write(tmp_path, edit):
    df = edit(pd.read_csv(default_basket_path(), dtype=str, keep_default_na=False))
    path = tmp_path / "basket.csv"
    df.to_csv(path, index=False)
    return path


def _set(col, row, value):
    return lambda d: d.assign(**{col: d[col].where(d.index != row, value)})


@pytest.mark.parametrize("edit, line, field", [
    (_set("share", 2, "1.5"), 4, "share"),             # line = row + 2 (header is line 1)
    (_set("status", 0, "guess"), 2, "status"),
    (_set("price_series", 1, ""), 3, "price_series"),  # a priced oxide without its series
    (_set("share", 1, "0.9"), None, "share"),          # shares then sum to > 1
    (lambda d: d.drop(columns="source"), 1, "source"),
])
def test_bad_basket_names_file_line_field(tmp_path, edit, line, field):
    path = _write(tmp_path, edit)
    with pytest.raises(DataFileError) as err:
        load_treo_basket(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)


def test_user_basket_changes_the_price(con, tmp_path):
    # an all-Nd basket is worth the Nd2O3 price
    path = tmp_path / "nd.csv"
    path.write_text("oxide,share,price_source,price_series,status,note,source\n"
                    "Nd2O3,1,usgs_mcs2025,rareee:Price_Nd2O3_dkg,priced,,test\n")
    usd, _ = treo_basket_price(con, 2024, load_treo_basket(path))
    (nd,), = con.execute("SELECT avg(price) * 1000 FROM prices WHERE series = "
                         "'rareee:Price_Nd2O3_dkg' AND year(period) = 2024").fetchall()
    assert usd == pytest.approx(nd, rel=1e-12)


def test_cli_value_values_treo(warehouse_copy, tmp_path):
    from critmin.oversight import terms, valuation
    from critmin.oversight.bias import paired_assays
    from critmin.oversight.simulate import power_study_config, simulate_ledger
    vol = pd.DataFrame({"hs6": ["284690"], "destination": ["CHN"], "year": [2024],
                        "quantity_t": [2000.0]})
    led = simulate_ledger(vol, power_study_config(control_share=0.5), random_state=3)
    folder = led.write(tmp_path / "ledger")
    result = runner.invoke(app, ["oversight", "value", str(folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout[result.stdout.index("{"):])["meta"]
    assert meta["elements_not_valued (no price)"] == "none"
    c = duckdb.connect(str(warehouse_copy), read_only=True)
    sql_price, _, _ = c.execute(SQL, [str(default_basket_path()), 2024]).fetchone()
    c.close()
    per, unpriced = valuation.undeclared_from_pairs(
        paired_assays(led), led.shipments, terms.default_terms(), {"TREO": sql_price},
        led.element_units())
    assert not unpriced and per["lost_tax_usd"].abs().sum() > 0
    # the CLI's lost tax is the one at the SQL basket price (1e-9: float order only)
    assert meta["lost_tax_usd"] == pytest.approx(per["lost_tax_usd"].sum(), rel=1e-9)
