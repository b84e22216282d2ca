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

import numpy as np
import pandas as pd

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
