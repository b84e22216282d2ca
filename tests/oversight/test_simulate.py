"""Synthetic ledgers: seeded, labelled synthetic, calibrated to the volumes passed in, and the
planted biases are what the data show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from critmin.oversight.simulate import (KAZ_2024_VOLUMES, ExporterSpec, LaboratorySpec,
                                        SimulationConfig, power_study_config, simulate_ledger)


@pytest.fixture(scope="module")
def ledger():
    return simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), random_state=7)


def _frames_equal(a, b):
    for name, df in a.tables().items():
        pd.testing.assert_frame_equal(df, getattr(b, name))


def test_same_seed_same_ledger_other_seed_differs(ledger):
    _frames_equal(ledger, simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), 7))
    other = simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), 8)
    assert not other.certificates["value"].equals(ledger.certificates["value"])


def test_every_table_is_labelled_synthetic(ledger):
    assert ledger.synthetic
    for name, df in ledger.tables().items():
        assert df["synthetic"].all() and df.attrs["synthetic"] is True, name


def test_tonnes_match_the_volumes(ledger):
    got = ledger.shipments.groupby(["hs6", "destination"])["wet_t"].sum()
    want = KAZ_2024_VOLUMES.set_index(["hs6", "destination"])["quantity_t"]
    # lots are rounded to 1 kg each: the sum is within n_lots · 0.5 kg
    assert np.allclose(got.loc[want.index], want, atol=2.0)
    s = ledger.shipments
    assert np.allclose(s["dry_t"], s["wet_t"] * (1 - s["moisture_pct"] / 100), atol=1e-3)
    assert (s["date"].dt.year == 2024).all()
    # about one lot per lot_wet_t tonnes (1,500 t copper concentrate)
    n_cu = (s["hs6"] == "260300").sum()
    assert abs(n_cu - 1_844_455 / 1500) < 5


def test_control_share_and_umpire(ledger):
    n = len(ledger.shipments)
    ctrl = ledger.control_assays
    assert ctrl.loc[ctrl["kind"] == "control", "shipment_id"].nunique() == round(0.10 * n)
    assert set(ctrl["laboratory_id"]) == {"STATE", "UMPIRE"}
    ump = ctrl[ctrl["kind"] == "umpire"]
    assert set(ump["shipment_id"]) <= set(ctrl.loc[ctrl["kind"] == "control", "shipment_id"])


def test_planted_biases_show_in_declared_over_true(ledger):
    c = ledger.certificates.merge(ledger.truth, on=["shipment_id", "element"],
                                  suffixes=("", "_true"))
    r = np.log(c["value"] / c["value_true"])
    by_lab = r.groupby(c["laboratory_id"]).mean()
    assert by_lab["L04"] == pytest.approx(np.log(0.60), abs=0.02)
    assert by_lab["L03"] == pytest.approx(np.log(0.85), abs=0.02)
    assert by_lab["L02"] == pytest.approx(np.log(0.95), abs=0.02)
    assert by_lab.drop(["L02", "L03", "L04"]).abs().max() < 0.02
    # state control assays are unbiased
    k = ledger.control_assays.merge(ledger.truth, on=["shipment_id", "element"],
                                    suffixes=("", "_true"))
    assert abs(np.log(k["value"] / k["value_true"]).mean()) < 0.01


def test_grade_dependent_error_is_larger_at_low_gold_grade(ledger):
    c = ledger.certificates.merge(ledger.truth, on=["shipment_id", "element"],
                                  suffixes=("", "_true"))
    au = c[(c["element"] == "Au") & ~c["laboratory_id"].isin(["L02", "L03", "L04"])]
    r = np.log(au["value"] / au["value_true"])
    low = r[au["value_true"] < 1.0].std()  # sd of ln: 0.05/c + 0.04 ≈ 0.09 below 1 g/t
    high = r[au["value_true"] > 20].std()  # ≈ 0.042 above 20 g/t
    assert low > 1.5 * high


def test_bias_for_one_exporter_and_from_a_date():
    # the example: a lab under-reports gold by 15 % and rare earths by 40 % for one
    # exporter (E2), and only from 1 July
    cfg = SimulationConfig(
        exporters=[ExporterSpec(exporter_id="E1", hs6=["260300"], laboratories=["LX"]),
                   ExporterSpec(exporter_id="E2", hs6=["261690", "284690"],
                                laboratories=["LX"])],
        laboratories=[LaboratorySpec(laboratory_id="LX", bias_from="2024-07-01",
                                     bias_by_exporter={"E2": {"Au": -0.15, "TREO": -0.40}})])
    vol = KAZ_2024_VOLUMES.assign(quantity_t=lambda v: np.where(
        v["hs6"] == "284690", 2000.0, v["quantity_t"]))
    led = simulate_ledger(vol, cfg, random_state=1)
    c = led.certificates.merge(led.truth, on=["shipment_id", "element"], suffixes=("", "_t"))
    c = c.merge(led.shipments[["shipment_id", "exporter_id", "date"]], on="shipment_id",
                suffixes=("", "_s"))
    c["r"] = np.log(c["value"] / c["value_t"])
    late = c["date_s"] >= "2024-07-01"
    e2 = c["exporter_id"] == "E2"
    assert c[late & e2 & (c["element"] == "Au")]["r"].mean() == pytest.approx(np.log(0.85),
                                                                               abs=0.02)
    assert c[late & e2 & (c["element"] == "TREO")]["r"].mean() == pytest.approx(np.log(0.6),
                                                                                 abs=0.02)
    assert abs(c[~late & e2]["r"].mean()) < 0.02
    assert abs(c[late & ~e2]["r"].mean()) < 0.02


def test_config_errors_are_clear():
    with pytest.raises(ValidationError, match="hires unknown labs"):
        SimulationConfig(exporters=[ExporterSpec(exporter_id="E1", hs6=["260300"],
                                                 laboratories=["NOPE"])],
                         laboratories=[LaboratorySpec(laboratory_id="L1")])
    with pytest.raises(ValidationError, match="must be > -1"):
        LaboratorySpec(laboratory_id="L1", bias={"Au": -1.5})
    with pytest.raises(ValueError, match="no product spec or no exporter"):
        simulate_ledger(pd.DataFrame({"hs6": ["999999"], "destination": ["CHN"],
                                      "year": [2024], "quantity_t": [10.0]}),
                        power_study_config(), 0)
    with pytest.raises(ValueError, match="lacks columns"):
        simulate_ledger(KAZ_2024_VOLUMES.drop(columns="year"), power_study_config(), 0)
