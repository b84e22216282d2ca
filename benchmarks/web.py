"""Web app latency: the commodity page and its JSON twin under 20 concurrent clients.

What: a real uvicorn server (one process, the app from `critmin.web.create_app`, warehouse
built from the bundle in a temporary CRITMIN_HOME) on a free loopback port, in a child
process. Measured in the same run, with httpx:
- the first, uncached render of each commodity (the view computed from the warehouse),
  then one warm-up request per page (the rendered HTML is cached apart from the data);
- the baseline: 1 client, requests one after the other (cached views);
- the load: 20 clients (threads, one httpx.Client each) hitting the page and the JSON twin of
  the six brief commodities in a shuffled, seeded order.

Why: absolute times on this small shared machine mean little; the figures are p50/p99 per
endpoint and the RATIO of p99 under 20 clients to p50 of one client. Target: p99 < 300 ms
under 20 concurrent clients for both the page and the JSON twin. Exits 1 if missed.

Note: the clients run in this Python process (threads share its GIL), so the measured latency
includes some client-side queueing; it is an upper bound on what the server adds.

    /work/venv/bin/python benchmarks/web.py [--clients 20] [--requests 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

COMMODITIES = ["nickel", "palladium", "rare_earths", "copper", "cobalt", "lithium"]
TARGET_P99_MS = 300.0
SERVER = """
import sys, uvicorn
from critmin.web import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs) + 0.5) - 1))]  # nearest rank


def _urls(kind: str) -> list[str]:
    return [f"/commodity/{c}" if kind == "page" else f"/api/commodity/{c}" for c in COMMODITIES]


def _timed_get(client, url: str) -> float:
    t0 = time.perf_counter()
    r = client.get(url)
    ms = (time.perf_counter() - t0) * 1e3
    if r.status_code != 200:
        raise SystemExit(f"{url}: HTTP {r.status_code}")
    return ms


def main() -> int:
    import httpx
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=40, help="per client per endpoint kind")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="critmin-web-bench-")
    env = dict(os.environ, CRITMIN_HOME=home)
    subprocess.run([sys.executable, "-c", "from critmin.data import warehouse; "
                    "warehouse.build(warehouse.warehouse_path())"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.2)

        with httpx.Client(base_url=base, timeout=30) as c:
            first = {c_: _timed_get(c, f"/api/commodity/{c_}") for c_ in COMMODITIES}
            _timed_get(c, "/static/plotly.min.js")
            for u in _urls("page"):   # the rendered page is cached apart from its data
                _timed_get(c, u)
            single = {k: [_timed_get(c, u) for _ in range(5) for u in _urls(k)]
                      for k in ("page", "json")}

        rng = random.Random(args.seed)
        results: dict[str, list[float]] = {"page": [], "json": []}
        lock = threading.Lock()
        start = threading.Barrier(args.clients)

        def client_run(i: int) -> None:
            plan = [(k, u) for k in ("page", "json") for u in _urls(k)] * \
                   max(1, args.requests // len(COMMODITIES))
            random.Random(rng.random() + i).shuffle(plan)
            out = {"page": [], "json": []}
            with httpx.Client(base_url=base, timeout=30) as cl:
                start.wait()
                for k, u in plan:
                    out[k].append(_timed_get(cl, u))
            with lock:
                for k in out:
                    results[k].extend(out[k])

        threads = [threading.Thread(target=client_run, args=(i,)) for i in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)

    n = sum(len(v) for v in results.values())
    print("first (uncached) JSON render per commodity, ms: "
          + ", ".join(f"{k} {v:.0f}" for k, v in first.items()))
    print(f"{'endpoint':<22}{'1 client p50':>14}{'p99':>8}{f'{args.clients} clients p50':>18}"
          f"{'p99':>8}{'p99 ÷ 1-client p50':>20}")
    ok = True
    for k, label in (("page", "/commodity/{name}"), ("json", "/api/commodity/{name}")):
        s50, s99 = statistics.median(single[k]), _pct(single[k], 99)
        l50, l99 = statistics.median(results[k]), _pct(results[k], 99)
        ok &= l99 < TARGET_P99_MS
        print(f"{label:<22}{s50:>14.1f}{s99:>8.1f}{l50:>18.1f}{l99:>8.1f}{l99 / s50:>20.1f}")
    print(f"{n} requests from {args.clients} clients in {wall:.1f} s ({n / wall:.0f} req/s); "
          f"uncached first render ÷ cached 1-client JSON p50: "
          f"{statistics.median(first.values()) / statistics.median(single['json']):.0f}×")
    print(f"target p99 < {TARGET_P99_MS:.0f} ms under {args.clients} clients: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
