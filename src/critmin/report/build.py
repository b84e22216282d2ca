"""Run every section of the brief on a warehouse connection and render the page.

`build_brief(con, ...)` returns the HTML; `split_scenarios` sorts scenario files into market
scenarios (section 3) and price scenarios for credit stress (section 5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from critmin.errors import CritminError, DataFileError
from critmin.examples import example_files, examples_dir
from critmin.report import credit, flows, oversight, scenarios, supply
from critmin.report.charts import Section
from critmin.report.html import render_page

DEFAULT_PRICE_SCENARIO = "nickel_palladium_shock.yaml"

Progress = Callable[[str, int, int], None]


def split_scenarios(paths: Sequence[Path]) -> tuple[list, list]:
    """([(path, market Scenario)], [(path, credit PriceScenario)]). A file that is neither
    raises CritminError with both readers' complaints (file, line and field)."""
    from critmin.credit import load_scenario as load_price
    from critmin.market.scenario import load_scenario as load_market
    market, price = [], []
    for p in paths:
        p = Path(p)
        try:
            market.append((p, load_market(p)))
            continue
        except DataFileError as exc:
            as_market = exc
        try:
            price.append((p, load_price(p)))
        except DataFileError as exc:
            raise CritminError(f"{p} is neither a market scenario ({as_market}) nor a price "
                               f"scenario ({exc})") from None
    return market, price


def _empty(key: str, title: str, why: str) -> Section:
    return Section(key, title, why)


def build_brief(con, *, commodities: Sequence[str] = supply.DEFAULT_COMMODITIES,
                scenario_files: Sequence[Path] | None = None,
                company_files: Sequence[Path] | None = None,
                draws: int = scenarios.DRAWS, warehouse: str = "",
                progress: Progress | None = None) -> str:
    """The brief as one HTML string.

    commodities: catalog names for sections 1–2. scenario_files: market scenarios (section 3)
    and price scenarios (section 5); default every examples/scenarios file. company_files:
    company YAML for section 5; default examples/companies. draws: Monte-Carlo draws per
    market scenario. progress(step, done, total) is called after each step.
    """
    from critmin import __version__
    from critmin.catalog import commodity as _commodity
    from critmin.data.sources import SOURCES
    keys = [_commodity(c).key for c in commodities]
    market, price = split_scenarios(scenario_files if scenario_files is not None
                                    else example_files("scenarios"))
    default_price = examples_dir() / "scenarios" / DEFAULT_PRICE_SCENARIO
    if not price and default_price.exists():  # market files given: stress credit as usual
        price = split_scenarios([default_price])[1]
    companies = list(company_files) if company_files is not None else example_files("companies")
    total = 6 + len(market)
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(name, done, total)

    sections = [supply.section(con, keys)]
    step("supply concentration")
    sections.append(flows.section(con, keys))
    step("trade flows")
    runs = scenarios.run_scenarios(con, market, draws=draws,
                                   progress=lambda name: step(f"scenario: {name}"))
    sections.append(scenarios.section(con, runs) if runs else _empty(
        "scenarios", "3. Shock scenarios", "No market scenario given (--scenario FILE.yaml)."))
    step("shock scenarios")
    sections.append(oversight.section(con))
    step("export oversight (synthetic ledger)")
    if price and companies:
        sections.append(credit.section(companies, [s for _, s in price]))
    else:
        sections.append(_empty("credit", "5. Producers' credit under a price scenario",
                               "Not run: it needs company files and a price scenario "
                               "(--company FILE.yaml, --scenario FILE.yaml)."))
    step("producer credit")
    shipped = [s for s in SOURCES.values() if s.shipped]
    page = render_page(sections, data_sources=shipped, warehouse=warehouse, version=__version__,
                       synthetic_note=oversight.SYNTHETIC_NOTE)
    step("page")
    return page
