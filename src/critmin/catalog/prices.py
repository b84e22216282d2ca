"""Price series the loaders know: which source series is which commodity, in which unit."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd


@functools.cache
def price_series_table() -> pd.DataFrame:
    """source, series, commodity (catalog key), unit, label for every known price series."""
    with resources.files("critmin.catalog").joinpath("price_series.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str)


def series_for(source: str) -> dict[str, tuple[str, str]]:
    """Map series code -> (commodity key, unit) for one source id."""
    df = price_series_table()
    df = df[df["source"] == source]
    return {s: (c, u) for s, c, u in zip(df["series"], df["commodity"], df["unit"])}
