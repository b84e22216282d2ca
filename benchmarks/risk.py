"""GeoPolRisk benchmark: critmin's whole grid vs. the peer geopolrisk-py 2.0.1, per value.

What: critmin computes the WHOLE GeoPolRisk grid in one process: every material with a
GeoPolRisk id (53) x every importer present in the warehouse's BACI trade of those materials
in 2018-2024, plus the EU27 bloc, x 2018-2024, timed end to end as `queries.geopolrisk_inputs`
+ `geopolrisk.compat` (best of --repeat; building the warehouse from the bundle in a temporary
CRITMIN_HOME and opening it are not timed). The peer, in the same run, computes a seeded random
sample (--sample) of single-country (material, importer, year) values from the same grid with
its "decomposed loop" (utils.aggregateTrade + core.HHI + core.GeoPolRisk per value, the calls
gprs_calc makes; see tools/geopolrisk_parity.py), plus a few EU-region values reported apart.
Its import (~25-35 s) and its one-off utils.mapped_baci() are reported but not counted.

Why: absolute times on this small, noisy machine mean little; the figure that matters is the
RATIO of the peer's ms per value to critmin's, both measured in the same run. Targets: the
whole grid in < 5 s, and a ratio >= 1000x. The script exits 1 if either fails.

How: the peer needs Python 3.10/3.11, so it runs in the venv that tools/geopolrisk_parity.py
creates or reuses (its `ensure_venv`), in a child process of this file with HOME redirected
to a scratch directory (the peer writes ~/Documents/geopolrisk on import). Run from the
repository root:

    /work/venv/bin/python benchmarks/risk.py [--repeat N] [--sample N] [--eu N] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
YEARS = list(range(2018, 2025))
SEED = 20261129
GRID_TARGET_S = 5.0
RATIO_TARGET = 1000.0


def peer_child(spec_path: str, out_path: str) -> None:
    """In the peer's venv: import it, build mapped_baci, time the decomposed loop per value."""
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    from geopolrisk.assessment import core, utils  # noqa: PLC0415 (heavy: loads all of BACI)
    from geopolrisk.assessment.database import databases  # noqa: PLC0415
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = utils.mapped_baci()
    mapped_s = time.perf_counter() - t0

    names, unnamed = {}, []  # our iso3 -> the peer's country name (via BACI codes)
    for iso3, codes in spec["importers"].items():
        for code in codes:
            try:
                names[iso3] = utils.cvtcountry(int(code), type="Name")
                break
            except ValueError:
                pass
        else:
            unnamed.append(iso3)
    rng = random.Random(spec["seed"])
    grid = [(m, iso3, y) for m in spec["materials"] for iso3 in sorted(names) for y in YEARS]
    singles = [(m, [names[iso3]], y) for m, iso3, y in rng.sample(grid, spec["sample"])]
    eu = [(rng.choice(spec["materials"]), list(databases.regionslist["EU"]), rng.choice(YEARS))
          for _ in range(spec["eu"])]

    def one(rm, members, year):  # the parity tool's child, minus its error capture
        num, tot, price = utils.aggregateTrade(year, members, rm, data=data)
        prods = []
        for m in members:
            prod, hhi = core.HHI(rm, int(year), utils.cvtcountry(m, type="Name"))
            prods.append(prod)
        return core.GeoPolRisk(num, tot, price, sum(prods), hhi)

    one(*singles[0])  # warm-up, untimed
    times = {"country": [], "region": []}
    for kind, combos in (("country", singles), ("region", eu)):
        for combo in combos:
            t1 = time.perf_counter()
            one(*combo)
            times[kind].append(time.perf_counter() - t1)
    Path(out_path).write_text(json.dumps({
        "import_s": import_s, "mapped_baci_s": mapped_s, "times": times, "unnamed": unnamed,
        "named": len(names), "python": sys.version.split()[0]}))


def critmin_grid(repeat: int) -> dict:
    """Build a warehouse in a temporary CRITMIN_HOME; time the whole grid, best of `repeat`."""
    home = Path(tempfile.mkdtemp(prefix="critmin-risk-bench-"))
    os.environ["CRITMIN_HOME"] = str(home)
    from critmin.catalog import all_commodities, bloc_members  # noqa: PLC0415
    from critmin.catalog.countries import baci_to_iso3  # noqa: PLC0415
    from critmin.data import queries, warehouse  # noqa: PLC0415
    from critmin.risk import geopolrisk  # noqa: PLC0415

    try:
        t0 = time.perf_counter()
        path = warehouse.build(home / "warehouse.duckdb")
        build_s = time.perf_counter() - t0
        con = warehouse.connect(path, read_only=True)
        peer_ids = {c.key: c.geopolrisk_id for c in all_commodities() if c.geopolrisk_id}
        mats = sorted(peer_ids)
        importers = [r[0] for r in con.execute("""
            SELECT DISTINCT t.importer FROM trade t
            JOIN commodity_hs h ON h.hs6 = t.hs6 AND h.geopolrisk
            WHERE t.source = 'baci' AND h.commodity IN (SELECT unnest(?))
              AND t.year IN (SELECT unnest(?)) ORDER BY 1""", [mats, YEARS]).fetchall()]
        groups = {iso3: (iso3,) for iso3 in importers} | {"EU27": bloc_members("EU27")}
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            inp = queries.geopolrisk_inputs(con, mats, YEARS)
            out = geopolrisk.compat(inp["flows"], inp["production"], inp["governance"],
                                    groups, YEARS, mats)
            runs.append(time.perf_counter() - t0)
        con.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    codes: dict[str, list[int]] = {}
    for code, iso3 in sorted(baci_to_iso3().items()):
        codes.setdefault(iso3, []).append(code)
    assert len(out) == len(mats) * len(groups) * len(YEARS)
    return {"values": len(out), "runs": runs, "seconds": min(runs), "build_s": build_s,
            "materials": len(mats), "importers": len(importers),
            "peer_materials": [peer_ids[m] for m in mats],
            "peer_importers": {iso3: codes.get(iso3, []) for iso3 in importers}}


def run_peer(crit: dict, sample: int, eu: int) -> dict:
    """Run peer_child in the parity tool's venv with HOME redirected; return its JSON."""
    sys.path.insert(0, str(REPO / "tools"))
    import geopolrisk_parity as parity  # noqa: PLC0415

    vpy = parity.ensure_venv(parity.DEFAULT_VENV, None, False)
    scratch = Path(tempfile.mkdtemp(prefix="critmin-risk-peer-"))
    spec, out = scratch / "spec.json", scratch / "out.json"
    spec.write_text(json.dumps({"materials": crit["peer_materials"], "seed": SEED,
                                "importers": crit["peer_importers"], "sample": sample, "eu": eu}))
    env = dict(os.environ, HOME=str(scratch), PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    env.pop("CRITMIN_HOME", None)
    try:
        proc = subprocess.run([str(vpy), str(Path(__file__).resolve()), "--child", str(spec),
                               str(out)], cwd=scratch, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"peer child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="critmin grid runs; the best is kept")
    ap.add_argument("--sample", type=int, default=200, help="peer single-country values")
    ap.add_argument("--eu", type=int, default=5, help="peer EU-region values (0 to skip)")
    ap.add_argument("--no-peer", action="store_true", help="critmin figures only")
    ap.add_argument("--child", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        peer_child(*args.child)
        return 0

    crit = critmin_grid(args.repeat)
    us_per_value = 1e6 * crit["seconds"] / crit["values"]
    print(f"{os.cpu_count()} cores; warehouse built in {crit['build_s']:.1f} s (not timed)")
    print(f"critmin grid: {crit['materials']} materials x ({crit['importers']} importers + "
          f"EU27) x {len(YEARS)} years = {crit['values']:,} values; runs "
          + " / ".join(f"{s:.2f}" for s in crit["runs"]) + " s")
    print(f"\n{'side':<22} {'values':>8} {'seconds':>9} {'ms/value':>12} {'median ms':>10}")
    print(f"{'critmin whole grid':<22} {crit['values']:>8,} {crit['seconds']:>9.3f} "
          f"{us_per_value / 1000:>12.5f} {'':>10}")
    grid_ok = crit["seconds"] < GRID_TARGET_S
    if args.no_peer:
        print(f"\nwhole grid {crit['seconds']:.2f} s (target < {GRID_TARGET_S:g} s): "
              f"{'PASS' if grid_ok else 'FAIL'}; peer skipped (--no-peer)")
        return 0 if grid_ok else 1

    print("running the peer (import takes ~25-35 s) ...", flush=True)
    peer = run_peer(crit, args.sample, args.eu)
    stats = {}
    for kind, label in (("country", "peer single country"), ("region", "peer EU region")):
        xs = peer["times"][kind]
        if xs:
            stats[kind] = (1000 * statistics.mean(xs), 1000 * statistics.median(xs))
            print(f"{label:<22} {len(xs):>8,} {sum(xs):>9.3f} {stats[kind][0]:>12.2f} "
                  f"{stats[kind][1]:>10.2f}")
    print(f"\npeer (Python {peer['python']}): import {peer['import_s']:.1f} s, mapped_baci "
          f"{peer['mapped_baci_s']:.1f} s (not counted per value); {peer['named']} of "
          f"{crit['importers']} importers named by the peer"
          + (f", not: {' '.join(peer['unnamed'])}" if peer["unnamed"] else ""))
    ratio = stats["country"][0] / (us_per_value / 1000)
    ratio_median = stats["country"][1] / (us_per_value / 1000)
    ratio_ok = ratio >= RATIO_TARGET
    print(f"ratio peer/critmin ms per value: {ratio:,.0f}x on the mean "
          f"({ratio_median:,.0f}x on the median)")
    print(f"whole grid {crit['seconds']:.2f} s (target < {GRID_TARGET_S:g} s): "
          f"{'PASS' if grid_ok else 'FAIL'}")
    print(f"ratio {ratio:,.0f}x (target >= {RATIO_TARGET:g}x): {'PASS' if ratio_ok else 'FAIL'}")
    return 0 if grid_ok and ratio_ok else 1


if __name__ == "__main__":
    sys.exit(main())
