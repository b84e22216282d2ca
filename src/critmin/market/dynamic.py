"""Dynamic mode: one world market stepped through periods (years or quarters) with stocks carried
over, partial adjustment of supply and closures with hysteresis (notes/market.md §1.5, §5.4).

Each period t clears like the static market (`critmin.market.clear`, one price per draw), with
quantities as annual rates (t/yr) and Δ the period in years (1 or 0.25). With x = p/p0:

    latent supply   u_i,t = min(B_i,t, u_i,t−1^(1−λ) (q0_i x_t^ε_i)^λ),  u_i,−1 = q0_i
                    (Nerlove partial adjustment of the price response: ln u_t = ln u_t−1 +
                    λ (ln q*(p_t) − ln u_t−1), q* = q0 x^ε the long-run curve; ε_short = λ ε)
    capacity        B_i,t = max(K_i, (K_i / q0_i) u_i,t−1): nameplate, or last period's latent
                    output with the base headroom (brownfield growth at the pace of λ; no
                    greenfield investment)
    output          q_i,t = open_i,t · min(k_i,t B_i,t, k_i,t u_i,t−1^(1−λ) (q0_i x_t^ε_i)^λ)
                    (a shock k, a lost share of plant, hits at once; the response to price lags)
    demand          d_t(x) = d0 x^η
    stocks          R_t = min(H_t / Δ, κ D0 (x − 1)^+),   H_t+1 = H_t − Δ R_t
    closures        a producer closes after T consecutive periods with p_t < c1_i and restarts
                    (from the next period) once p_t > c1_i (1 + ρ) (hysteresis, notes §1.2);
                    the producers due to close shut in merit order, from the highest c1, each
                    only while it would still lose money once those above it have shut
                    (`exit_in_merit_order`)

so λ = 1 and one period is the static model. `update_closures` and `closure_path` are the
hysteresis rule alone (price-taking); `simulate` runs the market. Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from critmin.market.clear import build_curves, read_result, solve_curves
from critmin.market.model import Market, MarketError

__all__ = ["DynamicResult", "closure_path", "exit_in_merit_order", "simulate",
           "update_closures"]


def update_closures(open_, below, price, cost, periods_below: int, restart_price, *,
                    limit=None):
    """One period of the hysteresis rule: (open (M, N), below (M, N)) after price p (M,).

    below counts the consecutive periods an open producer has sold below its cash cost `cost`
    (N,); it closes when the count reaches `periods_below`. A closed producer reopens when
    p > restart_price (N,) (cash cost plus a premium). Returned flags hold for the next period.
    limit: a function (due (M, N) bool) -> the producers that do close (a subset); the others
    stay open and keep their count (`simulate` passes `exit_in_merit_order`)."""
    if periods_below < 1:
        raise MarketError(f"periods_below must be >= 1 (got {periods_below})")
    p = np.asarray(price, float)[:, None]
    under = p < np.asarray(cost, float)[None, :]
    below = np.where(open_ & under, below + 1, 0)
    close = open_ & (below >= periods_below)
    if limit is not None and close.any():
        close = close & limit(close)
    reopen = ~open_ & (p > np.asarray(restart_price, float)[None, :])
    now = (open_ & ~close) | reopen
    return now, np.where(now, below, 0)


def exit_in_merit_order(step, due, c1, *, tol: float = 1e-9) -> np.ndarray:
    """The producers among `due` (M, N) that close: one at a time from the highest cash cost
    c1 (N,, USD/t), each only if it still loses money once the ones above it have closed.

    With the k-th highest due cost c_(k) and P(k) the price of the period's market `step`
    (clear.Curves) with the top k due producers shut, close the largest k with
    c_(k) > P(k − 1) (k = 1 always: P(0) is the price they were below). P rises and c_(k) falls
    with k, so the set is found by bisection on k (about log2 N clears per period). Without
    it, every due producer shuts at once: a third of world nickel output at once sends the
    price to the choke and reopens them all the next period, a cycle the market does not show
    (exit stops when the price covers the marginal producer's cost)."""
    c1 = np.asarray(c1, float)
    order = np.argsort(-c1, kind="stable")                        # highest cost first
    due_s = due[:, order]
    rank_s = np.cumsum(due_s, axis=1)                             # 1.. among due, cost order
    rank = np.empty_like(rank_s)
    rank[:, order] = rank_s
    n = due.sum(axis=1)
    c_s = np.broadcast_to(c1[order], due_s.shape)

    def cost_of(k):                                               # c_(k) per draw
        return np.where(due_s & (rank_s == k[:, None]), c_s, -np.inf).max(axis=1)

    def price_without(k):                                         # P(k): top k shut
        shut = due & (rank <= k[:, None])
        cv = replace(step, K=np.where(shut, 0.0, step.K), q0=np.where(shut, 0.0, step.q0))
        return solve_curves(cv, tol=tol, scenario="closures").price

    lo, hi = np.minimum(n, 1), n
    while (lo < hi).any():
        mid = np.where(lo < hi, (lo + hi + 1) // 2, lo)
        ok = cost_of(mid) > price_without(mid - 1)
        lo = np.where((lo < hi) & ok, mid, lo)
        hi = np.where((lo < hi) & ~ok, mid - 1, hi)
    return due & (rank <= lo[:, None])


def closure_path(prices, cost, periods_below: int, restart_price) -> np.ndarray:
    """Open flags (T + 1, M, N) along a given price path prices (T, M) (USD/t), every producer
    open at the start: row t is the state during period t, the last row after the path."""
    prices = np.atleast_2d(np.asarray(prices, float))
    T, M = prices.shape
    N = len(np.atleast_1d(cost))
    open_ = np.ones((M, N), bool)
    below = np.zeros((M, N), int)
    out = [open_]
    for t in range(T):
        open_, below = update_closures(open_, below, prices[t], cost, periods_below,
                                       restart_price)
        out.append(open_)
    return np.stack(out)


@dataclass(frozen=True)
class DynamicResult:
    """Per period t and draw m. price (T, M) USD/t; output (T, M, N) t/yr; open (T, M, N): the
    producers open during t; stocks_t (T + 1, M): stocks at the start of each period (t) and
    after the last; stock_release (T, M) t/yr; demand (T, M) t/yr; shortfall_t (T, M) t/yr;
    closed_capacity_t (T, M): nameplate capacity of the closed producers, t/yr; capacity_t
    (T, M, N): k_i,t B_i,t of the open producers (0 when closed), t/yr."""

    price: np.ndarray
    output: np.ndarray
    open: np.ndarray
    stocks_t: np.ndarray
    stock_release: np.ndarray
    demand: np.ndarray
    shortfall_t: np.ndarray
    closed_capacity_t: np.ndarray
    capacity_t: np.ndarray


def simulate(market: Market, periods: int, *, capacity_factor=None, supply_elasticity=None,
             demand_elasticity=None, adjustment: float = 1.0, period_years: float = 1.0,
             stocks_t=None, cash_cost_usd_per_t=None, periods_below: int | None = None,
             restart_premium_share: float = 0.0, tol: float = 1e-9) -> DynamicResult:
    """Step a world market through `periods` periods (module docstring).

    capacity_factor k: (T, M, N), (T, N), (T, 1) or a scalar; the period's shock (a banned
    exporter's row 0 every period, a stockpile row 1 while it lasts). supply_elasticity ε: the
    long-run ε of the curve (M, N), default the market's; demand_elasticity η (M, J).
    adjustment λ ∈ (0, 1] per period: a scalar, (M,) per draw or (M, N). period_years Δ
    (years per period; quantities are t/yr). stocks_t H0 (M,) or scalar, t, default
    market.stocks_t (released at κ = market.stock_release_share). cash_cost_usd_per_t c1 (N,)
    USD/t: default the market's `c1_usd_per_t` column, else cost_usd_per_t. periods_below T:
    None turns closures off. restart_premium_share ρ: restart above c1 (1 + ρ)."""
    lam_in = np.asarray(adjustment, float)
    if periods < 1 or period_years <= 0 or not np.all((lam_in > 0) & (lam_in <= 1)):
        raise MarketError("need periods >= 1, 0 < adjustment <= 1 and period_years > 0")
    if restart_premium_share < 0:
        raise MarketError("restart_premium_share must be >= 0")
    cv = build_curves(market, supply_elasticity=supply_elasticity,
                      demand_elasticity=demand_elasticity, stocks_t=stocks_t)
    M, N = cv.M, len(cv.cost)
    try:
        k = np.broadcast_to(np.asarray(1.0 if capacity_factor is None else capacity_factor,
                                       float).reshape(_shape3(capacity_factor, periods)),
                            (periods, M, N))
    except ValueError:
        raise MarketError(f"capacity_factor of shape {np.shape(capacity_factor)} does not "
                          f"broadcast to (periods, draws, producers) = ({periods}, {M}, {N})"
                          ) from None
    if (k < 0).any() or not np.isfinite(k).all():
        raise MarketError("capacity_factor must be finite and >= 0")
    P = market.producers
    if cash_cost_usd_per_t is None:
        c1 = (P["c1_usd_per_t"].fillna(P["cost_usd_per_t"]) if "c1_usd_per_t" in P
              else P["cost_usd_per_t"])
    else:
        c1 = cash_cost_usd_per_t
    c1 = np.asarray(c1, float)
    restart = c1 * (1 + restart_premium_share)
    eps_lr = np.broadcast_to(cv.eps, (M, N))
    try:
        lam = np.broadcast_to(lam_in.reshape((-1, 1)) if lam_in.ndim == 1 else lam_in, (M, N))
    except ValueError:
        raise MarketError(f"adjustment of shape {lam_in.shape} does not broadcast to (draws, "
                          f"producers) = ({M}, {N}); give a scalar, (M,) or (M, N)") from None
    lag = np.broadcast_to(cv.q0_base, (M, N)).astype(float)       # u_−1: base output
    with np.errstate(divide="ignore", invalid="ignore"):
        head = np.where(cv.q0_base > 0, cv.K_base / cv.q0_base, 1.0)   # K / q0
    open_ = np.ones((M, N), bool)
    below = np.zeros((M, N), int)
    H = np.array(cv.H, float)
    out = {n: [] for n in ("price", "output", "open", "stock_release", "demand", "shortfall",
                           "closed", "capacity")}
    stocks = [H.copy()]
    for t in range(periods):
        kt = k[t]
        scale = lag ** (1 - lam) * cv.q0_base ** lam               # u^(1−λ) q0^λ (x = 1)
        room = np.maximum(cv.K_base, head * lag)                   # B_t
        cap = np.where(open_, kt * room, 0.0)
        q0_eff = np.where(open_, kt * scale, 0.0)
        # stocks released per year of the period cannot exceed what is left: H / Δ
        step = replace(cv, K=cap, q0=q0_eff, eps=lam * eps_lr, H=H / period_years)
        res = read_result(step, solve_curves(step, tol=tol, scenario=f"period {t}"))
        x = res.price / cv.p0
        lag = np.minimum(room, scale * x[:, None] ** (lam * eps_lr))
        H = np.maximum(H - period_years * res.stock_release, 0.0)
        out["price"].append(res.price)
        out["output"].append(res.output)
        out["open"].append(open_)
        out["stock_release"].append(res.stock_release)
        out["demand"].append(res.demand.sum(axis=1))
        out["shortfall"].append(res.shortfall_t)
        out["closed"].append(np.where(open_, 0.0, kt * cv.K_base).sum(axis=1))
        out["capacity"].append(cap)
        stocks.append(H.copy())
        if periods_below is not None:
            open_, below = update_closures(
                open_, below, res.price, c1, periods_below, restart,
                limit=lambda due: exit_in_merit_order(step, due, c1, tol=tol))
    return DynamicResult(
        price=np.stack(out["price"]), output=np.stack(out["output"]),
        open=np.stack(out["open"]), stocks_t=np.stack(stocks),
        stock_release=np.stack(out["stock_release"]), demand=np.stack(out["demand"]),
        shortfall_t=np.stack(out["shortfall"]), closed_capacity_t=np.stack(out["closed"]),
        capacity_t=np.stack(out["capacity"]))


def _shape3(value, periods: int) -> tuple[int, ...]:
    """Reshape target so that (T,), (T, N) and (T, M, N) inputs broadcast over the draws."""
    a = np.asarray(1.0 if value is None else value)
    if a.ndim == 0:
        return (1, 1, 1)
    if a.ndim == 1:
        return (a.shape[0], 1, 1)
    if a.ndim == 2:
        return (a.shape[0], 1, a.shape[1])
    return a.shape
