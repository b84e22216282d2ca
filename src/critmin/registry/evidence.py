"""Writing to the registry: register parties, declare shipments, file certificates and assays,
correct them. Every function takes a `Session` and the acting user's id, validates the whole
submission before writing anything, writes, and appends one hash-chained audit entry per row
written, all in the caller's transaction (functions flush, never commit).

Rules (docs/data.md, "Registry database"):

- **All or nothing.** Rows are validated first (each against its pydantic model from
  `critmin.oversight.schema`, then references to shipments, laboratories and exporters,
  units against the element's declared unit, duplicates); any problem raises
  `RegistryValidationError` listing every `(row, field, problem)`, rows 1-based data rows,
  and nothing is written.
- **One original per result.** An evidence table holds one original (version 1) per
  shipment, laboratory and element. A row whose result is already filed, or that repeats an
  earlier row of its submission, raises `DuplicateEvidenceError` (a `RegistryValidationError`;
  the API answers 409) naming the row and, for a filed one, the id and version to correct; a
  partial unique index (migration 0004) backs the check against concurrent filers.
- **Idempotency.** A submission with an `idempotency_key` already used returns the first
  result (`Filed.replayed` = True) and writes nothing; the same key with a different request
  or by another actor raises `IdempotencyConflictError`.
- **Append-only evidence.** A correction is a new row: `version` = old + 1, `supersedes_id` =
  old id, a non-empty `reason`; the caller states the version it corrects
  (`expected_version`), and a stale one raises `ConcurrencyError`.
- **Audit chain.** Entry n stores `payload_sha256` = `row_sha256(row)` and
  `prev_sha256` = entry n-1's `entry_sha256`; `entry_sha256` = `entry_sha256(entry)`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from critmin.errors import CritminError
from critmin.oversight import schema as ledger
from critmin.registry import models as m

GENESIS = "0" * 64


# ---------------------------------------------------------------------------------------------
# errors (candidates for critmin.errors)


class RegistryError(CritminError):
    """A registry write or check that cannot proceed."""


@dataclass(frozen=True)
class RowError:
    row: int          # 1-based data row of the submission
    field: str | None
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}" + (f", field {self.field!r}" if self.field else "") + \
            f": {self.problem}"


class RegistryValidationError(RegistryError, ValueError):
    """A submission with invalid rows; nothing was written. `errors` lists every row error."""

    def __init__(self, table: str, errors: list[RowError]):
        self.table = table
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{table}: nothing filed; {errors[0]}{more}")


class IdempotencyConflictError(RegistryError):
    """An idempotency key reused for a different request or by a different actor."""


class ConcurrencyError(RegistryError):
    """A correction of a version that is no longer the latest (someone corrected it first)."""


class AppendOnlyError(RegistryError):
    """An attempt to update or delete a registered row."""


class DuplicateEvidenceError(RegistryValidationError):
    """A second original of a result: a row filing a shipment, laboratory and element that
    already has an original in the table, or repeating an earlier row of the submission (or
    a correction moving a result onto one that exists). A changed result is a correction of
    the filed one (`correct_evidence` with `expected_version`). Nothing was written."""


class DuplicateOriginalsError(RegistryError):
    """The database already holds two originals of one result, so migration 0004 (one
    original per shipment, laboratory and element) cannot add its unique index; the message
    names them and how to resolve them. Nothing was changed."""


# ---------------------------------------------------------------------------------------------
# hashing


def _canon_value(value: Any, coltype) -> Any:
    """A column value in the form hashed, the same whether written or read back from either
    database: floats as `repr`, dates ISO, datetimes ISO in UTC (naive read as UTC)."""
    if value is None:
        return None
    if isinstance(coltype, Float):
        return repr(float(value))
    if isinstance(coltype, Boolean):
        return bool(value)
    if isinstance(coltype, Integer):
        return int(value)
    if isinstance(coltype, DateTime):
        if isinstance(value, str):
            value = _dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat(timespec="microseconds")
    if isinstance(coltype, Date):
        return (value if isinstance(value, str) else value.isoformat())[:10]
    return str(value)


# one encoder for every hash: json.dumps with options builds a new encoder per call, which
# dominated the cost of hashing a 100,000-row upload
_CANON_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                               default=str)


def _sha(obj: Any) -> str:
    return hashlib.sha256(_CANON_JSON.encode(obj).encode()).hexdigest()


_ROW_COLUMNS: dict[str, list[tuple[str, Any]]] = {}


def row_sha256(table: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of a row: canonical JSON (sorted keys, no spaces) of `{"table": table,
    "row": {column: canonical value}}` over every column of the table."""
    cols = _ROW_COLUMNS.get(table)
    if cols is None:
        cols = _ROW_COLUMNS[table] = [(c.name, c.type)
                                      for c in m.APPEND_ONLY[table].__table__.columns]
    get = row.get
    return _sha({"table": table,
                 "row": {name: (None if (v := get(name)) is None else _canon_value(v, ctype))
                         for name, ctype in cols}})


ENTRY_FIELDS = ("seq", "actor", "at", "action", "table", "row_key", "payload_sha256",
                "prev_sha256")


def entry_sha256(entry: Mapping[str, Any]) -> str:
    """SHA-256 of an audit entry: canonical JSON of its `ENTRY_FIELDS` (seq as integer)."""
    return _sha({k: (int(entry[k]) if k == "seq" else entry[k]) for k in ENTRY_FIELDS})


def row_key(table: str, row: Mapping[str, Any]) -> str:
    pk = m.APPEND_ONLY[table].__table__.primary_key.columns
    return "|".join(str(row[c.name]) for c in pk)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _iso(t: _dt.datetime) -> str:
    return t.isoformat(timespec="microseconds")


def _append_audit(session: Session, actor: str, action: str, table: str,
                  rows: list[Mapping[str, Any]], at: _dt.datetime) -> tuple[int, int]:
    """Append one chained entry per row; returns (first seq, last seq). On PostgreSQL a
    transaction-scoped advisory lock serialises appenders; on SQLite the write lock does."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727146)"))
    last = session.execute(select(m.AuditEntry.seq, m.AuditEntry.entry_sha256)
                           .order_by(m.AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    first = seq + 1
    entries = []
    for row in rows:
        seq += 1
        e = {"seq": seq, "actor": actor, "at": _iso(at), "action": action, "table": table,
             "row_key": row_key(table, row), "payload_sha256": row_sha256(table, row),
             "prev_sha256": prev}
        e["entry_sha256"] = prev = entry_sha256(e)
        entries.append({**{k: v for k, v in e.items() if k != "table"}, "table_name": table})
    if entries:
        session.execute(insert(m.AuditEntry), entries)
    return first, seq


# ---------------------------------------------------------------------------------------------
# results and idempotency


@dataclass(frozen=True)
class Filed:
    """What a submission wrote: the table, the keys of its rows in submission order, the audit
    entries (first and last seq) and whether this is a replay of an earlier submission."""
    table: str
    keys: tuple
    audit_seq: tuple[int, int]
    replayed: bool = False

    def __len__(self) -> int:
        return len(self.keys)

    def to_json(self) -> str:
        return json.dumps({"table": self.table, "keys": list(self.keys),
                           "audit_seq": list(self.audit_seq)})

    @classmethod
    def from_json(cls, raw: str) -> Filed:
        d = json.loads(raw)
        return cls(d["table"], tuple(d["keys"]), tuple(d["audit_seq"]), replayed=True)


def _replay(session: Session, key: str | None, actor: str, action: str,
            request_hash: str) -> Filed | None:
    if key is None:
        return None
    found = session.get(m.IdempotencyKey, key)
    if found is None:
        return None
    if found.actor != actor or found.action != action or found.request_sha256 != request_hash:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was used by {found.actor!r} for another {found.action} "
            "request; use a new key for a new submission")
    return Filed.from_json(found.result_json)


def _remember(session: Session, key: str | None, actor: str, action: str,
              request_hash: str, result: Filed, at: _dt.datetime) -> None:
    if key is not None:
        session.add(m.IdempotencyKey(key=key, actor=actor, action=action,
                                     request_sha256=request_hash, result_json=result.to_json(),
                                     at=_iso(at)))
        try:
            session.flush()
        except IntegrityError:
            # the same key submitted twice at once: both passed `_replay` before either
            # committed; the loser's transaction is doomed (the caller rolls it back)
            raise IdempotencyConflictError(
                f"idempotency key {key!r} was used by a concurrent submission, filed first; "
                "nothing was filed by this one: retry with the same key for its result"
            ) from None


# ---------------------------------------------------------------------------------------------
# validation


def _records(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.astype(object).where(rows.notna(), None).to_dict("records")
    return [dict(r) for r in rows]


_ADAPTERS: dict[type, TypeAdapter] = {}


def _validate(table: str, model: type[BaseModel], records: list[dict],
              errors: list[RowError]) -> list[dict | None]:
    """Each record through `model`; errors collected; returns dumped rows (None if invalid)."""
    adapter = _ADAPTERS.setdefault(model, TypeAdapter(list[model]))
    try:
        return [r.model_dump() for r in adapter.validate_python(records)]
    except ValidationError as e:
        bad: set[int] = set()
        for err in e.errors():
            loc = err["loc"]
            i = loc[0] if loc and isinstance(loc[0], int) else 0
            fld = str(loc[1]) if len(loc) > 1 else None
            msg = err["msg"].removeprefix("Value error, ")
            if fld is not None and "input" in err and not isinstance(err["input"], dict):
                msg += f" (got {err['input']!r})"
            errors.append(RowError(i + 1, fld, msg))
            bad.add(i)
    out: list[dict | None] = []
    for i, r in enumerate(records):
        out.append(None if i in bad else model.model_validate(r).model_dump())
    return out


def _existing(session: Session, col, values: set) -> set:
    found: set = set()
    values = list(values)
    for i in range(0, len(values), 1000):
        found |= set(session.scalars(select(col).where(col.in_(values[i:i + 1000]))))
    return found


def _check_refs(session: Session, rows: list[dict | None], refs: dict[str, Any],
                errors: list[RowError]) -> None:
    """Every row's `field` value must exist in the referenced column."""
    for fld, col in refs.items():
        known = _existing(session, col, {r[fld] for r in rows if r is not None})
        for i, r in enumerate(rows):
            if r is not None and r[fld] not in known:
                errors.append(RowError(i + 1, fld, f"{fld} {r[fld]!r} is not registered in "
                                       f"{col.table.name}"))


def _check_units(rows: list[dict | None], errors: list[RowError]) -> None:
    for i, r in enumerate(rows):
        if r is None:
            continue
        declared = ledger.DEFAULT_ELEMENT_UNITS.get(r["element"])
        if declared is None:
            errors.append(RowError(i + 1, "element", f"element {r['element']!r} has no "
                                   "declared unit"))
        elif r["unit"] != declared:
            errors.append(RowError(i + 1, "unit", f"unit {r['unit']!r} contradicts the "
                                   f"declared unit {declared!r} of element {r['element']!r}"))


def _check_unique(session: Session, table: str, rows: list[dict | None], key: str,
                  errors: list[RowError]) -> None:
    col = m.APPEND_ONLY[table].__table__.c[key]
    known = _existing(session, col, {r[key] for r in rows if r is not None})
    seen: dict[Any, int] = {}
    for i, r in enumerate(rows):
        if r is None:
            continue
        if r[key] in known:
            errors.append(RowError(i + 1, key, f"{key} {r[key]!r} is already registered"))
        elif r[key] in seen:
            errors.append(RowError(i + 1, key, f"{key} {r[key]!r} repeats row {seen[r[key]]}"))
        else:
            seen[r[key]] = i + 1


def _key_text(key: tuple) -> str:
    shipment, lab, element = key
    return f"shipment {shipment!r}, laboratory {lab!r}, element {element!r}"


def _latest_of(session: Session, cls, roots: dict[int, int]) -> dict[int, tuple[int, int]]:
    """{original id: (id, version) of the latest version of its correction chain}, from
    `roots` {original id: its version}; one query per chain step (per 1,000 chains)."""
    latest = {root: (root, version) for root, version in roots.items()}
    frontier = {root: root for root in roots}     # id reached -> its original
    while frontier:
        step: dict[int, int] = {}
        ids = list(frontier)
        for i in range(0, len(ids), 1000):
            for row in session.execute(select(cls.id, cls.supersedes_id, cls.version)
                                       .where(cls.supersedes_id.in_(ids[i:i + 1000]))):
                root = frontier[row.supersedes_id]
                latest[root] = (row.id, row.version)
                step[row.id] = root
        frontier = step
    return latest


def _original_conflicts(session: Session, table: str, rows: list[dict | None], *,
                        not_filed_by: tuple[str, _dt.datetime] | None = None
                        ) -> list[RowError]:
    """Rows of an evidence submission that would be a second original: of a result (shipment,
    laboratory, element) the table already holds, or repeating an earlier row. Rows filed by
    `not_filed_by` (actor, at), i.e. this submission's own partial insert, are not counted."""
    cls = m.EVIDENCE[table]
    t = cls.__table__
    keys = {i: tuple(r[k] for k in m.ORIGINAL_KEY) for i, r in enumerate(rows) if r is not None}
    ships = sorted({k[0] for k in keys.values()}, key=str)
    held: dict[tuple, tuple[int, int]] = {}       # key -> (original id, its version)
    for i in range(0, len(ships), 1000):
        q = select(t.c.id, t.c.version, *(t.c[k] for k in m.ORIGINAL_KEY)).where(
            t.c.supersedes_id.is_(None), t.c.shipment_id.in_(ships[i:i + 1000]))
        if not_filed_by is not None:
            q = q.where(~((t.c.filed_by == not_filed_by[0]) & (t.c.filed_at == not_filed_by[1])))
        for row in session.execute(q):
            held.setdefault(tuple(row)[2:], (row.id, row.version))
    clash = {i: k for i, k in keys.items() if k in held}
    latest = _latest_of(session, cls, dict({held[k] for k in clash.values()}))
    out: list[RowError] = []
    seen: dict[tuple, int] = {}
    for i, key in keys.items():
        if key in held:
            root = held[key][0]
            lid, version = latest[root]
            out.append(RowError(i + 1, "element", (
                f"{_key_text(key)} already has an original result in {table} (id {root}); "
                f"its latest version is {version} (id {lid}): to change it, file a "
                f"correction of id {lid} with expected_version {version}, not a second "
                "original")))
        elif key in seen:
            out.append(RowError(i + 1, "element", (
                f"{_key_text(key)} repeats row {seen[key]} of this submission: one original "
                "per shipment, laboratory and element; to change a result once filed, file a "
                "correction of it with expected_version")))
        else:
            seen[key] = i + 1
    return out


def _original_clash(exc: IntegrityError, table: str) -> bool:
    """Whether `exc` is the one-original unique index of `table` refusing a row."""
    msg = str(exc.orig)
    return m.original_index_name(table) in msg or \
        all(f"{table}.{c}" in msg for c in m.ORIGINAL_KEY)


def _raced(session: Session, table: str, actor: str, at: _dt.datetime,
           valid: list[dict | None], exc: IntegrityError) -> list[RowError]:
    """The rows refused by the unique index after passing the check: a concurrent submission
    filed the same result first. PostgreSQL names the key (the transaction is aborted);
    SQLite's is still usable, so the check runs again, ignoring this submission's own rows."""
    diag = getattr(exc.orig, "diag", None)
    detail = getattr(diag, "message_detail", None) or ""
    for i, r in enumerate(valid):
        if r is not None and f"=({r['shipment_id']}, {r['laboratory_id']}, {r['element']})" \
                in detail:
            key = tuple(r[k] for k in m.ORIGINAL_KEY)
            return [RowError(i + 1, "element", (
                f"{_key_text(key)} was filed as an original by a concurrent submission while "
                "this one was checked; nothing was filed: reload it and file a correction "
                "with expected_version (if that submission was this one's twin under the same "
                "idempotency key, retry with the key for its result)"))]
    if session.get_bind().dialect.name == "sqlite":
        found = _original_conflicts(session, table, valid, not_filed_by=(actor, at))
        if found:
            return found
    return [RowError(1, None, (
        "a concurrent submission filed an original of a result of this one first (one "
        "original per shipment, laboratory and element); nothing was filed: reload and file "
        "corrections with expected_version"))]


# ---------------------------------------------------------------------------------------------
# writing


def _insert_returning_ids(session: Session, cls, pk, write: list[dict]) -> list[int]:
    """Insert `write` and return the generated ids in submission order. SQLite cannot order
    a batched INSERT ... RETURNING, so SQLAlchemy falls back to one statement per row (about
    0.3 ms a row); there the rows go in one executemany instead and the ids are read back:
    the insert holds SQLite's single write lock until commit, and each new rowid is the
    table's largest plus one, so the `len(write)` largest ids are these rows, in order.
    On PostgreSQL the ordered INSERT ... RETURNING took twice as long as a plain insert, so
    the ids are drawn from the column's sequence first and inserted with the rows."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        ids = sorted(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:t, :c)) FROM generate_series(1, :n)"),
            {"t": cls.__table__.name, "c": pk.name, "n": len(write)}))
        for r, i in zip(write, ids):
            r[pk.name] = i
        session.execute(insert(cls), write)
        return ids
    if dialect != "sqlite":
        return session.scalars(insert(cls).returning(pk, sort_by_parameter_order=True),
                               write).all()
    session.execute(insert(cls), write)
    ids = session.scalars(select(pk).order_by(pk.desc()).limit(len(write))).all()
    return ids[::-1]


def _submit(session: Session, actor: str, table: str, model: type[BaseModel], rows,
            *, idempotency_key: str | None, checks, extra: dict[str, Any] | None = None
            ) -> Filed:
    action = f"file:{table}"
    records = _records(rows)
    request_hash = _sha({"table": table, "rows": records}) if idempotency_key else ""
    replay = _replay(session, idempotency_key, actor, action, request_hash)
    if replay is not None:
        return replay
    if not records:
        raise RegistryValidationError(table, [RowError(1, None, "no rows submitted")])
    errors: list[RowError] = []
    valid = _validate(table, model, records, errors)
    checks(valid, errors)
    duplicates = _original_conflicts(session, table, valid) if table in m.EVIDENCE else []
    if errors:      # any other problem: 422 naming every row, duplicates included
        errors = sorted(errors + duplicates, key=lambda e: e.row)
        raise RegistryValidationError(table, errors)
    if duplicates:
        raise DuplicateEvidenceError(table, duplicates)
    at = _now()
    cols = m.APPEND_ONLY[table].__table__.columns
    write = [{**{k: v for k, v in r.items() if k in cols}, **(extra or {})} for r in valid]
    if table in m.EVIDENCE:
        for r in write:
            r.update(version=1, supersedes_id=None, reason=None, filed_by=actor, filed_at=at)
    cls = m.APPEND_ONLY[table]
    pk = cls.__table__.primary_key.columns
    if len(pk) == 1 and list(pk)[0].autoincrement is True:
        try:
            ids = _insert_returning_ids(session, cls, list(pk)[0], write)
        except IntegrityError as exc:
            # a concurrent submission filed one of these results between the check and here
            if table in m.EVIDENCE and _original_clash(exc, table):
                raise DuplicateEvidenceError(
                    table, _raced(session, table, actor, at, valid, exc)) from None
            raise
        for r, i in zip(write, ids):
            r[list(pk)[0].name] = i
    else:
        session.execute(insert(cls), write)
    for r in write:
        for c in cols:
            r.setdefault(c.name, None)
    seqs = _append_audit(session, actor, "file", table, write, at)
    result = Filed(table, tuple(row_key(table, r) if len(pk) > 1 else r[list(pk)[0].name]
                                for r in write), seqs)
    _remember(session, idempotency_key, actor, action, request_hash, result, at)
    return result


def register_exporters(session: Session, actor: str, rows, *,
                       idempotency_key: str | None = None) -> Filed:
    """Register exporters (`critmin.oversight.schema.Exporter` rows)."""
    return _submit(session, actor, "exporters", ledger.Exporter, rows,
                   idempotency_key=idempotency_key,
                   checks=lambda v, e: _check_unique(session, "exporters", v, "exporter_id", e))


def register_laboratories(session: Session, actor: str, rows, *,
                          idempotency_key: str | None = None) -> Filed:
    """Register laboratories (`critmin.oversight.schema.Laboratory` rows)."""
    return _submit(session, actor, "laboratories", ledger.Laboratory, rows,
                   idempotency_key=idempotency_key,
                   checks=lambda v, e: _check_unique(session, "laboratories", v,
                                                     "laboratory_id", e))


def declare_shipments(session: Session, actor: str, rows, *,
                      idempotency_key: str | None = None) -> Filed:
    """Declare shipments (`critmin.oversight.schema.Shipment` rows) of registered exporters."""
    def checks(v, e):
        _check_unique(session, "shipments", v, "shipment_id", e)
        _check_refs(session, v, {"exporter_id": m.Exporter.exporter_id}, e)
    return _submit(session, actor, "shipments", ledger.Shipment, rows,
                   idempotency_key=idempotency_key, checks=checks)


def _result_checks(session: Session):
    def checks(v, e):
        _check_refs(session, v, {"shipment_id": m.Shipment.shipment_id,
                                 "laboratory_id": m.Laboratory.laboratory_id}, e)
        _check_units(v, e)
    return checks


def file_certificates(session: Session, actor: str, rows, *,
                      idempotency_key: str | None = None) -> Filed:
    """File certificate results (`critmin.oversight.schema.CertificateResult` rows: a
    DataFrame or dicts) as version 1, all or nothing. Raises `RegistryValidationError`
    naming every bad (row, field) before writing anything."""
    return _submit(session, actor, "certificates", ledger.CertificateResult, rows,
                   idempotency_key=idempotency_key, checks=_result_checks(session))


def record_control_assays(session: Session, actor: str, rows, *,
                          idempotency_key: str | None = None) -> Filed:
    """Record control assays (`ControlAssay` rows of kind 'control') or, for rows of kind
    'umpire', refuse them: umpire results go through `record_umpire_assays`."""
    return _assays(session, actor, rows, "control", idempotency_key)


def record_umpire_assays(session: Session, actor: str, rows, *,
                         idempotency_key: str | None = None) -> Filed:
    """Record umpire assays (`ControlAssay` rows of kind 'umpire', the default here)."""
    return _assays(session, actor, rows, "umpire", idempotency_key)


def _assays(session, actor, rows, kind, idempotency_key) -> Filed:
    table = "control_assays" if kind == "control" else "umpire_assays"
    records = _records(rows)
    for r in records:
        r.setdefault("kind", kind)
    base = _result_checks(session)

    def checks(v, e):
        base(v, e)
        for i, r in enumerate(v):
            if r is not None and r["kind"] != kind:
                e.append(RowError(i + 1, "kind", f"kind {r['kind']!r} does not belong in "
                                  f"{table}"))
    return _submit(session, actor, table, ledger.ControlAssay, records,
                   idempotency_key=idempotency_key, checks=checks)


def assign_laboratories(session: Session, actor: str, rows) -> Filed:
    """Assign laboratories to shipments, all or nothing: rows of shipment_id, laboratory_id
    and role ('exporter', 'control' or 'umpire'); a pair already assigned in that role is
    an error."""
    records = [{k: r.get(k) for k in ("shipment_id", "laboratory_id", "role")}
               for r in _records(rows)]
    errors: list[RowError] = []
    for i, r in enumerate(records):
        if r["role"] not in m.ASSIGNMENT_ROLES:
            errors.append(RowError(i + 1, "role", f"role {r['role']!r} is not one of "
                                   f"{', '.join(m.ASSIGNMENT_ROLES)}"))
    _check_refs(session, records, {"shipment_id": m.Shipment.shipment_id,
                                   "laboratory_id": m.Laboratory.laboratory_id}, errors)
    ships = sorted({str(r["shipment_id"]) for r in records})
    known: set[tuple] = set()
    for i in range(0, len(ships), 1000):
        known |= {tuple(a) for a in session.execute(
            select(m.LabAssignment.shipment_id, m.LabAssignment.laboratory_id,
                   m.LabAssignment.role)
            .where(m.LabAssignment.shipment_id.in_(ships[i:i + 1000])))}
    seen: set[tuple] = set()
    for i, r in enumerate(records):
        key = (r["shipment_id"], r["laboratory_id"], r["role"])
        if key in known or key in seen:
            errors.append(RowError(i + 1, "laboratory_id", f"laboratory {key[1]!r} is already "
                                   f"the {key[2]} laboratory of shipment {key[0]!r}"))
        seen.add(key)
    if not records:
        errors.append(RowError(1, None, "no rows submitted"))
    if errors:
        errors.sort(key=lambda e: e.row)
        raise RegistryValidationError("lab_assignments", errors)
    at = _now()
    ids = session.scalars(insert(m.LabAssignment).returning(
        m.LabAssignment.id, sort_by_parameter_order=True), records).all()
    for r, i in zip(records, ids):
        r["id"] = i
    seqs = _append_audit(session, actor, "file", "lab_assignments", records, at)
    return Filed("lab_assignments", tuple(ids), seqs)


def assign_laboratory(session: Session, actor: str, shipment_id: str, laboratory_id: str,
                      role: str) -> Filed:
    """Assign a laboratory to a shipment as its 'exporter', 'control' or 'umpire' lab."""
    return assign_laboratories(session, actor, [{"shipment_id": shipment_id,
                                                 "laboratory_id": laboratory_id,
                                                 "role": role}])


def register_user(session: Session, actor: str, user_id: str, role: str, *,
                  party_id: str | None = None, password_hash: str | None = None) -> Filed:
    """Register a user acting in `role` (exporter, laboratory, inspector, auditor, admin)."""
    if role not in m.ROLES:
        raise RegistryValidationError("users", [RowError(
            1, "role", f"role {role!r} is not one of {', '.join(m.ROLES)}")])
    row = {"user_id": user_id, "role": role, "party_id": party_id,
           "password_hash": password_hash}
    errors: list[RowError] = []
    _check_unique(session, "users", [row], "user_id", errors)
    if errors:
        raise RegistryValidationError("users", errors)
    at = _now()
    session.execute(insert(m.User), [row])
    seqs = _append_audit(session, actor, "file", "users", [row], at)
    return Filed("users", (user_id,), seqs)


def correct_evidence(session: Session, actor: str, table: str, id: int, *, reason: str,
                     expected_version: int, changes: Mapping[str, Any],
                     idempotency_key: str | None = None) -> Filed:
    """File a correction of evidence row `id` in `table`: a new row with `changes` applied,
    `version` + 1, `supersedes_id` = `id` and `reason`. The old row is left untouched.

    `expected_version` is the version the caller read; if the row is not the latest version
    (it has been superseded) or its version differs, raises `ConcurrencyError`.
    """
    if table not in m.EVIDENCE:
        raise RegistryError(f"{table!r} holds no evidence; evidence tables: "
                            f"{', '.join(m.EVIDENCE)}")
    cls = m.EVIDENCE[table]
    action = f"correct:{table}"
    request_hash = _sha({"id": id, "reason": reason, "expected_version": expected_version,
                         "changes": {k: _canon_value(v, cls.__table__.c[k].type)
                                     if k in cls.__table__.c else str(v)
                                     for k, v in changes.items()}})
    replay = _replay(session, idempotency_key, actor, action, request_hash)
    if replay is not None:
        return replay
    if not reason or not reason.strip():
        raise RegistryValidationError(table, [RowError(1, "reason", "a correction needs a "
                                                       "reason")])
    old = session.execute(select(cls.__table__).where(cls.id == id)).mappings().first()
    if old is None:
        raise RegistryError(f"{table} id {id} does not exist")
    newer = session.scalar(select(cls.id).where(cls.supersedes_id == id))
    if newer is not None or old["version"] != expected_version:
        raise ConcurrencyError(
            f"{table} id {id} is version {old['version']}"
            + (f", superseded by id {newer}" if newer is not None else "")
            + f"; you corrected version {expected_version}: reload the latest and retry")
    fixed = {"id", "version", "supersedes_id", "reason", "filed_by", "filed_at"}
    bad = [k for k in changes if k in fixed or k not in cls.__table__.c]
    if bad:
        raise RegistryValidationError(table, [RowError(1, bad[0], "not a correctable field")])
    model = ledger.CertificateResult if table == "certificates" else ledger.ControlAssay
    candidate = {k: v for k, v in {**old, **changes}.items()
                 if k in model.model_fields and k not in fixed}
    if model is ledger.ControlAssay:
        candidate["kind"] = "control" if table == "control_assays" else "umpire"
    errors: list[RowError] = []
    valid = _validate(table, model, [candidate], errors)
    _result_checks(session)(valid, errors)
    if errors:
        raise RegistryValidationError(table, errors)
    _check_moved_key(session, cls, id, dict(old), valid[0])
    at = _now()
    new = {**dict(old), **changes, "version": old["version"] + 1, "supersedes_id": id,
           "reason": reason.strip(), "filed_by": actor, "filed_at": at}
    new.pop("id")
    # No SAVEPOINT here: pysqlite runs one outside a transaction and its RELEASE commits
    # (the insert would outlive a later failure). A unique `supersedes_id` clash dooms the
    # caller's transaction anyway, which is what a lost race must do.
    try:
        new["id"] = session.scalar(insert(cls).returning(cls.id), new)
    except IntegrityError:
        raise ConcurrencyError(f"{table} id {id} was corrected concurrently; reload the "
                               "latest version and retry") from None
    seqs = _append_audit(session, actor, "correct", table, [new], at)
    result = Filed(table, (new["id"],), seqs)
    _remember(session, idempotency_key, actor, action, request_hash, result, at)
    return result


def _check_moved_key(session: Session, cls, id: int, old: dict, new: dict) -> None:
    """A correction that changes the shipment, laboratory or element of result `id` must not
    move it onto another result's key (the ledger would hold two latest results of one)."""
    moved = [k for k in m.ORIGINAL_KEY if new[k] != old[k]]
    if not moved:
        return
    t = cls.__table__
    key = tuple(new[k] for k in m.ORIGINAL_KEY)
    superseded = select(t.c.supersedes_id).where(t.c.supersedes_id.is_not(None))
    other = session.execute(select(t.c.id, t.c.version).where(
        *(t.c[k] == v for k, v in zip(m.ORIGINAL_KEY, key)), t.c.id != id,
        t.c.id.not_in(superseded)).order_by(t.c.id).limit(1)).first()
    if other is not None:
        raise DuplicateEvidenceError(t.name, [RowError(1, moved[-1], (
            f"{_key_text(key)} already has a result in {t.name} (id {other.id}, version "
            f"{other.version}); correct that one (expected_version {other.version}) instead "
            f"of moving id {id} onto it"))])


def correct_certificate(session: Session, actor: str, id: int, *, reason: str,
                        expected_version: int, changes: Mapping[str, Any],
                        idempotency_key: str | None = None) -> Filed:
    """Correct certificate result `id`: see `correct_evidence`."""
    return correct_evidence(session, actor, "certificates", id, reason=reason,
                            expected_version=expected_version, changes=changes,
                            idempotency_key=idempotency_key)


def history(session: Session, table: str, id: int) -> list[dict[str, Any]]:
    """Every version of evidence row `id`'s lineage, oldest first."""
    cls = m.EVIDENCE[table]
    chain: list[dict[str, Any]] = []
    cur = session.execute(select(cls.__table__).where(cls.id == id)).mappings().first()
    while cur is not None and cur["supersedes_id"] is not None:
        cur = session.execute(select(cls.__table__).where(cls.id == cur["supersedes_id"])
                              ).mappings().first()
    while cur is not None:
        chain.append(dict(cur))
        cur = session.execute(select(cls.__table__).where(cls.supersedes_id == cur["id"])
                              ).mappings().first()
    return chain

