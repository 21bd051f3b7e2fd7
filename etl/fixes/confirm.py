"""The night's proof that a sent fix happened.

Run by the nightly run for business date D after D's files are loaded and before the match:

- a refund is *confirmed* when a statement landed on or before D holds a successful refund
  whose refund request number is the fix's key; a re-credit or reversal when a billing export
  holds a row whose credit_id is the key (BOSS states the batch line's key there);
- the break it fixes gets a ``fixed`` resolution in the warehouse, effective D: the night's
  open items resolve it when the rules no longer find it (docs/MATCHING.md), and keep it open
  when they still do (a third credit, a refund that left a duplicate);
- a fix sent ``unconfirmed_after_days`` or more before D and still not seen becomes
  *unconfirmed*: raised in ops' queue and in the run summary's warnings. It is confirmed
  still, whenever its row lands.

Nothing here runs when the store was never made (no fixes yet).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from etl.config import Settings, shanghai_now
from etl.fixes import targets
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)

WAITING = ("sent", "accepted", "unconfirmed")


@dataclass
class Confirmation:
    confirmed: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # raised tonight
    skipped: str | None = None

    def warnings(self) -> list[str]:
        said = [f"fix {key}: sent, and no statement or billing export shows it yet" for key in self.unconfirmed]
        return said + ([self.skipped] if self.skipped else [])


def confirm_fixes(settings: Settings, wh: Warehouse, run_date: date) -> Confirmation:
    """Confirm what tonight's rows show; a store that cannot be reached costs the night only its
    confirmations (a warning), never the reconciliation: the next night confirms them."""
    from sqlalchemy.exc import SQLAlchemyError

    from etl.fixes.store import store_exists

    if not store_exists(settings):
        return Confirmation()
    try:
        return _confirm(settings, wh, run_date)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("fix confirmation skipped: %s", exc)
        result = Confirmation()
        result.skipped = f"fix confirmation skipped: the fix store cannot be reached ({type(exc).__name__})"
        return result


def _confirm(settings: Settings, wh: Warehouse, run_date: date) -> Confirmation:
    from etl.fixes.requests import RUN, _audit, _transition
    from etl.fixes.store import open_store
    from etl.fixes.store.models import FixRequest

    db_factory = open_store(settings)
    result = Confirmation()
    with db_factory() as db:
        waiting = list(db.execute(select(FixRequest).where(FixRequest.state.in_(WAITING))).scalars())
    if not waiting:
        return result
    # a fix's row cannot land before the run that found its break: look no further back
    since = min(f.business_date for f in waiting)
    landed = targets.landed_keys(wh, [f.key for f in waiting], run_date, since)
    now = shanghai_now()
    after = settings.remediation.unconfirmed_after_days
    for fix in waiting:
        if fix.key in landed:
            with db_factory() as db, db.begin():
                if _transition(db, fix.key, [FixRequest.state.in_(WAITING)],
                               {"state": "confirmed", "confirmed_on": landed[fix.key], "confirmed_at": now}):
                    _audit(db, RUN, "fix.confirm", fix.key, business_date=run_date.isoformat(),
                           landed_on=landed[fix.key].isoformat(), break_key=fix.break_key)
                    _audit(db, RUN, "fix.state", fix.key, **{"from": fix.state, "to": "confirmed"})
            _resolve_break(wh, fix.break_key, fix.key, run_date, now)
            result.confirmed.append(fix.key)
        elif (fix.state != "unconfirmed" and fix.first_sent_at is not None
              and (run_date - fix.first_sent_at.date()).days >= after):
            with db_factory() as db, db.begin():
                if _transition(db, fix.key, [FixRequest.state == fix.state],
                               {"state": "unconfirmed", "raised_at": now}):
                    _audit(db, RUN, "fix.unconfirmed", fix.key, business_date=run_date.isoformat(),
                           sent=fix.first_sent_at.isoformat(), days=after)
                    _audit(db, RUN, "fix.state", fix.key, **{"from": fix.state, "to": "unconfirmed"})
            result.unconfirmed.append(fix.key)
    log.info("fixes: %d confirmed, %d raised as unconfirmed", len(result.confirmed), len(result.unconfirmed))
    return result


def _resolve_break(wh: Warehouse, break_key: str, fix_key: str, run_date: date, now) -> None:  # noqa: ANN001
    """A ``fixed`` resolution of the break, once (a re-run of the date adds none)."""
    if wh.scalar("select count(*) from resolutions where break_key = $k and action = 'fixed' and resolved_by = $b",
                 {"k": break_key, "b": f"fix:{fix_key}"}):
        return
    wh.execute("insert into resolutions values ($i, $k, 'fixed', $b, $w, $t, $e)",
               {"i": uuid.uuid4().hex, "k": break_key, "b": f"fix:{fix_key}",
                "w": f"fix {fix_key} confirmed", "t": now.replace(microsecond=0), "e": run_date})
