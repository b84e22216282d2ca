"""Registry fixtures: every registry test runs against a SQLite file and a PostgreSQL database.

PostgreSQL: one throw-away database `critmin_test_<random>` per test session on
$CRITMIN_TEST_PG (default 127.0.0.1:5432, user postgres, trust auth), one fresh schema per
test, all dropped at the end. Unreachable PostgreSQL skips those tests, except under CI where
it fails.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid

import pytest

PG = os.environ.get("CRITMIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def pg_database():
    """The session's PostgreSQL database name (created here, dropped at the end)."""
    import psycopg
    try:
        admin = psycopg.connect(PG, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at {PG}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG}")
    name = f"critmin_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path) -> str:
    """A URL of an empty database (no schema yet) of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    db = request.getfixturevalue("pg_database")
    import psycopg
    schema = f"t{next(_schemas)}"
    base = PG.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{db}", autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    return (f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{db}"
            f"?options=-csearch_path%3D{schema}")


@pytest.fixture()
def registry(registry_url):
    """(engine, session factory) of a migrated, empty registry."""
    from critmin.registry import init_db, session_factory
    engine = init_db(registry_url)
    yield engine, session_factory(engine)
    engine.dispose()


def exporters():
    return [{"exporter_id": "EXP1", "name": "Kaz Copper"}, {"exporter_id": "EXP2"}]


def laboratories():
    return [{"laboratory_id": "LAB1", "hired_by": "exporter"},
            {"laboratory_id": "STATE", "hired_by": "state"},
            {"laboratory_id": "UMP", "hired_by": "umpire"}]


def shipments(n: int = 100):
    return [{"shipment_id": f"S{i:05d}", "exporter_id": "EXP1" if i % 2 else "EXP2",
             "hs6": "260300", "wet_t": 100.0, "moisture_pct": 8.0, "dry_t": 92.0,
             "destination": "CHN", "date": dt.date(2024, 1, 1) + dt.timedelta(days=i % 300)}
            for i in range(n)]


def certificates(n: int, n_shipments: int = 100):
    """n certificate results of LAB1, Cu (%) and Au (g/t) of one shipment after another
    (rows 2k and 2k + 1 are shipment k's), on the first `n_shipments` shipments: each an
    original of its own result, so n is at most 2 * n_shipments."""
    assert n <= 2 * n_shipments, "one original per shipment, laboratory and element"
    return [{"shipment_id": f"S{i // 2:05d}", "laboratory_id": "LAB1",
             "certificate_id": f"C{i // 2:05d}", "element": "Cu" if i % 2 == 0 else "Au",
             "value": 20.0 + (i % 97) / 10 if i % 2 == 0 else 1.0 + (i % 89) / 100,
             "unit": "%" if i % 2 == 0 else "g/t", "method": "ISO 10258",
             "date": dt.date(2024, 2, 1)} for i in range(n)]


@pytest.fixture()
def seeded(registry):
    """A registry with 2 exporters, 3 laboratories and 100 shipments."""
    from critmin.registry import declare_shipments, register_exporters, register_laboratories
    engine, factory = registry
    with factory.begin() as s:
        register_exporters(s, "admin", exporters())
        register_laboratories(s, "admin", laboratories())
        declare_shipments(s, "admin", shipments())
    return engine, factory


@pytest.fixture()
def make():
    """Row builders: make.exporters(), make.laboratories(), make.shipments(n),
    make.certificates(n)."""
    from types import SimpleNamespace
    return SimpleNamespace(exporters=exporters, laboratories=laboratories, shipments=shipments,
                           certificates=certificates)
