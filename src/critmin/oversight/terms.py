"""Contract (or tariff) terms for valuing a concentrate: payables, TC/RC, penalties, splitting
limits and the umpire rule, as data (YAML), never hard-coded.

Conventions (docs/methods.md, "Export oversight"):
- Grades are in the unit each rule names: `grade_unit` "%" (mass percent, 1 unit = 1 %) or
  "g/t" (grams per dry metric tonne; ppm by mass is the same number).
- Payable grade p = max(0, min(f·g, g − d)) for grade g ≥ `min_grade`, else 0; f is the payable
  fraction (of the band the grade falls in, when `bands` are given), d the minimum deduction in
  grade units. Cu 96.5 % with a 1-unit minimum deduction: p = min(0.965·g, g − 1).
- Refining charges per payable unit of metal (USD/lb for base metals, USD/troy oz for precious);
  treatment charge per dry metric tonne (dmt) of concentrate.
- Penalty = Σ tiers  usd_per_dmt_per_step · max(0, min(g, up_to) − threshold) / step · dmt
  (pro rata; `pro_rata: false` counts whole steps only).
- Splitting limit: |seller − buyer| ≤ limit → settled = w·seller + (1 − w)·buyer (w = 0.5 unless
  `seller_weight` says otherwise); otherwise the umpire assays the retained sample and
  `umpire_rule` decides (see `UmpireRule`).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from critmin.yamlfile import Strict, load_yaml_model
from critmin.errors import DataFileError

GradeUnit = Literal["%", "g/t"]

# Umpire rules, as coded by the Eka metals platform (table URM_UMPIRE_RULE_MASTER, rules A–D;
# docs/methods.md, "Export oversight"). "nearer" = the party whose assay is closer to the umpire's.
UmpireRule = Literal[
    "mean_umpire_nearer",            # C: final = mean(umpire, nearer party), always
    "umpire_final",                  # D: final = umpire
    "between_mean_else_nearer",      # A: umpire between the parties -> mean(umpire, nearer);
                                     #    outside -> nearer party's assay
    "between_mean_else_umpire",      # B: between -> mean(umpire, nearer); outside -> umpire
]


class TermsFileError(DataFileError):
    """A contract-terms YAML file that cannot be used: names the file, line and field."""


def _finite(v: float) -> float:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class PayableBand(Strict):
    """Payable fraction for grades from `from_grade` (inclusive) up to the next band."""

    from_grade: float = Field(ge=0)
    payable_fraction: float = Field(ge=0, le=1)


class PayableRule(Strict):
    """p = max(0, min(f·g, g − min_deduction)) for g ≥ min_grade, else 0 (grades in grade_unit)."""

    grade_unit: GradeUnit
    payable_fraction: float | None = Field(default=None, ge=0, le=1)
    bands: list[PayableBand] | None = None
    min_deduction: float = Field(default=0.0, ge=0)
    min_grade: float = Field(default=0.0, ge=0)
    max_grade: float | None = Field(default=None, gt=0)  # plausibility bound for input checks
    source: str | None = None
    assumption: bool = False

    @model_validator(mode="after")
    def _one_fraction(self):
        if (self.payable_fraction is None) == (self.bands is None):
            raise ValueError("give exactly one of payable_fraction or bands")
        if self.bands is not None:
            starts = [b.from_grade for b in self.bands]
            if not starts or starts != sorted(starts) or len(set(starts)) != len(starts):
                raise ValueError("bands must be non-empty and in increasing from_grade")
        return self


class RefiningCharge(Strict):
    """Charge per payable unit: exactly one of usd_per_lb, usd_per_troy_oz, usd_per_t."""

    usd_per_lb: float | None = None
    usd_per_troy_oz: float | None = None
    usd_per_t: float | None = None
    source: str | None = None
    assumption: bool = False

    @field_validator("usd_per_lb", "usd_per_troy_oz", "usd_per_t")
    @classmethod
    def _finite_rc(cls, v):
        return _finite(v)

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [v for v in (self.usd_per_lb, self.usd_per_troy_oz, self.usd_per_t)
                 if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of usd_per_lb, usd_per_troy_oz, usd_per_t")
        return self


class Penalty(Strict):
    """usd_per_dmt_per_step for each `step` of grade above `threshold` (up to `up_to`)."""

    element: str = Field(min_length=1)
    grade_unit: GradeUnit
    threshold: float = Field(ge=0)
    step: float = Field(gt=0)
    usd_per_dmt_per_step: float = Field(ge=0)
    up_to: float | None = None
    pro_rata: bool = True
    source: str | None = None
    assumption: bool = False

    @model_validator(mode="after")
    def _band(self):
        if self.up_to is not None and self.up_to <= self.threshold:
            raise ValueError("up_to must be above threshold")
        return self


class SplittingBand(Strict):
    """Limit for mean grades from `from_grade` on: `absolute` (grade units) or `relative`
    (fraction of the mean of the two assays), not both."""

    from_grade: float = Field(default=0.0, ge=0)
    absolute: float | None = Field(default=None, gt=0)
    relative: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one(self):
        if (self.absolute is None) == (self.relative is None):
            raise ValueError("give exactly one of absolute or relative")
        return self


class SplittingLimit(Strict):
    """Splitting limit of one element, possibly grade-banded (band chosen by the mean assay)."""

    grade_unit: GradeUnit
    bands: list[SplittingBand] = Field(min_length=1)
    source: str | None = None
    assumption: bool = False

    @model_validator(mode="after")
    def _sorted(self):
        starts = [b.from_grade for b in self.bands]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("bands must be in increasing from_grade")
        return self

    def limit_at(self, mean_grade: float) -> float:
        """The splitting limit (grade units) that applies at `mean_grade`."""
        band = self.bands[0]
        for b in self.bands:
            if mean_grade >= b.from_grade:
                band = b
        return band.absolute if band.absolute is not None else band.relative * mean_grade


class ContractTerms(Strict):
    """One contract's (or the state tariff's) valuation terms; elements keyed by symbol."""

    name: str = Field(min_length=1)
    description: str | None = None
    currency: Literal["USD"] = "USD"
    treatment_charge_usd_per_dmt: float = 0.0
    treatment_charge_source: str | None = None
    payables: dict[str, PayableRule] = Field(min_length=1)
    refining_charges: dict[str, RefiningCharge] = {}
    penalties: list[Penalty] = []
    splitting_limits: dict[str, SplittingLimit] = {}
    seller_weight: float = Field(default=0.5, ge=0, le=1)
    umpire_rule: UmpireRule = "mean_umpire_nearer"
    umpire_rule_source: str | None = None
    notes: str | None = None

    @field_validator("treatment_charge_usd_per_dmt")
    @classmethod
    def _finite_tc(cls, v):
        return _finite(v)

    @model_validator(mode="after")
    def _rc_payable(self):
        extra = sorted(set(self.refining_charges) - set(self.payables))
        if extra:
            raise ValueError(f"refining charge for element(s) without a payable rule: {extra}")
        return self


def load_terms(path: str | Path) -> ContractTerms:
    """Read contract terms from YAML; any problem raises `TermsFileError` naming file, line and
    field (e.g. `payables.Cu.payable_fraction`)."""
    return load_yaml_model(path, ContractTerms, TermsFileError)


def default_terms_path() -> Path:
    """The shipped generic copper–gold concentrate contract (figures typical/assumed)."""
    return Path(str(resources.files("critmin.oversight").joinpath("terms_default.yaml")))


def default_terms() -> ContractTerms:
    """`load_terms(default_terms_path())`."""
    return load_terms(default_terms_path())
