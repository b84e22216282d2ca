"""The registry in the browser, role-aware: log in with a password (the session token goes in
an HttpOnly, SameSite=Strict cookie the registry API also accepts), then `/registry` shows
what that role may see: inspectors and auditors the oversight picture of the registry's own
data (the same `oversight_view` as the synthetic page), exporters and laboratories their own
shipments and results, administrators the users. Read scoping is `critmin.registry.policy`'s.

Mounted by `critmin.server.create_app`, beside the registry API (it needs its database)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from critmin.registry import analysis, auth, policy
from critmin.registry import models as m
from critmin.registry.api import TOKEN_COOKIE
from critmin.output import records
from critmin.web.app import _json, templates

ROWS_SHOWN = 50


def _scoped(session, who: auth.Principal, table: str, limit: int = ROWS_SHOWN) -> dict:
    t = m.Base.metadata.tables[table]
    q = policy.scope(session, who, table, select(t))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    pk = list(t.primary_key.columns)[0]
    rows = session.execute(q.order_by(pk).limit(limit)).mappings().all()
    cols = [c.name for c in t.columns if c.name not in ("synthetic", "supersedes_id",
                                                        "filed_at", "reason")]
    return {"count": total, "columns": cols,
            "rows": [{c: (r[c].isoformat() if hasattr(r[c], "isoformat") else r[c])
                      for c in cols} for r in rows]}


def registry_view(session, who: auth.Principal, prices) -> dict:
    """What `who` sees of the registry (a dict; the page and its JSON twin render it).
    `prices`: a callable giving a warehouse connection, to value selections."""
    base = {"user": {"user_id": who.user_id, "role": who.role, "party_id": who.party_id}}
    if who.role in ("inspector", "auditor"):
        from critmin.oversight.prices import element_prices
        from critmin.web.oversight import oversight_view
        led = analysis.to_ledger(session)
        if led.control_assays.empty or led.certificates.empty:
            return {**base, "kind": "empty", "message": "no shipment has both a certificate "
                    "and a control assay yet"}
        year = int(led.shipments["date"].astype(str).str[:4].astype(int).mode().iloc[0])
        usd = element_prices(prices(), led.certificates["element"].unique(), year)
        view = oversight_view(led, usd)
        view["selections"] = records(_frame(session, select(m.ControlSelection.__table__)
                                            .order_by(m.ControlSelection.created_at.desc())
                                            .limit(10)))
        return {**base, "kind": "state", "oversight": view}
    if who.role == "admin":
        users = session.execute(select(m.User.user_id, m.User.role, m.User.party_id)
                                .order_by(m.User.user_id)).mappings().all()
        return {**base, "kind": "admin", "users": [dict(u) for u in users]}
    tables = {"shipments": _scoped(session, who, "shipments"),
              "certificates": _scoped(session, who, "certificates")}
    if who.role == "laboratory":
        tables["control_assays"] = _scoped(session, who, "control_assays")
    return {**base, "kind": "party", "tables": tables}


def _frame(session, query):
    import pandas as pd
    res = session.execute(query)
    return pd.DataFrame(res.mappings().all(), columns=list(res.keys()))


def create_registry_pages() -> APIRouter:
    """/login, /logout, /registry and its JSON twin /api/registry-view."""
    router = APIRouter()

    def who(request: Request) -> auth.Principal | None:
        token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        with request.app.state.registry_sessions() as session:
            try:
                return auth.authenticate(session, token)
            except auth.AuthenticationError:
                return None

    def login_page(request: Request, error: str | None = None, user_id: str = "",
                   status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, "login.html", {
            "title": "Log in", "error": error, "user_id": user_id}, status_code=status)

    @router.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request):
        return login_page(request)

    @router.post("/login", include_in_schema=False)
    def login(request: Request, user_id: str = Form(""), password: str = Form("")):
        if not user_id or not password:
            return login_page(request, "Enter your user id and password.", user_id, 422)
        try:
            with request.app.state.registry_sessions.begin() as session:
                token, _ = auth.login(session, user_id, password)
        except auth.AuthenticationError:
            return login_page(request, "Unknown user or wrong password.", user_id, 401)
        resp = RedirectResponse("/registry", status_code=303)
        resp.set_cookie(TOKEN_COOKIE, token, max_age=auth.SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", path="/")
        return resp

    @router.post("/logout", include_in_schema=False)
    def logout():
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(TOKEN_COOKIE, path="/")
        return resp

    def view(request: Request, p: auth.Principal) -> dict:
        with request.app.state.registry_sessions() as session:
            return registry_view(session, p, request.app.state.warehouse)

    @router.get("/registry", response_class=HTMLResponse, include_in_schema=False)
    def registry_page(request: Request):
        p = who(request)
        if p is None:
            return RedirectResponse("/login", status_code=303)
        data = view(request, p)
        name = "oversight.html" if data["kind"] == "state" else "registry.html"
        return templates.TemplateResponse(request, name, {
            "title": "Registry", "data": data.get("oversight"), "registry": data,
            "uses_charts": data["kind"] == "state"})

    @router.get("/api/registry-view", tags=["pages"])
    def registry_api(request: Request) -> Response:
        p = who(request)
        if p is None:
            return _json({"error": {"status": 401, "code": "unauthenticated",
                                    "message": "log in first (POST /login)", "errors": []}},
                         401)
        return _json(view(request, p))

    return router
