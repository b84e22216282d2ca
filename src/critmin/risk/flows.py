"""Trade-flow monitoring: bilateral series with shares and growth, and the largest shifts
between two years. Pure functions over the flows of `critmin.data.queries.commodity_flows`."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["commodity", "exporter", "importer"]


def bilateral_series(flows: pd.DataFrame) -> pd.DataFrame:
    """Per (commodity, exporter, importer, year): value_usd, quantity_t, unit_value_usd_per_t
    (value of flows with known tonnes / known tonnes), share (0..1) of the exporter's exports of
    the commodity that year, and growth (value change on the previous listed year, 0.5 = +50 %;
    NaN when the previous year is absent or zero)."""
    f = flows.sort_values([*KEY, "year"]).reset_index(drop=True)
    total = f.groupby(["commodity", "exporter", "year"])["value_usd"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = f["valued_usd"] / f["quantity_t"].where(f["quantity_t"] > 0)
    prev = f.groupby(KEY)["value_usd"].shift(1)
    prev_year = f.groupby(KEY)["year"].shift(1)
    consecutive = prev_year == f["year"] - 1
    growth = (f["value_usd"] / prev.where(consecutive & (prev > 0))) - 1
    return f.assign(unit_value_usd_per_t=unit, share=f["value_usd"] / total, growth=growth)[
        [*KEY, "year", "value_usd", "quantity_t", "unit_value_usd_per_t", "share", "growth"]]


def changes(flows: pd.DataFrame, year: int, base_year: int, *, top: int | None = None
            ) -> pd.DataFrame:
    """The largest shifts in bilateral flows between `base_year` and `year`, by absolute value
    change (USD), across every commodity in `flows`.

    Columns: commodity, exporter, importer, value_base_usd, value_usd, change_usd, change
    (relative, NaN from a zero base), share_base, share (of the exporter's exports of the
    commodity), share_change (percentage points as a fraction). A flow absent in one year counts
    as zero that year: trade that starts or stops is the signal here.
    """
    f = flows[flows["year"].isin([year, base_year])]
    wide = f.pivot_table(index=KEY, columns="year", values="value_usd", aggfunc="sum",
                         fill_value=0.0)
    wide = wide.reindex(columns=[base_year, year], fill_value=0.0)
    wide.columns = ["value_base_usd", "value_usd"]
    totals = wide.groupby(level=["commodity", "exporter"]).transform("sum")
    out = wide.assign(
        change_usd=wide["value_usd"] - wide["value_base_usd"],
        change=(wide["value_usd"] / wide["value_base_usd"].where(wide["value_base_usd"] > 0)) - 1,
        share_base=wide["value_base_usd"] / totals["value_base_usd"].where(
            totals["value_base_usd"] > 0),
        share=wide["value_usd"] / totals["value_usd"].where(totals["value_usd"] > 0),
    )
    out["share_change"] = out["share"].fillna(0) - out["share_base"].fillna(0)
    out = out.reset_index()
    order = out["change_usd"].abs().sort_values(ascending=False, kind="stable").index
    out = out.loc[order].reset_index(drop=True)
    return out.head(top) if top else out
