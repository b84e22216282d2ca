"""Vectorised world and bloc market clearing on cost curves: the Monte-Carlo workhorse.

One commodity, one period, M scenarios at once (arrays (M, N) over producers, (M, J) over
consumers). With x = p / p0 (notes/market.md §1.1, §1.2, §5.2):

    supply   q_i(p) = 1[p ≥ c_i] · min(K_i, q0_i x^ε_i)          (ε_i = 0: a step of q0_i at c_i)
    demand   d_j(p) = d0_j x^η_j                                  (η_j ≤ 0)
    stocks   R(p)   = min(H, κ · D0 · (x − 1)^+)                  (D0 = Σ_j d0_j, base)
    clearing E(p)   = Σ_j d_j(p) − Σ_i q_i(p) − R(p) − m = 0      (m: net imports, 0 for a world)

Scenario shocks multiply the curves: `capacity_factor` k_i scales producer i's whole curve
(K_i and q0_i: a producer that loses a share s of its plant loses that share of its output at
every price, so with no caps binding S(p) = (1 − s) Q0 x^ε and p*/p0 = (1 − s)^(−1/(ε − η)),
§1.1); `demand_factor` g_j scales d0_j; elasticities may be drawn per scenario.

Solve in named stages: `build_curves` (market + shocks → arrays) → `solve_curves` (price per
scenario) → `read_result` (quantities, welfare, concentration). `clear_world` runs the three.

The solve is exact on step curves. E is non-increasing in p and right-continuous, with downward
jumps at the distinct cash costs. Stage 1 binary-searches the sorted cost breakpoints (plus the
floor p0·1e−6 and the choke price) for the segment (a, b] where E changes sign; stage 2 either
finds that E stays positive up to b on the active set {c_i ≤ a} — the price then sits ON the cost
step b (merit-order convention: price = the marginal producer's cash cost, the producers with
c_i = b dispatched pro rata, θ = E_A(b) / S_marginal(b) ∈ (0, 1]) — or solves the continuous
segment by a safeguarded Newton–bisection in ln p (Numerical Recipes `rtsafe`) to `tol` in ln p
(relative price). If supply, stocks and imports cannot meet demand at the choke price, the
price is the choke price and the unmet demand is the physical shortfall (rationed pro rata to
demand at the choke price). Failure is loud: `ClearError` names the market, scenario rows and
tolerance.

Blocs (§5.3): `components` splits the countries by the sanctions graph, `clear_blocs` clears each
component at its own price, reports the zero-friction world price next to them, and for two
components can link them by a flow that carries a friction τ (USD/t).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from critmin.errors import CritminError
from critmin.market.model import Market, MarketError, check_market

__all__ = [
    "BlocResult", "ClearError", "ClearResult", "Curves", "Solution", "build_curves", "clear_blocs",
    "clear_world", "components", "demand", "producer_surplus", "read_result", "solve_curves",
    "stock_release", "supply", "world_prices",
]

PRICE_FLOOR_REL = 1e-6
"""The lowest price searched, as a share of p0: a market whose excess demand is still ≤ 0 there
(supply at ~zero cost exceeds perfectly inelastic demand) has no meaningful price and raises."""


class ClearError(CritminError, RuntimeError):
    """A clearing solve that did not converge or has no price: names market, scenario rows, tol."""

    def __init__(self, market: str, rows, problem: str, *, scenario: str | None = None,
                 tol: float | None = None):
        self.market = market
        self.rows = [int(r) for r in np.atleast_1d(rows)]
        self.scenario = scenario
        self.tol = tol
        self.problem = problem
        where = f"market {market!r}" + (f", scenario {scenario!r}" if scenario else "")
        shown = ", ".join(map(str, self.rows[:8])) + (", ..." if len(self.rows) > 8 else "")
        tail = f" (tol={tol:g} in ln p)" if tol is not None else ""
        super().__init__(f"{where}: {problem} in {len(self.rows)} scenario row(s) [{shown}]{tail}")


# --- stage 0: curves as arrays --------------------------------------------------------------------

@dataclass(frozen=True)
class Curves:
    """The market as arrays for M scenarios (shocks applied). Shapes: cost, K_base, q0_base,
    country (N,); K, q0, eps (M, N) (may be broadcast views); d0, eta (M, J); d0_base (J,);
    H (M,). kappa_D0 = κ·D0 (t per unit of x − 1). p0, pc: base and choke price (USD/t)."""

    commodity: str
    p0: float
    pc: float
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    country: np.ndarray
    cost: np.ndarray
    K_base: np.ndarray
    q0_base: np.ndarray
    K: np.ndarray
    q0: np.ndarray
    eps: np.ndarray
    d0_base: np.ndarray
    d0: np.ndarray
    eta: np.ndarray
    H: np.ndarray
    kappa_D0: float

    @property
    def M(self) -> int:
        return int(self.H.shape[0])

    def rows(self, sl) -> Curves:
        """Scenario rows `sl`: a slice (a block of the Monte-Carlo) or an index array."""
        return replace(self, K=self.K[sl], q0=self.q0[sl], eps=self.eps[sl], d0=self.d0[sl],
                       eta=self.eta[sl], H=self.H[sl])

    def take(self, prod: np.ndarray, cons: np.ndarray) -> Curves:
        """The sub-market of producers `prod` and consumers `cons` (index arrays). Stocks go with
        base demand: H_k = H·D0_k/D0 and κ·D0_k, so the blocs' releases add up to the world's
        at a common price."""
        D0 = float(self.d0_base.sum())
        share = float(self.d0_base[cons].sum()) / D0 if D0 > 0 else 0.0
        return replace(
            self, producers=tuple(self.producers[i] for i in prod),
            consumers=tuple(self.consumers[j] for j in cons), country=self.country[prod],
            cost=self.cost[prod], K_base=self.K_base[prod], q0_base=self.q0_base[prod],
            K=self.K[:, prod], q0=self.q0[:, prod], eps=self.eps[:, prod],
            d0_base=self.d0_base[cons], d0=self.d0[:, cons], eta=self.eta[:, cons],
            H=self.H * share, kappa_D0=self.kappa_D0 * share)


def _factor(name: str, value, M: int, n: int, *, low: float = 0.0, high: float = np.inf):
    """A scenario array broadcast to (M, n): scalar, (n,) per column, (M, 1) or (M, n)."""
    a = np.asarray(value, dtype=float)
    if a.ndim > 2:
        raise MarketError(f"{name}: at most 2 dimensions (scenarios × rows), got shape {a.shape}")
    try:
        out = np.broadcast_to(a, (M, n))
    except ValueError:
        raise MarketError(f"{name}: shape {a.shape} does not broadcast to (scenarios, rows) = "
                          f"({M}, {n}); give a scalar, ({n},), ({M}, 1) or ({M}, {n})") from None
    bad = ~np.isfinite(out) | (out < low) | (out > high)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise MarketError(f"{name}: impossible value {out[i, j]!r} at scenario {i}, row {j} "
                          f"(allowed {low} .. {high})")
    return out


def _n_scenarios(**arrays) -> int:
    """M from the leading dimension of the 2-D shock arrays (and 1-D `stocks_t`)."""
    sizes = {}
    for name, v in arrays.items():
        if v is None:
            continue
        a = np.asarray(v)
        if name == "stocks_t" and a.ndim == 1:
            sizes[name] = a.shape[0]
        elif a.ndim == 2:
            sizes[name] = a.shape[0]
    ms = {s for s in sizes.values() if s != 1}
    if len(ms) > 1:
        raise MarketError(f"scenario counts disagree: {sizes}")
    return ms.pop() if ms else 1


def build_curves(market: Market, *, capacity_factor=None, demand_factor=None,
                 supply_elasticity=None, demand_elasticity=None, stocks_t=None) -> Curves:
    """Stages build + apply: the checked market with its scenario shocks as arrays.

    capacity_factor k (M,N), scales K and q0; demand_factor g (M,J), scales d0;
    supply_elasticity ε ≥ 0 (M,N) and demand_elasticity η ≤ 0 (M,J) replace the table's;
    stocks_t H (M,) replaces market.stocks_t. Each accepts a scalar, a per-row vector ((N,) or
    (J,)), a per-scenario column (M, 1) or a full (M, rows) array."""
    check_market(market)
    P, C = market.producers, market.consumers
    N, J = len(P), len(C)
    M = _n_scenarios(capacity_factor=capacity_factor, demand_factor=demand_factor,
                     supply_elasticity=supply_elasticity, demand_elasticity=demand_elasticity,
                     stocks_t=stocks_t)
    K = P["capacity_t"].to_numpy(float)
    q0 = P["base_output_t"].to_numpy(float)
    d0 = C["base_demand_t"].to_numpy(float)
    k = _factor("capacity_factor", 1.0 if capacity_factor is None else capacity_factor, M, N)
    g = _factor("demand_factor", 1.0 if demand_factor is None else demand_factor, M, J)
    eps = _factor("supply_elasticity", P["supply_elasticity"].to_numpy(float)
                  if supply_elasticity is None else supply_elasticity, M, N)
    eta = _factor("demand_elasticity", C["demand_elasticity"].to_numpy(float)
                  if demand_elasticity is None else demand_elasticity, M, J, low=-np.inf,
                  high=0.0)
    H = _factor("stocks_t", market.stocks_t if stocks_t is None
                else np.reshape(np.asarray(stocks_t, float), (-1, 1)), M, 1)[:, 0]
    return Curves(
        commodity=market.commodity, p0=float(market.base_price_usd_per_t),
        pc=float(market.choke_price_usd_per_t),
        producers=tuple(map(str, P["producer"])), consumers=tuple(map(str, C["consumer"])),
        country=P["country"].astype(str).to_numpy(), cost=P["cost_usd_per_t"].to_numpy(float),
        K_base=K, q0_base=q0, K=K * k, q0=q0 * k, eps=eps, d0_base=d0, d0=d0 * g, eta=eta,
        H=np.array(H, dtype=float), kappa_D0=float(market.stock_release_share) * float(d0.sum()))


# --- the curves (pure) ----------------------------------------------------------------------------

def _supply_at(cv: Curves, u: np.ndarray, active: np.ndarray):
    """q (M,N) at ln x = u (M,) on the active mask, the isoelastic term and its 'uncapped' mask."""
    qi = cv.eps * u[:, None]
    np.exp(qi, out=qi)                                            # in place: one (M, N) buffer
    qi *= cv.q0
    unc = qi < cv.K
    return np.where(active, np.minimum(qi, cv.K), 0.0), qi, unc


def _demand_at(cv: Curves, u: np.ndarray) -> np.ndarray:
    d = cv.eta * u[:, None]
    np.exp(d, out=d)
    d *= cv.d0                                                    # d0_j x^η_j
    return d


def _release_at(cv: Curves, x: np.ndarray):
    rel = cv.kappa_D0 * (x - 1.0)                                 # κ D0 (x − 1)
    return np.clip(rel, 0.0, cv.H), (rel > 0) & (rel < cv.H)


def _excess(cv: Curves, u, active, m, *, deriv=False):
    """E(u) = Σd − Σq − R − m (M,), and dE/du when deriv (Σ η d − Σ_uncapped ε q − κ D0 x)."""
    x = np.exp(u)
    q, qi, unc = _supply_at(cv, u, active)
    d = _demand_at(cv, u)
    r, r_unc = _release_at(cv, x)
    E = d.sum(axis=1) - q.sum(axis=1) - r - m
    if not deriv:
        return E
    dE = ((cv.eta * d).sum(axis=1) - np.where(active & unc, cv.eps * qi, 0.0).sum(axis=1)
          - np.where(r_unc, cv.kappa_D0 * x, 0.0))
    return E, dE


def supply(p, producers: pd.DataFrame, p0: float, *, capacity_factor=None,
           supply_elasticity=None) -> np.ndarray:
    """q_i(p) = 1[p ≥ c_i] · min(k_i K_i, k_i q0_i (p/p0)^ε_i), shape (M, N) for p of shape (M,).

    `producers` has the PRODUCER_COLUMNS of `critmin.market.model`; shocks as in build_curves."""
    p = np.atleast_1d(np.asarray(p, dtype=float))
    M, N = p.shape[0], len(producers)
    k = _factor("capacity_factor", 1.0 if capacity_factor is None else capacity_factor, M, N)
    eps = _factor("supply_elasticity", producers["supply_elasticity"].to_numpy(float)
                  if supply_elasticity is None else supply_elasticity, M, N)
    K = producers["capacity_t"].to_numpy(float) * k
    q0 = producers["base_output_t"].to_numpy(float) * k
    on = p[:, None] >= producers["cost_usd_per_t"].to_numpy(float)
    return np.where(on, np.minimum(K, q0 * (p[:, None] / p0) ** eps), 0.0)


def demand(p, consumers: pd.DataFrame, p0: float, *, demand_factor=None,
           demand_elasticity=None) -> np.ndarray:
    """d_j(p) = g_j d0_j (p/p0)^η_j, shape (M, J) for p of shape (M,)."""
    p = np.atleast_1d(np.asarray(p, dtype=float))
    M, J = p.shape[0], len(consumers)
    g = _factor("demand_factor", 1.0 if demand_factor is None else demand_factor, M, J)
    eta = _factor("demand_elasticity", consumers["demand_elasticity"].to_numpy(float)
                  if demand_elasticity is None else demand_elasticity, M, J, low=-np.inf,
                  high=0.0)
    return consumers["base_demand_t"].to_numpy(float) * g * (p[:, None] / p0) ** eta


def stock_release(p, p0: float, *, stocks_t, stock_release_share: float,
                  base_demand_t: float) -> np.ndarray:
    """R(p) = min(H, κ · D0 · (p/p0 − 1)^+), shape of p."""
    p = np.asarray(p, dtype=float)
    return np.minimum(stocks_t, stock_release_share * base_demand_t * np.maximum(p / p0 - 1, 0))


# --- stage 1+2: solve --------------------------------------------------------------------------

@dataclass(frozen=True)
class Solution:
    """Where each scenario cleared. kind: 0 interior root, 1 on a cost step, 2 shortfall at the
    choke price, 3 no market (no demand, no exports). a: top of the active costs (c ≤ a produce
    in full); b: the step cost when kind 1; theta: the marginal step's dispatched share."""

    price: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    m: np.ndarray


def solve_curves(cv: Curves, *, net_import=None, tol: float = 1e-9, max_iter: int = 200,
                 scenario: str | None = None, engine: str | None = None) -> Solution:
    """Stage solve: the clearing price of each of the M scenarios (module docstring).

    net_import m (M,), t: imports (m > 0) or exports (m < 0) of this market at any price.
    engine: 'numba' (the compiled `critmin.market.kernel`, same prices to tol), 'numpy' (this
    module's array solver) or None/'auto' (numba when installed; $CRITMIN_MARKET_ENGINE)."""
    from critmin.market import kernel
    if not 0 < tol < 1:
        raise MarketError(f"tol must be in (0, 1) (got {tol!r})")
    M = cv.M
    m = np.zeros(M) if net_import is None else np.broadcast_to(
        np.asarray(net_import, float), (M,)).astype(float)
    p0, pc = cv.p0, cv.pc
    floor = p0 * PRICE_FLOOR_REL
    inner = np.unique(cv.cost[(cv.cost > floor) & (cv.cost < pc)])
    B = np.concatenate([[floor], inner, [pc]])                    # breakpoints, USD/t
    if kernel.engine(engine) == "numba":
        return _solve_kernel(cv, m, B, tol=tol, max_iter=max_iter, scenario=scenario)
    lnB = np.log(B / p0)
    L = len(B)

    def at(k):                                                    # E at breakpoints k (M,)
        return _excess(cv, lnB[k], cv.cost[None, :] <= B[k][:, None], m)

    zero = np.zeros(M, dtype=int)
    top = np.full(M, L - 1)
    f_floor, f_top = at(zero), at(top)
    d_floor = _demand_at(cv, lnB[zero]).sum(axis=1)
    no_market = d_floor + np.maximum(-m, 0.0) <= 0
    bad = ~no_market & ~(f_floor > 0)
    if bad.any():
        raise _no_price(cv, np.flatnonzero(bad), floor, scenario)
    short = ~no_market & (f_top > 0)
    regular = ~no_market & ~short

    # stage 1: the cost segment (B[lo], B[hi]] where E changes sign (E(B[lo]) > 0 ≥ E(B[hi]))
    lo, hi, f_hi = zero.copy(), top.copy(), f_top.copy()
    while ((hi - lo) > 1).any():
        open_ = (hi - lo) > 1
        mid = (lo + hi) // 2
        f = at(mid)
        down = open_ & (f <= 0)
        hi, f_hi = np.where(down, mid, hi), np.where(down, f, f_hi)
        lo = np.where(open_ & ~down, mid, lo)
    a, b = B[lo], B[hi]
    active = cv.cost[None, :] <= a[:, None]                      # fixed on (a, b)
    f_b = _excess(cv, lnB[hi], active, m)                         # E_A(b−)
    step = regular & (f_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(step, f_b / (f_b - f_hi), 1.0)           # E_A(b) / S_marginal(b)

    # stage 2: safeguarded Newton–bisection in u = ln x on (ln a, ln b) (rtsafe)
    todo = regular & ~step
    ul, uh = lnB[lo].copy(), lnB[hi].copy()
    u = np.where((ul < 0) & (uh > 0), 0.0, 0.5 * (ul + uh))
    dx_old = uh - ul
    dx = dx_old.copy()
    done = ~todo
    if todo.any():
        f, df = _excess(cv, u, active, m, deriv=True)
        for _ in range(max_iter):
            up = f > 0                                            # root above u
            ul, uh = np.where(up & ~done, u, ul), np.where(~up & ~done, u, uh)
            conv = done | (f == 0)
            done = conv
            if done.all():
                break
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                newton = ((df < 0) & (((u - uh) * df - f) * ((u - ul) * df - f) < 0)
                          & (np.abs(2.0 * f) <= np.abs(dx_old * df)))
                step_n = f / df
            dx_old = dx
            dx = np.where(newton, step_n, 0.5 * (uh - ul))
            u_new = np.where(newton, u - step_n, 0.5 * (ul + uh))
            u = np.where(done, u, u_new)
            small = (np.abs(dx) < 0.1 * tol) | ((uh - ul) < tol)
            live = np.flatnonzero(~done)
            if 2 * len(live) < M:             # most rows have converged: evaluate the rest only
                f_new, df_new = _excess(cv.rows(live), u[live], active[live], m[live],
                                        deriv=True)
                f, df = f.copy(), df.copy()
                f[live], df[live] = f_new, df_new
            else:
                f_new, df_new = _excess(cv, u, active, m, deriv=True)
                f, df = np.where(done, f, f_new), np.where(done, df, df_new)
            done = done | small
        if not done.all():
            raise _no_convergence(cv, np.flatnonzero(~done), max_iter, scenario, tol)

    price = np.where(todo, p0 * np.exp(u), b)
    price = np.where(short, pc, price)
    price = np.where(no_market, np.nan, price)
    kind = np.select([no_market, short, step], [3, 2, 1], 0)
    a = np.where(short, pc, np.where(no_market, -np.inf, a))
    return Solution(price=price, kind=kind, a=a, b=np.where(step, b, np.nan),
                     theta=np.where(step, theta, 1.0), m=m)


def _no_price(cv: Curves, rows, floor: float, scenario) -> ClearError:
    return ClearError(cv.commodity, rows, f"excess demand ≤ 0 even at the price floor "
                      f"{floor:g} USD/t (supply at ~zero cost exceeds inelastic demand): no "
                      "clearing price", scenario=scenario)


def _no_convergence(cv: Curves, rows, max_iter: int, scenario, tol) -> ClearError:
    return ClearError(cv.commodity, rows, f"price did not converge within max_iter={max_iter} "
                      "iterations", scenario=scenario, tol=tol)


def _solve_kernel(cv: Curves, m, B, *, tol, max_iter, scenario) -> Solution:
    """solve_curves by the compiled kernel (critmin.market.kernel), failures raised alike."""
    from critmin.market import kernel
    price, kind, a, b, theta, status = kernel.solve(cv, m, B, tol=tol, max_iter=max_iter)
    if (status == kernel.NO_PRICE).any():
        raise _no_price(cv, np.flatnonzero(status == kernel.NO_PRICE), float(B[0]), scenario)
    if (status == kernel.NO_CONVERGENCE).any():
        raise _no_convergence(cv, np.flatnonzero(status == kernel.NO_CONVERGENCE), max_iter,
                              scenario, tol)
    return Solution(price=price, kind=kind, a=a, b=b, theta=theta, m=m)


# --- stage 3: read -------------------------------------------------------------------------

@dataclass(frozen=True)
class ClearResult:
    """Per scenario (M rows). Quantities in t, prices in USD/t, surplus changes in USD.

    price (M,): clearing price p* (NaN: a bloc with neither consumers nor exports).
    output (M, N): q_i(p*), the marginal cost step dispatched pro rata when on_cost_step.
    demand (M, J): d_j(p*), what consumers want at p*. consumption (M, J): what they get; equal
    to demand except at the choke price, where Σ consumption = Σ output + release + imports and
    each consumer is rationed in proportion to its demand.
    stock_release (M,): R(p*). net_import (M,): imports of this market (0 for a world market).
    shortfall_t (M,): Σ demand − Σ consumption (> 0 only at the choke price).
    Balance: Σ output + stock_release + net_import = Σ consumption; + shortfall_t = Σ demand.
    demand_destroyed_t (M,): Σ g_j d0_j − Σ d_j(p*), demand lost to the price move (negative
    when the price falls).
    loss_making_share (M,): L = Σ_i k_i q0_i 1[c_i > p*] / Σ_i k_i q0_i, the share of (shocked)
    base output from producers whose cash cost is above the new price ("would close if
    sustained", §1.2).
    producer_surplus_change (M, N): ∫_0^{p*} q_i^new(p) dp − ∫_0^{p0} q_i^base(p) dp (the base
    curve without the capacity shock; ∫ is closed form, q = 0 below c_i).
    consumer_surplus_change (M, J): −∫_{p0}^{p*} d_j^new(p) dp on the shocked demand curve (the
    price effect; a demand shift's own welfare effect is not measured, isoelastic gross surplus
    being infinite for |η| ≤ 1). Unserved demand at the choke price is valued at the choke price
    (value of lost load), so it adds no further loss.
    hhi_before / hhi_after (M,): Σ_c s_c² over producer countries (0..1) of base output q0 and of
    output(p*).
    on_cost_step (M,): the price is a producer's cash cost (merit-order convention).
    """

    commodity: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    price: np.ndarray
    output: np.ndarray
    demand: np.ndarray
    consumption: np.ndarray
    stock_release: np.ndarray
    net_import: np.ndarray
    shortfall_t: np.ndarray
    demand_destroyed_t: np.ndarray
    loss_making_share: np.ndarray
    producer_surplus_change: np.ndarray
    consumer_surplus_change: np.ndarray
    hhi_before: np.ndarray
    hhi_after: np.ndarray
    on_cost_step: np.ndarray


def _int_xpow(lnx_lo, lnx_hi, a):
    """∫_{x_lo}^{x_hi} x^(a−1) dx = (x_hi^a − x_lo^a)/a (ln(x_hi/x_lo) when a = 0), in ln x."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base = np.exp(a * lnx_lo)
        span = lnx_hi - lnx_lo
        out = base * np.where(a != 0, np.expm1(a * span) / np.where(a != 0, a, 1.0), span)
    return np.where(span == 0, 0.0, out)


def _producer_surplus(p, cost, K, q0, eps, p0, cost_pow=None):
    """PS_i(p) = ∫_{c_i}^{max(p, c_i)} min(K_i, q0_i (s/p0)^ε_i) ds in closed form, (M, N); 0
    where p is NaN (no market: nothing sold).

    The cap binds above p_k = p0 (K/q0)^(1/ε); below it the integral is
    q0 p0 (x_hi^(ε+1) − x_lo^(ε+1)) / (ε + 1), x = s/p0; above it K (p − max(c, p_k)).
    cost_pow: (c/p0)^(ε+1) when already computed (it depends on neither p nor the shock)."""
    p2 = np.asarray(p, float)
    p2 = p2[:, None] if p2.ndim == 1 else p2
    ok = np.isfinite(p2)
    hi = np.maximum(np.where(ok, p2, 0.0), cost)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lnk = np.where(q0 > 0,
                       np.where(eps > 0, np.log(K / np.where(q0 > 0, q0, 1.0))
                                / np.where(eps > 0, eps, 1.0), np.where(K > q0, np.inf, 0.0)),
                       np.inf)
        pk = p0 * np.exp(lnk)
    kink = np.minimum(hi, pk)
    a = eps + 1.0
    if cost_pow is None:
        cost_pow = (cost / p0) ** a
    iso = np.where(kink > cost, q0 * p0 * ((kink / p0) ** a - cost_pow) / a, 0.0)
    capped = K * np.maximum(hi - np.maximum(cost, pk), 0.0)
    return np.where(ok, iso + capped, 0.0)


def _surplus_at_price(cv: Curves, p, x, qi, cost_pow) -> np.ndarray:
    """`_producer_surplus` at the solved prices p (M,), from the isoelastic outputs already
    computed there, qi = q0 x^ε (x = p/p0): fewer powers and logs than the general form.

    Uncapped at p (qi < K): q0 p0 ((p/p0)^(ε+1) − (c/p0)^(ε+1))/(ε+1) = p0 (qi x − q0 (c/p0)^(ε+1))
    /(ε+1). Capped: the cap binds from p_k = p0 (K/q0)^(1/ε) (0 for ε = 0), where
    q0 (p_k/p0)^(ε+1) = K p_k/p0; the isoelastic part runs to p_k (0 if p_k ≤ c), then
    K (p − max(c, p_k)). 0 where c > p; finite p only (the caller masks the rest)."""
    capped = qi >= cv.K
    rk = np.zeros(qi.shape)                                       # p_k / p0 where capped
    m = capped & (cv.q0 > 0) & (cv.eps > 0)
    if m.any():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.divide(cv.K, cv.q0, out=rk, where=m)
            np.log(rk, out=rk, where=m)
            np.divide(rk, cv.eps, out=rk, where=m)
            np.exp(rk, out=rk, where=m)
    pk = cv.p0 * rk
    top = np.where(capped, cv.K * rk, qi * x[:, None])            # q0 (kink/p0)^(ε+1)
    iso = cv.p0 * (top - cv.q0 * cost_pow) / (cv.eps + 1.0)
    iso = np.where(capped & (pk <= cv.cost), 0.0, iso)
    pc = p[:, None]
    flat = np.where(capped, cv.K * np.maximum(pc - np.maximum(cv.cost, pk), 0.0), 0.0)
    return np.where(cv.cost <= pc, iso + flat, 0.0)


def producer_surplus(cv: Curves, price) -> np.ndarray:
    """Producer surplus over cash cost, USD, per scenario and producer (M, N), on the (shocked)
    curves of `cv` at `price` (USD/t): (M,) one price per scenario, or (M, N) each producer's
    own (bloc) price. Closed form of `_producer_surplus`; 0 where the price is NaN."""
    return _producer_surplus(price, cv.cost, cv.K, cv.q0, cv.eps, cv.p0)


def _hhi_by_country(q: np.ndarray, country: np.ndarray) -> np.ndarray:
    """HHI = Σ_c (Σ_{i∈c} q_i / Σ_i q_i)² per row; NaN where total output is 0."""
    codes, idx = np.unique(country, return_inverse=True)
    agg = q @ (idx[:, None] == np.arange(len(codes))[None, :]).astype(float)
    tot = agg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = agg / tot[:, None]
        return np.where(tot > 0, (s * s).sum(axis=1), np.nan)


def read_result(cv: Curves, sol: Solution) -> ClearResult:
    """Stage read: quantities, welfare and concentration at the solved prices."""
    p, M = sol.price, cv.M
    ok = np.isfinite(p)
    u = np.where(ok, np.log(np.where(ok, p, cv.p0) / cv.p0), 0.0)
    active = cv.cost[None, :] <= sol.a[:, None]
    qi = cv.eps * u[:, None]
    np.exp(qi, out=qi)
    qi *= cv.q0                                                   # q0 x^ε, uncapped
    out = np.minimum(qi, cv.K)
    marginal = (sol.kind == 1)[:, None] & (cv.cost[None, :] == sol.b[:, None])
    if marginal.any():                                           # disjoint from active (b > a)
        q = np.where(active, out, np.where(marginal, out * sol.theta[:, None], 0.0))
    else:
        q = np.where(active, out, 0.0)
    d = np.where(ok[:, None], _demand_at(cv, u), 0.0)
    x = np.exp(u)
    r = np.where(ok, _release_at(cv, x)[0], 0.0)
    D = d.sum(axis=1)
    avail = q.sum(axis=1) + r + sol.m
    short = sol.kind == 2
    over = short & (avail < 0)
    if over.any():
        raise ClearError(cv.commodity, np.flatnonzero(over), "net exports exceed the market's "
                         "whole supply and stocks at the choke price (nothing left to consume)")
    with np.errstate(divide="ignore", invalid="ignore"):
        ration = np.where(short & (D > 0), avail / D, 1.0)
    cons = d * ration[:, None]
    shortfall = np.where(short, D - avail, 0.0)

    base = np.broadcast_to(cv.q0, (M, len(cv.cost)))
    tot = base.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lms = np.where(ok & (tot > 0), (base * (cv.cost[None, :] > p[:, None])).sum(axis=1)
                       / tot, np.nan)
    a = cv.eps + 1.0
    cost_pow = (cv.cost / cv.p0) ** a                            # shared by both surpluses
    ps_new = np.where(ok[:, None], _surplus_at_price(cv, p, x, qi, cost_pow), 0.0)
    # the base curve at p0: q0 <= K (check_market), so its cap binds at p0 or above and the
    # integral is the isoelastic part alone (_producer_surplus with kink = p0)
    ps_old = np.where(cv.cost < cv.p0, cv.q0_base * cv.p0 * (1.0 - cost_pow) / a, 0.0)
    cs = -cv.d0 * cv.p0 * _int_xpow(np.zeros((M, 1)), u[:, None], cv.eta + 1.0)
    cs = np.where(ok[:, None], cs, 0.0)
    return ClearResult(
        commodity=cv.commodity, producers=cv.producers, consumers=cv.consumers, price=p,
        output=q, demand=d, consumption=cons, stock_release=r, net_import=sol.m.copy(),
        shortfall_t=shortfall,
        demand_destroyed_t=np.where(ok, cv.d0.sum(axis=1) - D, 0.0),
        loss_making_share=lms, producer_surplus_change=ps_new - ps_old,
        consumer_surplus_change=cs,
        hhi_before=np.broadcast_to(_hhi_by_country(cv.q0_base[None, :], cv.country), (M,)).copy(),
        hhi_after=_hhi_by_country(q, cv.country), on_cost_step=sol.kind == 1)


def clear_world(market: Market, *, capacity_factor=None, demand_factor=None,
                supply_elasticity=None, demand_elasticity=None, stocks_t=None,
                tol: float = 1e-9, max_iter: int = 200,
                scenario: str | None = None, engine: str | None = None) -> ClearResult:
    """One world price per scenario: Σ_j d_j(p) = Σ_i q_i(p) + R(p) (module docstring).

    Shocks as in `build_curves`; M = their common number of scenario rows (1 if none). tol is
    the tolerance in ln p (relative price); `scenario` only names the run in errors; engine as
    in `solve_curves`."""
    cv = build_curves(market, capacity_factor=capacity_factor, demand_factor=demand_factor,
                      supply_elasticity=supply_elasticity, demand_elasticity=demand_elasticity,
                      stocks_t=stocks_t)
    return _clear_blocks(cv, tol=tol, max_iter=max_iter, scenario=scenario, engine=engine)


def world_prices(market: Market, *, capacity_factor=None, demand_factor=None,
                 supply_elasticity=None, demand_elasticity=None, stocks_t=None,
                 tol: float = 1e-9, max_iter: int = 200, scenario: str | None = None,
                 engine: str | None = None) -> Solution:
    """`clear_world` without the read stage: where each scenario clears (Solution: price in
    USD/t, kind, marginal step), for runs that need prices only."""
    cv = build_curves(market, capacity_factor=capacity_factor, demand_factor=demand_factor,
                      supply_elasticity=supply_elasticity, demand_elasticity=demand_elasticity,
                      stocks_t=stocks_t)
    return _clear_blocks(cv, tol=tol, max_iter=max_iter, scenario=scenario, read=False,
                         engine=engine)


BLOCK = 4096
"""Scenarios solved together: blocks whose (BLOCK, N) arrays stay in cache are ~1.5-2x faster
than one pass over all M."""


def _clear_blocks(cv: Curves, *, net_import=None, tol, max_iter, scenario,
                  read: bool = True, engine: str | None = None) -> ClearResult | Solution:
    """solve_curves + read_result over blocks of BLOCK scenarios, concatenated (read=False:
    the concatenated Solution only). Blocks run on `threads.pool()` when there are several:
    the kernel and NumPy's array loops release the GIL."""
    from critmin.market.threads import map_ordered
    M = cv.M
    m = None if net_import is None else np.broadcast_to(np.asarray(net_import, float), (M,))

    def one(start):
        sl = slice(start, min(start + BLOCK, M))
        b = cv.rows(sl)
        try:
            sol = solve_curves(b, net_import=None if m is None else m[sl], tol=tol,
                               max_iter=max_iter, scenario=scenario, engine=engine)
        except ClearError as e:                   # finish the run, then name every failed row
            return None, (e, np.asarray(e.rows) + start)
        return (read_result(b, sol) if read else sol), None

    done = map_ordered(one, range(0, M, BLOCK))
    parts = [p for p, f in done if f is None]
    failed = [f for _, f in done if f is not None]
    if failed:
        e = failed[0][0]
        rows = np.concatenate([r for f, r in failed if f.problem == e.problem])
        raise ClearError(e.market, rows, e.problem, scenario=scenario, tol=e.tol)
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    arrays = {f: np.concatenate([getattr(p, f) for p in parts])
              for f in type(first).__dataclass_fields__
              if isinstance(getattr(first, f), np.ndarray)}
    return replace(first, **arrays)


# --- blocs ---------------------------------------------------------------------------------

def _solve_blocks(cv: Curves, *, net_import=None, tol, max_iter, scenario) -> Solution:
    """solve_curves over blocks of BLOCK scenarios (cache-sized, as `_clear_blocks`)."""
    return _clear_blocks(cv, net_import=net_import, tol=tol, max_iter=max_iter,
                         scenario=scenario, read=False)


def components(countries: Iterable[str], blocked: Iterable[tuple[str, str]], *,
               sellers: Iterable[str] | None = None,
               buyers: Iterable[str] | None = None) -> dict[str, int]:
    """Connected components of allowed trade: {country: component id}, ids 0.. in sorted order.

    Two countries are linked when trade is allowed BOTH ways, i.e. neither (A, B) nor (B, A) is
    in `blocked` (exporter, importer); every other pair is linked (trade is allowed unless
    blocked, including through third countries: components are transitive). A one-way ban —
    e.g. A's purchase ban on B's exports blocks (B, A) only — therefore cuts the link A–B as a
    two-way ban would; with costless re-routing this matters only when no third country links
    the two sides. This is the conservative split; the direction-aware equilibrium is the
    spatial price equilibrium (`critmin.market.spe`), and the zero-friction world price of
    `clear_blocs` is the other bound. Pairs naming countries not in `countries` are ignored.

    sellers / buyers (the countries that produce / consume): when given, a pair is linked only
    if one side can sell to the other, so two countries that only sell (a banned exporter and a
    stock holder, say) are never linked directly: a country that buys nothing relays nothing."""
    nodes = sorted(set(map(str, countries)))
    pos = {c: i for i, c in enumerate(nodes)}
    cut = {(pos[a], pos[b]) for a, b in blocked if a in pos and b in pos and a != b}
    if sellers is not None or buyers is not None:
        sell = {pos[c] for c in map(str, () if sellers is None else sellers) if c in pos}
        buy = {pos[c] for c in map(str, () if buyers is None else buyers) if c in pos}
        cut |= {(i, j) for i in range(len(nodes)) for j in range(i + 1, len(nodes))
                if not ((i in sell and j in buy) or (j in sell and i in buy))}
    parent = list(range(len(nodes)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            if (i, j) not in cut and (j, i) not in cut:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    ids: dict[int, int] = {}
    return {c: ids.setdefault(find(i), len(ids)) for i, c in enumerate(nodes)}


@dataclass(frozen=True)
class BlocResult:
    """Bloc prices next to the zero-friction bound.

    component: {country: id}; members: countries per id. price (M, C): price per component.
    blocs: one ClearResult per component (its producers and consumers only; net_import is the
    inter-bloc flow when linked). output (M, N), consumption (M, J), in the market's row order.
    shortfall_t (M, C). world: the zero-friction bound, one world price (blocked ignored).
    flow_t (M,): t from component 0 to component 1 (negative: 1 → 0) when two components were
    linked with `friction_usd_per_t`, else None; friction_usd_per_t (M,) or None."""

    commodity: str
    component: dict[str, int]
    members: tuple[tuple[str, ...], ...]
    price: np.ndarray
    blocs: tuple[ClearResult, ...]
    output: np.ndarray
    consumption: np.ndarray
    shortfall_t: np.ndarray
    world: ClearResult
    flow_t: np.ndarray | None = None
    friction_usd_per_t: np.ndarray | None = None


def _link(cva: Curves, cvb: Curves, pa, pb, tau, cap, *, tol, max_iter, scenario):
    """Flow φ ≥ 0 from the cheap to the dear bloc with p_dear − p_cheap = τ, or φ = cap, or 0.

    g(φ) = s·(p_B(φ) − p_A(φ)) − τ is continuous and non-increasing in φ (each side's price is
    the exact clearing price with net import ±sφ); Illinois regula falsi on [0, φ_hi]."""
    M = cva.M
    ga = np.where(np.isnan(pa), -np.inf, pa)
    gb = np.where(np.isnan(pb), -np.inf, pb)
    s = np.sign(np.where(np.isnan(pa) & np.isnan(pb), 0.0, gb - ga))
    gap = s * (gb - ga) - tau
    s = np.where(gap > 0, s, 0.0)
    trade = s != 0
    phi = np.zeros(M)
    if not trade.any():
        return phi
    exp_cv = (cva, cvb)
    # exporter's whole supply at the choke price; importer's demand less own supply at the floor
    uc = np.full(M, np.log(cva.pc / cva.p0))
    uf = np.full(M, np.log(PRICE_FLOOR_REL))

    def avail(cv):
        q, _, _ = _supply_at(cv, uc, np.broadcast_to(cv.cost <= cv.pc, (M, len(cv.cost))))
        return q.sum(axis=1) + _release_at(cv, np.exp(uc))[0]

    def room(cv):
        q, _, _ = _supply_at(cv, uf, np.broadcast_to(cv.cost <= cv.p0 * PRICE_FLOOR_REL,
                                                      (M, len(cv.cost))))
        return _demand_at(cv, uf).sum(axis=1) - q.sum(axis=1)

    x_a, x_b, r_a, r_b = avail(exp_cv[0]), avail(exp_cv[1]), room(cva), room(cvb)
    hi_phi = np.where(s > 0, np.minimum(x_a, r_b * (1 - 1e-9)),
                      np.minimum(x_b, r_a * (1 - 1e-9)))
    hi_phi = np.where(trade, np.maximum(np.minimum(cap, hi_phi), 0.0), 0.0)

    def g(ph, idx=None):
        """g on all rows, or on rows idx only (ph given for those rows)."""
        if idx is None:
            ca, cb, si, ti, tr = cva, cvb, s, tau, trade
        else:
            ca, cb, si, ti, tr = cva.rows(idx), cvb.rows(idx), s[idx], tau[idx], trade[idx]
        try:
            sa = _solve_blocks(ca, net_import=-si * ph, tol=tol * 0.1, max_iter=max_iter,
                               scenario=scenario)
            sb = _solve_blocks(cb, net_import=si * ph, tol=tol * 0.1, max_iter=max_iter,
                               scenario=scenario)
        except ClearError as e:                   # name the rows of the whole run
            if idx is None:
                raise
            raise ClearError(e.market, idx[e.rows], e.problem, scenario=scenario,
                             tol=e.tol) from None
        qa = np.where(np.isnan(sa.price), -np.inf, sa.price)
        qb = np.where(np.isnan(sb.price), -np.inf, sb.price)
        with np.errstate(invalid="ignore"):
            val = si * (qb - qa) - ti
        scale = np.nanmax(np.stack([sa.price, sb.price, np.full(len(si), cva.p0)]), axis=0)
        return np.where(tr, val, 0.0), scale

    g_hi, _ = g(hi_phi)
    at_cap = trade & (g_hi >= 0)                                   # the cap binds
    lo, hi = np.zeros(M), hi_phi.copy()
    f_lo = np.where(trade, gap, 0.0)
    f_hi = g_hi
    done = ~trade | at_cap
    phi = np.where(at_cap, hi_phi, 0.0)
    side = np.zeros(M)
    for _ in range(max_iter):
        if done.all():
            break
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = np.where(np.isfinite(f_lo) & np.isfinite(f_hi) & (f_lo != f_hi),
                         hi - f_hi * (hi - lo) / (f_hi - f_lo), 0.5 * (lo + hi))
        x = np.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
        live = np.flatnonzero(~done)              # converged rows keep their flow: skip them
        fx, scale = np.zeros(M), np.ones(M)
        fx[live], scale[live] = g(x[live], live)
        conv = (np.abs(fx) <= tol * scale) | ((hi - lo) <= tol * np.maximum(hi_phi, 1e-300))
        up = fx > 0                                                # root above x
        # Illinois: halve the retained end's value when the same end is kept twice
        f_hi = np.where(~done & up & (side == 1), f_hi * 0.5, f_hi)
        f_lo = np.where(~done & ~up & (side == -1), f_lo * 0.5, f_lo)
        lo, f_lo = np.where(~done & up, x, lo), np.where(~done & up, fx, f_lo)
        hi, f_hi = np.where(~done & ~up, x, hi), np.where(~done & ~up, fx, f_hi)
        side = np.where(~done, np.where(up, 1, -1), side)
        phi = np.where(~done, x, phi)
        done = done | conv
    if not done.all():
        raise ClearError(cva.commodity, np.flatnonzero(~done),
                         f"inter-bloc flow did not converge within max_iter={max_iter}",
                         scenario=scenario, tol=tol)
    return s * phi


def clear_blocs(market: Market, *, capacity_factor=None, demand_factor=None,
                supply_elasticity=None, demand_elasticity=None, stocks_t=None,
                friction_usd_per_t=None, flow_cap_t=np.inf, groups=None, tol: float = 1e-9,
                max_iter: int = 200, scenario: str | None = None) -> BlocResult:
    """Each component of allowed trade (`components` on market.blocked) clears at its own price.

    Countries are the producers' `country` and the consumers' `consumer` labels. Stocks are
    split by base demand (Curves.take). A component without consumers has price NaN (its output
    is stranded: 0) unless linked. friction_usd_per_t τ (scalar or (M,)): with exactly two
    components, a flow φ ≤ flow_cap_t moves from the cheaper to the dearer until their prices
    differ by τ (τ = 0 and no cap: the world price; τ large: the separate components). `world`
    is always the zero-friction bound.

    groups: (producer group (N,), consumer group (J,)) of integer ids 0..C-1 replaces the
    components of market.blocked (e.g. sanctioned origins with the buyers still open to them
    against the banning buyers; `component` then maps each country to its consumer's group,
    else its producer's)."""
    cv = build_curves(market, capacity_factor=capacity_factor, demand_factor=demand_factor,
                      supply_elasticity=supply_elasticity, demand_elasticity=demand_elasticity,
                      stocks_t=stocks_t)
    M = cv.M
    world = _clear_blocks(cv, tol=tol, max_iter=max_iter, scenario=scenario)
    if groups is None:
        comp = components([*cv.country, *cv.consumers], market.blocked, sellers=cv.country,
                          buyers=cv.consumers)
        pcomp = np.array([comp[c] for c in cv.country])
        ccomp = np.array([comp[c] for c in cv.consumers])
    else:
        pcomp, ccomp = (np.asarray(g, dtype=int) for g in groups)
        if pcomp.shape != (len(cv.country),) or ccomp.shape != (len(cv.consumers),):
            raise MarketError(f"groups must be ((N,), (J,)) = (({len(cv.country)},), "
                              f"({len(cv.consumers)},)) integer arrays")
        comp = {**dict(zip(cv.country, pcomp.tolist())), **dict(zip(cv.consumers,
                                                                    ccomp.tolist()))}
    C = int(max(pcomp.max(initial=0), ccomp.max(initial=0))) + 1
    members = tuple(tuple(c for c in comp if comp[c] == k) for k in range(C))
    subs = [cv.take(np.flatnonzero(pcomp == k), np.flatnonzero(ccomp == k)) for k in range(C)]
    sols = [_solve_blocks(s, tol=tol, max_iter=max_iter, scenario=scenario) for s in subs]
    flow = tau = None
    if friction_usd_per_t is not None:
        if C != 2:
            raise MarketError(f"friction_usd_per_t links exactly two components; the blocked "
                              f"pairs give {C}: {members}. Use critmin.market.spe for more")
        tau = np.broadcast_to(np.asarray(friction_usd_per_t, float), (M,)).copy()
        cap = np.broadcast_to(np.asarray(flow_cap_t, float), (M,))
        if not (np.all(tau >= 0) and np.all(cap >= 0)):
            raise MarketError("friction_usd_per_t and flow_cap_t must be >= 0")
        flow = _link(subs[0], subs[1], sols[0].price, sols[1].price, tau, cap, tol=tol,
                     max_iter=max_iter, scenario=scenario)
        sols = [_solve_blocks(subs[0], net_import=-flow, tol=tol, max_iter=max_iter,
                             scenario=scenario),
                _solve_blocks(subs[1], net_import=flow, tol=tol, max_iter=max_iter,
                             scenario=scenario)]
    blocs = tuple(read_result(s, sol) for s, sol in zip(subs, sols))
    output = np.zeros((M, len(cv.cost)))
    cons = np.zeros((M, len(cv.consumers)))
    for k, r in enumerate(blocs):
        output[:, pcomp == k] = r.output
        cons[:, ccomp == k] = r.consumption
    return BlocResult(
        commodity=cv.commodity, component=comp, members=members,
        price=np.column_stack([r.price for r in blocs]), blocs=blocs, output=output,
        consumption=cons, shortfall_t=np.column_stack([r.shortfall_t for r in blocs]),
        world=world, flow_t=flow, friction_usd_per_t=tau)
