"""The registry's HTTP API (FastAPI), mounted at `/api/registry`.

One JSON shape: data answers are `{"data": ...}` (lists add `count`, `limit`, `offset`);
errors are `{"error": {"status", "code", "message", "errors": [{"row", "field",
"problem"}]}}` with 401 (no or bad credentials), 403 (role or row not yours), 404 (no such
row, or none you may see), 409 (idempotency or version conflict, or a second original of a
result already filed or repeated in the batch: file a correction with `expected_version`), 413
(body too large), 422 (invalid rows, each named). Every write is one transaction; bulk writes
are all or nothing.
Authorisation lives in `critmin.registry.policy`; the endpoints only name the action.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from critmin.errors import CritminError
from critmin.output import records
from critmin.registry import analysis, auth, policy
from critmin.registry import evidence as ev
from critmin.registry import models as m
from critmin.registry.db import session_factory

log = logging.getLogger("critmin.registry.api")
PREFIX = "/api/registry"
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
TOKEN_COOKIE = "critmin_token"

# ---------------------------------------------------------------------------------------------
# errors: one shape


def _error(status: int, code: str, message: str, errors: list[dict] | None = None,
           headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message,
                                   "errors": errors or []}}, status_code=status,
                        headers=headers)


_STATUS: list[tuple[type[Exception], int, str]] = [
    (auth.AuthenticationError, 401, "unauthenticated"),
    (policy.Forbidden, 403, "forbidden"),
    (policy.NotFound, 404, "not_found"),
    (ev.IdempotencyConflictError, 409, "idempotency_conflict"),
    (ev.ConcurrencyError, 409, "version_conflict"),
    (ev.AppendOnlyError, 409, "append_only"),
    (ev.DuplicateEvidenceError, 409, "duplicate_original"),
    (ev.RegistryValidationError, 422, "invalid"),
    (ev.RegistryError, 400, "bad_request"),
]


def _registry_error(_request: Request, exc: ev.RegistryError) -> JSONResponse:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            break
    errors = [{"row": e.row, "field": e.field, "problem": e.problem}
              for e in getattr(exc, "errors", [])]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _error(status, code, str(exc), errors, headers)


def _input_error(_request: Request, exc: CritminError) -> JSONResponse:
    """A model refusing its inputs (e.g. a selection over too few candidates)."""
    return _error(422, "invalid", str(exc))


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        loc = [x for x in e["loc"] if x != "body"]
        row = None
        if len(loc) >= 2 and loc[0] == "rows" and isinstance(loc[1], int):
            row, loc = loc[1] + 1, loc[2:]
        errors.append({"row": row, "field": ".".join(str(x) for x in loc) or None,
                       "problem": e["msg"]})
    first = errors[0] if errors else {"field": None, "problem": "invalid request"}
    return _error(422, "invalid", f"invalid request: {first['field'] or 'body'}: "
                  f"{first['problem']}", errors)


def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 413: "too_large"}
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                  headers=getattr(exc, "headers", None))


def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _error(500, "internal", "internal error; nothing was written")


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, by Content-Length
    when given and by counting otherwise, before any handler reads them."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        too_large = _error(413, "too_large", f"request body over {self.limit:,} bytes")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await too_large(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message
        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# sessions and who is asking


@contextmanager
def _tx(request: Request) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    with request.app.state.registry_sessions.begin() as session:
        yield session


_bearer = HTTPBearer(auto_error=False, description="`cm_...` token from /auth/login or an "
                                                  "administrator")


# How long a worker trusts a token it has checked. Checking (a session and two queries) on
# every request halved the throughput of one-row reads (benchmarks/registry.py). Revoking
# through this API clears the worker's cache; a revocation by another worker or the CLI, or
# a session token's expiry, takes effect within this.
PRINCIPAL_TTL_S = 5.0
_PRINCIPALS_MAX = 10_000


def _authenticate(request: Request, token: str | None) -> auth.Principal:
    with request.app.state.registry_sessions() as session:
        return auth.authenticate(session, token)


async def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(
        _bearer)) -> auth.Principal:
    """The authenticated caller (bearer token, or the web app's login cookie); a token checked
    in the last `PRINCIPAL_TTL_S` seconds is not looked up again. Async so that a cached
    answer costs no hop to the thread pool."""
    token = creds.credentials if creds else request.cookies.get(TOKEN_COOKIE)
    cache = request.app.state.principals
    key = auth.token_sha256(token) if token else None
    hit = cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    who = await run_in_threadpool(_authenticate, request, token)
    if len(cache) >= _PRINCIPALS_MAX:
        cache.clear()
    cache[key] = (time.monotonic() + PRINCIPAL_TTL_S, who)
    return who


Who = Depends(principal)
IdemKey = Header(None, alias="Idempotency-Key", max_length=128,
                 description="retrying with the same key returns the first result")


# ---------------------------------------------------------------------------------------------
# request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rows(_Body):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS,
                                       description="records; see the ledger schema")


class Login(_Body):
    user_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NewUser(_Body):
    user_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["exporter", "laboratory", "inspector", "auditor", "admin"]
    party_id: str | None = Field(None, max_length=64)
    password: str | None = Field(None, max_length=1024)


class NewToken(_Body):
    label: str | None = Field(None, max_length=128)


class Revoke(_Body):
    reason: str | None = Field(None, max_length=2000)


class NewTariff(_Body):
    tariff_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    effective_from: dt.date = Field(description="applies to shipments dated from this day")
    terms_yaml: str = Field(min_length=1, max_length=200_000,
                            description="contract terms YAML (oversight.terms.ContractTerms)")
    note: str | None = Field(None, max_length=2000)


class Assignment(_Body):
    shipment_id: str = Field(min_length=1, max_length=64)
    laboratory_id: str = Field(min_length=1, max_length=64)
    role: Literal["exporter", "control", "umpire"]


class Correction(_Body):
    expected_version: int = Field(ge=1, description="the version you read and correct")
    reason: str = Field(min_length=1, max_length=2000)
    changes: dict[str, Any] = Field(min_length=1)


class SelectionRequest(_Body):
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    budget: int = Field(ge=1, le=100_000, description="control samples (shipments)")
    random_share: float = Field(0.10, gt=0, le=1, description="never zero")
    policy: Literal["risk", "random", "value"] = "risk"
    seed: int | None = Field(None, ge=0, lt=2 ** 31)


# ---------------------------------------------------------------------------------------------
# the two places where rows meet the policy


_WRITES = {
    "shipments:declare": ev.declare_shipments,
    "certificates:file": ev.file_certificates,
    "control_assays:file": ev.record_control_assays,
    "umpire_assays:file": ev.record_umpire_assays,
    "parties:register:exporters": ev.register_exporters,
    "parties:register:laboratories": ev.register_laboratories,
}


def _write(request: Request, who: auth.Principal, action: str, rows: list[dict],
           key: str | None) -> dict:
    """Check every row against the policy, then file them all in one transaction."""
    write = _WRITES[action]
    with _tx(request) as session:
        policy.check_rows(session, who, action.removesuffix(":exporters")
                          .removesuffix(":laboratories"), rows)
        filed = write(session, who.user_id, rows, idempotency_key=key)
    return _filed(filed)


def _filed(filed: ev.Filed) -> dict:
    """The answer to a write: table, keys written, audit entries, whether it was a replay."""
    return {"data": {"table": filed.table, "ids": list(filed.keys), "count": len(filed),
                     "audit_seq": list(filed.audit_seq), "replayed": filed.replayed}}


def _json_row(row) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}


_ORDER = {"shipments": "shipment_id", "lab_assignments": "id", "certificates": "id",
          "control_assays": "id", "umpire_assays": "id", "selections": "selection_id",
          "selection_picks": "id", "exporters": "exporter_id", "laboratories": "laboratory_id",
          "audit_log": "seq"}


def _query(session: Session, who: auth.Principal, table: str, **filters):
    t = m.Base.metadata.tables[table]
    q = select(t)
    for col, value in filters.items():
        if value is not None:
            q = q.where(t.c[col] == value)
    if table in ("exporters", "laboratories"):
        policy.authorize(who, "parties:read")
    elif table in ("selections", "selection_picks"):
        policy.authorize(who, "selections:read")
    elif table == "audit_log":
        policy.authorize(who, "audit:read")
    else:
        q = policy.scope(session, who, table, q)
    return q.order_by(t.c[_ORDER[table]])


def _list(request: Request, who: auth.Principal, table: str, limit: int, offset: int,
          **filters) -> JSONResponse:
    with _tx(request) as session:
        q = _query(session, who, table, **filters)
        total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
        rows = session.execute(q.limit(limit).offset(offset)).mappings().all()
    # rows are JSON-ready (`_json_row`): a JSONResponse skips FastAPI's recursive
    # jsonable_encoder, which was 30 % of the CPU of a 50-row page
    return JSONResponse({"data": [_json_row(r) for r in rows], "count": total, "limit": limit,
                         "offset": offset})


def _one(session: Session, who: auth.Principal, table: str, key) -> dict:
    t = m.Base.metadata.tables[table]
    pk = list(t.primary_key.columns)[0]
    row = session.execute(_query(session, who, table).where(pk == key)).mappings().first()
    if row is None:
        raise policy.NotFound(f"no {table} row {key!r} that you may see")
    return dict(row)


Limit = Query(1000, ge=1, le=10_000)
Offset = Query(0, ge=0, le=2 ** 31 - 1)  # 2**63 and up overflowed the driver: a 500

# ---------------------------------------------------------------------------------------------
# endpoints

router = APIRouter(prefix=PREFIX, tags=["registry"])


@router.post("/auth/login", summary="Log in with a password; returns a session token")
def login(request: Request, body: Login):
    with _tx(request) as session:
        token, who = auth.login(session, body.user_id, body.password)
    resp = JSONResponse({"data": {"token": token, "user_id": who.user_id, "role": who.role,
                                  "party_id": who.party_id,
                                  "expires_in_hours": auth.SESSION_HOURS}})
    return resp


@router.get("/me", summary="Who the token stands for")
def me(who: auth.Principal = Who):
    policy.authorize(who, "me")
    return {"data": {"user_id": who.user_id, "role": who.role, "party_id": who.party_id,
                     "may": sorted(a for a, roles in policy.ALLOWED.items()
                                   if who.role in roles)}}


# --- administration

@router.post("/exporters", status_code=201, summary="Register exporters (admin)")
def register_exporters(request: Request, body: Rows, who: auth.Principal = Who,
                       key: str | None = IdemKey):
    return _write(request, who, "parties:register:exporters", body.rows, key)


@router.post("/laboratories", status_code=201, summary="Register laboratories (admin)")
def register_laboratories(request: Request, body: Rows, who: auth.Principal = Who,
                          key: str | None = IdemKey):
    return _write(request, who, "parties:register:laboratories", body.rows, key)


@router.get("/exporters", summary="Registered exporters")
def list_exporters(request: Request, who: auth.Principal = Who, limit: int = Limit,
                   offset: int = Offset):
    return _list(request, who, "exporters", limit, offset)


@router.get("/laboratories", summary="Registered laboratories")
def list_laboratories(request: Request, who: auth.Principal = Who, limit: int = Limit,
                      offset: int = Offset):
    return _list(request, who, "laboratories", limit, offset)


@router.post("/users", status_code=201, summary="Add a user (admin)")
def add_user(request: Request, body: NewUser, who: auth.Principal = Who):
    policy.authorize(who, "users:manage")
    with _tx(request) as session:
        user = auth.add_user(session, who.user_id, body.user_id, body.role,
                             party_id=body.party_id, password=body.password)
        out = {"user_id": user.user_id, "role": user.role, "party_id": user.party_id}
    return {"data": out}


@router.get("/users", summary="Users and whether they are revoked (admin, auditor)")
def list_users(request: Request, who: auth.Principal = Who):
    policy.authorize(who, "users:read")
    with _tx(request) as session:
        revoked = set(session.scalars(select(m.Revocation.subject_id).where(
            m.Revocation.subject == "user")))
        users = session.execute(select(m.User.user_id, m.User.role, m.User.party_id)
                                .order_by(m.User.user_id)).mappings().all()
    data = [{**dict(u), "revoked": u["user_id"] in revoked} for u in users]
    return {"data": data, "count": len(data), "limit": len(data), "offset": 0}


@router.post("/users/{user_id}/tokens", status_code=201,
             summary="Issue an API token for a system account (admin); shown once")
def issue_token(request: Request, body: NewToken, user_id: str = Path(max_length=64),
                who: auth.Principal = Who):
    policy.authorize(who, "users:manage")
    with _tx(request) as session:
        token = auth.issue_token(session, who.user_id, user_id, kind="api", label=body.label)
    return {"data": {"user_id": user_id, "token": token}}


@router.post("/users/{user_id}/revoke", summary="Revoke a user and all its tokens (admin)")
def revoke_user(request: Request, body: Revoke, user_id: str = Path(max_length=64),
                who: auth.Principal = Who):
    policy.authorize(who, "users:manage")
    with _tx(request) as session:
        auth.revoke(session, who.user_id, "user", user_id, reason=body.reason)
    request.app.state.principals.clear()
    return {"data": {"revoked": "user", "id": user_id}}


@router.post("/tokens/{token_id}/revoke", summary="Revoke one token (admin)")
def revoke_token(request: Request, body: Revoke, token_id: str = Path(max_length=64),
                 who: auth.Principal = Who):
    policy.authorize(who, "users:manage")
    with _tx(request) as session:
        auth.revoke(session, who.user_id, "token", token_id, reason=body.reason)
    request.app.state.principals.clear()
    return {"data": {"revoked": "token", "id": token_id}}


@router.post("/tariffs", status_code=201,
             summary="Register contract terms effective from a date (admin)")
def register_tariff(request: Request, body: NewTariff, who: auth.Principal = Who):
    policy.authorize(who, "tariffs:register")
    with _tx(request) as session:
        row = analysis.register_tariff(session, who.user_id, body.tariff_id,
                                       body.effective_from, body.terms_yaml, body.note)
    return {"data": _json_row(row)}


@router.get("/tariffs", summary="Registered tariffs, newest first")
def list_tariffs(request: Request, who: auth.Principal = Who):
    policy.authorize(who, "tariffs:read")
    with _tx(request) as session:
        rows = session.execute(select(m.Tariff.__table__).order_by(
            m.Tariff.effective_from.desc())).mappings().all()
    data = [_json_row(r) for r in rows]
    return {"data": data, "count": len(data), "limit": len(data), "offset": 0}


# --- shipments and laboratories

@router.post("/shipments", status_code=201, summary="Declare shipments (exporter)")
def declare_shipments(request: Request, body: Rows, who: auth.Principal = Who,
                      key: str | None = IdemKey):
    return _write(request, who, "shipments:declare", body.rows, key)


@router.get("/shipments", summary="Shipments you may see")
def list_shipments(request: Request, who: auth.Principal = Who, limit: int = Limit,
                   offset: int = Offset, exporter_id: str | None = Query(None, max_length=64)):
    return _list(request, who, "shipments", limit, offset, exporter_id=exporter_id)


@router.get("/shipments/{shipment_id}", summary="One shipment")
def get_shipment(request: Request, shipment_id: str = Path(max_length=64),
                 who: auth.Principal = Who):
    with _tx(request) as session:
        return {"data": _json_row(_one(session, who, "shipments", shipment_id))}


@router.post("/assignments", status_code=201,
             summary="Assign a laboratory to a shipment (exporter: its own lab; inspector: any)")
def assign(request: Request, body: Assignment, who: auth.Principal = Who):
    with _tx(request) as session:
        policy.check_rows(session, who, "assignments:create", [body.model_dump()])
        filed = ev.assign_laboratory(session, who.user_id, body.shipment_id,
                                     body.laboratory_id, body.role)
    return _filed(filed)


@router.get("/assignments", summary="Laboratory assignments you may see")
def list_assignments(request: Request, who: auth.Principal = Who, limit: int = Limit,
                     offset: int = Offset, shipment_id: str | None = Query(None, max_length=64)):
    return _list(request, who, "lab_assignments", limit, offset, shipment_id=shipment_id)


# --- evidence

_EVIDENCE_PATHS = {"certificates": "certificates", "control-assays": "control_assays",
                   "umpire-assays": "umpire_assays"}


@router.post("/certificates", status_code=201,
             summary="File certificate results, JSON, all or nothing (laboratory)")
def file_certificates(request: Request, body: Rows, who: auth.Principal = Who,
                      key: str | None = IdemKey):
    return _write(request, who, "certificates:file", body.rows, key)


def _csv_rows(raw: bytes) -> list[dict]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ev.RegistryValidationError("certificates", [ev.RowError(
            1, None, f"the CSV is not UTF-8 ({exc.reason} at byte {exc.start})")]) from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _csv_records(reader)
    except csv.Error as exc:  # e.g. a bare carriage return inside an unquoted field
        line = reader.line_num + 1      # the line being read when it failed
        raise ev.RegistryValidationError("certificates", [ev.RowError(
            max(line - 1, 1), None, f"line {line} is not valid CSV: {exc}")]) from None


def _csv_records(reader: csv.DictReader) -> list[dict]:
    if not reader.fieldnames:
        raise ev.RegistryValidationError("certificates", [ev.RowError(1, None,
                                                                       "empty CSV")])
    rows = []
    for i, r in enumerate(reader, start=1):
        if None in r or any(v is None for v in r.values()):
            raise ev.RegistryValidationError("certificates", [ev.RowError(
                i, None, f"line {i + 1} has {len(r.get(None, [])) or 'too few'} "
                "fields more or fewer than the header")])
        rows.append({k: (v if v != "" else None) for k, v in r.items()})
        if len(rows) > MAX_ROWS:
            raise ev.RegistryValidationError("certificates", [ev.RowError(
                i, None, f"more than {MAX_ROWS:,} rows; split the file")])
    return rows


@router.post("/certificates/csv", status_code=201,
             summary="File certificate results from a CSV body (text/csv), all or nothing",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def file_certificates_csv(request: Request, who: auth.Principal = Who,
                                key: str | None = IdemKey):
    rows = _csv_rows(await request.body())
    return await run_in_threadpool(_write, request, who, "certificates:file", rows, key)


@router.post("/control-assays", status_code=201,
             summary="Record state control assay results (inspector, or the assigned control "
                     "laboratory)")
def record_control(request: Request, body: Rows, who: auth.Principal = Who,
                   key: str | None = IdemKey):
    return _write(request, who, "control_assays:file", body.rows, key)


@router.post("/umpire-assays", status_code=201,
             summary="Record umpire assay results (inspector, or the assigned umpire "
                     "laboratory)")
def record_umpire(request: Request, body: Rows, who: auth.Principal = Who,
                  key: str | None = IdemKey):
    return _write(request, who, "umpire_assays:file", body.rows, key)


def _evidence_routes(path: str, table: str) -> None:
    def list_rows(request: Request, who: auth.Principal = Who, limit: int = Limit,
                  offset: int = Offset, shipment_id: str | None = Query(None, max_length=64)):
        return _list(request, who, table, limit, offset, shipment_id=shipment_id)

    def get_row(request: Request, id: int = Path(ge=1, lt=2 ** 31), who: auth.Principal = Who):
        with _tx(request) as session:
            row = _one(session, who, table, id)
            return {"data": [_json_row(v) for v in ev.history(session, table, row["id"])]}

    def correct(request: Request, body: Correction, id: int = Path(ge=1, lt=2 ** 31),
                who: auth.Principal = Who, key: str | None = IdemKey):
        policy.authorize(who, f"{table}:correct")
        with _tx(request) as session:
            row = _one(session, who, table, id)
            policy.check_rows(session, who, f"{table}:correct", [row])
            # the corrected row too: a laboratory may not move its result onto a shipment it is
            # not assigned to, nor into another laboratory's name
            policy.check_rows(session, who, f"{table}:file", [{**row, **body.changes}])
            filed = ev.correct_evidence(session, who.user_id, table, id, reason=body.reason,
                                        expected_version=body.expected_version,
                                        changes=body.changes, idempotency_key=key)
        return _filed(filed)

    name = table.replace("_", " ")
    router.add_api_route(f"/{path}", list_rows, methods=["GET"], summary=f"List {name}",
                         name=f"list_{table}")
    router.add_api_route(f"/{path}/{{id}}", get_row, methods=["GET"],
                         summary=f"One result of {name}, every version, oldest first",
                         name=f"get_{table}")
    router.add_api_route(f"/{path}/{{id}}/corrections", correct, methods=["POST"],
                         status_code=201, name=f"correct_{table}",
                         summary=f"Correct a result of {name}: a new version with a reason")


for _path, _table in _EVIDENCE_PATHS.items():
    _evidence_routes(_path, _table)


# --- control sampling, settlement, analysis

@router.post("/selections", status_code=201,
             summary="Select shipments of a period for control sampling (inspector)")
def run_selection(request: Request, body: SelectionRequest, who: auth.Principal = Who):
    policy.authorize(who, "selections:run")
    with _tx(request) as session:
        out = analysis.run_selection(session, who.user_id, period=body.period,
                                     budget=body.budget, random_share=body.random_share,
                                     policy=body.policy, seed=body.seed,
                                     prices=request.app.state.warehouse)
    return {"data": _json_row(out)}


@router.get("/selections", summary="Stored selections")
def list_selections(request: Request, who: auth.Principal = Who, limit: int = Limit,
                    offset: int = Offset):
    return _list(request, who, "selections", limit, offset)


@router.get("/selections/{selection_id}", summary="One selection with its picks and reasons")
def get_selection(request: Request, selection_id: str = Path(max_length=64),
                  who: auth.Principal = Who):
    policy.authorize(who, "selections:read")
    with _tx(request) as session:
        out = analysis.read_selection(session, selection_id)
    if out is None:
        raise policy.NotFound(f"no selection {selection_id!r}")
    return {"data": _json_row(out)}


@router.get("/shipments/{shipment_id}/settlement",
            summary="Assay exchange per element: splitting limit, umpire rule, final grade")
def settle(request: Request, shipment_id: str = Path(max_length=64),
           who: auth.Principal = Who):
    policy.authorize(who, "analysis:read")
    with _tx(request) as session:
        _one(session, who, "shipments", shipment_id)
        table = analysis.settlement(session, shipment_id)
    return {"data": records(table), "count": len(table), "limit": len(table), "offset": 0,
            "meta": {"tariff": table.attrs["tariff"]}}


def _pairs(request: Request, who: auth.Principal):
    from critmin.oversight.bias import paired_assays
    policy.authorize(who, "analysis:read")
    with _tx(request) as session:
        led = analysis.to_ledger(session)
    pairs = paired_assays(led)
    if pairs.empty:
        raise ev.RegistryValidationError("control_assays", [ev.RowError(
            1, None, "no shipment has both a certificate and a control assay yet")])
    return led, pairs


By = Query("laboratory_id", pattern="^(laboratory_id|exporter_id)$")


@router.get("/analysis/bias", summary="Bias of declared vs control grades, with FDR flags")
def bias_table(request: Request, who: auth.Principal = Who, by: str = By,
               q: float = Query(0.05, gt=0, lt=1)):
    from critmin.oversight import bias
    _, pairs = _pairs(request, who)
    table = bias.screen(pairs, by=[by], q=q)
    return {"data": records(table.reset_index() if by not in table.columns else table),
            "count": len(table), "limit": len(table), "offset": 0}


@router.get("/analysis/flags",
            summary="Flagged laboratories or exporters and CUSUM drift alarms")
def flags(request: Request, who: auth.Principal = Who, by: str = By,
          q: float = Query(0.05, gt=0, lt=1)):
    from critmin.oversight import bias
    _, pairs = _pairs(request, who)
    table = bias.screen(pairs, by=[by], q=q)
    flagged = bias.flagged_groups(table, by=[by])
    alarms = bias.drift_alarms(pairs, by=[by])
    alarms = alarms[alarms["alarm"]].reset_index(drop=True)
    return {"data": {"flagged": records(flagged[flagged["flagged"]]),
                     "drift_alarms": records(alarms)}}


@router.get("/analysis/leakage",
            summary="Under-declared value and lost extraction tax of checked shipments, USD")
def leakage(request: Request, who: auth.Principal = Who,
            by: str = Query("laboratory_id",
                            pattern="^(laboratory_id|exporter_id|period)$"),
            seed: int = Query(20261129, ge=0, lt=2 ** 31)):
    from critmin.oversight import valuation
    from critmin.oversight.prices import element_prices
    led, pairs = _pairs(request, who)
    year = int(pd.to_datetime(led.shipments["date"]).dt.year.mode().iloc[0])
    prices = element_prices(request.app.state.warehouse(), pairs["element"].unique(), year)
    with _tx(request) as session:  # one tariff for the whole estimate: the latest in force
        terms, tariff = analysis.terms_on(session, pd.to_datetime(pairs["date"]).max().date())
    per, unpriced = valuation.undeclared_from_pairs(pairs, led.shipments, terms,
                                                     prices, led.element_units())
    out = valuation.aggregate_leakage(per, by, random_state=seed)
    return {"data": records(out.reset_index() if by not in out.columns else out),
            "count": len(out), "limit": len(out), "offset": 0,
            "meta": {"shipments_checked": len(per), "price_year": year, "tariff": tariff,
                     "elements_not_valued": sorted(unpriced),
                     "undeclared_nsr_usd": float(per["undeclared_nsr_usd"].sum()),
                     "lost_tax_usd": float(per["lost_tax_usd"].sum())}}


# --- export and audit

_EXPORTABLE = ("shipments", "lab_assignments", "certificates", "control_assays",
               "umpire_assays", "selections", "selection_picks", "audit_log")


@router.get("/export/{table}.csv", summary="A table you may see, as CSV",
            response_class=StreamingResponse)
def export_csv(request: Request, table: Literal[_EXPORTABLE],  # type: ignore[valid-type]
               who: auth.Principal = Who):
    with _tx(request) as session:
        q = _query(session, who, table)
        res = session.execute(q)
        cols = list(res.keys())
        rows = res.all()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table" if c == "table" else c for c in cols])
    for r in rows:
        w.writerow(["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v
                    for v in r])
    return StreamingResponse(iter([buf.getvalue()]), media_type="text/csv",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{table}.csv"'})


@router.get("/audit/verify", summary="Verify the audit chain and every row's hash")
def audit_verify(request: Request, who: auth.Principal = Who,
                 anchor: list[str] = Query([], max_length=20,
                                           description="SEQ:SHA256 anchors recorded earlier")):
    from critmin.registry.verify import parse_anchor, verify_chain
    policy.authorize(who, "audit:read")
    try:
        anchors = [parse_anchor(a) for a in anchor]
    except ValueError as exc:
        raise ev.RegistryValidationError("anchor", [ev.RowError(1, "anchor", str(exc))]) \
            from None
    with _tx(request) as session:
        res = verify_chain(session, anchors=anchors)
    return {"data": {"ok": res.ok, "entries": res.entries, "rows": res.rows,
                     "first_broken": res.first_broken, "problems": res.problems,
                     "anchor": res.anchor}}


@router.get("/audit/log", summary="Audit entries, oldest first")
def audit_log(request: Request, who: auth.Principal = Who, limit: int = Limit,
              offset: int = Offset):
    return _list(request, who, "audit_log", limit, offset)


# ---------------------------------------------------------------------------------------------
# assembly


def install(app: FastAPI, engine: Engine, *, warehouse=None,
            max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """Mount the registry API on `app`: the router, the error handlers (one JSON shape), the
    body-size limit, and the database `engine`. `warehouse` returns a warehouse connection
    (prices for leakage); default opens critmin's warehouse read-only."""
    app.state.registry_engine = engine
    app.state.registry_sessions = session_factory(engine)
    app.state.principals = {}   # token sha256 -> (monotonic deadline, Principal)
    app.state.warehouse = warehouse or _default_warehouse
    app.include_router(router)
    app.add_exception_handler(ev.RegistryError, _registry_error)
    app.add_exception_handler(CritminError, _input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app


def _default_warehouse():
    from critmin.data import warehouse
    return warehouse.connect(warehouse.warehouse_path(), read_only=True)


THREADS = int(os.environ.get("CRITMIN_THREADS", "4"))


@asynccontextmanager
async def lifespan(_app):
    """Cap the pool that runs sync endpoints at `THREADS` ($CRITMIN_THREADS, default 4): on a
    2-core machine 40 threads (anyio's default) fight over the GIL, which doubled the read p99
    (benchmarks/RESULTS.md, registry)."""
    import anyio.to_thread
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


def create_app(engine: Engine, **kwargs) -> FastAPI:
    """A FastAPI app serving only the registry API (tests, benchmarks)."""
    app = FastAPI(title="critmin export registry", version="1", lifespan=lifespan,
                  description=__doc__.split("\n\n")[0])
    return install(app, engine, **kwargs)

