"""Company files: YAML with a source for every figure (and `assumption: true` where a figure is
ours, not published), validated by pydantic; errors name the YAML field and line.

Money figures are in `money_unit` (e.g. bn) of their `currency` (default: the file's
`currency`); `fx` gives units of a foreign currency per one unit of the file's currency, each
with its source. Shares of revenue and probabilities are fractions (0.28 = 28%).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field, PrivateAttr, field_validator

from critmin.errors import DataFileError, UnknownNameError
from critmin.yamlfile import Strict, line_of, load_yaml_model


class CompanyFileError(DataFileError):
    """A company or scenario YAML file that cannot be used: names the file, line and field."""


class Figure(Strict):
    """One sourced number; `assumption: true` marks a figure that is ours, not published."""

    value: float
    source: str = Field(min_length=1)
    assumption: bool = False
    currency: str | None = None
    note: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class DebtSplit(Strict):
    short_term: Figure
    long_term: Figure


class PriceHistory(Strict):
    """A CSV of closing prices (columns `date` and `column`), path relative to the YAML."""

    path: str
    source: str = Field(min_length=1)
    column: str = "close"
    periods_per_year: int = 252
    assumption: bool = False


class Receivables(Strict):
    """Receivables delayed `delay_years` and cut by `haircut` (a fraction) by sanctions."""

    amount: Figure
    haircut: Figure
    delay_years: Figure


class ModelSettings(Strict):
    """Merton settings: rate r (continuously compounded per year), horizon T (years), which
    debt is the default point, the share of revenue in price-linked costs (royalties, duties)
    and, optionally, a physical asset drift μ (per year) for the real-world PD."""

    rate: Figure
    horizon: float = Field(default=1.0, gt=0)
    default_point: Literal["kmv", "total_debt"] = "kmv"
    price_linked_cost_share: Figure | None = None
    asset_drift: Figure | None = None


class Company(Strict):
    name: str = Field(min_length=1)
    ticker: str | None = None
    country: str = Field(min_length=2)
    as_of: dt.date
    currency: str = Field(min_length=3, max_length=3)
    money_unit: str = "bn"
    fx: dict[str, Figure] = {}
    market_cap: Figure
    shares_outstanding: Figure
    debt: DebtSplit
    cash: Figure
    revenue: Figure
    ebitda: Figure
    revenue_by_metal: dict[str, Figure]
    ebitda_by_metal: dict[str, Figure] | None = None
    equity_vol: Figure | None = None
    price_history: PriceHistory | None = None
    receivables: Receivables | None = None
    overlays: dict[str, Figure] = {}
    model: ModelSettings
    notes: str | None = None
    _base_dir: Path = PrivateAttr(default=Path("."))  # where price_history is resolved


def _fail(path, root, loc: tuple, problem: str):
    raise CompanyFileError(str(path), line_of(root, loc), ".".join(map(str, loc)), problem)


def _check(company: Company, path: Path, root) -> None:
    """Rules pydantic cannot see: signs, shares summing to one, known metals, FX present."""
    from critmin.catalog.commodities import commodity  # noqa: PLC0415 (catalog is heavy-ish)

    def positive(loc, fig):
        if fig is not None and not fig.value > 0:
            _fail(path, root, loc + ("value",), f"must be positive (got {fig.value:g})")

    for loc, fig in ((("market_cap",), company.market_cap),
                     (("shares_outstanding",), company.shares_outstanding),
                     (("revenue",), company.revenue), (("ebitda",), company.ebitda),
                     (("equity_vol",), company.equity_vol)):
        positive(loc, fig)
    for loc, fig in ((("debt", "short_term"), company.debt.short_term),
                     (("debt", "long_term"), company.debt.long_term), (("cash",), company.cash)):
        if fig.value < 0:
            _fail(path, root, loc + ("value",), "must not be negative")
    if company.debt.short_term.value + company.debt.long_term.value <= 0:
        _fail(path, root, ("debt",), "total debt must be positive: the Merton model needs debt")
    if company.equity_vol is None and company.price_history is None:
        _fail(path, root, ("equity_vol",),
              "missing: give equity_vol (annual) or a price_history to estimate it from")
    for part in ("revenue_by_metal", "ebitda_by_metal"):
        split = getattr(company, part)
        if split is None:
            continue
        if not split:
            _fail(path, root, (part,), "must list at least one metal")
        for metal, fig in split.items():
            if metal != "other":
                try:
                    commodity(metal)
                except UnknownNameError as exc:
                    _fail(path, root, (part, metal), str(exc))
            if not 0 <= fig.value <= 1:
                _fail(path, root, (part, metal, "value"), "a share must be within [0, 1]")
        total = sum(f.value for f in split.values())
        if abs(total - 1) > 0.005:
            _fail(path, root, (part,), f"shares must sum to 1 (they sum to {total:.4f}); "
                                       "add an 'other' entry for the rest")
    extra = set(company.ebitda_by_metal or {}) - set(company.revenue_by_metal)
    if extra:
        _fail(path, root, ("ebitda_by_metal", sorted(extra)[0]),
              "every metal in ebitda_by_metal must also be in revenue_by_metal")
    for name, fig in company.overlays.items():
        if not 0 <= fig.value <= 1:
            _fail(path, root, ("overlays", name, "value"),
                  "an annual default probability must be within [0, 1]")
    for cur_loc, fig in _money_figures(company):
        cur = fig.currency or company.currency
        if cur != company.currency and cur not in company.fx:
            _fail(path, root, cur_loc + ("currency",),
                  f"no fx rate for {cur}: add fx.{cur} (units of {cur} per {company.currency})")
    for cur, fig in company.fx.items():
        positive(("fx", cur), fig)


def _money_figures(c: Company):
    yield ("market_cap",), c.market_cap
    yield ("debt", "short_term"), c.debt.short_term
    yield ("debt", "long_term"), c.debt.long_term
    yield ("cash",), c.cash
    yield ("revenue",), c.revenue
    yield ("ebitda",), c.ebitda
    if c.receivables is not None:
        yield ("receivables", "amount"), c.receivables.amount


def load_company(path) -> Company:
    """Read and check a company YAML file; raises `CompanyFileError` naming the field."""
    path = Path(path)
    company = load_yaml_model(path, Company, CompanyFileError)
    root = yaml.compose(path.read_text(encoding="utf-8"))
    _check(company, path, root)
    company._base_dir = path.parent
    if company.price_history is not None:
        hist = _resolve(path.parent, company.price_history.path)
        if not hist.exists():
            _fail(path, root, ("price_history", "path"), f"file not found: {hist}")
    return company


def _resolve(base: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else base / p


def money(company: Company, fig: Figure) -> float:
    """The figure in the company's currency (money_unit unchanged): value / fx[currency]."""
    cur = fig.currency or company.currency
    return fig.value if cur == company.currency else fig.value / company.fx[cur].value


def equity_vol(company: Company, base_dir=None) -> float:
    """σE (annual): the stated `equity_vol`, else std(Δ ln close)·√periods_per_year of the
    price history (sample standard deviation)."""
    if company.equity_vol is not None:
        return company.equity_vol.value
    ph = company.price_history
    hist = _resolve(Path(base_dir) if base_dir is not None else company._base_dir, ph.path)
    try:
        df = pd.read_csv(hist)
        close = df[ph.column].to_numpy(float)
    except (OSError, KeyError, ValueError) as exc:
        raise CompanyFileError(str(hist), None, ph.column, f"cannot read prices: {exc}") from None
    if close.size < 3 or not (close > 0).all():
        raise CompanyFileError(str(hist), None, ph.column,
                               "need at least 3 positive closing prices")
    return float(np.std(np.diff(np.log(close)), ddof=1) * np.sqrt(ph.periods_per_year))


def _sourced(model: BaseModel, prefix: str = ""):
    """(field path, field name, dict key or None, object) for every object with an
    `assumption` flag (figures, price histories), walking nested models and dicts."""
    for name, value in model:
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, v in items:
            loc = f"{prefix}{name}" + (f".{key}" if key is not None else "")
            if isinstance(v, BaseModel):
                if hasattr(v, "assumption"):
                    yield loc, name, key, v
                yield from _sourced(v, loc + ".")


def assumptions(model: BaseModel, prefix: str = "") -> list[str]:
    """Field paths of every figure marked `assumption: true` (to print with results)."""
    return [loc for loc, _, _, v in _sourced(model, prefix) if v.assumption]


_UNITS = {"shares_outstanding": "shares", "revenue_by_metal": "share of revenue",
          "ebitda_by_metal": "share of EBITDA", "equity_vol": "per year",
          "overlays": "annual PD", "haircut": "fraction", "delay_years": "years",
          "rate": "per year, continuous", "asset_drift": "per year",
          "price_linked_cost_share": "share of revenue"}


def inputs_table(company: Company) -> pd.DataFrame:
    """Every figure of the file, one row each: field path, value, unit (money in
    `money_unit` of the figure's currency; shares and probabilities as fractions), whether it
    is marked `assumption: true`, and its source."""
    money_fields = {".".join(loc) for loc, _ in _money_figures(company)}
    rows = []
    for loc, name, key, v in _sourced(company):
        if isinstance(v, Figure):
            value = v.value
            unit = (f"{v.currency or company.currency} {company.money_unit}"
                    if loc in money_fields else
                    f"{key} per {company.currency}" if name == "fx" else _UNITS.get(name, ""))
        else:                                   # a price history: the file stands for the figure
            value, unit = float("nan"), getattr(v, "path", "")
        rows.append({"field": loc, "value": value, "unit": unit, "assumption": v.assumption,
                     "source": " ".join(v.source.split())})
    return pd.DataFrame(rows, columns=["field", "value", "unit", "assumption", "source"])
