"""Ledger schema: round trips through CSV and Parquet; bad input names file, line and field."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.errors import DataFileError
from critmin.oversight.schema import (DEFAULT_ELEMENT_UNITS, Ledger, convert_grade, load_ledger,
                                      make_ledger)
from critmin.oversight.simulate import KAZ_2024_VOLUMES, power_study_config, simulate_ledger


def _tiny(tmp_path, **edits) -> str:
    """A three-file ledger folder in the CSV layout; `edits` = {table: {(row, col): text}}."""
    folder = tmp_path / "ledger"
    folder.mkdir()
    tables = {
        "shipments": pd.DataFrame({
            "shipment_id": ["S1", "S2"], "exporter_id": ["E1", "E1"],
            "hs6": ["260300", "261690"], "commodity": ["copper", "gold"],
            "wet_t": ["1000", "500"], "moisture_pct": ["8", "7.5"],
            "dry_t": ["920", "462.5"], "destination": ["CHN", "CHN"],
            "declared_value_usd": ["1800000", ""], "date": ["2024-03-01", "2024-03-02"],
            "lot": ["A", "B"], "sub_lot": ["", ""]}),
        "certificates": pd.DataFrame({
            "shipment_id": ["S1", "S1", "S2"], "laboratory_id": ["L1", "L1", "L1"],
            "element": ["Cu", "Au", "Au"], "value": ["22.10", "1.95", "31.2"],
            "unit": ["%", "g/t", "g/t"], "detection_limit": ["0.01", "0.01", "0.01"]}),
        "control_assays": pd.DataFrame({
            "shipment_id": ["S1", "S1"], "laboratory_id": ["STATE", "STATE"],
            "element": ["Cu", "Au"], "value": ["22.30", "2.10"], "unit": ["%", "g/t"],
            "kind": ["control", "control"]}),
    }
    for table, cells in edits.items():
        for (row, col), text in cells.items():
            tables[table].loc[row, col] = text
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_tiny_ledger_loads_typed(tmp_path):
    led = load_ledger(_tiny(tmp_path))
    assert led.shipments["wet_t"].dtype == float and not led.synthetic
    assert led.shipments["date"].iloc[0] == pd.Timestamp("2024-03-01")
    assert pd.isna(led.shipments["declared_value_usd"].iloc[1])
    assert list(led.control_assays["kind"]) == ["control", "control"]


@pytest.mark.parametrize("edits, file, line, field, words", [
    # a certificate in ppm for an element declared in g/t (the first bad input)
    ({"certificates": {(1, "unit"): "ppm"}}, "certificates.csv", 3, "unit",
     "contradicts the declared unit 'g/t'"),
    # a negative mass
    ({"shipments": {(1, "wet_t"): "-500"}}, "shipments.csv", 3, "wet_t", "greater than 0"),
    # moisture over 100 %
    ({"shipments": {(0, "moisture_pct"): "120"}}, "shipments.csv", 2, "moisture_pct",
     "less than 100"),
    ({"shipments": {(0, "dry_t"): "950"}}, "shipments.csv", 2, "dry_t", "wet_t·(1 − moisture"),
    ({"shipments": {(0, "hs6"): "2603"}}, "shipments.csv", 2, "hs6", "pattern"),
    ({"shipments": {(1, "date"): "2024-13-01"}}, "shipments.csv", 3, "date", "date"),
    ({"certificates": {(2, "value"): "abc"}}, "certificates.csv", 4, "value", "number"),
    ({"certificates": {(2, "unit"): "oz/t"}}, "certificates.csv", 4, "unit", "'%'"),
    ({"certificates": {(0, "shipment_id"): "S9"}}, "certificates.csv", 2, "shipment_id",
     "not in the shipments table"),
    ({"certificates": {(0, "element"): "Xx"}}, "certificates.csv", 2, "element",
     "no declared unit"),
    ({"control_assays": {(1, "kind"): "audit"}}, "control_assays.csv", 3, "kind", "control"),
    ({"shipments": {(1, "shipment_id"): "S1"}}, "shipments.csv", 3, "shipment_id", "duplicate"),
])
def test_bad_input_names_file_line_field(tmp_path, edits, file, line, field, words):
    with pytest.raises(DataFileError) as e:
        load_ledger(_tiny(tmp_path, **edits))
    err = e.value
    assert err.path.endswith(file) and err.line == line and err.field == field, str(err)
    assert words in str(err)


def test_unknown_column_and_missing_file(tmp_path):
    folder = _tiny(tmp_path)
    df = pd.read_csv(folder / "shipments.csv", dtype=str).assign(wet_tonnes="1")
    df.to_csv(folder / "shipments.csv", index=False)
    with pytest.raises(DataFileError, match="unknown column") as e:
        load_ledger(folder)
    assert e.value.field == "wet_tonnes" and e.value.line == 1
    (folder / "control_assays.csv").unlink()
    df.drop(columns="wet_tonnes").to_csv(folder / "shipments.csv", index=False)
    with pytest.raises(DataFileError, match="missing"):
        load_ledger(folder)
    with pytest.raises(DataFileError, match="no such folder"):
        load_ledger(tmp_path / "nowhere")


def test_unit_rules_and_normalisation(tmp_path):
    assert convert_grade(1.0, "%", "g/t") == 10_000.0
    assert convert_grade(1.0, "%", "ppm") == 10_000.0
    assert convert_grade(2.5, "ppm", "g/t") == 2.5
    assert convert_grade(1500.0, "ppb", "g/t") == pytest.approx(1.5)
    with pytest.raises(ValueError, match="unknown grade unit"):
        convert_grade(1.0, "oz/t", "g/t")
    assert DEFAULT_ELEMENT_UNITS["Au"] == "g/t" and DEFAULT_ELEMENT_UNITS["Cu"] == "%"
    # Cu reported in ppm: an error by default, converted with normalise_units
    folder = _tiny(tmp_path, certificates={(0, "value"): "221000", (0, "unit"): "ppm",
                                           (0, "detection_limit"): "100"})
    with pytest.raises(DataFileError, match="'ppm' contradicts the declared unit '%'"):
        load_ledger(folder)
    led = load_ledger(folder, normalise_units=True)
    row = led.certificates.iloc[0]
    assert (row["unit"], row["value"], row["detection_limit"]) == ("%", 22.1, 0.01)


def test_elements_table_overrides_the_declared_unit(tmp_path):
    folder = _tiny(tmp_path, certificates={(1, "unit"): "ppm"},
                   control_assays={(1, "unit"): "ppm"})
    pd.DataFrame({"element": ["Au"], "unit": ["ppm"]}).to_csv(folder / "elements.csv",
                                                                index=False)
    with pytest.raises(DataFileError) as e:  # S2's Au is still in g/t
        load_ledger(folder)
    assert e.value.line == 4 and e.value.field == "unit"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_synthetic_ledger_round_trip(tmp_path, fmt):
    led = simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), random_state=3)
    back = load_ledger(led.write(tmp_path / fmt, format=fmt))
    assert isinstance(back, Ledger) and back.synthetic
    for name, df in led.tables().items():
        got = getattr(back, name)
        assert len(got) == len(df) and got["synthetic"].all(), name
    pd.testing.assert_series_equal(back.certificates["value"], led.certificates["value"])
    assert back.sources["shipments"].endswith(f"shipments.{fmt}")


def test_parquet_error_names_row(tmp_path):
    led = simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), random_state=3)
    led.shipments.loc[4, "moisture_pct"] = 101.0
    folder = led.write(tmp_path / "pq", format="parquet")
    with pytest.raises(DataFileError) as e:
        load_ledger(folder)
    assert e.value.path.endswith("shipments.parquet") and e.value.line == 6
    assert e.value.field == "moisture_pct" and "row index 4" in str(e.value)


def test_make_ledger_validates_in_memory_tables():
    led = simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), random_state=3)
    again = make_ledger(**led.tables())
    assert again.synthetic and len(again.shipments) == len(led.shipments)
