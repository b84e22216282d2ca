"""Pink Sheet, IMF PCPS and USGS salient price loaders."""

from __future__ import annotations

import datetime as dt

import pytest

from critmin.data.loaders.prices import read_imf_pcps_csv, read_pink_sheet_csv
from critmin.data.loaders.usgs import read_usgs_salient_prices
from critmin.errors import DataFileError


def test_pink_sheet_keeps_catalog_series(data_dir):
    df = read_pink_sheet_csv(data_dir / "pink_sheet_small.csv").tables["prices"]
    assert set(df.series) == {"CRUDE_BRENT", "COPPER", "NICKEL", "GOLD", "PLATINUM"}
    ni = df[df.series == "NICKEL"].set_index("period")
    assert ni.loc[dt.date(2024, 1, 1), "price"] == 16200.25
    assert set(ni.unit) == {"USD/t"} and set(ni.commodity) == {"nickel"}
    # an empty cell is a missing month, not a zero price
    assert dt.date(2024, 2, 1) not in set(df[df.series == "PLATINUM"].period)
    assert set(df[df.series == "GOLD"].unit) == {"USD/troy oz"}


def test_pink_sheet_non_numeric_value(data_dir):
    with pytest.raises(DataFileError) as info:
        read_pink_sheet_csv(data_dir / "pink_sheet_bad_value.csv")
    e = info.value
    assert e.path.endswith("pink_sheet_bad_value.csv")
    assert (e.line, e.field) == (3, "NICKEL")
    assert "n/a?" in str(e)


def test_imf_pcps(data_dir):
    df = read_imf_pcps_csv(data_dir / "imf_pcps_small.csv").tables["prices"]
    assert set(df.commodity) == {"nickel", "cobalt", "palladium", "rare_earths"}
    assert len(df[df.commodity == "cobalt"]) == 1


def test_usgs_salient_prices(data_dir):
    df = read_usgs_salient_prices([data_dir / "mcs2025-plati_salient.csv"]).tables["prices"]
    pd_ = df[df.commodity == "palladium"].set_index("period").price
    assert pd_[dt.date(2022, 1, 1)] == 2133.81
    rh = df[df.commodity == "rhodium"]
    assert len(rh) == 2  # 2023 is 'W' (withheld): skipped, not zero
    assert set(df.frequency) == {"A"} and "iridium" not in set(df.commodity)
