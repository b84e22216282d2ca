"""Cost-aware selection: control samples under a money budget (issue 5, item 4).

A count budget treats every control alike; a state laboratory pays per sample, and the cost
differs: supervising the sampling of a lot scales with its wet tonnes, and a rare-earth
ICP-MS suite costs several times a copper titration. With cost c_i (USD) and risk score v_i
(the 'option' score of `selection`: expected positive recoverable value, USD) the risk picks
solve the 0/1 knapsack

    max Σ v_i x_i   subject to   Σ c_i x_i ≤ B − B_rand,   x_i ∈ {0, 1}

exactly by dynamic programming over a capacity grid (Dantzig 1957; Kellerer, Pferschy &
Pisinger 2004, ch. 2): costs rounded UP to the grid step, so the budget always holds. The
random share spends random_share · B first: shipments in uniform random order, each taken
while it fits (at least one if any fits the budget), so every shipment keeps a chance to be
checked.

Cost table (`control_costs_default.csv`): sampling per wet tonne (sourced range, midpoint)
plus one assay charge per element on the certificate; the assay charges are clearly labelled
[assumption] and must be replaced with the state laboratory's tariff (`load_cost_table`).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.errors import DataFileError
from critmin.tablefile import read_text_table
from critmin.oversight.schema import Ledger
from critmin.oversight.selection import (LOG_COLUMNS, Selection, SelectionInputError, _seed,
                                         _value_columns, expected_positive_part,
                                         posterior_bias)

__all__ = ["REE", "load_cost_table", "control_costs", "knapsack", "select_by_cost"]

COLUMNS = ["item", "basis", "cost_usd", "status", "source"]
REE = frozenset({"TREO", "REE", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy",
                 "Ho", "Er", "Tm", "Yb", "Lu", "Y", "Sc"})
MAX_CELLS = 50_000_000  # items × grid cells of the DP's keep table (bytes)


def default_cost_path() -> Path:
    return Path(str(resources.files("critmin.oversight").joinpath("control_costs_default.csv")))


@functools.cache
def _default() -> pd.DataFrame:
    return _read(default_cost_path())


def load_cost_table(path: str | Path | None = None) -> pd.DataFrame:
    """The control-cost table (columns item, basis, cost_usd, status, source); default: the
    shipped table. item is 'sampling' (basis per_wet_t) or 'assay:<element>' / 'assay:REE' /
    'assay:*' (basis per_sample). Errors name file, line and column."""
    return _default().copy() if path is None else _read(Path(path))


def _read(path: Path) -> pd.DataFrame:
    df = read_text_table(path, COLUMNS, "cost table")
    cost = pd.to_numeric(df["cost_usd"], errors="coerce")
    for i in range(len(df)):
        line = i + 2
        if not (cost.iloc[i] >= 0):
            raise DataFileError(str(path), line, "cost_usd",
                                f"{df['cost_usd'].iloc[i]!r} is not a cost >= 0 USD")
        item, basis = df["item"].iloc[i], df["basis"].iloc[i]
        want = "per_wet_t" if item == "sampling" else "per_sample"
        if item != "sampling" and not item.startswith("assay:"):
            raise DataFileError(str(path), line, "item",
                                f"{item!r}: use 'sampling' or 'assay:<element>'")
        if basis != want:
            raise DataFileError(str(path), line, "basis", f"{item} is charged {want}")
    if df["item"].duplicated().any():
        i = int(np.flatnonzero(df["item"].duplicated().to_numpy())[0])
        raise DataFileError(str(path), i + 2, "item", f"{df['item'].iloc[i]!r} listed twice")
    return df[COLUMNS].assign(cost_usd=cost)


def control_costs(ledger: Ledger, table: pd.DataFrame | None = None) -> pd.Series:
    """Cost of one control of each shipment, USD, indexed by shipment_id:
    c_i = k_sampling · wet_t_i + Σ_{e on i's certificate} k_assay(e), with one REE-suite
    charge for any number of rare-earth elements and 'assay:*' for elements not listed."""
    t = load_cost_table() if table is None else table
    k = dict(zip(t["item"], t["cost_usd"]))
    sh = ledger.shipments.set_index("shipment_id")
    els = ledger.certificates[["shipment_id", "element"]].drop_duplicates()
    key = np.where(els["element"].isin(REE), "assay:REE", "assay:" + els["element"])
    els = els.assign(item=key).drop_duplicates(["shipment_id", "item"])
    known = els["item"].isin(k)
    if (~known).any() and "assay:*" not in k:
        miss = sorted(set(els.loc[~known, "item"]))
        raise SelectionInputError(f"cost table has no {', '.join(miss)} and no 'assay:*' row")
    price = els["item"].map(k).where(known, k.get("assay:*", np.nan))
    assay = price.groupby(els["shipment_id"]).sum().reindex(sh.index, fill_value=0.0)
    return (k.get("sampling", 0.0) * sh["wet_t"] + assay).rename("cost_usd")


def knapsack(values, costs, capacity: float, *, step: float | None = None) -> np.ndarray:
    """0/1 knapsack by dynamic programming: the indices maximising Σ values subject to
    Σ costs ≤ capacity (USD). Costs are rounded UP to multiples of `step` (default: the
    largest step keeping the grid at 20,000 cells, at least 1 USD), so the optimum is exact
    for costs on the grid and feasible always. Items with value ≤ 0 are never taken.
    O(n · capacity/step) time; memory n × grid bits (capped, else SelectionInputError)."""
    v = np.asarray(values, float)
    c = np.asarray(costs, float)
    if v.shape != c.shape or v.ndim != 1:
        raise SelectionInputError("values and costs must be 1-D and of equal length")
    if not np.isfinite(c).all() or (c <= 0).any():
        raise SelectionInputError("every cost must be a finite number > 0 USD")
    if not capacity >= 0:
        raise SelectionInputError(f"budget must be >= 0 USD, got {capacity}")
    step = step or max(1.0, capacity / 20_000)
    W = int(np.floor(capacity / step + 1e-9))
    w = np.ceil(c / step - 1e-9).astype(np.int64)
    cand = np.flatnonzero((v > 0) & (w <= W))
    if cand.size == 0 or W == 0:
        return np.array([], dtype=int)
    if cand.size * (W + 1) > MAX_CELLS:
        raise SelectionInputError(f"knapsack of {cand.size:,} items × {W + 1:,} cells is too "
                                  "large; pass a coarser step or fewer candidates")
    best = np.zeros(W + 1)
    keep = np.zeros((cand.size, W + 1), bool)
    for r, i in enumerate(cand):
        wi = w[i]
        take = best[:W + 1 - wi] + v[i]
        better = take > best[wi:]
        keep[r, wi:] = better
        best[wi:] = np.where(better, take, best[wi:])
    out, cap = [], W
    for r in range(cand.size - 1, -1, -1):
        if keep[r, cap]:
            out.append(cand[r])
            cap -= w[cand[r]]
    return np.array(out[::-1], dtype=int)


def select_by_cost(candidates: pd.DataFrame, costs_usd, budget_usd: float, *,
                   random_share: float = 0.10, bias_estimates: pd.DataFrame | None = None,
                   random_state=None, by: str = "laboratory_id", prior_sd: float = 0.10,
                   max_items: int = 2000, step: float | None = None) -> Selection:
    """Select shipments for control under a money budget (module docstring): a random share
    of the budget, then the risk picks by `knapsack` on the 'option' score. `costs_usd`: one
    cost per candidate (array in candidate order, or a Series by shipment_id). Above
    `max_items` candidates the knapsack sees the `max_items` best by score per USD (a
    [design] pruning: the optimum rarely takes an item with a poor ratio). The log has the
    columns of `select_shipments` plus cost_usd; `Selection.budget` is the number picked."""
    if not 0 < random_share <= 1:
        raise SelectionInputError(f"random_share must be in (0, 1] (never zero), got "
                                  f"{random_share}")
    if not budget_usd >= 0:
        raise SelectionInputError(f"budget must be >= 0 USD, got {budget_usd!r}")
    cand = candidates.reset_index(drop=True)
    if cand["shipment_id"].duplicated().any():
        raise SelectionInputError("candidates list a shipment twice")
    c = (costs_usd.reindex(cand["shipment_id"]).to_numpy(float)
         if isinstance(costs_usd, pd.Series) else np.asarray(costs_usd, float))
    if c.shape != (len(cand),) or not np.isfinite(c).all() or (c <= 0).any():
        bad = (cand["shipment_id"].iloc[int(np.flatnonzero(~(c > 0))[0])]
               if c.shape == (len(cand),) else "?")
        raise SelectionInputError(f"need one cost > 0 USD per candidate (first bad: {bad!r})")
    if by not in cand.columns:
        raise SelectionInputError(f"candidates need the group column {by!r}")
    seed = _seed(random_state)
    rng = np.random.default_rng(seed)
    elements, V = _value_columns(cand, None)
    m, s, exp_rec = posterior_bias(cand, bias_estimates, elements, V, by, prior_sd)
    score = (V * expected_positive_part(m, s)).sum(axis=1)
    # 1. random share of the money: uniform order, take each lot that still fits
    ukey = rng.random(len(cand))
    order = np.argsort(-ukey, kind="stable")
    spent, rand, cmin = 0.0, [], float(c.min()) if c.size else 0.0
    for i in order:
        if rand and spent + cmin > random_share * budget_usd:
            break  # nothing more can fit the random share
        if spent + c[i] <= random_share * budget_usd or (not rand and c[i] <= budget_usd):
            rand.append(i)
            spent += c[i]
    rand = np.array(rand, dtype=int)
    # 2. knapsack on the rest of the budget
    rest = np.setdiff1d(np.arange(len(cand)), rand)
    if rest.size > max_items:
        ratio = score[rest] / c[rest]
        rest = rest[np.argsort(-ratio, kind="stable")[:max_items]]
    picked = rest[knapsack(score[rest], c[rest], budget_usd - spent, step=step)]
    picked = picked[np.argsort(-score[picked], kind="stable")]
    idx = np.concatenate([rand, picked]).astype(int)
    log = pd.DataFrame({
        "shipment_id": cand["shipment_id"].to_numpy(object)[idx],
        "laboratory_id": cand[by].to_numpy(object)[idx],
        "exporter_id": (cand["exporter_id"].to_numpy(object)[idx] if "exporter_id" in
                        cand.columns else np.full(idx.size, None, object)),
        "rank": np.arange(1, idx.size + 1),
        "reason": ["random"] * rand.size + ["risk"] * picked.size,
        "expected_recoverable_usd": exp_rec[idx],
        "score": np.concatenate([ukey[rand], score[picked]]),
        "seed": seed, "policy": "risk", "cost_usd": c[idx]})[[*LOG_COLUMNS, "cost_usd"]]
    if by != "laboratory_id":
        log = log.rename(columns={"laboratory_id": by})
    return Selection(log=log, seed=seed, policy="risk", budget=int(idx.size),
                     n_random=int(rand.size), scoring="option")
