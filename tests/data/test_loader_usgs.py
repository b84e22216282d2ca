"""USGS MCS 2025 world data loader and its text-cell parser."""

from __future__ import annotations

import pytest

from critmin.data.loaders.usgs import parse_value, read_usgs_world_csv
from critmin.errors import DataFileError


@pytest.mark.parametrize("text, expected", [
    ("16,400", (16400.0, None)), ("", (None, None)), ("W", (None, "W")), ("NA", (None, "NA")),
    ("—", (0.0, None)), (">130000000", (130_000_000.0, ">")), (">17,000,000", (17e6, ">")),
    ("Large", (None, "Large")), (" 8000 ", (8000.0, None)), ("0.5", (0.5, None)),
])
def test_parse_value(text, expected):
    assert parse_value(text) == expected


def test_parse_value_rejects_other_text():
    with pytest.raises(ValueError, match="abc"):
        parse_value("abc")


def test_world_csv(data_dir):
    staged = read_usgs_world_csv(data_dir / "usgs_world_small.csv")
    prod, res = staged.tables["production"], staged.tables["reserves"]
    ni = prod[prod.commodity == "nickel"].set_index(["country", "year"]).quantity
    assert ni[("USA", 2023)] == 16400 and ni[("RUS", 2024)] == 210000
    assert "WLD" not in set(prod.country) and len(ni) == 4  # world total dropped
    cu_kaz = prod[(prod.commodity == "copper") & (prod.country == "KAZ")]
    assert list(cu_kaz.quantity) == [0.0]  # 2023 'W' skipped, 2024 '—' is zero
    assert set(prod[prod.commodity == "copper"].unit) == {"kt"}
    assert set(prod.commodity) == {"nickel", "copper", "palladium", "platinum", "lithium"}
    assert prod[prod.commodity == "lithium"].country.unique().tolist() == ["BRA"]
    r = res.set_index(["commodity", "country"])
    assert r.loc[("palladium", "ZAF"), "quantity"] == 60_000_000
    assert r.loc[("palladium", "ZAF"), "note"] == ">"
    assert r.loc[("copper", "KAZ"), "note"] == "Large"
    assert r.loc[("platinum", "RUS"), "note"] == "NA"


def test_world_csv_bad_cell(data_dir, tmp_path):
    text = (data_dir / "usgs_world_small.csv").read_text(encoding="utf-8-sig")
    bad = tmp_path / "world.csv"
    bad.write_text(text.replace('"16,400"', "16k"), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_usgs_world_csv(bad)
    assert (info.value.line, info.value.field) == (2, "PROD_2023")
