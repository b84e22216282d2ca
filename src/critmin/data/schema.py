"""Warehouse tables, declared once as data.

Each column carries its DuckDB type, unit and meaning; the DDL, docs/data.md's table reference and
the tidy-CSV validation all come from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str
    unit: str = ""
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str
    columns: tuple[Column, ...]
    # Loading a dataset replaces the warehouse rows that share these key values with it.
    replace_on: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self) -> str:
        cols = ", ".join(
            f"{c.name} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in self.columns
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"


C = Column
SOURCE = C("source", "VARCHAR", "dataset id, see `critmin data info` (e.g. 'baci', 'wmd')")

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("production", "Production of a commodity by country and year.", (
        C("commodity", "VARCHAR", "catalog commodity key"),
        C("country", "VARCHAR", "ISO 3166-1 alpha-3 (catalog key)"),
        C("year", "SMALLINT", "calendar year"),
        C("quantity", "DOUBLE", "quantity produced, in `unit`"),
        C("unit", "VARCHAR", "unit of `quantity`: t, kg, ct, Mio m3, kt, ..."),
        C("estimated", "BOOLEAN", "true where the source marks the figure estimated or preliminary",
          nullable=True),
        C("measure", "VARCHAR", "what is measured, e.g. 'mine production, nickel content'"),
        SOURCE,
    ), replace_on=("source", "commodity", "measure")),
    Table("reserves", "Reserves by commodity and country.", (
        C("commodity", "VARCHAR", "catalog commodity key"),
        C("country", "VARCHAR", "ISO 3166-1 alpha-3 (catalog key)"),
        C("year", "SMALLINT", "year the reserve estimate refers to"),
        C("quantity", "DOUBLE", "reserves, in `unit`; null where the source gives only a note",
          nullable=True),
        C("unit", "VARCHAR", "unit of `quantity`"),
        C("measure", "VARCHAR", "what the quantity counts, e.g. 'nickel content'"),
        C("note", "VARCHAR", "qualifier as printed by the source (e.g. 'Large', '>')",
          nullable=True),
        SOURCE,
    ), replace_on=("source", "commodity")),
    Table("trade", "Bilateral trade flows by HS6 product and year.", (
        C("year", "SMALLINT", "calendar year"),
        C("exporter", "VARCHAR", "ISO 3166-1 alpha-3 of the exporter of record"),
        C("importer", "VARCHAR", "ISO 3166-1 alpha-3 of the importer"),
        C("hs6", "VARCHAR", "HS 1992 six-digit product code, zero-padded"),
        C("value_usd", "DOUBLE", "FOB value", "USD (current)"),
        C("quantity_t", "DOUBLE", "net quantity; null where the source does not know it", "t",
          nullable=True),
        SOURCE,
    ), replace_on=("source", "year")),
    Table("governance", "Governance indicators by country and year.", (
        C("country", "VARCHAR", "ISO 3166-1 alpha-3 (catalog key)"),
        C("year", "SMALLINT", "calendar year"),
        C("indicator", "VARCHAR", "World Bank WGI code, e.g. PV.EST (estimate, -2.5..2.5)"),
        C("value", "DOUBLE", "indicator value in the indicator's own scale; NULL only where the "
          "source lists the country-year without a figure and a method depends on that "
          "(PV.NORM.GPR, the GeoPolRisk peer's own scores)", nullable=True),
        SOURCE,
    ), replace_on=("source", "indicator")),
    Table("prices", "Commodity prices.", (
        C("commodity", "VARCHAR", "catalog commodity key"),
        C("period", "DATE", "first day of the month (M) or year (A) the price averages"),
        C("frequency", "VARCHAR", "M monthly average, A annual average"),
        C("price", "DOUBLE", "nominal price, in `unit`"),
        C("unit", "VARCHAR", "price unit, e.g. USD/t, USD/troy oz, USD/kg"),
        C("series", "VARCHAR", "the source's series code (e.g. NICKEL, PNICK)"),
        SOURCE,
    ), replace_on=("source", "series")),
    Table("provenance", "One row per (table, input file) of every load.", (
        C("dataset", "VARCHAR", "warehouse table loaded"),
        SOURCE,
        C("file_path", "VARCHAR", "file as given to the loader (path relative to the data root "
          "for the bundled extract)"),
        C("file_sha256", "VARCHAR", "SHA-256 of the file"),
        C("loader", "VARCHAR", "loader id (critmin.data.loaders.<name>) and critmin version"),
        C("loaded_at", "TIMESTAMP", "UTC time of the load"),
        C("rows", "BIGINT", "rows the load wrote to `dataset` (a load of several files writes "
          "one provenance row per file, each with the load's total)"),
    )),
)}


def table(name: str) -> Table:
    return TABLES[name]
