"""Fixtures of the web tests: an in-process TestClient, a real uvicorn server on a free
loopback port, and Debian's chromium under Playwright (launch arguments, the skip-unless-CI
rule and screenshots from the shared tests/browser.py). One browser serves the whole session,
because launching one per page costs seconds on this machine; every request that does not go
to the loopback server is blocked, so a page that needs a CDN shows it as an error."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from browser import CHROMIUM_ARGS, require_chromium, screenshot

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL = re.compile(r"^(?!http://127\.0\.0\.1:|data:|blob:|about:).*")


@pytest.fixture(scope="session")
def web_app(built_warehouse, tmp_path_factory):
    """The app `critmin serve` runs (pages and registry API), on a SQLite registry filled with
    a small SYNTHETIC ledger and its demo users (`critmin.registry.demo.DEMO_PASSWORD`)."""
    from critmin.registry import db
    from critmin.registry.demo import demo_users, fill_from_ledger
    from critmin.server import create_app
    from helpers import small_synthetic_ledger
    url = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.sqlite'}"
    engine = db.init_db(url)
    ledger = small_synthetic_ledger(0.1, control_share=0.3, seed=5)
    with db.session_factory(engine).begin() as s:
        fill_from_ledger(s, ledger)
        demo_users(s, ledger)
    engine.dispose()
    return create_app(url, warehouse_path=built_warehouse)


@pytest.fixture(scope="session")
def client(web_app):
    from fastapi.testclient import TestClient
    with TestClient(web_app) as c:
        yield c


@pytest.fixture(scope="session")
def wh_con(con):
    """The read-only warehouse connection for the independent SQL checks."""
    return con


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(web_app):
    """Base URL of a real uvicorn server serving the app from a background thread."""
    import uvicorn
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium under Playwright; skipped when missing unless $CI is set."""
    exe = require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A Playwright page that records console errors, page errors and blocked requests."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str):
        return screenshot(self.page, name)


def _offline(ctx, errors_of):
    def block(route):
        errors_of().append(f"network request blocked: {route.request.url}")
        route.abort()
    ctx.route(LOCAL, block)


# one context per screen size for the session, so the 4.8 MB plotly.min.js is fetched once
class _Context:
    """A browser context shared by the session; `current` is the page under test, whose error
    list also receives the context's blocked requests."""

    def __init__(self, browser, **kw):
        self.ctx = browser.new_context(**kw)
        self.current: Page | None = None
        _offline(self.ctx, lambda: self.current.errors if self.current else [])

    def new(self) -> Page:
        self.current = Page(self.ctx.new_page())
        return self.current


@pytest.fixture(scope="session")
def desktop_context(browser):
    c = _Context(browser, viewport=DESKTOP)
    yield c
    c.ctx.close()


@pytest.fixture(scope="session")
def phone_context(browser):
    c = _Context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    yield c
    c.ctx.close()


@pytest.fixture()
def page(desktop_context):
    p = desktop_context.new()
    yield p
    p.page.close()


@pytest.fixture()
def phone_page(phone_context):
    p = phone_context.new()
    yield p
    p.page.close()
