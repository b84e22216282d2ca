"""The market a scenario is applied to: producers on a cost curve, consumers with isoelastic
demand, stocks, and which trade is allowed. One commodity, one period; quantities in tonnes of
contained metal (t), prices and costs in USD per tonne (USD/t).

Declared once here; the solvers (`critmin.market.clear`, `critmin.market.spe`) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from critmin.errors import CritminError


class MarketError(CritminError, ValueError):
    """A market that cannot be solved as given: names the table, row and field."""


PRODUCER_COLUMNS = {
    "producer": "name of the producer (a country, company or asset)",
    "country": "ISO3 of where it produces",
    "capacity_t": "maximum output in the period, t (> 0)",
    "cost_usd_per_t": "cash cost C1, USD/t (>= 0): the producer shuts below this price",
    "base_output_t": "output in the base period, t (0 <= base <= capacity)",
    "supply_elasticity": "ε >= 0 of output above cost, q = q0 (p/p0)^ε capped at capacity; "
                         "0 gives a pure step (merit order)",
}
CONSUMER_COLUMNS = {
    "consumer": "ISO3 of the consuming country (or a region)",
    "base_demand_t": "demand in the base period at the base price, t (> 0)",
    "demand_elasticity": "η <= 0, d = d0 (p/p0)^η",
}


@dataclass(frozen=True)
class Market:
    """producers and consumers: DataFrames with PRODUCER_COLUMNS / CONSUMER_COLUMNS.
    base_price_usd_per_t: p0. choke_price_usd_per_t: the price at which unmet demand is
    recorded as shortfall instead of clearing higher (value of lost load). stocks_t: stocks that
    can be released; stock_release_share: the share of base demand released per unit of
    relative price rise, R(p) = min(stocks_t, κ·D0·(p/p0 − 1)+). blocked: pairs
    (exporter, importer) ISO3 whose trade is not allowed (sanctions, bans); a bloc run clears each
    connected component of allowed trade at its own price."""

    commodity: str
    producers: pd.DataFrame
    consumers: pd.DataFrame
    base_price_usd_per_t: float
    choke_price_usd_per_t: float
    stocks_t: float = 0.0
    stock_release_share: float = 0.0
    blocked: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def check_market(m: Market) -> Market:
    """Raise MarketError naming the table, row and field of the first impossible value."""
    for name, table, cols in (("producers", m.producers, PRODUCER_COLUMNS),
                              ("consumers", m.consumers, CONSUMER_COLUMNS)):
        missing = [c for c in cols if c not in table]
        if missing:
            raise MarketError(f"{name}: missing columns {missing}")
        if table.empty:
            raise MarketError(f"{name}: no rows")
        for col in cols:
            if col in ("producer", "country", "consumer"):
                continue
            v = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
            bad = ~np.isfinite(v)
            if col in ("capacity_t", "base_demand_t"):
                bad |= v <= 0
            elif col == "demand_elasticity":
                bad |= v > 0
            else:
                bad |= v < 0
            if bad.any():
                i = int(np.argmax(bad))
                raise MarketError(f"{name} row {i} ({table.iloc[i, 0]}), field {col}: "
                                  f"impossible value {table[col].iloc[i]!r}")
    over = m.producers["base_output_t"] > m.producers["capacity_t"]
    if over.any():
        i = int(np.argmax(over.to_numpy()))
        raise MarketError(f"producers row {i}, field base_output_t: above capacity_t")
    if not 0 < m.base_price_usd_per_t < m.choke_price_usd_per_t:
        raise MarketError("base_price_usd_per_t must be > 0 and below choke_price_usd_per_t")
    if m.stocks_t < 0 or m.stock_release_share < 0:
        raise MarketError("stocks_t and stock_release_share must be >= 0")
    return m
