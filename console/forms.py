"""Checking what a browser sends: every field named, typed and bounded before anything runs.
Anything else is ``BadInput`` with a message a person can act on; nothing has changed then."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

from console.published import SORTS, QueueFilter
from console.reasons import AGE_BUCKETS, BREAK_TYPES, PROVIDERS, SLA_STATES

MAX_FIELD = 4000


class BadInput(ValueError):
    """What was sent cannot be used; the message says what and why."""


def only(fields: Mapping[str, object], allowed: Iterable[str]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise BadInput("unknown field(s): " + ", ".join(k[:40] for k in unknown))
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_FIELD:
            raise BadInput(f"{key} is too long")


def text(fields: Mapping[str, object], key: str, default: str = "") -> str:
    value = fields.get(key, default)
    if not isinstance(value, str):
        raise BadInput(f"{key} must be text")
    return value.strip()


def choice(fields: Mapping[str, object], key: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    value = text(fields, key)
    if value == "":
        return default
    if value not in set(allowed):
        raise BadInput(f"{key}: {value[:40]!r} is not one of the choices")
    return value


def day(fields: Mapping[str, object], key: str, default: date | None = None) -> date | None:
    value = text(fields, key)
    if value == "":
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{key}: {value[:40]!r} is not a date like 2026-11-07") from None


def amount(fields: Mapping[str, object], key: str) -> Decimal | None:
    value = text(fields, key).replace(",", "").replace("¥", "")
    if value == "":
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise BadInput(f"{key}: {value[:40]!r} is not an amount like 99.80") from None
    if not result.is_finite() or abs(result) > Decimal("1e12"):
        raise BadInput(f"{key}: {value[:40]!r} is not an amount like 99.80")
    return result


def integer(fields: Mapping[str, object], key: str, default: int, low: int = 0, high: int = 10**9) -> int:
    value = text(fields, key)
    if value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadInput(f"{key}: {value[:40]!r} is not a whole number from {low} to {high}")
    return int(value)


QUEUE_FIELDS = ("type", "provider", "bucket", "min", "max", "status", "assignee", "from", "to", "channel", "sla",
                "sort", "dir", "page")
QUEUE_STATUSES = ("open", "resolved", "pending", "awaiting_run", "all")


def queue_filter(fields: Mapping[str, object]) -> tuple[QueueFilter, str | None, int]:
    """The queue's filters from a query string: (filter, assignee, page)."""
    only(fields, QUEUE_FIELDS)
    f = QueueFilter(
        break_type=choice(fields, "type", BREAK_TYPES),
        provider=choice(fields, "provider", PROVIDERS),
        bucket=choice(fields, "bucket", AGE_BUCKETS),
        min_amount=amount(fields, "min"),
        max_amount=amount(fields, "max"),
        status=choice(fields, "status", QUEUE_STATUSES, "open"),
        first_seen_from=day(fields, "from"),
        first_seen_to=day(fields, "to"),
        channel=text(fields, "channel")[:64] or None,
        sla=choice(fields, "sla", SLA_STATES),
        sort=choice(fields, "sort", SORTS, "age"),
        descending=choice(fields, "dir", ("asc", "desc"), "desc") == "desc",
    )
    assignee = text(fields, "assignee")[:64] or None
    return f, assignee, integer(fields, "page", 1, 1, 10**7)
