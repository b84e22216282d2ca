"""A registry filled with a SYNTHETIC ledger, so a new user can click through it.

Every row comes from `critmin.oversight.simulate` (labelled `synthetic = True`, seeded,
calibrated to Kazakhstan's export volumes). Demo users share one password, printed by
`critmin registry demo`: never use a demo registry for real declarations.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from critmin.oversight.schema import Ledger
from critmin.registry import auth
from critmin.registry import evidence as ev
from critmin.registry import models as m

DEMO_PASSWORD = "critmin-demo-only"
ACTOR = "demo-loader"


def _rows(df: pd.DataFrame, cls) -> list[dict[str, Any]]:
    cols = [c for c in df.columns if c in cls.__table__.columns or c == "kind"]
    out = df[cols].astype(object).where(df[cols].notna(), None)
    return out.to_dict("records")


def fill_from_ledger(session: Session, ledger: Ledger, *, actor: str = ACTOR) -> dict[str, int]:
    """Register the ledger's parties and shipments, assign each shipment's laboratories in
    their roles, and file its certificates, control and umpire assays (all or nothing, in the
    caller's transaction). Returns rows written per table."""
    counts: dict[str, int] = {}
    counts["exporters"] = len(ev.register_exporters(session, actor,
                                                    _rows(ledger.exporters, m.Exporter)))
    counts["laboratories"] = len(ev.register_laboratories(
        session, actor, _rows(ledger.laboratories, m.Laboratory)))
    counts["shipments"] = len(ev.declare_shipments(session, actor,
                                                   _rows(ledger.shipments, m.Shipment)))
    ca = ledger.control_assays
    pairs = pd.concat([
        ledger.certificates[["shipment_id", "laboratory_id"]].assign(role="exporter"),
        ca[["shipment_id", "laboratory_id"]].assign(
            role=ca["kind"].map({"control": "control", "umpire": "umpire"}))
    ]).drop_duplicates()
    counts["lab_assignments"] = len(ev.assign_laboratories(session, actor, pairs))
    counts["certificates"] = len(ev.file_certificates(
        session, actor, _rows(ledger.certificates, m.Certificate)))
    for kind, record in (("control", ev.record_control_assays),
                         ("umpire", ev.record_umpire_assays)):
        part = ca[ca["kind"] == kind]
        if len(part):
            counts[f"{kind}_assays"] = len(record(session, actor, _rows(part, m.ControlAssay)))
    return counts


def demo_users(session: Session, ledger: Ledger, *, password: str = DEMO_PASSWORD,
               per_party: int = 2) -> list[dict[str, str | None]]:
    """One admin, inspector and auditor, and users for the first `per_party` exporters and
    exporters' laboratories; all with `password`. Returns (user_id, role, party_id) rows."""
    made = [("admin", "admin", None), ("inspector", "inspector", None),
            ("auditor", "auditor", None)]
    for e in ledger.exporters["exporter_id"].head(per_party):
        made.append((f"exporter-{e}", "exporter", e))
    labs = ledger.laboratories
    for lab in labs.loc[labs["hired_by"] == "exporter", "laboratory_id"].head(per_party):
        made.append((f"lab-{lab}", "laboratory", lab))
    for user_id, role, party in made:
        auth.add_user(session, ACTOR, user_id, role, party_id=party, password=password)
    return [{"user_id": u, "role": r, "party_id": p} for u, r, p in made]
