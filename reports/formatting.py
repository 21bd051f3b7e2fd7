"""Numbers as finance and ops read them: ¥1,234.50, 12,345, 97.3%. Registered as Jinja
filters by ``reports.render``; the tests use the same functions to say what a cell must show.

Every function takes ``None`` (a figure that does not exist, e.g. a rate of nothing) and
returns an em dash, so templates never print "None" or "nan".
"""
from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

DASH = "—"
FEN = Decimal("0.01")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: object) -> str:
    """¥1,234.50; a negative amount -¥1,234.50."""
    if _missing(value):
        return DASH
    amount = Decimal(str(value)).quantize(FEN, ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # no "-¥0.00"
    return ("-" if amount < 0 else "") + f"¥{abs(amount):,.2f}"


def money_signed(value: object) -> str:
    """+¥12.00 / -¥12.00 / ¥0.00: for differences, where the sign is the message."""
    text = money(value)
    if text not in (DASH, "¥0.00") and not text.startswith("-"):
        return "+" + text
    return text


def fee(value: object) -> str:
    """Fees are stated to 1/1000 fen by some providers: show the fen, exactly rounded."""
    return money(value)


def count(value: object) -> str:
    """12,345."""
    if _missing(value):
        return DASH
    return f"{int(value):,}"


def count_signed(value: object) -> str:
    if _missing(value):
        return DASH
    return f"{int(value):+,}" if int(value) else "0"


def pct(value: object, digits: int = 1) -> str:
    """A fraction as a percentage: 0.9731 → 97.3%."""
    if _missing(value):
        return DASH
    return f"{float(value) * 100:,.{digits}f}%"


def number(value: object, digits: int = 2) -> str:
    """A plain measure with thousands separators: 1,234.57."""
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f}"


def minutes(value: object, digits: int = 2) -> str:
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f} min"


def nps(value: object) -> str:
    """NPS runs from -100 to +100 and is read with its sign."""
    if _missing(value):
        return DASH
    return f"{float(value):+.1f}"


def change(new: object, old: object, kind: str = "relative") -> str:
    """How ``new`` moved from ``old``: relative (+3.2%), points for rates (+0.4 pp), or the
    plain difference for scores (+0.12)."""
    if _missing(new) or _missing(old):
        return DASH
    new_f, old_f = float(new), float(old)
    if kind == "points":
        return f"{(new_f - old_f) * 100:+.1f} pp"
    if kind == "difference":
        return f"{new_f - old_f:+.2f}"
    if old_f == 0:
        return DASH
    return f"{(new_f / old_f - 1) * 100:+.1f}%"


def day(value: object) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def timestamp(value: object) -> str:
    """Asia/Shanghai wall time, to the second."""
    if _missing(value):
        return DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def seconds(value: object) -> str:
    if _missing(value):
        return DASH
    value = float(value)
    if value >= 60:
        return f"{int(value // 60)} min {value % 60:.0f} s"
    return f"{value:.1f} s"


FILTERS = {
    "money": money,
    "money_signed": money_signed,
    "fee": fee,
    "count": count,
    "count_signed": count_signed,
    "pct": pct,
    "number": number,
    "minutes": minutes,
    "nps": nps,
    "day": day,
    "timestamp": timestamp,
    "seconds": seconds,
}
