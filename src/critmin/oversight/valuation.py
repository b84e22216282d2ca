"""Valuation of concentrate shipments: contained and payable metal, net smelter return, and the
value and mineral extraction tax (MET) lost when a grade is under-declared.

Symbols (docs/methods.md, "Export oversight"):

    M_e  = D · g_e · k_u                     contained metal (t); D dry metric tonnes (dmt),
                                              g_e grade, k_u = 0.01 for %, 1e-6 for g/t (= ppm)
    p_e  = max(0, min(f_e·g_e, g_e − d_e))    payable grade (f payable fraction, d min deduction)
    P_e  = D · p_e · k_u                     payable metal (t)
    G    = Σ_e P_e · π_e                     gross payable value (π price, USD/t)
    TC   = D · tc                            treatment charge (USD/dmt)
    RC   = Σ_e P_e · rc_e                    refining charges (per payable lb / troy oz)
    Pen  = Σ tiers D · r · max(0, min(g, up_to) − θ) / step
    NSR  = G − TC − RC − Pen                 net smelter return (USD)
    V_e  = M_e · π_e                         value of contained metal (MET base, Art. 745)
    ΔV_e = V_e(control) − V_e(declared);   lost MET = Σ_e rate_e · ΔV_e

Inputs are scalars, numpy arrays or pandas Series (one entry per shipment). A negative mass, a
grade above 100 % (or above a rule's `max_grade`), a moisture outside 0..100 % or a NaN raises
`ValuationInputError`, whose message (and `field`) names the input and the first bad entry.
Grades in ppm are taken as g/t (same number, mass basis); 1 g/t = 1,000 ppb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from critmin.catalog import units as _units
from critmin.catalog.units import GRADE_FRACTION, MASS_TO_T, price_to_usd_per_t
from critmin.errors import CritminError
from critmin.oversight import tax as _tax
from critmin.oversight.terms import ContractTerms, PayableRule, SplittingLimit, UmpireRule

GRADE_MAX: dict[str, float] = {"%": 100.0, "g/t": 1e6, "ppm": 1e6, "ppb": 1e9}
DEFAULT_MASS_UNIT: dict[str, str] = {"%": "t", "g/t": "troy oz", "ppm": "troy oz",
                                     "ppb": "troy oz"}
_UNIT_SLUG = {"t": "t", "kg": "kg", "g": "g", "troy oz": "troy_oz", "lb": "lb", "kt": "kt",
              "Mt": "Mt"}


class ValuationInputError(CritminError, ValueError):
    """An input to a valuation function that cannot be used; `field` names it."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# --- input checks ----------------------------------------------------------------------------

def _where(x, mask) -> str:
    """' (entry <label>)' for the first True of mask, '' for a scalar."""
    if np.ndim(x) == 0:
        return ""
    i = int(np.argmax(mask))
    label = x.index[i] if isinstance(x, pd.Series) else i
    return f" (entry {label!r})"


def _checked(x, field: str, *, upper: float | None = None, upper_hint: str = "",
             positive: bool = False) -> np.ndarray:
    """x as a float array after the missing/negative/upper-bound checks, naming `field`."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValuationInputError(field, f"not a number: {x!r}") from None
    if np.isnan(a).any():
        raise ValuationInputError(field, f"missing value (NaN){_where(x, np.isnan(a))}; "
                                  "no value is filled in silently")
    if np.isinf(a).any():
        raise ValuationInputError(field, f"infinite value{_where(x, np.isinf(a))}")
    bad = a <= 0 if positive else a < 0
    if bad.any():
        v = a[bad][0] if a.ndim else float(a)
        raise ValuationInputError(field, f"must be {'positive' if positive else 'non-negative'}"
                                  f", got {v:g}{_where(x, bad)}")
    if upper is not None and (a > upper).any():
        v = a[a > upper][0] if a.ndim else float(a)
        raise ValuationInputError(field, f"{v:g} is above {upper:g}{upper_hint}"
                                  f"{_where(x, a > upper)}")
    return a


def _grade_unit(unit: str, field: str) -> str:
    if unit not in GRADE_FRACTION:
        raise ValuationInputError(field, f"unknown grade unit {unit!r}; use one of "
                                  f"{', '.join(GRADE_FRACTION)}")
    return unit


def _checked_grade(g, unit: str, field: str, max_grade: float | None = None) -> np.ndarray:
    unit = _grade_unit(unit, f"{field} unit")
    upper, hint = GRADE_MAX[unit], f" {unit}, impossible for a grade"
    if max_grade is not None and max_grade < upper:
        upper, hint = max_grade, (f" {unit}, the plausible maximum of the terms (max_grade): "
                                  "is the grade in another unit (ppb, ppm of a compound)?")
    return _checked(g, field, upper=upper, upper_hint=hint)


def convert_grade(grade, from_unit: str, to_unit: str):
    """Grade in `to_unit` (`critmin.catalog.units.convert_grade`), with the unit names checked
    here so an error names the argument."""
    return _units.convert_grade(grade, _grade_unit(from_unit, "from_unit"),
                                _grade_unit(to_unit, "to_unit"))


def _like(values: np.ndarray, *inputs, name: str | None = None):
    """Return `values` in the kind of the inputs: Series (index of the first Series input),
    ndarray, or float."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(np.broadcast_to(values, (len(x),)), index=x.index, name=name)
    if np.ndim(values) == 0:
        return float(values)
    return np.asarray(values)


def _mass_unit(unit: str) -> float:
    if unit not in MASS_TO_T:
        raise ValuationInputError("unit", f"unknown mass unit {unit!r}; use one of "
                                  f"{', '.join(MASS_TO_T)}")
    return MASS_TO_T[unit]


# --- masses ----------------------------------------------------------------------------------

def dry_tonnes(wet_tonnes, moisture_pct):
    """D = W · (1 − H/100): dry metric tonnes from wet tonnes W and moisture H (% of wet mass,
    ISO 10251)."""
    w = _checked(wet_tonnes, "wet_tonnes")
    h = _checked(moisture_pct, "moisture_pct", upper=100.0,
                 upper_hint=" % (moisture is a percent of the wet mass)")
    if (h >= 100).any():
        raise ValuationInputError("moisture_pct", f"100 % moisture leaves no dry mass"
                                  f"{_where(moisture_pct, h >= 100)}")
    return _like(w * (1 - h / 100), wet_tonnes, moisture_pct, name="dry_t")


def contained_metal(dry_tonnes, grade, grade_unit: str, *, unit: str | None = None):
    """M = D · g · k_u (k_u = 0.01 for %, 1e-6 for g/t and ppm), in `unit`.

    `unit` defaults to t for % grades (base metals) and troy oz for g/t (precious metals);
    any mass unit of `critmin.catalog.units.MASS_TO_T` ('kg', 'lb', ...) can be asked for.
    A Series result is named `contained_<unit>` (e.g. contained_troy_oz)."""
    unit = unit or DEFAULT_MASS_UNIT[_grade_unit(grade_unit, "grade_unit")]
    d = _checked(dry_tonnes, "dry_tonnes")
    g = _checked_grade(grade, grade_unit, "grade")
    m = d * g * GRADE_FRACTION[grade_unit] / _mass_unit(unit)
    return _like(m, dry_tonnes, grade, name=f"contained_{_UNIT_SLUG.get(unit, unit)}")


def ore_to_concentrate(ore_t, head_grade, recovery, concentrate_grade):
    """C = O · h · R / c: dry tonnes of concentrate from ore tonnes O at head grade h with
    recovery R (fraction) to a concentrate grading c (same grade unit as h)."""
    o = _checked(ore_t, "ore_t")
    h = _checked(head_grade, "head_grade")
    r = _checked(recovery, "recovery", upper=1.0, upper_hint=" (recovery is a fraction 0..1)")
    c = _checked(concentrate_grade, "concentrate_grade", positive=True)
    return _like(o * h * r / c, ore_t, head_grade, recovery, concentrate_grade,
                 name="concentrate_dmt")


def recovered_grade(ore_t, head_grade, recovery, concentrate_dmt):
    """g_c = O · h · R / C: grade in the concentrate of a metal recovered with R (by-product
    gold in a copper concentrate), in the unit of the head grade h."""
    o = _checked(ore_t, "ore_t")
    h = _checked(head_grade, "head_grade")
    r = _checked(recovery, "recovery", upper=1.0, upper_hint=" (recovery is a fraction 0..1)")
    c = _checked(concentrate_dmt, "concentrate_dmt", positive=True)
    return _like(o * h * r / c, ore_t, head_grade, recovery, concentrate_dmt,
                 name="concentrate_grade")


# --- payables --------------------------------------------------------------------------------

def payable_grade(grade, rule: PayableRule, *, grade_unit: str | None = None):
    """p = max(0, min(f·g, g − d)) for g ≥ min_grade, else 0, in the rule's grade unit.

    f is the rule's payable fraction, or that of the band the grade falls in (nothing is paid
    below the first band); d the minimum deduction. Cu 96.5 % with a 1-unit minimum deduction:
    25 % Cu -> min(24.125, 24) = 24 %; 30 % Cu -> min(28.95, 29) = 28.95 %.
    `grade_unit` (default: the rule's) is converted to the rule's unit first."""
    gu = grade_unit or rule.grade_unit
    g = convert_grade(_checked_grade(grade, gu, "grade"), gu, rule.grade_unit)
    _checked_grade(g, rule.grade_unit, "grade", rule.max_grade)
    if rule.bands is None:
        f = np.full_like(g, rule.payable_fraction, dtype=float)
    else:
        starts = np.array([b.from_grade for b in rule.bands])
        fr = np.array([b.payable_fraction for b in rule.bands])
        i = np.searchsorted(starts, g, side="right") - 1
        f = np.where(i >= 0, fr[np.clip(i, 0, None)], 0.0)
    p = np.maximum(0.0, np.minimum(f * g, g - rule.min_deduction))
    p = np.where(g >= rule.min_grade, p, 0.0)
    return _like(p, grade, name="payable_grade")


def payable_metal(dry_tonnes, grade, rule: PayableRule, *, grade_unit: str | None = None,
                  unit: str | None = None):
    """P = D · p · k_u with p = `payable_grade(grade, rule)`; unit as in `contained_metal`."""
    p = payable_grade(grade, rule, grade_unit=grade_unit)
    out = contained_metal(dry_tonnes, p, rule.grade_unit, unit=unit)
    return out.rename(str(out.name).replace("contained_", "payable_")) \
        if isinstance(out, pd.Series) else out


def _penalty_usd_per_dmt(g: np.ndarray, pen) -> np.ndarray:
    top = np.inf if pen.up_to is None else pen.up_to
    steps = np.clip(np.minimum(g, top) - pen.threshold, 0.0, None) / pen.step
    if not pen.pro_rata:
        steps = np.floor(steps + 1e-9)
    return steps * pen.usd_per_dmt_per_step


def penalty(dry_tonnes, grade, terms: ContractTerms, element: str, *,
            grade_unit: str | None = None):
    """Pen = Σ tiers D · r · max(0, min(g, up_to) − θ) / step (USD), over the penalty tiers of
    `element` in `terms`; 0 when the terms have none."""
    d = _checked(dry_tonnes, "dry_tonnes")
    total = np.zeros(np.broadcast(d, np.asarray(grade, dtype=float)).shape)
    for pen in (p for p in terms.penalties if p.element == element):
        gu = grade_unit or pen.grade_unit
        g = convert_grade(_checked_grade(grade, gu, f"grade {element}"), gu, pen.grade_unit)
        total = total + d * _penalty_usd_per_dmt(g, pen)
    return _like(total, dry_tonnes, grade, name=f"penalty_usd_{element}")


def _unit_of(element: str, terms: ContractTerms, grade_units: Mapping[str, str] | None) -> str:
    if grade_units and element in grade_units:
        return _grade_unit(grade_units[element], f"grade_units[{element!r}]")
    if element in terms.payables:
        return terms.payables[element].grade_unit
    pens = [p.grade_unit for p in terms.penalties if p.element == element]
    if pens:
        return pens[0]
    raise ValuationInputError(f"grade_units[{element!r}]", f"element {element!r} is not in the "
                              "terms: give its grade unit ('%', 'g/t' or 'ppm')")


def concentrate_value(dry_tonnes, grades, terms: ContractTerms,
                      prices_usd_per_t: Mapping[str, float], *,
                      grade_units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """NSR = G − TC − RC − Pen per shipment, and V = Σ_e M_e · π_e (value of contained metal).

    dry_tonnes: dmt per shipment (scalar, array or Series).
    grades: element -> grade (scalar/array/Series), or a DataFrame with one column per
        element; units are the terms' (or `grade_units[element]`). Elements left out are not
        valued; a NaN is an error.
    prices_usd_per_t: element -> price in USD per t of metal (convert with
        `critmin.catalog.units.price_to_usd_per_t`, e.g. 3.25 USD/lb); needed for every element
        with a grade except penalty-only elements. Elements with a price but no payable rule
        (e.g. REE in a copper concentrate) count in the contained value only.

    Returns one row per shipment (the index of `grades`/`dry_tonnes` when they are pandas):
    dry_t; per element contained_<t|troy_oz>_<el>, payable_<t|troy_oz>_<el>,
    contained_value_usd_<el>, payable_value_usd_<el>, rc_usd_<el>, penalty_usd_<el>; totals
    gross_usd, tc_usd, rc_usd, penalties_usd, nsr_usd, contained_value_usd."""
    cols = dict(grades.items()) if isinstance(grades, (Mapping, pd.DataFrame)) else None
    if cols is None:
        raise ValuationInputError("grades", "give a mapping element -> grade or a DataFrame")
    index = next((x.index for x in [dry_tonnes, *cols.values()] if isinstance(x, pd.Series)),
                 None)
    n = len(index) if index is not None else max(
        [int(np.size(dry_tonnes))] + [int(np.size(v)) for v in cols.values()])
    d = np.broadcast_to(_checked(dry_tonnes, "dry_tonnes"), (n,)).astype(float)
    out: dict[str, np.ndarray] = {"dry_t": d}
    gross = np.zeros(n)
    rc_tot = np.zeros(n)
    pen_tot = np.zeros(n)
    contained_tot = np.zeros(n)
    penalty_elements = {p.element for p in terms.penalties}
    for el, g_in in cols.items():
        gu = _unit_of(el, terms, grade_units)
        rule = terms.payables.get(el)
        top = None if rule is None or rule.max_grade is None else convert_grade(
            rule.max_grade, rule.grade_unit, gu)
        g = np.broadcast_to(_checked_grade(g_in, gu, f"grade {el}", top), (n,)).astype(float)
        slug = _UNIT_SLUG[DEFAULT_MASS_UNIT[gu]]
        if el in prices_usd_per_t:
            price = _checked(prices_usd_per_t[el], f"prices_usd_per_t[{el!r}]")
            m_t = d * g * GRADE_FRACTION[gu]
            out[f"contained_{slug}_{el}"] = m_t / MASS_TO_T[DEFAULT_MASS_UNIT[gu]]
            out[f"contained_value_usd_{el}"] = m_t * price
            contained_tot += m_t * price
            if rule is not None:
                p = np.asarray(payable_grade(g, rule, grade_unit=gu), dtype=float)
                p_t = d * p * GRADE_FRACTION[rule.grade_unit]
                out[f"payable_{slug}_{el}"] = p_t / MASS_TO_T[DEFAULT_MASS_UNIT[gu]]
                out[f"payable_value_usd_{el}"] = p_t * price
                gross += p_t * price
                rc = terms.refining_charges.get(el)
                if rc is not None:
                    per_t = (price_to_usd_per_t(rc.usd_per_lb, "USD/lb") if rc.usd_per_lb is not
                             None else price_to_usd_per_t(rc.usd_per_troy_oz, "USD/troy oz")
                             if rc.usd_per_troy_oz is not None else rc.usd_per_t)
                    out[f"rc_usd_{el}"] = p_t * per_t
                    rc_tot += p_t * per_t
        elif el in terms.payables or el not in penalty_elements:
            raise ValuationInputError(f"prices_usd_per_t[{el!r}]",
                                      f"no price for {el!r}, which has a grade; prices are "
                                      "never filled in")
        if el in penalty_elements:
            pen = np.asarray(penalty(d, g, terms, el, grade_unit=gu), dtype=float)
            out[f"penalty_usd_{el}"] = pen
            pen_tot += pen
    tc = d * terms.treatment_charge_usd_per_dmt
    out.update(gross_usd=gross, tc_usd=tc, rc_usd=rc_tot, penalties_usd=pen_tot,
               nsr_usd=gross - tc - rc_tot - pen_tot, contained_value_usd=contained_tot)
    return pd.DataFrame(out, index=index)


# --- assay exchange --------------------------------------------------------------------------

def _limit(limits, mean: np.ndarray) -> np.ndarray:
    if isinstance(limits, SplittingLimit):
        return np.array([limits.limit_at(m) for m in np.atleast_1d(mean)]).reshape(np.shape(mean))
    lim = _checked(limits, "limits", positive=True)
    return np.broadcast_to(lim, np.shape(mean)).astype(float)


def splitting_limit_check(seller, buyer, limits: SplittingLimit | float, *,
                          seller_weight: float = 0.5):
    """|s − b| ≤ L(mean) → settled = w·s + (1 − w)·b; else 'umpire'.

    `limits` is an element's `SplittingLimit` (possibly grade-banded, absolute or relative,
    band chosen by the mean of the two assays) or an absolute limit in grade units. Scalars
    give a float or the string 'umpire'; arrays/Series give an object array/Series of both."""
    s = _checked(seller, "seller")
    b = _checked(buyer, "buyer")
    lim = _limit(limits, (s + b) / 2)
    ok = np.abs(s - b) <= lim * (1 + 1e-9) + 1e-12  # a difference equal to the limit splits
    settled = seller_weight * s + (1 - seller_weight) * b
    if np.ndim(ok) == 0:
        return float(settled) if bool(ok) else "umpire"
    res = np.array([float(v) if k else "umpire" for v, k in zip(settled, ok)], dtype=object)
    for x in (seller, buyer):
        if isinstance(x, pd.Series):
            return pd.Series(res, index=x.index, name="settled")
    return res


def umpire_settle(seller, buyer, umpire, rule: UmpireRule = "mean_umpire_nearer"):
    """Final assay after an umpire assay u, with 'nearer' = the party closer to u:

    mean_umpire_nearer (C): (u + nearer)/2; umpire_final (D): u;
    between_mean_else_nearer (A): u between the parties -> (u + nearer)/2, else nearer;
    between_mean_else_umpire (B): between -> (u + nearer)/2, else u.
    When u is exactly mid-way between the parties the umpire's assay is final (all rules).
    Source: Eka metals platform, URM_UMPIRE_RULE_MASTER (rules A–D)."""
    s = _checked(seller, "seller")
    b = _checked(buyer, "buyer")
    u = _checked(umpire, "umpire")
    ds, db = np.abs(u - s), np.abs(u - b)
    nearer = np.where(ds < db, s, b)
    mean = (u + nearer) / 2
    between = (u >= np.minimum(s, b)) & (u <= np.maximum(s, b))
    if rule == "mean_umpire_nearer":
        f = mean
    elif rule == "umpire_final":
        f = u
    elif rule == "between_mean_else_nearer":
        f = np.where(between, mean, nearer)
    elif rule == "between_mean_else_umpire":
        f = np.where(between, mean, u)
    else:
        raise ValuationInputError("rule", f"unknown umpire rule {rule!r}")
    f = np.where(np.isclose(ds, db, rtol=1e-12, atol=1e-12), u, f)
    return _like(f, seller, buyer, umpire, name="final")


def assay_exchange(seller, buyer, limits: SplittingLimit | float, *, umpire=None,
                   rule: UmpireRule = "mean_umpire_nearer",
                   seller_weight: float = 0.5) -> pd.DataFrame:
    """The exchange for many lots: difference, limit, within_limit, final (NaN where an umpire
    is needed but `umpire` is not given or NaN there) and basis ('split', 'umpire:<rule>',
    'umpire pending')."""
    s = np.atleast_1d(_checked(seller, "seller"))
    b = np.atleast_1d(_checked(buyer, "buyer"))
    lim = _limit(limits, (s + b) / 2)
    ok = np.abs(s - b) <= lim * (1 + 1e-9) + 1e-12
    final = np.where(ok, seller_weight * s + (1 - seller_weight) * b, np.nan)
    basis = np.where(ok, "split", "umpire pending").astype(object)
    if umpire is not None:
        u = np.broadcast_to(np.asarray(umpire, dtype=float), s.shape)
        need = ~ok & ~np.isnan(u)
        if need.any():
            final[need] = umpire_settle(s[need], b[need], u[need], rule)
            basis[need] = f"umpire:{rule}"
    index = next((x.index for x in (seller, buyer) if isinstance(x, pd.Series)), None)
    return pd.DataFrame({"seller": s, "buyer": b, "difference": s - b, "limit": lim,
                         "within_limit": ok, "final": final, "basis": basis}, index=index)


# --- leakage ---------------------------------------------------------------------------------

def undeclared_value(declared_grades: pd.DataFrame, control_grades: pd.DataFrame, dry_tonnes,
                     terms: ContractTerms, prices_usd_per_t: Mapping[str, float], *,
                     on_date=None, met_rates: Mapping[str, float] | None = None,
                     grade_units: Mapping[str, str] | None = None,
                     missing: Literal["raise", "declared"] = "raise",
                     carry_forward: bool = False) -> pd.DataFrame:
    """Per shipment: ΔNSR = NSR(control) − NSR(declared), ΔV = V(control) − V(declared) and
    lost MET = Σ_e rate_e · ΔV_e (positive = declared too low).

    declared_grades, control_grades: one row per shipment (same index), one column per
        element (units as in `concentrate_value`).
    on_date: date (or Series of dates, one per shipment) for the Kazakhstan MET rates of
        `critmin.oversight.tax`; or give `met_rates` (element -> rate) instead.
    missing: 'raise' (default) makes a NaN control grade an error; 'declared' takes the declared
        grade for it (the element was not re-assayed: no difference is claimed) and lists it in
        the column `elements_not_checked`.
    Elements valued are those with a price; the MET base is their contained value at the same
    price (Art. 745 uses the average exchange price of the period)."""
    dec = pd.DataFrame(declared_grades)
    ctl = pd.DataFrame(control_grades)
    if not dec.index.equals(ctl.index):
        raise ValuationInputError("control_grades", "index differs from declared_grades: "
                                  "rows must be the same shipments in the same order")
    extra = sorted(set(ctl.columns) - set(dec.columns))
    if extra:
        raise ValuationInputError("control_grades", f"elements {extra} have no declared grade")
    ctl = ctl.reindex(columns=dec.columns)
    not_checked = pd.Series("", index=dec.index)
    if ctl.isna().to_numpy().any():
        if missing != "declared":
            r, c = np.argwhere(ctl.isna().to_numpy())[0]
            raise ValuationInputError(
                f"control_grades[{ctl.columns[c]!r}]",
                f"missing control grade (entry {ctl.index[r]!r}); pass missing='declared' if "
                "the element was not re-assayed")
        nan = ctl.isna()
        not_checked = nan.apply(lambda row: ";".join(row.index[row]), axis=1)
        ctl = ctl.where(~nan, dec)
    if isinstance(dry_tonnes, pd.Series) and not dry_tonnes.index.equals(dec.index):
        raise ValuationInputError("dry_tonnes", "index differs from declared_grades")
    if isinstance(on_date, pd.Series) and not on_date.index.equals(dec.index):
        raise ValuationInputError("on_date", "index differs from declared_grades")
    d = dry_tonnes.to_numpy() if isinstance(dry_tonnes, pd.Series) else dry_tonnes
    vd = concentrate_value(pd.Series(np.broadcast_to(d, (len(dec),)), index=dec.index), dec,
                           terms, prices_usd_per_t, grade_units=grade_units)
    vc = concentrate_value(pd.Series(np.broadcast_to(d, (len(dec),)), index=dec.index), ctl,
                           terms, prices_usd_per_t, grade_units=grade_units)
    out = pd.DataFrame(index=dec.index)
    out["dry_t"] = vd["dry_t"]
    out["nsr_declared_usd"] = vd["nsr_usd"]
    out["nsr_control_usd"] = vc["nsr_usd"]
    out["undeclared_nsr_usd"] = vc["nsr_usd"] - vd["nsr_usd"]
    out["contained_value_declared_usd"] = vd["contained_value_usd"]
    out["contained_value_control_usd"] = vc["contained_value_usd"]
    out["undeclared_contained_usd"] = vc["contained_value_usd"] - vd["contained_value_usd"]
    lost = np.zeros(len(dec))
    for el in dec.columns:
        col = f"contained_value_usd_{el}"
        if col not in vd:
            continue  # not valued (penalty-only element)
        dv = (vc[col] - vd[col]).to_numpy()
        if met_rates is not None:
            if el not in met_rates:
                raise ValuationInputError(f"met_rates[{el!r}]", f"no MET rate for {el!r}")
            rate = float(met_rates[el])
        elif on_date is not None:
            dates = on_date.to_numpy() if isinstance(on_date, pd.Series) else on_date
            rate = _tax.met_rate(el, dates, carry_forward=carry_forward)
        else:
            raise ValuationInputError("on_date", "give the date(s) for the MET rates, or "
                                      "met_rates")
        out[f"undeclared_contained_usd_{el}"] = dv
        out[f"lost_tax_usd_{el}"] = dv * rate
        lost = lost + dv * rate
    out["lost_tax_usd"] = lost
    out["elements_not_checked"] = not_checked
    return out


def aggregate_leakage(per_shipment: pd.DataFrame, by: str | Sequence[str], *,
                      columns: Sequence[str] = ("undeclared_nsr_usd", "lost_tax_usd"),
                      method: Literal["bootstrap", "normal"] = "bootstrap",
                      level: float = 0.95, n_boot: int = 2000,
                      random_state: int | np.random.Generator | None = None,
                      date_column: str = "date", period_freq: str = "M") -> pd.DataFrame:
    """Totals T = Σ_i x_i per group (exporter, laboratory, period, ...) with an interval.

    bootstrap (default): resample the group's shipments with replacement `n_boot` times
    (seeded by `random_state`); the interval is the (1 − level)/2 and (1 + level)/2
    percentiles of the resampled totals (percentile bootstrap, Efron & Tibshirani 1993).
    normal: T ± z · √n · s, s the sample standard deviation of x_i.
    Either reads the checked shipments as a sample of the shipments like them: the interval is
    for the leakage of such a stream, not a measurement error of the sum. Groups with fewer
    than 2 shipments get NaN bounds.
    `by` may name 'period': taken from the column 'period' if present, else from
    `date_column` at `period_freq` (pandas period alias; 'M' monthly, 'Q', 'Y')."""
    keys = [by] if isinstance(by, str) else list(by)
    df = per_shipment
    if "period" in keys and "period" not in df.columns:
        if date_column not in df.columns:
            raise ValuationInputError("by", f"'period' needs a column 'period' or "
                                      f"{date_column!r} in per_shipment")
        df = df.assign(period=pd.to_datetime(df[date_column]).dt.to_period(period_freq)
                       .astype(str))
    missing = [c for c in [*keys, *columns] if c not in df.columns]
    if missing:
        raise ValuationInputError("per_shipment", f"column(s) missing: {missing}")
    if not 0 < level < 1:
        raise ValuationInputError("level", f"must lie in 0..1, got {level}")
    for c in columns:
        _checked(df[c].abs(), c)  # NaN/inf check
    rng = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(random_state)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    z = float(norm.ppf(hi_q))
    rows = []
    for key, g in df.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        n = len(g)
        row["n_shipments"] = n
        for c in columns:
            x = g[c].to_numpy(dtype=float)
            total = x.sum()
            lo = hi = np.nan
            if n >= 2 and method == "bootstrap":
                sums = np.empty(n_boot)
                step = max(1, 2_000_000 // n)
                for s0 in range(0, n_boot, step):
                    k = min(step, n_boot - s0)
                    sums[s0:s0 + k] = x[rng.integers(0, n, size=(k, n))].sum(axis=1)
                lo, hi = np.quantile(sums, [lo_q, hi_q])
            elif n >= 2 and method == "normal":
                half = z * np.sqrt(n) * x.std(ddof=1)
                lo, hi = total - half, total + half
            elif method not in ("bootstrap", "normal"):
                raise ValuationInputError("method", f"unknown method {method!r}")
            row[c] = total
            row[f"{c}_lo"] = lo
            row[f"{c}_hi"] = hi
        rows.append(row)
    return pd.DataFrame(rows)


def undeclared_from_pairs(pairs: pd.DataFrame, shipments: pd.DataFrame, terms: ContractTerms,
                          prices_usd_per_t: Mapping[str, float],
                          grade_units: Mapping[str, str]) -> tuple[pd.DataFrame, set[str]]:
    """`undeclared_value` for every shipment of `pairs` (`bias.paired_assays`: one row per
    shipment × element with declared and control grades), joined to its exporter_id, date and
    declaring laboratory_id.

    Shipments carry different element sets (copper concentrate, gold ore...): each set is valued
    on its own priced elements, so no grade is ever filled in. Returns the per-shipment table and
    the elements left unvalued for want of a price."""
    if pairs.empty:
        raise ValuationInputError("pairs", "no shipment has both a certificate and a control "
                                  "assay")
    declared = pairs.pivot_table(index="shipment_id", columns="element", values="declared")
    control = pairs.pivot_table(index="shipment_id", columns="element", values="control")
    ship = shipments.set_index("shipment_id").loc[declared.index]
    sets = declared.notna().apply(lambda r: tuple(declared.columns[r.to_numpy()]), axis=1)
    parts, unpriced = [], set()
    for elements, idx in sets.groupby(sets).groups.items():
        els = [e for e in elements if e in prices_usd_per_t]
        unpriced |= set(elements) - set(els)
        if els:
            parts.append(undeclared_value(
                declared.loc[idx, els], control.loc[idx, els], ship.loc[idx, "dry_t"], terms,
                {e: prices_usd_per_t[e] for e in els},
                on_date=pd.to_datetime(ship.loc[idx, "date"]),
                grade_units={e: grade_units[e] for e in els}, missing="declared"))
    if not parts:
        raise ValuationInputError("prices_usd_per_t", f"no element among {sorted(unpriced)} "
                                  "has a price")
    labs = pairs.drop_duplicates("shipment_id").set_index("shipment_id")["laboratory_id"]
    per = pd.concat(parts)
    per = per.loc[declared.index.intersection(per.index, sort=False)]  # the ledger's order
    return per.join(ship[["exporter_id", "date"]]).join(labs), unpriced
