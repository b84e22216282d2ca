"""The pages in a real browser (Debian's chromium under Playwright) against a real uvicorn
server: charts drawn with the expected number of traces, a scenario run from the form, an
invalid YAML answered next to the field, keyboard access, no console errors. Screenshots of
every page (desktop 1280 px and phone 390 px wide) go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

PAGES = {
    "index": ("/", {}),
    "commodity": ("/commodity/nickel?importer=EU27&year=2022",
                  {"producers": 1, "concentration": 2, "governance": 1, "flows": 5}),
    "scenario": ("/scenario", {}),
    "credit": ("/credit?company=nornickel_2024.yaml&scenario=nickel_palladium_shock.yaml",
               {"term": 4}),
    "oversight": ("/oversight", {"bias": 3}),   # Ag, Au, Cu; TREO has too few pairs
}


def _traces(page, chart_id: str) -> int:
    page.wait_for_selector(f"#chart-{chart_id} .main-svg")
    return page.evaluate(f"document.getElementById('chart-{chart_id}').data.length")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_its_charts(live_server, page, phone_page, name):
    url, charts = PAGES[name]
    for p, size in ((page, "desktop"), (phone_page, "phone")):
        resp = p.page.goto(live_server + url)
        assert resp.status == 200
        for chart_id, n in charts.items():
            assert _traces(p.page, chart_id) == n
        p.shot(f"{name}_{size}")
        # readable on a phone: nothing wider than the screen but scrollable tables
        width = p.page.evaluate("document.documentElement.scrollWidth")
        assert width <= p.page.viewport_size["width"], f"{name} {size}: {width} px wide"
        assert p.errors == [], p.errors


def test_run_scenario_from_the_form(live_server, page):
    p = page.page
    p.goto(live_server + "/scenario")
    p.fill("#draws", "300")
    p.fill("#seed", "7")
    p.click("#run")
    p.wait_for_selector("#result-section")
    assert _traces(p, "price") == 2 and _traces(p, "supply") == 2
    assert p.locator("#bands-table tr[data-metric='price_usd_per_t']").count() == 1
    with p.expect_download() as dl:
        p.click("text=Download bands (CSV)")
    assert dl.value.suggested_filename.endswith("_bands.csv")
    page.shot("scenario_result_desktop")
    assert page.errors == []


def test_invalid_yaml_shows_the_field_error(live_server, page):
    p = page.page
    p.goto(live_server + "/scenario")
    p.fill("#yaml_text", "name: broken\ncommodity: nikel\nbase_year: 2024\n")
    with p.expect_response(lambda r: r.request.method == "POST") as resp:
        p.click("#run")
    assert resp.value.status == 422
    err = p.locator("#yaml-error")
    err.wait_for()
    assert "Line 2" in err.inner_text() and "commodity" in err.inner_text()
    assert p.get_attribute("#yaml_text", "aria-invalid") == "true"
    page.shot("scenario_error_desktop")
    # the 422 document itself is the only "error" the console may report
    assert all("422" in e for e in page.errors), page.errors


def test_keyboard_reaches_the_run_button(live_server, page):
    p = page.page
    p.goto(live_server + "/scenario")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.className") == "skip-link"
    for _ in range(30):
        p.keyboard.press("Tab")
        if p.evaluate("document.activeElement.id") == "run":
            break
    else:
        pytest.fail("Tab never reached the Run scenario button")
    outline = p.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"   # a visible focus ring
    p.keyboard.press("Enter")
    p.wait_for_selector("#result-section")
    assert page.errors == []


def test_log_in_and_see_the_registry_as_an_inspector(live_server, page):
    """The login form, a wrong password answered at the form, then the registry's own
    oversight picture drawn for an inspector, and logging out."""
    from critmin.registry.demo import DEMO_PASSWORD
    p = page.page
    p.goto(live_server + "/registry")
    assert p.url.endswith("/login")
    p.fill("#user_id", "inspector")
    p.fill("#password", "not the password")
    with p.expect_response(lambda r: r.request.method == "POST") as resp:
        p.click("button[type=submit]")
    assert resp.value.status == 401
    assert "wrong password" in p.locator("#login-error").inner_text()
    page.errors.clear()  # the 401 document is the expected console error
    p.fill("#password", DEMO_PASSWORD)
    p.click("button[type=submit]")
    p.wait_for_url("**/registry")
    assert "inspector" in p.locator("#registry-user").inner_text()
    assert _traces(p, "bias") >= 2
    page.shot("registry_inspector_desktop")
    p.click("text=Log out")
    p.goto(live_server + "/registry")
    assert p.url.endswith("/login")
    assert page.errors == [], page.errors
