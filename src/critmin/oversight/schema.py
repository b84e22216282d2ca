"""The oversight ledger: one pydantic declaration per record kind, and a container of pandas
tables loaded from a folder of CSV or Parquet files with errors that name file, line and field.

Tables (file stem = table name; `.csv` or `.parquet`):

| table            | required | one row per                                      | model             |
|------------------|----------|--------------------------------------------------|-------------------|
| `shipments`      | yes      | shipment (lot / sub-lot) registered for export   | `Shipment`        |
| `certificates`   | yes      | element result on an exporter's lab certificate  | `CertificateResult` |
| `control_assays` | yes      | element result of a state control or umpire assay | `ControlAssay`   |
| `exporters`      | no       | exporter (subsoil user)                          | `Exporter`        |
| `laboratories`   | no       | laboratory                                       | `Laboratory`      |
| `elements`       | no       | element (analyte) and its declared unit          | `Element`         |
| `truth`          | no       | true grade (synthetic ledgers only)              | `TrueGrade`       |

Units are in the column names (`wet_t`, `moisture_pct`, `declared_value_usd`) or, for element
results, in a `unit` column. Grade units are mass fractions: 1 % = 10,000 g/t = 10,000 ppm;
1 g/t = 1 ppm = 1,000 ppb (`convert_grade`). A result whose unit differs from its element's
declared unit (the `elements` table, else `DEFAULT_ELEMENT_UNITS`) is an error, even when the
two are numerically equal (ppm vs g/t): a lab reporting in another unit than declared is a
registration problem to fix at the source. `load_ledger(..., normalise_units=True)` converts
instead of failing.

Lines in errors follow `DataFileError`: 1-based with the header as line 1, so data row i
(0-based) is line i + 2. Parquet files have no header line; the same numbering is used and the
message says "row" with the 0-based index too.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError,
                      ValidationInfo, field_validator)

from critmin.catalog.units import GRADE_FRACTION, convert_grade  # noqa: F401 (re-exported)
from critmin.errors import DataFileError

GradeUnit = Literal["%", "g/t", "ppm", "ppb"]

# grade unit -> g/t (mass fraction; ppm by mass = g/t, 1 % = 10,000 g/t)
# g/t per grade unit, from the catalog's one table of grade units
GRADE_TO_G_PER_T: dict[str, float] = {u: f * 1e6 for u, f in GRADE_FRACTION.items()}

# Declared unit of each element (analyte) unless a ledger's `elements` table says otherwise.
# TREO = total rare-earth oxides.
DEFAULT_ELEMENT_UNITS: dict[str, str] = {
    "Cu": "%", "Pb": "%", "Zn": "%", "Ni": "%", "Co": "%", "Mo": "%", "Fe": "%", "S": "%",
    "As": "%", "Sb": "%", "Bi": "%", "Cd": "%", "Hg": "%", "F": "%", "SiO2": "%",
    "Au": "g/t", "Ag": "g/t", "Pt": "g/t", "Pd": "g/t", "Re": "g/t",
    "TREO": "%", "Nd2O3": "%", "Pr6O11": "%", "Dy2O3": "%", "Tb4O7": "%",
}

TABLES = ("shipments", "certificates", "control_assays", "exporters", "laboratories",
          "elements", "truth")
REQUIRED_TABLES = ("shipments", "certificates", "control_assays")


# ---------------------------------------------------------------------------------------------
# one declaration per record kind


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)
    synthetic: bool = Field(False, description="True on every row of a synthetic ledger")


class Exporter(_Row):
    """An exporter: a subsoil user holding an export licence."""
    exporter_id: str = Field(min_length=1)
    name: str | None = None
    subsoil_use_contract: str | None = Field(None, description="contract or licence number")


class Laboratory(_Row):
    """A laboratory: who hires it decides whose interest its certificates serve."""
    laboratory_id: str = Field(min_length=1)
    name: str | None = None
    accreditation: str | None = Field(None, description="e.g. 'ISO/IEC 17025 KZ.T.02.0123'")
    hired_by: Literal["exporter", "buyer", "state", "umpire"] = "exporter"


class Element(_Row):
    """An element (analyte, e.g. Cu, Au, TREO) and the unit every result for it must use."""
    element: str = Field(min_length=1)
    unit: GradeUnit


class Shipment(_Row):
    """A shipment (lot or sub-lot) registered for export; masses in metric tonnes."""
    shipment_id: str = Field(min_length=1)
    exporter_id: str = Field(min_length=1)
    hs6: str = Field(pattern=r"^\d{6}$", description="HS 2017+ six-digit code")
    commodity: str | None = None
    wet_t: float = Field(gt=0, description="wet metric tonnes")
    moisture_pct: float = Field(ge=0, lt=100, description="moisture, % of wet mass (ISO 10251)")
    dry_t: float = Field(gt=0, description="dry metric tonnes = wet_t·(1 − moisture_pct/100)")
    destination: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166 alpha-3")
    declared_value_usd: float | None = Field(None, ge=0)
    date: _dt.date
    lot: str | None = None
    sub_lot: str | None = None

    @field_validator("dry_t")
    @classmethod
    def _dry_matches_wet(cls, v: float, info: ValidationInfo) -> float:
        wet, m = info.data.get("wet_t"), info.data.get("moisture_pct")
        if wet is not None and m is not None:
            expect = wet * (1 - m / 100)
            if abs(v - expect) > 1e-3 * wet + 0.01:
                raise ValueError(f"dry_t {v:g} does not equal wet_t·(1 − moisture_pct/100) = "
                                 f"{expect:.3f} (tolerance 0.1 % of wet_t + 0.01 t)")
        return v


class _Result(_Row):
    shipment_id: str = Field(min_length=1)
    laboratory_id: str = Field(min_length=1)
    method: str | None = None
    element: str = Field(min_length=1)
    value: float = Field(ge=0, description="grade in `unit`")
    unit: GradeUnit
    detection_limit: float | None = Field(None, ge=0, description="in `unit`")
    date: _dt.date | None = None


class CertificateResult(_Result):
    """One element result on a laboratory certificate submitted with a shipment (declared)."""
    certificate_id: str | None = None


class ControlAssay(_Result):
    """One element result of the state laboratory on a control sample (kind 'control'), or of
    the umpire laboratory on the retained sample (kind 'umpire')."""
    control_id: str | None = None
    sample_id: str | None = None
    kind: Literal["control", "umpire"] = "control"


class TrueGrade(_Row):
    """The true grade of a shipment (only synthetic ledgers know it)."""
    shipment_id: str = Field(min_length=1)
    element: str = Field(min_length=1)
    value: float = Field(ge=0)
    unit: GradeUnit


MODELS: dict[str, type[_Row]] = {
    "shipments": Shipment, "certificates": CertificateResult, "control_assays": ControlAssay,
    "exporters": Exporter, "laboratories": Laboratory, "elements": Element, "truth": TrueGrade,
}
_ADAPTERS = {name: TypeAdapter(list[m]) for name, m in MODELS.items()}
_DATE_FIELDS = {name: [f for f, i in m.model_fields.items()
                       if i.annotation in (_dt.date, _dt.date | None)]
                for name, m in MODELS.items()}
_FLOAT_FIELDS = {name: [f for f, i in m.model_fields.items()
                        if i.annotation in (float, float | None)]
                 for name, m in MODELS.items()}
_COLUMNS = {name: [f for f in m.model_fields if f != "synthetic"] + ["synthetic"]
            for name, m in MODELS.items()}


# ---------------------------------------------------------------------------------------------
# the container


@dataclass
class Ledger:
    """A ledger: pandas tables, one per record kind (see the module docstring). `sources` maps
    a table name to the file it came from (for error messages)."""
    shipments: pd.DataFrame
    certificates: pd.DataFrame
    control_assays: pd.DataFrame
    exporters: pd.DataFrame | None = None
    laboratories: pd.DataFrame | None = None
    elements: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """True when any table carries synthetic rows: such a ledger is never real data."""
        return any(bool(t["synthetic"].any()) for t in self.tables().values()
                   if "synthetic" in t.columns and len(t))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables present, by name."""
        return {n: getattr(self, n) for n in TABLES if getattr(self, n) is not None}

    def element_units(self) -> dict[str, str]:
        """element -> declared unit (the `elements` table over the defaults)."""
        units = dict(DEFAULT_ELEMENT_UNITS)
        if self.elements is not None:
            units.update(zip(self.elements["element"], self.elements["unit"]))
        return units

    def write(self, folder: str | Path, *, format: Literal["csv", "parquet"] = "csv") -> Path:
        """Write every table to `folder/<table>.<format>` (created if missing); returns folder."""
        if format not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', not {format!r}")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables().items():
            path = out / f"{name}.{format}"
            if format == "csv":
                df.to_csv(path, index=False, date_format="%Y-%m-%d")
            else:
                df.to_parquet(path, index=False)
        return out


# ---------------------------------------------------------------------------------------------
# loading and checks


def _line(i: int) -> int:
    return int(i) + 2


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            for c in df.columns:
                if pd.api.types.is_datetime64_any_dtype(df[c]):
                    df[c] = df[c].dt.strftime("%Y-%m-%d")
            return df.astype(object).where(df.notna(), None)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # noqa: BLE001 - re-raised as the file's error
        raise DataFileError(str(path), None, None, f"cannot read: {e}") from e
    return df.map(lambda s: None if s is None or (isinstance(s, str) and s.strip() == "")
                  else s.strip())


def validate_table(name: str, df: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Validate `df` row by row against the model of table `name`; return a typed table.

    Raises `DataFileError` naming `source` (default: the table name), the line (data row i is
    line i + 2) and the field of the first invalid value; the message counts the others.
    """
    if name not in MODELS:
        raise ValueError(f"unknown ledger table {name!r}; known: {', '.join(TABLES)}")
    src = source or name
    model = MODELS[name]
    unknown = [c for c in df.columns if c not in model.model_fields]
    if unknown:
        raise DataFileError(src, 1, unknown[0], f"unknown column; {name} has columns "
                            f"{', '.join(model.model_fields)}")
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    try:
        rows = _ADAPTERS[name].validate_python(records)
    except ValidationError as e:
        errs = e.errors()
        first = errs[0]
        loc = first["loc"]
        row = loc[0] if loc and isinstance(loc[0], int) else None
        fld = str(loc[1]) if len(loc) > 1 else None
        got = first.get("input")
        msg = first["msg"].removeprefix("Value error, ")
        if fld is not None and not isinstance(got, dict):
            msg += f" (got {got!r})"
        if source and source.endswith(".parquet") and row is not None:
            msg += f" [row index {row}]"
        more = f"; {len(errs) - 1} more invalid value(s)" if len(errs) > 1 else ""
        raise DataFileError(src, _line(row) if row is not None else None, fld,
                            msg + more) from None
    out = pd.DataFrame(_ADAPTERS[name].dump_python(rows), columns=_COLUMNS[name])
    for c in _DATE_FIELDS[name]:
        out[c] = pd.to_datetime(out[c])
    for c in _FLOAT_FIELDS[name]:
        out[c] = out[c].astype(float)
    return out


def check_ledger(ledger: Ledger, *, normalise_units: bool = False) -> Ledger:
    """Cross-table checks: unique shipment ids, results that point at known shipments,
    laboratories and exporters (when those tables are given), and units that match each
    element's declared unit (or, with `normalise_units`, results converted to it).

    Returns the ledger (a new one when units were converted). Raises `DataFileError`.
    """
    src = {n: ledger.sources.get(n, n) for n in TABLES}
    sh = ledger.shipments
    dup = sh["shipment_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFileError(src["shipments"], _line(i), "shipment_id",
                            f"duplicate shipment_id {sh['shipment_id'].iloc[i]!r}")
    if ledger.exporters is not None:
        _known(sh, "exporter_id", set(ledger.exporters["exporter_id"]), src["shipments"],
               "exporters")
    units = ledger.element_units()
    labs = set(ledger.laboratories["laboratory_id"]) if ledger.laboratories is not None else None
    converted = {}
    for name in ("certificates", "control_assays", "truth"):
        df = getattr(ledger, name)
        if df is None:
            continue
        _known(df, "shipment_id", set(sh["shipment_id"]), src[name], "shipments")
        if labs is not None and "laboratory_id" in df.columns:
            _known(df, "laboratory_id", labs, src[name], "laboratories")
        declared = df["element"].map(units)
        missing = declared.isna().to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataFileError(src[name], _line(i), "element",
                                f"element {df['element'].iloc[i]!r} has no declared unit; "
                                "add it to the elements table")
        wrong = (df["unit"] != declared).to_numpy()
        if wrong.any():
            if not normalise_units:
                i = int(np.flatnonzero(wrong)[0])
                el, u = df["element"].iloc[i], df["unit"].iloc[i]
                raise DataFileError(
                    src[name], _line(i), "unit",
                    f"unit {u!r} contradicts the declared unit {units[el]!r} of element "
                    f"{el!r}; report {el} in {units[el]} (1 % = 10,000 g/t = 10,000 ppm) or "
                    "load with normalise_units=True"
                    + (f"; {int(wrong.sum()) - 1} more such row(s)" if wrong.sum() > 1 else ""))
            df = df.copy()
            f_from = df["unit"].map(GRADE_TO_G_PER_T)
            f_to = declared.map(GRADE_TO_G_PER_T)
            for c in ("value", "detection_limit"):
                if c in df.columns:
                    df[c] = df[c] * f_from / f_to
            df["unit"] = declared
            converted[name] = df
    if converted:
        ledger = Ledger(**{**{n: getattr(ledger, n) for n in TABLES}, **converted},
                        sources=dict(ledger.sources))
    return ledger


def _known(df: pd.DataFrame, col: str, known: set, source: str, table: str) -> None:
    bad = ~df[col].isin(known).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFileError(source, _line(i), col,
                            f"{col} {df[col].iloc[i]!r} is not in the {table} table")


def make_ledger(*, shipments: pd.DataFrame, certificates: pd.DataFrame,
                control_assays: pd.DataFrame, exporters: pd.DataFrame | None = None,
                laboratories: pd.DataFrame | None = None, elements: pd.DataFrame | None = None,
                truth: pd.DataFrame | None = None, normalise_units: bool = False) -> Ledger:
    """Validate in-memory tables (each row against its model, then `check_ledger`)."""
    given = dict(shipments=shipments, certificates=certificates, control_assays=control_assays,
                 exporters=exporters, laboratories=laboratories, elements=elements, truth=truth)
    typed = {n: (validate_table(n, df) if df is not None else None) for n, df in given.items()}
    return check_ledger(Ledger(**typed), normalise_units=normalise_units)


def load_ledger(path: str | Path, *, normalise_units: bool = False) -> Ledger:
    """Load a ledger folder (`<table>.csv` or `<table>.parquet` per table; see the module
    docstring), validating every row and the cross-table rules. Errors are `DataFileError`
    naming file, line and field."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataFileError(str(folder), None, None,
                            "a ledger is a folder of shipments/certificates/control_assays "
                            "files (.csv or .parquet); no such folder")
    tables: dict[str, pd.DataFrame | None] = {}
    sources: dict[str, str] = {}
    for name in TABLES:
        found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(found) > 1:
            raise DataFileError(str(found[0]), None, None,
                                f"both {found[0].name} and {found[1].name} exist; keep one")
        if not found:
            if name in REQUIRED_TABLES:
                raise DataFileError(str(folder / f"{name}.csv"), None, None,
                                    f"missing: a ledger needs {', '.join(REQUIRED_TABLES)} "
                                    "(.csv or .parquet)")
            tables[name] = None
            continue
        sources[name] = str(found[0])
        tables[name] = validate_table(name, _read(found[0]), source=str(found[0]))
    return check_ledger(Ledger(**tables, sources=sources), normalise_units=normalise_units)

