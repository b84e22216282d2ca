"""Units and conversions, in one place.

Mass units convert to metric tonnes; price units convert to US dollars per metric tonne.
"""

from __future__ import annotations

from critmin.errors import CritminError

TROY_OUNCE_KG = 0.0311034768  # exact by definition (international troy ounce)
POUND_KG = 0.45359237  # exact by definition (international avoirdupois pound)

# factor to metric tonnes
MASS_TO_T: dict[str, float] = {
    "t": 1.0,
    "kt": 1_000.0,
    "Mt": 1_000_000.0,
    "kg": 0.001,
    "g": 1e-6,
    "troy oz": TROY_OUNCE_KG / 1000.0,
    "lb": POUND_KG / 1000.0,
}

# Units that measure something other than mass; kept as they are.
NON_MASS = {"ct", "kct", "Mct", "Mio m3"}

# factor to USD per metric tonne
PRICE_TO_USD_PER_T: dict[str, float] = {
    "USD/t": 1.0,
    "USD/kg": 1_000.0,
    "USD/troy oz": 1000.0 / TROY_OUNCE_KG,
    "USD/lb": 1000.0 / POUND_KG,
    "USc/lb": 10.0 / POUND_KG,
}

# Spellings used by the sources, mapped to the catalog's unit names.
ALIASES: dict[str, str] = {
    "metr. t": "t", "metric tons": "t", "metric ton": "t", "tonnes": "t", "tonne": "t",
    "thousand metric tons": "kt", "million metric tons": "Mt", "kilograms": "kg",
    "kilogram": "kg", "troy ounces": "troy oz", "million carats": "Mct",
    "thousand carats": "kct", "million cubic meters": "Mio m3",
    "($/mt)": "USD/t", "$/mt": "USD/t", "($/troy oz)": "USD/troy oz", "$/troy oz": "USD/troy oz",
    "($/kg)": "USD/kg", "($/dmtu)": "USD/dmtu",
}


# Grades (mass fractions of an element in ore, concentrate or product), as mass fraction.
GRADE_FRACTION: dict[str, float] = {"%": 1e-2, "g/t": 1e-6, "ppm": 1e-6, "ppb": 1e-9}


class UnitError(CritminError, ValueError):
    """A unit the catalog cannot convert."""


def convert_grade(value, from_unit: str, to_unit: str):
    """A grade in `to_unit`: value · f(from) / f(to), f the mass fraction per unit
    (1 % = 10,000 g/t; g/t = ppm (mass) = 1,000 ppb). Works on scalars and arrays."""
    for u in (from_unit, to_unit):
        if u not in GRADE_FRACTION:
            raise UnitError(f"unknown grade unit {u!r}; known: {', '.join(GRADE_FRACTION)}")
    return value * (GRADE_FRACTION[from_unit] / GRADE_FRACTION[to_unit])


def canonical_unit(unit: str) -> str:
    """The catalog's name for a unit as a source spells it ('metr. t' -> 't')."""
    u = str(unit).strip()
    return ALIASES.get(u, ALIASES.get(u.lower(), u))


def to_tonnes(quantity: float, unit: str) -> float:
    """Convert a mass `quantity` in `unit` to metric tonnes."""
    u = canonical_unit(unit)
    if u not in MASS_TO_T:
        raise UnitError(f"cannot convert {unit!r} to tonnes; known mass units: {sorted(MASS_TO_T)}")
    return quantity * MASS_TO_T[u]


def price_to_usd_per_t(price: float, unit: str) -> float:
    """Convert a `price` in `unit` (e.g. 'USD/troy oz') to US dollars per metric tonne."""
    u = canonical_unit(unit)
    if u not in PRICE_TO_USD_PER_T:
        raise UnitError(
            f"cannot convert price unit {unit!r} to USD/t; known: {sorted(PRICE_TO_USD_PER_T)}"
        )
    return price * PRICE_TO_USD_PER_T[u]
