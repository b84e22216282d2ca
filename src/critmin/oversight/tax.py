"""Kazakhstan mineral extraction tax (MET) on solid minerals:

    MET = rate(element, date) × V          (Tax Code RK 2017 No. 120-VI, Art. 745–746)

V, the tax base, is the value of the metal contained in the mineral raw material: contained
volume × average exchange price (mean of daily LME/LBMA quotations). The rates are a dated,
sourced table (`met_rates_kz.csv`: element, rate, base, valid_from, valid_to, source, note);
rows whose note says "verify" are derived or incomplete and must be checked before use in an
assessment. The table ends on 2025-12-31: the new Tax Code (18 Jul 2025 No. 214-VIII, in force
2026) changed the rates (e.g. a progressive 7.5–11 % scale for gold and silver) and its full
table has not been retrieved. A date outside the table is an error unless the caller asks to
carry the last known rate forward (`carry_forward=True`; for Au/Ag in 2026 that is the floor of
the new scale, so a lower bound of the tax).

Not modelled: the 0 % rate for 60 months at qualifying new deposits, the right of deposits with
profitability ≤ 5 % to keep the 2022 rates, the 0.1 coefficient for technogenic formations.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from critmin.errors import CritminError, DataFileError

COLUMNS = ["element", "rate", "base", "valid_from", "valid_to", "source", "note"]

# English names accepted for the element symbols of the table.
ELEMENT_NAMES: dict[str, str] = {
    "copper": "Cu", "zinc": "Zn", "lead": "Pb", "gold": "Au", "silver": "Ag", "platinum": "Pt",
    "palladium": "Pd", "nickel": "Ni", "tin": "Sn", "aluminium": "Al", "aluminum": "Al",
    "iron": "Fe", "iron ore": "Fe", "manganese": "Mn", "uranium": "U", "vanadium": "V",
    "chromium": "Cr", "titanium": "Ti", "magnesium": "Mg", "cobalt": "Co", "tungsten": "W",
    "bismuth": "Bi", "antimony": "Sb", "mercury": "Hg", "arsenic": "As", "niobium": "Nb",
    "lanthanum": "La", "cerium": "Ce", "zirconium": "Zr", "lithium": "Li", "beryllium": "Be",
    "tantalum": "Ta", "strontium": "Sr", "gallium": "Ga", "selenium": "Se", "tellurium": "Te",
    "molybdenum": "Mo", "scandium": "Sc", "germanium": "Ge", "rubidium": "Rb", "caesium": "Cs",
    "cesium": "Cs", "cadmium": "Cd", "indium": "In", "thallium": "Tl", "hafnium": "Hf",
    "rhenium": "Re", "osmium": "Os", "radium": "Ra", "thorium": "Th",
}


class MetRateError(CritminError, LookupError):
    """No MET rate for an element on a date: names the element, the date and the table."""


def default_table_path() -> Path:
    return Path(str(resources.files("critmin.oversight").joinpath("met_rates_kz.csv")))


def load_met_rates(path: str | Path | None = None) -> pd.DataFrame:
    """The MET rate table at `path` (default: the shipped Kazakhstan table), validated.

    Errors (`DataFileError`) name the file, the line (header = 1) and the column."""
    if path is None:
        return _default_table().copy()
    return _read_table(Path(path))


@functools.cache
def _default_table() -> pd.DataFrame:
    return _read_table(default_table_path())


def _read_table(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise DataFileError(str(path), None, None, f"cannot read MET rate table: {exc}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataFileError(str(path), 1, missing[0], "column missing from the MET rate table")
    out = df[COLUMNS].copy()
    for i, row in out.iterrows():
        line = int(i) + 2
        if not row["element"].strip():
            raise DataFileError(str(path), line, "element", "empty")
        if not row["source"].strip():
            raise DataFileError(str(path), line, "source", "every rate needs a source")
        try:
            rate = float(row["rate"])
        except ValueError:
            raise DataFileError(str(path), line, "rate", f"not a number: {row['rate']!r}") from None
        if not 0 <= rate < 1:
            raise DataFileError(str(path), line, "rate",
                                f"{rate} is not a fraction in 0..1 (8.55 % is 0.0855)")
        for col in ("valid_from", "valid_to"):
            try:
                dt.date.fromisoformat(row[col])
            except ValueError:
                raise DataFileError(str(path), line, col,
                                    f"not an ISO date (YYYY-MM-DD): {row[col]!r}") from None
        if row["valid_to"] < row["valid_from"]:
            raise DataFileError(str(path), line, "valid_to", "before valid_from")
    out["element"] = out["element"].str.strip()
    out["rate"] = out["rate"].astype(float)
    out["valid_from"] = pd.to_datetime(out["valid_from"])
    out["valid_to"] = pd.to_datetime(out["valid_to"])
    for element, g in out.sort_values("valid_from").groupby("element"):
        if (g["valid_from"].to_numpy()[1:] <= g["valid_to"].to_numpy()[:-1]).any():
            raise DataFileError(str(path), None, "valid_from",
                                f"overlapping periods for element {element!r}")
    return out.reset_index(drop=True)


def canonical_element(element: str) -> str:
    """'copper', 'Copper' or 'Cu' -> 'Cu'; names not in ELEMENT_NAMES are kept as given."""
    e = str(element).strip()
    return ELEMENT_NAMES.get(e.lower(), e)


def met_rate(element: str, on_date, *, table: pd.DataFrame | None = None,
             carry_forward: bool = False):
    """MET rate (fraction) of `element` on `on_date` (a date, ISO string, or an array of them:
    then an array of rates).

    A date outside every period of the element raises `MetRateError`; with `carry_forward=True`
    a date after the last period takes the last period's rate (never a date before the first)."""
    tab = _default_table() if table is None else table
    el = canonical_element(element)
    rows = tab[tab["element"] == el].sort_values("valid_from")
    if rows.empty:
        raise MetRateError(
            f"no Kazakhstan MET rate for element {element!r} in the rate table; known: "
            f"{', '.join(sorted(tab['element'].unique()))}")
    scalar = np.ndim(on_date) == 0
    dates = pd.to_datetime(pd.Series([on_date] if scalar else list(on_date)))
    if dates.isna().any():
        raise MetRateError(f"MET rate for {element!r}: missing or invalid date")
    starts, ends = rows["valid_from"].to_numpy(), rows["valid_to"].to_numpy()
    d = dates.to_numpy()
    hit = (d[:, None] >= starts[None, :]) & (d[:, None] <= ends[None, :])
    rates = np.where(hit.any(axis=1), rows["rate"].to_numpy()[hit.argmax(axis=1)], np.nan)
    if carry_forward:
        rates = np.where(np.isnan(rates) & (d > ends.max()), rows["rate"].to_numpy()[-1], rates)
    if np.isnan(rates).any():
        bad = pd.Timestamp(d[np.isnan(rates)][0]).date()
        lo, hi = pd.Timestamp(starts.min()).date(), pd.Timestamp(ends.max()).date()
        after = " (the new Tax Code No. 214-VIII applies from 2026-01-01: its rates are not " \
                "in the table; pass carry_forward=True to use the last known rate, or a table)" \
            if bad > hi else ""
        raise MetRateError(f"no Kazakhstan MET rate for {element!r} on {bad}: the table covers "
                           f"{lo}..{hi}{after}")
    return float(rates[0]) if scalar else rates


def extraction_tax(value_usd, element: str, on_date, *, table: pd.DataFrame | None = None,
                   carry_forward: bool = False):
    """MET = rate(element, on_date) × value_usd, value_usd = value of contained metal (USD).

    Vectorised over `value_usd` (and `on_date` when it is an array of the same length)."""
    rate = met_rate(element, on_date, table=table, carry_forward=carry_forward)
    if isinstance(value_usd, pd.Series):
        return value_usd * (rate if np.ndim(rate) == 0 else np.asarray(rate))
    return np.asarray(value_usd, dtype=float) * rate if np.ndim(value_usd) else \
        float(value_usd) * rate
