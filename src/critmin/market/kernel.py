"""The compiled clearing kernel: `clear.solve_curves` one scenario at a time, in machine code.

Optional: it needs numba (`pip install critmin[fast]`); without it the NumPy solver runs and
gives the same prices. Same curves, same conventions (cost steps, choke price, price floor, ln-p
tolerance) as `critmin.market.clear`; only the search differs, because a scalar loop can stop
each scenario as soon as it is done instead of carrying the block to its slowest row:

1. Locate the cost segment. E(p) is non-increasing, so one evaluation at u = ln(p/p0) bounds the
   breakpoint bracket: E(u) > 0 gives E(B_k) > 0 for the segment k holding u (lo = k); E(u) ≤ 0
   gives E(B_{k+1}) ≤ 0 (hi = k + 1, or k when u is the breakpoint itself). Start at p0 (most
   shocks clear near it) and take safeguarded Newton steps in ln p on the current segment's
   curve; when Newton leaves the bracket or stalls, bisect the breakpoint indices. A Newton
   step below 0.1·tol inside one segment ends the search there (an interior root).
2. With the segment (B_lo, B_hi] known: the step test E_A(B_hi−) > 0 (price on the cost step,
   θ = E_A(b−)/(E_A(b−) − E(b))) or `rtsafe` on the segment, exactly as the NumPy solver.

The floor and choke-price evaluations happen only when the search needs them (E(floor) > 0 is
implied by any E(u) > 0, E(pc) ≤ 0 by any E(u) ≤ 0). Typical cost: 4-6 evaluations of 40 + 10
exponentials per scenario against 18 array evaluations in the NumPy solver. The kernel releases the
GIL, so blocks of scenarios run side by side (`critmin.market.threads`).
"""

from __future__ import annotations

import math
import os

import numpy as np

try:
    import numba
except ImportError:                       # optional dependency: the NumPy solver runs instead
    numba = None

__all__ = ["ENGINE_ENV", "available", "engine", "solve"]

ENGINE_ENV = "CRITMIN_MARKET_ENGINE"
"""Environment variable: 'numpy' forces the NumPy solver, 'numba' requires the kernel, 'auto'
(default) uses the kernel when numba is installed."""

OK, NO_CONVERGENCE, NO_PRICE = 0, 1, 2


def available() -> bool:
    """True when numba imports (the kernel can run)."""
    return numba is not None


def engine(requested: str | None = None) -> str:
    """'numba' or 'numpy': `requested`, else $CRITMIN_MARKET_ENGINE, else 'auto'."""
    from critmin.market.model import MarketError
    name = (requested or os.environ.get(ENGINE_ENV) or "auto").strip().lower()
    if name not in ("auto", "numpy", "numba"):
        raise MarketError(f"market engine {name!r}: use auto, numpy or numba "
                          f"(argument or ${ENGINE_ENV})")
    if name == "numba" and not available():
        raise MarketError("market engine 'numba' requested but numba is not installed: "
                          "pip install 'critmin[fast]', or use the numpy engine")
    if name == "auto":
        return "numba" if available() else "numpy"
    return name


def _jit(fn):
    return numba.njit(cache=True, nogil=True, error_model="numpy")(fn) if numba else fn


@_jit
def _segment(lnB, u):
    """Largest k with lnB[k] <= u (0 below the floor)."""
    lo, hi = 0, lnB.shape[0] - 1
    if u >= lnB[hi]:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if lnB[mid] <= u:
            lo = mid
        else:
            hi = mid
    return lo


@_jit
def _excess(r, u, cut, K, q0, eps, cost, d0, eta, H, kD0, m):
    """E(u) for scenario r with the producers of cost <= cut (clear._excess), and the Newton
    step in u (NaN when there is none): on g(u) = ln D(u) − ln(S(u) + R(u) + m) when both are
    positive (g is linear in u for isoelastic curves of one elasticity, so the step is nearly
    exact for a whole shock, where the step on E undershoots), else on E itself."""
    S = 0.0
    dS = 0.0
    for i in range(cost.shape[0]):
        if cost[i] <= cut:
            qi = q0[r, i] * math.exp(eps[r, i] * u)
            if qi < K[r, i]:
                S += qi
                dS += eps[r, i] * qi
            else:
                S += K[r, i]
    D = 0.0
    dD = 0.0
    for j in range(d0.shape[1]):
        dj = d0[r, j] * math.exp(eta[r, j] * u)
        D += dj
        dD += eta[r, j] * dj
    x = math.exp(u)
    rel = kD0 * (x - 1.0)
    if rel > 0.0:
        if rel < H[r]:
            S += rel
            dS += kD0 * x
        else:
            S += H[r]
    S += m[r]
    f = D - S
    step = np.nan
    if D > 0.0 and S > 0.0:
        dg = dD / D - dS / S
        if dg < 0.0:
            step = (math.log(D) - math.log(S)) / dg
    elif dD - dS < 0.0:
        step = f / (dD - dS)
    return f, step


@_jit
def _solve_rows(r0, r1, K, q0, eps, cost, d0, eta, H, kD0, m, p0, B, lnB, top_is_cost, tol,
                max_iter, price, kind, a_out, b_out, theta_out, status):
    L = B.shape[0]
    for r in range(r0, r1):
        theta_out[r] = 1.0
        b_out[r] = np.nan
        status[r] = OK
        dsum = 0.0
        for j in range(d0.shape[1]):
            dsum += d0[r, j]
        if dsum + max(-m[r], 0.0) <= 0.0:                       # no demand, no exports
            kind[r], price[r], a_out[r] = 3, np.nan, -np.inf
            continue
        # 1. the segment: lo, hi breakpoint indices with E(B_lo) > 0 >= E(B_hi)
        lo, hi = 0, L - 1
        lo_ok, hi_ok = False, False
        ul, uh = lnB[0], lnB[L - 1]
        fh = np.nan
        u = 0.0 if lnB[0] < 0.0 < lnB[L - 1] else 0.5 * (lnB[0] + lnB[L - 1])
        dx_old = 2.0 * (uh - ul)
        it = 0
        found = False
        last_u, last_step, last_k = np.nan, np.nan, -1
        kb = -1                               # the breakpoint index when u is one (bisection)
        while True:
            it += 1
            # by index at a bisected breakpoint: two costs one float apart share ln(c/p0), and
            # the lookup by value would always return the upper one
            k = kb if kb >= 0 else _segment(lnB, u)
            f, step = _excess(r, u, B[k], K, q0, eps, cost, d0, eta, H, kD0, m)
            last_u, last_step, last_k = u, step, k
            if f > 0.0:
                ul = u
                lo = max(lo, k)
                lo_ok = True
            else:
                uh, fh = u, f
                hi = min(hi, k if (kb >= 0 or u == lnB[k]) else k + 1)
                hi_ok = True
            t = u - step
            if abs(step) < 0.1 * tol and _segment(lnB, t) == k and t != lnB[k]:
                u, lo, found = t, k, True        # an interior root (on a breakpoint: step 2)
                break
            if hi - lo <= 1 or it >= max_iter:
                break
            if ul < t < uh and abs(2.0 * step) <= abs(dx_old):
                dx_old = step
                u, kb = t, -1
            else:
                mid = (lo + hi) // 2
                dx_old = lnB[mid] - u
                u, kb = lnB[mid], mid
        if found:
            kind[r], price[r], a_out[r] = 0, p0 * math.exp(u), B[lo]
            continue
        if hi - lo > 1:
            status[r] = NO_CONVERGENCE
            continue
        if not lo_ok:                                             # lo = 0: check the floor
            f0, _ = _excess(r, lnB[0], B[0], K, q0, eps, cost, d0, eta, H, kD0, m)
            if not f0 > 0.0:
                status[r] = NO_PRICE
                continue
        if not hi_ok and top_is_cost:         # hi = L-1: the choke price, needed at once
            ft, _ = _excess(r, lnB[L - 1], B[L - 1], K, q0, eps, cost, d0, eta, H, kD0, m)
            if ft > 0.0:
                kind[r], price[r], a_out[r] = 2, B[L - 1], B[L - 1]
                continue
            uh, fh, hi_ok = lnB[L - 1], ft, True
        # 2. step test, then rtsafe on (B_lo, B_hi) with the producers of cost <= B_lo
        #    (unless hi_ok, E(pc) <= 0 is checked only when the search has to bisect)
        a = B[lo]
        if hi_ok and uh == lnB[hi] and (hi < L - 1 or top_is_cost):
            fb, _ = _excess(r, lnB[hi], a, K, q0, eps, cost, d0, eta, H, kD0, m)
            if fb > 0.0:
                kind[r], price[r], a_out[r] = 1, B[hi], a
                b_out[r] = B[hi]
                theta_out[r] = fb / (fb - fh)
                continue
        ul = max(ul, lnB[lo])
        if last_k == lo and ul < last_u - last_step < uh:
            u = last_u - last_step
        else:
            u = 0.0 if ul < 0.0 < uh else 0.5 * (ul + uh)
        dx_old = 2.0 * (uh - ul)
        dx = dx_old
        f, step = _excess(r, u, a, K, q0, eps, cost, d0, eta, H, kD0, m)
        done = False
        short = False
        for _ in range(max_iter):
            if f > 0.0:
                ul = u
            else:
                uh, hi_ok = u, True
            if f == 0.0 or abs(step) < 0.1 * tol:
                if abs(step) < 0.1 * tol:
                    u = u - step
                done = True
                break
            newton = ul < u - step < uh and abs(2.0 * step) <= abs(dx_old)
            dx_old = dx
            if newton:
                dx = step
                u = u - dx
            else:
                if not hi_ok:                 # bisecting towards the choke price: check it
                    ft, _ = _excess(r, lnB[L - 1], B[L - 1], K, q0, eps, cost, d0, eta, H,
                                    kD0, m)
                    if ft > 0.0:
                        short = True
                        break
                    hi_ok = True
                dx = 0.5 * (uh - ul)
                u = 0.5 * (ul + uh)
            if abs(dx) < 0.1 * tol or (uh - ul) < tol:
                done = True
                break
            f, step = _excess(r, u, a, K, q0, eps, cost, d0, eta, H, kD0, m)
        if short:
            kind[r], price[r], a_out[r] = 2, B[L - 1], B[L - 1]
            continue
        if not done:
            status[r] = NO_CONVERGENCE
            continue
        kind[r], price[r], a_out[r] = 0, p0 * math.exp(u), a


def solve(cv, m: np.ndarray, B: np.ndarray, *, tol: float, max_iter: int):
    """The kernel on all rows of `cv` (clear.Curves) with net imports m (M,) and breakpoints B
    (floor, the distinct costs inside, choke; USD/t): (price, kind, a, b, theta, status), each
    (M,); status 0 solved, 1 no convergence within max_iter, 2 no price above the floor.
    One thread (the caller runs blocks in parallel: clear._clear_blocks)."""
    M = cv.M
    out = (np.empty(M), np.empty(M, dtype=np.int64), np.empty(M), np.empty(M), np.empty(M),
           np.empty(M, dtype=np.int64))
    _solve_rows(0, M, cv.K, cv.q0, cv.eps, cv.cost, cv.d0, cv.eta, cv.H, float(cv.kappa_D0),
                np.asarray(m, float), float(cv.p0), B, np.log(B / cv.p0),
                bool(np.any(cv.cost == cv.pc)), float(tol), int(max_iter), *out)
    return out
