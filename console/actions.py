"""What people do to breaks and days, in the console store, each recorded in the audit log in
the same transaction.

Every action on a break names the version of the break its form showed (``Claim.version``); the
conditional update that bumps it is the guard: of two people acting at once, one wins and the
other gets ``Conflict``. Rules a person could break get ``Refused`` with the reason.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.reasons import REASONS, WRITE_OFF
from console.store import audit
from console.store.models import Approval, Claim, DaySignoff, Note, Resolution, User
from etl.config import shanghai_now

MAX_TEXT = 2000


class Conflict(Exception):
    """Someone else acted on the break since the form was shown."""


class Refused(ValueError):
    """The action breaks a rule; the message says which."""


def version_of(db: Session, break_key: str) -> int:
    return db.execute(select(Claim.version).where(Claim.break_key == break_key)).scalar_one_or_none() or 0


def _bump(db: Session, break_key: str, seen: int) -> None:
    """Take the break from version ``seen`` to the next, or raise Conflict."""
    if seen == 0 and db.get(Claim, break_key) is None:
        try:
            with db.begin_nested():
                db.add(Claim(break_key=break_key, version=1))
            return
        except IntegrityError:
            raise Conflict(break_key) from None
    changed = db.execute(update(Claim).where(Claim.break_key == break_key, Claim.version == seen)
                         .values(version=Claim.version + 1)).rowcount
    if changed != 1:
        raise Conflict(break_key)


def _text(value: str, what: str, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Refused(f"{what} is required")
    if len(text) > MAX_TEXT:
        raise Refused(f"{what} is longer than {MAX_TEXT} characters")
    return text


def claim(db: Session, actor: str, break_key: str, seen: int, assignee: str | None = None) -> None:
    """Claim the break (assignee None: the actor) or assign it to another ops user."""
    who = (assignee or actor).strip()
    if who != actor:
        role = db.execute(select(User.role).where(User.name == who, User.disabled.is_(False))).scalar_one_or_none()
        if role != "ops":
            raise Refused(f"{who!r} is not an active ops user")
    _bump(db, break_key, seen)
    db.execute(update(Claim).where(Claim.break_key == break_key)
               .values(assignee=who, assigned_by=actor, assigned_at=shanghai_now()))
    audit.record(db, actor, "break.claim" if who == actor else "break.assign", break_key, {"assignee": who})
    db.commit()


def add_note(db: Session, actor: str, break_key: str, seen: int, text: str) -> None:
    body = _text(text, "a note")
    _bump(db, break_key, seen)
    db.add(Note(break_key=break_key, author=actor, body=body, created_at=shanghai_now()))
    audit.record(db, actor, "break.note", break_key, {"text": body})
    db.commit()


def latest_resolution(db: Session, break_key: str) -> Resolution | None:
    return db.execute(select(Resolution).where(Resolution.break_key == break_key,
                                               Resolution.status.in_(("pending", "approved")))
                      .order_by(Resolution.requested_at.desc(), Resolution.id.desc()).limit(1)).scalar_one_or_none()


@dataclass(frozen=True)
class BreakFacts:
    """What the action needs to know of the break, from the night's published row."""
    break_key: str
    break_type: str
    order_id: str | None
    status: str            # open | resolved (as the night left it)
    difference: Decimal | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "BreakFacts":
        return cls(row["break_key"], row["break_type"], row.get("order_id"), row["status"], row.get("difference"))


def resolve(db: Session, actor: str, facts: BreakFacts, seen: int, reason_code: str, text: str,
            effective: date, writeoff_limit: Decimal, source: str = "console", commit: bool = True) -> Resolution:
    """Resolve an open break. A write-off of more than ``writeoff_limit`` waits for finance."""
    if reason_code not in REASONS:
        raise Refused(f"unknown reason {reason_code!r}")
    body = _text(text, "the reason's text")
    if facts.status != "open":
        raise Refused("the break is not open")
    current = latest_resolution(db, facts.break_key)
    if current is not None and current.action == "resolve":
        raise Refused("the break is resolved already, waiting for the night's run" if current.status == "approved"
                      else "a write-off of this break is waiting for finance's approval")
    _bump(db, facts.break_key, seen)
    amount = abs(facts.difference) if facts.difference is not None else None
    needs_checker = reason_code == WRITE_OFF and amount is not None and amount > writeoff_limit
    r = Resolution(id=uuid.uuid4().hex, break_key=facts.break_key, break_type=facts.break_type,
                   order_id=facts.order_id, action="resolve", reason_code=reason_code, text=body,
                   amount=facts.difference, requested_by=actor, requested_at=shanghai_now(),
                   effective_date=effective, status="pending" if needs_checker else "approved", source=source)
    db.add(r)
    audit.record(db, actor, "break.resolve" if not needs_checker else "writeoff.propose", facts.break_key,
                 {"reason": reason_code, "text": body, "amount": str(facts.difference), "resolution": r.id,
                  "source": source})
    if commit:
        db.commit()
    else:
        db.flush()
    return r


def reopen(db: Session, actor: str, facts: BreakFacts, seen: int, text: str, effective: date) -> Resolution:
    """Reopen a break resolved by hand (in the console, or by an earlier night)."""
    body = _text(text, "the reason for reopening")
    current = latest_resolution(db, facts.break_key)
    resolved_here = current is not None and current.action == "resolve"
    if not resolved_here and facts.status != "resolved":
        raise Refused("the break is open")
    _bump(db, facts.break_key, seen)
    if current is not None and current.status == "pending":
        current.status = "rejected"  # withdrawn by reopening before finance decided
    r = Resolution(id=uuid.uuid4().hex, break_key=facts.break_key, break_type=facts.break_type,
                   order_id=facts.order_id, action="reopen", reason_code="other", text=body,
                   amount=facts.difference, requested_by=actor, requested_at=shanghai_now(),
                   effective_date=effective, status="approved")
    db.add(r)
    audit.record(db, actor, "break.reopen", facts.break_key, {"text": body, "resolution": r.id})
    db.commit()
    return r


def decide(db: Session, actor: str, resolution_id: str, approve: bool, comment: str = "") -> Resolution:
    """Finance approves or rejects a pending write-off; never the person who proposed it."""
    r = db.get(Resolution, resolution_id)
    if r is None:
        raise Refused("no such write-off")
    if r.requested_by == actor:
        raise Refused("a write-off needs a second person: you proposed this one")
    if r.status != "pending":
        raise Conflict(r.break_key)
    changed = db.execute(update(Resolution).where(Resolution.id == resolution_id, Resolution.status == "pending")
                         .values(status="approved" if approve else "rejected", approved_by=actor,
                                 approved_at=shanghai_now())).rowcount
    if changed != 1:
        raise Conflict(r.break_key)
    note = _text(comment, "a comment", required=False)
    db.add(Approval(resolution_id=resolution_id, decided_by=actor, decision="approve" if approve else "reject",
                    comment=note, decided_at=shanghai_now()))
    audit.record(db, actor, "writeoff.approve" if approve else "writeoff.reject", r.break_key,
                 {"resolution": resolution_id, "amount": str(r.amount), "comment": note})
    db.commit()
    db.refresh(r)
    return r


def day_state(db: Session, business_date: date) -> DaySignoff | None:
    return db.execute(select(DaySignoff).where(DaySignoff.business_date == business_date)
                      .order_by(DaySignoff.id.desc()).limit(1)).scalar_one_or_none()


def close_day(db: Session, actor: str, business_date: date) -> None:
    """日终关账."""
    state = day_state(db, business_date)
    if state is not None and state.action == "close":
        raise Refused(f"{business_date} is closed already (by {state.by} at {state.at:%Y-%m-%d %H:%M})")
    db.add(DaySignoff(business_date=business_date, action="close", by=actor, at=shanghai_now(), reason=""))
    audit.record(db, actor, "day.close", f"day:{business_date}", {})
    db.commit()


def reopen_day(db: Session, actor: str, business_date: date, reason: str) -> None:
    why = _text(reason, "a reason for reopening the day")
    state = day_state(db, business_date)
    if state is None or state.action != "close":
        raise Refused(f"{business_date} is not closed")
    db.add(DaySignoff(business_date=business_date, action="reopen", by=actor, at=shanghai_now(), reason=why))
    audit.record(db, actor, "day.reopen", f"day:{business_date}", {"reason": why})
    db.commit()


def notes_of(db: Session, break_key: str) -> list[Note]:
    return list(db.execute(select(Note).where(Note.break_key == break_key).order_by(Note.id)).scalars())


def resolutions_of(db: Session, break_key: str) -> list[Resolution]:
    return list(db.execute(select(Resolution).where(Resolution.break_key == break_key)
                           .order_by(Resolution.requested_at, Resolution.id)).scalars())


def pending_writeoffs(db: Session) -> list[Resolution]:
    return list(db.execute(select(Resolution).where(Resolution.status == "pending")
                           .order_by(Resolution.requested_at)).scalars())


def work_state(db: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    """For the rows of a page: each break's version, assignee and latest resolution."""
    if not keys:
        return {}
    out: dict[str, dict[str, Any]] = {k: {"version": 0, "assignee": None, "resolution": None} for k in keys}
    for c in db.execute(select(Claim).where(Claim.break_key.in_(keys))).scalars():
        out[c.break_key].update(version=c.version, assignee=c.assignee)
    latest = (select(Resolution.break_key, func.max(Resolution.requested_at).label("at"))
              .where(Resolution.break_key.in_(keys), Resolution.status.in_(("pending", "approved")))
              .group_by(Resolution.break_key).subquery())
    for r in db.execute(select(Resolution).join(latest, (latest.c.break_key == Resolution.break_key)
                                                & (latest.c.at == Resolution.requested_at))).scalars():
        out[r.break_key]["resolution"] = r
    return out


def keys_where(db: Session, *, assignee: str | None = None, claimed: bool = False,
               console_status: str | None = None) -> list[str]:
    """Break keys the store knows in a state, for the queue's filters on who and what."""
    if assignee is not None:
        return [k for (k,) in db.execute(select(Claim.break_key).where(Claim.assignee == assignee))]
    if claimed:
        return [k for (k,) in db.execute(select(Claim.break_key).where(Claim.assignee.is_not(None)))]
    if console_status == "pending":
        return [k for (k,) in db.execute(select(Resolution.break_key).where(Resolution.status == "pending"))]
    if console_status == "awaiting_run":
        return [k for (k,) in db.execute(select(Resolution.break_key).where(
            Resolution.status == "approved", Resolution.action == "resolve", Resolution.confirmed_by_run.is_(None)))]
    return []
