"""Producer credit: Merton/KMV structural PDs, rating scales, overlays and commodity stress.

Money in any one currency unit (it cancels), rates continuously compounded per year,
volatilities annual, horizons in years. See docs/methods.md, "Producer credit".
"""

from critmin.credit.company import Company, CompanyFileError, inputs_table, load_company
from critmin.credit.estimation import EstimationConvergenceError, MertonTimeSeries
from critmin.credit.merton import (CreditInputError, MertonConvergenceError, MertonSolution,
                                   credit_spread, debt_value, default_probability,
                                   distance_to_default, kmv_default_point, merton_solve,
                                   merton_summary, naive_distance_to_default, pd_term_structure)
from critmin.credit.overlays import combine_pd, horizon_pd, receivables_loss
from critmin.credit.ratings import describe_scale, load_scale, rating_for_pd
from critmin.credit.scenario_link import (MarketPriceLink, credit_report_with_band,
                                          load_market_result, price_link)
from critmin.credit.stress import (CreditReport, PriceScenario, ScenarioFileError, StressError,
                                   credit_report, load_scenario, term_structure_svg)

__all__ = [
    "Company", "CompanyFileError", "CreditInputError", "CreditReport",
    "EstimationConvergenceError", "MarketPriceLink", "MertonConvergenceError", "MertonSolution",
    "MertonTimeSeries", "PriceScenario", "ScenarioFileError", "StressError", "combine_pd",
    "credit_report", "credit_report_with_band", "inputs_table", "load_market_result",
    "price_link",
    "credit_spread", "debt_value", "default_probability", "describe_scale",
    "distance_to_default", "horizon_pd", "kmv_default_point", "load_company", "load_scale",
    "load_scenario", "merton_solve", "merton_summary", "naive_distance_to_default",
    "pd_term_structure", "rating_for_pd", "receivables_loss", "term_structure_svg",
]
