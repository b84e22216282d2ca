"""Market commands: critmin shock SCENARIO.yaml (world level), critmin backtest [EPISODE|--all]."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from critmin.cli._shared import FormatOpt, _connect, _fail, app, err
from critmin.errors import CritminError
from critmin.market.report import shock_report
from critmin.output import Format, render


@app.command("shock")
def shock(
    scenario: Path = typer.Argument(..., help="market scenario YAML (examples/scenarios/)"),
    draws: Optional[int] = typer.Option(None, "--draws", min=1,
                                        help="Monte-Carlo draws (default: the scenario's)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="default: the scenario's, else 0"),
    year: Optional[int] = typer.Option(None, "--year",
                                       help="base year (default: the scenario's base_year)"),
    producers: Optional[Path] = typer.Option(
        None, "--producers", help="CSV of named producers (producer, country, "
        "share_of_country_output or capacity_t; optional technology, c1_usd_per_t) replacing "
        "the default split of the world market, e.g. a company's share of Russian nickel; on "
        "the traded market of bans, quotas, taxes and frictions each named producer takes "
        "its share of its country's exports"),
    curve: Optional[Path] = typer.Option(
        None, "--curve", help="CSV of cost-curve bands in the layout of the shipped "
        "cost_curves.csv (commodity, band, cumulative_share_from/to, c1_low/high_usd_per_t, "
        "basis, source) replacing the shipped curve"),
    fmt: Format = FormatOpt,
):
    """Market shock: build the commodity's world market from the warehouse (World Mining
    Data production, base-year price, illustrative cost curve), apply the scenario, and clear
    it over elasticity draws: base vs shocked price, loss-making share, shortfall, HHI.
    Bans, export quotas or taxes and frictions run on the base year's BACI traded market with
    the bloc solver: prices per bloc, the zero-friction bound, re-routed flows, exposure."""
    try:
        n = "the scenario's" if draws is None else f"{draws:,}"
        with err.status(f"clearing {scenario.name} over {n} draws"):   # stderr: stdout clean
            table, meta = shock_report(_connect(), scenario, draws=draws, seed=seed,
                                       year=year, producers=producers, curve_file=curve)
    except (CritminError, ValueError) as exc:
        _fail(exc)
        return
    if fmt == Format.table:
        render(table, fmt, title=f"{meta['scenario']}: base vs shocked, P5/P50/P95 over "
                                 f"{meta['draws']} elasticity draws (seed {meta['seed']})")
        for k, v in meta.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                render(pd.json_normalize(v), fmt, title=k)   # blocs, re-routed flows, exposure
            else:
                err.print(f"[bold]{k}[/]: {escape(str(v))}")
    else:
        render(table, fmt, meta=meta)


def backtest_report(con, episodes: list[str], *, prices=None, draws: int = 500, seed: int = 0,
                    on_episode=None) -> tuple[pd.DataFrame, dict]:
    """(predicted vs observed, one row per check of every episode; notes per episode id).
    on_episode(id) is called before each episode (progress)."""
    from critmin.market import backtest as bt
    tables, meta = [], {}
    for name in episodes:
        if on_episode:
            on_episode(name)
        ep = bt.load_episode(name)
        table, notes = bt.run_episode(ep, bt.episode_data(con, ep, prices=prices),
                                      draws=draws, seed=seed)
        tables.append(table)
        meta[ep.id] = notes
    return pd.concat(tables, ignore_index=True), meta


@app.command("backtest")
def backtest(
    episode: Optional[str] = typer.Argument(
        None, help="episode id (shipped: see --all) or an episode YAML file"),
    all_: bool = typer.Option(False, "--all", help="run every shipped episode"),
    prices: Optional[Path] = typer.Option(
        None, "--prices", help="monthly price CSV (IMF PCPS or World Bank Pink Sheet) to use "
                               "instead of the warehouse prices, e.g. for IMF-only series"),
    draws: int = typer.Option(500, "--draws", min=1, help="Monte-Carlo draws of elasticities"),
    seed: int = typer.Option(0, "--seed"),
    fmt: Format = FormatOpt,
):
    """Back-test the market model on shocks that happened: build the pre-shock market from the
    warehouse, apply the episode's scenario, compare P5/P50/P95 predictions with what the data
    show afterwards. Misses are findings: the exit code is 0 unless something fails."""
    from critmin.cli._shared import _progress
    from critmin.market.backtest import list_episodes
    try:
        if all_ == (episode is not None):
            raise CritminError(f"give one EPISODE or --all (shipped episodes: "
                               f"{', '.join(list_episodes())})")
        names = list_episodes() if all_ else [episode]
        con = _connect()
        with _progress() as bar:
            task = bar.add_task("back-tests", total=len(names))

            def step(name):
                bar.update(task, description=f"back-test {name}",
                           completed=names.index(name))

            table, meta = backtest_report(con, names, prices=prices, draws=draws, seed=seed,
                                          on_episode=step)
            bar.update(task, completed=len(names))
    except (CritminError, ValueError) as exc:
        _fail(exc)
        return
    if fmt != Format.table:
        render(table, fmt, meta=meta)
        return
    out = Console(soft_wrap=True)
    if not out.is_terminal:                  # piped or captured: room for the check ids
        out = Console(soft_wrap=True, width=max(out.width, 132))
    shown = table.rename(columns={"predicted_low": "P5", "predicted": "P50",
                                  "predicted_high": "P95"})
    shown[["P5", "P50", "P95", "observed"]] = shown[["P5", "P50", "P95", "observed"]].round(3)
    for eid, part in shown.groupby("episode", sort=False):
        render(part[["check", "variant", "P5", "P50", "P95", "observed", "tol", "result"]],
               fmt, title=f"{meta[eid]['episode']}: predicted P5/P50/P95 ({draws} draws, seed "
                          f"{seed}) vs observed; pass if P5 − tol ≤ observed ≤ P95 + tol",
               console=out)
        for r in part.itertuples(index=False):
            if r.result != "pass":
                out.print(f"[bold]{escape(r.check)}[/] ({r.result}): {escape(r.label)}. "
                          f"{escape(r.note)}")
    counts = table["result"].value_counts()
    out.print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" of {len(table)} checks")
    for eid, notes in meta.items():
        err.print(f"[bold]{eid}[/]")
        for k, v in notes.items():
            err.print(f"  {k}: {escape(str(v))}")


market_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                         help="Market inputs read from the warehouse: apparent consumption.")
app.add_typer(market_app, name="market")


@market_app.command("consumption")
def consumption(
    commodity: str = typer.Argument(..., help="commodity name or key, e.g. nickel"),
    year: int = typer.Option(..., "--year", help="base year (production: this year or the "
                                                 "latest earlier one; trade: the same year)"),
    top: int = typer.Option(15, "--top", min=1, help="countries shown, largest first"),
    fmt: Format = FormatOpt,
):
    """Apparent consumption per country: World Mining Data production + BACI imports −
    exports, in t of the commodity (trade converted per HS6 code with the catalog's content
    factors). Negative values (stock build, re-export hubs) are kept and flagged."""
    from critmin.market.consumption import consumption_from_warehouse
    try:
        table, notes = consumption_from_warehouse(_connect(), commodity, year)
    except (CritminError, ValueError) as exc:
        _fail(exc)
        return
    shown = table.head(top)
    if fmt == Format.table:
        render(shown.round(1), fmt, title=f"{notes['commodity']} {notes['year']}: apparent "
                                          f"consumption, top {len(shown)} of {len(table)}")
        for k, v in notes.items():
            err.print(f"[bold]{k}[/]: {escape(str(v))}")
    else:
        render(shown, fmt, meta=notes)
