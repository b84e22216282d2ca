"""Supply-risk indicators per commodity, side by side: production concentration, export
concentration and governance-weighted concentration. Pure functions over warehouse extracts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.risk.concentration import governance_weighted_hhi, hhi, top_k_share
from critmin.risk.governance import eu_scale

INDICATOR_COLUMNS = [
    "commodity", "year", "producers", "production_hhi", "production_hhi_points",
    "top_producer", "top_producer_share", "top3_share", "gov_weighted_hhi",
    "gov_missing_share", "exporters", "export_hhi", "top_exporter", "top_exporter_share",
]


def _concentration(frame: pd.DataFrame, who: str, amount: str) -> dict:
    g = frame.groupby(who)[amount].sum()
    g = g[g > 0].sort_values(ascending=False)
    if g.empty:
        return {}
    return {"n": len(g), "hhi": hhi(g.to_numpy()), "top": g.index[0],
            "top_share": float(g.iloc[0] / g.sum()), "top3": top_k_share(g.to_numpy(), 3)}


def commodity_indicators(production: pd.DataFrame, flows: pd.DataFrame, pv: pd.DataFrame,
                         year: int) -> pd.DataFrame:
    """One row per commodity for `year`.

    production: commodity, country, year, quantity (one source and measure per commodity).
    flows: commodity, year, exporter, importer, value_usd (all HS codes of the chain).
    pv: country, year, value — WGI political stability (PV.EST).
    production_hhi is on 0..1 (production_hhi_points on 0..10,000); gov_weighted_hhi is
    Σ s_c² · WGI_c on the EU 0..10 scale (European Commission 2017) with PV as the governance
    indicator, over the producers that have an estimate — gov_missing_share is the production
    share of those that have none; export_hhi uses export values (USD) of the year.
    """
    rows = []
    prod = production[production["year"] == year]
    fl = flows[flows["year"] == year]
    gov = pv[pv["year"] == year].set_index("country")["value"]
    for commodity in sorted(set(prod["commodity"]) | set(fl["commodity"])):
        p = prod[prod["commodity"] == commodity]
        pc = _concentration(p, "country", "quantity")
        ec = _concentration(fl[fl["commodity"] == commodity], "exporter", "value_usd")
        row = {"commodity": commodity, "year": year}
        if pc:
            by_country = p.groupby("country")["quantity"].sum()
            by_country = by_country[by_country > 0]
            w = eu_scale(gov.reindex(by_country.index).to_numpy())
            known = ~np.isnan(w)
            share = by_country / by_country.sum()
            row.update(
                producers=pc["n"], production_hhi=pc["hhi"], production_hhi_points=1e4 * pc["hhi"],
                top_producer=pc["top"], top_producer_share=pc["top_share"], top3_share=pc["top3"],
                gov_weighted_hhi=(governance_weighted_hhi(by_country.to_numpy()[known], w[known])
                                  * (share[known].sum() ** 2) if known.any() else np.nan),
                gov_missing_share=float(share[~known].sum()))
        if ec:
            row.update(exporters=ec["n"], export_hhi=ec["hhi"], top_exporter=ec["top"],
                       top_exporter_share=ec["top_share"])
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=INDICATOR_COLUMNS)
    return out.astype({"producers": "Int64", "exporters": "Int64"})
