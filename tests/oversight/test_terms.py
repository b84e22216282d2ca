"""Contract terms: the shipped default loads and is sourced; bad files name file, line, field."""

from __future__ import annotations

import pytest
import yaml

from critmin.errors import DataFileError
from critmin.oversight.terms import (ContractTerms, TermsFileError, default_terms,
                                     default_terms_path, load_terms)


def test_default_terms_load_and_every_figure_has_a_source():
    t = default_terms()
    assert t.payables["Cu"].payable_fraction == 0.965 and t.payables["Cu"].min_deduction == 1.0
    assert t.umpire_rule == "mean_umpire_nearer" and t.umpire_rule_source
    assert t.treatment_charge_source
    groups = [t.payables, t.refining_charges, t.splitting_limits]
    for group in groups:
        for el, item in group.items():
            assert item.source, el
    assert all(p.source for p in t.penalties)
    # figures recalled from practice, not a source in hand, are marked
    assert t.payables["Au"].assumption and t.splitting_limits["Cu"].assumption
    assert not t.payables["Cu"].assumption


def test_splitting_limit_bands():
    au = default_terms().splitting_limits["Au"]
    assert au.limit_at(5.0) == pytest.approx(0.20)
    assert au.limit_at(20.0) == pytest.approx(0.80)


def _write(tmp_path, mutate):
    data = yaml.safe_load(default_terms_path().read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "terms.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d["payables"]["Cu"].update(payable_fraction=96.5),
     "payables.Cu.payable_fraction", "less than or equal to 1"),
    (lambda d: d["payables"]["Cu"].update(bands=[{"from_grade": 0, "payable_fraction": 0.9}]),
     "payables.Cu", "exactly one of payable_fraction or bands"),
    (lambda d: d.update(umpire_rule="coin toss"), "umpire_rule", "input should be"),
    (lambda d: d["splitting_limits"]["Cu"]["bands"][0].update(relative=0.01),
     "splitting_limits.Cu.bands.0", "exactly one of absolute or relative"),
    (lambda d: d["refining_charges"].update(Zn={"usd_per_lb": 0.1, "source": "x"}),
     "", "without a payable rule"),
    (lambda d: d["refining_charges"]["Cu"].update(usd_per_troy_oz=1.0),
     "refining_charges.Cu", "exactly one of"),
    (lambda d: d["penalties"][0].update(grade_unit="ppb"), "penalties.0.grade_unit", ""),
    (lambda d: d.update(treatment_charge_usd_per_dmt=float("nan")),
     "treatment_charge_usd_per_dmt", "finite"),
    (lambda d: d["payables"]["Cu"].update(payable=0.9), "payables.Cu.payable", "extra"),
])
def test_bad_terms_name_file_and_field(tmp_path, mutate, field, words):
    p = _write(tmp_path, mutate)
    with pytest.raises(TermsFileError) as e:
        load_terms(p)
    assert isinstance(e.value, DataFileError)
    assert e.value.path == str(p)
    assert (e.value.field or "") == field
    assert words.lower() in str(e.value).lower()
    if field:
        assert e.value.line is not None


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(TermsFileError, match="cannot read"):
        load_terms(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(TermsFileError, match="not valid YAML"):
        load_terms(bad)


def test_terms_from_python():
    t = ContractTerms.model_validate({"name": "x", "payables": {
        "Cu": {"grade_unit": "%", "payable_fraction": 0.9}}})
    assert t.treatment_charge_usd_per_dmt == 0.0 and t.seller_weight == 0.5
