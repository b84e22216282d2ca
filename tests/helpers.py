"""Small helpers shared by test modules."""

from __future__ import annotations

import duckdb

from critmin.data.schema import TABLES


def fingerprint(path) -> dict[str, tuple]:
    """Row count and an order-independent hash of every row, per warehouse table."""
    con = duckdb.connect(str(path), read_only=True)
    out = {}
    for name in [*TABLES, "meta"]:
        cols = ", ".join(c[0] for c in con.execute(f"DESCRIBE {name}").fetchall())
        out[name] = con.execute(
            f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM {name}").fetchone()
    con.close()
    return out


def small_synthetic_ledger(fraction: float, *, control_share: float, seed: int):
    """A SYNTHETIC oversight ledger on `fraction` of Kazakhstan's 2024 export volumes (tonnes
    and values scaled alike), with the power-study laboratories and planted biases."""
    from critmin.oversight.simulate import (KAZ_2024_VOLUMES, power_study_config,
                                            simulate_ledger)
    vol = KAZ_2024_VOLUMES.assign(quantity_t=KAZ_2024_VOLUMES["quantity_t"] * fraction,
                                  value_usd=KAZ_2024_VOLUMES["value_usd"] * fraction)
    return simulate_ledger(vol, power_study_config(control_share=control_share),
                           random_state=seed)
