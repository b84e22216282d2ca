"""Read-side queries on the warehouse used by the CLI and later views."""

from __future__ import annotations

import duckdb
import pandas as pd

from critmin.catalog import commodity as _commodity
from critmin.catalog import country as _country
from critmin.errors import WarehouseError
from critmin.risk.concentration import hhi


def production(con: duckdb.DuckDBPyConnection, commodity: str, *, year: int | None = None,
               source: str | None = None, measure: str | None = None
               ) -> tuple[pd.DataFrame, dict]:
    """Producers of `commodity` in `year` (default: latest year) with quantity and share.

    Returns (table, summary) where summary has commodity, year, source, measure, unit, world
    total (sum of the countries listed, in `unit`) and the HHI (0..1) over all producers.
    """
    c = _commodity(commodity)
    where, params = ["commodity = ?"], [c.key]
    avail = con.execute("SELECT source, measure, max(year) FROM production WHERE commodity = ? "
                        "GROUP BY source, measure ORDER BY (source = 'wmd') DESC, source, measure",
                        [c.key]).fetchall()
    if source:
        avail = [a for a in avail if a[0] == source]
    if measure:
        avail = [a for a in avail if a[1] == measure]
    if not avail:
        raise WarehouseError(f"no production of {c.name} in the warehouse"
                             + (f" from source {source!r}" if source else ""))
    src, meas, latest = avail[0]
    year = year or latest
    where += ["source = ?", "measure = ?", "year = ?"]
    params += [src, meas, year]
    df = con.execute(
        "SELECT p.country, k.name AS country_name, p.quantity, p.unit, p.estimated "
        f"FROM production p LEFT JOIN countries k ON k.iso3 = p.country "
        f"WHERE {' AND '.join(where)} ORDER BY p.quantity DESC, p.country", params).df()
    if df.empty:
        raise WarehouseError(f"no production of {c.name} for {year} from {src!r} ({meas})")
    units = df["unit"].unique()
    if len(units) != 1:
        raise WarehouseError(f"{c.name} {year} from {src!r} mixes units {list(units)}")
    total = float(df["quantity"].sum())
    df["share"] = df["quantity"] / total if total > 0 else float("nan")
    summary = {"commodity": c.key, "year": int(year), "source": src, "measure": meas,
               "unit": units[0], "world_total": total,
               "hhi": hhi(df["quantity"]) if total > 0 else float("nan")}
    return df, summary


def _year_range(years: str | None) -> tuple[int, int] | None:
    if not years:
        return None
    parts = years.split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1]))
    except ValueError:
        raise ValueError(f"years must look like 2018-2024 or 2022, not {years!r}") from None
    return (lo, hi) if lo <= hi else (hi, lo)


def trade(con: duckdb.DuckDBPyConnection, commodity: str, *, exporter: str,
          importer: str | None = None, years: str | None = None,
          hs6: list[str] | None = None) -> pd.DataFrame:
    """Exports of `commodity` (all HS6 codes of its chain, or `hs6`) from `exporter` by partner
    and year: value_usd, quantity_t, unit_value_usd_per_t (value / known tonnes) and the
    partner's share of the exporter's value that year (0..1)."""
    c = _commodity(commodity)
    codes = list(hs6) if hs6 else list(c.hs6)
    exp = _country(exporter).iso3
    where = ["t.exporter = ?", "t.hs6 IN (SELECT unnest(?))"]
    params: list = [exp, codes]
    rng = _year_range(years)
    if rng:
        where.append("t.year BETWEEN ? AND ?")
        params += list(rng)
    df = con.execute(f"""
        WITH flows AS (
            SELECT t.year, t.importer, sum(t.value_usd) AS value_usd,
                   sum(t.quantity_t) AS quantity_t,
                   sum(CASE WHEN t.quantity_t IS NOT NULL THEN t.value_usd END) AS valued_usd
            FROM trade t WHERE {' AND '.join(where)} GROUP BY ALL)
        SELECT f.year, f.importer, k.name AS importer_name, f.value_usd, f.quantity_t,
               f.valued_usd / nullif(f.quantity_t, 0) AS unit_value_usd_per_t,
               f.value_usd / sum(f.value_usd) OVER (PARTITION BY f.year) AS share
        FROM flows f LEFT JOIN countries k ON k.iso3 = f.importer
        ORDER BY f.year, f.value_usd DESC""", params).df()
    if importer:
        imp = _country(importer).iso3
        df = df[df["importer"] == imp].reset_index(drop=True)
    return df


def geopolrisk_inputs(con: duckdb.DuckDBPyConnection, commodities: list[str],
                      years: list[int]) -> dict[str, pd.DataFrame]:
    """The three tables the GeoPolRisk peer reads, from the warehouse, for `commodities`
    (catalog keys) and `years`: flows (BACI, the peer's HS codes, kUSD and t), production
    (World Mining Data) and governance (the peer's normalised scores, NaN where it has 'nan')."""
    flows = con.execute("""
        SELECT h.commodity, t.year, t.exporter, t.importer,
               sum(t.quantity_t) FILTER (WHERE t.quantity_t IS NOT NULL) AS quantity_t,
               sum(t.value_usd / 1000) AS value_kusd
        FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6 AND h.geopolrisk
        WHERE t.source = 'baci' AND h.commodity IN (SELECT unnest(?))
          AND t.year IN (SELECT unnest(?))
        GROUP BY ALL""", [commodities, years]).df()
    production = con.execute(
        "SELECT commodity, country, year, quantity, unit FROM production WHERE source = 'wmd' "
        "AND commodity IN (SELECT unnest(?))", [commodities]).df()
    governance = con.execute(
        "SELECT country, year, CAST(value AS DOUBLE) AS g FROM governance "
        "WHERE indicator = 'PV.NORM.GPR' AND source = 'wgi'").df()
    return {"flows": flows, "production": production, "governance": governance}


def commodity_flows(con: duckdb.DuckDBPyConnection, *, commodities: list[str] | None = None,
                    years: list[int] | None = None, exporter: str | None = None,
                    importer: str | None = None, hs6: list[str] | None = None,
                    exclude_groups: tuple[str, ...] = ()) -> pd.DataFrame:
    """Bilateral flows summed over each commodity's HS codes (or `hs6`): commodity, year,
    exporter, importer, value_usd (USD), quantity_t (t, known tonnes only) and valued_usd (the
    value of the flows whose tonnes are known, for unit values). Names resolve via the catalog."""
    where, params = ["t.source = 'baci'"], []
    if commodities:
        where.append("h.commodity IN (SELECT unnest(?))")
        params.append([_commodity(c).key for c in commodities])
    if exclude_groups:
        where.append('h.commodity NOT IN (SELECT key FROM commodities WHERE "group" IN '
                     "(SELECT unnest(?)))")
        params.append(list(exclude_groups))
    if years:
        where.append("t.year IN (SELECT unnest(?))")
        params.append([int(y) for y in years])
    if exporter:
        where.append("t.exporter = ?")
        params.append(_country(exporter).iso3)
    if importer:
        where.append("t.importer = ?")
        params.append(_country(importer).iso3)
    if hs6:
        where.append("t.hs6 IN (SELECT unnest(?))")
        params.append(list(hs6))
    return con.execute(f"""
        SELECT h.commodity, t.year, t.exporter, t.importer, sum(t.value_usd) AS value_usd,
               sum(t.quantity_t) AS quantity_t,
               sum(t.value_usd) FILTER (WHERE t.quantity_t IS NOT NULL) AS valued_usd
        FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6
        WHERE {' AND '.join(where)}
        GROUP BY ALL ORDER BY ALL""", params).df()


def geopolrisk_flows_by_code(con: duckdb.DuckDBPyConnection, commodities: list[str],
                             years: list[int]) -> pd.DataFrame:
    """BACI flows of every HS code of each commodity's chain, per code: commodity, hs6, stage
    (catalog label), year, exporter, importer, quantity_t (NULL = unknown), value_usd."""
    return con.execute("""
        SELECT h.commodity, t.hs6, h.stage, t.year, t.exporter, t.importer, t.quantity_t,
               t.value_usd
        FROM trade t JOIN commodity_hs h ON h.hs6 = t.hs6
        WHERE t.source = 'baci' AND h.commodity IN (SELECT unnest(?))
          AND t.year IN (SELECT unnest(?))""", [commodities, years]).df()


def governance_estimates(con: duckdb.DuckDBPyConnection, indicator: str = "PV.EST"
                         ) -> pd.DataFrame:
    """country, year, value of one WGI indicator (default political stability, PV.EST)."""
    return con.execute("SELECT country, year, value FROM governance WHERE indicator = ? "
                       "AND value IS NOT NULL", [indicator]).df()


def wmd_production(con: duckdb.DuckDBPyConnection, *, year: int | None = None,
                   commodities: list[str] | None = None) -> pd.DataFrame:
    """World Mining Data production: commodity, country, year, quantity, unit (the catalog
    unit of each commodity: t, kg, ct or Mio m3), for one year and/or some commodities."""
    where, params = ["source = 'wmd'"], []
    if year is not None:
        where.append("year = ?")
        params.append(int(year))
    if commodities:
        where.append("commodity IN (SELECT unnest(?))")
        params.append([_commodity(c).key for c in commodities])
    return con.execute("SELECT commodity, country, year, quantity, unit FROM production "
                       f"WHERE {' AND '.join(where)} ORDER BY ALL", params).df()


def wmd_years(con: duckdb.DuckDBPyConnection, commodity: str) -> list[int]:
    """The years of World Mining Data production held for `commodity`."""
    return [y for (y,) in con.execute(
        "SELECT DISTINCT year FROM production WHERE source = 'wmd' AND commodity = ? "
        "ORDER BY year", [_commodity(commodity).key]).fetchall()]


def latest_trade_year(con: duckdb.DuckDBPyConnection, source: str = "baci") -> int:
    """The latest year of trade held from `source`."""
    (year,), = con.execute("SELECT max(year) FROM trade WHERE source = ?", [source]).fetchall()
    if year is None:
        raise WarehouseError(f"no trade from {source!r} in the warehouse")
    return int(year)


def annual_price(con: duckdb.DuckDBPyConnection, source: str, series: str, year: int
                 ) -> tuple[float, str] | None:
    """Mean of a price series over `year` and its unit, or None when the year has no price."""
    (price, unit), = con.execute(
        "SELECT avg(price), any_value(unit) FROM prices WHERE source = ? AND series = ? "
        "AND year(period) = ?", [source, series, int(year)]).fetchall()
    return None if price is None else (float(price), unit)
