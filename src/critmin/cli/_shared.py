"""What every `critmin` command shares: the Typer apps, the warehouse connection, error exits,
and the parsing of material and importer lists."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from critmin.output import Format

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="critmin: critical-mineral supply chains from public data.")
data_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                       help="Build, load and inspect the warehouse.")
app.add_typer(data_app, name="data")


def _default_command(name: str) -> type[typer.core.TyperGroup]:
    """A command group where a first word that is not a subcommand goes to command `name`:
    `critmin risk nickel` means `critmin risk show nickel`, `critmin credit FILE.yaml` means
    `critmin credit report FILE.yaml`."""

    class Group(typer.core.TyperGroup):
        def resolve_command(self, ctx, args):
            if args and args[0] not in self.commands and not args[0].startswith("-"):
                args = [name, *args]
            return super().resolve_command(ctx, args)

    return Group


risk_app = typer.Typer(
    cls=_default_command("show"), no_args_is_help=True, pretty_exceptions_show_locals=False,
    help="Supply-risk indicators: `critmin risk COMMODITY [--importer I] [--year Y]`, "
         "`critmin risk table`, `critmin risk geopolrisk`.")
app.add_typer(risk_app, name="risk")
flows_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                        help="Trade-flow monitoring (CEPII BACI).")
app.add_typer(flows_app, name="flows")
credit_app = typer.Typer(
    cls=_default_command("report"), no_args_is_help=True, pretty_exceptions_show_locals=False,
    help="Producer credit: `critmin credit COMPANY.yaml [--scenario S.yaml]`, "
         "`critmin credit merton ...`.")
app.add_typer(credit_app, name="credit")
err = Console(stderr=True, soft_wrap=True)  # paths in errors must stay whole

FormatOpt = typer.Option(Format.table, "--format", "-f", help="table, csv or json")


def _progress():
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=err, transient=True)


def _connect(read_only: bool = True):
    from critmin.data import warehouse
    path = warehouse.warehouse_path()
    if path.exists():
        return warehouse.connect(path, read_only=read_only)
    with _progress() as bar:
        task = bar.add_task("building warehouse from bundled data", total=7)
        con = warehouse.connect(path, read_only=read_only,
                                progress=lambda step, done, total: bar.update(
                                    task, completed=done, total=total,
                                    description=f"building warehouse: {step}"))
    err.print(f"built {path}")
    return con


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/] {exc}")
    raise typer.Exit(code=1)

