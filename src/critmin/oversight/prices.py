"""Which warehouse price values each assayed element, and that price in USD per tonne."""

from __future__ import annotations

from collections.abc import Iterable

# element -> (source, series) of the warehouse price used to value it
ELEMENT_PRICES = {"Cu": ("wb_pink_sheet", "COPPER"), "Au": ("wb_pink_sheet", "GOLD"),
                  "Ag": ("wb_pink_sheet", "SILVER"), "Ni": ("wb_pink_sheet", "NICKEL"),
                  "Pt": ("wb_pink_sheet", "PLATINUM"), "Pd": ("imf_pcps", "PPALLA")}


def element_prices(con, elements: Iterable[str], year: int) -> dict[str, float]:
    """USD per metric tonne of each element that has a warehouse price: the annual average of
    `year` (`con`: a warehouse DuckDB connection). Elements without one are left out."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.data.queries import annual_price
    prices = {}
    for element in elements:
        if element in ELEMENT_PRICES and (found := annual_price(con, *ELEMENT_PRICES[element],
                                                                year)):
            prices[element] = price_to_usd_per_t(*found)
    return prices
