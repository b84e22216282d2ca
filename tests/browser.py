"""Drive Debian's chromium through Playwright for browser tests: launch it headless and
offline-friendly, collect console errors and page errors, block the network, and save
screenshots under test-artifacts/screenshots/ at the repository root (CI keeps that folder).

    from browser import open_page, screenshot   # tests/ is on sys.path under pytest
    with open_page(url, offline=True) as (page, errors):
        ...
        screenshot(page, "brief")
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def require_chromium() -> str:
    """The chromium executable; skips the test when it is missing, unless $CI is set (there a
    missing browser fails the test)."""
    path = os.environ.get("CRITMIN_CHROMIUM", CHROMIUM)
    if Path(path).exists() or shutil.which(path):
        return path
    if os.environ.get("CI"):
        pytest.fail(f"chromium not found at {path}; .ci/run installs it")
    pytest.skip(f"chromium not found at {path}")


@contextmanager
def open_page(url: str, *, offline: bool = False, width: int = 1280, height: int = 900,
              timeout_ms: int = 30_000):
    """Yield (page, errors): a loaded page and the list that collects console errors and
    uncaught page errors (strings). With `offline`, every request that is not a file: or
    data: URL is aborted, so a page that needs the network shows it as an error."""
    exe = require_chromium()
    from playwright.sync_api import sync_playwright
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            if offline:
                def block(route):
                    errors.append(f"network request blocked: {route.request.url}")
                    route.abort()
                context.route(re.compile(r"^(?!file:|data:|blob:|about:).*"), block)
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto(url, wait_until="load")
            yield page, errors
        finally:
            browser.close()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page as test-artifacts/screenshots/`name`.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
