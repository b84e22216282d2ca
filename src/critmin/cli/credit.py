"""Credit commands: critmin credit COMPANY.yaml [--scenario], critmin credit merton."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console

from critmin.cli._shared import FormatOpt, _fail, credit_app, err
from critmin.errors import CritminError
from critmin.output import Format, render


@credit_app.command("report", hidden=True)
def credit_report_cmd(
    company: Path = typer.Argument(..., help="company YAML (see examples/companies)"),
    scenario: Optional[Path] = typer.Option(None, "--scenario", "-s",
                                            help="price-change YAML (see examples/scenarios)"),
    horizon: str = typer.Option("1-10", "--horizon", help="years of the PD term structure"),
    chart: Optional[Path] = typer.Option(None, "--chart", help="write the term structure as SVG"),
    fmt: Format = FormatOpt,
):
    """Default probability, distance to default and rating of a producer, before and after a
    price scenario, with the structural and overlay parts shown apart."""
    from critmin.credit import (credit_report, describe_scale, load_company, load_scale,
                                load_scenario, term_structure_svg)
    from critmin.data.queries import _year_range
    try:
        lo, hi = _year_range(horizon)
        rep = credit_report(load_company(company),
                            load_scenario(scenario) if scenario else None,
                            horizons=range(lo, hi + 1), scale=load_scale())
        if fmt == Format.json:
            import json
            import sys
            payload = {"meta": {"company": rep.company, "currency": rep.currency,
                                "money_unit": rep.money_unit, "scale": rep.scale.name,
                                "scale_source": rep.scale.source,
                                "assumptions": list(rep.assumptions)},
                       "data": {name: json.loads(getattr(rep, name).to_json(orient="records"))
                                for name in ("summary", "term_structure", "components",
                                             "revenue")}}
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        else:
            title = f"{rep.company} ({rep.currency}, {rep.money_unit})"
            render(rep.summary, fmt, title=title)
            render(rep.components, fmt, title="default probability by channel")
            render(rep.term_structure, fmt, title="cumulative default probability by horizon")
            if fmt == Format.table:
                render(rep.revenue, fmt, title="revenue by metal")
                console = Console()
                console.print(describe_scale(rep.scale))
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
