"""Routes of the analyst web app: each HTML page renders the dict its JSON twin returns
(/commodity/{name} ↔ /api/commodity/{name}, and so on), computed once by the view modules and
cached in memory per argument tuple."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from critmin.errors import CritminError
from critmin.web import commodity as commodity_mod
from critmin.web import credit as credit_mod
from critmin.web import oversight as oversight_mod
from critmin.web import scenario as scenario_mod
from critmin.web._common import Warehouse, error

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def fmt(v, kind: str = "num", digits: int = 0) -> str:
    """A number for a table cell: "num" with thousands separators and `digits` decimals,
    "pct" a 0..1 share as per cent, "sig" the CLI's compact form; missing is an en dash."""
    from critmin.output import _cell
    if v is None or isinstance(v, str):
        return "–" if v is None else v
    if kind == "pct":
        return f"{100 * v:.{max(digits, 1)}f} %"
    if kind == "sig":
        return _cell(float(v))
    return f"{v:,.{digits}f}"


templates.env.filters["fmt"] = fmt
# the brief's commodities first (PGMs as palladium and platinum); the rest of the catalog after
FEATURED = ["nickel", "palladium", "platinum", "rare_earths", "copper", "cobalt", "lithium"]


@functools.lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """Plotly's JavaScript from the installed package (served locally: no CDN, works offline)."""
    from plotly.offline import get_plotlyjs
    return get_plotlyjs().encode("utf-8")


def _json(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload, allow_nan=False, default=str), status_code=status,
                    media_type="application/json")


class _Path:
    """What the templates read of a request (`request.url.path`), for pages rendered once."""

    def __init__(self, path: str):
        self.url = type("URL", (), {"path": path})()


def create_router(warehouse_path: str | Path | None = None) -> APIRouter:
    """The pages, their JSON twins and the static assets (/static/...) on one APIRouter.
    warehouse_path: a DuckDB warehouse (default: critmin's, built from
    the bundled extract when missing); opened read-only."""
    wh = Warehouse(warehouse_path)
    router = APIRouter()

    @functools.lru_cache(maxsize=256)
    def commodity_data(key: str, importer: str, year: int | None) -> dict:
        return commodity_mod.commodity_view(wh.cursor(), key, importer=importer, year=year)

    @functools.lru_cache(maxsize=256)
    def commodity_json(key: str, importer: str, year: int | None) -> bytes:
        return json.dumps(commodity_data(key, importer, year), allow_nan=False).encode()

    @functools.lru_cache(maxsize=64)
    def credit_data(company: str, scenario: str | None) -> dict:
        return credit_mod.credit_view(company, scenario)

    @functools.lru_cache(maxsize=8)
    def oversight_data(seed: int) -> dict:
        return oversight_mod.synthetic_view(wh.cursor(), seed=seed)

    @functools.lru_cache(maxsize=32)
    def scenario_data(text: str, filename: str, draws: int | None, seed: int | None) -> dict:
        return scenario_mod.run_scenario(wh.cursor(), text, filename=filename, draws=draws,
                                         seed=seed)

    def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def commodity_key(name: str) -> str:
        from critmin.catalog import commodity
        return commodity(name).key

    # --- index ------------------------------------------------------------------------------

    def index_data() -> dict:
        from critmin.catalog import all_commodities
        names = {c.key: c.name for c in all_commodities()}
        return {"pages": {"commodity": "/commodity/{name}", "scenario": "/scenario",
                          "credit": "/credit", "oversight": "/oversight"},
                "featured": [{"key": k, "name": names[k]} for k in FEATURED],
                "commodities": [{"key": k, "name": v} for k, v in names.items()]}

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request):
        return page(request, "index.html", {"data": index_data(), "title": "critmin"})

    @router.get("/api", tags=["pages"])
    def index_api():
        """The pages and the commodities the app knows."""
        return index_data()

    # --- commodity --------------------------------------------------------------------------

    @router.get("/commodity", include_in_schema=False)
    def commodity_pick(name: str = "nickel", importer: str = "EU27", year: str = ""):
        from urllib.parse import quote, urlencode
        q = urlencode({"importer": importer} | ({"year": year} if year else {}))
        return RedirectResponse(f"/commodity/{quote(name)}?{q}", status_code=303)

    def commodity_context(request, data, importer, error_=None) -> dict:
        idx = index_data()
        return {"request": request, "title": data["commodity"]["name"] if data else "Commodity",
                "data": data, "featured": idx["featured"], "importer": importer,
                "others": [c for c in idx["commodities"] if c["key"] not in FEATURED],
                "error": error_}

    @functools.lru_cache(maxsize=256)
    def commodity_html(key: str, importer: str, year: int | None) -> bytes:
        # the page is the same for every request with these arguments: render it once
        ctx = commodity_context(_Path("/commodity/" + key), commodity_data(key, importer, year),
                                importer)
        return templates.get_template("commodity.html").render(ctx).encode()

    @router.get("/commodity/{name}", response_class=HTMLResponse, include_in_schema=False)
    def commodity_page(request: Request, name: str, importer: str = "EU27",
                       year: int | None = None):
        try:
            key = commodity_key(name)
        except CritminError as exc:
            return page(request, "commodity.html",
                        commodity_context(request, None, importer, str(exc)), 404)
        try:
            body = commodity_html(key, importer.strip() or "EU27", year)
        except CritminError as exc:   # a bad importer or year: the request, not the page
            return page(request, "commodity.html",
                        commodity_context(request, None, importer, str(exc)), 422)
        return HTMLResponse(body)

    @router.get("/api/commodity/{name}", tags=["pages"])
    def commodity_api(name: str, importer: str = "EU27", year: int | None = None):
        """Producers (WMD unit), concentration over time (HHI 0..1), trade flows (USD) and risk
        indicators (GeoPolRisk compat and corrected for `importer`) of one commodity."""
        try:
            key = commodity_key(name)
        except CritminError as exc:
            return _json(error(str(exc), field="name"), 404)
        try:
            body = commodity_json(key, importer.strip() or "EU27", year)
        except CritminError as exc:
            return _json(error(str(exc)), 422)
        return Response(body, media_type="application/json")

    # --- scenario ---------------------------------------------------------------------------

    def scenario_form(example: str | None) -> dict:
        examples = scenario_mod.example_scenarios()
        chosen = example if example in examples else (
            scenario_mod.DEFAULT_EXAMPLE if scenario_mod.DEFAULT_EXAMPLE in examples
            else next(iter(examples), None))
        return {"examples": list(examples), "example": chosen,
                "yaml": examples.get(chosen, ""), "draws": None, "seed": None,
                "max_draws": scenario_mod.MAX_DRAWS}

    @router.get("/scenario", response_class=HTMLResponse, include_in_schema=False)
    def scenario_page(request: Request, example: str | None = None):
        return page(request, "scenario.html", {"title": "Scenario", "form": scenario_form(example),
                                               "result": None, "error": None})

    @router.get("/api/scenario", tags=["pages"])
    def scenario_form_api(example: str | None = None):
        """The scenario form: the example scenarios and the YAML of the chosen one."""
        return scenario_form(example)

    async def _read_input(request: Request, yaml_text, upload, draws, seed, example):
        """(text, filename, draws, seed) from a form post (textarea or uploaded file) or a JSON
        body {"yaml", "draws", "seed"}; bad numbers raise ScenarioInputError on their field."""
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
            yaml_text, draws, seed = body.get("yaml", ""), body.get("draws"), body.get("seed")
        filename = "scenario.yaml"
        if upload is not None and upload.filename:
            raw = await upload.read()
            if raw:
                try:
                    yaml_text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise scenario_mod.ScenarioInputError(
                        f"{upload.filename}: not UTF-8 text", field="upload") from None
                filename = upload.filename
        elif example and yaml_text == scenario_mod.example_scenarios().get(example):
            filename = example
        out = []
        for fname, v in (("draws", draws), ("seed", seed)):
            if v is None or str(v).strip() == "":
                out.append(None)
                continue
            try:
                out.append(int(str(v).strip()))
            except ValueError:
                raise scenario_mod.ScenarioInputError(
                    f"{fname} must be a whole number, not {v!r}", field=fname) from None
        if not (yaml_text or "").strip():
            raise scenario_mod.ScenarioInputError("the scenario is empty: paste YAML or "
                                                  "upload a file", field="yaml")
        return yaml_text, filename, out[0], out[1]

    @router.post("/scenario", response_class=HTMLResponse, include_in_schema=False)
    async def scenario_run_page(request: Request, yaml_text: str = Form(""),
                                upload: UploadFile | None = File(None), draws: str = Form(""),
                                seed: str = Form(""), example: str = Form("")):
        form = scenario_form(example or None) | {"yaml": yaml_text, "draws": draws,
                                                 "seed": seed}
        try:
            text, filename, d, s = await _read_input(request, yaml_text, upload, draws, seed,
                                                     example)
            form["yaml"] = text
            # a run takes up to seconds: keep it off the event loop
            result = await run_in_threadpool(scenario_data, text, filename, d, s)
        except scenario_mod.ScenarioInputError as exc:
            return page(request, "scenario.html",
                        {"title": "Scenario", "form": form, "result": None,
                         "error": error(str(exc), field=exc.field, line=exc.line)["error"]
                         | {"problem": exc.problem}},
                        422)
        return page(request, "scenario.html", {"title": "Scenario", "form": form,
                                               "result": result, "error": None})

    @router.post("/api/scenario", tags=["pages"])
    async def scenario_api(request: Request, format: str = "json", yaml_text: str = Form(""),
                           upload: UploadFile | None = File(None), draws: str = Form(""),
                           seed: str = Form(""), example: str = Form("")):
        """Run a market scenario: form fields yaml_text / upload, draws, seed, or a JSON body
        {"yaml", "draws", "seed"}. ?format=csv returns the P5/P50/P95 bands table as CSV."""
        if format not in ("json", "csv"):
            return _json(error(f"format must be json or csv, not {format!r}",
                               field="format"), 422)
        try:
            text, filename, d, s = await _read_input(request, yaml_text, upload, draws, seed,
                                                     example)
            result = await run_in_threadpool(scenario_data, text, filename, d, s)
        except scenario_mod.ScenarioInputError as exc:
            return _json(error(str(exc), field=exc.field, line=exc.line), 422)
        if format == "csv":
            stem = Path(filename).stem
            return Response(scenario_mod.bands_csv(result), media_type="text/csv",
                            headers={"Content-Disposition":
                                     f'attachment; filename="{stem}_bands.csv"'})
        return _json(result)

    # --- credit -----------------------------------------------------------------------------

    def credit_form(company: str | None, scenario: str | None) -> dict:
        companies = credit_mod.example_companies()
        scenarios = credit_mod.example_price_scenarios()
        return {"companies": companies, "scenarios": scenarios,
                "company": company or (companies[-1] if companies else None),
                "scenario": scenarios[0] if scenario is None and scenarios else scenario}

    @router.get("/credit", response_class=HTMLResponse, include_in_schema=False)
    def credit_page(request: Request, company: str | None = None,
                    scenario: str | None = None):
        form = credit_form(company, scenario)
        ctx = {"title": "Credit", "form": form, "data": None, "error": None}
        try:
            ctx["data"] = credit_data(form["company"], form["scenario"] or None)
        except CritminError as exc:
            ctx["error"] = str(exc)
            return page(request, "credit.html", ctx, 422)
        return page(request, "credit.html", ctx)

    @router.get("/api/credit", tags=["pages"])
    def credit_api(company: str | None = None, scenario: str | None = None):
        """PD (probability), distance to default (σ) and rating of an example producer before
        and after an example price scenario (scenario= empty: base case only)."""
        form = credit_form(company, scenario)
        try:
            return _json(credit_data(form["company"], form["scenario"] or None))
        except CritminError as exc:
            return _json(error(str(exc)), 422)

    # --- oversight --------------------------------------------------------------------------

    @router.get("/oversight", response_class=HTMLResponse, include_in_schema=False)
    def oversight_page(request: Request, seed: int = oversight_mod.SEED):
        return page(request, "oversight.html", {"title": "Oversight",
                                                "data": oversight_data(seed)})

    @router.get("/api/oversight", tags=["pages"])
    def oversight_api(seed: int = oversight_mod.SEED):
        """Laboratory bias (% under-reporting, 95 % interval), flags and the re-assay
        selection on the labelled synthetic Kazakh ledger simulated with `seed`."""
        return _json(oversight_data(seed))

    # --- assets -----------------------------------------------------------------------------

    @router.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_asset():
        return Response(plotly_js(), media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/static/{name}", include_in_schema=False)
    def static_asset(name: str):
        media = {"style.css": "text/css", "app.js": "application/javascript"}.get(name)
        if media is None:
            return _json(error(f"no static file {name!r}"), 404)
        return Response((STATIC / name).read_bytes(), media_type=media,
                        headers={"Cache-Control": "public, max-age=3600"})

    router.caches = (commodity_data, commodity_json, commodity_html, credit_data, oversight_data,
                     scenario_data)
    return router


def create_app(warehouse_path: str | Path | None = None) -> FastAPI:
    """A FastAPI app with the analyst pages, their JSON twins and the static assets."""
    # no Swagger page: it loads its assets from a CDN, and the app must work offline
    app = FastAPI(title="critmin", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.include_router(create_router(warehouse_path))
    return app
