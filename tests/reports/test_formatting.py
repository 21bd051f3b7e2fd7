"""Numbers as finance reads them."""
from datetime import date
from decimal import Decimal

import pytest

from reports import formatting as fmt


class TestMoney:
    """Yuan with the fen, thousands separated, the sign in front of the ¥."""

    @pytest.mark.parametrize("value, text", [
        pytest.param(Decimal("1234.5"), "¥1,234.50", id="thousands-and-fen"),
        pytest.param(Decimal("-969"), "-¥969.00", id="negative"),
        pytest.param(Decimal("0.005"), "¥0.01", id="half-up-to-the-fen"),
        pytest.param(Decimal("-0.001"), "¥0.00", id="no-negative-zero"),
        pytest.param(Decimal("12345678.9"), "¥12,345,678.90", id="millions"),
        pytest.param(None, "—", id="missing"),
    ])
    def test_money(self, value, text):
        assert fmt.money(value) == text

    def test_differences_carry_their_sign(self):
        assert (fmt.money_signed(Decimal("12")), fmt.money_signed(Decimal("-12")), fmt.money_signed(0)) == \
            ("+¥12.00", "-¥12.00", "¥0.00")


class TestRatesAndChanges:
    def test_percentages(self):
        assert (fmt.pct(0.97312), fmt.pct(0.2188, 2), fmt.pct(None)) == ("97.3%", "21.88%", "—")

    def test_counts(self):
        assert fmt.count(1234567) == "1,234,567"

    @pytest.mark.parametrize("new, old, kind, text", [
        pytest.param(110, 100, "relative", "+10.0%", id="volume"),
        pytest.param(0.95, 0.97, "points", "-2.0 个百分点", id="rate-in-points"),
        pytest.param(4.1, 4.3, "difference", "-0.20", id="score"),
        pytest.param(5, 0, "relative", "—", id="from-nothing"),
        pytest.param(None, 3, "relative", "—", id="missing"),
    ])
    def test_change(self, new, old, kind, text):
        assert fmt.change(new, old, kind) == text

    def test_points_in_english(self):
        assert fmt.change(0.95, 0.97, "points", locale="en") == "-2.0 pp"


class TestLanguages:
    """The same figure in each language: separators from CLDR, units and dates in words."""

    @pytest.mark.parametrize("function, args, zh, en", [
        pytest.param(fmt.minutes, (12.345,), "12.35 分钟", "12.35 min", id="minutes"),
        pytest.param(fmt.seconds, (75,), "1 分 15 秒", "1 min 15 s", id="seconds"),
        pytest.param(fmt.seconds, (2.25,), "2.2 秒", "2.2 s", id="seconds-short"),
        pytest.param(fmt.pct, (-0.0412,), "-4.1%", "-4.1%", id="negative-pct"),
        pytest.param(fmt.number, (1234.567,), "1,234.57", "1,234.57", id="number"),
        pytest.param(fmt.count, (-1234,), "-1,234", "-1,234", id="negative-count"),
        pytest.param(fmt.day_heading, (date(2026, 11, 7),), "2026年11月7日", "7 November 2026", id="heading"),
        pytest.param(fmt.weekday, (date(2026, 11, 9),), "星期一", "Monday", id="weekday"),
        pytest.param(fmt.day, (date(2026, 11, 7),), "2026-11-07", "2026-11-07", id="tables-iso"),
    ])
    def test_both(self, function, args, zh, en):
        assert (function(*args, locale="zh_CN"), function(*args, locale="en")) == (zh, en)


class TestPythonWritesWhatBabelWrites:
    """zh_CN and en write their numbers with Python's own separators, so Python formats them;
    every figure must read exactly as Babel (CLDR) writes it."""

    @pytest.mark.parametrize("locale", ["zh_CN", "en"])
    def test_same_text_as_babel(self, locale):
        import random

        from babel.numbers import format_decimal

        rng = random.Random(7)
        values = [Decimal(0), Decimal("0.005"), Decimal("999.995"), Decimal("1000"), Decimal("123456789012.345")]
        values += [Decimal(rng.randrange(10 ** rng.randrange(1, 16))).scaleb(-rng.randrange(0, 6)) for _ in range(3000)]
        assert fmt._plain_separators(locale)
        for value in values:
            for digits in (0, 1, 2, 4):
                pattern = "#,##0" + ("." + "0" * digits if digits else "")
                quantized = value.quantize(Decimal(1).scaleb(-digits), fmt.ROUND_HALF_UP)
                babel = format_decimal(quantized, fmt._pattern(pattern), locale=fmt._locale(locale))
                assert fmt._fixed(value, digits, locale) == babel, (value, digits)

    def test_a_locale_with_other_separators_goes_through_babel(self, monkeypatch):
        monkeypatch.setitem(fmt.BABEL_LOCALE, "en", "de_DE")
        fmt._locale.cache_clear()
        fmt._plain_separators.cache_clear()
        try:
            assert not fmt._plain_separators("en")
            assert fmt.money(Decimal("1234.5"), locale="en") == "¥1.234,50"
        finally:
            monkeypatch.undo()
            fmt._locale.cache_clear()
            fmt._plain_separators.cache_clear()
