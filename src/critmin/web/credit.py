"""The credit page: a producer's PD, distance to default and rating before and after a price
scenario (critmin.credit.credit_report, the CLI's `critmin credit`), as one JSON-ready dict."""

from __future__ import annotations

import yaml

from critmin.errors import CritminError
from critmin.web import charts
from critmin.examples import examples_dir
from critmin.output import records

HORIZONS = range(1, 11)   # years of the PD term structure, as the CLI's default


def example_companies() -> list[str]:
    """File names of the company YAMLs in examples/companies."""
    return sorted(p.name for p in (examples_dir() / "companies").glob("*.yaml"))


def example_price_scenarios() -> list[str]:
    """File names of the price scenarios (files with `price_changes`) in examples/scenarios."""
    out = []
    for p in sorted((examples_dir() / "scenarios").glob("*.yaml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "price_changes" in data:
            out.append(p.name)
    return out


def _pick(name: str, choices: list[str], what: str) -> str:
    if name not in choices:
        raise CritminError(f"unknown {what} {name!r}; choose one of {', '.join(choices)}")
    return name


def credit_view(company: str, scenario: str | None = None) -> dict:
    """Everything the credit page shows for example `company` (a file name in
    examples/companies) and price `scenario` (a file name in examples/scenarios, or None for
    the base case only). Money in the company file's currency and unit; PDs as probabilities
    (0..1); distance to default in standard deviations of asset value (σ)."""
    from critmin.credit import credit_report, load_company, load_scale, load_scenario
    company = _pick(company, example_companies(), "company")
    if scenario:
        scenario = _pick(scenario, example_price_scenarios(), "price scenario")
    rep = credit_report(load_company(examples_dir() / "companies" / company),
                        load_scenario(examples_dir() / "scenarios" / scenario) if scenario else None,
                        horizons=HORIZONS, scale=load_scale())
    ts = rep.term_structure
    traces = []
    for i, (col, label, dash) in enumerate((
            ("pd_total_before", "total PD, before", None),
            ("pd_total_after", "total PD, after", "dash"),
            ("pd_structural_before", "structural PD, before", None),
            ("pd_structural_after", "structural PD, after", "dash"))):
        if col in ts:
            traces.append(charts.line(ts["horizon_years"], ts[col].tolist(), label, i,
                                      dash=dash))
    chart = charts.figure(
        traces, title=f"{rep.company}: cumulative default probability by horizon",
        x_title="horizon (years)", y_title="cumulative PD (%)",
        y_format=".1%",
        source=f"Merton/KMV structural PD with overlays (critmin.credit); company file "
               f"examples/companies/{company}"
               + (f"; scenario examples/scenarios/{scenario}" if scenario else ""))
    return {
        "company": rep.company, "file": company, "scenario": rep.scenario,
        "scenario_file": scenario, "scenario_source": rep.scenario_source,
        "currency": rep.currency, "money_unit": rep.money_unit,
        "scale": {"name": rep.scale.name, "source": rep.scale.source},
        "summary": records(rep.summary), "components": records(rep.components),
        "revenue": records(rep.revenue), "term_structure": records(ts),
        "assumptions": list(rep.assumptions),
        "charts": {"term_structure": chart},
    }
