"""PD -> rating: a sourced, replaceable table of bands (ratings.csv) and the lookup.

A scale is a named set of rows (one per notch, best first) with the Moody's grade, the
S&P/Fitch equivalent, the reference PD the band is built around (`pd_ref`), the band's lower
edge (`pd_min`, inclusive; the upper edge is the next row's `pd_min`, and the last band ends at
1 inclusive), the horizon in years, and each row's provenance and source. A provenance starts
with a tag: pub (published), pub-sec (published, found via a secondary source), derived,
design (our choice) or unverified (not found in a source; kept, and printed as such). Pass
`path=` to use your own CSV in the same layout. Every result should print `describe_scale(scale)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.errors import DataFileError

DEFAULT_PATH = Path(__file__).with_name("ratings.csv")
# The default rests entirely on sourced figures: Moody's 10-year rating factors turned into
# one-year PDs under a constant hazard. 17 of the 19 idealised one-year rates could not be found
# in a public source, so `moodys_idealised_1y` stays available by name but is not the default.
# Constant hazard spreads the 10-year PD evenly, so it overstates the short-run PD of high grades
# (0.37% for Baa2 against the idealised 0.17%) and understates it for speculative grades (B2
# 3.1% against 7.16%), whose defaults come early.
DEFAULT_SCALE = "moodys_warf_implied_1y"
COLUMNS = ("scale", "horizon_years", "moodys", "sp_fitch", "pd_ref", "pd_min", "provenance",
           "source")
AGENCIES = {"moodys": "moodys", "sp_fitch": "sp_fitch"}
PROVENANCE_TAGS = ("pub", "pub-sec", "derived", "design", "unverified")


@dataclass(frozen=True, eq=False)
class RatingScale:
    """One PD -> rating scale: `table` has one row per notch, best first."""

    name: str
    horizon_years: float
    path: str
    table: pd.DataFrame = field(repr=False)

    @property
    def source(self) -> str:
        """The distinct sources of the scale's rows, joined by '; '."""
        return "; ".join(dict.fromkeys(self.table["source"]))

    @property
    def unverified(self) -> list[str]:
        """Grades whose provenance is tagged `unverified` (figure not found in a source)."""
        tags = self.table["provenance"].astype(str).str.split(":").str[0].str.strip()
        return list(self.table.loc[tags == "unverified", "moodys"])


def available_scales(path=None) -> list[str]:
    """Names of the scales in the table at `path` (default: the bundled ratings.csv)."""
    return list(dict.fromkeys(_read(Path(path or DEFAULT_PATH))["scale"]))


def _read(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={"scale": str, "moodys": str, "sp_fitch": str})
    except (OSError, pd.errors.ParserError) as exc:
        raise DataFileError(str(path), None, None, f"cannot read rating table: {exc}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataFileError(str(path), 1, missing[0], "column missing from the rating table")
    return df


def load_scale(name: str = DEFAULT_SCALE, *, path=None) -> RatingScale:
    """Read scale `name` from `path` (default: the bundled ratings.csv) and check its bands:
    pd_min starts at 0, rises strictly, and stays within [0, 1]."""
    path = Path(path or DEFAULT_PATH)
    df = _read(path)
    rows = df.index[df["scale"] == name]
    if len(rows) == 0:
        raise DataFileError(str(path), None, "scale",
                            f"no scale {name!r}; available: {', '.join(available_scales(path))}")
    t = df.loc[rows].reset_index(drop=True)
    for col in ("horizon_years", "pd_min"):
        bad = t[col].isna()
        if bad.any():
            raise DataFileError(str(path), int(rows[bad.to_numpy().argmax()]) + 2, col, "missing")
    for col in ("source", "provenance"):
        bad = t[col].isna() | (t[col].astype(str).str.strip() == "")
        if bad.any():
            raise DataFileError(str(path), int(rows[bad.to_numpy().argmax()]) + 2, col,
                                "every row needs a source and a provenance")
    edges = t["pd_min"].to_numpy(float)
    if edges[0] != 0 or (np.diff(edges) <= 0).any() or edges[-1] > 1:
        i = 0 if edges[0] != 0 else int(np.argmax(np.diff(edges) <= 0)) + 1
        raise DataFileError(str(path), int(rows[min(i, len(rows) - 1)]) + 2, "pd_min",
                            "band edges must start at 0 and rise strictly within [0, 1]")
    horizons = t["horizon_years"].unique()
    if len(horizons) != 1:
        raise DataFileError(str(path), int(rows[0]) + 2, "horizon_years",
                            "one scale must have one horizon")
    return RatingScale(name=name, horizon_years=float(horizons[0]), path=str(path), table=t)


def rating_for_pd(pd_, scale: RatingScale | None = None, *, agency: str = "moodys"):
    """The grade whose band pd_min_i ≤ PD < pd_min_{i+1} holds (the last band includes 1).

    `pd_` is a probability (0..1) over the scale's horizon, scalar or array; `agency` is
    "moodys" (Aaa ... C) or "sp_fitch" (AAA ... C). Returns a str for scalar input, else an
    array of str.
    """
    scale = scale or load_scale()
    if agency not in AGENCIES:
        raise ValueError(f"agency must be one of {', '.join(AGENCIES)}, not {agency!r}")
    p = np.asarray(pd_, dtype=float)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("default probability must be within [0, 1] (no NaN)")
    edges = scale.table["pd_min"].to_numpy(float)
    idx = np.searchsorted(edges, p, side="right") - 1
    grades = scale.table[AGENCIES[agency]].to_numpy(str)[idx]
    return str(grades) if grades.ndim == 0 else grades


def scale_table(scale: RatingScale | None = None) -> pd.DataFrame:
    """The bands of `scale` as a table: grade, S&P/Fitch, pd_ref, pd_min, pd_max, provenance."""
    scale = scale or load_scale()
    t = scale.table
    upper = np.append(t["pd_min"].to_numpy(float)[1:], 1.0)
    return pd.DataFrame({"moodys": t["moodys"], "sp_fitch": t["sp_fitch"], "pd_ref": t["pd_ref"],
                         "pd_min": t["pd_min"], "pd_max": upper, "provenance": t["provenance"]})


def describe_scale(scale: RatingScale | None = None) -> str:
    """A plain-text statement of the mapping used: name, horizon, file, sources and bands."""
    scale = scale or load_scale()
    lines = [f"Rating scale {scale.name!r}: {scale.horizon_years:g}-year PD -> grade, "
             f"band pd_min <= PD < pd_max (file {scale.path})", f"Source: {scale.source}"]
    if scale.unverified:
        lines.append(f"Unverified (not found in a source, verify before relying on the notch): "
                     f"{', '.join(scale.unverified)}")
    for r in scale_table(scale).itertuples(index=False):
        lines.append(f"  {r.moodys:<5} {r.sp_fitch:<5} [{r.pd_min:.4%}, {r.pd_max:.4%})")
    return "\n".join(lines)
