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


def _keys_for(wh: Warehouse, key: str, status: str) -> list[str]:
    latest = "(select max(business_date) from break_log)"
    if "|" in key:
        found = wh.rows(f"select break_key from break_log where business_date = {latest} "
                        "and break_key = $k and status = $s", {"k": key, "s": status})
    else:
        found = wh.rows(f"select break_key from break_log where business_date = {latest} "
                        "and order_id = $k and status = $s order by break_key", {"k": key, "s": status})
    return [k for (k,) in found]


def resolve_breaks(settings: Settings, items: list[tuple[str, str]], by: str,
                   effective_date: date | None = None, action: str = "resolve") -> list[Resolution]:
    if not by.strip():
        raise ResolveError("--by must name who resolves")
    now = shanghai_now().replace(microsecond=0)
    effective = effective_date or now.date()
    want_status = "open" if action == "resolve" else "resolved"
    done: list[Resolution] = []
    with Warehouse(settings) as wh, wh.transaction():
        for key, why in items:
            keys = _keys_for(wh, key, want_status)
            if not keys and action == "reopen":
                keys = [k for (k,) in wh.rows("select distinct break_key from resolutions where break_key = $k",
                                              {"k": key})]
            if not keys:
                raise ResolveError(f"no {want_status} break for {key!r} in the latest run")
            for break_key in keys:
                r = Resolution(uuid.uuid4().hex, break_key, action, by.strip(), why, now, effective)
                wh.execute("insert into resolutions values ($i, $k, $a, $b, $w, $t, $e)",
                           {"i": r.resolution_id, "k": r.break_key, "a": r.action, "b": r.resolved_by,
                            "w": r.reason, "t": r.resolved_at, "e": r.effective_date})
                done.append(r)
    return done
