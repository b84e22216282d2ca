"""Users' tidy CSV files: names resolved through the catalog, errors name file, line, field."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from critmin.data.loaders.tidy import read_tidy_csv
from critmin.errors import DataFileError


def test_production(data_dir):
    df = read_tidy_csv(data_dir / "tidy_production.csv", "production").tables["production"]
    assert list(df.commodity) == ["nickel", "rare_earths", "rare_earths"]
    assert list(df.country) == ["KAZ", "KAZ", "CHN"]
    assert df.quantity.tolist() == [0.0, 120.5, 270000.0]
    assert df.estimated.tolist()[:2] == [False, True] and df.estimated.isna().iloc[2]
    assert set(df.source) == {"user"}


def test_trade_and_prices(data_dir):
    tr = read_tidy_csv(data_dir / "tidy_trade.csv", "trade").tables["trade"]
    assert tr.importer.tolist() == ["CHN", "RUS"] and math.isnan(tr.quantity_t.iloc[1])
    pr = read_tidy_csv(data_dir / "tidy_prices.csv", "prices").tables["prices"]
    assert pr.period.tolist() == [dt.date(2024, 1, 1), dt.date(2024, 1, 1)]
    assert pr.frequency.tolist() == ["M", "A"]
    assert pr.series.tolist() == ["MY_NI", "palladium"]


def test_unknown_country_suggests(data_dir):
    with pytest.raises(DataFileError) as info:
        read_tidy_csv(data_dir / "tidy_unknown_country.csv", "production")
    e = info.value
    assert (e.line, e.field) == (3, "country")
    assert "Kazakstn" in str(e) and "Kazakhstan" in str(e)


def test_unknown_commodity_suggests(data_dir):
    with pytest.raises(DataFileError) as info:
        read_tidy_csv(data_dir / "tidy_unknown_commodity.csv", "production")
    assert (info.value.line, info.value.field) == (2, "commodity")
    assert "Nickel" in str(info.value)


def test_missing_column_and_bad_number(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("commodity,country,year,quantity\nnickel,KAZ,2024,1\n")
    with pytest.raises(DataFileError, match="unit"):
        read_tidy_csv(f, "production")
    f.write_text("commodity,country,year,quantity,unit\nnickel,KAZ,2024,-1,t\n")
    with pytest.raises(DataFileError) as info:
        read_tidy_csv(f, "production")
    assert (info.value.line, info.value.field) == (2, "quantity")


def test_public_source_ids_are_reserved(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("commodity,country,year,quantity,unit,source\nnickel,KAZ,2024,1,t,wmd\n")
    with pytest.raises(DataFileError) as info:
        read_tidy_csv(f, "production")
    assert (info.value.line, info.value.field) == (2, "source")
