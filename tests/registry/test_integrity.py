"""Every single row: altering or deleting any one registered row or audit entry directly in
the database makes `verify_chain` fail and name it; and the registry read back as a ledger
gives the oversight models exactly what the ledger it was filled from gives them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, select, text
from sqlalchemy.exc import DBAPIError

from critmin.registry import analysis, auth, models as m
from critmin.registry.demo import fill_from_ledger
from critmin.registry.evidence import correct_certificate, row_key
from critmin.registry.verify import verify_chain
from helpers import small_synthetic_ledger


@pytest.fixture(scope="module")
def small_ledger():
    """A synthetic ledger on 1/30 of Kazakhstan's 2024 volumes (about 50 shipments)."""
    return small_synthetic_ledger(1 / 30, control_share=0.3, seed=11)


@pytest.fixture()
def full(registry, small_ledger, monkeypatch):
    """A registry holding rows of every table: the ledger, users, tokens, a revocation, a
    correction, a stored selection and a tariff."""
    engine, factory = registry
    monkeypatch.setitem(auth._SCRYPT, "n", 2 ** 10)
    with factory.begin() as s:
        fill_from_ledger(s, small_ledger)
        auth.add_user(s, "t", "insp", "inspector", password="inspector pass")
        auth.issue_token(s, "t", "insp")
        auth.revoke(s, "t", "token", auth.issue_token(s, "t", "insp").split("_")[1])
        first = s.scalar(select(m.Certificate.id).order_by(m.Certificate.id))
        correct_certificate(s, "t", first, reason="typo", expected_version=1,
                            changes={"value": 1.5})
        months = small_ledger.shipments["date"].astype(str).str[:7]
        unchecked = ~small_ledger.shipments["shipment_id"].isin(
            small_ledger.control_assays["shipment_id"])
        month = months[unchecked].mode().iloc[0]  # a month with shipments left to pick
        analysis.run_selection(s, "insp", period=month, budget=3, seed=1)
        from critmin.oversight.terms import default_terms_path
        analysis.register_tariff(s, "t", "T2024", dt.date(2024, 1, 1),
                                 default_terms_path().read_text())
    return engine, factory


def _changed(value, coltype):
    if isinstance(coltype, Boolean):
        return not value
    if isinstance(coltype, Integer):
        return value + 1
    if isinstance(coltype, Float):
        return (value or 0.0) * 1.001 + 0.001
    if isinstance(coltype, DateTime):
        return value + dt.timedelta(seconds=1)
    if isinstance(coltype, Date):
        return value + dt.timedelta(days=1)
    return (value or "") + "x"


def _tables():
    return {**m.APPEND_ONLY, "audit_log": m.AuditEntry}


def test_any_single_altered_or_deleted_row_is_named(full):
    """One transaction per tampering, verified inside it and rolled back, over every row of
    every table (first, last and three rows between of each: tampering anywhere must show,
    and the chain's two ends are where a naive check misses it)."""
    _, factory = full
    with factory() as s:
        assert verify_chain(s).ok
    checked = 0
    for name, cls in _tables().items():
        t = cls.__table__
        pk = list(t.primary_key.columns)
        with factory() as s:
            rows = s.execute(select(t).order_by(*pk)).mappings().all()
        assert rows, name
        pick = sorted(set(np.linspace(0, len(rows) - 1, min(len(rows), 5)).astype(int))) \
            if rows else []
        col = next(c for c in t.columns if not c.primary_key and c.name not in
                   ("synthetic",) and (c.name != "supersedes_id"))
        for i in pick:
            row = rows[i]
            key = row_key(name, row) if name != "audit_log" else str(row["seq"])
            where = " AND ".join(f'"{c.name}" = :k_{c.name}' for c in pk)
            params = {f"k_{c.name}": row[c.name] for c in pk}
            for sql, extra in ((f'UPDATE "{name}" SET "{col.name}" = :v WHERE {where}',
                                {"v": _changed(row[col.name], col.type)}),
                               (f'DELETE FROM "{name}" WHERE {where}', {})):
                with factory() as s:
                    try:
                        s.execute(text(sql), {**params, **extra})
                    except DBAPIError:  # the database itself refuses (a foreign key)
                        s.rollback()
                        continue
                    res = verify_chain(s)
                    s.rollback()
                assert not res.ok, (name, key, sql)
                named = res.first_broken
                if name == "audit_log":  # the entry, the next one's link, or its row
                    own = f"{row['table']} {row['row_key']}"
                    assert any(x in named for x in (f"seq {key}:", f"seq {int(key) + 1}:",
                                                    own)), named
                else:
                    assert f"{name} {key}" in named, (sql, named)
                checked += 1
    assert checked > 50  # deletions the foreign keys refuse are not counted


def test_registry_read_back_gives_the_ledgers_pairs_and_bias(full, small_ledger):
    """fill_from_ledger then to_ledger: the paired assays (declared, control, umpire per
    shipment and element) equal the ledger's, but for the one corrected certificate."""
    from critmin.oversight.bias import paired_assays, screen
    _, factory = full
    with factory() as s:
        back = analysis.to_ledger(s)
        corrected = s.scalar(select(m.Certificate).where(m.Certificate.version == 2))
    a = paired_assays(small_ledger)
    b = paired_assays(back)
    key = ["shipment_id", "element"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    fix = (a["shipment_id"] == corrected.shipment_id) & (a["element"] == corrected.element)
    assert fix.sum() <= 1
    a.loc[fix, "declared"] = corrected.value
    a.loc[fix, "d"] = np.log(a.loc[fix, "control"] / corrected.value)
    cols = ["shipment_id", "exporter_id", "laboratory_id", "element", "unit", "declared",
            "control", "umpire", "d"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)
    assert len(b) > 30
    ta = screen(a, by=["laboratory_id"]).reset_index(drop=True)
    tb = screen(b, by=["laboratory_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ta, tb, check_dtype=False)
