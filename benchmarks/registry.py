"""Registry service: read throughput and latency under 50 concurrent clients, and bulk filing of
100,000 certificate rows, on SQLite and PostgreSQL.

What: a registry filled with a SYNTHETIC ledger (`critmin.oversight.simulate`, Kazakhstan's
2024 export volumes, seeded; `critmin.registry.demo.fill_from_ledger`) served by uvicorn
(`--workers 2`, no access log) on 127.0.0.1. The load comes from `wrk` (C, one thread, 50
connections) in its own process, so the client does not starve the server of the 2 cores.

Timed steps, per database:
  reads   GET /shipments/{id} (ids cycled over every shipment) and GET /shipments?limit=50,
          as an inspector (bearer token): requests/s and p50/p99 latency from wrk.
          Baseline (same run, same server): GET /me, which authenticates and answers without
          a data query: reads ÷ baseline is the cost of the data query itself.
  filing  100,000 certificate rows in one transaction: the library call
          (`evidence.file_certificates`: validation, reference checks, insert, hash-chained
          audit) and over HTTP (POST /certificates, JSON, as the assigned laboratory).
          Baseline (same run): a plain SQLAlchemy executemany insert of the same rows with no
          validation and no audit, rolled back.
Targets (issue 6): reads ≥ 500 requests/s with p99 < 100 ms on SQLite on this 2-core machine;
100,000 rows filed in < 20 s. Exits 1 if a target is missed.

    /work/venv/bin/python benchmarks/registry.py [--db sqlite,postgresql] [--seconds 10]
        [--rows 100000] [--workers 2] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Needs `wrk` (apt-get install wrk) and, for PostgreSQL, a server where the user may create a
throw-away database (dropped at the end).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from critmin.oversight.simulate import KAZ_2024_VOLUMES, power_study_config, simulate_ledger
from critmin.registry import auth, demo, evidence as ev, models as m
from critmin.registry.api import PREFIX
from critmin.registry.db import init_db, make_engine, session_factory
from critmin.server import free_port, wait_until_answering

CLIENTS = 50
SEED = 20261129


def app():
    """uvicorn factory for the server processes: the registry API on $CRITMIN_DATABASE_URL
    (already migrated by the parent)."""
    from critmin.registry.api import create_app
    return create_app(make_engine(os.environ["CRITMIN_DATABASE_URL"]))


# ---------------------------------------------------------------------------------------------
# databases and the server


@contextmanager
def database(kind: str, pg: str, tmp: Path):
    """A URL of an empty database of `kind`; a PostgreSQL one is dropped at the end."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'registry.sqlite'}"
        return
    import psycopg
    name = f"critmin_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(url: str, workers: int, log: Path):
    """uvicorn serving `app()` on 127.0.0.1; yields the base URL."""
    port = free_port()
    env = {**os.environ, "CRITMIN_DATABASE_URL": url}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "registry:app", "--app-dir",
             str(Path(__file__).resolve().parent), "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_answering(base + "/openapi.json", proc, log)
        except RuntimeError as exc:
            sys.exit(str(exc))
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


# ---------------------------------------------------------------------------------------------
# reads with wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, token: str, seconds: float, script: Path | None = None) -> dict:
    """Run wrk (1 thread, CLIENTS connections) against `url`; requests/s, p50/p99 in ms,
    the count of non-2xx answers and socket errors, and the 1-minute load average after."""
    cmd = ["wrk", "-t1", f"-c{CLIENTS}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
           "-H", f"Authorization: Bearer {token}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)$", out, re.M)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _ms(lat["50"]), "p99": _ms(lat["99"]),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "bad": int(bad.group(1)) if bad else 0, "socket_errors": sock.group(1) if sock
            else "none", "load": os.getloadavg()[0]}


def _id_script(path: Path, ids: list[str]) -> Path:
    """A wrk script cycling GET /shipments/{id} over `ids`."""
    path.write_text("local ids = {" + ",".join(json.dumps(i) for i in ids) + "}\n"
                    "local n = 0\n"
                    "request = function()\n"
                    "  n = n + 1\n"
                    f"  return wrk.format('GET', '{PREFIX}/shipments/' .. ids[n % #ids + 1])\n"
                    "end\n")
    return path


# ---------------------------------------------------------------------------------------------
# filing


FILING_ELEMENTS = {"H": ("Cu", "%"), "L": ("Au", "g/t"), "P": ("Ag", "g/t")}
"""One element per filing run: the registry takes one original result per shipment, laboratory
and element (migration 0004), so the three runs file into the same fresh shipments."""


def _cert_rows(shipments: list[str], lab: str, n: int, tag: str) -> list[dict]:
    element, unit = FILING_ELEMENTS[tag]
    return [{"shipment_id": shipments[i], "laboratory_id": lab,
             "certificate_id": f"{tag}{i:06d}", "element": element,
             "value": round(18 + (i % 113) / 10, 2), "unit": unit, "method": "ISO 10258",
             "date": "2024-06-01"} for i in range(n)]


def _fresh_shipments(engine, factory, ledger, lab: str, n: int) -> list[str]:
    """n new shipments (copies of the ledger's first, ids B0000001..) assigned to `lab` as
    their exporter laboratory: room for one result per element of each filing run. Declared,
    analysed (PostgreSQL), then assigned: within one transaction PostgreSQL would check the
    assignments' references against 100,000 unanalysed new rows with 1,000-parameter IN lists
    it cannot hash, about 1.6 s per query."""
    import pandas as pd
    ids = [f"B{i:07d}" for i in range(1, n + 1)]
    rows = pd.DataFrame([ledger.shipments.iloc[0]] * n).assign(shipment_id=ids)
    with factory.begin() as s:
        ev.declare_shipments(s, "bench", demo._rows(rows, m.Shipment))
    if engine.dialect.name == "postgresql":       # fresh statistics, as autovacuum would give
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    with factory.begin() as s:
        ev.assign_laboratories(s, "bench", pd.DataFrame(
            {"shipment_id": ids, "laboratory_id": lab, "role": "exporter"}))
    return ids


def _plain_insert(factory, rows: list[dict]) -> float:
    """Seconds for an executemany insert of `rows` (no validation, no audit), rolled back."""
    at = dt.datetime.now(dt.timezone.utc)
    write = [{**r, "date": dt.date.fromisoformat(r["date"]), "version": 1, "filed_by": "bench",
              "filed_at": at, "synthetic": False} for r in rows]
    with factory() as s:
        t = time.perf_counter()
        s.execute(insert(m.Certificate), write)
        s.flush()
        took = time.perf_counter() - t
        s.rollback()
    return took


def run(kind: str, args, tmp: Path) -> dict:
    out: dict = {"db": kind}
    with database(kind, args.pg, tmp) as url:
        engine = init_db(url)
        factory = session_factory(engine)
        ledger = simulate_ledger(KAZ_2024_VOLUMES, power_study_config(), SEED)
        t = time.perf_counter()
        with factory.begin() as s:
            counts = demo.fill_from_ledger(s, ledger)
            auth.add_user(s, "bench", "inspector", "inspector")
            token = auth.issue_token(s, "bench", "inspector")
            labs = ledger.laboratories
            lab = labs.loc[labs["hired_by"] == "exporter", "laboratory_id"].iloc[0]
            auth.add_user(s, "bench", "lab-bench", "laboratory", party_id=lab)
            lab_token = auth.issue_token(s, "bench", "lab-bench")
            ids = list(s.scalars(select(m.Shipment.shipment_id)))
        out["fill_s"] = time.perf_counter() - t
        out["filled"] = counts
        script = _id_script(tmp / f"ids-{kind}.lua", ids)
        with server(url, args.workers, tmp / f"server-{kind}.log") as base:
            wrk(base + PREFIX + "/me", token, 2)                              # warm-up
            out["me"] = wrk(base + PREFIX + "/me", token, args.seconds)
            out["by_id"] = wrk(base + PREFIX + "/shipments/x", token, args.seconds, script)
            out["list50"] = wrk(base + PREFIX + "/shipments?limit=50", token, args.seconds)
            lab_ships = _fresh_shipments(engine, factory, ledger, lab, args.rows)  # after reads
            rows = _cert_rows(lab_ships, lab, args.rows, "H")
            body = json.dumps({"rows": rows}).encode()
            t = time.perf_counter()
            r = httpx.post(base + PREFIX + "/certificates", content=body, timeout=600,
                           headers={"Authorization": f"Bearer {lab_token}",
                                    "Content-Type": "application/json"})
            out["http_s"] = time.perf_counter() - t
            if r.status_code != 201 or r.json()["data"]["count"] != args.rows:
                sys.exit(f"HTTP filing failed: {r.status_code} {r.text[:500]}")
            out["body_mb"] = len(body) / 1e6
        rows = _cert_rows(lab_ships, lab, args.rows, "L")
        t = time.perf_counter()
        with factory.begin() as s:
            filed = ev.file_certificates(s, "bench", rows)
        out["library_s"] = time.perf_counter() - t
        assert len(filed) == args.rows
        out["plain_s"] = _plain_insert(factory, _cert_rows(lab_ships, lab, args.rows, "P"))
        engine.dispose()
    return out


def report(res: dict, rows: int) -> list[str]:
    lines = [f"{res['db']}: demo registry {res['filled']['shipments']:,} shipments, "
             f"{res['filled']['certificates']:,} certificates (filled in {res['fill_s']:.1f} s)"]
    for key, label in (("me", "GET /me (baseline)"), ("by_id", "GET /shipments/{id}"),
                       ("list50", "GET /shipments?limit=50")):
        w = res[key]
        lines.append(f"  {label:26} {w['rps']:8.0f} req/s  p50 {w['p50']:6.1f} ms  "
                     f"p99 {w['p99']:6.1f} ms  ({w['requests']:,} requests, non-2xx {w['bad']}, "
                     f"socket errors {w['socket_errors']}; load average {w['load']:.1f})")
    lines.append(f"  reads ÷ baseline: by id {res['by_id']['rps'] / res['me']['rps']:.2f}, "
                 f"list {res['list50']['rps'] / res['me']['rps']:.2f}")
    lines.append(f"  file {rows:,} rows: library {res['library_s']:.1f} s "
                 f"({rows / res['library_s']:,.0f} rows/s), HTTP JSON {res['http_s']:.1f} s "
                 f"({res['body_mb']:.1f} MB), plain executemany {res['plain_s']:.1f} s; "
                 f"library ÷ plain {res['library_s'] / res['plain_s']:.1f}")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default="sqlite,postgresql")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--pg", default=os.environ.get(
        "CRITMIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, uvicorn --workers {args.workers}, wrk -t1 "
          f"-c{CLIENTS} -d{args.seconds:g}s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            res = run(kind, args, Path(tmp))
            print("\n".join(report(res, args.rows)), flush=True)
            slowest = max(res["library_s"], res["http_s"]) * 100_000 / args.rows
            checks = [("100,000 rows filed < 20 s", slowest < 20)]
            if kind == "sqlite":
                for key in ("by_id", "list50"):
                    checks.append((f"{key} ≥ 500 req/s, p99 < 100 ms",
                                   res[key]["rps"] >= 500 and res[key]["p99"] < 100))
            for label, passed in checks:
                print(f"  target {label}: {'PASS' if passed else 'FAIL'}")
                ok &= passed
            ok &= all(res[k]["bad"] == 0 for k in ("me", "by_id", "list50"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
