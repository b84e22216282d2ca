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

    flows: commodity, hs6, year, exporter, importer, quantity_t (t); production: commodity,
    country, year, quantity, unit (World Mining Data, every country: a commodity with no row
    at all that year has no production data, which is not zero production); factors: hs6,
    commodity, content (t contained per t traded) and optionally basis. Trade between a bloc's
    members is left out. IR is NaN, with a flag, when an input is missing rather than zero:
    `trade_not_counted` (imports or exports exist but none of their tonnes can be counted: no
    content factor or unknown quantities), `no_production_data`, `production_not_mass`
    (production in a volume or carat unit). `content_unknown` marks trade under codes whose
    content the factor table declares unknowable; `no_trade_data` a commodity of which
    `flows` (which must hold every country's trade) has no record at all that year: its
    imports, exports and IR are NaN. `counted_share` is the share of trade records that could
    be counted.
    """
    from critmin.risk.eu_crm import import_reliance

    m = set(members)
    cols = ["hs6", "commodity", "content"] + (["basis"] if "basis" in factors else [])
    f = flows[flows["year"] == year].merge(factors[cols], on=["hs6", "commodity"], how="left")
    unknowable = f["basis"].eq("unknown") if "basis" in f else pd.Series(False, index=f.index)
    f = f.assign(qc=(f["quantity_t"] * f["content"]).where(~unknowable), unknowable=unknowable)
    ext = f[f["importer"].isin(m) != f["exporter"].isin(m)]
    world = production[production["year"] == year]
    p = world[world["country"].isin(m)]
    p = p.assign(t=np.where(p["unit"] == "kg", p["quantity"] / 1000, p["quantity"]))
    covered = set(f["commodity"])
    rows = []
    for commodity in sorted(set(ext["commodity"]) | set(p["commodity"])):
        e = ext[ext["commodity"] == commodity]
        imp = e[e["importer"].isin(m)]
        exp = e[e["exporter"].isin(m)]
        pc = p[p["commodity"] == commodity]
        prod_t = float(pc["t"].sum())
        i_t, e_t = float(imp["qc"].sum()), float(exp["qc"].sum())
        counted = float(e["qc"].notna().mean()) if len(e) else 1.0
        flags = []
        ir = import_reliance(prod_t, i_t, e_t)
        if (len(imp) and imp["qc"].isna().all()) or (len(exp) and exp["qc"].isna().all()):
            ir = float("nan")
            flags.append("trade_not_counted")
        elif counted < 1:
            flags.append("partly_counted")
        if e["unknowable"].any():
            flags.append("content_unknown")
        if commodity not in covered:
            # nothing of the commodity traded anywhere that year: its HS codes are not in the
            # data (potash) or no longer used (germanium's HS92 code after 2016); unknown
            i_t = e_t = ir = counted = float("nan")
            flags.append("no_trade_data")
        if not (world["commodity"] == commodity).any():
            prod_t = ir = float("nan")
            flags.append("no_production_data")
        elif (~pc["unit"].isin(["t", "kg"])).any():
            prod_t = ir = float("nan")
            flags.append("production_not_mass")
        rows.append({"commodity": commodity, "year": year, "production_t": prod_t,
                     "imports_t": i_t, "exports_t": e_t, "import_reliance": ir,
                     "counted_share": counted, "flags": ";".join(flags)})
    return pd.DataFrame(rows)


def trade_risk(shares: pd.DataFrame, pv_rank: pd.DataFrame) -> pd.DataFrame:
    """First-order trade risk of an importer per (commodity, year):

        TR_j = Σ_i V_ij,   V_ij = s_ij · (1 − p_i / 100)

    s_ij: supplier i's share of j's import value (`supplier_shares`); p_i: WGI political
    stability percentile rank of i that year (0..100, PV.PER.RNK). This is the trade-risk
    weighting of Klimek, Obersteiner and Thurner (2015), as we read its definition of V; its
    propagation through re-exporters is `critmin.risk.systemic.systemic_trade_risk`.
    Suppliers without a rank are left out and their value share is reported.
    """
    s = shares.merge(pv_rank.rename(columns={"country": "supplier", "value": "rank"}),
                     on=["supplier", "year"], how="left")
    s = s.assign(v=s["value_share"] * (1 - s["rank"] / 100),
                 missing=s["value_share"].where(s["rank"].isna(), 0.0))
    out = s.groupby(["commodity", "year"]).agg(trade_risk=("v", "sum"),
                                               rank_missing_share=("missing", "sum"))
    return out.reset_index()
