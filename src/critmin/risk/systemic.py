"""Systemic trade risk: supply risk propagated through re-exporters of the trade network.

The first-order trade risk of `critmin.risk.exposure.trade_risk` scores each supplier by its own
governance. A hub that re-exports what it buys (Switzerland's gold, Hong Kong's rare earths)
then looks as safe as its own government. Here a supplier's risk is a blend of its own and that
of where its supply comes from, propagated through the whole network (Klimek, Obersteiner and
Thurner 2015 use network centralities for this; the recursion below is our own, of the
PageRank/Leontief kind, and reduces to their first-order weighting at damping 0).

For one commodity and year, with w_kj the flow from exporter k to importer j:

    S_jk  = w_kj / Σ_k' w_k'j                  import shares (row j sums to 1 if j imports)
    δ_k   = D_k / (D_k + M_k)                  domestic share of k's supply; M_k = Σ_i w_ik,
                                               D_k = max(0, X_k − M_k) by default (X_k exports)
    y_k   = δ_k ρ_k + (1 − δ_k) x_k            risk of what k ships
    x_j   = Σ_k S_jk [(1 − d) ρ_k + d y_k]     risk of j's imports, damping d in [0, 1)

    x = O ρ,   O = (I − d S (I − Δ))⁻¹ S ((1 − d) I + d Δ),   Δ = diag(δ)

ρ_k = 1 − p_k/100 (WGI political-stability percentile rank, as in the first-order weighting).
O_jk is the share of j's supply that traces back to k (its "origin share"): column k of O is
what a disruption at k does to every importer. Rows of O sum to 1 for every importer (S is
row-stochastic and the solve keeps that), so x is a weighted mean of ρ; at d = 0, O = S and x
is the first-order trade risk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["network", "origin_matrix", "systemic_trade_risk"]


def network(flows: pd.DataFrame, *, weight: str = "value_usd",
            groups: Mapping[str, Sequence[str]] | None = None
            ) -> tuple[list[str], sp.csr_matrix, np.ndarray]:
    """Nodes, import-share matrix S (sparse, row j = importer's shares by exporter) and the
    domestic-supply share δ of each node, from flows of one commodity and year.

    flows: exporter, importer and the `weight` column (USD by default; any additive unit).
    groups: label -> members, merged into one node (a bloc); flows between members drop out.
    Self-flows and non-positive or missing weights are ignored.
    """
    f = flows[["exporter", "importer", weight]].rename(columns={weight: "w"})
    if groups:
        to = {m: label for label, members in groups.items() for m in members}
        f = f.assign(exporter=f["exporter"].map(to).fillna(f["exporter"]),
                     importer=f["importer"].map(to).fillna(f["importer"]))
    f = f[(f["exporter"] != f["importer"]) & (f["w"] > 0)]
    f = f.groupby(["importer", "exporter"], as_index=False)["w"].sum()
    nodes = sorted(set(f["exporter"]) | set(f["importer"]))
    idx = {c: i for i, c in enumerate(nodes)}
    n = len(nodes)
    rows = f["importer"].map(idx).to_numpy()
    cols = f["exporter"].map(idx).to_numpy()
    w = f["w"].to_numpy(dtype=float)
    imports = np.bincount(rows, weights=w, minlength=n)
    exports = np.bincount(cols, weights=w, minlength=n)
    s = sp.csr_matrix((w / imports[rows], (rows, cols)), shape=(n, n))
    domestic = np.maximum(exports - imports, 0.0)
    supply = domestic + imports
    delta = np.divide(domestic, supply, out=np.ones(n), where=supply > 0)
    return nodes, s, delta


def origin_matrix(s: sp.csr_matrix, delta: np.ndarray, damping: float) -> np.ndarray:
    """O = (I − d S (I − Δ))⁻¹ S ((1 − d) I + d Δ): O_jk, the share of importer j's supply
    that traces back to k (0..1), for damping d in [0, 1)."""
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must lie in [0, 1), got {damping}")
    n = s.shape[0]
    a = sp.identity(n, format="csr") - damping * s @ sp.diags(1.0 - delta)
    b = s @ sp.diags((1.0 - damping) + damping * delta)
    # the spectral radius of d·S(I − Δ) is at most d < 1, so A is invertible. A trade network
    # has at most a few hundred nodes: all n columns of O by one dense LAPACK solve take about
    # a millisecond, where SuperLU with n right-hand sides took 70 ms
    return np.linalg.solve(a.toarray(), b.toarray())


def systemic_trade_risk(flows: pd.DataFrame, pv_rank: pd.DataFrame, *, damping: float = 0.5,
                        weight: str = "value_usd",
                        groups: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Systemic trade risk x = O ρ of every importer, per (commodity, year) of `flows`.

    flows: commodity, year, exporter, importer, `weight` (USD by default: at damping 0 the
        result equals `exposure.trade_risk` on value shares).
    pv_rank: country, year, value (WGI PV.PER.RNK, 0..100); ρ = 1 − value/100. Countries
        without a rank get ρ = 0 and the share of supply that traces back to them is
        `rank_missing_share` (at damping 0, the first-order one).
    groups: blocs merged into one node (see `network`).
    Returns commodity, year, importer, first_order_risk (S ρ), systemic_risk (O ρ),
    rank_missing_share, reexport_share (Σ_k S_jk (1 − δ_k): the import share bought from
    suppliers that re-export what they import), top_origin and top_origin_share (largest O_jk),
    all on 0..1, and the damping used.
    """
    out = []
    for (commodity, year), f in flows.groupby(["commodity", "year"], sort=True):
        nodes, s, delta = network(f, weight=weight, groups=groups)
        if not nodes:
            continue
        r = pv_rank[pv_rank["year"] == year].groupby("country")["value"].first()
        rank = np.array(pd.Series(nodes).map(r), dtype=float)
        if groups:
            # a bloc's own rank: the mean of its members' ranks (only used when it re-exports)
            for label, members in groups.items():
                if label in nodes and np.isnan(rank[nodes.index(label)]):
                    rank[nodes.index(label)] = r.reindex(list(members)).mean()
        missing = np.isnan(rank)
        rho = np.where(missing, 0.0, 1.0 - rank / 100.0)
        o = origin_matrix(s, delta, damping)
        importing = np.asarray(s.sum(axis=1)).ravel() > 0
        top = o.argmax(axis=1)
        res = pd.DataFrame({
            "commodity": commodity, "year": year, "importer": nodes,
            "first_order_risk": s @ rho, "systemic_risk": o @ rho,
            "rank_missing_share": o @ missing.astype(float),
            "reexport_share": s @ (1.0 - delta),
            "top_origin": np.asarray(nodes)[top], "top_origin_share": o.max(axis=1),
            "damping": damping})
        out.append(res[importing])
    cols = ["commodity", "year", "importer", "first_order_risk", "systemic_risk",
            "rank_missing_share", "reexport_share", "top_origin", "top_origin_share", "damping"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)
