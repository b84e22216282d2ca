"""Who may do what: the registry's whole authorisation, in one place.

Two layers, both here and nowhere else:

1. **Role × action** (`ALLOWED`): which roles may attempt an action at all.
2. **Rows**: for writes, every submitted row must belong to the actor's party (`check_rows`);
   for reads, `scope` narrows a query to the rows the actor may see.

| role | declares | files | reads |
| --- | --- | --- | --- |
| exporter | its own shipments; assigns its own laboratory | nothing | its shipments and their certificates |
| laboratory | nothing | certificates (and control/umpire assays) only for shipments it is assigned to in that role | those shipments and its own results |
| inspector | lab assignments; selections | control and umpire assays | everything |
| auditor | nothing | nothing | everything, the audit chain |
| admin | parties, users, tokens, tariffs | nothing (no evidence, ever) | parties, users, tariffs, the audit chain |

Reads of a row outside one's scope answer 404 (as if it did not exist: an exporter must not
learn another's shipment ids); writes touching such a row answer 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from critmin.registry import models as m
from critmin.registry.auth import Principal
from critmin.registry.evidence import RegistryError

EVERYONE = frozenset(m.ROLES)
STATE = frozenset({"inspector", "auditor"})

ALLOWED: dict[str, frozenset[str]] = {
    "parties:register": frozenset({"admin"}),
    "parties:read": frozenset({"admin", "inspector", "auditor"}),
    "users:manage": frozenset({"admin"}),
    "users:read": frozenset({"admin", "auditor"}),
    "tariffs:register": frozenset({"admin"}),
    "tariffs:read": frozenset({"admin", "inspector", "auditor"}),
    "shipments:declare": frozenset({"exporter"}),
    "shipments:read": frozenset({"exporter", "laboratory", "inspector", "auditor"}),
    "assignments:create": frozenset({"exporter", "inspector"}),
    "assignments:read": frozenset({"exporter", "laboratory", "inspector", "auditor"}),
    "certificates:file": frozenset({"laboratory"}),
    "certificates:correct": frozenset({"laboratory"}),
    "certificates:read": frozenset({"exporter", "laboratory", "inspector", "auditor"}),
    "control_assays:file": frozenset({"inspector", "laboratory"}),
    "umpire_assays:file": frozenset({"inspector", "laboratory"}),
    "control_assays:correct": frozenset({"inspector"}),
    "umpire_assays:correct": frozenset({"inspector"}),
    "control_assays:read": frozenset({"laboratory", "inspector", "auditor"}),
    "umpire_assays:read": frozenset({"laboratory", "inspector", "auditor"}),
    "selections:run": frozenset({"inspector"}),
    "selections:read": STATE,
    "analysis:read": STATE,
    "audit:read": frozenset({"auditor", "admin"}),
    "me": EVERYONE,
}

# a laboratory files each kind of evidence only in the assignment role that goes with it
_LAB_ROLE = {"certificates": "exporter", "control_assays": "control",
             "umpire_assays": "umpire"}


class Forbidden(RegistryError):
    """The actor's role may not take this action, or a row is not the actor's to write."""


class NotFound(RegistryError):
    """No such row, or none the actor may see (the two are not told apart)."""


def authorize(who: Principal, action: str) -> None:
    """Raise `Forbidden` unless `who`'s role may take `action` (a key of `ALLOWED`)."""
    if who.role not in ALLOWED[action]:
        raise Forbidden(f"role {who.role!r} may not {action.replace(':', ' ')}")


def _assigned(session: Session, lab: str, role: str, shipment_ids: set[str]) -> set[str]:
    ids = list(shipment_ids)
    found: set[str] = set()
    for i in range(0, len(ids), 1000):
        found |= set(session.scalars(select(m.LabAssignment.shipment_id).where(
            m.LabAssignment.laboratory_id == lab, m.LabAssignment.role == role,
            m.LabAssignment.shipment_id.in_(ids[i:i + 1000]))))
    return found


def _owned(session: Session, exporter: str, shipment_ids: set[str]) -> set[str]:
    ids = list(shipment_ids)
    found: set[str] = set()
    for i in range(0, len(ids), 1000):
        found |= set(session.scalars(select(m.Shipment.shipment_id).where(
            m.Shipment.exporter_id == exporter, m.Shipment.shipment_id.in_(ids[i:i + 1000]))))
    return found


def _refuse(i: int, field: str, problem: str) -> Forbidden:
    return Forbidden(f"row {i + 1}, field {field!r}: {problem}")


def check_rows(session: Session, who: Principal, action: str,
               rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise `Forbidden` naming the first row the actor may not write under `action`.
    Inspectors write any row of the actions their role allows; parties only their own."""
    authorize(who, action)
    rows = list(rows)
    if who.role in ("inspector", "admin"):
        return
    table, verb = action.split(":")
    if table == "shipments" and verb == "declare":
        for i, r in enumerate(rows):
            if r.get("exporter_id") != who.party_id:
                raise _refuse(i, "exporter_id", f"you declare for exporter {who.party_id!r} "
                              f"only, not {r.get('exporter_id')!r}")
        return
    if table == "assignments":
        owned = _owned(session, who.party_id, {r.get("shipment_id") for r in rows})
        for i, r in enumerate(rows):
            if r.get("shipment_id") not in owned:
                raise _refuse(i, "shipment_id", f"shipment {r.get('shipment_id')!r} is not "
                              f"declared by exporter {who.party_id!r}")
            if r.get("role") != "exporter":
                raise _refuse(i, "role", "an exporter assigns only its own laboratory (role "
                              "'exporter'); control and umpire laboratories are the state's")
        return
    if table in _LAB_ROLE and verb == "file":
        role = _LAB_ROLE[table]
        assigned = _assigned(session, who.party_id, role, {r.get("shipment_id") for r in rows})
        for i, r in enumerate(rows):
            if r.get("laboratory_id") != who.party_id:
                raise _refuse(i, "laboratory_id", f"you file for laboratory {who.party_id!r} "
                              f"only, not {r.get('laboratory_id')!r}")
            if r.get("shipment_id") not in assigned:
                raise _refuse(i, "shipment_id", f"shipment {r.get('shipment_id')!r} is not "
                              f"assigned to laboratory {who.party_id!r} as its {role} "
                              "laboratory")
        return
    if table in _LAB_ROLE and verb == "correct":
        for i, r in enumerate(rows):
            if r.get("laboratory_id") != who.party_id:
                raise _refuse(i, "id", f"result {r.get('id')} was filed by laboratory "
                              f"{r.get('laboratory_id')!r}, not yours")
        return
    raise Forbidden(f"role {who.role!r} may not {action.replace(':', ' ')}")


def scope(session: Session, who: Principal, table: str, query):
    """`query` (a select over `table`) narrowed to the rows `who` may read; raises
    `Forbidden` when the role may not read `table` at all."""
    authorize(who, "assignments:read" if table == "lab_assignments" else f"{table}:read")
    if who.role in ("inspector", "auditor", "admin"):
        return query
    cls = m.Base.metadata.tables[table]
    if who.role == "exporter":
        mine = select(m.Shipment.shipment_id).where(m.Shipment.exporter_id == who.party_id)
        if table == "shipments":
            return query.where(cls.c.exporter_id == who.party_id)
        return query.where(cls.c.shipment_id.in_(mine))
    # laboratory: the shipments assigned to it, its own results
    if table == "shipments":
        assigned = select(m.LabAssignment.shipment_id).where(
            m.LabAssignment.laboratory_id == who.party_id)
        return query.where(cls.c.shipment_id.in_(assigned))
    return query.where(cls.c.laboratory_id == who.party_id)

