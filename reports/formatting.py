"""Numbers and dates as finance, ops and product read them, in their language: ¥1,234.50,
12,345, 97.3%, 2026年11月7日. Registered as Jinja filters per locale by ``etl.i18n.install``
(``filters_for``); the tests use the same functions to say what a cell must show.

Babel formats (CLDR's separators, month and weekday names); money is a Decimal quantized to the
fen before it is written, so no figure is ever rounded through a float. Money reads ``¥`` in
both locales (Babel's English would write ``CN¥``): the business only deals in yuan.

Every function takes ``None`` (a figure that does not exist, e.g. a rate of nothing) and
returns an em dash, so templates never print "None" or "nan". ``locale`` defaults to the
business's language, zh_CN.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, partial
from typing import Callable

from babel import Locale
from babel.dates import format_date
from babel.numbers import NumberPattern, format_decimal, get_decimal_symbol, get_group_symbol, parse_pattern

from etl.i18n import BABEL_LOCALE, DEFAULT_LOCALE, gettext_for, normalize

DASH = "—"
FEN = Decimal("0.01")
YUAN = "¥"
# Headings name the day in full: 2026年11月7日 (CLDR's long date) / 7 November 2026.
HEADING_DATE = {"zh_CN": "long", "en": "d MMMM y"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@cache
def _pattern(text: str) -> NumberPattern:
    return parse_pattern(text)


def _babel(locale: str) -> str:
    return BABEL_LOCALE[normalize(locale)]


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(_babel(locale))


@cache
def _plain_separators(locale: str) -> bool:
    """Whether the locale's symbols are Python's own (a comma between thousands, a point before
    the decimals): zh_CN and en's are. The grouping is our patterns' (every three digits)."""
    loc = _locale(locale)
    return get_group_symbol(loc) == "," and get_decimal_symbol(loc) == "."


def _fixed(value: Decimal, digits: int, locale: str) -> str:
    """``value`` (not negative) with thousands separators and exactly ``digits`` decimals,
    rounded half up (12.345 → 12.35, as a reader rounds; Babel alone would round half to even).
    Where the locale's separators are Python's own, Python writes it: a console page formats a
    few hundred amounts, and Babel took most of the page's time (tests/reports/test_formatting.py
    holds the two to the same text)."""
    value = value.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    if _plain_separators(locale):
        return format(value, f",.{digits}f")
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, _pattern(pattern), locale=_locale(locale))


def money(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """¥1,234.50; a negative amount -¥1,234.50."""
    if _missing(value):
        return DASH
    amount = _decimal(value).quantize(FEN, ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # no "-¥0.00"
    return ("-" if amount < 0 else "") + YUAN + _fixed(abs(amount), 2, locale)


def money_signed(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """+¥12.00 / -¥12.00 / ¥0.00: for differences, where the sign is the message."""
    text = money(value, locale)
    if text not in (DASH, YUAN + "0.00") and not text.startswith("-"):
        return "+" + text
    return text


def fee(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """Fees are stated to 1/1000 fen by some providers: show the fen, exactly rounded."""
    return money(value, locale)


def count(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """12,345."""
    if _missing(value):
        return DASH
    number = int(value)
    return ("-" if number < 0 else "") + _fixed(Decimal(abs(number)), 0, locale)


def count_signed(value: object, locale: str = DEFAULT_LOCALE) -> str:
    if _missing(value):
        return DASH
    number = int(value)
    return ("+" if number > 0 else "") + count(number, locale)


def _float_decimal(value: object) -> Decimal:
    """A measure (a float from an average or a ratio) as the decimal it prints as."""
    return _decimal(value) if isinstance(value, (Decimal, int)) else Decimal(repr(float(value)))


def pct(value: object, digits: int = 1, locale: str = DEFAULT_LOCALE) -> str:
    """A fraction as a percentage: 0.9731 → 97.3%."""
    if _missing(value):
        return DASH
    scaled = _float_decimal(value) * 100
    return ("-" if scaled < 0 and round(scaled, digits) != 0 else "") + _fixed(abs(scaled), digits, locale) + "%"


def number(value: object, digits: int = 2, locale: str = DEFAULT_LOCALE) -> str:
    """A plain measure with thousands separators: 1,234.57."""
    if _missing(value):
        return DASH
    exact = _float_decimal(value)
    return ("-" if exact < 0 and round(exact, digits) != 0 else "") + _fixed(abs(exact), digits, locale)


def minutes(value: object, digits: int = 2, locale: str = DEFAULT_LOCALE) -> str:
    """12.50 min / 12.50 分钟."""
    if _missing(value):
        return DASH
    _ = gettext_for(locale)
    return _("{minutes} min").format(minutes=number(value, digits, locale))


def nps(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """NPS runs from -100 to +100 and is read with its sign."""
    if _missing(value):
        return DASH
    return f"{float(value):+.1f}"


def change(new: object, old: object, kind: str = "relative", locale: str = DEFAULT_LOCALE) -> str:
    """How ``new`` moved from ``old``: relative (+3.2%), points for rates (+0.4 pp / +0.4 个百分点),
    or the plain difference for scores (+0.12)."""
    if _missing(new) or _missing(old):
        return DASH
    new_f, old_f = float(new), float(old)
    if kind == "points":
        _ = gettext_for(locale)
        return _("{points} pp").format(points=f"{(new_f - old_f) * 100:+.1f}")
    if kind == "difference":
        return f"{new_f - old_f:+.2f}"
    if old_f == 0:
        return DASH
    return f"{(new_f / old_f - 1) * 100:+.1f}%"


def day(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """A date in a table: ISO 8601 (2026-11-07) in every language, so columns sort and compare."""
    if _missing(value):
        return DASH
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def day_heading(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """A date in a heading or a sentence: 2026年11月7日 / 7 November 2026."""
    if _missing(value):
        return DASH
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        value = date.fromisoformat(value)
    loc = normalize(locale)
    return format_date(value, HEADING_DATE[loc], locale=BABEL_LOCALE[loc])


def weekday(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """星期六 / Saturday."""
    if _missing(value):
        return DASH
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, "EEEE", locale=_babel(locale))


def timestamp(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """Asia/Shanghai wall time, to the second."""
    if _missing(value):
        return DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def seconds(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """1 min 5 s / 1 分 5 秒; under a minute 12.3 s / 12.3 秒."""
    if _missing(value):
        return DASH
    _ = gettext_for(locale)
    value = float(value)
    if value >= 60:
        return _("{minutes} min {seconds} s").format(minutes=int(value // 60), seconds=f"{value % 60:.0f}")
    return _("{seconds} s").format(seconds=f"{value:.1f}")


_FUNCTIONS: dict[str, Callable[..., str]] = {
    "money": money,
    "money_signed": money_signed,
    "fee": fee,
    "count": count,
    "count_signed": count_signed,
    "pct": pct,
    "number": number,
    "minutes": minutes,
    "nps": nps,
    "change": change,
    "day": day,
    "day_heading": day_heading,
    "weekday": weekday,
    "timestamp": timestamp,
    "seconds": seconds,
}


def filters_for(locale: str) -> dict[str, Callable[..., str]]:
    """The format functions bound to ``locale``, by the names the templates use."""
    loc = normalize(locale)
    return {name: partial(function, locale=loc) for name, function in _FUNCTIONS.items()}


FILTERS = filters_for(DEFAULT_LOCALE)
