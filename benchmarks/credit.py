"""Merton benchmark: critmin's vectorised solve vs. a per-firm scipy.optimize.fsolve loop.

What: N firms (default 100,000; seed 20261129) with E/D log-uniform on [0.05, 20], σE uniform
on [0.1, 1.5], r uniform on [0, 10%], T uniform on [0.25, 10] years and debt log-uniform on
[1e6, 1e11] money units. critmin = `merton_solve` on the whole arrays (best of --repeat).
baseline = the usual per-firm loop: `scipy.optimize.fsolve` on the two equations in ratios to
debt from the same start (V/D = E/D + e^{−rT}, σV = σE·E/V), residuals with math.erfc (the
fastest scalar normal CDF in the standard library), no Jacobian, default tolerances; timed
once over all firms (or --loop-sample firms, extrapolated; the default is all of them).

Why: absolute times on this small, noisy machine mean little; the figure that matters is the
RATIO of the loop's time per firm to critmin's, both measured in the same run. Target >= 50x;
the script exits 1 if it fails or if the two disagree (|ΔV/V| or |ΔσV| > 1e-6 where fsolve
reports success).

    /work/venv/bin/python benchmarks/credit.py [--firms N] [--repeat N] [--loop-sample N]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

import numpy as np
import scipy
from scipy.optimize import fsolve

from critmin.credit.merton import merton_solve

SEED = 20261129
TARGET = 50.0
SQRT2 = math.sqrt(2.0)


def firms(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ratio = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    debt = np.exp(rng.uniform(np.log(1e6), np.log(1e11), n))
    return dict(equity=ratio * debt, equity_vol=rng.uniform(0.1, 1.5, n), debt=debt,
                rate=rng.uniform(0.0, 0.10, n), horizon=rng.uniform(0.25, 10.0, n))


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / SQRT2)


def fsolve_one(E, sE, D, r, T):
    """One firm the usual way: fsolve on (E, σE E) equations in V/D, σV."""
    e, k, sq = E / D, math.exp(-r * T), math.sqrt(T)

    def f(z):
        x, s = z
        if x <= 0 or s <= 0:
            return [1e10, 1e10]
        d1 = (math.log(x / k)) / (s * sq) + 0.5 * s * sq
        n1 = _phi(d1)
        return [x * n1 - k * _phi(d1 - s * sq) - e, x * n1 * s - sE * e]

    x0 = e + k
    (x, s), info, ier, _ = fsolve(f, [x0, sE * e / x0], full_output=True)
    return x * D, s, ier == 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop-sample", type=int, default=0, help="0 = loop over all firms")
    a = ap.parse_args(argv)
    g = firms(a.firms)
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")

    merton_solve(**{k: v[:1000] for k, v in g.items()})          # warm-up
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        sol = merton_solve(**g)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"critmin vectorised: {a.firms:,} firms, runs {', '.join(f'{t:.3f}' for t in times)} s,"
          f" best {best:.3f} s = {best / a.firms * 1e6:.2f} µs/firm; Newton iterations mean "
          f"{np.mean(sol.iterations):.2f}, max {int(np.max(sol.iterations))}")

    m = a.loop_sample or a.firms
    idx = np.arange(a.firms) if m >= a.firms else np.random.default_rng(SEED + 1).choice(
        a.firms, m, replace=False)
    cols = [g[k][idx].tolist() for k in ("equity", "equity_vol", "debt", "rate", "horizon")]
    V = np.empty(m)
    S = np.empty(m)
    ok = np.empty(m, dtype=bool)
    t0 = time.perf_counter()
    for i, args in enumerate(zip(*cols)):
        V[i], S[i], ok[i] = fsolve_one(*args)
    loop = time.perf_counter() - t0
    per_loop, per_vec = loop / m, best / a.firms
    print(f"fsolve loop: {m:,} firms in {loop:.2f} s = {per_loop * 1e6:.1f} µs/firm; "
          f"fsolve reports failure for {int((~ok).sum())} firms")
    dv = np.abs(V[ok] / sol.asset_value[idx][ok] - 1).max()
    ds = np.abs(S[ok] - sol.asset_vol[idx][ok]).max()
    print(f"agreement where fsolve succeeded: max |ΔV/V| {dv:.2e}, max |ΔσV| {ds:.2e}")
    ratio = per_loop / per_vec
    median = per_loop / (float(np.median(times)) / a.firms)
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"ratio loop/critmin per firm: {ratio:,.0f}x on critmin's best run, {median:,.0f}x on "
          f"its median (target >= {TARGET:g}x: {verdict})")
    return 0 if ratio >= TARGET and dv <= 1e-6 and ds <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
