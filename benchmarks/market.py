"""Market-clearing benchmark: critmin's vectorised world clear vs. a per-scenario brentq loop.

What: one nickel-like world market (seed 20261129): N = 40 producers on a cost curve (cash costs
7,000-15,500 USD/t, base output = 85-100 % of capacity, p0 = 16,000 USD/t, choke 54,000 USD/t),
J = 10 consumers, stocks 100 kt released at κ = 0.5. M = 100,000 Monte-Carlo scenarios draw per
producer capacity factors (a 20 % chance of a cut of 0-60 %, else 0.97-1.03), a demand factor per
scenario (0.9-1.1), supply elasticities per scenario and producer (uniform 0-0.3; 10 % of
producers pure steps, ε = 0), demand elasticities per scenario and consumer (uniform -0.3 to
-0.02) and stocks (uniform 0-150 kt). critmin = `clear_world` on all M at once (best of
--repeat, after a warm-up) — the solve and the read stage (quantities, welfare, HHI).
baseline = the usual per-scenario loop: `scipy.optimize.brentq` on the scalar excess demand
(numpy over the 40 producers and 10 consumers, choke test first, xtol 1e-12·p0), timed on a
seeded sample of --loop-sample scenarios in the same run and extrapolated per scenario.

Bloc run: `critmin shock examples/scenarios/pgm_west_purchase_ban.yaml --draws 10000` end to end
(`market.report.shock_report`: warehouse read, traded market, scenario, draws, the bloc solver,
the report; best of --repeat) and its clearing alone (`market.bilateral.run`, timed inside the
same runs).

Targets (issue 4), each printed PASS/FAIL: ≥ 200,000 scenarios/s for the world clear; ≥ 100x the
brentq loop; the bloc run end to end in < 2 s. The exit code reflects only the agreement check.

Why: absolute times on the small, noisy machine mean little; the RATIO of the loop's time per
scenario to critmin's is the figure. The script also checks that both agree to 1e-9 relative on
the sampled scenarios and exits 1 if not. Run from the repository root:

    /work/venv/bin/python benchmarks/market.py [--scenarios M] [--repeat N] [--loop-sample N]
        [--bloc-draws N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import scipy
from scipy.optimize import brentq

from critmin.market.clear import clear_world
from critmin.market.model import Market

SEED = 20261129
N, J = 40, 10
BLOC_SCENARIO = "examples/scenarios/pgm_west_purchase_ban.yaml"
TARGET_RATE, TARGET_RATIO, TARGET_BLOC_S = 200_000, 100, 2.0


def bloc_run(draws: int, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds per run of the palladium-ban shock report end to end, and of its clearing
    (`bilateral.run`) alone, over `repeat` runs after a warm-up."""
    from critmin.cli._shared import _connect
    from critmin.market import bilateral
    from critmin.market.report import shock_report
    run, inner = bilateral.run, []

    def timed(*args, **kw):
        t0 = time.perf_counter()
        try:
            return run(*args, **kw)
        finally:
            inner.append(time.perf_counter() - t0)

    bilateral.run = timed                 # shock_report calls bilateral.run through the module
    try:
        con = _connect()
        shock_report(con, BLOC_SCENARIO, draws=1000)             # warm-up
        inner.clear()
        outer = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            shock_report(con, BLOC_SCENARIO, draws=draws)
            outer.append(time.perf_counter() - t0)
    finally:
        bilateral.run = run
    return outer, inner


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def world(seed: int = SEED) -> Market:
    rng = np.random.default_rng(seed)
    cap = rng.uniform(20_000, 150_000, N)
    q0 = cap * rng.uniform(0.85, 1.0, N)
    P = pd.DataFrame(dict(producer=[f"p{i:02d}" for i in range(N)],
                          country=[f"C{i % 15:02d}" for i in range(N)], capacity_t=cap,
                          cost_usd_per_t=np.sort(rng.uniform(7_000, 15_500, N)),
                          base_output_t=q0, supply_elasticity=0.15))
    share = rng.dirichlet(np.ones(J))
    C = pd.DataFrame(dict(consumer=[f"X{j:02d}" for j in range(J)],
                          base_demand_t=share * q0.sum(), demand_elasticity=-0.1))
    return Market("nickel (synthetic)", P, C, 16_000.0, 54_000.0, stocks_t=100_000.0,
                  stock_release_share=0.5)


def draws(M: int, seed: int = SEED + 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cut = rng.random((M, N)) < 0.2
    k = np.where(cut, 1 - rng.uniform(0, 0.6, (M, N)), rng.uniform(0.97, 1.03, (M, N)))
    eps = np.where(rng.random((M, N)) < 0.1, 0.0, rng.uniform(0, 0.3, (M, N)))
    return dict(capacity_factor=k, demand_factor=rng.uniform(0.9, 1.1, (M, 1)),
                supply_elasticity=eps, demand_elasticity=rng.uniform(-0.3, -0.02, (M, J)),
                stocks_t=rng.uniform(0, 150_000, M))


def brentq_one(m: Market, k, g, eps, eta, H) -> float:
    """One scenario the usual way: brentq on Σd − Σq − R over [p0·1e-6, choke]."""
    P, C = m.producers, m.consumers
    cost, K, q0 = (P[c].to_numpy(float) for c in ("cost_usd_per_t", "capacity_t",
                                                     "base_output_t"))
    d0 = C["base_demand_t"].to_numpy(float)
    p0, pc, kD0 = m.base_price_usd_per_t, m.choke_price_usd_per_t, \
        m.stock_release_share * d0.sum()
    K, q0, d0 = K * k, q0 * k, d0 * g

    def E(p):
        x = p / p0
        q = np.where(p >= cost, np.minimum(K, q0 * x ** eps), 0.0).sum()
        return (d0 * x ** eta).sum() - q - min(H, kD0 * max(x - 1.0, 0.0))

    if E(pc) > 0:
        return pc
    return brentq(E, p0 * 1e-6, pc, xtol=1e-12 * p0, rtol=1e-15, maxiter=500)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop-sample", type=int, default=2_000)
    ap.add_argument("--bloc-draws", type=int, default=10_000)
    a = ap.parse_args(argv)
    m, d = world(), draws(a.scenarios)
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")

    clear_world(m, **{k: v[:1000] for k, v in d.items()})       # warm-up
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        r = clear_world(m, **d)
        times.append(time.perf_counter() - t0)
    best = min(times)
    per_vec = best / a.scenarios
    print(f"critmin clear_world: M={a.scenarios:,} x N={N} x J={J}, runs "
          f"{', '.join(f'{t:.2f}' for t in times)} s, best {best:.2f} s = "
          f"{per_vec * 1e6:.2f} µs/scenario = {1 / per_vec:,.0f} scenarios/s")
    print(f"  prices P5/P50/P95 {np.percentile(r.price, [5, 50, 95]).round(0)} USD/t; "
          f"on a cost step {r.on_cost_step.mean():.1%}; at the choke price "
          f"{(r.shortfall_t > 0).mean():.2%}")

    idx = np.random.default_rng(SEED + 2).choice(a.scenarios, min(a.loop_sample, a.scenarios),
                                                 replace=False)
    rows = [tuple(v[i] if v.ndim == 1 else v[i] for v in (
        d["capacity_factor"], d["demand_factor"][:, 0], d["supply_elasticity"],
        d["demand_elasticity"], d["stocks_t"])) for i in idx]
    t0 = time.perf_counter()
    ref = np.array([brentq_one(m, *row) for row in rows])
    loop = time.perf_counter() - t0
    per_loop = loop / len(idx)
    err = float(np.max(np.abs(r.price[idx] / ref - 1)))
    print(f"brentq loop: {len(idx):,} scenarios in {loop:.2f} s = {per_loop * 1e6:.1f} "
          f"µs/scenario = {1 / per_loop:,.0f} scenarios/s (extrapolated to M: "
          f"{per_loop * a.scenarios:.0f} s)")
    print(f"agreement on the sample: max |Δp/p| = {err:.1e}")
    ratio = per_loop / per_vec
    median = per_loop / (float(np.median(times)) / a.scenarios)
    print(f"ratio loop/critmin per scenario: {ratio:,.0f}x on critmin's best run, "
          f"{median:,.0f}x on its median")

    outer, inner = bloc_run(a.bloc_draws, a.repeat)
    print(f"bloc run ({BLOC_SCENARIO}, {a.bloc_draws:,} draws): end to end "
          f"{', '.join(f'{t:.2f}' for t in outer)} s, best {min(outer):.2f} s; clearing "
          f"(bilateral.run) {', '.join(f'{t:.2f}' for t in inner)} s, best {min(inner):.2f} s")
    print(f"target world rate >= {TARGET_RATE:,}/s: {1 / per_vec:,.0f}/s "
          f"{verdict(1 / per_vec >= TARGET_RATE)}")
    print(f"target ratio >= {TARGET_RATIO}x: {ratio:,.0f}x {verdict(ratio >= TARGET_RATIO)}")
    print(f"target bloc run < {TARGET_BLOC_S:g} s at {a.bloc_draws:,} draws: {min(outer):.2f} s "
          f"{verdict(min(outer) < TARGET_BLOC_S)}")
    return 0 if err <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
