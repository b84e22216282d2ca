"""The brief command: critmin brief [--out FILE.html] [--commodities ...] [--scenario ...]."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from critmin.cli._shared import _connect, _fail, _progress, app, err
from critmin.errors import CritminError


@app.command("brief")
def brief(
    out: Path = typer.Option(Path("critmin-brief.html"), "--out", "-o",
                             help="HTML file to write"),
    commodities: Optional[str] = typer.Option(
        None, "--commodities", "-c", help="comma-separated; default nickel, platinum, "
        "palladium, rare earths, copper, cobalt, lithium"),
    scenario: Optional[list[Path]] = typer.Option(
        None, "--scenario", "-s", help="market or price scenario YAML (repeatable); default "
        "every file in examples/scenarios"),
    company: Optional[list[Path]] = typer.Option(
        None, "--company", help="company YAML for the credit section (repeatable); default "
        "examples/companies"),
    draws: Optional[int] = typer.Option(None, "--draws", min=1,
                                        help="Monte-Carlo draws per scenario (default 300)"),
):
    """The main job: one self-contained HTML brief (charts work offline) of supply
    concentration, trade flows, shock scenarios, export oversight on a SYNTHETIC ledger and
    producers' credit, from the bundled data."""
    from critmin.data import warehouse
    from critmin.report import build_brief
    try:
        con = _connect()
        names = [c.strip() for c in commodities.split(",") if c.strip()] if commodities \
            else None
        with _progress() as bar:
            task = bar.add_task("brief", total=None)
            page = build_brief(
                con, **({"commodities": names} if names else {}),
                scenario_files=scenario or None, company_files=company or None,
                **({"draws": draws} if draws else {}),
                warehouse=str(warehouse.warehouse_path()),
                progress=lambda step, done, total: bar.update(
                    task, completed=done, total=total, description=f"brief: {step}"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
        err.print(f"brief: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    except (CritminError, OSError, ValueError, KeyError) as exc:
        _fail(exc)
