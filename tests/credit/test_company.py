"""Company YAML files: the shipped examples load; bad files name the field (and line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from critmin.credit.company import (CompanyFileError, assumptions, equity_vol, load_company,
                                    money)
from critmin.errors import DataFileError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "companies"
NORNICKEL = EXAMPLES / "nornickel_2024.yaml"


def _variant(tmp_path, edit, name="company.yaml") -> Path:
    data = yaml.safe_load(NORNICKEL.read_text())
    edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_nornickel_example_loads_with_sources_and_assumptions():
    c = load_company(NORNICKEL)
    # RUB 1,766 bn at the stated 101.6797 RUB/USD -> USD 17.37 bn (report: USD 17.4 bn)
    assert money(c, c.market_cap) == pytest.approx(1766 / 101.6797, rel=1e-12)
    assert money(c, c.market_cap) == pytest.approx(17.4, abs=0.05)
    assert c.revenue.value == 12.5 and c.ebitda.value == 5.2 and not c.revenue.assumption
    assert c.shares_outstanding.value == 15_286_339_700
    marked = assumptions(c)
    for field in ("fx.RUB", "equity_vol", "debt.short_term", "overlays.payment_channel",
                  "revenue_by_metal.nickel", "model.rate"):
        assert field in marked
    assert "revenue" not in marked and "market_cap" not in marked


def test_every_example_figure_has_a_source():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        c = load_company(path)
        assert c.market_cap.source and c.ebitda.source and c.model.rate.source, path.name


def test_example_figures_that_say_they_are_ours_are_marked():
    # a figure whose source calls it an assumption, estimate, derivation or illustration must
    # carry `assumption: true`, so the printed inputs table flags it
    from critmin.credit.company import inputs_table
    ours = ("assumption", "derived", "estimate", "illustrative", "remainder", "from memory")
    for path in sorted(EXAMPLES.glob("*.yaml")):
        t = inputs_table(load_company(path))
        assert len(t) >= 12 and t["source"].str.strip().ne("").all(), path.name
        says_ours = t["source"].str.lower().str.contains("|".join(ours))
        unmarked = t.loc[says_ours & ~t["assumption"], "field"].tolist()
        assert unmarked == [], (path.name, unmarked)
        assert t["assumption"].any() and not t["assumption"].all(), path.name


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("ebitda"), "ebitda"),
    (lambda d: d["revenue"].pop("source"), "revenue.source"),
    (lambda d: d["debt"].pop("long_term"), "debt.long_term"),
    (lambda d: d["market_cap"].update(value="a lot"), "market_cap.value"),
    (lambda d: d.update(unknown_field=1), "unknown_field"),
    (lambda d: d["model"].update(default_point="half"), "model.default_point"),
])
def test_missing_or_malformed_figures_name_the_field(tmp_path, edit, field):
    with pytest.raises(CompanyFileError) as exc:
        load_company(_variant(tmp_path, edit))
    assert exc.value.field == field and f"field '{field}'" in str(exc.value)
    assert isinstance(exc.value, DataFileError)


@pytest.mark.parametrize("edit, field, match", [
    (lambda d: d["market_cap"].update(value=-5), "market_cap.value", "positive"),
    (lambda d: d["debt"]["short_term"].update(value=-1), "debt.short_term.value", "negative"),
    (lambda d: [d["debt"][k].update(value=0) for k in ("short_term", "long_term")], "debt",
     "needs debt"),
    (lambda d: d.pop("equity_vol"), "equity_vol", "price_history"),
    (lambda d: d["equity_vol"].update(value=0), "equity_vol.value", "positive"),
    (lambda d: d["revenue_by_metal"]["nickel"].update(value=0.5), "revenue_by_metal",
     "sum to 1"),
    (lambda d: d["revenue_by_metal"].update(nickle=d["revenue_by_metal"].pop("nickel")),
     "revenue_by_metal.nickle", "closest matches: Nickel"),
    (lambda d: d.pop("fx"), "market_cap.currency", "no fx rate for RUB"),
    (lambda d: d["overlays"]["payment_channel"].update(value=3), "overlays.payment_channel.value",
     "within"),
])
def test_bad_figures_name_the_field(tmp_path, edit, field, match):
    with pytest.raises(CompanyFileError, match=match) as exc:
        load_company(_variant(tmp_path, edit))
    assert exc.value.field == field
    assert exc.value.line is not None


def test_line_numbers_point_into_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    text = NORNICKEL.read_text().replace("  value: 12.5\n", "  value: twelve\n")
    path.write_text(text)
    with pytest.raises(CompanyFileError) as exc:
        load_company(path)
    want = text.splitlines().index("  value: twelve") + 1
    assert exc.value.field == "revenue.value" and exc.value.line == want


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(CompanyFileError, match="cannot read"):
        load_company(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: Assumption: colon\n")
    with pytest.raises(CompanyFileError, match=r"line 2: not valid YAML"):
        load_company(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(CompanyFileError, match="mapping"):
        load_company(lst)


def test_equity_vol_from_a_price_history(tmp_path):
    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(np.r_[0, 0.02 * rng.standard_normal(252)]))
    (tmp_path / "prices.csv").write_text(
        "date,close\n" + "".join(f"2024-01-{i:03d},{c}\n" for i, c in enumerate(close)))

    def edit(d):
        d.pop("equity_vol")
        d["price_history"] = {"path": "prices.csv", "source": "test series"}
    c = load_company(_variant(tmp_path, edit))
    want = np.std(np.diff(np.log(close)), ddof=1) * np.sqrt(252)
    assert equity_vol(c) == pytest.approx(want, rel=1e-12)

    def missing(d):
        edit(d)
        d["price_history"]["path"] = "nope.csv"
    with pytest.raises(CompanyFileError, match="file not found") as exc:
        load_company(_variant(tmp_path, missing, "m.yaml"))
    assert exc.value.field == "price_history.path"
