"""Named producers from a user file (issue 4, deliverable 1): split a country's production into
companies or assets, e.g. a company's share of Russian nickel, for `critmin shock --producers`.

CSV columns (one row per producer; header = line 1):
- producer: the name a scenario's `company:` or `asset:` cut targets;
- country: a country the catalog knows (name or ISO3);
- share_of_country_output (0 < s <= 1, of the country's base-year World Mining Data output) or
  capacity_t (> 0, t of contained metal in the base year): exactly one per row;
- technology (optional): the cost-curve band it is carved out of; default: the band of the
  country in `build.DEFAULT_NAMED_PRODUCERS`;
- c1_usd_per_t (optional, USD/t >= 0): default the band's mid C1, as the defaults use;
- commodity (optional): rows for other commodities are skipped.

The rows replace `DEFAULT_NAMED_PRODUCERS` for the commodity. Errors are DataFileError naming
file, line and field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from critmin.errors import DataFileError, UnknownNameError

__all__ = ["load_named_producers"]

SHARE, CAPACITY = "share_of_country_output", "capacity_t"


def _number(path, line, field, value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()) or (
            not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataFileError(path, line, field, f"not a number: {value!r}") from None


def load_named_producers(path, commodity: str, production: pd.Series,
                         curve: pd.DataFrame) -> pd.DataFrame:
    """The file's producers of `commodity` as the DataFrame `build.world_market` takes
    (producer, country, technology, capacity_t = base-year output in t, c1_usd_per_t in USD/t).

    production: base-year output by ISO3, t (a share row is share × its country's output);
    curve: the commodity's bands (`build.load_cost_curve`)."""
    from critmin.catalog.countries import country
    from critmin.market.build import DEFAULT_NAMED_PRODUCERS
    path = Path(path)
    try:
        t = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(path, None, None, f"cannot read the producers CSV: {exc}") from None
    for col in ("producer", "country"):
        if col not in t:
            raise DataFileError(path, 1, col, f"missing column (need producer, country and "
                                              f"{SHARE} or {CAPACITY})")
    if SHARE not in t and CAPACITY not in t:
        raise DataFileError(path, 1, SHARE, f"missing column: give {SHARE} or {CAPACITY}")
    bands = {str(b).casefold(): str(b) for b in curve["band"]}
    defaults = DEFAULT_NAMED_PRODUCERS.get(commodity, {})
    rows, share_sum = [], {}
    for i, r in t.iterrows():
        line = i + 2
        if "commodity" in t and r["commodity"].strip() and (
                r["commodity"].strip().casefold() != commodity.casefold()):
            continue
        name = r["producer"].strip()
        if not name:
            raise DataFileError(path, line, "producer", "empty producer name")
        try:
            iso3 = country(r["country"]).iso3
        except UnknownNameError as exc:
            raise DataFileError(path, line, "country", str(exc)) from None
        share = _number(path, line, SHARE, r.get(SHARE))
        cap = _number(path, line, CAPACITY, r.get(CAPACITY))
        if (share is None) == (cap is None):
            raise DataFileError(path, line, SHARE, f"give exactly one of {SHARE} and "
                                                   f"{CAPACITY}")
        tech = r.get("technology", "").strip()
        if not tech:
            if iso3 not in defaults:
                raise DataFileError(path, line, "technology",
                                    f"needed for {iso3} (bands: {', '.join(bands.values())})")
            tech = defaults[iso3][0]
        if tech.casefold() not in bands:
            raise DataFileError(path, line, "technology", f"no band {tech!r} in the "
                                f"{commodity} curve (bands: {', '.join(bands.values())})")
        band = curve.loc[curve["band"] == bands[tech.casefold()]].iloc[0]
        if share is not None:
            if not 0 < share <= 1:
                raise DataFileError(path, line, SHARE, f"{share:g} is not in (0, 1]")
            share_sum[iso3] = share_sum.get(iso3, 0.0) + share
            if share_sum[iso3] > 1 + 1e-9:
                raise DataFileError(path, line, SHARE, f"shares of {iso3} add up to "
                                                       f"{share_sum[iso3]:g} > 1")
            out = float(production.get(iso3, 0.0))
            if not out > 0:
                raise DataFileError(path, line, "country", f"no {commodity} production of "
                                    f"{iso3} in World Mining Data for the base year")
            cap = share * out
        elif not (np.isfinite(cap) and cap > 0):
            raise DataFileError(path, line, CAPACITY, f"{cap:g} t: must be > 0")
        c1 = _number(path, line, "c1_usd_per_t", r.get("c1_usd_per_t"))
        if c1 is None:
            c1 = 0.5 * (band["c1_low_usd_per_t"] + band["c1_high_usd_per_t"])
        elif not (np.isfinite(c1) and c1 >= 0):
            raise DataFileError(path, line, "c1_usd_per_t", f"{c1:g}: must be >= 0")
        rows.append(dict(producer=name, country=iso3, technology=band["band"], capacity_t=cap,
                         c1_usd_per_t=float(c1)))
    if not rows:
        raise DataFileError(path, None, "commodity", f"no producer rows for {commodity}")
    return pd.DataFrame(rows)
