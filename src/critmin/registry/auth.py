"""Who is asking: password hashes, bearer tokens, login, revocation.

- **Passwords** are stored as scrypt hashes (`hashlib.scrypt`, n = 2^14, r = 8, p = 1, a 16-byte
  random salt), the format `scrypt$n$r$p$salt_hex$hash_hex`; checking is constant-time.
- **Tokens** are random secrets `cm_<token_id>_<secret>` (256 bits of secret). The database
  keeps only their SHA-256: a stolen copy of the database gives no usable token. A login
  issues a 'session' token that expires (`SESSION_HOURS`); `critmin registry user add
  --token` or an administrator issues 'api' tokens for systems, which last until revoked.
- **Revocation** of a user or a token is an append-only row in `revocations`; a revoked user's
  tokens all stop working at once.

Every function takes the caller's `Session` and flushes, never commits.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from critmin.registry import models as m
from critmin.registry.evidence import (RegistryError, RegistryValidationError, RowError,
                                       _append_audit, _now, register_user)

SESSION_HOURS = 8
_SCRYPT = dict(n=2 ** 14, r=8, p=1)
MIN_PASSWORD = 10


class AuthenticationError(RegistryError):
    """No valid credentials: unknown user, wrong password, or a bad, expired or revoked token."""


@dataclass(frozen=True)
class Principal:
    """An authenticated user: id, role and party (exporter or laboratory id, else None)."""
    user_id: str
    role: str
    party_id: str | None = None
    token_id: str | None = None


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` in the stored format."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return (f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}$"
            f"{digest.hex()}")


def check_password(password: str, stored: str | None) -> bool:
    """True when `password` matches the `stored` hash (constant-time comparison)."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                         p=int(p))
    return hmac.compare_digest(got.hex(), digest)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoked(session: Session, subject: str, subject_id: str) -> bool:
    return session.scalar(select(m.Revocation.id).where(
        m.Revocation.subject == subject, m.Revocation.subject_id == subject_id)) is not None


def add_user(session: Session, actor: str, user_id: str, role: str, *,
             party_id: str | None = None, password: str | None = None) -> m.User:
    """Register a user acting in `role` for `party_id` (required for exporter and laboratory
    users, and must be registered; refused for the others), with an optional password of at
    least `MIN_PASSWORD` characters."""
    errors: list[RowError] = []
    if role in ("exporter", "laboratory"):
        col = m.Exporter.exporter_id if role == "exporter" else m.Laboratory.laboratory_id
        if not party_id:
            errors.append(RowError(1, "party_id", f"a {role} user needs the {role} id it acts "
                                   "for"))
        elif session.scalar(select(col).where(col == party_id)) is None:
            errors.append(RowError(1, "party_id", f"{role} {party_id!r} is not registered"))
    elif party_id:
        errors.append(RowError(1, "party_id", f"a {role} user acts for the state, not a party"))
    if password is not None and len(password) < MIN_PASSWORD:
        errors.append(RowError(1, "password", f"at least {MIN_PASSWORD} characters"))
    if errors:
        raise RegistryValidationError("users", errors)
    register_user(session, actor, user_id, role, party_id=party_id,
                  password_hash=hash_password(password) if password else None)
    return session.get(m.User, user_id)


def issue_token(session: Session, actor: str, user_id: str, *, kind: str = "api",
                label: str | None = None, hours: float | None = None) -> str:
    """A new bearer token for `user_id`; returns the secret (shown once, never stored)."""
    user = session.get(m.User, user_id)
    if user is None:
        raise RegistryValidationError("api_tokens", [RowError(1, "user_id",
                                                              f"no user {user_id!r}")])
    if _revoked(session, "user", user_id):
        raise AuthenticationError(f"user {user_id!r} is revoked")
    token_id = secrets.token_hex(8)
    secret = f"cm_{token_id}_{secrets.token_urlsafe(32)}"
    at = _now()
    if hours is None and kind == "session":
        hours = SESSION_HOURS
    row = {"token_id": token_id, "user_id": user_id, "kind": kind, "label": label,
           "token_sha256": token_sha256(secret), "created_at": at,
           "expires_at": at + _dt.timedelta(hours=hours) if hours else None}
    session.execute(insert(m.ApiToken), [row])
    _append_audit(session, actor, "file", "api_tokens", [row], at)
    return secret


def login(session: Session, user_id: str, password: str) -> tuple[str, Principal]:
    """Check a password and issue a session token; `AuthenticationError` names no detail
    (unknown user and wrong password read the same)."""
    user = session.get(m.User, user_id)
    ok = check_password(password, user.password_hash if user else None)
    if not ok or _revoked(session, "user", user_id):
        raise AuthenticationError("unknown user or wrong password")
    token = issue_token(session, user_id, user_id, kind="session", label="login")
    return token, authenticate(session, token)


def authenticate(session: Session, token: str | None) -> Principal:
    """The principal a bearer token stands for; `AuthenticationError` when it is missing,
    unknown, expired, revoked or its user is revoked."""
    if not token or not token.startswith("cm_"):
        raise AuthenticationError("missing or malformed bearer token")
    row = session.execute(
        select(m.ApiToken.token_id, m.ApiToken.expires_at, m.User.user_id, m.User.role,
               m.User.party_id)
        .join(m.User, m.User.user_id == m.ApiToken.user_id)
        .where(m.ApiToken.token_sha256 == token_sha256(token))).first()
    if row is None:
        raise AuthenticationError("unknown token")
    expires = row.expires_at
    if expires is not None:
        if expires.tzinfo is None:  # SQLite hands datetimes back naive (stored as UTC)
            expires = expires.replace(tzinfo=_dt.timezone.utc)
        if expires <= _now():
            raise AuthenticationError("token expired; log in again")
    revoked = session.scalar(select(m.Revocation.id).where(
        ((m.Revocation.subject == "token") & (m.Revocation.subject_id == row.token_id))
        | ((m.Revocation.subject == "user") & (m.Revocation.subject_id == row.user_id))))
    if revoked is not None:
        raise AuthenticationError("token or user revoked")
    return Principal(row.user_id, row.role, row.party_id, row.token_id)


def revoke(session: Session, actor: str, subject: str, subject_id: str, *,
           reason: str | None = None) -> None:
    """Revoke a user (every token of it) or one token, with a reason; audited."""
    if subject not in ("user", "token"):
        raise RegistryValidationError("revocations", [RowError(1, "subject",
                                                               "'user' or 'token'")])
    cls = m.User if subject == "user" else m.ApiToken
    if session.get(cls, subject_id) is None:
        raise RegistryValidationError("revocations", [RowError(
            1, "subject_id", f"no {subject} {subject_id!r}")])
    row = {"subject": subject, "subject_id": subject_id, "reason": reason,
           "revoked_by": actor, "revoked_at": _now()}
    errors: list[RowError] = []
    if _revoked(session, subject, subject_id):
        errors.append(RowError(1, "subject_id", f"{subject} {subject_id!r} is already "
                               "revoked"))
        raise RegistryValidationError("revocations", errors)
    row["id"] = session.scalar(insert(m.Revocation).returning(m.Revocation.id), row)
    _append_audit(session, actor, "revoke", "revocations", [row], row["revoked_at"])


__all__ = ["AuthenticationError", "Principal", "add_user", "authenticate", "check_password",
           "hash_password", "issue_token", "login", "revoke", "token_sha256"]
