"""Supply risk of the EU critical raw materials method (European Commission 2017; applied in
the 2020 and 2023 assessments):

    SR = [HHI_WGI,t(GS) · IR/2 + HHI_WGI,t(EU sourcing) · (1 − IR/2)] · (1 − EOL_RIR) · SI_SR

    HHI_WGI,t = Σ_c S_c² · WGI_c · t_c      S_c: share of country c in global supply (GS) or in
                                             EU sourcing (EU production + extra-EU imports)
    IR        = (I − E) / (P + I − E)        import reliance, extra-EU trade, contained tonnes

SI_SR (substitution index) and economic importance cannot be computed from public trade and
production data: they are inputs, given per commodity by the user (the EU's published values or
one's own), never invented here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from critmin.risk.governance import eu_scale


def import_reliance(production: float, imports: float, exports: float) -> float:
    """IR = (I − E) / (P + I − E), on 0..1 for a net importer; 0 when the three are 0.

    All three in the same unit (contained tonnes). Clipped to 0..1 here: a net exporter gets 0
    rather than a negative reliance that would lower its risk below the EU-sourcing term."""
    net = imports - exports
    denom = production + net
    if denom <= 0:
        return 0.0 if net <= 0 else 1.0
    return float(min(max(net / denom, 0.0), 1.0))


def supply_risk(hhi_wgi_global: float, hhi_wgi_eu: float, ir: float, eol_rir: float,
                si_sr: float) -> float:
    """SR = [HHI_WGI(GS) · IR/2 + HHI_WGI(EU) · (1 − IR/2)] · (1 − EOL_RIR) · SI_SR, on the
    WGI 0..10 scale."""
    return (hhi_wgi_global * ir / 2 + hhi_wgi_eu * (1 - ir / 2)) * (1 - eol_rir) * si_sr


def _hhi_wgi(amounts: pd.Series, wgi: pd.Series, trade_factor: pd.Series | None) -> tuple[float,
                                                                                       float]:
    """Σ S_c² · WGI_c · t_c over suppliers with a WGI value; also the share without one."""
    a = amounts[amounts > 0]
    if a.empty:
        return float("nan"), 0.0
    s = a / a.sum()
    w = eu_scale(wgi.reindex(s.index).to_numpy())
    t = np.ones(len(s)) if trade_factor is None else trade_factor.reindex(s.index).fillna(
        1.0).to_numpy()
    known = ~np.isnan(w)
    return float(np.sum(s.to_numpy()[known] ** 2 * w[known] * t[known])), float(
        s.to_numpy()[~known].sum())


def eu_supply_risk(production: pd.DataFrame, flows: pd.DataFrame, pv: pd.DataFrame,
                   factors: pd.DataFrame, inputs: pd.DataFrame, members: Sequence[str],
                   year: int, eol_rir: Mapping[str, float | None],
                   trade_factor: pd.DataFrame | None = None) -> pd.DataFrame:
    """SR per commodity of `inputs` for the group `members` (the EU27) in `year`.

    production: commodity, country, year, quantity, unit (World Mining Data: contained basis).
    flows: commodity, hs6, year, exporter, importer, quantity_t — converted to contained tonnes
        with `factors` (hs6, commodity, content); codes without a factor are left out and the
        flag `codes_without_factor` is set.
    pv: country, year, value (WGI PV.EST, rescaled to the EU 0..10 scale).
    inputs: commodity, si_sr (0..1) — required for every commodity assessed.
    eol_rir: commodity -> end-of-life recycling input rate (0..1); missing is an error.
    trade_factor: optional commodity, country, t (export restrictions; 1 when absent).
    """
    m = set(members)
    wgi = pv[pv["year"] == year].set_index("country")["value"]
    rows = []
    for commodity, si in zip(inputs["commodity"], inputs["si_sr"]):
        if eol_rir.get(commodity) is None:
            raise KeyError(f"no end-of-life recycling input rate for {commodity!r}")
        if not 0 <= float(si) <= 1:
            raise ValueError(f"SI_SR of {commodity!r} must lie in 0..1, got {si}")
        p = production[(production["commodity"] == commodity) & (production["year"] == year)]
        if p["unit"].isin(["kg"]).any():
            p = p.assign(quantity=np.where(p["unit"] == "kg", p["quantity"] / 1000,
                                           p["quantity"]))
        gs = p.groupby("country")["quantity"].sum()
        f = flows[(flows["commodity"] == commodity) & (flows["year"] == year)].merge(
            factors[["hs6", "commodity", "content"]], on=["hs6", "commodity"], how="left")
        f = f.assign(qc=f["quantity_t"] * f["content"])
        flags = ["codes_without_factor"] if f["content"].isna().any() else []
        imports = f[f["importer"].isin(m) & ~f["exporter"].isin(m)]
        exports = f[f["exporter"].isin(m) & ~f["importer"].isin(m)]
        eu_prod = gs[gs.index.isin(m)]
        sourcing = eu_prod.add(imports.groupby("exporter")["qc"].sum(), fill_value=0.0)
        tf = None
        if trade_factor is not None:
            tf = trade_factor[trade_factor["commodity"] == commodity].set_index("country")["t"]
        h_gs, miss_gs = _hhi_wgi(gs, wgi, tf)
        h_eu, miss_eu = _hhi_wgi(sourcing, wgi, tf)
        ir = import_reliance(float(eu_prod.sum()), float(imports["qc"].sum()),
                             float(exports["qc"].sum()))
        if len(imports) and imports["qc"].isna().all():
            # imports exist but none can be counted in contained tonnes: unknown, not zero
            ir = h_eu = float("nan")
            flags.append("imports_not_counted")
        if miss_gs > 0 or miss_eu > 0:
            flags.append("governance_missing")
        rows.append({
            "commodity": commodity, "year": year, "hhi_wgi_global": h_gs, "hhi_wgi_eu": h_eu,
            "import_reliance": ir, "eol_rir": eol_rir[commodity], "si_sr": float(si),
            "supply_risk": supply_risk(h_gs, h_eu, ir, eol_rir[commodity], float(si)),
            "governance_missing_share": max(miss_gs, miss_eu), "flags": ";".join(flags)})
    return pd.DataFrame(rows)
