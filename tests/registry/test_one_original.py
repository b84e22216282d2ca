"""One original result per shipment, laboratory and element in each evidence table: the
check before writing, the partial unique index behind it (also against a concurrent filer),
corrections, and migration 0004 on a database that already holds duplicates. SQLite and
PostgreSQL (conftest `registry_url`)."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from critmin.registry import (DuplicateEvidenceError, DuplicateOriginalsError,
                              RegistryValidationError, correct_certificate, declare_shipments,
                              file_certificates, history, init_db, make_engine,
                              record_control_assays, record_umpire_assays, register_exporters,
                              register_laboratories, session_factory, verify_chain)
from critmin.registry import evidence as ev
from critmin.registry import models as m
from critmin.registry.db import alembic_config, current_revision

EVIDENCE = ("certificates", "control_assays", "umpire_assays")


def _count(factory, cls) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(cls))


def _assay(sid, lab="STATE", value=21.5, **extra):
    return {"shipment_id": sid, "laboratory_id": lab, "element": "Cu", "value": value,
            "unit": "%", **extra}


def test_the_index_is_partial_on_originals_in_both_databases(registry):
    """compare_metadata (test_storage) checks the index's name, columns and uniqueness, not
    its WHERE: this checks the predicate as each database reports it."""
    engine, _ = registry
    for table in EVIDENCE:
        ix = {i["name"]: i for i in inspect(engine).get_indexes(table)}[f"uq_{table}_original"]
        assert ix["column_names"] == ["shipment_id", "laboratory_id", "element"]
        assert ix["unique"]
        where = ix["dialect_options"].get(f"{engine.dialect.name}_where")
        assert str(where).strip("()") == "supersedes_id IS NULL", where


def test_filing_an_original_again_files_nothing_and_names_the_row(seeded, make):
    _, factory = seeded
    with factory.begin() as s:
        ids = file_certificates(s, "lab1", make.certificates(10)).keys
    rows = make.certificates(14)[8:]          # rows 1-2 are filed (S00004), rows 3-6 new
    with pytest.raises(DuplicateEvidenceError) as info, factory.begin() as s:
        file_certificates(s, "lab1", rows)
    assert isinstance(info.value, RegistryValidationError)
    assert [(e.row, e.field) for e in info.value.errors] == [(1, "element"), (2, "element")]
    assert str(info.value).startswith(
        "certificates: nothing filed; row 1, field 'element': shipment 'S00004', laboratory "
        f"'LAB1', element 'Cu' already has an original result in certificates (id {ids[8]}); "
        f"its latest version is 1 (id {ids[8]}): to change it, file a correction of id "
        f"{ids[8]} with expected_version 1")
    assert _count(factory, m.Certificate) == 10
    with factory.begin() as s:                # the new rows alone file
        assert len(file_certificates(s, "lab1", rows[2:])) == 4


@pytest.mark.parametrize("table", ["control_assays", "umpire_assays"])
def test_assays_too_within_a_batch_and_against_the_table(seeded, table):
    _, factory = seeded
    record = record_control_assays if table == "control_assays" else record_umpire_assays
    cls = m.EVIDENCE[table]
    with factory.begin() as s:
        record(s, "inspector", [_assay("S00001", sample_id="A", control_id="K1")])
    batch = [_assay("S00002"), _assay("S00003"), _assay("S00002", value=21.7)]
    with pytest.raises(DuplicateEvidenceError) as info, factory.begin() as s:
        record(s, "inspector", batch)
    assert [e.row for e in info.value.errors] == [3]
    assert "repeats row 1 of this submission" in str(info.value)
    # another sample of the same result is still a second original of it
    with pytest.raises(DuplicateEvidenceError), factory.begin() as s:
        record(s, "inspector", [_assay("S00001", sample_id="B", control_id="K2")])
    assert _count(factory, cls) == 1
    with factory.begin() as s:  # another laboratory's result, and another element, file
        record(s, "inspector", [_assay("S00001", lab="UMP"),
                                _assay("S00001") | {"element": "Zn"}])
    assert _count(factory, cls) == 3


def test_corrections_are_not_originals_and_cannot_land_on_another_result(seeded, make):
    _, factory = seeded
    with factory.begin() as s:
        cu, au = file_certificates(s, "lab1", make.certificates(2)).keys   # S00000 Cu, Au
        v2 = correct_certificate(s, "lab1", cu, reason="re-assayed", expected_version=1,
                                 changes={"value": 20.4}).keys[0]
        v3 = correct_certificate(s, "lab1", v2, reason="again", expected_version=2,
                                 changes={"value": 20.5}).keys[0]
    with factory() as s:
        assert [h["version"] for h in history(s, "certificates", cu)] == [1, 2, 3]
    with pytest.raises(DuplicateEvidenceError, match=f"correction of id {v3} with "
                       "expected_version 3"), factory.begin() as s:
        file_certificates(s, "lab1", make.certificates(1))
    # moving Au onto Cu would leave two latest Cu results of S00000
    with pytest.raises(DuplicateEvidenceError, match=f"id {v3}, version 3"), \
            factory.begin() as s:
        correct_certificate(s, "lab1", au, reason="was Cu", expected_version=1,
                            changes={"element": "Cu", "unit": "%"})
    with factory.begin() as s:  # onto a free key it moves
        correct_certificate(s, "lab1", au, reason="was Ag", expected_version=1,
                            changes={"element": "Ag"})
    with factory() as s:
        assert verify_chain(s).ok


def test_the_database_refuses_a_second_original_written_behind_the_check(seeded, make):
    """The index itself: a raw INSERT of a second original fails; of a correction row (with
    supersedes_id) it does not."""
    _, factory = seeded
    with factory.begin() as s:
        cid = file_certificates(s, "lab1", make.certificates(1)).keys[0]
    row = {**make.certificates(1)[0], "version": 1, "filed_by": "x", "synthetic": False,
           "filed_at": dt.datetime.now(dt.timezone.utc)}
    with pytest.raises(IntegrityError), factory.begin() as s:
        s.execute(insert(m.Certificate), [row])
    with factory.begin() as s:
        s.execute(insert(m.Certificate), [{**row, "version": 2, "supersedes_id": cid,
                                           "reason": "r"}])


def test_a_concurrent_filer_gets_the_same_clear_error(seeded, make, monkeypatch):
    """Two submissions of one result both pass the check before either writes: the second
    one's INSERT meets the index and answers DuplicateEvidenceError naming its row, not an
    IntegrityError (simulated by skipping the second one's check)."""
    _, factory = seeded
    with factory.begin() as s:
        file_certificates(s, "lab1", make.certificates(4)[2:])          # S00001 Cu and Au
    check = ev._original_conflicts
    monkeypatch.setattr(ev, "_original_conflicts",
                        lambda session, table, rows, **kw: check(session, table, rows, **kw)
                        if kw else [])
    rows = make.certificates(2) + make.certificates(4)[3:]              # row 3: S00001 Au
    with pytest.raises(DuplicateEvidenceError) as info, factory.begin() as s:
        file_certificates(s, "lab1", rows)
    assert [(e.row, e.field) for e in info.value.errors] == [(3, "element")]
    assert "shipment 'S00001', laboratory 'LAB1', element 'Au'" in str(info.value)
    assert _count(factory, m.Certificate) == 2


# --------------------------------------------------------------------------------------------
# migration 0004


def _at_0003_with(url: str, make, duplicates: bool):
    """A registry migrated to 0003 holding certificates and assays, with two originals of
    S00001's Cu certificate and of S00002's Cu control assay if `duplicates`; and one
    corrected certificate either way."""
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0003")
    factory = session_factory(engine)
    with factory.begin() as s:
        register_exporters(s, "admin", make.exporters())
        register_laboratories(s, "admin", make.laboratories())
        declare_shipments(s, "admin", make.shipments(10))
        ids = file_certificates(s, "lab1", make.certificates(6)).keys
        correct_certificate(s, "lab1", ids[0], reason="typo", expected_version=1,
                            changes={"value": 20.5})
        record_control_assays(s, "insp", [_assay("S00002")])
    if duplicates:  # as the registry accepted before 0004 (its check is newer too)
        at = dt.datetime.now(dt.timezone.utc)
        with factory.begin() as s:
            for cls, row in ((m.Certificate, make.certificates(3)[2]),
                             (m.ControlAssay, _assay("S00002", value=22.0))):
                s.execute(insert(cls), [{**row, "version": 1, "filed_by": "old",
                                         "filed_at": at, "synthetic": False}])
    return engine, factory


def test_migration_0004_stops_on_duplicates_naming_them(registry_url, make):
    engine, factory = _at_0003_with(registry_url, make, duplicates=True)
    with factory() as s:
        cert = s.scalars(select(m.Certificate.id).where(
            m.Certificate.shipment_id == "S00001", m.Certificate.element == "Cu",
            m.Certificate.supersedes_id.is_(None)).order_by(m.Certificate.id)).all()
    with pytest.raises(DuplicateOriginalsError) as info:
        init_db(registry_url)
    msg = str(info.value)
    assert "upgrade to 0004 stopped, nothing changed" in msg
    assert (f"certificates: shipment 'S00001', laboratory 'LAB1', element 'Cu': 2 originals "
            f"(ids {cert[0]}, {cert[1]})") in msg
    assert "control_assays: shipment 'S00002', laboratory 'STATE', element 'Cu': 2 originals" \
        in msg
    assert "umpire_assays" not in msg and "To resolve" in msg and "expected_version" in msg
    assert current_revision(engine) == "0003"
    assert not any(i["name"].startswith("uq_") for i in inspect(engine).get_indexes(
        "certificates"))
    # the CLI says the same, without a traceback
    from critmin.cli import app
    res = CliRunner().invoke(app, ["registry", "init", "--database-url", registry_url])
    assert res.exit_code == 1 and "2 originals" in res.output
    assert "Traceback" not in res.output
    # resolved (the later originals removed): the upgrade goes through
    with factory.begin() as s:
        s.execute(m.Certificate.__table__.delete().where(m.Certificate.filed_by == "old"))
        s.execute(m.ControlAssay.__table__.delete().where(m.ControlAssay.filed_by == "old"))
    init_db(registry_url).dispose()
    assert current_revision(engine) == "0004"
    engine.dispose()


def test_migration_0004_upgrades_a_clean_registry_and_down_again(registry_url, make):
    engine, factory = _at_0003_with(registry_url, make, duplicates=False)
    with factory() as s:
        before = s.execute(select(m.Certificate.__table__).order_by(m.Certificate.id)).all()
    init_db(registry_url).dispose()
    assert current_revision(engine) == "0004"
    with factory() as s:
        assert s.execute(select(m.Certificate.__table__).order_by(m.Certificate.id)).all() \
            == before
        assert verify_chain(s).ok
    with pytest.raises(DuplicateEvidenceError), factory.begin() as s:
        file_certificates(s, "lab1", make.certificates(1))
    command.downgrade(alembic_config(engine), "0003")
    assert not any(i["name"].startswith("uq_") for i in inspect(engine).get_indexes(
        "certificates"))
    init_db(registry_url).dispose()
    assert current_revision(engine) == "0004"
    engine.dispose()
