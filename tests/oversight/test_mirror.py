"""Mass balance and mirror checks: gaps, flags, readers, unit-value outliers, content balance."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.errors import DataFileError
from critmin.oversight.mirror import (DEFAULT_CIF_FOB_FACTORS, LEAD_NOTE, load_cif_fob_factors,
                                      mass_balance, mirror_gaps, read_gfi_paired,
                                      read_mirror_records, unit_value_outliers,
                                      weighted_quantile)

REPO = Path(__file__).resolve().parents[2]

HEADER = ("reporter,partner,flow,year,hs6,export_fob_usd,import_cif_usd,export_qty_t,"
          "import_qty_t,mode\n")
ROWS = [
    # rail, f = 0.04: expected 1,040,000; gap 160,000; rel 0.153846
    "KAZ,CHN,export,2022,260300,1000000,1200000,100,90,3100",
    # sea, f = 0.05: expected 2,100,000; gap -600,000; rel -0.285714 -> large_gap
    "Kazakhstan,Japan,X,2022,261690,2000000,1500000,,,2100",
    # the partner is an entrepôt (Switzerland); all modes, f = 0.10: expected 550,000, gap 0
    "KAZ,CHE,export,2022,711299,500000,550000,,,",
    # the exporter never reported: missing side
    "KAZ,CHN,export,2022,284690,,300000,,,",
    # reporter imports: exporter = partner (Russia), importer = Kazakhstan
    "398,RUS,import,2022,260300,100,100,,,0",
]


def _write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.fixture()
def gaps(tmp_path):
    return mirror_gaps(read_mirror_records(_write(tmp_path, ROWS)), load_cif_fob_factors())


def test_reader_tidy_layout(tmp_path):
    rec = read_mirror_records(_write(tmp_path, ROWS))
    assert rec["exporter"].tolist() == ["KAZ", "KAZ", "KAZ", "KAZ", "RUS"]
    assert rec["importer"].tolist() == ["CHN", "JPN", "CHE", "CHN", "KAZ"]
    assert rec["flow"].tolist()[:2] == ["export", "export"]
    assert rec["hs6"].tolist()[0] == "260300"
    assert rec["mode"].tolist() == [3100, 2100, 0, 0, 0]        # empty mode = 0, all modes
    assert rec["import_basis"].eq("CIF").all()
    assert math.isnan(rec.loc[3, "export_fob_usd"])


def test_hand_computed_gap_with_cif_fob_factor(gaps):
    r = gaps.iloc[0]
    assert r["cif_fob_factor"] == pytest.approx(0.04)
    assert r["expected_import_usd"] == pytest.approx(1_040_000)
    assert r["gap_usd"] == pytest.approx(160_000)
    assert r["rel_gap"] == pytest.approx(160_000 / 1_040_000)
    assert r["qty_rel_gap"] == pytest.approx(-0.1)
    assert r["qty_agreement"] == pytest.approx(0.9)            # 1 - 10/100
    assert r["gap_weighted_usd"] == pytest.approx(144_000)
    assert r["flags"] == ""                                     # 15 % < 25 % threshold
    s = gaps.iloc[1]
    assert s["gap_usd"] == pytest.approx(-600_000)
    assert s["rel_gap"] == pytest.approx(-600_000 / 2_100_000)
    assert s["flags"] == "large_gap"


def test_hub_and_missing_side_flags(gaps):
    hub = gaps.iloc[2]
    assert hub["cif_fob_factor"] == pytest.approx(0.10)
    assert hub["gap_usd"] == pytest.approx(0.0, abs=1e-6)
    assert hub["flags"] == "hub"
    miss = gaps.iloc[3]
    assert miss["flags"] == "missing_side"
    assert math.isnan(miss["gap_usd"])
    assert gaps.iloc[4]["flags"] == ""
    # hubs can be given; an empty set turns the flag off
    rec = gaps[["reporter", "partner", "flow", "year", "hs6", "export_fob_usd",
                "import_cif_usd", "mode", "exporter", "importer"]]
    assert mirror_gaps(rec, hubs=()).iloc[2]["flags"] == ""
    assert mirror_gaps(rec, hubs={"CHN"}).iloc[0]["flags"] == "hub"


def test_every_row_says_lead_not_proof(gaps):
    assert gaps["lead"].all()
    assert (gaps["lead_note"] == LEAD_NOTE).all()
    assert "not proof" in LEAD_NOTE


def test_re_export_fob_basis_and_unknown_mode(tmp_path):
    rows = ["SGP,KAZ,RX,2022,260300,100,200,,,0",
            "CHN,KAZ,M,2022,260300,100,150,,,0"]
    header = ("reporter,partner,flow,year,hs6,export_fob_usd,import_cif_usd,export_qty_t,"
              "import_qty_t,mode\n")
    rec = read_mirror_records(_write(tmp_path, rows, header))
    rec.loc[1, "import_basis"] = "FOB"
    g = mirror_gaps(rec, {0: 0.10})
    assert set(g.iloc[0]["flags"].split(";")) == {"hub", "re_export", "large_gap"}
    assert g.iloc[1]["cif_fob_factor"] == 0.0                   # importer reports FOB
    assert g.iloc[1]["gap_usd"] == pytest.approx(50)
    rec.loc[0, "mode"] = 1234
    with pytest.raises(ValueError, match="1234"):
        mirror_gaps(rec, {0: 0.10})


@pytest.mark.parametrize("row, line, field, text", [
    ("KAZ,Atlantis,export,2022,260300,1,1,,,", 3, "partner", "unknown country"),
    ("KAZ,CHN,sideways,2022,260300,1,1,,,", 3, "flow", "flow must be"),
    ("KAZ,CHN,export,2022,26030,1,1,,,", 3, "hs6", "six-digit"),
    ("KAZ,CHN,export,2022,260300,1e6,abc,,,", 3, "import_cif_usd", "not a number"),
    ("KAZ,CHN,export,2022,260300,-5,1,,,", 3, "export_fob_usd", "negative"),
    ("KAZ,CHN,export,,260300,1,1,,,", 3, "year", "missing"),
    ("KAZ,CHN,export,2022,260300,1,1,,,2.5", 3, "mode", "whole number"),
])
def test_reader_errors_name_file_line_field(tmp_path, row, line, field, text):
    p = _write(tmp_path, [ROWS[0], row])
    with pytest.raises(DataFileError) as e:
        read_mirror_records(p)
    assert e.value.path == str(p)
    assert e.value.line == line
    assert e.value.field == field
    assert text in str(e.value)


def test_reader_errors_on_columns_and_duplicates(tmp_path):
    with pytest.raises(DataFileError) as e:
        read_mirror_records(_write(tmp_path, ["KAZ,CHN,export,2022,1,1"],
                                   "reporter,partner,flow,year,export_fob_usd,value\n"))
    assert (e.value.line, e.value.field) == (1, "value")
    with pytest.raises(DataFileError) as e:
        read_mirror_records(_write(tmp_path, ["KAZ,CHN,2022,260300,1,1"],
                                   "reporter,partner,year,hs6,export_fob_usd,import_cif_usd\n"))
    assert (e.value.line, e.value.field) == (1, "flow")
    with pytest.raises(DataFileError) as e:
        read_mirror_records(_write(tmp_path, [ROWS[0], ROWS[1], ROWS[0]]))
    assert e.value.line == 4 and "duplicate" in str(e.value)


def test_reader_parquet_same_result(tmp_path):
    csv = read_mirror_records(_write(tmp_path, ROWS))
    raw = pd.read_csv(_write(tmp_path, ROWS), dtype=str, keep_default_na=False)
    raw = raw.replace("", None)
    raw.to_parquet(tmp_path / "m.parquet")
    pq = read_mirror_records(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(csv, pq)


def test_cif_fob_factor_file_errors(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("motCode,factor\n0,0.1\n2100,five\n")
    with pytest.raises(DataFileError) as e:
        load_cif_fob_factors(p)
    assert (e.value.path, e.value.line, e.value.field) == (str(p), 3, "factor")
    p.write_text("motCode,factor\n0,0.1\n0,0.2\n")
    with pytest.raises(DataFileError) as e:
        load_cif_fob_factors(p)
    assert (e.value.line, e.value.field) == (3, "motCode")
    p.write_text("motCode,factor\n0,5\n")                        # 5 % written as 5
    with pytest.raises(DataFileError, match=r"\[0, 1\)"):
        load_cif_fob_factors(p)


# ---------------------------------------------------------------------------------------------
# the raw public files in ../shared/data (GFI paired DOTS records: tests only, never shipped)


@pytest.fixture(scope="module")
def shared(shared_data) -> Path:
    """The raw data folder (tests/conftest.py: skipped locally without it, fails in CI)."""
    return shared_data


def test_default_factors_equal_the_reference_table(shared):
    got = load_cif_fob_factors(shared / "comtrade_mirror_reference" / "cif_fob_factor.csv")
    assert got.to_dict() == pytest.approx(DEFAULT_CIF_FOB_FACTORS)
    assert len(got) == 18


def test_gfi_paired_file_gaps_match_gfi(shared):
    path = shared / "gfi_dots_mirror" / "gfi_dots_paired_2015_2018.parquet"
    raw = pd.read_parquet(path)
    rec = read_gfi_paired(path)
    assert len(rec) == len(raw) == 92_100
    assert rec["reporter"].notna().all() and rec["partner"].notna().all()
    # with GFI's own 6 % CIF/FOB factor, gap/1.06 is GFI's (import_adj - export); for 2017-2018
    # GFI made no Hong Kong adjustment, so |gap| / 1.06 must equal its impmisbilat column
    g = mirror_gaps(rec, {0: 0.06})
    late = (raw["year"] >= 2017) & (raw["import_indicator"] == "TMG_CIF_USD")
    assert late.sum() > 40_000
    ours = g.loc[late, "gap_usd"].abs() / 1.06
    np.testing.assert_allclose(ours, raw.loc[late, "impmisbilat"], rtol=1e-9, atol=1e-3)
    sign = np.sign(g.loc[late, "gap_usd"].round(3))
    gfi = raw.loc[late, "uo_m"].map({"over": 1.0, "under": -1.0, "none": 0.0})
    assert (sign == gfi).mean() > 0.9999
    # FOB-reporting importers: factor 0, gap = import - export as reported
    fob = raw["import_indicator"] == "TMG_FOB_USD"
    assert (g.loc[fob, "cif_fob_factor"] == 0).all()
    direct = raw.loc[fob, "import_value_usd_adj"] - raw.loc[fob, "export_value_usd"]
    np.testing.assert_allclose(g.loc[fob, "gap_usd"], direct)


def test_gfi_kazakhstan_to_china_recomputed_directly(shared):
    """Kazakhstan -> China (IMF codes 916 -> 924), gap recomputed from the raw columns."""
    path = shared / "gfi_dots_mirror" / "gfi_dots_paired_2015_2018.parquet"
    raw = pd.read_parquet(path)
    sel = raw[(raw["exporter_imf_code"] == 916) & (raw["importer_imf_code"] == 924)
              ].sort_values("year")
    assert sel["year"].tolist() == [2015, 2016, 2017, 2018]
    assert (sel["import_indicator"] == "TMG_CIF_USD").all()
    expected = sel["import_value_usd_adj"] * 1.06 - sel["export_value_usd"] * 1.10
    g = mirror_gaps(read_gfi_paired(path), load_cif_fob_factors())
    ours = g[(g["exporter"] == "KAZ") & (g["importer"] == "CHN")].sort_values("year")
    np.testing.assert_allclose(ours["gap_usd"], expected, rtol=1e-12)
    # 2018: China recorded US$8.53 bn CIF against US$6.24 bn declared by Kazakhstan
    r18 = ours[ours["year"] == 2018].iloc[0]
    assert r18["import_cif_usd"] == pytest.approx(8.53e9, rel=1e-3)
    assert r18["export_fob_usd"] == pytest.approx(6.24e9, rel=1e-3)
    assert r18["flags"] == ""                           # rel gap 24.3 % < 25 %
    assert r18["rel_gap"] == pytest.approx(0.2426, abs=1e-4)
    hub = g[g["exporter"].isin(["HKG", "SGP", "CHE"]) | g["importer"].isin(["HKG", "SGP", "CHE"])]
    assert hub["flags"].str.contains("hub").all()


# ---------------------------------------------------------------------------------------------
# unit values


def test_weighted_quantile_hand_values():
    x = [7.0, 7.2, 7.4, 7.6]
    # equal weights: Hazen positions 0.125, 0.375, 0.625, 0.875
    assert weighted_quantile(x, [1, 1, 1, 1], [0.25, 0.5, 0.75]) == pytest.approx([7.1, 7.3, 7.5])
    # weights 1,1,1,5: positions 1/16, 3/16, 5/16, 11/16 -> median 7.4 + (3/16)/(6/16)*0.2
    assert weighted_quantile(x, [1, 1, 1, 5], 0.5) == pytest.approx(7.5)


def _reference() -> pd.DataFrame:
    logs = [7.0, 7.2, 7.4, 7.6]
    return pd.DataFrame({"hs6": "260300", "year": 2022, "quantity_t": 100.0,
                         "value_usd": [100.0 * math.exp(v) for v in logs]})


def test_unit_value_outliers_constructed_distribution():
    # iqr, k = 3: Q1 = 7.1, Q3 = 7.5, IQR = 0.4 -> bounds e^5.9 .. e^8.7 USD/t
    cand = pd.DataFrame({"hs6": "260300", "year": 2022, "quantity_t": [10.0, 10.0, 10.0, 0.0],
                         "value_usd": [10 * math.exp(5.8), 10 * math.exp(6.0),
                                       10 * math.exp(8.8), 5.0]})
    out = unit_value_outliers(cand, reference=_reference(), screen=False, min_reference=4)
    assert out["flag"].tolist() == ["low_unit_value", "", "high_unit_value", "no_quantity"]
    assert out["lower_usd_per_t"].iloc[0] == pytest.approx(math.exp(5.9))
    assert out["upper_usd_per_t"].iloc[0] == pytest.approx(math.exp(8.7))
    assert out["world_median_usd_per_t"].iloc[0] == pytest.approx(math.exp(7.3))
    assert out["robust_z"].iloc[1] == pytest.approx((6.0 - 7.3) / (0.4 / 1.349))
    assert out["n_reference"].iloc[0] == 4
    assert out["lead"].all()
    # mad, k = 3.5: median 7.3, MAD 0.2 -> 7.3 ± 3.5 * 1.4826 * 0.2
    out = unit_value_outliers(cand, reference=_reference(), method="mad", screen=False,
                              min_reference=4)
    assert out["lower_usd_per_t"].iloc[0] == pytest.approx(math.exp(7.3 - 3.5 * 1.4826 * 0.2))
    assert out["flag"].tolist()[:3] == ["low_unit_value", "low_unit_value", "high_unit_value"]
    # another HS code or year has no reference
    other = cand.assign(year=2021)
    assert (unit_value_outliers(other, reference=_reference(), min_reference=4)["flag"]
            .iloc[:3] == "thin_reference").all()


def test_screen_removes_a_gross_quantity_error():
    # ten flows near 2,000 USD/t and one with a quantity error: 1 Mt at 3 USD/t, which holds
    # most of the tonnes and would pull the quantity-weighted median to 3 USD/t
    rng = np.random.default_rng(5)
    uv = 2000 * np.exp(rng.normal(0, 0.1, 10))
    ref = pd.DataFrame({"hs6": "260300", "year": 2022,
                        "quantity_t": [1000.0] * 10 + [1_000_000.0],
                        "value_usd": [*(uv * 1000), 3_000_000.0]})
    raw = unit_value_outliers(ref, screen=False)
    assert raw["world_median_usd_per_t"].iloc[0] < 10          # interpolated next to 3 USD/t
    out = unit_value_outliers(ref)
    assert out["world_median_usd_per_t"].iloc[0] == pytest.approx(2000, rel=0.15)
    assert out["n_reference"].iloc[0] == 10
    assert out["flag"].iloc[-1] == "low_unit_value"


def test_kazakhstan_copper_concentrate_2022_within_world_distribution(built_warehouse):
    from critmin.data import queries
    from critmin.data.warehouse import connect
    con = connect(built_warehouse, read_only=True)
    try:
        flows = queries.commodity_flows(con, hs6=["260300"], years=[2022])
        lme = con.execute("SELECT avg(price) FROM prices WHERE commodity = 'copper' AND "
                          "series = 'COPPER' AND year(period) = 2022").fetchone()[0]
    finally:
        con.close()
    out = unit_value_outliers(flows, by="commodity")
    kz = out[(out["exporter"] == "KAZ") & (out["importer"] == "CHN")].iloc[0]
    # BACI: US$2.077 bn for 1.247 Mt -> about 1,666 USD/t
    assert kz["unit_value_usd_per_t"] == pytest.approx(1666, rel=0.01)
    assert kz["flag"] == ""
    assert kz["lower_usd_per_t"] < kz["unit_value_usd_per_t"] < kz["upper_usd_per_t"]
    # independent scale check: 27 % Cu (catalog typical grade) at the 2022 LME average
    # (World Bank pink sheet, about 8,822 USD/t) is ~2,380 USD/t of contained copper; the
    # world median concentrate unit value must be of that order (payables, TC/RC, Au/Ag)
    assert 0.5 * 0.27 * lme < kz["world_median_usd_per_t"] < 1.5 * 0.27 * lme


# ---------------------------------------------------------------------------------------------
# mass balance


def test_mass_balance_cases():
    idx = pd.Index(["A", "B", "C", "D"], name="country")
    e = pd.Series([120.0, 95.0, 30.0, 120.0], index=idx)
    p = pd.Series([100.0, 100.0, 100.0, 100.0], index=idx)
    out = mass_balance(e, p)
    assert out["ratio"].tolist() == pytest.approx([1.2, 0.95, 0.3, 1.2])
    assert out["flag"].tolist() == ["exceeds_production", "", "far_below", "exceeds_production"]
    assert out["lead"].all()
    # a stock draw of 30 t in D makes 120 t of exports possible: 120 / 130
    out = mass_balance(e, p, stock_draw_t=pd.Series([0.0, 0.0, 0.0, 30.0], index=idx))
    assert out.loc["D", "ratio"] == pytest.approx(120 / 130)
    assert out.loc["D", "ratio_production"] == pytest.approx(1.2)
    assert out.loc["D", "flag"] == ""
    # scalars; exports with no production at all
    one = mass_balance(50.0, 0.0)
    assert one["ratio"].iloc[0] == math.inf and one["flag"].iloc[0] == "exceeds_production"
    assert mass_balance(105.0, 100.0)["flag"].iloc[0] == ""       # within the 10 % tolerance
    with pytest.raises(ValueError, match="production_t missing"):
        mass_balance(e, p.drop("C"))
