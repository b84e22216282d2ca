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
