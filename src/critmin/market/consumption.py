"""Apparent consumption per country: production + imports − exports, in tonnes of the
commodity on its World Mining Data basis (contained metal, or the oxide the sheet names).
Trade is converted per HS6 code with the catalog's content factors; what the data cannot
support raises or is flagged, never set to zero."""

from __future__ import annotations

import numpy as np
import pandas as pd

from critmin.market.model import MarketError

COLUMNS = ["country", "production_t", "imports_t", "exports_t", "apparent_consumption_t",
           "unknown_quantity_value_usd", "flags"]


def _factors(codes, content_factors: pd.DataFrame, commodity: str) -> dict[str, float]:
    f = content_factors[content_factors["commodity"] == commodity].set_index("hs6")["content"]
    out = {}
    for code in sorted(map(str, codes)):
        if code not in f.index:
            raise MarketError(f"{commodity}: HS {code} has no contained-{commodity} factor in "
                              f"the catalog's hs_content.csv; add one with its source")
        if not np.isfinite(f[code]):
            raise MarketError(f"{commodity}: HS {code} is content_unknown in the catalog's "
                              f"hs_content.csv (no factor holds for the code), so its trade "
                              f"cannot be counted in tonnes of {commodity}")
        out[code] = float(f[code])
    return out


def apparent_consumption(production: pd.Series, flows_by_code: pd.DataFrame,
                         content_factors: pd.DataFrame, *, commodity: str) -> pd.DataFrame:
    """Apparent consumption of `commodity` per country, t: production + imports − exports.

    production: ISO3 -> t of the commodity on its World Mining Data basis. Countries absent
        from it produce nothing (World Mining Data lists every producing country); an empty
        series, or a NaN for a country, raises MarketError.
    flows_by_code: hs6, exporter, importer, quantity_t (t of traded product; NaN = unknown) and
        value_usd, one year of BACI (`queries.geopolrisk_flows_by_code`). Flows with unknown
        tonnes are left out and their value is reported per country (flag
        'unknown_quantities'); flows of a country with itself are ignored.
    content_factors: hs6, commodity, content (t of commodity per t of product,
        `catalog.commodities.content_factors`); a code without a factor or marked unknown
        (content NaN, 'content_unknown') raises MarketError naming it.
    Returns COLUMNS sorted by apparent_consumption_t, largest first. A negative apparent
    consumption (stock build, re-export hub, or a mismatch of the statistics) is kept as it is
    and flagged 'negative'. Σ apparent = Σ production + Σ imports − Σ exports exactly, and
    with BACI's one-row-per-flow data Σ imports = Σ exports."""
    if production is None or len(production) == 0:
        raise MarketError(f"{commodity}: no production, so no apparent consumption")
    prod = pd.Series(production, dtype=float)
    if prod.isna().any():
        raise MarketError(f"{commodity}: production of {', '.join(prod.index[prod.isna()])} "
                          f"is missing (NaN)")
    t = flows_by_code[flows_by_code["exporter"] != flows_by_code["importer"]]
    fac = _factors(t["hs6"].unique(), content_factors, commodity)
    known = t["quantity_t"].notna()
    contained = (t["quantity_t"] * t["hs6"].astype(str).map(fac))[known]
    imports = contained.groupby(t.loc[known, "importer"]).sum()
    exports = contained.groupby(t.loc[known, "exporter"]).sum()
    unknown_v = t.loc[~known, "value_usd"]
    unknown = (unknown_v.groupby(t.loc[~known, "importer"]).sum()
               .add(unknown_v.groupby(t.loc[~known, "exporter"]).sum(), fill_value=0))
    idx = prod.index.union(imports.index).union(exports.index).union(unknown.index)
    out = pd.DataFrame({"production_t": prod.reindex(idx, fill_value=0.0),
                        "imports_t": imports.reindex(idx, fill_value=0.0),
                        "exports_t": exports.reindex(idx, fill_value=0.0),
                        "unknown_quantity_value_usd": unknown.reindex(idx, fill_value=0.0)})
    out["apparent_consumption_t"] = out["production_t"] + out["imports_t"] - out["exports_t"]
    out["flags"] = [";".join(n for hit, n in ((a < 0, "negative"), (u > 0, "unknown_quantities"))
                             if hit)
                    for a, u in zip(out["apparent_consumption_t"],
                                    out["unknown_quantity_value_usd"])]
    out = out.rename_axis("country").reset_index()
    return out[COLUMNS].sort_values("apparent_consumption_t", ascending=False,
                                    ignore_index=True)


def consumption_from_warehouse(con, commodity: str, year: int) -> tuple[pd.DataFrame, dict]:
    """(apparent_consumption table, notes) for `commodity`: World Mining Data production of
    `year` or the latest earlier year (`build.base_inputs`'s rule, t) and BACI trade of the
    same year in every HS code of the commodity's chain (catalog commodity_hs.csv)."""
    from critmin.catalog import commodity as _commodity
    from critmin.catalog.commodities import content_factors
    from critmin.data import queries
    from critmin.errors import WarehouseError
    from critmin.market.build import production_t
    key = _commodity(commodity).key
    prod, prod_year = production_t(con, key, year)
    flows = queries.geopolrisk_flows_by_code(con, [key], [prod_year])
    if flows.empty:
        raise WarehouseError(f"no BACI trade of {key} in {prod_year} in the warehouse: "
                             f"apparent consumption needs the production year's trade")
    table = apparent_consumption(prod, flows, content_factors(), commodity=key)
    notes = {"commodity": key, "year": prod_year,
             "production": f"wmd (World Mining Data) {prod_year}",
             "trade": f"BACI {prod_year}, HS {', '.join(sorted(flows['hs6'].unique()))}",
             "stages": ", ".join(sorted(flows["stage"].dropna().astype(str).unique())),
             "basis": "t of the commodity on its World Mining Data basis; trade × the "
                      "catalog's content factor per HS6 code",
             "world_production_t": float(table["production_t"].sum()),
             "world_imports_t": float(table["imports_t"].sum()),
             "world_exports_t": float(table["exports_t"].sum()),
             "world_apparent_consumption_t": float(table["apparent_consumption_t"].sum())}
    return table, notes
