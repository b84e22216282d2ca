"""Credit commands: critmin credit COMPANY.yaml [--scenario ...], critmin credit merton."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from critmin.cli._shared import FormatOpt, _connect, _fail, credit_app, err
from critmin.errors import CritminError
from critmin.output import Format, render


def _scenario_inputs(paths, *, draws, seed):
    """(market links, price scenario or None) from --scenario files: a price-change YAML, a
    market scenario YAML (run here on the warehouse, as `critmin shock` does) or a saved
    `critmin shock --format json` result."""
    from critmin.credit import load_scenario
    from critmin.credit.scenario_link import load_market_result, price_link, scenario_kind
    from critmin.credit.stress import ScenarioFileError
    links, fixed = [], None
    for path in paths:
        kind = scenario_kind(path)
        if kind == "market_result":
            links.append(load_market_result(path))
        elif kind == "market":
            from critmin.market.report import shock_report
            table, meta = shock_report(_connect(), path, draws=draws, seed=seed)
            links.append(price_link(table, meta))
        elif fixed is not None:
            raise ScenarioFileError(str(path), None, "price_changes",
                                    f"a second price-change file (first: {fixed.name!r}); "
                                    "merge them into one")
        else:
            fixed = load_scenario(path)
    return links, fixed


@credit_app.command("report", hidden=True)
def credit_report_cmd(
    company: Path = typer.Argument(..., help="company YAML (see examples/companies)"),
    scenario: Optional[list[Path]] = typer.Option(
        None, "--scenario", "-s", metavar="FILE",
        help="price-change YAML, market scenario YAML (run through the market simulator; its "
             "P50 price change is used, P5/P95 give a PD band) or a saved `critmin shock "
             "--format json` result; repeat for several commodities"),
    horizon: str = typer.Option("1-10", "--horizon", help="years of the PD term structure"),
    draws: Optional[int] = typer.Option(None, "--draws", min=1,
                                        help="Monte-Carlo draws of a market scenario run"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of a market scenario run"),
    chart: Optional[Path] = typer.Option(None, "--chart", help="write the term structure as SVG"),
    fmt: Format = FormatOpt,
):
    """Default probability, distance to default and rating of a producer, before and after a
    price scenario, with the structural and overlay parts shown apart, every input with its
    source (assumptions marked) and, for a market-simulator scenario, the PD band over its
    P5-P95 price changes."""
    from critmin.credit import describe_scale, load_company, load_scale, term_structure_svg
    from critmin.credit.scenario_link import credit_report_with_band
    from critmin.data.queries import _year_range
    try:
        lo, hi = _year_range(horizon)
        links, fixed = _scenario_inputs(scenario or [], draws=draws, seed=seed)
        rep = credit_report_with_band(load_company(company), links, fixed,
                                      horizons=range(lo, hi + 1), scale=load_scale())
        tables = [("summary", rep.summary, f"{rep.company} ({rep.currency}, {rep.money_unit})"),
                  ("components", rep.components, "default probability by channel "
                   "(share = part of the total PD)"),
                  ("term_structure", rep.term_structure,
                   "cumulative default probability by horizon, before and after"),
                  ("revenue", rep.revenue, "revenue by metal"),
                  ("band", rep.band, "PD band over the market run's price quantiles "
                   "(comonotone across commodities; the P5 price gives the high PD)"),
                  ("inputs", rep.inputs, "inputs (assumption = our figure, not published)")]
        tables = [t for t in tables if t[1] is not None]
        if fmt == Format.json:
            import json
            import sys
            payload = {"meta": {"company": rep.company, "currency": rep.currency,
                                "money_unit": rep.money_unit, "scale": rep.scale.name,
                                "scale_source": rep.scale.source,
                                "scale_unverified": rep.scale.unverified,
                                "scenario": rep.scenario, "scenario_source": rep.scenario_source,
                                "assumptions": list(rep.assumptions)},
                       "data": {name: json.loads(df.to_json(orient="records"))
                                for name, df, _ in tables}}
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        else:
            for name, df, title in tables:
                if fmt == Format.table and name == "inputs":   # sources quote "[pub]" tags
                    df = df.assign(source=df["source"].map(escape))
                render(df, fmt, title=title)
            if fmt == Format.table:
                console = Console()
                if rep.scenario:
                    console.print(f"[bold]scenario[/]: {escape(rep.scenario)}; source: "
                                  f"{escape(rep.scenario_source or '')}")
                console.print(escape(describe_scale(rep.scale)))
                if rep.assumptions:
                    console.print("[bold]assumptions[/] (marked in the file): "
                                  + ", ".join(rep.assumptions))
        if chart:
            err.print(f"chart: {term_structure_svg(rep, chart)}")
    except (CritminError, ValueError) as exc:
        _fail(exc)


@credit_app.command("merton")
def credit_merton(
    equity: float = typer.Option(..., "--equity", help="market value of equity (any currency)"),
    equity_vol: float = typer.Option(..., "--equity-vol", help="annual equity volatility, 0.8 = 80%"),
    debt: float = typer.Option(..., "--debt", help="face value of debt due at the horizon"),
    rate: float = typer.Option(..., "--rate", help="risk-free rate, continuously compounded"),
    horizon: float = typer.Option(1.0, "--horizon", help="years"),
    drift: Optional[float] = typer.Option(None, "--drift", help="asset drift for the physical PD"),
    fmt: Format = FormatOpt,
):
    """Merton model for one firm from raw inputs: asset value and volatility, d1, d2, distance
    to default, default probability, debt value and spread, and the rating it maps to."""
    from critmin.credit import merton_summary
    try:
        out = merton_summary(equity, equity_vol, debt, rate, horizon, drift=drift)
        df = pd.DataFrame({"quantity": list(out), "value": list(out.values())})
        render(df, fmt, title="Merton (1974) structural model", meta=None) \
            if fmt != Format.json else render(pd.DataFrame([out]), fmt, meta={"model": "merton"})
    except (CritminError, ValueError) as exc:
        _fail(exc)
