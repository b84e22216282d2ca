"""The combined app (`critmin serve`): pages and registry API side by side, login by form
with an HttpOnly cookie, and a registry page that shows each role what policy lets it see."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from critmin.registry import auth, db
from critmin.registry.demo import demo_users, fill_from_ledger
from helpers import small_synthetic_ledger

PASSWORD = "a password for tests"


@pytest.fixture(scope="module")
def ledger():
    return small_synthetic_ledger(0.1, control_share=0.3, seed=5)


@pytest.fixture()
def client(tmp_path, built_warehouse, ledger, monkeypatch):
    from critmin.server import create_app
    monkeypatch.setitem(auth._SCRYPT, "n", 2 ** 10)
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    engine = db.init_db(url)
    with db.session_factory(engine).begin() as s:
        fill_from_ledger(s, ledger)
        demo_users(s, ledger, password=PASSWORD)
    engine.dispose()
    with TestClient(create_app(url, warehouse_path=built_warehouse)) as c:
        yield c


def _login(client, user):
    return client.post("/login", data={"user_id": user, "password": PASSWORD},
                       follow_redirects=False)


def test_pages_and_api_share_one_app(client):
    assert client.get("/").status_code == 200
    spec = client.get("/api/openapi.json").json()["paths"]
    assert "/api/registry/shipments" in spec and "/api/commodity/{name}" in spec
    res = client.get("/api/registry/me")
    assert res.status_code == 401 and res.json()["error"]["code"] == "unauthenticated"
    assert client.get("/registry", follow_redirects=False).headers["location"] == "/login"


def test_bad_login_shows_the_error_at_the_form(client):
    res = client.post("/login", data={"user_id": "inspector", "password": "wrong one"})
    assert res.status_code == 401 and "Unknown user or wrong password" in res.text
    assert 'aria-invalid="true"' in res.text
    assert "critmin_token" not in res.cookies


def test_inspector_sees_the_registry_oversight_picture(client, ledger):
    """The page's bias table is `oversight_view` of the registry's data, which equals the
    bias screen of the ledger the registry was filled from (same pairs, same numbers)."""
    from critmin.oversight.bias import paired_assays, screen
    res = _login(client, "inspector")
    assert res.status_code == 303
    cookie = res.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/registry")
    assert page.status_code == 200 and "Registry data, as inspector" in page.text
    assert "Synthetic data" in page.text
    view = client.get("/api/registry-view").json()
    assert view["kind"] == "state"
    got = {(r["laboratory_id"], r["element"]): r["n"] for r in view["oversight"]["bias"]}
    want = screen(paired_assays(ledger), by=["laboratory_id"])
    assert got == {(r.laboratory_id, r.element): r.n for r in want.itertuples()}
    # the cookie also authenticates the registry API
    assert client.get("/api/registry/me").json()["data"]["role"] == "inspector"


def test_exporter_sees_only_its_own_shipments(client, ledger):
    _login(client, "exporter-E01")
    view = client.get("/api/registry-view").json()
    assert view["kind"] == "party"
    ships = view["tables"]["shipments"]
    assert ships["count"] == int((ledger.shipments["exporter_id"] == "E01").sum())
    assert {r["exporter_id"] for r in ships["rows"]} == {"E01"}
    assert "control_assays" not in view["tables"]
    client.post("/logout")
    assert client.get("/api/registry-view").status_code == 401
