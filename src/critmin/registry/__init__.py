"""The export registry's storage: a SQLAlchemy 2 database (SQLite file by default,
PostgreSQL by `CRITMIN_DATABASE_URL`) created by Alembic migrations, append-only evidence
with versioned corrections, and a hash-chained audit log (docs/data.md, "Registry database")."""

from critmin.registry.db import default_url, init_db, make_engine, session_factory
from critmin.registry.evidence import (AppendOnlyError, ConcurrencyError,
                                       DuplicateEvidenceError, DuplicateOriginalsError, Filed,
                                       IdempotencyConflictError, RegistryError,
                                       RegistryValidationError, RowError, assign_laboratories,
                                       assign_laboratory,
                                       correct_certificate, correct_evidence,
                                       declare_shipments, file_certificates, history,
                                       record_control_assays, record_umpire_assays,
                                       register_exporters, register_laboratories,
                                       register_user)
from critmin.registry.verify import VerifyResult, verify_chain

__all__ = [
    "AppendOnlyError", "ConcurrencyError", "DuplicateEvidenceError", "DuplicateOriginalsError",
    "Filed", "IdempotencyConflictError",
    "RegistryError", "RegistryValidationError", "RowError", "VerifyResult",
    "assign_laboratories", "assign_laboratory", "correct_certificate", "correct_evidence", "declare_shipments",
    "default_url", "file_certificates", "history", "init_db", "make_engine",
    "record_control_assays", "record_umpire_assays", "register_exporters",
    "register_laboratories", "register_user", "session_factory", "verify_chain",
]
