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
    from critmin.registry.evidence import RegistryError
    url = database_url or default_url()
    engine = None
    try:
        engine = init_db(url)
        err.print(f"registry at {engine.url.render_as_string(hide_password=True)} is at "
                  f"revision {current_revision(engine)}")
    except (SQLAlchemyError, RegistryError) as exc:  # e.g. duplicates blocking migration 0004
        _fail(exc)
    finally:
        if engine is not None:
            engine.dispose()


@registry_app.command("verify")
def registry_verify(database_url: Optional[str] = UrlOpt,
                    anchor: list[str] = typer.Option(
                        [], "--anchor", help="SEQ:SHA256 head anchor printed by an earlier "
                        "verify (repeatable): fails if the chain was rewritten since")):
    """Recompute the audit chain and every row's hash; exit 1 naming the first broken entry.
    Prints the head anchor to record (publish or sign it) for later `--anchor` checks."""
    from sqlalchemy.exc import SQLAlchemyError

    from critmin.registry.db import current_revision, make_engine, session_factory
    from critmin.registry.verify import parse_anchor, verify_chain
    engine = None
    try:
        anchors = [parse_anchor(a) for a in anchor]
        engine = make_engine(database_url)
        if current_revision(engine) is None:
            _fail(ValueError(f"no registry at {engine.url.render_as_string(hide_password=True)}"
                             "; run `critmin registry init` first"))
        with session_factory(engine)() as session:
            result = verify_chain(session, anchors=anchors)
    except (SQLAlchemyError, ValueError) as exc:
        _fail(exc)
    finally:
        if engine is not None:
            engine.dispose()
    if not result.ok:
        for p in result.problems:
            err.print(f"  {p}")
        _fail(ValueError(str(result)))
    err.print(str(result))


def _engine(database_url: Optional[str]):
    from critmin.registry.db import current_revision, make_engine
    engine = make_engine(database_url)
    if current_revision(engine) is None:
        engine.dispose()
        _fail(ValueError(f"no registry at {engine.url.render_as_string(hide_password=True)}; "
                         "run `critmin registry init` first"))
    return engine


user_app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                       help="Registry users: add, revoke, issue API tokens.")
registry_app.add_typer(user_app, name="user")

ROLE_HELP = "exporter, laboratory, inspector, auditor or admin"


@user_app.command("add")
def user_add(
    user_id: str = typer.Argument(..., help="login name"),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    party: Optional[str] = typer.Option(None, "--party",
                                        help="exporter or laboratory id (those roles only)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from standard input"),
    no_password: bool = typer.Option(False, "--no-password",
                                     help="no password: the user acts by API token only"),
    token: bool = typer.Option(False, "--token", help="also issue an API token (shown once)"),
    database_url: Optional[str] = UrlOpt,
):
    """Add a user acting in a role for a party; prompts for a password unless told not to."""
    import sys

    from sqlalchemy.exc import SQLAlchemyError

    from critmin.errors import CritminError
    from critmin.registry import auth
    from critmin.registry.db import session_factory
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = _engine(database_url)
    try:
        with session_factory(engine).begin() as session:
            auth.add_user(session, "cli", user_id, role, party_id=party, password=password)
            secret = auth.issue_token(session, "cli", user_id, label="cli") if token else None
    except (CritminError, SQLAlchemyError) as exc:
        _fail(exc)
    finally:
        engine.dispose()
    err.print(f"added {role} user {user_id!r}" + (f" for {party!r}" if party else ""))
    if secret:
        typer.echo(secret)


@user_app.command("token")
def user_token(user_id: str = typer.Argument(...),
               label: Optional[str] = typer.Option(None, "--label"),
               database_url: Optional[str] = UrlOpt):
    """Issue an API token for a user (printed once; only its hash is stored)."""
    from critmin.errors import CritminError
    from critmin.registry import auth
    from critmin.registry.db import session_factory
    engine = _engine(database_url)
    try:
        with session_factory(engine).begin() as session:
            secret = auth.issue_token(session, "cli", user_id, label=label)
    except CritminError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(secret)


@user_app.command("revoke")
def user_revoke(subject_id: str = typer.Argument(..., help="user id (or token id with "
                                                           "--token-id)"),
                token_id: bool = typer.Option(False, "--token-id",
                                              help="revoke one token, not the user"),
                reason: Optional[str] = typer.Option(None, "--reason"),
                database_url: Optional[str] = UrlOpt):
    """Revoke a user (all its tokens stop working) or one token; recorded in the audit log."""
    from critmin.errors import CritminError
    from critmin.registry import auth
    from critmin.registry.db import session_factory
    engine = _engine(database_url)
    subject = "token" if token_id else "user"
    try:
        with session_factory(engine).begin() as session:
            auth.revoke(session, "cli", subject, subject_id, reason=reason)
    except CritminError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    err.print(f"revoked {subject} {subject_id!r}")


@registry_app.command("demo")
def registry_demo(seed: int = typer.Option(20261129, "--seed"),
                  database_url: Optional[str] = UrlOpt):
    """Fill a FRESH registry with a labelled synthetic ledger (calibrated to Kazakhstan's 2024
    exports) and demo users sharing one printed password, to click through `critmin serve`."""
    from sqlalchemy import func, select

    from critmin.cli._shared import _connect
    from critmin.errors import CritminError
    from critmin.oversight import simulate as sim
    from critmin.registry import models as m
    from critmin.registry.db import default_url, init_db, session_factory
    from critmin.registry.demo import DEMO_PASSWORD, demo_users, fill_from_ledger
    engine = init_db(database_url or default_url())
    try:
        factory = session_factory(engine)
        with factory() as session:
            if session.scalar(select(func.count()).select_from(m.Shipment)):
                _fail(ValueError("the registry already holds shipments; the demo fills only "
                                 "a fresh one (use --database-url for another)"))
        volumes = sim.kaz_export_volumes(_connect(), years=[2024])
        ledger = sim.simulate_ledger(volumes, sim.power_study_config(), random_state=seed)
        with factory.begin() as session:
            counts = fill_from_ledger(session, ledger)
            users = demo_users(session, ledger)
    except CritminError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    err.print("[bold red]SYNTHETIC DEMO REGISTRY[/]: made-up shipments and assays, never real "
              "data.")
    err.print(", ".join(f"{v:,} {k}" for k, v in counts.items()))
    for u in users:
        err.print(f"  {u['user_id']:<24} {u['role']:<11} {u['party_id'] or ''}")
    err.print(f"every demo user's password: {DEMO_PASSWORD}")


@app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", "--host"),
          port: int = typer.Option(8000, "--port"),
          workers: int = typer.Option(1, "--workers", min=1),
          database_url: Optional[str] = UrlOpt):
    """Run the web app and the registry API (uvicorn); embedded SQLite unless
    --database-url names PostgreSQL. Creates or upgrades the registry schema first."""
    import os

    import uvicorn

    from critmin.cli._shared import _connect
    from critmin.registry.db import default_url, init_db
    from critmin.registry.evidence import RegistryError
    url = database_url or default_url()
    try:
        init_db(url).dispose()
    except RegistryError as exc:    # e.g. duplicates blocking migration 0004
        _fail(exc)
    _connect().close()  # build the warehouse once here, not in every worker
    os.environ["CRITMIN_DATABASE_URL"] = url
    err.print(f"critmin on http://{host}:{port}/  (registry API at /api/registry, OpenAPI at "
              "/api/openapi.json)")
    uvicorn.run("critmin.server:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning")
