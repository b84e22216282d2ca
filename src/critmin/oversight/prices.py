"""Which warehouse price values each assayed element, and that price in USD per tonne.

TREO (total rare-earth oxides) has no price of its own: it is valued as a basket,
Σ_i w_i · p_i(year) / Σ_i w_i over the oxides i of a rare-earth oxide distribution w (shares of
TREO) that have a warehouse price, p_i in USD per t of oxide. Oxides without one are either
valued at a stated proxy series (status 'proxy') or excluded (status 'excluded'); the excluded
share (including any part of TREO the file does not list) is reported, never dropped silently.
Default distribution: `treo_basket_default.csv`, a light-REE bastnäsite; replace it with the
exporter's own distribution where known (`load_treo_basket`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pandas as pd

from critmin.errors import DataFileError
from critmin.tablefile import read_text_table

# element -> (source, series) of the warehouse price used to value it
ELEMENT_PRICES = {"Cu": ("wb_pink_sheet", "COPPER"), "Au": ("wb_pink_sheet", "GOLD"),
                  "Ag": ("wb_pink_sheet", "SILVER"), "Ni": ("wb_pink_sheet", "NICKEL"),
                  "Pt": ("wb_pink_sheet", "PLATINUM"), "Pd": ("imf_pcps", "PPALLA")}
TREO = "TREO"
BASKET_COLUMNS = ["oxide", "share", "price_source", "price_series", "status", "note", "source"]
BASKET_STATUS = ("priced", "proxy", "excluded")
_SHARE_SLACK = 1e-9  # shares may sum to 1 up to float rounding


def element_prices(con, elements: Iterable[str], year: int) -> dict[str, float]:
    """USD per metric tonne of each element that has a warehouse price: the annual average of
    `year` (`con`: a warehouse DuckDB connection). TREO gets the default basket price (USD per t
    of TREO, `treo_basket_price`). Elements without a price are left out."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.data.queries import annual_price
    prices = {}
    for element in elements:
        if element == TREO:
            usd, _ = treo_basket_price(con, year)
            if usd is not None:
                prices[element] = usd
        elif element in ELEMENT_PRICES and (found := annual_price(con, *ELEMENT_PRICES[element],
                                                                  year)):
            prices[element] = price_to_usd_per_t(*found)
    return prices


def default_basket_path() -> Path:
    return Path(str(resources.files("critmin.oversight").joinpath("treo_basket_default.csv")))


@functools.cache
def _default_basket() -> pd.DataFrame:
    return _read_basket(default_basket_path())


def load_treo_basket(path: str | Path | None = None) -> pd.DataFrame:
    """The rare-earth oxide distribution used to value TREO (columns oxide, share = fraction of
    TREO by mass, price_source, price_series, status in priced/proxy/excluded, note, source);
    default: the shipped table. Errors name file, line and column."""
    return _default_basket().copy() if path is None else _read_basket(Path(path))


def _read_basket(path: Path) -> pd.DataFrame:
    df = read_text_table(path, BASKET_COLUMNS, "TREO basket")
    share = pd.to_numeric(df["share"], errors="coerce")
    for i in range(len(df)):
        line, row = i + 2, df.iloc[i]
        if not row["oxide"].strip():
            raise DataFileError(str(path), line, "oxide", "empty oxide name")
        if not (0 < share.iloc[i] <= 1):
            raise DataFileError(str(path), line, "share",
                                f"{row['share']!r} is not a fraction of TREO in (0, 1]")
        if row["status"] not in BASKET_STATUS:
            raise DataFileError(str(path), line, "status",
                                f"{row['status']!r}: use one of {', '.join(BASKET_STATUS)}")
        priced = row["status"] != "excluded"
        for c in ("price_source", "price_series"):
            if priced != bool(row[c].strip()):
                raise DataFileError(str(path), line, c, "give the price series of a priced or "
                                    "proxy oxide, and none for an excluded one")
    dup = df["oxide"].duplicated()
    if dup.any():
        line = int(dup.to_numpy().argmax()) + 2
        raise DataFileError(str(path), line, "oxide", f"{df['oxide'][line - 2]!r} listed twice")
    if share.sum() > 1 + _SHARE_SLACK:
        raise DataFileError(str(path), None, "share",
                            f"shares sum to {share.sum():.6g} > 1 (fractions of TREO)")
    if (df["status"] == "excluded").all():
        raise DataFileError(str(path), None, "status", "no priced oxide: TREO cannot be valued")
    return df.assign(share=share)[BASKET_COLUMNS]


def treo_basket_price(con, year: int, basket: pd.DataFrame | None = None
                      ) -> tuple[float | None, pd.DataFrame]:
    """Price of TREO in `year` (USD per metric tonne of contained TREO) and the basket table.

    usd_per_t = Σ_i w_i · p_i / Σ_i w_i over the priced and proxy oxides i (w_i: share of TREO,
    p_i: annual average of the oxide's warehouse series, USD per t of oxide), i.e. the basket is
    renormalised over the valued oxides. It is None when any valued oxide has no price for `year`
    (a partial basket would be biased towards the oxides that happen to be quoted).
    Table: the basket rows plus usd_per_t (price of the oxide), weight (renormalised w_i, 0 for
    excluded oxides) and contribution_usd_per_t; attrs: excluded_share (1 − Σ valued w_i: the
    excluded oxides plus any part of TREO the basket does not list), missing (oxides without a
    price in `year`), year. `basket`: a `load_treo_basket` table (default: the shipped one)."""
    from critmin.catalog.units import price_to_usd_per_t
    from critmin.data.queries import annual_price
    tab = load_treo_basket() if basket is None else basket.copy()
    valued = (tab["status"] != "excluded").to_numpy()
    usd = []
    for src, series, v in zip(tab["price_source"], tab["price_series"], valued):
        found = annual_price(con, src, series, year) if v else None
        usd.append(price_to_usd_per_t(*found) if found else float("nan"))
    tab["usd_per_t"] = usd
    w_valued = float(tab.loc[valued, "share"].sum())
    tab["weight"] = tab["share"].where(valued, 0.0) / w_valued
    tab["contribution_usd_per_t"] = tab["weight"] * tab["usd_per_t"]
    missing = sorted(tab.loc[valued & tab["usd_per_t"].isna().to_numpy(), "oxide"])
    tab.attrs.update(excluded_share=1.0 - w_valued, missing=missing, year=int(year))
    price = None if missing else float(tab.loc[valued, "contribution_usd_per_t"].sum())
    return price, tab
