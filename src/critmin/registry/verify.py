"""Checking the registry's integrity: `verify_chain` recomputes every audit entry's hash and
link, and every registered row's hash against the payload hash its audit entry recorded.

The first broken thing, in this order, is named in `VerifyResult.first_broken`:

1. audit entries in `seq` order: a missing seq (a deleted entry), an `entry_sha256` that does
   not match the entry's fields (an edited entry), a `prev_sha256` that is not the previous
   entry's `entry_sha256` (an entry replaced wholesale);
2. registered rows, table by table in key order: a row whose hash differs from its audit
   entry's `payload_sha256` (an edited row), a row with no audit entry (inserted behind the
   registry's back, or its entry deleted);
3. audit entries whose row is gone (a deleted row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from critmin.registry import models as m
from critmin.registry.evidence import GENESIS, entry_sha256, row_key, row_sha256

BATCH = 5000


@dataclass
class VerifyResult:
    """`ok` when nothing is broken; `problems` lists up to `limit` findings, first broken
    first; counts of entries and rows checked."""
    ok: bool = True
    entries: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_sha256: str = GENESIS

    @property
    def first_broken(self) -> str | None:
        return self.problems[0] if self.problems else None

    @property
    def anchor(self) -> str:
        """`seq:entry_sha256` of the chain's head: publish or sign it, and pass it back as
        `anchors` later to prove the chain up to it was not rewritten since."""
        return f"{self.head_seq}:{self.head_sha256}"

    def __str__(self) -> str:
        if self.ok:
            return (f"registry intact: {self.entries:,} audit entries and {self.rows:,} rows "
                    f"verified; head anchor {self.anchor}")
        return f"registry broken: first broken {self.first_broken}"


def parse_anchor(text: str) -> tuple[int, str]:
    """'SEQ:SHA256' -> (seq, sha256); ValueError naming what is wrong."""
    seq, _, sha = text.strip().partition(":")
    if not seq.isdigit() or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"anchor {text!r} is not SEQ:SHA256 (64 hex digits), as `verify` "
                         "prints it")
    return int(seq), sha


def verify_chain(session: Session, *, limit: int = 20,
                 anchors: list[tuple[int, str]] = ()) -> VerifyResult:
    """Verify the audit chain and every registered row (see the module docstring), and that
    each anchor (seq, entry_sha256) recorded earlier still matches: a chain rewritten
    consistently from some entry on passes the other checks but not an anchor after it."""
    res = VerifyResult()
    anchored = dict(anchors)

    def bad(msg: str) -> None:
        res.ok = False
        if len(res.problems) < limit:
            res.problems.append(msg)

    t = m.AuditEntry.__table__
    payload: dict[tuple[str, str], tuple[int, str]] = {}
    expect_seq, prev = 1, GENESIS
    last = 0
    while True:
        batch = session.execute(select(t).where(t.c.seq > last).order_by(t.c.seq)
                                .limit(BATCH)).mappings().all()
        if not batch:
            break
        for e in batch:
            seq = e["seq"]
            if seq != expect_seq:
                bad(f"audit_log seq {expect_seq}: missing (seq {seq} follows "
                    f"{expect_seq - 1})")
            elif entry_sha256(e) != e["entry_sha256"]:
                bad(f"audit_log seq {seq}: entry_sha256 does not match the entry's content")
            elif e["prev_sha256"] != prev:
                bad(f"audit_log seq {seq}: prev_sha256 does not match entry {seq - 1}'s hash")
            if seq in anchored and anchored[seq] != e["entry_sha256"]:
                bad(f"audit_log seq {seq}: differs from the anchor recorded for it (the chain "
                    "was rewritten from this entry or before)")
            prev, expect_seq = e["entry_sha256"], seq + 1
            res.head_seq, res.head_sha256 = seq, e["entry_sha256"]
            payload[(e["table"], e["row_key"])] = (seq, e["payload_sha256"])
            res.entries += 1
        last = batch[-1]["seq"]

    seen: set[tuple[str, str]] = set()
    for name, cls in m.APPEND_ONLY.items():
        table = cls.__table__
        pk = list(table.primary_key.columns)
        after = None
        while True:
            q = select(table).order_by(*pk).limit(BATCH)
            if after is not None:
                q = q.where(pk[0] > after) if len(pk) == 1 else q
            rows = session.execute(q).mappings().all()
            for r in rows:
                key = row_key(name, r)
                seen.add((name, key))
                res.rows += 1
                audited = payload.get((name, key))
                if audited is None:
                    bad(f"{name} {key}: row has no audit entry")
                elif row_sha256(name, r) != audited[1]:
                    bad(f"{name} {key}: row does not match the payload_sha256 of audit_log "
                        f"seq {audited[0]}")
            if len(rows) < BATCH or len(pk) > 1:
                break
            after = rows[-1][pk[0].name]
    for seq in sorted(set(anchored) - set(range(1, res.head_seq + 1))):
        bad(f"audit_log seq {seq}: anchored but missing (the chain was cut back)")
    for (name, key), (seq, _) in sorted(payload.items(), key=lambda kv: kv[1][0]):
        if name in m.APPEND_ONLY and (name, key) not in seen:
            bad(f"{name} {key}: row recorded by audit_log seq {seq} is missing")
    return res
