"""Import exposure of a country or bloc: who supplies it, and how much comes from each bloc."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
