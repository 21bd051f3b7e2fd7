"""Manual resolution of breaks by ops: an append-only audit trail in the warehouse.

A resolution names a break key (``TYPE|order_id``, ``ORPHAN_PAYMENT|provider|txn``,
``ORPHAN_CREDIT|credit_id``) or an order id (every open break of that order). It takes effect
in the runs for business dates on or after its ``effective_date``; a later resolution for the
same key supersedes it (``--reopen`` reopens). Rows are never updated or deleted.
"""
from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from etl.config import Settings, shanghai_now
from etl.warehouse import Warehouse


class ResolveError(ValueError):
    pass


@dataclass(frozen=True)
class Resolution:
    resolution_id: str
    break_key: str
    action: str
    resolved_by: str
    reason: str
    resolved_at: datetime
    effective_date: date


def resolutions_from_csv(path: Path) -> list[tuple[str, str]]:
    """Rows ``key,why`` (header required; ``order_id`` is accepted for ``key``)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or ())
        key_col = "key" if "key" in fields else "order_id" if "order_id" in fields else None
        if key_col is None or "why" not in fields:
            raise ResolveError(f"{path}: the header must have 'key' (or 'order_id') and 'why'")
        items = []
        for line, row in enumerate(reader, start=2):
            key, why = (row.get(key_col) or "").strip(), (row.get("why") or "").strip()
            if not key or not why:
                raise ResolveError(f"{path}, line {line}: both {key_col} and why are required")
            items.append((key, why))
    return items


# Each item's breaks in the latest run, found for all items at once: an item with a '|' is a break
# key, any other an order id (every break of that order, in key order).
KEYS_FOR_ITEMS = """
with items as (
    select unnest($items::varchar[]) as item, generate_subscripts($items::varchar[], 1) as pos
),
latest as (
    select break_key, order_id
    from break_log
    where business_date = (select max(business_date) from break_log) and status = $status
)
select i.pos, l.break_key from items as i join latest as l on l.break_key = i.item where contains(i.item, '|')
union all
select i.pos, l.break_key from items as i join latest as l on l.order_id = i.item where not contains(i.item, '|')
order by pos, break_key
"""

# A reopen of a break no longer in the latest run: any key that was ever resolved.
KEYS_EVER_RESOLVED = """
select distinct break_key from resolutions where break_key in (select unnest($keys::varchar[]))
"""

INSERT_RESOLUTIONS = """
insert into resolutions
select unnest($ids::varchar[]), unnest($keys::varchar[]), $action, $by, unnest($whys::varchar[]), $at, $effective
"""


def resolve_breaks(settings: Settings, items: list[tuple[str, str]], by: str,
                   effective_date: date | None = None, action: str = "resolve") -> list[Resolution]:
    """Record one resolution per break the items name, all or none: an item that names no
    break of the latest run (for ``reopen``: no break ever resolved) fails the whole file."""
    if not by.strip():
        raise ResolveError("--by must name who resolves")
    now = shanghai_now().replace(microsecond=0)
    effective = effective_date or now.date()
    want_status = "open" if action == "resolve" else "resolved"
    named = [key for key, _ in items]
    who = by.strip()
    with Warehouse(settings) as wh, wh.transaction():
        found: dict[int, list[str]] = {}
        for pos, break_key in wh.rows(KEYS_FOR_ITEMS, {"items": named, "status": want_status}):
            found.setdefault(pos - 1, []).append(break_key)
        if action == "reopen":
            ever = {k for (k,) in wh.rows(KEYS_EVER_RESOLVED, {"keys": named})}
            found.update({i: [key] for i, key in enumerate(named) if i not in found and key in ever})
        missing = next((key for i, key in enumerate(named) if i not in found), None)
        if missing is not None:
            raise ResolveError(f"no {want_status} break for {missing!r} in the latest run")
        done = [Resolution(uuid.uuid4().hex, break_key, action, who, why, now, effective)
                for i, (_, why) in enumerate(items) for break_key in found[i]]
        if done:
            wh.execute(INSERT_RESOLUTIONS, {"ids": [r.resolution_id for r in done], "keys": [r.break_key for r in done],
                                            "whys": [r.reason for r in done], "action": action, "by": who,
                                            "at": now, "effective": effective})
    return done
