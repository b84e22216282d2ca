"""Systemic trade risk: a hand-computed 4-node network, the first-order limit against
`exposure.trade_risk`, and the row-stochastic invariants (checked against a power series)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.risk.exposure import supplier_shares, trade_risk
from critmin.risk.systemic import network, origin_matrix, systemic_trade_risk


def _flows(rows, commodity="x", year=2022):
    return pd.DataFrame([(commodity, year, e, i, w, w / 10) for e, i, w in rows],
                        columns=["commodity", "year", "exporter", "importer", "value_usd",
                                 "quantity_t"])


# A and B produce; H buys 100 from A and ships 120 (so 20 of its own: δ_H = 20/120);
# C buys 60 from H and 40 from B; D buys 60 from H.
HAND = _flows([("AAA", "HHH", 100.0), ("HHH", "CCC", 60.0), ("BBB", "CCC", 40.0),
               ("HHH", "DDD", 60.0)])
# percentile ranks: rho = 1 - rank/100 -> A 0.8, B 0.1, H 0.2; C and D never supply
RANK = pd.DataFrame([("AAA", 2022, 20.0), ("BBB", 2022, 90.0), ("HHH", 2022, 80.0),
                     ("CCC", 2022, 50.0)], columns=["country", "year", "value"])


def test_hand_computed_network():
    r = systemic_trade_risk(HAND, RANK, damping=0.5).set_index("importer")
    # y_H = δ_H ρ_H + (1 − δ_H) x_H = 0.2/6 + 0.8·5/6 = 0.7 (x_H = ρ_A: A only produces)
    # x_C = 0.6·[(1 − d)·0.2 + d·0.7] + 0.4·0.1 = 0.16 + 0.3·d = 0.31 at d = 0.5
    assert r.loc["CCC", "systemic_risk"] == pytest.approx(0.31, rel=1e-12)
    assert r.loc["CCC", "first_order_risk"] == pytest.approx(0.6 * 0.2 + 0.4 * 0.1, rel=1e-12)
    assert r.loc["HHH", "systemic_risk"] == pytest.approx(0.8, rel=1e-12)
    assert r.loc["DDD", "systemic_risk"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.7, rel=1e-12)
    # C's origins: H 0.6·(0.5 + 0.5/6) = 0.35, A 0.6·0.5·5/6 = 0.25, B 0.4
    assert r.loc["CCC", "top_origin"] == "BBB"
    assert r.loc["CCC", "top_origin_share"] == pytest.approx(0.4, rel=1e-12)
    assert r.loc["CCC", "reexport_share"] == pytest.approx(0.6 * 5 / 6, rel=1e-12)
    nodes, s, delta = network(HAND)
    o = origin_matrix(s, delta, 0.5)
    c = nodes.index("CCC")
    got = dict(zip(nodes, o[c]))
    assert got["HHH"] == pytest.approx(0.35, rel=1e-12)
    assert got["AAA"] == pytest.approx(0.25, rel=1e-12)
    assert delta[nodes.index("HHH")] == pytest.approx(1 / 6, rel=1e-15)
    # producers never appear as importers; C and D are not suppliers
    assert set(r.index) == {"CCC", "DDD", "HHH"}


def test_damping_zero_is_the_first_order_trade_risk():
    f = _flows([("AAA", "HHH", 100.0), ("HHH", "CCC", 60.0), ("BBB", "CCC", 40.0),
                ("ZZZ", "CCC", 25.0)])  # ZZZ has no rank
    r = systemic_trade_risk(f, RANK, damping=0.0).set_index("importer").loc["CCC"]
    first = trade_risk(supplier_shares(f, ["CCC"]), RANK).iloc[0]
    assert r.systemic_risk == pytest.approx(first.trade_risk, rel=1e-12)
    assert r.first_order_risk == pytest.approx(first.trade_risk, rel=1e-12)
    assert r.rank_missing_share == pytest.approx(first.rank_missing_share, rel=1e-12)


def _random_network(seed: int, n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"C{i:02d}" for i in range(n)]
    rows = [(names[i], names[j], float(rng.integers(1, 100)))
            for i in range(n) for j in range(n) if i != j and rng.random() < 0.3]
    return _flows(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("d", [0.0, 0.3, 0.85])
def test_row_stochastic_invariants(seed, d):
    nodes, s, delta = network(_random_network(seed))
    importing = np.asarray(s.sum(axis=1)).ravel() > 0
    # S: rows of importers sum to 1, others are empty
    np.testing.assert_allclose(np.asarray(s.sum(axis=1)).ravel()[importing], 1.0, rtol=1e-12)
    o = origin_matrix(s, delta, d)
    assert (o >= -1e-15).all()
    # every importer's supply traces back somewhere, in full: rows of O sum to 1
    np.testing.assert_allclose(o.sum(axis=1)[importing], 1.0, rtol=1e-10)
    # a constant risk stays that constant through any network
    np.testing.assert_allclose((o @ np.full(len(nodes), 0.37))[importing], 0.37, rtol=1e-10)
    # the same matrix by summing the propagation series Σ_n (d S (I − Δ))ⁿ S ((1−d) I + d Δ)
    sd = s.toarray()
    step = d * sd * (1 - delta)[None, :]
    term = sd * ((1 - d) + d * delta)[None, :]
    series = np.zeros_like(term)
    for _ in range(400):
        series += term
        term = step @ term
    np.testing.assert_allclose(o, series, atol=1e-12)


def test_damping_outside_range_is_an_error():
    nodes, s, delta = network(HAND)
    with pytest.raises(ValueError, match="damping"):
        origin_matrix(s, delta, 1.0)


def test_first_order_limit_on_the_warehouse(built_warehouse):
    from critmin.data import queries, warehouse
    con = warehouse.connect(built_warehouse, read_only=True)
    f = queries.commodity_flows(con, commodities=["palladium", "cobalt"], years=[2022])
    rank = queries.governance_estimates(con, "PV.PER.RNK")
    con.close()
    sys0 = systemic_trade_risk(f, rank, damping=0.0)
    for imp in ["DEU", "JPN", "USA", "CHN"]:
        first = trade_risk(supplier_shares(f[f["importer"] == imp], [imp]), rank)
        got = sys0[sys0["importer"] == imp].set_index("commodity")
        for row in first.itertuples():
            # the same sums in another order: 1e-12 relative
            assert got.loc[row.commodity, "systemic_risk"] == pytest.approx(row.trade_risk,
                                                                            rel=1e-12)
    sys5 = systemic_trade_risk(f, rank, damping=0.5)
    assert sys5["systemic_risk"].between(0, 1).all()
    # at damping > 0 the look-through moves some importers' risk
    merged = sys0.merge(sys5, on=["commodity", "importer"], suffixes=("_0", "_5"))
    assert (abs(merged["systemic_risk_5"] - merged["systemic_risk_0"]) > 0.01).any()


def test_cli_exposure_by_systemic(warehouse_copy):
    import json

    from typer.testing import CliRunner

    from critmin.cli import app
    runner = CliRunner()
    args = ["exposure", "EU", "-c", "palladium", "--year", "2022", "--format", "json"]
    first = json.loads(runner.invoke(app, args + ["--by", "trade-risk"]).stdout)["data"][0]
    zero = runner.invoke(app, args + ["--by", "systemic", "--damping", "0"])
    assert zero.exit_code == 0, zero.output
    row0 = json.loads(zero.stdout)["data"][0]
    # the bloc as one node, its internal trade left out: the first-order figure again
    assert row0["importer"] == "EU27"
    assert row0["systemic_risk"] == pytest.approx(first["trade_risk"], rel=1e-12)
    half = json.loads(runner.invoke(app, args + ["--by", "systemic"]).stdout)["data"][0]
    assert half["damping"] == 0.5 and half["systemic_risk"] != row0["systemic_risk"]
    bad = runner.invoke(app, args + ["--by", "systemic", "--damping", "1.5"])
    assert bad.exit_code != 0
