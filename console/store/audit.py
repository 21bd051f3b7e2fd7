"""操作审计日志: every login, view of a full phone number and action, append-only and
hash-chained. Each entry's SHA-256 covers its own fields and the hash of the entry before it,
so an entry edited or deleted anywhere breaks the chain from there on (``verify``; the CLI is
``recon audit verify``). The head row (``audit_head``) is updated first in the writer's
transaction: that takes the database's write lock (SQLite) or the row's lock (PostgreSQL), so
two writers never chain onto the same entry.

Phone numbers never enter the log: ``detail`` is masked before it is written.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from console.store.models import AuditEntry, AuditHead
from etl.config import shanghai_now
from etl.privacy import mask_text

GENESIS = "0" * 64


def canonical(detail: dict[str, Any]) -> str:
    return mask_text(json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str))


def entry_hash(seq: int, at: datetime, actor: str, action: str, target: str, detail: str, prev_hash: str) -> str:
    fields = [seq, at.isoformat(timespec="microseconds"), actor, action, target, detail, prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def record(conn: Connection | Session, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Append one entry, in the caller's transaction (it commits with the action it records)."""
    head = conn.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)).one()
    seq, prev = head
    at = shanghai_now()
    text = canonical(detail or {})
    digest = entry_hash(seq, at, actor, action, target, text, prev)
    conn.execute(insert(AuditEntry).values(seq=seq, at=at, actor=actor, action=action, target=target,
                                           detail=text, prev_hash=prev, hash=digest))
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))


@dataclass(frozen=True)
class Problem:
    seq: int | None
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}" if self.seq is not None else self.what


def verify(conn: Connection | Session) -> list[Problem]:
    """Every break of the chain: an entry whose fields no longer give its hash (edited), whose
    predecessor is not the entry before it (deleted or inserted), or a head that does not name
    the last entry (entries deleted from the end)."""
    problems: list[Problem] = []
    prev, expected_seq = GENESIS, 1
    rows = conn.execute(select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
                               AuditEntry.target, AuditEntry.detail, AuditEntry.prev_hash, AuditEntry.hash)
                        .order_by(AuditEntry.seq)).yield_per(5000)
    last_seq, last_hash = 0, GENESIS
    for seq, at, actor, action, target, detail, prev_hash, digest in rows:
        if seq != expected_seq:
            problems.append(Problem(seq, f"entries {expected_seq}–{seq - 1} are missing"))
        if prev_hash != prev:
            problems.append(Problem(seq, "does not follow the entry before it (deleted, inserted or reordered)"))
        if entry_hash(seq, at, actor, action, target, detail, prev_hash) != digest:
            problems.append(Problem(seq, "its content does not match its hash (edited)"))
        prev, expected_seq, last_seq, last_hash = digest, seq + 1, seq, digest
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        problems.append(Problem(None, "the head row is missing"))
    elif (head.seq, head.hash) != (last_seq, last_hash):
        problems.append(Problem(None, f"the head names entry {head.seq} but the log ends at entry {last_seq} "
                                      "(entries deleted from the end)"))
    return problems
