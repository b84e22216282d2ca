"""One catalog of commodities, countries, blocs, HS codes, price series and units."""

from critmin.catalog.commodities import (
    Commodity,
    all_commodities,
    commodity,
    commodity_table,
    geopolrisk_materials,
    hs_table,
    search_commodities,
)
from critmin.catalog.countries import (
    Country,
    all_countries,
    bloc_members,
    bloc_names,
    bloc_table,
    blocs_of,
    country,
    country_table,
    from_baci,
    importer_groups,
)

__all__ = [
    "Commodity", "Country", "all_commodities", "all_countries", "bloc_members", "bloc_names",
    "bloc_table", "blocs_of", "commodity", "commodity_table", "country", "country_table",
    "from_baci", "geopolrisk_materials", "hs_table", "importer_groups", "search_commodities",
]
