"""Import exposure of a country or bloc: who supplies it, and how much comes from each bloc."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def supplier_shares(flows: pd.DataFrame, members: Sequence[str], *,
                    include_internal: bool = False) -> pd.DataFrame:
    """Imports of the group `members` per (commodity, year, supplier): value_usd, quantity_t
    (known tonnes), value_share and quantity_share (0..1 of the group's imports).

    For a bloc, trade between its own members is left out unless `include_internal`: the
    question is usually how much comes from outside (extra-EU imports).
    """
    m = set(members)
    f = flows[flows["importer"].isin(m)]
    if not include_internal:
        f = f[~f["exporter"].isin(m)]
    g = f.groupby(["commodity", "year", "exporter"], as_index=False)[
        ["value_usd", "quantity_t"]].sum(min_count=1)
    tot = g.groupby(["commodity", "year"])[["value_usd", "quantity_t"]].transform("sum")
    g["value_share"] = g["value_usd"] / tot["value_usd"].where(tot["value_usd"] > 0)
    g["quantity_share"] = g["quantity_t"] / tot["quantity_t"].where(tot["quantity_t"] > 0)
    g = g.rename(columns={"exporter": "supplier"})
    return g.sort_values(["commodity", "year", "value_usd"], ascending=[True, True, False],
                         ignore_index=True)


def bloc_shares(shares: pd.DataFrame, blocs: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Σ of supplier shares by bloc, per (commodity, year): value_share and quantity_share of
    the importer's imports that come from each bloc's members. A supplier may belong to several
    blocs, so the bloc shares need not add up to one; 'other' is what no listed bloc covers."""
    rows = []
    keys = ["commodity", "year"]
    covered = pd.Series(False, index=shares.index)
    for bloc, members in blocs.items():
        inside = shares["supplier"].isin(set(members))
        covered |= inside
        part = shares[inside].groupby(keys)[["value_share", "quantity_share"]].sum(min_count=1)
        rows.append(part.assign(bloc=bloc))
    rest = shares[~covered].groupby(keys)[["value_share", "quantity_share"]].sum(min_count=1)
    rows.append(rest.assign(bloc="other"))
    out = pd.concat(rows).reset_index()
    return out[["commodity", "year", "bloc", "value_share", "quantity_share"]].sort_values(
        ["commodity", "year", "bloc"], ignore_index=True)


def import_reliance_table(flows: pd.DataFrame, production: pd.DataFrame,
                          factors: pd.DataFrame, members: Sequence[str], year: int
                          ) -> pd.DataFrame:
    """Net import reliance IR = (I − E) / (P + I − E) of a country or bloc per commodity, in
    contained tonnes (World Mining Data basis; European Commission 2017), clipped to 0..1.

    flows: commodity, hs6, year, exporter, importer, quantity_t; factors: hs6, commodity,
    content. Trade between a bloc's members is left out. IR is NaN, with a flag, when imports
    or exports exist but none of their tonnes can be counted (no content factor or unknown
    quantities); `counted_share` is the share of trade records that could be counted.
    """
    from critmin.risk.eu_crm import import_reliance

    m = set(members)
    f = flows[flows["year"] == year].merge(factors[["hs6", "commodity", "content"]],
                                           on=["hs6", "commodity"], how="left")
    f = f.assign(qc=f["quantity_t"] * f["content"])
    ext = f[f["importer"].isin(m) != f["exporter"].isin(m)]
    p = production[(production["year"] == year) & production["country"].isin(m)]
    p = p.assign(t=np.where(p["unit"] == "kg", p["quantity"] / 1000, p["quantity"]))
    rows = []
    for commodity in sorted(set(ext["commodity"]) | set(p["commodity"])):
        e = ext[ext["commodity"] == commodity]
        imp = e[e["importer"].isin(m)]
        exp = e[e["exporter"].isin(m)]
        prod_t = float(p.loc[p["commodity"] == commodity, "t"].sum())
        i_t, e_t = float(imp["qc"].sum()), float(exp["qc"].sum())
        counted = float(e["qc"].notna().mean()) if len(e) else 1.0
        flags = []
        ir = import_reliance(prod_t, i_t, e_t)
        if (len(imp) and imp["qc"].isna().all()) or (len(exp) and exp["qc"].isna().all()):
            ir = float("nan")
            flags.append("trade_not_counted")
        elif counted < 1:
            flags.append("partly_counted")
        rows.append({"commodity": commodity, "year": year, "production_t": prod_t,
                     "imports_t": i_t, "exports_t": e_t, "import_reliance": ir,
                     "counted_share": counted, "flags": ";".join(flags)})
    return pd.DataFrame(rows)


def trade_risk(shares: pd.DataFrame, pv_rank: pd.DataFrame) -> pd.DataFrame:
    """First-order trade risk of an importer per (commodity, year):

        TR_j = Σ_i V_ij,   V_ij = s_ij · (1 − p_i / 100)

    s_ij: supplier i's share of j's import value (`supplier_shares`); p_i: WGI political
    stability percentile rank of i that year (0..100, PV.PER.RNK). This is the trade-risk
    weighting of Klimek, Obersteiner and Thurner (2015), as we read its definition of V; their
    systemic indicator, which adds network centrality (PageRank), is not computed here.
    Suppliers without a rank are left out and their value share is reported.
    """
    s = shares.merge(pv_rank.rename(columns={"country": "supplier", "value": "rank"}),
                     on=["supplier", "year"], how="left")
    s = s.assign(v=s["value_share"] * (1 - s["rank"] / 100),
                 missing=s["value_share"].where(s["rank"].isna(), 0.0))
    out = s.groupby(["commodity", "year"]).agg(trade_risk=("v", "sum"),
                                               rank_missing_share=("missing", "sum"))
    return out.reset_index()
