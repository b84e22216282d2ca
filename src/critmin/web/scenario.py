"""The scenario page: run a market-shock scenario given as YAML text (the CLI's
`critmin shock`, same code) and shape its results — price bands, supply changes, exposure of
importers — as one JSON-ready dict for the page, /api/scenario and its CSV download."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from critmin.errors import CritminError, DataFileError
from critmin.web import charts
from critmin.examples import examples_dir
from critmin.output import records
from critmin.web._common import num

MAX_DRAWS = 20_000   # keeps one request well under a few seconds on a laptop
DEFAULT_EXAMPLE = "nornickel_nickel_guidance_2025.yaml"
TOP_IMPORTERS = 10


class ScenarioInputError(CritminError, ValueError):
    """A scenario the form cannot run: `field` and `line` point at the place in the YAML text
    (None when the problem is not in one field, e.g. a missing cost curve); `problem` is the
    message without the file/line/field prefix."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None,
                 problem: str | None = None):
        self.field, self.line, self.problem = field, line, problem or message
        super().__init__(message)


def example_scenarios() -> dict[str, str]:
    """{file name: YAML text} of the market scenarios in examples/scenarios (price scenarios
    for the credit page, which have `price_changes`, are left out)."""
    out = {}
    for path in sorted((examples_dir() / "scenarios").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if isinstance(data, dict) and "price_changes" not in data:
            out[path.name] = text
    return out


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "scenario.yaml").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "scenario.yaml"


def load_scenario_text(text: str, filename: str | None = None):
    """Validate YAML text as a market scenario; errors name `filename`, line and field."""
    from critmin.market.scenario import load_scenario
    name = _safe_name(filename)
    with tempfile.TemporaryDirectory() as tmp:
        # load_scenario reads a file: the text goes through the same validator as the CLI's
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        try:
            return load_scenario(path), path
        except DataFileError as exc:
            raise ScenarioInputError(str(exc).replace(str(path), name), field=exc.field,
                                     line=exc.line, problem=exc.problem) from None


def exposure_to(flows: pd.DataFrame, origins: set[str], top: int = TOP_IMPORTERS
                ) -> pd.DataFrame:
    """Importers most exposed to `origins`: value_usd imported from them (USD), total imports
    (USD) and share_from_origins (0..1), largest value first; trade between origins left out."""
    f = flows[~flows["importer"].isin(origins)]
    total = f.groupby("importer")["value_usd"].sum()
    hit = f[f["exporter"].isin(origins)].groupby("importer")["value_usd"].sum()
    out = pd.DataFrame({"value_from_origins_usd": hit,
                        "imports_usd": total.reindex(hit.index)})
    out["share_from_origins"] = out["value_from_origins_usd"] / out["imports_usd"]
    return (out.sort_values("value_from_origins_usd", ascending=False).head(top)
            .rename_axis("importer").reset_index())


def _supply_changes(con, scen) -> pd.DataFrame:
    """Base output by country before and after the scenario's static shocks (t/yr) on the
    market `shock_report` builds (WMD production, named producers; the rest is WLD; for bans,
    quotas, taxes and frictions the BACI traded market: exports by country)."""
    from critmin.market import build
    from critmin.market.report import is_bilateral
    from critmin.market.scenario import apply_scenario
    if is_bilateral(scen):          # as shock_report: the traded market, exports by country
        from critmin.market.backtest import trade_market
        from critmin.market.bilateral import trade_flows
        flows, _ = trade_flows(con, scen.commodity, scen.base_year)
        p0 = build.base_inputs(con, scen.commodity, scen.base_year)["price_usd_per_t"]
        base = trade_market(flows, p0, scen.commodity)
    else:
        base = build.market_from_warehouse(con, scen.commodity, scen.base_year)
    shocked, applied = apply_scenario(base, scen)
    b = base.producers.groupby("country")["base_output_t"].sum()
    s = shocked.producers.groupby("country")["base_output_t"].sum()
    out = pd.DataFrame({"base_t": b, "shocked_t": s}).fillna(0.0)
    out["change_t"] = out["shocked_t"] - out["base_t"]
    out = out.sort_values("base_t", ascending=False).rename_axis("country").reset_index()
    return out, applied


def _origins(scen, supply: pd.DataFrame) -> set[str]:
    from critmin.market.scenario import place_members
    hit = set(supply.loc[supply["change_t"] < 0, "country"]) - {"WLD"}
    for b in scen.export_bans:
        hit |= set(place_members(b.exporter))
    for b in scen.purchase_bans:
        hit |= {m for o in b.origins for m in place_members(o)}
    for q in [*scen.export_quotas, *scen.export_taxes]:
        hit.add(q.exporter)
    return hit


def run_scenario(con, text: str, *, filename: str | None = None, draws: int | None = None,
                 seed: int | None = None) -> dict:
    """Run the scenario in `text` at world level over `draws` elasticity draws; returns the
    page's dict: bands (P5/P50/P95 base vs shocked per metric, USD/t, t, shares), supply
    changes (t/yr by country), exposure (importers' USD imports from the shocked origins in
    the latest BACI year up to the base year) and meta (assumptions, sources)."""
    from critmin.market.report import shock_report
    from critmin.data import queries
    if draws is not None and not 1 <= draws <= MAX_DRAWS:
        raise ScenarioInputError(f"draws must be between 1 and {MAX_DRAWS:,}, not {draws}",
                                 field="draws")
    name = _safe_name(filename)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        scen, _ = load_scenario_text(text, name)
        if draws is None and scen.draws > MAX_DRAWS:
            draws = MAX_DRAWS
        try:
            table, meta = shock_report(con, path, draws=draws, seed=seed)
            supply, applied = _supply_changes(con, scen)
        except DataFileError as exc:
            raise ScenarioInputError(str(exc).replace(str(path), name), field=exc.field,
                                     line=exc.line, problem=exc.problem) from None
        except CritminError as exc:
            raise ScenarioInputError(str(exc).replace(str(path), name)) from None
    origins = _origins(scen, supply)
    trade_year = min(queries.latest_trade_year(con), scen.base_year)
    flows = queries.commodity_flows(con, commodities=[scen.commodity], years=[trade_year])
    expo = exposure_to(flows, origins) if origins else pd.DataFrame(
        columns=["importer", "value_from_origins_usd", "imports_usd", "share_from_origins"])

    price = table.set_index("metric").loc["price_usd_per_t"]
    mcs = f"{meta['draws']:,} Monte-Carlo elasticity draws (seed {meta['seed']})"
    chart_price = charts.figure(
        [charts.interval([label], [price[f"{k}_P50"]], [price[f"{k}_P5"]],
                         [price[f"{k}_P95"]], label, i)
         for i, (k, label) in enumerate((("base", "base market"),
                                         ("shocked", "after the scenario")))],
        title="World price: median and 5–95 % band over the draws", x_title="market",
        y_title="price (USD/t)", source=f"critmin.market world clearing, {mcs}; base price "
                                        f"{meta['base_price']}")
    top_supply = supply.head(10)
    chart_supply = charts.figure(
        [charts.bar(top_supply["country"], top_supply["base_t"], "base", 0),
         charts.bar(top_supply["country"], top_supply["shocked_t"], "after shocks", 1)],
        title="Base output by producer country (WLD = rest of the world's cost curve)",
        x_title="country (ISO3)", y_title="output (t/yr)",
        source=f"{meta['production']}; scenario's static shocks")
    charts_ = {"price": chart_price, "supply": chart_supply}
    if meta.get("price_path"):
        path = pd.DataFrame(meta["price_path"])
        charts_["path"] = charts.figure(
            [charts.line(path["period"], path["P50"], "median", 0),
             charts.line(path["period"], path["P5"], "5th percentile", 1, dash="dot"),
             charts.line(path["period"], path["P95"], "95th percentile", 2, dash="dot")],
            title=f"Price path over {len(path)} {scen.period}s (dynamic mode)",
            x_title=f"{scen.period}", y_title="price (USD/t)",
            source=f"critmin.market.dynamic, {mcs}; closures in merit order when the scenario "
                   "sets them")
    rerouted = meta.get("rerouted_flows")
    note = ("Bilateral measures ran on the base year's BACI traded market with the bloc solver: "
            "the sanctioned origins' flows re-allocated over the buyers still open to them "
            "(heuristic, P50 over the draws; 'via third countries' is what no open buyer "
            "takes). " if rerouted is not None else
            "Trade is not re-routed by the world-level model (one consumer, WLD): scenarios "
            "with bans, quotas, taxes or frictions run on the BACI traded market instead. ")
    if meta.get("not_applied"):
        note += f"Not applied: {meta['not_applied']}."
    return {
        "scenario": {"name": scen.name, "commodity": scen.commodity,
                     "base_year": scen.base_year, "file": name},
        "draws": meta["draws"], "seed": meta["seed"],
        "bands": records(table),
        "supply_changes": records(supply),
        "exposure": {"year": trade_year, "origins": sorted(origins),
                     "source": "CEPII BACI, all HS6 codes of the chain",
                     "rows": records(expo)},
        "re_routing": {"computed": rerouted is not None, "note": note.strip(),
                       "rows": rerouted or []},
        "meta": {k: (num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                 for k, v in meta.items()},
        "applied_log": list(applied.log),
        "charts": charts_,
    }


def bands_csv(result: dict) -> str:
    """The bands table of a run as CSV (metric, base_P5..shocked_P95)."""
    return pd.DataFrame(result["bands"]).to_csv(index=False)
