"""The credit and oversight pages and their JSON twins, checked against the input files,
textbook identities and the planted (known) biases of the synthetic ledger."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from web._html import figure_traces, rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def credit(client):
    r = client.get("/api/credit", params={"company": "nornickel_2024.yaml",
                                          "scenario": "nickel_palladium_shock.yaml"})
    assert r.status_code == 200
    return r.json()


def test_credit_revenue_follows_the_input_files(credit):
    company = yaml.safe_load((EXAMPLES / "companies" / "nornickel_2024.yaml").read_text())
    scen = yaml.safe_load((EXAMPLES / "scenarios" / "nickel_palladium_shock.yaml").read_text())
    revenue = company["revenue"]["value"]
    for r in credit["revenue"]:
        share = company["revenue_by_metal"][r["metal"]]["value"]
        change = scen["price_changes"].get(r["metal"], 0.0)
        assert r["revenue_before"] == pytest.approx(revenue * share, rel=1e-9)
        assert r["revenue_after"] == pytest.approx(revenue * share * (1 + change), rel=1e-9)


def test_credit_pd_is_normal_tail_of_distance_to_default(credit):
    """Merton (1974), risk neutral: PD = Φ(−DD) at the same horizon (1 year)."""
    s = {r["metric"]: r for r in credit["summary"]}
    for k in ("before", "after"):
        dd = s["distance to default (1 y)"][k]
        assert s["PD structural (1 y)"][k] == pytest.approx(norm.cdf(-dd), rel=1e-6)
    assert s["PD structural (1 y)"]["after"] > s["PD structural (1 y)"]["before"]
    ts = credit["term_structure"]
    assert ts[0]["pd_structural_before"] == pytest.approx(
        s["PD structural (1 y)"]["before"], rel=1e-6)
    assert all(np.diff([t["pd_total_after"] for t in ts]) > 0)  # cumulative PDs only rise


def test_credit_html_shows_the_json_numbers(client, credit):
    r = client.get("/credit", params={"company": "nornickel_2024.yaml",
                                      "scenario": "nickel_palladium_shock.yaml"})
    assert r.status_code == 200
    shown = rows(r.text, "summary-table", "metric")
    for m in credit["summary"]:
        for (value, _), want in zip(shown[m["metric"]], (m["before"], m["after"]),
                                    strict=True):
            assert (value == want) if isinstance(want, str) else float(value) == want
    # default scale moodys_warf_implied_1y (Aa1, A3 on the idealised scale): see test_stress
    assert [c[0] for c in shown["rating structural"]] == ["Aaa", "Aa2"]
    assert figure_traces(r.text, "term") == len(credit["charts"]["term_structure"]["data"]) == 4
    base = client.get("/api/credit", params={"company": "implats_fy2024.yaml", "scenario": ""})
    assert base.status_code == 200 and base.json()["scenario"] is None
    assert len(base.json()["charts"]["term_structure"]["data"]) == 2
    bad = client.get("/api/credit", params={"company": "../../etc/passwd"})
    assert bad.status_code == 422 and "unknown company" in bad.json()["error"]["message"]


@pytest.fixture(scope="module")
def oversight(client):
    r = client.get("/api/oversight")
    assert r.status_code == 200
    return r.json()


def test_oversight_recovers_planted_biases(oversight):
    from critmin.oversight.simulate import power_study_config
    planted = {lab.laboratory_id: -lab.bias["*"] for lab in power_study_config().laboratories
               if lab.bias.get("*")}
    assert oversight["synthetic"] is True and "SYNTHETIC" in oversight["label"]
    flagged = {r["laboratory_id"] for r in oversight["flagged"]}
    # the two large planted biases (15 %, 40 %) are found and no honest lab is flagged
    assert {"L03", "L04"} <= flagged <= set(planted)
    for r in oversight["bias"]:
        if r["laboratory_id"] == "L04" and r["element"] == "Cu":
            # the 95 % posterior interval covers the planted 40 % under-reporting
            assert r["under_report_lo_pct"] < 100 * planted["L04"] < r["under_report_hi_pct"]
    sel = oversight["selection"]
    assert len(sel["rows"]) == sel["budget"] == 40
    assert sum(r["reason"] == "random" for r in sel["rows"]) == sel["n_random"] >= 1


def test_oversight_mean_bias_equals_direct_computation(oversight, wh_con):
    """under_report_pct = 100(1 − e^−d̄), d = ln(control/declared), from the ledger's tables."""
    from critmin.web.oversight import synthetic_ledger
    led = synthetic_ledger(wh_con)
    cert = led.certificates.merge(led.shipments[["shipment_id"]], on="shipment_id")
    ctrl = led.control_assays[led.control_assays["kind"] == "control"].groupby(
        ["shipment_id", "element"], as_index=False)["value"].mean()
    m = cert.merge(ctrl, on=["shipment_id", "element"], suffixes=("_decl", "_ctrl"))
    lab = m[(m["laboratory_id"] == "L03") & (m["element"] == "Cu")]
    d = np.log(lab["value_ctrl"] / lab["value_decl"]).mean()
    row = next(r for r in oversight["bias"] if r["laboratory_id"] == "L03"
               and r["element"] == "Cu")
    assert row["n"] == len(lab)
    assert row["under_report_pct"] == pytest.approx(100 * (1 - math.exp(-d)), rel=1e-8)


def test_oversight_html(client, oversight):
    r = client.get("/oversight")
    assert r.status_code == 200
    assert 'id="synthetic-label"' in r.text and "never real data" in r.text
    assert figure_traces(r.text, "bias") == len(oversight["charts"]["bias"]["data"]) >= 3
    flagged = rows(r.text, "flagged-table", "lab")
    assert set(flagged) == {f["laboratory_id"] for f in oversight["flagged"]}


def test_oversight_hook_takes_any_ledger(wh_con):
    """The registry will call oversight_view with its own (non-synthetic) ledger."""
    import dataclasses

    from critmin.web.oversight import oversight_view, synthetic_ledger
    led = synthetic_ledger(wh_con)
    real = dataclasses.replace(led, **{n: t.assign(synthetic=False)
                                       for n, t in led.tables().items()
                                       if "synthetic" in t.columns})
    out = oversight_view(real, {"Cu": 9000.0}, budget=10, seed=1)
    assert out["synthetic"] is False and out["label"] is None
    assert len(out["selection"]["rows"]) == 10
