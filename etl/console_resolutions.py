"""The night's side of the console's resolutions: before matching, the approved resolutions
people made in the console are copied into the warehouse's ``resolutions`` table (the one
``recon resolve`` feeds, so the matcher applies both the same way); after matching, each one
the night's breaks show applied is marked confirmed by that run, so the console can say
"resolved by X, confirmed by the run of D".

The console's database is read and written through SQLAlchemy and never blocks the night: when
it cannot be reached the run goes on and says so in its warnings.
"""
from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from etl.config import Settings
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)


def _store(settings: Settings):
    """The console's session factory, or None when no console database exists yet."""
    url = settings.console.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or not Path(path).exists():
            return None
    from sqlalchemy import inspect

    from console.store import make_engine, session_factory

    engine = make_engine(url)
    if "resolutions" not in inspect(engine).get_table_names():
        engine.dispose()
        return None
    return session_factory(engine)


def take_resolutions(settings: Settings, wh: Warehouse, business_date: date) -> int:
    """Copy the console's approved resolutions not yet taken into the warehouse; the number taken."""
    from sqlalchemy import select

    from console.store.models import Resolution

    store = _store(settings)
    if store is None:
        return 0
    with store() as db:
        rows = list(db.scalars(select(Resolution).where(Resolution.status == "approved",
                                                        Resolution.taken_by_run.is_(None))))
        if not rows:
            return 0
        with wh.transaction():
            for r in rows:
                wh.execute("insert into resolutions select $i, $k, $a, $b, $w, $t, $e "
                           "where not exists (select 1 from resolutions where resolution_id = $i)",
                           {"i": r.id, "k": r.break_key, "a": r.action,
                            "b": r.approved_by and f"{r.requested_by} ({r.approved_by})" or r.requested_by,
                            "w": f"{r.reason_code}: {r.text}", "t": r.approved_at or r.requested_at,
                            "e": r.effective_date})
        for r in rows:
            r.taken_by_run = business_date
        db.commit()
        return len(rows)


def confirm_resolutions(settings: Settings, wh: Warehouse, business_date: date) -> int:
    """Mark the taken resolutions that the run of ``business_date`` applied; the number confirmed."""
    from sqlalchemy import select

    from console.store.models import Resolution

    store = _store(settings)
    if store is None:
        return 0
    with store() as db:
        waiting = list(db.scalars(select(Resolution).where(
            Resolution.taken_by_run.is_not(None), Resolution.confirmed_by_run.is_(None),
            Resolution.effective_date <= business_date)))
        if not waiting:
            return 0
        keys = sorted({r.break_key for r in waiting})
        state = dict(wh.rows("select break_key, case when status = 'resolved' and resolution = 'manual' "
                             "then 'resolve' when status = 'open' then 'reopen' end "
                             "from break_log where business_date = $d and break_key in (select unnest($k::varchar[]))",
                             {"d": business_date, "k": keys}))
        done = [r for r in waiting if state.get(r.break_key) == r.action]
        for r in done:
            r.confirmed_by_run = business_date
        db.commit()
        return len(done)
