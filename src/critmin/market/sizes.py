"""Uncertain shock sizes in the Monte Carlo: a scenario's ranges (`scenario.Range` on output
cuts, demand shocks and stock releases) drawn per draw and turned into the per-draw factors the
vectorised clear takes (`clear.build_curves`: capacity_factor, demand_factor, stocks_t).

Every such shock is linear in its size where `apply_scenario` applies it: a cut of s scales
its rows' capacity and base output by (1 − s) (s = cut_t / base, or cut_share), a demand shock
scales base demand by (1 + change_share), a release adds release_t t to a row or to the stock
pool. With the market at every size's low end (m_low) and, for each range k, at its high end
with the others low (m_k), the market at sizes x is

    q(x) = q_low + Σ_k t_k (q_k − q_low),     t_k = (x_k − low_k) / (high_k − low_k),

for capacity, base output, base demand and stocks alike, exactly when the ranged shocks act on
different rows, or add on the same rows (a cut in t after another cut). Two ranged shares on
the same rows multiply ((1 − s1)(1 − s2)): the cross term is checked for every pair of ranges
and such a pair is refused, naming both fields. The clear then runs on m_low with capacity_factor =
q(x)/q_low per row (capacity and base output move together) and demand_factor likewise. A
share range stays below 1, so every draw keeps m_low's rows. Pure: markets in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.market.model import Market, MarketError

__all__ = ["ShockSizes", "draw_sizes"]


@dataclass(frozen=True)
class ShockSizes:
    """The shocked market at every range's low end, the per-draw factors to clear it with, and
    the drawn sizes (DataFrame: one column per range, named group.index.field, in the field's
    unit: t or share)."""

    market: Market
    factors: dict
    drawn: pd.DataFrame


def _draw(rng: np.random.Generator, r, n: int) -> np.ndarray:
    if r.high == r.low:
        return np.full(n, float(r.low))
    if r.mode is None:
        return rng.uniform(r.low, r.high, n)
    return rng.triangular(r.low, r.mode, r.high, n)


def _arrays(m: Market):
    P, C = m.producers, m.consumers
    return (P["capacity_t"].to_numpy(float), P["base_output_t"].to_numpy(float),
            C["base_demand_t"].to_numpy(float), float(m.stocks_t))


def draw_sizes(market: Market, scenario, draws: int, seed=None) -> ShockSizes | None:
    """Draw each range of `scenario` `draws` times (a stream of its own: the same seed gives the
    elasticity draws of `montecarlo.draw_elasticities` unchanged) and return the factors; None
    when the scenario has no range."""
    from critmin.market.scenario import apply_scenario, at_values, uncertain_fields
    fields = uncertain_fields(scenario)
    if not fields:
        return None
    low = {path: r.low for path, r in fields}
    m_low, _ = apply_scenario(market, at_values(scenario, low))
    pooled = m_low.stocks_t > 0 and m_low.stock_release_share > 0
    for path, r in fields:
        if path[0] == "demand_shocks" and pooled and r.high > r.low:
            raise MarketError(f"{'.'.join(map(str, path))}: a ranged demand shock with a "
                              "price-responsive stock pool (its release κ·D0 scales with base "
                              "demand, which the per-draw factors leave at the low end); give "
                              "the demand shock a single value")
    cap0, q00, d00, h0 = _arrays(m_low)
    names = (tuple(m_low.producers["producer"].astype(str)),
             tuple(m_low.consumers["consumer"].astype(str)))
    rng = np.random.default_rng(None if seed is None else [int(seed), 1])
    cap, q0, d0 = (np.tile(a, (draws, 1)) for a in (cap0, q00, d00))
    H = np.full(draws, h0)
    drawn = {}
    for path, r in fields:
        x = _draw(rng, r, draws)
        drawn[".".join(map(str, path))] = x
        if r.high == r.low:
            continue
        m_k, _ = apply_scenario(market, at_values(scenario, {**low, path: r.high}))
        if (tuple(m_k.producers["producer"].astype(str)),
                tuple(m_k.consumers["consumer"].astype(str))) != names:
            raise MarketError(f"{'.'.join(map(str, path))}: the market's rows change across the "
                              "range; give a single value")
        ck, qk, dk, hk = _arrays(m_k)
        t = ((x - r.low) / (r.high - r.low))[:, None]
        cap += t * (ck - cap0)
        q0 += t * (qk - q00)
        d0 += t * (dk - d00)
        H += t[:, 0] * (hk - h0)
    _check_additive(market, scenario, low, fields, (cap0, q00, d00, h0))
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(cap0 > 0, cap / np.where(cap0 > 0, cap0, 1.0), 1.0)
        kq = np.where(q00 > 0, q0 / np.where(q00 > 0, q00, 1.0), k)
        g = np.where(d00 > 0, d0 / np.where(d00 > 0, d00, 1.0), 1.0)
    if not np.allclose(k, kq, rtol=1e-9, atol=0):
        raise MarketError("a ranged shock moves capacity and base output apart; "
                          "give single values")
    return ShockSizes(m_low, dict(capacity_factor=k, demand_factor=g, stocks_t=H),
                      pd.DataFrame(drawn))


def _check_additive(market, scenario, low, fields, base) -> None:
    """Each pair of ranges at their high ends moves the market by the sum of their separate
    moves (rel 1e-12), else MarketError naming both fields."""
    from critmin.market.scenario import apply_scenario, at_values
    moving = [(p, r) for p, r in fields if r.high > r.low]
    if len(moving) < 2:
        return
    alone = {p: _arrays(apply_scenario(market, at_values(scenario, {**low, p: r.high}))[0])
             for p, r in moving}
    for a in range(len(moving)):
        for b in range(a + 1, len(moving)):
            (pa, ra), (pb, rb) = moving[a], moving[b]
            both = _arrays(apply_scenario(market, at_values(
                scenario, {**low, pa: ra.high, pb: rb.high}))[0])
            for x0, xa, xb, xab in zip(base, alone[pa], alone[pb], both):
                if not np.allclose(np.asarray(xab) - x0, (np.asarray(xa) - x0)
                                   + (np.asarray(xb) - x0), rtol=1e-12, atol=1e-9):
                    raise MarketError(
                        f"{'.'.join(map(str, pa))} and {'.'.join(map(str, pb))}: ranged "
                        "shocks on the same rows that multiply (two shares) cannot be drawn "
                        "independently here; give one of them a single value")
