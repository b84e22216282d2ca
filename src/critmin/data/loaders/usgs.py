"""Loaders for the USGS Mineral Commodity Summaries 2025 data release: world production and
reserves (MCS2025_World_Data.csv) and the annual U.S. prices of the salient-statistics files.

USGS cells are text: thousands separators, 'W' (withheld), 'NA', '—' (zero), '>'/'<' bounds and
words such as 'Large'. `parse_value` handles each one explicitly.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Iterable

import pandas as pd

from critmin.catalog.prices import series_for
from critmin.data.loaders._common import existing, read_header, require_columns, resolve_country
from critmin.data.warehouse import Staged, sha256_file
from critmin.catalog import country
from critmin.errors import DataFileError, UnknownNameError

WORLD_COLUMNS = ["COMMODITY", "COUNTRY", "TYPE", "UNIT_MEAS", "PROD_2023", "PROD_EST_ 2024",
                 "PROD_NOTES", "RESERVES_2024", "RESERVE_NOTES"]
AGGREGATE = re.compile(r"^(world total|other countries|united states and canada)\b")
# USGS commodity -> catalog key; None = not in the catalog (skipped on purpose). A commodity
# missing from this table is an error, so a new release cannot drop data silently.
COMMODITIES: dict[str, str | None] = {
    "Aluminum": "aluminium", "Antimony": "antimony", "Arsenic": "arsenic", "Asbestos": "asbestos",
    "Barite": "baryte", "Bauxite": "bauxite", "Beryllium": "beryllium", "Bismuth": "bismuth",
    "Boron": "boron", "Cadmium": "cadmium", "Chromium": "chromium", "Cobalt": "cobalt",
    "Copper": "copper", "Diamond (industrial)": "diamonds_industrial", "Diatomite": "diatomite",
    "Feldspar": "feldspar", "Fluorspar": "fluorspar", "Gallium": "gallium",
    "Gemanium": "germanium", "Gemstones": "diamonds_gem", "Gold": "gold", "Graphite": "graphite",
    "Gypsum": "gypsum", "Indium": "indium", "Iron Ore": "iron_ore", "Lead": "lead",
    "Lithium": "lithium", "Magnesium Compounds": "magnesite", "Manganese": "manganese",
    "Mercury": "mercury", "Molybdenum": "molybdenum", "Nickel": "nickel", "Niobium": "niobium",
    "Perlite": "perlite", "Phosphate rock": "phosphate", "Potash": "potash",
    "Rare earths": "rare_earths", "Rhenium": "rhenium", "Salt": "salt", "Selenium": "selenium",
    "Silver": "silver", "Sulfur": "sulfur", "Talc and Pyrophyllite": "talc",
    "Tantalum": "tantalum", "Tellurium": "tellurium", "Tin": "tin",
    "Titanium Mineral Concentrates": "titanium", "Tungsten": "tungsten",
    "Vanadium": "vanadium", "Vermiculite": "vermiculite", "Zinc": "zinc",
    "Zirconium and Hafnium": "zircon",
    # split by TYPE below
    "Platinum-Group metals": "*", "Clays": "*",
    # not in the World Mining Data catalog
    "Abrasives": None, "Bromine": None, "Cement": None, "Garnet (industrial)": None,
    "Helium": None, "Iodine": None, "Iron and Steel": None, "Iron oxide pigments": None,
    "Kyanite and Related Minerals": None, "Lime": None, "Magnesium metal": None,
    "Mica (Natural)": None, "Nitrogen(fixed) - Ammonia": None, "Peat": None,
    "Pumice & Pumicite": None, "Sand and gravel (industrial)": None, "Silicon": None,
    "Soda ash": None, "Strontium": None, "Talc, crude": None,
    "Titanium & titanium dioxide": None, "Wollastonite": None, "Zeolites (natural)": None,
}
BY_TYPE = {"palladium content": "palladium", "platinum content": "platinum",
           "bentonite": "bentonite", "kaolin": "kaolin"}
UNITS = {"metric tons": "t", "thousand metric tons": "kt", "thousand metric dry tons": "kt",
         "kilograms": "kg", "million carats": "Mct", "thousand carats": "kct",
         "million cubic meters": "Mio m3", "million metric tons": "Mt"}
# RESERVE_NOTES that change what a reserve figure counts, and the short qualifiers kept as
# `note` when no figure is given (longer notes are prose and are not copied).
RESERVE_UNITS = {"million metric tons": "Mt"}
RESERVE_MEASURES = {"crude ore": "crude ore", "iron content": "iron content",
                    "zro2 content": "ZrO2 content", "gross weight": "gross weight"}
QUALIFIERS = {"na", "large", "small", "moderate", "moderate to large", "very small", "xx"}
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_value(text: str) -> tuple[float | None, str | None]:
    """Parse one USGS cell into (value, note).

    '' -> (None, None); 'W' withheld and 'NA' -> (None, 'W'/'NA'); '—', '–', '-' -> (0.0, None)
    (USGS prints a dash for zero); '>1,200' -> (1200.0, '>'); 'Large' -> (None, 'Large');
    anything else raises ValueError.
    """
    t = str(text).strip().replace(",", "")
    if t == "":
        return None, None
    if t in ("W", "NA", "XX", "Large", "large"):
        return None, t
    if t in ("—", "–", "-", "--"):
        return 0.0, None
    if t[0] in "<>" and _NUMBER.fullmatch(t[1:].strip().lstrip("=")):
        return float(t[1:].strip().lstrip("=")), t[0]
    if _NUMBER.fullmatch(t):
        return float(t), None
    raise ValueError(f"not a USGS number: {text!r}")


def _value(text: str, path: Path, line: int, field: str) -> tuple[float | None, str | None]:
    try:
        return parse_value(text)
    except ValueError as exc:
        raise DataFileError(str(path), line, field, str(exc)) from None


def _usgs_country(text: str, path: Path, line: int) -> str:
    """USGS appends qualifiers such as 'Brazil (beneficiated)': try the name, then without it."""
    name = text.strip()
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    if bare != name:
        try:
            return country(name).iso3
        except UnknownNameError:
            name = bare
    return resolve_country(name, path, line, "COUNTRY")


def read_usgs_world_csv(path: str | Path, *, source: str = "usgs_mcs2025") -> Staged:
    """World mine/refinery production (2023, estimated 2024) and reserves (2024) by country.

    Aggregate rows (world total, other countries) are not written; neither are commodities
    outside the catalog. Units are kept as USGS gives them (t, kt, kg, Mct...).
    """
    p = existing(path)
    header = read_header(p)
    require_columns(p, header, WORLD_COLUMNS)
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    prod, res = [], []
    units_seen: dict[tuple[str, str], str] = {}
    # USGS flags "(Reserve data is thousand metric tons)" on a few rows of a commodity
    # (molybdenum, vanadium) but the unit holds for all its reserve figures
    kt_reserves = set(df.loc[df["RESERVE_NOTES"].str.lower().str.contains(
        "reserve data is thousand metric tons"), "COMMODITY"].str.strip())
    for i, row in enumerate(df.to_dict("records")):
        line = i + 2
        name = row["COMMODITY"].strip()
        if name not in COMMODITIES:
            raise DataFileError(str(p), line, "COMMODITY",
                                f"USGS commodity {name!r} is not in the loader's mapping")
        key = COMMODITIES[name]
        measure = re.sub(r"\s+", " ", row["TYPE"].strip()).lower()
        if key == "*":
            key = next((v for k, v in BY_TYPE.items() if k in measure), None)
        if key is None or AGGREGATE.match(row["COUNTRY"].strip().lower()):
            continue
        unit_text = row["UNIT_MEAS"].strip()
        if unit_text:
            if unit_text not in UNITS:
                raise DataFileError(str(p), line, "UNIT_MEAS", f"unknown unit {unit_text!r}")
            unit = units_seen.setdefault((key, measure), UNITS[unit_text])
        elif (key, measure) in units_seen:
            unit = units_seen[(key, measure)]  # a blank unit repeats the commodity's unit
        else:
            raise DataFileError(str(p), line, "UNIT_MEAS", "unit missing")
        iso3 = _usgs_country(row["COUNTRY"], p, line)
        notes = row["PROD_NOTES"].lower()
        for year, col in ((2023, "PROD_2023"), (2024, "PROD_EST_ 2024")):
            value, _ = _value(row[col], p, line, col)
            if value is not None:
                est = year == 2024 or "estimated" in measure or "estimated 2023" in notes
                prod.append((key, iso3, year, value, unit, est, measure, source))
        value, note = _value(row["RESERVES_2024"], p, line, "RESERVES_2024")
        notes = re.sub(r"\s+", " ", row["RESERVE_NOTES"].replace("\xa0", " ")).strip()
        if note is None and value is None and notes.lower().split(" (")[0] in QUALIFIERS:
            note = notes.split(" (")[0]
        if value is not None or note is not None:
            r_unit = "kt" if name in kt_reserves else next(
                (u for k, u in RESERVE_UNITS.items() if k in notes.lower()), unit)
            r_measure = next((m for k, m in RESERVE_MEASURES.items() if k in notes.lower()),
                             measure)
            res.append((key, iso3, 2024, value, r_unit, r_measure, note, source))
    production = pd.DataFrame(prod, columns=["commodity", "country", "year", "quantity", "unit",
                                             "estimated", "measure", "source"])
    reserves = pd.DataFrame(res, columns=["commodity", "country", "year", "quantity", "unit",
                                          "measure", "note", "source"])
    return Staged(source=source, loader="usgs.world",
                  tables={"production": production, "reserves": reserves},
                  files=[(str(p), sha256_file(p))])


def read_usgs_salient_prices(paths: Iterable[str | Path], *,
                             source: str = "usgs_mcs2025") -> Staged:
    """Annual U.S. prices from MCS 2025 salient-statistics CSVs (mcs2025-<abbr>_salient.csv).

    Only the series listed in the catalog's price_series.csv are read; 'W'/'NA' cells are
    skipped, never zero.
    """
    known = series_for(source)
    rows, files = [], []
    for path in paths:
        p = existing(path)
        m = re.fullmatch(r"mcs2025-(.+)_salient\.csv", p.name)
        if not m:
            raise DataFileError(str(p), None, None, "expected a file named mcs2025-<abbr>_salient.csv")
        abbr = m.group(1)
        header = read_header(p)
        require_columns(p, header, ["Year"])
        wanted = [c for c in header if f"{abbr}:{c}" in known]
        files.append((str(p), sha256_file(p)))
        if not wanted:
            continue
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for i, rec in enumerate(df.to_dict("records")):
            line = i + 2
            year_text = rec["Year"].strip()
            if not year_text.isdigit():
                raise DataFileError(str(p), line, "Year", f"not a year: {year_text!r}")
            for col in wanted:
                value, _ = _value(rec[col], p, line, col)
                if value is None:
                    continue
                commodity, unit = known[f"{abbr}:{col}"]
                rows.append((commodity, dt.date(int(year_text), 1, 1), "A", value, unit,
                             f"{abbr}:{col}", source))
    prices = pd.DataFrame(rows, columns=["commodity", "period", "frequency", "price", "unit",
                                         "series", "source"])
    return Staged(source=source, loader="usgs.salient", tables={"prices": prices}, files=files)
