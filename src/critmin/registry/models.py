"""The registry schema: SQLAlchemy 2 declarative models, one per table.

| table | key | kind | one row per |
| --- | --- | --- | --- |
| `exporters` | `exporter_id` | register | exporter (subsoil user) |
| `laboratories` | `laboratory_id` | register | laboratory |
| `users` | `user_id` | register | person acting in a role for a party |
| `shipments` | `shipment_id` | register | shipment declared for export |
| `lab_assignments` | `id` | register | laboratory assigned to a shipment in a role |
| `certificates` | `id` | evidence | element result on a certificate, one version |
| `control_assays` | `id` | evidence | element result of a state control assay |
| `umpire_assays` | `id` | evidence | element result of an umpire assay |
| `api_tokens` | `token_id` | register | bearer token (login session or system token), hashed |
| `revocations` | `id` | register | revocation of a user or a token |
| `tariffs` | `tariff_id` | register | contract terms (payables, TC/RC, splitting limits, umpire rule) from a date |
| `selections` | `selection_id` | register | control-sampling selection run for a period |
| `selection_picks` | `id` | register | shipment picked by a selection, with its reason |
| `audit_log` | `seq` | audit | write (one per row written), hash-chained |
| `idempotency_keys` | `key` | bookkeeping | submission, to replay a retried request |

Field names follow `critmin.oversight.schema` (the ledger's record kinds). Every row of every
table except `audit_log` and `idempotency_keys` is written once and never updated or deleted
(enforced in the ORM by `Session` events; tampering in SQL is caught by `verify_chain`). An
evidence correction is a new row with `version` = old + 1, `supersedes_id` = old id and a
`reason`; `supersedes_id` is unique, so a version is superseded at most once (optimistic
concurrency: of two concurrent corrections of version n, one fails). Each evidence table holds
at most one original (`supersedes_id` NULL, the root of a correction chain) per shipment,
laboratory and element (`ORIGINAL_KEY`, a partial unique index, migration 0004): a changed
result is a correction of it, never a second original.
"""

from __future__ import annotations

import datetime as _dt

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index,
                        Integer, String, Text, UniqueConstraint, event, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

ROLES = ("exporter", "laboratory", "inspector", "auditor", "admin")
ASSIGNMENT_ROLES = ("exporter", "control", "umpire")
HIRED_BY = ("exporter", "buyer", "state", "umpire")
GRADE_UNITS = ("%", "g/t", "ppm", "ppb")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


class Exporter(Base):
    """An exporter: a subsoil user holding an export licence."""
    __tablename__ = "exporters"
    exporter_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    subsoil_use_contract: Mapped[str | None] = mapped_column(String(128))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class Laboratory(Base):
    """A laboratory and who hires it."""
    __tablename__ = "laboratories"
    __table_args__ = (CheckConstraint(_in("hired_by", HIRED_BY), name="ck_lab_hired_by"),)
    laboratory_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    accreditation: Mapped[str | None] = mapped_column(String(128))
    hired_by: Mapped[str] = mapped_column(String(16), default="exporter")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    """A person acting in one role for one party (an exporter or laboratory id; none for
    inspector, auditor and admin). `password_hash` is a placeholder for the API's auth."""
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_user_role"),)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(256))


class Shipment(Base):
    """A shipment (lot or sub-lot) declared for export; masses in metric tonnes."""
    __tablename__ = "shipments"
    shipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    exporter_id: Mapped[str] = mapped_column(ForeignKey("exporters.exporter_id"), index=True)
    hs6: Mapped[str] = mapped_column(String(6))
    commodity: Mapped[str | None] = mapped_column(String(64))
    wet_t: Mapped[float] = mapped_column(Float)
    moisture_pct: Mapped[float] = mapped_column(Float)
    dry_t: Mapped[float] = mapped_column(Float)
    destination: Mapped[str] = mapped_column(String(3))
    declared_value_usd: Mapped[float | None] = mapped_column(Float)
    date: Mapped[_dt.date] = mapped_column(Date)
    lot: Mapped[str | None] = mapped_column(String(64))
    sub_lot: Mapped[str | None] = mapped_column(String(64))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class LabAssignment(Base):
    """A laboratory assigned to test a shipment as the exporter's, control or umpire lab."""
    __tablename__ = "lab_assignments"
    __table_args__ = (UniqueConstraint("shipment_id", "laboratory_id", "role"),
                      CheckConstraint(_in("role", ASSIGNMENT_ROLES), name="ck_assignment_role"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    laboratory_id: Mapped[str] = mapped_column(ForeignKey("laboratories.laboratory_id"))
    role: Mapped[str] = mapped_column(String(16))


class _Evidence:
    """Columns of every evidence table: an element result plus version bookkeeping."""
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"), index=True)
    laboratory_id: Mapped[str] = mapped_column(ForeignKey("laboratories.laboratory_id"),
                                               index=True)
    method: Mapped[str | None] = mapped_column(String(128))
    element: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(8))
    detection_limit: Mapped[float | None] = mapped_column(Float)
    date: Mapped[_dt.date | None] = mapped_column(Date)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


# One original result per (shipment, laboratory, element) in each evidence table. An original
# is the root of a correction chain (`supersedes_id` NULL; corrections always set it), so the
# index leaves corrections free and a second original is refused by the database itself.
# control_id / sample_id are not part of the key: the oversight models (`bias.paired_assays`,
# `analysis.settlement`) reduce control and umpire results per shipment and element, so a
# second original there would be averaged with the first instead of replacing it; both are
# optional (NULLs never collide in a unique index, so rows without them would go unchecked),
# and control_id names one result row (the simulated ledger gives every row its own), so a
# re-filing under a new control_id would always pass.
ORIGINAL_KEY = ("shipment_id", "laboratory_id", "element")
ORIGINAL_WHERE = "supersedes_id IS NULL"


def original_index_name(table: str) -> str:
    return f"uq_{table}_original"


def _one_original(table: str) -> Index:
    where = text(ORIGINAL_WHERE)
    return Index(original_index_name(table), *ORIGINAL_KEY, unique=True,
                 sqlite_where=where, postgresql_where=where)


class Certificate(_Evidence, Base):
    """One element result on an exporter's laboratory certificate (one version of it)."""
    __tablename__ = "certificates"
    __table_args__ = (CheckConstraint("version >= 1", name="ck_cert_version"),
                      _one_original("certificates"))
    certificate_id: Mapped[str | None] = mapped_column(String(64), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"),
                                                      unique=True)


class ControlAssay(_Evidence, Base):
    """One element result of the state laboratory on a control sample (one version)."""
    __tablename__ = "control_assays"
    __table_args__ = (CheckConstraint("version >= 1", name="ck_control_version"),
                      _one_original("control_assays"))
    control_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sample_id: Mapped[str | None] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("control_assays.id"),
                                                      unique=True)


class UmpireAssay(_Evidence, Base):
    """One element result of the umpire laboratory on the retained sample (one version)."""
    __tablename__ = "umpire_assays"
    __table_args__ = (CheckConstraint("version >= 1", name="ck_umpire_version"),
                      _one_original("umpire_assays"))
    control_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sample_id: Mapped[str | None] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("umpire_assays.id"),
                                                      unique=True)


class ApiToken(Base):
    """A bearer token: a login session (`kind` 'session', with `expires_at`) or a system
    token (`kind` 'api', no expiry). Only the SHA-256 of the secret is stored."""
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("kind IN ('session', 'api')", name="ck_token_kind"),)
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[_dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Revocation(Base):
    """A user or a token revoked, by whom and why. Revocation is a new row, so the user and
    token rows stay append-only and the audit chain records who revoked what."""
    __tablename__ = "revocations"
    __table_args__ = (UniqueConstraint("subject", "subject_id"),
                      CheckConstraint("subject IN ('user', 'token')", name="ck_revoked_subject"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class Tariff(Base):
    """Contract or tariff terms (`critmin.oversight.terms.ContractTerms` as YAML) that apply to
    shipments dated from `effective_from`; a later tariff supersedes it from its own date."""
    __tablename__ = "tariffs"
    tariff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    effective_from: Mapped[_dt.date] = mapped_column(Date, index=True)
    terms_yaml: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class ControlSelection(Base):
    """One run of the control-sampling selection for a period: its inputs, seed and policy."""
    __tablename__ = "selections"
    selection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), doc="YYYY-MM")
    budget: Mapped[int] = mapped_column(Integer)
    random_share: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class SelectionPick(Base):
    """A shipment picked by a selection, why ('random' or 'risk') and its score."""
    __tablename__ = "selection_picks"
    __table_args__ = (UniqueConstraint("selection_id", "shipment_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    selection_id: Mapped[str] = mapped_column(ForeignKey("selections.selection_id"), index=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    reason: Mapped[str] = mapped_column(String(16))
    score_usd: Mapped[float | None] = mapped_column(Float)


class AuditEntry(Base):
    """One write. `payload_sha256` hashes the written row (`evidence.row_sha256`);
    `entry_sha256` hashes this entry's other fields including `prev_sha256`, the previous
    entry's `entry_sha256` (64 zeros for seq 1)."""
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32), doc="ISO 8601 UTC, microseconds")
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column("table", String(64))
    row_key: Mapped[str] = mapped_column(String(128))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    prev_sha256: Mapped[str] = mapped_column(String(64))
    entry_sha256: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("table", "row_key", name="uq_audit_row"),)


class IdempotencyKey(Base):
    """A submission's idempotency key, the hash of its request and its result (JSON)."""
    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    request_sha256: Mapped[str] = mapped_column(String(64))
    result_json: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(32))


APPEND_ONLY: dict[str, type[Base]] = {
    m.__tablename__: m for m in (Exporter, Laboratory, User, Shipment, LabAssignment,
                                 Certificate, ControlAssay, UmpireAssay, ApiToken, Revocation,
                                 Tariff, ControlSelection, SelectionPick)}
EVIDENCE: dict[str, type[Base]] = {
    m.__tablename__: m for m in (Certificate, ControlAssay, UmpireAssay)}


@event.listens_for(Session, "before_flush")
def _refuse_updates(session: Session, _ctx, _instances) -> None:
    """Registered rows are written once: an ORM update or delete of one is a bug."""
    from critmin.registry.evidence import AppendOnlyError
    for obj in list(session.dirty) + list(session.deleted):
        if type(obj).__tablename__ in APPEND_ONLY or isinstance(obj, AuditEntry):
            if obj in session.deleted or session.is_modified(obj):
                raise AppendOnlyError(
                    f"{type(obj).__tablename__} rows are never updated or deleted; file a "
                    "correction (a new version with a reason) instead")
