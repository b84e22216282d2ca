"""The oversight models on the registry's own data: the registry read as an oversight
`Ledger` (latest version of every result), control-sampling selections stored with their seed
and reasons, assay settlement by splitting limits and the umpire rule, bias screens and
leakage estimates. Nothing here computes a statistic of its own: it calls `critmin.oversight`.
"""

from __future__ import annotations

import secrets
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from critmin.oversight import schema as ledger_schema
from critmin.oversight.schema import Ledger
from critmin.registry import models as m
from critmin.registry.evidence import (RegistryValidationError, RowError, _append_audit,
                                       _now)

_RESULT_COLUMNS = {
    "certificates": ["shipment_id", "laboratory_id", "method", "element", "value", "unit",
                     "detection_limit", "date", "certificate_id", "synthetic"],
    "control_assays": ["shipment_id", "laboratory_id", "method", "element", "value", "unit",
                       "detection_limit", "date", "control_id", "sample_id", "synthetic"],
}


def _frame(session: Session, query) -> pd.DataFrame:
    res = session.execute(query)
    return pd.DataFrame(res.mappings().all(), columns=list(res.keys()))


def latest(cls) -> Any:
    """A select of the latest version of every result in evidence table `cls` (rows that no
    other row supersedes)."""
    newer = select(cls.supersedes_id).where(cls.supersedes_id.is_not(None))
    return select(cls.__table__).where(cls.id.not_in(newer))


def to_ledger(session: Session) -> Ledger:
    """The registry as an oversight `Ledger`: every exporter, laboratory and shipment, and the
    latest version of every certificate, control and umpire result."""
    tables = {name: _frame(session, select(m.APPEND_ONLY[name].__table__))
              for name in ("exporters", "laboratories", "shipments")}
    tables["certificates"] = _frame(session, latest(m.Certificate))
    ctrl = _frame(session, latest(m.ControlAssay)).assign(kind="control")
    ump = _frame(session, latest(m.UmpireAssay)).assign(kind="umpire")
    tables["control_assays"] = pd.concat([ctrl, ump], ignore_index=True)
    for name, cols in _RESULT_COLUMNS.items():
        extra = ["kind"] if name == "control_assays" else []
        tables[name] = tables[name].reindex(columns=cols + extra)
    tables["shipments"] = tables["shipments"].reindex(
        columns=list(ledger_schema.Shipment.model_fields))
    tables["exporters"] = tables["exporters"].reindex(
        columns=list(ledger_schema.Exporter.model_fields))
    tables["laboratories"] = tables["laboratories"].reindex(
        columns=list(ledger_schema.Laboratory.model_fields))
    return ledger_schema.make_ledger(**tables)


def run_selection(session: Session, actor: str, *, period: str, budget: int,
                  random_share: float = 0.10, policy: str = "risk",
                  seed: int | None = None, prices=None) -> dict[str, Any]:
    """Select `budget` shipments of `period` (YYYY-MM) for control sampling with
    `critmin.oversight.selection.select_from_ledger`, valuing declared metal at the period
    year's warehouse prices (`prices`: a callable returning a warehouse connection), and store the selection (inputs, seed)
    and every pick with its reason and expected recoverable value (USD); audited. Returns the
    stored selection with its picks."""
    from critmin.oversight.selection import select_from_ledger
    errors: list[RowError] = []
    if not (len(period) == 7 and period[4] == "-" and period[:4].isdigit()
            and period[5:].isdigit() and 1 <= int(period[5:]) <= 12):
        errors.append(RowError(1, "period", f"period {period!r} is not YYYY-MM"))
    if budget < 1:
        errors.append(RowError(1, "budget", "at least 1 shipment"))
    if not 0 < random_share <= 1:
        errors.append(RowError(1, "random_share", "in (0, 1]: the random share is never zero"))
    if errors:
        raise RegistryValidationError("selections", errors)
    seed = secrets.randbits(31) if seed is None else int(seed)
    led = to_ledger(session)
    in_period = pd.to_datetime(led.shipments["date"]).dt.to_period("M").astype(str) == period
    n_cand = int(in_period.sum())
    if n_cand == 0:
        raise RegistryValidationError("selections", [RowError(
            1, "period", f"no shipments declared in {period}")])
    usd_per_t = None
    if prices is not None:
        from critmin.oversight.prices import element_prices
        usd_per_t = element_prices(prices(), led.certificates["element"].unique(),
                                   int(period[:4]))
    sel = select_from_ledger(led, budget, period=period, policy=policy,
                             random_share=random_share, random_state=seed,
                             prices_usd_per_t=usd_per_t)
    at = _now()
    sid = f"SEL-{period}-{secrets.token_hex(4)}"
    head = {"selection_id": sid, "period": period, "budget": int(budget),
            "random_share": float(random_share), "policy": policy, "seed": int(sel.seed),
            "candidates": n_cand, "created_by": actor, "created_at": at}
    session.execute(insert(m.ControlSelection), [head])
    _append_audit(session, actor, "select", "selections", [head], at)
    picks = [{"selection_id": sid, "shipment_id": r.shipment_id, "reason": r.reason,
              "score_usd": (None if pd.isna(r.expected_recoverable_usd)
                            else float(r.expected_recoverable_usd))}
             for r in sel.log.itertuples()]
    if picks:
        ids = session.scalars(insert(m.SelectionPick).returning(
            m.SelectionPick.id, sort_by_parameter_order=True), picks).all()
        for p, i in zip(picks, ids):
            p["id"] = i
        _append_audit(session, actor, "select", "selection_picks", picks, at)
    return {**head, "picks": picks}


def read_selection(session: Session, selection_id: str) -> dict[str, Any] | None:
    """A stored selection with its picks in order, or None."""
    head = session.execute(select(m.ControlSelection.__table__).where(
        m.ControlSelection.selection_id == selection_id)).mappings().first()
    if head is None:
        return None
    picks = session.execute(select(m.SelectionPick.__table__).where(
        m.SelectionPick.selection_id == selection_id).order_by(m.SelectionPick.id)
    ).mappings().all()
    return {**dict(head), "picks": [dict(p) for p in picks]}


def register_tariff(session: Session, actor: str, tariff_id: str, effective_from,
                    terms_yaml: str, note: str | None = None) -> dict[str, Any]:
    """Register contract terms (YAML of `oversight.terms.ContractTerms`) that apply to
    shipments dated from `effective_from`; invalid terms raise `RegistryValidationError`
    naming the field and line of the YAML. Audited; never changed afterwards."""
    from critmin.oversight.terms import ContractTerms, TermsFileError
    from critmin.yamlfile import parse_yaml_model
    errors: list[RowError] = []
    if session.get(m.Tariff, tariff_id) is not None:
        errors.append(RowError(1, "tariff_id", f"tariff {tariff_id!r} is already registered"))
    try:
        parse_yaml_model(terms_yaml, ContractTerms, TermsFileError, source="terms_yaml")
    except TermsFileError as exc:
        where = f"line {exc.line}" + (f", field {exc.field}" if exc.field else "")
        errors.append(RowError(1, "terms_yaml", f"{where}: {exc.problem}"))
    if errors:
        raise RegistryValidationError("tariffs", errors)
    at = _now()
    row = {"tariff_id": tariff_id, "effective_from": effective_from, "terms_yaml": terms_yaml,
           "note": note, "registered_by": actor, "registered_at": at}
    session.execute(insert(m.Tariff), [row])
    _append_audit(session, actor, "file", "tariffs", [row], at)
    return row


def terms_on(session: Session, date) -> tuple[Any, str]:
    """(ContractTerms, tariff id) in force on `date`: the registered tariff with the latest
    `effective_from` on or before it, else the shipped default terms ('default')."""
    from critmin.oversight.terms import ContractTerms, TermsFileError, default_terms
    from critmin.yamlfile import parse_yaml_model
    row = session.execute(select(m.Tariff.tariff_id, m.Tariff.terms_yaml)
                          .where(m.Tariff.effective_from <= date)
                          .order_by(m.Tariff.effective_from.desc()).limit(1)).first()
    if row is None:
        return default_terms(), "default"
    return (parse_yaml_model(row.terms_yaml, ContractTerms, TermsFileError,
                             source=f"tariff {row.tariff_id}"), row.tariff_id)


def settlement(session: Session, shipment_id: str, terms=None) -> pd.DataFrame:
    """The assay exchange of one shipment per element: declared (seller) against control
    (buyer), split when within the contract's splitting limit, else settled by the umpire
    rule when an umpire result exists ('umpire pending' otherwise); `oversight.valuation.
    assay_exchange` with `terms` (default: the tariff in force on the shipment's date,
    `terms_on`); the table's attrs['tariff'] names it."""
    from critmin.oversight.valuation import assay_exchange
    tariff = "given"
    if terms is None:
        day = session.scalar(select(m.Shipment.date).where(m.Shipment.shipment_id ==
                                                           shipment_id))
        terms, tariff = terms_on(session, day)
    results = {}
    for name, cls in (("seller", m.Certificate), ("buyer", m.ControlAssay),
                      ("umpire", m.UmpireAssay)):
        df = _frame(session, latest(cls).where(cls.shipment_id == shipment_id))
        results[name] = df.groupby("element")["value"].mean() if len(df) else pd.Series(
            dtype=float)
    units = _frame(session, latest(m.Certificate).where(
        m.Certificate.shipment_id == shipment_id)).groupby("element")["unit"].first() \
        if len(results["seller"]) else pd.Series(dtype=str)
    rows = []
    for element in sorted(set(results["seller"].index) & set(results["buyer"].index)):
        limit = terms.splitting_limits.get(element)
        if limit is None:
            rows.append({"element": element, "unit": units.get(element),
                         "seller": results["seller"][element],
                         "buyer": results["buyer"][element], "basis": "no splitting limit in "
                         "the terms"})
            continue
        ex = assay_exchange(results["seller"][element], results["buyer"][element], limit,
                            umpire=results["umpire"].get(element), rule=terms.umpire_rule)
        row = ex.iloc[0].to_dict()
        rows.append({"element": element, "unit": units.get(element), **row,
                     "umpire": results["umpire"].get(element)})
    cols = ["element", "unit", "seller", "buyer", "difference", "limit", "within_limit",
            "umpire", "final", "basis"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out.attrs["tariff"] = tariff
    return out
