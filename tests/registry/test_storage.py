"""Registry storage on SQLite and PostgreSQL: migrations, all-or-nothing bulk filing,
idempotency, versioned corrections, and tamper detection by `verify_chain`."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import inspect, select, text

from critmin.registry import (AppendOnlyError, ConcurrencyError, IdempotencyConflictError,
                              RegistryValidationError, correct_certificate, declare_shipments,
                              file_certificates, history, record_control_assays, verify_chain)
from critmin.registry import models as m
from critmin.registry.db import current_revision

TABLES = {"exporters", "laboratories", "users", "shipments", "lab_assignments",
          "certificates", "control_assays", "umpire_assays", "audit_log", "idempotency_keys"}


def test_migrations_create_the_schema_matching_the_models(registry):
    engine, _ = registry
    assert TABLES <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == "0004"
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), m.Base.metadata)
    assert diff == [], "models and migrations disagree; add a migration"


def test_init_db_twice_is_harmless(registry_url):
    from critmin.registry import init_db
    init_db(registry_url).dispose()
    e = init_db(registry_url)
    assert current_revision(e) == "0004"
    e.dispose()


def _count(factory, cls) -> int:
    with factory() as s:
        return len(s.scalars(select(cls.__table__.primary_key.columns[0])).all())


def test_10000_rows_one_bad_files_nothing_then_fixed_files_all(seeded, make, request):
    _, factory = seeded
    with factory.begin() as s:      # 5,000 shipments: one Cu and one Au original on each
        declare_shipments(s, "admin", make.shipments(5_000)[100:])
    rows = make.certificates(10_000, n_shipments=5_000)
    rows[7_341] = {**rows[7_341], "value": -3.0}
    t0 = time.perf_counter()
    with pytest.raises(RegistryValidationError) as info:
        with factory.begin() as s:
            file_certificates(s, "lab1", rows, idempotency_key="batch-1")
    t_reject = time.perf_counter() - t0
    assert [(e.row, e.field) for e in info.value.errors] == [(7_342, "value")]
    assert "row 7342, field 'value'" in str(info.value)
    assert _count(factory, m.Certificate) == 0
    audit_before = _count(factory, m.AuditEntry)

    rows[7_341]["value"] = 3.0
    t0 = time.perf_counter()
    with factory.begin() as s:
        filed = file_certificates(s, "lab1", rows, idempotency_key="batch-1")
    t_file = time.perf_counter() - t0
    assert len(filed) == 10_000 and not filed.replayed
    assert _count(factory, m.Certificate) == 10_000
    assert _count(factory, m.AuditEntry) == audit_before + 10_000
    with factory() as s:
        assert s.get(m.Certificate, filed.keys[7_341]).value == 3.0
        t0 = time.perf_counter()
        assert verify_chain(s).ok
        t_verify = time.perf_counter() - t0
    print(f"\n[{request.node.callspec.id}] 10,000 rows: reject {t_reject:.2f} s, "
          f"file {t_file:.2f} s, verify {t_verify:.2f} s")


def test_errors_name_every_bad_row_and_field(seeded, make):
    _, factory = seeded
    rows = make.certificates(50)
    rows[3]["shipment_id"] = "NOPE"
    rows[9]["unit"] = "ppm"          # Cu is declared in %
    del rows[20]["element"]
    rows[30]["colour"] = "red"
    with pytest.raises(RegistryValidationError) as info, factory.begin() as s:
        file_certificates(s, "lab1", rows)
    assert [(e.row, e.field) for e in info.value.errors] == [
        (4, "shipment_id"), (10, "unit"), (21, "element"), (31, "colour")]
    assert _count(factory, m.Certificate) == 0


def test_same_idempotency_key_twice_files_once(seeded, make):
    _, factory = seeded
    rows = make.certificates(20)
    with factory.begin() as s:
        first = file_certificates(s, "lab1", rows, idempotency_key="k-1")
    with factory.begin() as s:
        again = file_certificates(s, "lab1", rows, idempotency_key="k-1")
    assert again.replayed and again.keys == first.keys and again.audit_seq == first.audit_seq
    assert _count(factory, m.Certificate) == 20
    with pytest.raises(IdempotencyConflictError), factory.begin() as s:
        file_certificates(s, "lab1", rows[:5], idempotency_key="k-1")
    with pytest.raises(IdempotencyConflictError), factory.begin() as s:
        file_certificates(s, "someone-else", rows, idempotency_key="k-1")
    assert _count(factory, m.Certificate) == 20


def test_correction_is_version_2_and_leaves_version_1(seeded, make):
    _, factory = seeded
    with factory.begin() as s:
        cid = file_certificates(s, "lab1", make.certificates(4)).keys[0]
    with factory() as s:
        v1_before = dict(s.execute(select(m.Certificate.__table__)
                                   .where(m.Certificate.id == cid)).mappings().one())
    with factory.begin() as s:
        new = correct_certificate(s, "lab1", cid, reason="transcription error: 21.0 not 20.0",
                                  expected_version=1, changes={"value": 21.0})
    nid = new.keys[0]
    with factory() as s:
        v1 = dict(s.execute(select(m.Certificate.__table__)
                            .where(m.Certificate.id == cid)).mappings().one())
        v2 = s.get(m.Certificate, nid)
        assert v1 == v1_before
        assert (v2.version, v2.supersedes_id, v2.value) == (2, cid, 21.0)
        assert v2.reason == "transcription error: 21.0 not 20.0"
        assert (v2.shipment_id, v2.element, v2.unit) == (v1["shipment_id"], "Cu", "%")
        assert [h["version"] for h in history(s, "certificates", cid)] == [1, 2]
        assert verify_chain(s).ok
    # optimistic concurrency: correcting version 1 again is stale
    with pytest.raises(ConcurrencyError, match="superseded"), factory.begin() as s:
        correct_certificate(s, "lab2", cid, reason="late", expected_version=1,
                            changes={"value": 22.0})
    with pytest.raises(RegistryValidationError, match="reason"), factory.begin() as s:
        correct_certificate(s, "lab1", nid, reason=" ", expected_version=2,
                            changes={"value": 22.0})


def test_orm_refuses_to_update_evidence(seeded, make):
    _, factory = seeded
    with factory.begin() as s:
        cid = file_certificates(s, "lab1", make.certificates(2)).keys[0]
    with pytest.raises(AppendOnlyError), factory.begin() as s:
        s.get(m.Certificate, cid).value = 99.0
        s.flush()
    with pytest.raises(AppendOnlyError), factory.begin() as s:
        s.delete(s.get(m.Certificate, cid))
        s.flush()


# --------------------------------------------------------------------------------------------
# tampering with raw SQL


@pytest.fixture()
def filed(seeded, make):
    """A registry with 200 certificates and 10 control assays; returns (factory, cert ids)."""
    _, factory = seeded
    with factory.begin() as s:
        ids = file_certificates(s, "lab1", make.certificates(200)).keys
        record_control_assays(s, "inspector", [
            {"shipment_id": f"S{i:05d}", "laboratory_id": "STATE", "element": "Cu",
             "value": 21.5, "unit": "%"} for i in range(10)])
    with factory() as s:
        assert verify_chain(s).ok
    return factory, ids


def _tamper(factory, sql: str, **params) -> str:
    with factory.begin() as s:
        assert s.execute(text(sql), params).rowcount == 1
    with factory() as s:
        res = verify_chain(s)
    assert not res.ok
    return res.first_broken


def _seq_of(factory, table: str, key) -> int:
    with factory() as s:
        return s.scalar(select(m.AuditEntry.seq).where(m.AuditEntry.table_name == table,
                                                       m.AuditEntry.row_key == str(key)))


def test_verify_names_an_updated_certificate_value(filed):
    factory, ids = filed
    broken = _tamper(factory, "UPDATE certificates SET value = value + 0.01 WHERE id = :id",
                     id=ids[57])
    assert broken == (f"certificates {ids[57]}: row does not match the payload_sha256 of "
                      f"audit_log seq {_seq_of(factory, 'certificates', ids[57])}")


def test_verify_names_a_deleted_audit_row(filed):
    factory, ids = filed
    seq = _seq_of(factory, "certificates", ids[100])
    broken = _tamper(factory, "DELETE FROM audit_log WHERE seq = :seq", seq=seq)
    assert broken == f"audit_log seq {seq}: missing (seq {seq + 1} follows {seq - 1})"


def test_verify_names_an_audit_row_with_an_altered_payload_hash(filed):
    factory, ids = filed
    seq = _seq_of(factory, "certificates", ids[3])
    broken = _tamper(factory, "UPDATE audit_log SET payload_sha256 = :h WHERE seq = :seq",
                     h="f" * 64, seq=seq)
    assert broken == f"audit_log seq {seq}: entry_sha256 does not match the entry's content"


def test_verify_names_a_deleted_evidence_row(filed):
    factory, _ = filed
    with factory() as s:
        last = s.scalar(select(m.ControlAssay.id).order_by(m.ControlAssay.id.desc()))
    broken = _tamper(factory, "DELETE FROM control_assays WHERE id = :id", id=last)
    seq = _seq_of(factory, "control_assays", last)
    assert broken == f"control_assays {last}: row recorded by audit_log seq {seq} is missing"


def test_verify_names_a_rehashed_audit_entry_by_its_broken_link(filed):
    """Editing an entry and recomputing its own hash still breaks the next entry's link."""
    from critmin.registry.evidence import entry_sha256
    factory, ids = filed
    seq = _seq_of(factory, "certificates", ids[10])
    with factory() as s:
        e = dict(s.execute(select(m.AuditEntry.__table__).where(m.AuditEntry.seq == seq))
                 .mappings().one())
    e["actor"] = "mallory"
    broken = _tamper(factory, 'UPDATE audit_log SET actor = :a, entry_sha256 = :h '
                     'WHERE seq = :seq', a="mallory", h=entry_sha256(e), seq=seq)
    assert broken == f"audit_log seq {seq + 1}: prev_sha256 does not match entry {seq}'s hash"


def test_concurrent_corrections_of_one_version_file_one(seeded, make):
    """Two writers correct version 1 at once: one files version 2, the other gets
    ConcurrencyError (PostgreSQL: the unique supersedes_id blocks the second insert until the
    first commits; SQLite: the second writer waits for the lock, then sees version 2)."""
    import threading
    _, factory = seeded
    with factory.begin() as s:
        cid = file_certificates(s, "lab1", make.certificates(2)).keys[0]
    a = factory()
    a.begin()
    correct_certificate(a, "lab1", cid, reason="first", expected_version=1,
                        changes={"value": 20.5})
    outcome: list = []

    def second():
        try:
            with factory.begin() as b:
                correct_certificate(b, "lab2", cid, reason="second", expected_version=1,
                                    changes={"value": 20.7})
            outcome.append("filed")
        except Exception as exc:      # noqa: BLE001 (the outcome is the assertion)
            outcome.append(exc)

    t = threading.Thread(target=second)
    t.start()
    t.join(0.5)
    a.commit()
    a.close()
    t.join(30)
    assert len(outcome) == 1 and not isinstance(outcome[0], str), outcome
    with factory() as s:
        assert [h["reason"] for h in history(s, "certificates", cid)][1:] == ["first"]
        assert verify_chain(s).ok
    assert isinstance(outcome[0], ConcurrencyError)


def test_an_anchor_catches_a_consistently_rewritten_tail(filed):
    """Rewriting an entry and re-hashing every later one passes the chain checks (the known
    limit), but not an anchor recorded before the rewrite; a cut-back chain fails too."""
    from critmin.registry.evidence import entry_sha256
    from critmin.registry.verify import parse_anchor
    factory, ids = filed
    with factory() as s:
        before = verify_chain(s)
    anchor = parse_anchor(before.anchor)
    assert anchor[0] == before.entries
    seq = _seq_of(factory, "certificates", ids[10])
    with factory.begin() as s:  # mallory rewrites entry `seq` and re-chains the whole tail
        rows = s.execute(select(m.AuditEntry.__table__).where(m.AuditEntry.seq >= seq)
                         .order_by(m.AuditEntry.seq)).mappings().all()
        prev = s.scalar(select(m.AuditEntry.entry_sha256).where(m.AuditEntry.seq == seq - 1))
        for r in rows:
            e = dict(r)
            e["actor"] = "mallory" if e["seq"] == seq else e["actor"]
            e["prev_sha256"] = prev
            e["entry_sha256"] = prev = entry_sha256(e)
            s.execute(text('UPDATE audit_log SET actor = :a, prev_sha256 = :p, '
                           'entry_sha256 = :h WHERE seq = :seq'),
                      {"a": e["actor"], "p": e["prev_sha256"], "h": e["entry_sha256"],
                       "seq": e["seq"]})
    with factory() as s:
        assert verify_chain(s).ok  # the chain alone cannot tell
        res = verify_chain(s, anchors=[anchor])
    assert not res.ok and res.first_broken.startswith(f"audit_log seq {anchor[0]}: differs")
    with factory() as s:
        res = verify_chain(s, anchors=[(anchor[0] + 5, anchor[1])])
    assert not res.ok and "anchored but missing" in res.first_broken
