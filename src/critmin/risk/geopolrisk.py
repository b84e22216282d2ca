"""The GeoPolRisk supply-risk method (Gemechu et al. 2016; Helbig et al. 2016; Koyamparambath
et al. 2024), as implemented by geopolrisk-py 2.0.1.

`compat` reproduces the peer's numbers, quirks included (docs/methods.md lists them). Inputs are
plain DataFrames from `critmin.data.queries.geopolrisk_inputs`; nothing here touches storage.

Per material A, importer c (a country or a group of countries), year t:

    HHI_A,t   = Σ_j P_j² / (Σ_j P_j)²                 World Mining Data production, truncated to int
    f_i       = Σ_{HS codes of A} q_i  (t; NA -> 0)   BACI imports of c from exporter i
    g_i       = clip((2.5 − PV_i,t) / 5, 0, 1)        WGI political stability; 0.5 if i has no row;
                                                      0 if i belongs to the importer group
    WTA       = Σ_i g_i f_i / (Σ_i f_i + p_c)         p_c: production of c (t); 0 when 0/0
    score     = HHI × WTA
    price     = Σ_i v_i / Σ_i f_i                     kUSD/t = USD/kg; 0 when no tonnes
    CF        = score × price / 0.409412948           kg Cu-eq per kg
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from critmin.risk.governance import geopolrisk_g

PEER_COPPER_MIDPOINT = 0.409412948  # geopolrisk-py core.py L188: "average CF of copper"
PEER_DEFAULT_G = 0.5  # partners without a governance row (utils.py L262-269)
COLUMNS = ["commodity", "importer", "year", "hhi", "domestic_production_t", "import_qty_t",
           "import_risk_numerator_t", "import_risk", "price_usd_per_kg", "score", "cf"]


def _exact_hhi(quantities: pd.Series) -> float:
    # the peer truncates to Python ints (core.py L37), whose squares never overflow, and
    # divides int by int: one correctly rounded division
    q = [int(v) for v in quantities]
    return sum(v * v for v in q) / (sum(q) * sum(q))


def hhi_peer(production: pd.DataFrame) -> pd.Series:
    """HHI per (commodity, year), as the peer computes it: NaN -> 0, each figure truncated to
    an integer (t or kg), Σ P² / (Σ P)² in exact integer arithmetic.

    `production`: commodity, country, year, quantity. Returns a Series indexed by
    (commodity, year) on 0..1.
    """
    p = production.assign(quantity=production["quantity"].fillna(0.0))
    return p.groupby(["commodity", "year"])["quantity"].agg(_exact_hhi).rename("hhi")


def domestic_production_peer(production: pd.DataFrame) -> pd.DataFrame:
    """p_c per (commodity, country, year) in tonnes as the peer has it: the figure as stored
    (not truncated, unlike the HHI), divided by 1,000 only for 'kg' tables (other units, such
    as natural gas's Mio m3, pass unchanged: the peer's conversion branch never runs)."""
    q = production["quantity"].fillna(0.0)
    q = np.where(production["unit"] == "kg", q / 1000.0, q)
    return production[["commodity", "country", "year"]].assign(p=q)


def compat(flows: pd.DataFrame, production: pd.DataFrame, governance: pd.DataFrame,
           importers: Mapping[str, Sequence[str]], years: Sequence[int],
           commodities: Sequence[str]) -> pd.DataFrame:
    """GeoPolRisk scores exactly as geopolrisk-py 2.0.1 computes them.

    flows: commodity, year, exporter, importer, quantity_t (NaN = unknown), value_kusd —
        BACI rows of the peer's HS codes for each commodity.
    production: commodity, country, year, quantity, unit — World Mining Data.
    governance: country, year, g — the peer's normalised scores (NaN where its cell is 'nan').
    importers: label -> member ISO3 codes (one member for a country; EU27 for the EU).
    Returns one row per (commodity, importer label, year) with COLUMNS. NaN in a partner's g
    makes that importer's risk NaN, as in the peer.
    """
    years = list(years)
    commodities = list(commodities)
    members = pd.DataFrame([(label, iso3) for label, isos in importers.items() for iso3 in isos],
                           columns=["label", "member"])
    grid = pd.MultiIndex.from_product([commodities, list(importers), years],
                                      names=["commodity", "importer", "year"])
    hhi = hhi_peer(production[production["commodity"].isin(commodities)])
    missing = [(c, y) for c in commodities for y in years if (c, y) not in hhi.index]
    if missing:
        raise KeyError(f"no World Mining Data production for {missing[:5]}"
                       f"{' ...' if len(missing) > 5 else ''}: the peer supports 2018-2024 only")
    # imports of each importer group, flows from its own members carry g = 0
    f = flows[flows["commodity"].isin(commodities) & flows["year"].isin(years)]
    f = f.merge(members, left_on="importer", right_on="member").drop(columns="member")
    f = f.merge(governance.rename(columns={"country": "exporter"}), on=["exporter", "year"],
                how="left", indicator="has_g")
    f = f.merge(members.rename(columns={"member": "exporter"}), on=["label", "exporter"],
                how="left", indicator="inside")
    g = np.where(f["has_g"] == "both", f["g"], PEER_DEFAULT_G)
    g = np.where(f["inside"] == "both", 0.0, g)
    q = f["quantity_t"].fillna(0.0).to_numpy()
    f = f.assign(q=q, gq=g * q, nan_g=np.isnan(g).astype(int))
    agg = f.groupby(["commodity", "label", "year"]).agg(
        F=("q", "sum"), N=("gq", "sum"), V=("value_kusd", "sum"), nan_g=("nan_g", "max"))
    agg.index = agg.index.set_names(["commodity", "importer", "year"])
    agg.loc[agg["nan_g"] > 0, "N"] = np.nan  # pandas' sum skips NaN; the peer's does not
    agg = agg.reindex(grid).fillna({"F": 0.0, "N": 0.0, "V": 0.0})
    # domestic production of the group
    p = domestic_production_peer(production[production["commodity"].isin(commodities)])
    p = p.merge(members, left_on="country", right_on="member")
    p = p.groupby(["commodity", "label", "year"])["p"].sum()
    p.index = p.index.set_names(["commodity", "importer", "year"])
    out = agg.join(p.reindex(grid).fillna(0.0))
    out = out.join(hhi, on=["commodity", "year"])
    denom = out["F"] + out["p"]
    with np.errstate(divide="ignore", invalid="ignore"):
        wta = np.where(denom == 0, 0.0, out["N"] / denom)
        price = np.where(out["F"] == 0, 0.0, out["V"] / out["F"])
    out = out.assign(import_risk=wta, price_usd_per_kg=price)
    out["score"] = out["hhi"] * out["import_risk"]
    out["cf"] = out["score"] * out["price_usd_per_kg"] / PEER_COPPER_MIDPOINT
    out = out.rename(columns={"p": "domestic_production_t", "F": "import_qty_t",
                              "N": "import_risk_numerator_t"}).reset_index()
    return out[COLUMNS]


# --- corrected mode ------------------------------------------------------------------------

CORRECTED_COLUMNS = COLUMNS + ["excluded_value_share", "unknown_quantity_value_share",
                               "default_governance_share", "flags"]
# stages (catalog HS labels) that price a material whose production statistic is at a stage
OWN_STAGE = {"extraction": {"ore", "mineral"}, "processing": {"refined", "intermediate"}}


@dataclass(frozen=True)
class Corrections:
    """What the corrected mode changes against the peer; each switch can be turned off.

    content: trade tonnes become tonnes of contained material (the World Mining Data basis)
        with the factors of `critmin.catalog.commodities.content_factors`; HS codes without a
        sourced factor are left out and their value share is reported (flag
        'codes_without_factor'; 'content_unknown' for codes whose factor the table marks
        unknowable, basis 'unknown', such as mixed scrap); results that rest on a
        typical grade or a derived ratio (one factor for every route) carry the flag
        'approximate_factor'.
    own_stage_price: price = value / contained tonnes of the HS codes of the material's own
        stage (ores for a mined material, refined metal or compounds for a processed one),
        in USD per kg contained, instead of the unit value of every code pooled.
    missing_data: when an importer has neither imports nor production (F + p = 0): 'flag'
        returns NaN with the flag 'no_supply_data'; 'error' raises. The peer returns 0.
    missing_governance: a supplier without a PV estimate that year: 'flag' uses g = 0.5 and
        reports the tonnage share so scored; 'error' raises; 'exclude' drops those imports.
        Suppliers are matched on ISO3, so Taiwan (BACI 490) finds its own WGI row.
    hubs: ISO3 codes of re-export hubs whose g is replaced by the tonnage-weighted g of the
        hub's own imports of the material that year (one step of look-through).
    """

    content: bool = True
    own_stage_price: bool = True
    missing_data: str = "flag"
    missing_governance: str = "flag"
    hubs: tuple[str, ...] = ()


def _governance_g(pv: pd.DataFrame) -> pd.DataFrame:
    return pv.assign(g=geopolrisk_g(pv["value"]))[["country", "year", "g"]]


def _flags(out: pd.DataFrame, not_mass: set) -> list[str]:
    """One ';'-joined list of data-quality flags per result row of `corrected`."""
    flags = []
    for key, row in zip(out.index, out.itertuples(index=False)):
        checks = [
            (row.F + row.p <= 0, "no_supply_data"),
            (row.F <= 0 < row.value_usd, "imports_not_counted"),
            (row.v_excl > row.v_unknowable, "codes_without_factor"),
            (row.v_unknowable > 0, "content_unknown"),
            (row.unknown_quantity_value_share > 0, "unknown_quantities"),
            (row.default_governance_share > 0, "default_governance"),
            (row.hub_adjusted > 0, "hub_adjusted"),
            (row.typical > 0, "approximate_factor"),
            (np.isnan(row.price_usd_per_kg), "no_price"),
            (np.isnan(row.hhi), "no_production_hhi"),
            (key in not_mass, "production_not_mass"),
        ]
        flags.append(";".join(name for hit, name in checks if hit))
    return flags


def corrected(flows: pd.DataFrame, production: pd.DataFrame, pv: pd.DataFrame,
              factors: pd.DataFrame, stages: Mapping[str, str],
              importers: Mapping[str, Sequence[str]], years: Sequence[int],
              commodities: Sequence[str], corrections: Corrections = Corrections()
              ) -> pd.DataFrame:
    """GeoPolRisk with the peer's defects fixed (docs/methods.md, "corrected mode").

    flows: commodity, hs6, stage, year, exporter, importer, quantity_t (NaN = unknown),
        value_usd — every HS code of each commodity's chain.
    production: commodity, country, year, quantity, unit (World Mining Data).
    pv: country, year, value — WGI political stability estimates (PV.EST).
    factors: hs6, commodity, content (see `Corrections.content`).
    stages: commodity -> its production statistic's stage ('extraction' or 'processing').
    Returns CORRECTED_COLUMNS: the compat columns plus data-quality shares and `flags`.
    """
    c = corrections
    if c.missing_data not in ("flag", "error") or c.missing_governance not in (
            "flag", "error", "exclude"):
        raise ValueError(f"unknown policy in {c}")
    years, commodities = list(years), list(commodities)
    members = pd.DataFrame([(label, iso3) for label, isos in importers.items() for iso3 in isos],
                           columns=["label", "member"])
    grid = pd.MultiIndex.from_product([commodities, list(importers), years],
                                      names=["commodity", "importer", "year"])
    f = flows[flows["commodity"].isin(commodities) & flows["year"].isin(years)].copy()
    # contained tonnes
    if c.content:
        cols = ["hs6", "commodity", "content"] + (["basis"] if "basis" in factors else [])
        f = f.merge(factors[cols], on=["hs6", "commodity"], how="left")
        basis = f.get("basis", pd.Series("", index=f.index))
        f["typical"] = basis.isin(["typical grade", "derived"])
        # codes the table marks unknowable (mixed scrap...): reported, never given a number
        f["unknowable"] = basis.eq("unknown")
        f.loc[f["unknowable"], "content"] = np.nan
    else:
        f["content"] = 1.0
        f["typical"] = False
        f["unknowable"] = False
    f["qc"] = f["quantity_t"] * f["content"]
    g_table = _governance_g(pv)
    # re-export hubs: g of the hub becomes the tonnage-weighted g of its own suppliers
    if c.hubs:
        into_hub = f[f["importer"].isin(c.hubs) & f["qc"].notna()].merge(
            g_table.rename(columns={"country": "exporter"}), on=["exporter", "year"])
        look = into_hub.assign(gq=into_hub["g"] * into_hub["qc"]).groupby(
            ["commodity", "importer", "year"])[["gq", "qc"]].sum()
        look = (look["gq"] / look["qc"].where(look["qc"] > 0)).dropna().rename("g_hub")
        look.index = look.index.set_names(["commodity", "exporter", "year"])
    f = f.merge(members, left_on="importer", right_on="member").drop(columns="member")
    f = f.merge(g_table.rename(columns={"country": "exporter"}), on=["exporter", "year"],
                how="left")
    if c.hubs:
        f = f.join(look, on=["commodity", "exporter", "year"])
        f["hub_adjusted"] = f["g_hub"].notna()
        f["g"] = f["g_hub"].where(f["hub_adjusted"], f["g"])
    else:
        f["hub_adjusted"] = False
    f = f.merge(members.rename(columns={"member": "exporter"}), on=["label", "exporter"],
                how="left", indicator="inside")
    inside = (f["inside"] == "both").to_numpy()
    f["g"] = np.where(inside, 0.0, f["g"])
    no_g = f["g"].isna() & ~inside
    if no_g.any() and c.missing_governance == "error":
        bad = f[no_g][["exporter", "year"]].drop_duplicates().head(5).to_dict("records")
        raise KeyError(f"no political-stability estimate for suppliers {bad}")
    f["defaulted"] = no_g & f["qc"].notna()
    if c.missing_governance == "exclude":
        f = f[~no_g]
    f["g"] = f["g"].fillna(PEER_DEFAULT_G)
    usable = f["qc"].notna()  # known tonnes and, with `content`, a sourced factor
    f["excluded"] = f["content"].isna()
    f["unknown_q"] = f["quantity_t"].isna() & ~f["excluded"]
    f["F"] = f["qc"].where(usable, 0.0)
    f["N"] = f["F"] * f["g"]
    f["Fdef"] = f["F"].where(f["defaulted"], 0.0)
    f["v_excl"] = f["value_usd"].where(f["excluded"], 0.0)
    f["v_unknowable"] = f["value_usd"].where(f["unknowable"], 0.0)
    f["v_unknown"] = f["value_usd"].where(f["unknown_q"], 0.0)
    # price: value over contained tonnes of the codes of the material's own stage
    priced = usable.copy()
    if c.own_stage_price:
        allowed = pd.DataFrame(
            [(com, st) for com, stage in stages.items() if stage in OWN_STAGE
             for st in OWN_STAGE[stage]], columns=["commodity", "stage"])
        unstaged = [com for com in commodities if stages.get(com) not in OWN_STAGE]
        own = f[["commodity", "stage"]].merge(allowed, how="left", indicator="own")["own"]
        priced &= (own == "both").to_numpy() | f["commodity"].isin(unstaged).to_numpy()
    f["Vp"] = f["value_usd"].where(priced, 0.0)
    f["Qp"] = f["F"].where(priced, 0.0)
    agg = f.groupby(["commodity", "label", "year"])[
        ["F", "N", "Fdef", "v_excl", "v_unknowable", "v_unknown", "value_usd", "Vp", "Qp",
         "hub_adjusted", "typical"]].sum()
    agg.index = agg.index.set_names(["commodity", "importer", "year"])
    agg = agg.reindex(grid).fillna(0.0)
    # domestic production in tonnes, as stored (kg tables / 1,000; other units unusable)
    p = production[production["commodity"].isin(commodities)].copy()
    mass = p["unit"].isin(["t", "kg"])
    p["p"] = np.where(p["unit"] == "kg", p["quantity"] / 1000.0, p["quantity"])
    p = p.merge(members, left_on="country", right_on="member")
    bad_unit = p[~p["unit"].isin(["t", "kg"])].groupby(["commodity", "label", "year"]).size()
    bad_unit.index = bad_unit.index.set_names(["commodity", "importer", "year"])
    pg = p[p["unit"].isin(["t", "kg"])].groupby(["commodity", "label", "year"])["p"].sum()
    pg.index = pg.index.set_names(["commodity", "importer", "year"])
    out = agg.join(pg.reindex(grid).fillna(0.0))
    prod = production[production["commodity"].isin(commodities) & mass.reindex(
        production.index, fill_value=False)]
    hhi_s = prod.groupby(["commodity", "year"])["quantity"].agg(
        lambda q: float((q.fillna(0) ** 2).sum() / q.fillna(0).sum() ** 2))
    out = out.join(hhi_s.rename("hhi"), on=["commodity", "year"])
    denom = out["F"] + out["p"]
    # imports that exist but none of whose tonnes can be counted: the risk is unknown, not 0
    uncounted = (out["F"] <= 0) & (out["value_usd"] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wta = np.where((denom > 0) & ~uncounted, out["N"] / denom, np.nan)
        price = np.where(out["Qp"] > 0, out["Vp"] / out["Qp"] / 1000.0, np.nan)
        total_v = out["value_usd"].where(out["value_usd"] > 0)
    out = out.assign(import_risk=wta, price_usd_per_kg=price)
    out["score"] = out["hhi"] * out["import_risk"]
    out["cf"] = out["score"] * out["price_usd_per_kg"] / PEER_COPPER_MIDPOINT
    out["excluded_value_share"] = (out["v_excl"] / total_v).fillna(0.0)
    out["unknown_quantity_value_share"] = (out["v_unknown"] / total_v).fillna(0.0)
    out["default_governance_share"] = (out["Fdef"] / out["F"].where(out["F"] > 0)).fillna(0.0)
    no_data = denom <= 0
    if no_data.any() and c.missing_data == "error":
        bad = out[no_data].index[:5].tolist()
        raise ValueError(f"no imports and no production for {bad}: risk undefined")
    out["flags"] = _flags(out, set(bad_unit.index))
    out = out.rename(columns={"p": "domestic_production_t", "F": "import_qty_t",
                              "N": "import_risk_numerator_t"}).reset_index()
    return out[CORRECTED_COLUMNS]
