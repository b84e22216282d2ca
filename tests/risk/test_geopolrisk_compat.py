"""Compatibility mode against geopolrisk-py 2.0.1's own outputs (tests/reference, produced by
tools/geopolrisk_parity.py): every row of 53 materials × 16 importers × 2018-2024."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from critmin.catalog import bloc_members, commodity
from critmin.data import queries, warehouse
from critmin.risk import geopolrisk as gpr

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "geopolrisk_peer_2.0.1.csv"
FIELDS = {  # ours -> peer's column
    "hhi": "hhi", "domestic_production_t": "domestic_production_t",
    "import_qty_t": "import_qty_t", "import_risk_numerator_t": "import_risk_numerator_t",
    "import_risk": "import_risk", "price_usd_per_kg": "price_usd_per_kg", "score": "score",
    "cf": "cf",
}


@pytest.fixture(scope="module")
def comparison(built_warehouse):
    ref = pd.read_csv(REFERENCE, keep_default_na=False, na_values=["nan"])
    ref["commodity"] = [commodity(s).key for s in ref["wmd_sheet"]]
    ref["importer"] = ref["importer_iso3"]
    groups = {iso: (bloc_members("EU27") if iso == "EU27" else (iso,))
              for iso in ref["importer"].unique()}
    mats, years = sorted(ref["commodity"].unique()), sorted(ref["year"].unique())
    con = warehouse.connect(built_warehouse, read_only=True)
    inp = queries.geopolrisk_inputs(con, mats, [int(y) for y in years])
    con.close()
    ours = gpr.compat(inp["flows"], inp["production"], inp["governance"], groups,
                      [int(y) for y in years], mats)
    merged = ref.merge(ours, on=["commodity", "importer", "year"], suffixes=("_peer", ""),
                       how="left", validate="one_to_one")
    return merged


def test_grid_is_complete(comparison):
    assert len(comparison) == 5936
    assert set(comparison["status"]) == {"ok"}
    assert comparison["score"].notna().all()


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_row_equals_the_peer(comparison, field):
    ours = comparison[field].to_numpy(float)
    peer = comparison[f"{FIELDS[field]}_peer"].to_numpy(float)
    # same inputs, same operations in another order: agreement to 1e-9 relative; zeros and
    # NaN must agree exactly (the peer's "no data -> 0" cases included)
    assert np.array_equal(np.isnan(ours), np.isnan(peer))
    assert np.array_equal(ours == 0, peer == 0)
    ok = ~np.isnan(peer)
    bad = ~np.isclose(ours[ok], peer[ok], rtol=1e-9, atol=0)
    rows = comparison[ok][bad][["commodity", "importer", "year"]].head().to_dict("records")
    assert not bad.any(), f"{bad.sum()} rows differ on {field}, e.g. {rows}"


def test_the_peers_odd_cases_are_reproduced(comparison):
    c = comparison.set_index(["commodity", "importer", "year"])
    # no imports and no production: the peer reports zero risk, not missing data
    assert c.loc[("nickel", "KAZ", 2022), "score"] == 0.0
    # ore tonnes swamp bullion in the importer's gold "price" (USD/kg)
    assert round(c.loc[("gold", "DEU", 2022), "price_usd_per_kg"], 1) == 80.7
    # germanium's only HS code has no BACI rows after 2016: zero everywhere
    assert (comparison[comparison.commodity == "germanium"]["score"] == 0).all()
