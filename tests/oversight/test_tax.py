"""Kazakhstan MET: the dated, sourced rate table and lookups by date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from critmin.errors import DataFileError
from critmin.oversight.tax import (COLUMNS, MetRateError, extraction_tax, load_met_rates,
                                   met_rate)


@pytest.mark.parametrize("element, rate", [
    # Tax Code RK 2017 No. 120-VI Art. 746, version 01.01.2023 (shared/notes/oversight.md §5.2)
    ("Cu", 0.0855), ("copper", 0.0855), ("Au", 0.075), ("silver", 0.075), ("Pt", 0.065),
    ("Pd", 0.065), ("Ni", 0.078), ("La", 0.077), ("Ce", 0.077), ("Zn", 0.105),
])
def test_rates_2023_to_2025(element, rate):
    assert met_rate(element, dt.date(2024, 6, 30)) == pytest.approx(rate)
    assert met_rate(element, "2025-12-31") == pytest.approx(rate)


def test_rates_by_date_before_2023_are_derived_and_marked():
    assert met_rate("Cu", "2022-12-31") == pytest.approx(0.057)   # 8.55 % / 1.5
    assert met_rate("Ni", "2022-06-01") == pytest.approx(0.06)    # 7.8 % / 1.3
    rates = met_rate("Au", pd.Series(["2022-12-31", "2023-01-01"]))
    assert rates.tolist() == pytest.approx([0.05, 0.075])
    tab = load_met_rates()
    old = tab[tab["valid_to"] < pd.Timestamp("2023-01-01")]
    assert old["note"].str.contains("verify").all()
    assert old["source"].str.startswith("derived").all()


def test_table_is_dated_and_sourced():
    tab = load_met_rates()
    assert list(tab.columns) == COLUMNS
    assert (tab["source"].str.len() > 0).all()
    assert (tab["base"] == "contained_value").all()


def test_dates_outside_the_table():
    with pytest.raises(MetRateError, match=r"'Cu' on 2026-03-01.*214-VIII"):
        met_rate("Cu", "2026-03-01")
    assert met_rate("Cu", "2026-03-01", carry_forward=True) == pytest.approx(0.0855)
    with pytest.raises(MetRateError, match="2017-12-31"):
        met_rate("Cu", "2017-12-31", carry_forward=True)   # never carried backwards
    with pytest.raises(MetRateError, match="'Nd'"):
        met_rate("Nd", "2024-01-01")                         # REE item 8: verify, not in table


def test_extraction_tax_vectorised():
    assert extraction_tax(1_000_000.0, "Cu", "2024-01-01") == pytest.approx(85_500.0)
    v = pd.Series([1e6, 2e6], index=["a", "b"])
    out = extraction_tax(v, "Au", pd.Series(["2022-06-01", "2024-06-01"]))
    assert out.tolist() == pytest.approx([50_000.0, 150_000.0]) and list(out.index) == ["a", "b"]
    assert extraction_tax(np.array([1.0, 2.0]), "Cu", "2024-01-01").tolist() == pytest.approx(
        [0.0855, 0.171])


def test_bad_table_names_line_and_field(tmp_path):
    p = tmp_path / "rates.csv"
    p.write_text(",".join(COLUMNS) + "\nCu,8.55,contained_value,2023-01-01,2025-12-31,src,\n",
                 encoding="utf-8")
    with pytest.raises(DataFileError, match=r"line 2, field 'rate'.*0.0855") as e:
        load_met_rates(p)
    assert e.value.path == str(p)
    p.write_text(",".join(COLUMNS) + "\nCu,0.0855,contained_value,2023-01-01,2025-12-31,,\n",
                 encoding="utf-8")
    with pytest.raises(DataFileError, match="field 'source'"):
        load_met_rates(p)
    p.write_text(",".join(COLUMNS) + "\nCu,0.0855,v,2023-01-01,2025-12-31,s,\n"
                 "Cu,0.06,v,2025-01-01,2026-12-31,s,\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="overlapping"):
        load_met_rates(p)
    p.write_text("element,rate\nCu,0.1\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="field 'base'"):
        load_met_rates(p)


def test_user_table(tmp_path):
    p = tmp_path / "rates_2026.csv"
    p.write_text(",".join(COLUMNS) + "\nCu,0.09,contained_value,2026-01-01,2026-12-31,"
                 "my reading of Art. 781,assumed\n", encoding="utf-8")
    assert met_rate("copper", "2026-03-01", table=load_met_rates(p)) == pytest.approx(0.09)
