"""The brief in a real browser (Debian's chromium through Playwright), with the network cut:
every section's charts render with their traces, no console errors, and the page fits a phone.
Screenshots go to test-artifacts/screenshots/brief*.png."""

from __future__ import annotations

from browser import open_page, require_chromium, screenshot

# traces per chart, from what each chart draws on the bundled data
EXPECTED_TRACES = {
    "plot-hhi": 7, "plot-gov-hhi": 7,             # the seven default commodities
    "plot-producer-shares": 6,                    # producers no. 1-5 and 'other producers'
    "plot-geopolrisk": 4,                         # importers EU27, USA, JPN, CHN
    "plot-shifts": 5,                             # commodities among the 15 largest shifts
    "plot-destinations-palladium": 6,             # CHN, HKG + four other lead destinations
    "plot-destinations-platinum": 6,
    "plot-price-bands": 3,                        # base, shocked, held price
    "plot-exposure-rare_earths": 5, "plot-exposure-nickel": 5,
    "plot-exposure-palladium": 5, "plot-exposure-cobalt": 5,  # four lead suppliers, the rest
    "plot-lab-bias": 5,                           # Ag, Au, Cu, TREO estimates + planted truth
    "plot-leakage": 2,                            # value and tax
    "plot-selection": 2,                          # random and risk picks
    "plot-pd-1y": 4,                              # structural/total × before/after
    "plot-pd-term": 4,                            # two companies × before/after
}
SECTIONS = ("supply", "flows", "scenarios", "oversight", "credit")
PHONE = {"width": 390, "height": 844}


def test_brief_renders_offline_in_chromium(brief_run):
    require_chromium()
    out, result = brief_run
    assert result.exit_code == 0, result.output
    with open_page(out.resolve().as_uri(), offline=True) as (page, errors):
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= "
            f"{2 * len(EXPECTED_TRACES)}")
        plots = page.evaluate("""() => Object.fromEntries(
            [...document.querySelectorAll('.js-plotly-plot')].map(el => [el.id, {
                traces: el.data.length,
                svg: el.querySelectorAll('.main-svg').length,
                drawn: el.querySelectorAll('.trace, .point, .bars path').length,
                section: el.closest('section').id}]))""")
        assert {k: v["traces"] for k, v in plots.items()} == EXPECTED_TRACES
        for key, p in plots.items():
            assert p["svg"] >= 1 and p["drawn"] >= 1, key
        assert {p["section"] for p in plots.values()} == set(SECTIONS)
        for key in SECTIONS:
            assert page.locator(f"#{key} h2").is_visible(), key
        assert page.locator("#oversight .synthetic").inner_text().startswith("SYNTHETIC")
        toc = page.eval_on_selector_all("nav.toc a", "els => els.map(a => a.hash)")
        assert {f"#{k}" for k in SECTIONS} <= set(toc)
        assert errors == []
        screenshot(page, "brief")
        page.set_viewport_size(PHONE)
        # Plotly's responsive mode redraws every chart at the new width (debounced)
        page.wait_for_function(
            "w => [...document.querySelectorAll('.js-plotly-plot .main-svg')]"
            ".every(s => s.getBoundingClientRect().width <= w)", arg=PHONE["width"])
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], "the page scrolls sideways on a phone"
        screenshot(page, "brief-phone")
        assert errors == []


def test_offline_route_catches_network_requests(tmp_path):
    """The helper's offline mode must report a page that reaches for the network."""
    require_chromium()
    html = tmp_path / "net.html"
    html.write_text('<!doctype html><script src="https://cdn.plot.ly/plotly-2.0.0.min.js">'
                    "</script><p>x</p>")
    with open_page(html.resolve().as_uri(), offline=True) as (page, errors):
        assert page.inner_text("p") == "x"
    assert any("cdn.plot.ly" in e for e in errors)
