"""Mass balance and mirror checks (issue 5, item 6): leads for inspection, never proof.

Three screens, each a pure function over pandas tables (method, sources:
docs/methods.md, "Export oversight"):

* `mirror_gaps` — the importer's CIF record against the exporter's FOB record of the same flow:
  gap = M_cif − X_fob · (1 + f(mode)), with hub, re-export, missing-side and large-gap flags.
* `unit_value_outliers` — a flow's unit value (USD/t) against robust bounds of the world
  distribution of BACI unit values of the same HS code and year (quantity-weighted, log scale).
* `mass_balance` — declared exported metal content against production (and stock draw).

Every output row carries `lead=True` and `lead_note` = `LEAD_NOTE`: a mirror gap, an odd unit value
or an unbalanced content total has innocent explanations (freight, timing, hubs and merchanting,
HS mismatches, wet vs dry tonnes, quantity errors) and only says where to look.

Paired-record layout read by `read_mirror_records` (CSV or Parquet, one row per paired record;
declared once in `MIRROR_COLUMNS`):

| column           | required | unit | meaning |
|------------------|----------|------|---------|
| `reporter`       | yes | —   | country whose trade is examined (ISO3, ISO numeric or name) |
| `partner`        | yes | —   | the other country |
| `flow`           | yes | —   | direction: export/X, import/M, re-export/RX, re-import/RM |
| `year`           | yes | —   | reference year |
| `month`          | no  | —   | 1..12; empty = the whole year |
| `hs6`            | one of | — | six-digit HS code (text: leading zeros kept) |
| `commodity_code` | one of | — | any other product code (HS8, `TOTAL`, ...) |
| `export_fob_usd` | yes | USD | value reported by the exporter (FOB); empty = not reported |
| `import_cif_usd` | yes | USD | value reported by the importer (CIF); empty = not reported |
| `import_basis`   | no  | —   | `CIF` (default) or `FOB` if the importer reports FOB (f = 0) |
| `export_qty_t`   | no  | t   | quantity reported by the exporter |
| `import_qty_t`   | no  | t   | quantity reported by the importer |
| `mode`           | no  | —   | UN Comtrade mode-of-transport code (motCode); empty = 0 (all) |

`flow` fixes who exported: `export`/`re-export` means exporter = reporter, importer = partner;
`import`/`re-import` the reverse. Lines in errors follow `DataFileError`: the header is line 1,
data row i (0-based) is line i + 2 (Parquet files use the same numbering).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from critmin.catalog import bloc_members
from critmin.catalog import country as _country
from critmin.errors import DataFileError, UnknownNameError

__all__ = ["LEAD_NOTE", "MIRROR_COLUMNS", "DEFAULT_CIF_FOB_FACTORS", "LARGE_GAP",
           "read_mirror_records", "read_gfi_paired", "load_cif_fob_factors", "mirror_gaps",
           "weighted_quantile", "unit_value_outliers", "mass_balance"]

LEAD_NOTE = ("lead for inspection, not proof: mirror gaps, unit values and content balances have "
             "innocent causes (freight, timing, hubs and merchanting, HS mismatches, wet vs dry "
             "tonnes, reporting errors)")

# The paired-record layout, declared once: column -> (required, kind, unit, meaning).
# required: "yes", "no", or "one of" (hs6 / commodity_code).
MIRROR_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "reporter": ("yes", "country", "", "country whose trade is examined"),
    "partner": ("yes", "country", "", "the other country"),
    "flow": ("yes", "flow", "", "reporter's direction: export, import, re-export, re-import"),
    "year": ("yes", "int", "", "reference year"),
    "month": ("no", "int", "", "month 1..12; empty = whole year"),
    "hs6": ("one of", "hs6", "", "six-digit HS code"),
    "commodity_code": ("one of", "text", "", "other product code (HS8, TOTAL, ...)"),
    "export_fob_usd": ("yes", "value", "USD", "value reported by the exporter, FOB"),
    "import_cif_usd": ("yes", "value", "USD", "value reported by the importer, CIF"),
    "import_basis": ("no", "basis", "", "CIF (default) or FOB"),
    "export_qty_t": ("no", "value", "t", "quantity reported by the exporter"),
    "import_qty_t": ("no", "value", "t", "quantity reported by the importer"),
    "mode": ("no", "int", "", "UN Comtrade mode-of-transport code (motCode); empty = 0"),
}

_FLOWS = {"export": "export", "x": "export", "import": "import", "m": "import",
          "re-export": "re-export", "rx": "re-export", "re-import": "re-import",
          "rm": "re-import"}

# CIF/FOB uplift per UN Comtrade mode-of-transport code (motCode -> fraction added to FOB).
# Figures from `app/data/reference/cif_fob_factor.csv` of github.com/noturaveragespiderman/
# trade-misinvoicing (commit 7ddfd18f), MIT License, Copyright (c) 2026 Leonardo Sommariva.
# They are that author's assumptions (sea 5 % after Ndikumana 2014/2016, air 20 %, all modes /
# unknown 10 % = legacy IMF default), not official statistics; OECD ITIC margins per HS4 and
# partner are better where available.
DEFAULT_CIF_FOB_FACTORS: dict[int, float] = {
    0: 0.10, 1000: 0.20, 2000: 0.05, 2100: 0.05, 2200: 0.04, 2900: 0.05, 3000: 0.04,
    3100: 0.04, 3200: 0.04, 3900: 0.04, 9000: 0.10, 9100: 0.02, 9110: 0.02, 9120: 0.02,
    9190: 0.02, 9200: 0.15, 9300: 0.05, 9900: 0.10,
}

# |relative gap| beyond which a pair is flagged 'large_gap' [design]: about four times the
# ~6 % trade-weighted average CIF/FOB margin (OECD ITIC, Statistics WP 2024/05), so a freight
# mis-estimate alone cannot explain it.
LARGE_GAP = 0.25


# ---------------------------------------------------------------------------------------------
# reading


def _line(i: int) -> int:
    return int(i) + 2


def _read_raw(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path).astype(object)
            return df.where(df.notna(), None)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataFileError(str(path), None, None, "file not found") from None
    except Exception as e:  # noqa: BLE001 - re-raised as the file's error
        raise DataFileError(str(path), None, None, f"cannot read: {e}") from e
    return df.map(lambda s: None if s is None or (isinstance(s, str) and s.strip() == "")
                  else (s.strip() if isinstance(s, str) else s))


def _numbers(raw: pd.Series, path: str, field: str, *, required: bool, integer: bool = False,
             nonneg: bool = True) -> pd.Series:
    """`raw` as floats; the first bad value raises DataFileError with its line."""
    num = pd.to_numeric(raw.map(lambda v: v if v is not None else np.nan), errors="coerce")
    num = num.astype(float)
    empty = raw.isna()
    bad = num.isna() & ~empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(path, _line(i), field, f"not a number: {raw.iloc[i]!r}")
    if required and empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataFileError(path, _line(i), field, "missing value")
    if nonneg and (num < 0).any():
        i = int(np.flatnonzero((num < 0).to_numpy())[0])
        raise DataFileError(path, _line(i), field, f"negative value {raw.iloc[i]!r}")
    if integer:
        frac = num.notna() & (num != np.floor(num.fillna(0)))
        if frac.any():
            i = int(np.flatnonzero(frac.to_numpy())[0])
            raise DataFileError(path, _line(i), field, f"not a whole number: {raw.iloc[i]!r}")
    return num


def _countries(raw: pd.Series, path: str, field: str) -> pd.Series:
    out = {}
    for value in raw.dropna().unique():
        try:
            out[value] = _country(value).iso3
        except UnknownNameError as e:
            i = int(np.flatnonzero((raw == value).to_numpy())[0])
            raise DataFileError(path, _line(i), field, str(e)) from None
    return raw.map(out)


def read_mirror_records(path: str | Path) -> pd.DataFrame:
    """Read paired mirror records in the layout of this module's docstring (`MIRROR_COLUMNS`).

    Returns the tidy table: the layout's columns (countries as ISO3, `flow` spelled out,
    `import_basis` filled with 'CIF', `mode` filled with 0) plus `exporter` and `importer`.
    Raises `DataFileError` naming the file, the line (header = 1) and the field of the first
    problem: unknown or missing column, unknown country, bad number, bad flow, bad HS code,
    neither hs6 nor commodity_code, duplicate record.
    """
    path = Path(path)
    src = str(path)
    raw = _read_raw(path)
    unknown = [c for c in raw.columns if c not in MIRROR_COLUMNS]
    if unknown:
        raise DataFileError(src, 1, unknown[0],
                            f"unknown column; the layout has {', '.join(MIRROR_COLUMNS)}")
    for col, (req, *_rest) in MIRROR_COLUMNS.items():
        if req == "yes" and col not in raw.columns:
            raise DataFileError(src, 1, col, "required column missing")
    if "hs6" not in raw.columns and "commodity_code" not in raw.columns:
        raise DataFileError(src, 1, "hs6", "needs a column hs6 or commodity_code")
    for col in MIRROR_COLUMNS:
        if col not in raw.columns:
            raw[col] = None
    out = pd.DataFrame(index=raw.index)
    out["reporter"] = _countries(raw["reporter"].map(_none_if_missing), src, "reporter")
    out["partner"] = _countries(raw["partner"].map(_none_if_missing), src, "partner")
    for col in ("reporter", "partner"):
        miss = out[col].isna()
        if miss.any():
            raise DataFileError(src, _line(int(np.flatnonzero(miss.to_numpy())[0])), col,
                                "missing value")
    flows = raw["flow"].map(lambda v: _FLOWS.get(str(v).strip().lower()) if v is not None
                            else None)
    if flows.isna().any():
        i = int(np.flatnonzero(flows.isna().to_numpy())[0])
        raise DataFileError(src, _line(i), "flow", f"flow must be one of export, import, "
                            f"re-export, re-import (or X, M, RX, RM), not {raw['flow'].iloc[i]!r}")
    out["flow"] = flows
    out["year"] = _numbers(raw["year"], src, "year", required=True, integer=True).astype("Int64")
    month = _numbers(raw["month"], src, "month", required=False, integer=True)
    badm = month.notna() & ((month < 1) | (month > 12))
    if badm.any():
        i = int(np.flatnonzero(badm.to_numpy())[0])
        raise DataFileError(src, _line(i), "month",
                            f"month must be 1..12, not {raw['month'].iloc[i]!r}")
    out["month"] = month.astype("Int64")
    hs6 = raw["hs6"].map(lambda v: None if v is None else str(v).strip())
    badhs = hs6.notna() & ~hs6.fillna("").str.fullmatch(r"\d{6}")
    if badhs.any():
        i = int(np.flatnonzero(badhs.to_numpy())[0])
        raise DataFileError(src, _line(i), "hs6",
                            f"not a six-digit HS code: {raw['hs6'].iloc[i]!r} "
                            "(keep leading zeros: write codes as text)")
    out["hs6"] = hs6
    out["commodity_code"] = raw["commodity_code"].map(lambda v: None if v is None else str(v))
    noprod = out["hs6"].isna() & out["commodity_code"].isna()
    if noprod.any():
        i = int(np.flatnonzero(noprod.to_numpy())[0])
        raise DataFileError(src, _line(i), "hs6", "needs an hs6 or a commodity_code")
    for col in ("export_fob_usd", "import_cif_usd", "export_qty_t", "import_qty_t"):
        out[col] = _numbers(raw[col], src, col, required=False)
    basis = raw["import_basis"].map(lambda v: "CIF" if v is None else str(v).strip().upper())
    badb = ~basis.isin(["CIF", "FOB"])
    if badb.any():
        i = int(np.flatnonzero(badb.to_numpy())[0])
        raise DataFileError(src, _line(i), "import_basis",
                            f"must be CIF or FOB, not {raw['import_basis'].iloc[i]!r}")
    out["import_basis"] = basis
    out["mode"] = _numbers(raw["mode"], src, "mode", required=False, integer=True
                           ).fillna(0).astype(int)
    outward = out["flow"].isin(["export", "re-export"])
    out["exporter"] = out["reporter"].where(outward, out["partner"])
    out["importer"] = out["partner"].where(outward, out["reporter"])
    key = ["reporter", "partner", "flow", "year", "month", "hs6", "commodity_code", "mode"]
    dup = out.duplicated(key)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFileError(src, _line(i), None, "duplicate record: same reporter, partner, "
                            "flow, year, month, product and mode as an earlier line")
    return out.reset_index(drop=True)


def _none_if_missing(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def read_gfi_paired(path: str | Path, *, country_codes: str | Path | None = None) -> pd.DataFrame:
    """Map GFI's paired IMF DOTS file (`gfi_dots_paired_2015_2018.parquet`) to the tidy layout.

    For tests only: the GFI files are not shipped with critmin. The importer is the reporter
    (flow 'import'), product `commodity_code='TOTAL'` (DOTS has no product detail), mode 0.
    GFI divided CIF imports by 1.06; this reader multiplies them back, so `import_cif_usd`
    is the importer's CIF figure (to float rounding) and `import_basis` is 'CIF'; rows with
    `import_indicator` TMG_FOB_USD keep their value with `import_basis='FOB'`. IMF country codes
    become ISO3 through `imf_country_codes_from_dots.csv` (default: beside `path`).
    """
    path = Path(path)
    src = str(path)
    codes_path = Path(country_codes) if country_codes else path.with_name(
        "imf_country_codes_from_dots.csv")
    try:
        codes = pd.read_csv(codes_path, dtype={"imf_code": int}, keep_default_na=False)
        iso = dict(zip(codes["imf_code"], codes["iso3_country_converter"]))
    except Exception as e:  # noqa: BLE001 - re-raised as the file's error
        raise DataFileError(str(codes_path), None, None, f"cannot read: {e}") from e
    try:
        raw = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001
        raise DataFileError(src, None, None, f"cannot read: {e}") from e
    need = ["year", "importer_imf_code", "exporter_imf_code", "import_indicator",
            "import_value_usd_adj", "export_value_usd"]
    for col in need:
        if col not in raw.columns:
            raise DataFileError(src, 1, col, "required column missing (GFI paired layout)")
    for col in ("importer_imf_code", "exporter_imf_code"):
        unknown = ~raw[col].isin(list(iso))
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataFileError(src, _line(i), col, f"IMF code {raw[col].iloc[i]} not in "
                                f"{codes_path.name}")
    ind = raw["import_indicator"]
    bad = ~ind.isin(["TMG_CIF_USD", "TMG_FOB_USD"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(src, _line(i), "import_indicator", f"unexpected {ind.iloc[i]!r}")
    cif = ind == "TMG_CIF_USD"
    imp = raw["import_value_usd_adj"].astype(float)
    out = pd.DataFrame({
        "reporter": raw["importer_imf_code"].map(iso),
        "partner": raw["exporter_imf_code"].map(iso),
        "flow": "import",
        "year": raw["year"].astype("Int64"),
        "month": pd.array([pd.NA] * len(raw), dtype="Int64"),
        "hs6": None,
        "commodity_code": "TOTAL",
        "export_fob_usd": raw["export_value_usd"].astype(float),
        "import_cif_usd": imp.where(~cif, imp * 1.06),
        "import_basis": np.where(cif, "CIF", "FOB"),
        "export_qty_t": np.nan,
        "import_qty_t": np.nan,
        "mode": 0,
    })
    out["exporter"] = out["partner"]
    out["importer"] = out["reporter"]
    return out


def load_cif_fob_factors(path: str | Path | None = None) -> pd.Series:
    """CIF/FOB uplift f per mode-of-transport code, as a Series indexed by `motCode` (int).

    `path`: a CSV in the layout of comtrade_mirror_reference/cif_fob_factor.csv (columns
    `motCode`, `factor`; others ignored). None: `DEFAULT_CIF_FOB_FACTORS` (the same figures).
    Raises `DataFileError` (file, line, field) on a missing column, a bad or duplicate code,
    or a factor that is not a number in [0, 1).
    """
    if path is None:
        s = pd.Series(DEFAULT_CIF_FOB_FACTORS, name="factor", dtype=float)
        s.index.name = "motCode"
        return s
    path = Path(path)
    src = str(path)
    raw = _read_raw(path)
    for col in ("motCode", "factor"):
        if col not in raw.columns:
            raise DataFileError(src, 1, col, "required column missing")
    code = _numbers(raw["motCode"], src, "motCode", required=True, integer=True)
    dup = code.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFileError(src, _line(i), "motCode", f"duplicate code {raw['motCode'].iloc[i]}")
    factor = _numbers(raw["factor"], src, "factor", required=True)
    big = factor >= 1
    if big.any():
        i = int(np.flatnonzero(big.to_numpy())[0])
        raise DataFileError(src, _line(i), "factor", f"a fraction in [0, 1) is expected "
                            f"(0.05 = 5 %), not {raw['factor'].iloc[i]!r}")
    s = pd.Series(factor.to_numpy(), index=pd.Index(code.astype(int).to_numpy(), name="motCode"),
                  name="factor")
    return s


# ---------------------------------------------------------------------------------------------
# mirror gaps


def mirror_gaps(records: pd.DataFrame, cif_fob_factors: pd.Series | dict | None = None, *,
                hubs: tuple[str, ...] | list[str] | set[str] | None = None,
                large_gap: float = LARGE_GAP, min_gap_usd: float = 0.0) -> pd.DataFrame:
    """gap = M_cif − X_fob · (1 + f(mode)); relative gap = gap / (X_fob · (1 + f)).

    `records`: the tidy layout of `read_mirror_records`. `cif_fob_factors`: f per motCode
    (`load_cif_fob_factors`; None = defaults); rows with `import_basis='FOB'` use f = 0. A mode
    not in the table raises ValueError listing it (no silent default). `hubs`: ISO3 codes of
    re-export hubs (None = the catalog bloc ENTREPOTS).

    Adds: cif_fob_factor, expected_import_usd (X_fob·(1+f)), gap_usd, rel_gap,
    qty_rel_gap ((q_M − q_X)/q_X), qty_agreement (GFI's a = 1 − |q_M − q_X| / max(q_M, q_X)),
    gap_weighted_usd (gap · a), flags (';'-joined: missing_side, hub, re_export, large_gap,
    quantity_gap), lead (True) and lead_note. Gap > 0: the importer recorded more than the
    exporter declared (export under-invoicing or an unrecorded export is one explanation).
    large_gap: |rel_gap| > `large_gap` and |gap_usd| ≥ `min_gap_usd`, or one side zero and
    the other not; quantity_gap: |qty_rel_gap| > `large_gap`.
    """
    if cif_fob_factors is None:
        cif_fob_factors = load_cif_fob_factors()
    factors = pd.Series(cif_fob_factors, dtype=float)
    factors.index = factors.index.astype(int)
    hub_set = set(bloc_members("ENTREPOTS") if hubs is None else hubs)
    df = records.copy()
    for col in ("export_qty_t", "import_qty_t"):
        if col not in df.columns:
            df[col] = np.nan
    if "import_basis" not in df.columns:
        df["import_basis"] = "CIF"
    if "mode" not in df.columns:
        df["mode"] = 0
    mode = df["mode"].fillna(0).astype(int)
    unknown = sorted(set(mode) - set(factors.index))
    if unknown:
        raise ValueError(f"no CIF/FOB factor for mode(s) {unknown}; add them to the factor "
                         f"table (known: {sorted(factors.index)})")
    f = mode.map(factors).where(df["import_basis"].str.upper() != "FOB", 0.0)
    x = df["export_fob_usd"].astype(float)
    m = df["import_cif_usd"].astype(float)
    expected = x * (1 + f)  # X_fob (1 + f)
    gap = m - expected      # M_cif - X_fob (1 + f)
    rel = gap / expected.where(expected > 0)
    qx = df["export_qty_t"].astype(float)
    qm = df["import_qty_t"].astype(float)
    qrel = (qm - qx) / qx.where(qx > 0)
    agree = 1 - (qm - qx).abs() / np.maximum(qm, qx).where(np.maximum(qm, qx) > 0)
    df["cif_fob_factor"] = f
    df["expected_import_usd"] = expected
    df["gap_usd"] = gap
    df["rel_gap"] = rel
    df["qty_rel_gap"] = qrel
    df["qty_agreement"] = agree
    df["gap_weighted_usd"] = gap * agree
    missing = x.isna() | m.isna()
    one_zero = ~missing & ((x == 0) != (m == 0))
    big = ~missing & ((rel.abs() > large_gap) | one_zero) & (gap.abs() >= min_gap_usd)
    hub = df["exporter"].isin(hub_set) | df["importer"].isin(hub_set)
    rex = df["flow"].isin(["re-export", "re-import"]) if "flow" in df.columns else False
    qgap = qrel.abs() > large_gap
    flags = pd.DataFrame({"missing_side": missing, "hub": hub, "re_export": rex,
                          "large_gap": big, "quantity_gap": qgap})
    df["flags"] = flags.apply(lambda r: ";".join(k for k, v in r.items() if v), axis=1) \
        if len(df) else pd.Series(dtype=str)
    df["lead"] = True
    df["lead_note"] = LEAD_NOTE
    return df


# ---------------------------------------------------------------------------------------------
# unit values


def weighted_quantile(values, weights, q):
    """Weighted quantile(s) q of `values`: linear interpolation on the plotting positions
    p_i = (W_i − w_i/2) / W (W_i cumulative weight after sorting; Hazen's (i − ½)/n when the
    weights are equal), clamped to the extremes outside [p_1, p_n]."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    p = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(q, p, v)


def _robust_bounds(x: np.ndarray, w: np.ndarray, method: str, k: float
                   ) -> tuple[float, float, float, float]:
    """(median, scale, lower, upper) of log values x with weights w."""
    if method == "iqr":
        q1, med, q3 = weighted_quantile(x, w, [0.25, 0.5, 0.75])
        iqr = q3 - q1
        return med, iqr / 1.349, q1 - k * iqr, q3 + k * iqr
    med = float(weighted_quantile(x, w, 0.5))
    mad = float(weighted_quantile(np.abs(x - med), w, 0.5))
    s = 1.4826 * mad
    return med, s, med - k * s, med + k * s


def unit_value_outliers(flows: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                        by: str | list[str] = "hs6", k: float | None = None,
                        method: str = "iqr", weight: str = "quantity", screen: bool = True,
                        min_reference: int = 5) -> pd.DataFrame:
    """Flag unit values uv = value_usd / quantity_t outside robust bounds of the world
    distribution of log uv for the same `by` key(s) and year.

    iqr (default, k = 3, Tukey's "far out" fences): [Q1 − k·IQR, Q3 + k·IQR] on ln uv;
    mad (k = 3.5, Iglewicz & Hoaglin's modified z-score): med ± k·1.4826·MAD on ln uv.
    Quantiles are weighted (`weighted_quantile`) by quantity_t (`weight='quantity'`), value_usd
    ('value') or not at all ('none'). `reference`: the world flows (default: `flows` itself),
    e.g. `queries.commodity_flows(con, hs6=[code], years=[y])`; when its rows have no `hs6`
    column pass `by='commodity'`. `valued_usd` (value of the flows whose tonnes are known) is
    used for uv where present. `screen`: first drop reference flows outside value-weighted
    bounds (same method and k), because BACI holds flows with gross quantity errors
    (260300 PNG→PHL 2022: 13.2 Mt at 3 USD/t) that would otherwise carry the quantity weights.

    Returns `flows` with unit_value_usd_per_t, world_median_usd_per_t, lower_usd_per_t,
    upper_usd_per_t, robust_z ((ln uv − median) / scale; scale = IQR/1.349 or 1.4826·MAD),
    n_reference, flag ('low_unit_value', 'high_unit_value', 'no_quantity', 'thin_reference'
    (< `min_reference` usable reference flows) or ''), lead (True) and lead_note.
    """
    if method not in ("iqr", "mad"):
        raise ValueError(f"method must be 'iqr' or 'mad', not {method!r}")
    if weight not in ("quantity", "value", "none"):
        raise ValueError(f"weight must be 'quantity', 'value' or 'none', not {weight!r}")
    k = (3.0 if method == "iqr" else 3.5) if k is None else float(k)
    keys = [by] if isinstance(by, str) else list(by)
    keys = keys + (["year"] if "year" not in keys else [])
    ref = flows if reference is None else reference
    for name, df in (("flows", flows), ("reference", ref)):
        missing = [c for c in [*keys, "value_usd", "quantity_t"] if c not in df.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}; has {list(df.columns)}")

    def uv(df: pd.DataFrame) -> pd.Series:
        val = df["valued_usd"] if "valued_usd" in df.columns else df["value_usd"]
        q = df["quantity_t"].astype(float)
        return (val.astype(float) / q.where(q > 0)).where(val.astype(float) > 0)

    ref = ref.assign(_uv=uv(ref))
    ref = ref[ref["_uv"].notna()]
    stats = {}
    for key, g in ref.groupby(keys, sort=False, dropna=False):
        x = np.log(g["_uv"].to_numpy())
        wq = g["quantity_t"].to_numpy(dtype=float)
        wv = g["_uv"].to_numpy() * wq  # value of the flows with known tonnes
        if screen and len(g) >= min_reference:
            _, _, lo, hi = _robust_bounds(x, wv, method, k)
            keep = (x >= lo) & (x <= hi)
            x, wq, wv = x[keep], wq[keep], wv[keep]
        if len(x) < min_reference:
            stats[key if isinstance(key, tuple) else (key,)] = (np.nan,) * 4 + (len(x),)
            continue
        w = {"quantity": wq, "value": wv, "none": np.ones_like(x)}[weight]
        stats[key if isinstance(key, tuple) else (key,)] = (*_robust_bounds(x, w, method, k),
                                                            len(x))
    out = flows.copy()
    u = uv(out)
    rows = [stats.get(tuple(r), (np.nan,) * 4 + (0,)) for r in
            out[keys].itertuples(index=False, name=None)]
    st = pd.DataFrame(rows, columns=["med", "scale", "lo", "hi", "n"], index=out.index)
    out["unit_value_usd_per_t"] = u
    out["world_median_usd_per_t"] = np.exp(st["med"])
    out["lower_usd_per_t"] = np.exp(st["lo"])
    out["upper_usd_per_t"] = np.exp(st["hi"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["robust_z"] = (np.log(u) - st["med"]) / st["scale"].where(st["scale"] > 0)
    out["n_reference"] = st["n"].astype(int)
    flag = np.select(
        [u.isna(), st["med"].isna(), np.log(u) < st["lo"], np.log(u) > st["hi"]],
        ["no_quantity", "thin_reference", "low_unit_value", "high_unit_value"], default="")
    out["flag"] = flag
    out["lead"] = True
    out["lead_note"] = LEAD_NOTE
    return out


# ---------------------------------------------------------------------------------------------
# mass balance


def mass_balance(declared_exports_content_t, production_t, *, stock_draw_t=None,
                 imports_content_t=None, tolerance: float = 0.10, low: float = 0.5
                 ) -> pd.DataFrame:
    """ratio = E / (P + D + I): declared exported metal content E against what was available,
    production P plus stock draw D (opening − closing stocks; negative for a build) plus imported
    content I (D and I are 0 unless given).

    Scalars or Series aligned on their index (e.g. (country, year) or exporter). Flags:
    'exceeds_production' when ratio > 1 + `tolerance` (impossible without unrecorded imports,
    stocks or mis-declared content; the 10 % default tolerance [design] covers statistical
    differences between customs content estimates and production statistics), 'far_below' when
    ratio < `low` (under-declared content, or simply domestic smelting; default 0.5 [design]).
    A missing E or P raises ValueError listing the keys: no silent zero.
    Returns exports_content_t, production_t, stock_draw_t, imports_content_t, available_t,
    ratio, ratio_production (E / P), flag, lead, lead_note.
    """
    parts = {"exports_content_t": declared_exports_content_t, "production_t": production_t,
             "stock_draw_t": stock_draw_t, "imports_content_t": imports_content_t}
    series = {k: v for k, v in parts.items() if isinstance(v, pd.Series)}
    if series:
        index = next(iter(series.values())).index
        for v in series.values():
            index = index.union(v.index, sort=False)
    else:
        index = pd.RangeIndex(1)
    df = pd.DataFrame(index=index)
    for name, v in parts.items():
        if v is None:
            df[name] = 0.0
        elif isinstance(v, pd.Series):
            df[name] = v.reindex(index).astype(float)
        else:
            df[name] = float(v)
    for name in ("exports_content_t", "production_t"):
        miss = df[name].isna()
        if miss.any():
            raise ValueError(f"{name} missing for {list(df.index[miss])}")
    for name in ("stock_draw_t", "imports_content_t"):
        if parts[name] is not None and df[name].isna().any():
            raise ValueError(f"{name} missing for {list(df.index[df[name].isna()])}; "
                             "pass 0 where there was none")
    if ((df["exports_content_t"] < 0) | (df["production_t"] < 0)).any():
        raise ValueError("exported content and production must be ≥ 0")
    df["available_t"] = df["production_t"] + df["stock_draw_t"] + df["imports_content_t"]
    e, a, p = df["exports_content_t"], df["available_t"], df["production_t"]
    df["ratio"] = (e / a.where(a > 0)).where(~((a <= 0) & (e > 0)), np.inf)
    df["ratio_production"] = (e / p.where(p > 0)).where(~((p <= 0) & (e > 0)), np.inf)
    df["flag"] = np.select([df["ratio"] > 1 + tolerance, df["ratio"] < low],
                           ["exceeds_production", "far_below"], default="")
    df["lead"] = True
    df["lead_note"] = LEAD_NOTE
    return df
