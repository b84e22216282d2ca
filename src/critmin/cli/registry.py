"""Export-registry storage commands: critmin registry init / verify."""

from __future__ import annotations

from typing import Optional

import typer

from critmin.cli._shared import _fail, app, err

registry_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                           help="The export registry's database: create or upgrade it, and "
                                "verify its audit chain and evidence.")
app.add_typer(registry_app, name="registry")

UrlOpt = typer.Option(None, "--database-url",
                      help="SQLAlchemy URL (default $CRITMIN_DATABASE_URL, else "
                           "registry.sqlite in critmin's home)")


@registry_app.command("init")
def registry_init(database_url: Optional[str] = UrlOpt):
    """Create the registry schema, or upgrade it to the latest migration."""
    from sqlalchemy.exc import SQLAlchemyError

    from critmin.registry.db import current_revision, default_url, init_db
    url = database_url or default_url()
    engine = None
    try:
        engine = init_db(url)
        err.print(f"registry at {engine.url.render_as_string(hide_password=True)} is at "
                  f"revision {current_revision(engine)}")
    except SQLAlchemyError as exc:
        _fail(exc)
    finally:
        if engine is not None:
            engine.dispose()


@registry_app.command("verify")
def registry_verify(database_url: Optional[str] = UrlOpt):
    """Recompute the audit chain and every row's hash; exit 1 naming the first broken entry."""
    from sqlalchemy.exc import SQLAlchemyError

    from critmin.registry.db import current_revision, make_engine, session_factory
    from critmin.registry.verify import verify_chain
    engine = None
    try:
        engine = make_engine(database_url)
        if current_revision(engine) is None:
            _fail(ValueError(f"no registry at {engine.url.render_as_string(hide_password=True)}"
                             "; run `critmin registry init` first"))
        with session_factory(engine)() as session:
            result = verify_chain(session)
    except SQLAlchemyError as exc:
        _fail(exc)
    finally:
        if engine is not None:
            engine.dispose()
    if not result.ok:
        for p in result.problems:
            err.print(f"  {p}")
        _fail(ValueError(str(result)))
    err.print(str(result))
