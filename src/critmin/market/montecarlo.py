"""Monte Carlo over elasticity priors: draw (ε_s, η) per scenario row from elasticities.csv
(triangular, short run; notes §3.1 [memory] priors) and clear the base and the shocked world
market with the same draws (common random numbers) in one vectorised `clear_world` call each.

`run(market, shocks, draws, seed)` → one row per draw; `summary(table)` → P5/P50/P95. The same
seed gives identical draws and results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.market.clear import build_curves, clear_world, producer_surplus
from critmin.market.model import Market, MarketError

__all__ = ["ELASTICITIES_FILE", "Cleared", "clear_pair", "draw_elasticities", "draws_table",
           "elasticity_priors", "loss_making_at", "run", "summary", "supply_by_producer"]

ELASTICITIES_FILE = Path(__file__).resolve().parent / "elasticities.csv"
QUANTILES = {"P5": 0.05, "P50": 0.50, "P95": 0.95}


def elasticity_priors(commodity: str, horizon: str = "short_run", path=None) -> pd.DataFrame:
    """The supply and demand rows of `commodity` (columns side, distribution, low, mode, high,
    source). MarketError names the file when the commodity has none."""
    path = Path(path) if path is not None else ELASTICITIES_FILE
    t = pd.read_csv(path)
    t = t[(t["commodity"].astype(str).str.casefold() == commodity.casefold())
          & (t["horizon"] == horizon)]
    if set(t["side"]) != {"supply", "demand"}:
        raise MarketError(f"no {horizon} supply and demand elasticity priors for {commodity!r} "
                          f"in {path.name} ({path})")
    bad = t[(t["distribution"] != "triangular") | ~(t["low"] <= t["mode"])
            | ~(t["mode"] <= t["high"])]
    if not bad.empty:
        raise MarketError(f"{path.name}: {commodity} row(s) {list(bad['side'])} need "
                          f"distribution 'triangular' and low <= mode <= high")
    return t.reset_index(drop=True)


def _triangular(rng: np.random.Generator, low: float, mode: float, high: float, n: int):
    if high == low:
        return np.full(n, float(low))
    return rng.triangular(low, mode, high, size=n)


def draw_elasticities(commodity: str, draws: int, random_state=None) -> pd.DataFrame:
    """`draws` rows of supply_elasticity (≥ 0) and demand_elasticity (≤ 0) from the priors.
    random_state: a seed or a numpy Generator; the same seed gives the same draws."""
    if draws < 1:
        raise MarketError("draws must be >= 1")
    rng = np.random.default_rng(random_state)
    pri = elasticity_priors(commodity).set_index("side")
    out = {}
    for side in ("supply", "demand"):
        r = pri.loc[side]
        out[f"{side}_elasticity"] = _triangular(rng, float(r["low"]), float(r["mode"]),
                                                float(r["high"]), draws)
    return pd.DataFrame(out)


def loss_making_at(market: Market, price: np.ndarray, capacity_factor=None) -> np.ndarray:
    """L(p*) per draw: share of (shocked) base output whose C1 is above the price; rows
    without a C1 (stock releases, new supply) use their cash cost. capacity_factor (M, N):
    per-draw scaling of the base output (drawn shock sizes)."""
    P = market.producers
    c1 = (pd.to_numeric(P["c1_usd_per_t"], errors="coerce") if "c1_usd_per_t" in P
          else pd.Series(np.nan, index=P.index))
    c1 = c1.fillna(P["cost_usd_per_t"].astype(float)).to_numpy(float)
    w = P["base_output_t"].to_numpy(float)[None, :]
    if capacity_factor is not None:
        w = w * capacity_factor
    return (w * (c1[None, :] > price[:, None])).sum(1) / w.sum(1)


def _hhi(market: Market, output: np.ndarray, base: Market, country_output) -> np.ndarray:
    """HHI (0..1) over countries per draw. Rows with a real country count for it; the world
    residual rows (country 'WLD') are spread over countries in proportion to their base-year
    production net of the named rows (`country_output`, t by ISO3), scaled by the residual's
    output relative to its base output."""
    P = market.producers
    country = P["country"].astype(str).to_numpy()
    resid = country == "WLD"
    named_out = pd.DataFrame(output[:, ~resid], columns=country[~resid]).T.groupby(level=0).sum().T
    if country_output is None:
        q = named_out.copy()
        if resid.any():
            q["WLD"] = output[:, resid].sum(1)
        a = q.to_numpy(float)
    else:
        co = pd.Series(country_output, dtype=float)
        bp = base.producers
        named_base = bp.loc[bp["country"] != "WLD"].groupby("country")["base_output_t"].sum()
        rest = (co - named_base.reindex(co.index).fillna(0)).clip(lower=0)
        base_resid = float(bp.loc[bp["country"] == "WLD", "base_output_t"].sum())
        scale = output[:, resid].sum(1) / base_resid if base_resid > 0 else np.zeros(len(output))
        cols = sorted(set(rest.index) | set(named_out.columns))
        a = (np.outer(scale, rest.reindex(cols).fillna(0).to_numpy())
             + named_out.reindex(columns=cols).fillna(0).to_numpy())
    tot = a.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((a / tot) ** 2).sum(1)


def elasticity_arrays(market: Market, el: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(ε (M, N), η (M, 1)) of the draws `el`: the drawn ε on cost-curve rows, each other row
    (named producers, stock releases, new supply) keeps its own."""
    P = market.producers
    curve_rows = (P["band"].notna().to_numpy() if "band" in P
                  else np.ones(len(P), dtype=bool))
    eps = np.where(curve_rows[None, :], el["supply_elasticity"].to_numpy()[:, None],
                   P["supply_elasticity"].to_numpy(float)[None, :])
    return eps, el["demand_elasticity"].to_numpy()[:, None]


def _clear(market: Market, el: pd.DataFrame, factors: dict | None = None):
    eps, eta = elasticity_arrays(market, el)
    kw = dict(supply_elasticity=eps, demand_elasticity=eta, **(factors or {}))
    res = clear_world(market, **kw)
    return res, producer_surplus(build_curves(market, **kw), res.price).sum(axis=1)


@dataclass(frozen=True)
class Cleared:
    """The base and the shocked market cleared over the same elasticity draws `el` (M rows):
    ClearResults `base` and `shocked`, and total producer surplus over cash cost per draw
    (USD) of each."""

    market: Market
    shocked_market: Market
    el: pd.DataFrame
    base: object
    shocked: object
    base_ps: np.ndarray
    shocked_ps: np.ndarray
    sizes: object = None


def clear_pair(market: Market, shocks=None, draws: int = 1000, seed=None) -> Cleared:
    """Draw the elasticities and clear the base and the shocked market with them (common
    random numbers). shocks: as in `run`; a Scenario with ranged shock sizes also draws them
    (`sizes.draw_sizes`: `Cleared.sizes` holds the draws, `shocked_market` is the market at
    the ranges' low ends, cleared with the per-draw factors)."""
    from critmin.market.scenario import Scenario, apply_scenario
    from critmin.market.sizes import draw_sizes
    sizes = None
    if isinstance(shocks, Scenario):
        sizes = draw_sizes(market, shocks, draws, seed)
        shocks = sizes.market if sizes is not None else apply_scenario(market, shocks)[0]
    shocked = market if shocks is None else shocks
    if not isinstance(shocked, Market):
        raise MarketError(f"shocks must be a Market, a Scenario or None, not {type(shocks)}")
    el = draw_elasticities(market.commodity, draws, seed)
    rb, ps_b = _clear(market, el)
    rs, ps_s = _clear(shocked, el, None if sizes is None else sizes.factors)
    return Cleared(market, shocked, el, rb, rs, ps_b, ps_s, sizes)


def run(market: Market, shocks=None, draws: int = 1000, seed=None, *,
        country_output=None) -> pd.DataFrame:
    """Per draw: the drawn elasticities; base_price and price (USD/t, clearing the base and the
    shocked market with the same draws); price_change_share; shortfall_t; demand_destroyed_t;
    base_consumption_t and consumption_t (world consumption served, t);
    stock_release_t; base_loss_making_share and loss_making_share (L at each price, from C1);
    hhi_before and hhi_after (over countries, see `_hhi`; country_output: base-year production
    by ISO3, e.g. World Mining Data); producer_surplus_change_usd and
    consumer_surplus_change_usd (USD: producer surplus over cash cost, shocked less base;
    consumer surplus change from the price move).

    shocks: the shocked Market (from `apply_scenario`), a Scenario (applied here), or None
    (the base market only)."""
    return draws_table(clear_pair(market, shocks, draws, seed), country_output=country_output)


def draws_table(c: Cleared, *, country_output=None) -> pd.DataFrame:
    """`run`'s table from a `clear_pair` result."""
    market, shocked, rb, rs = c.market, c.shocked_market, c.base, c.shocked
    out = c.el.copy()
    out.insert(0, "draw", np.arange(len(c.el)))
    out["base_price"] = rb.price
    out["price"] = rs.price
    out["price_change_share"] = rs.price / rb.price - 1
    out["shortfall_t"] = rs.shortfall_t
    out["demand_destroyed_t"] = rs.demand_destroyed_t
    out["base_consumption_t"] = rb.consumption.sum(axis=1)
    out["consumption_t"] = rs.consumption.sum(axis=1)
    out["stock_release_t"] = rs.stock_release
    out["base_loss_making_share"] = loss_making_at(market, rb.price)
    out["loss_making_share"] = loss_making_at(
        shocked, rs.price, None if c.sizes is None else c.sizes.factors["capacity_factor"])
    out["hhi_before"] = _hhi(market, rb.output, market, country_output)
    out["hhi_after"] = _hhi(shocked, rs.output, market, country_output)
    # shocked curves at the shocked price less base curves at the base price (rows may differ:
    # cuts rescale them, stock releases and new supply add some); CS is the price effect on
    # each market's own demand curve (ClearResult: −∫ d dp from p0)
    out["producer_surplus_change_usd"] = c.shocked_ps - c.base_ps
    out["consumer_surplus_change_usd"] = (rs.consumer_surplus_change.sum(axis=1)
                                          - rb.consumer_surplus_change.sum(axis=1))
    if c.sizes is not None:
        for col in c.sizes.drawn:
            out[f"shock:{col}"] = c.sizes.drawn[col].to_numpy()
    return out


def _producer_key(P: pd.DataFrame) -> pd.Series:
    """The label output is reported under: the producer for named rows and rows outside the
    cost curve, '<band> band' for the steps of a cost-curve band (one line per technology)."""
    name = P["producer"].astype(str)
    if "band" not in P:
        return name
    named = P["named"].fillna(False).astype(bool) if "named" in P else False
    band = P["band"]
    return name.where(named | band.isna(), band.astype(str) + " band")


def supply_by_producer(c: Cleared) -> pd.DataFrame:
    """Output per producer, t in the period: base P50 and shocked P5/P50/P95 over the draws,
    the P50 of the per-draw change, and the C1 range (USD/t). The steps of a cost-curve band
    add up to one line per band and country (`_producer_key`), draw by draw; a producer only in
    the shocked market (a stock release, new supply) has base 0. Largest base output first."""
    def per_producer(m: Market, out: np.ndarray):
        P = m.producers
        key = pd.MultiIndex.from_arrays([_producer_key(P), P["country"].astype(str)],
                                        names=["producer", "country"])
        codes, uniq = pd.factorize(key)
        agg = out @ (codes[:, None] == np.arange(len(uniq))[None, :]).astype(float)
        c1 = (pd.to_numeric(P["c1_usd_per_t"], errors="coerce") if "c1_usd_per_t" in P
              else pd.Series(np.nan, index=P.index)).fillna(P["cost_usd_per_t"])
        g = pd.Series(c1.to_numpy(float)).groupby(codes)
        idx = pd.MultiIndex.from_tuples(list(uniq), names=["producer", "country"])
        return pd.DataFrame({"c1_min_usd_per_t": g.min().to_numpy(),
                             "c1_max_usd_per_t": g.max().to_numpy()}, index=idx), agg
    bt, ba = per_producer(c.market, c.base.output)
    st, sa = per_producer(c.shocked_market, c.shocked.output)
    keys = bt.index.union(st.index, sort=False)
    M = ba.shape[0]
    base, shocked = np.zeros((M, len(keys))), np.zeros((M, len(keys)))
    base[:, keys.get_indexer(bt.index)] = ba
    shocked[:, keys.get_indexer(st.index)] = sa
    q = np.quantile(shocked, [0.05, 0.5, 0.95], axis=0)
    t = pd.DataFrame(index=keys).reset_index()
    for col in ("c1_min_usd_per_t", "c1_max_usd_per_t"):
        t[col] = bt[col].reindex(keys).fillna(st[col].reindex(keys)).to_numpy()
    t["base_P50_t"] = np.median(base, axis=0)
    t["shocked_P5_t"], t["shocked_P50_t"], t["shocked_P95_t"] = q
    t["change_P50_t"] = np.median(shocked - base, axis=0)
    return t.sort_values("base_P50_t", ascending=False, kind="stable").reset_index(drop=True)


def summary(table: pd.DataFrame, columns=None) -> pd.DataFrame:
    """P5 / P50 / P95 (and mean) of each numeric column but `draw`, one row per metric."""
    cols = columns or [c for c in table.columns if c != "draw"]
    q = table[cols].quantile(list(QUANTILES.values())).T
    q.columns = list(QUANTILES)
    q["mean"] = table[cols].mean()
    q.index.name = "metric"
    return q
