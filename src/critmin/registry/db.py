"""Engine, sessions and migrations of the registry database.

The database is a SQLite file `critmin.data.warehouse.home()/registry.sqlite` unless
`CRITMIN_DATABASE_URL` (or an explicit `url`) names another one, e.g.
`postgresql+psycopg://user@host:5432/critmin`. SQLite connections run with foreign keys on,
WAL journaling and a busy timeout. The schema is created and upgraded only by the Alembic
migrations shipped in `critmin/registry/migrations` (`init_db`), never by `create_all`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ENV_VAR = "CRITMIN_DATABASE_URL"


def default_url() -> str:
    """`CRITMIN_DATABASE_URL`, else the SQLite file `registry.sqlite` in critmin's home."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    from critmin.data.warehouse import home
    return f"sqlite:///{home() / 'registry.sqlite'}"


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default `default_url()`); SQLite gets foreign keys, WAL and a
    30 s busy timeout on every connection, and its folder is created."""
    url = url or default_url()
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _record):
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.close()

        return engine
    return create_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`. Service functions never commit: the caller owns the
    transaction, e.g. `with factory.begin() as session: file_certificates(session, ...)`."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    """An Alembic `Config` for the shipped migrations, with no alembic.ini needed."""
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def init_db(url: str | None = None) -> Engine:
    """Create or upgrade the registry schema at `url` (`alembic upgrade head`); returns the
    engine. Safe to run on an up-to-date database."""
    from alembic import command
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "head")
    except BaseException:
        engine.dispose()
        raise
    return engine


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None before `init_db`)."""
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()
