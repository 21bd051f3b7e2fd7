"""The finance report: settlement per provider, statement check, breaks by type split into
长款 and 短款, open breaks, month to date. Figures are checked against sums over the rows the
Shop inserted."""
from datetime import date
from decimal import Decimal

from reports.formatting import count, fee, money
from tests.reports import expected
from tests.reports.conftest import REPORT_DAY
from tests.reports.readers import csv_rows, row, sheet_records, table, xlsx_sheets


class TestSettlement:
    """Per provider: payments, refunds, fees and net settlement of the day."""

    def test_each_provider_row_adds_up_from_the_statement_rows(self, rendered):
        html = rendered.html("finance")
        want = expected.settlement(rendered.shop, REPORT_DAY)
        assert len(want) == 3
        for provider, s in want.items():
            assert row(html, "settlement-table", provider)[1:] == [
                count(s["payments"]), money(s["gross"]), count(s["refunds"]), money(s["refunded"]),
                fee(s["fees"]), money(s["net"])]

    def test_total_row(self, rendered):
        want = expected.settlement(rendered.shop, REPORT_DAY).values()
        net = sum(s["net"] for s in want)
        assert row(rendered.html("finance"), "settlement-table", "total")[-1] == money(net)
        assert net > 0

    def test_month_to_date_is_november_only(self, rendered):
        """The report day is 3 November: October's days are in the 30-day trends, not in the month."""
        shop = rendered.shop
        days = [date(2026, 11, d) for d in (1, 2, 3)]
        for provider in ("alipay", "wechatpay", "unionpay"):
            net = sum(expected.settlement(shop, d)[provider]["net"] for d in days)
            assert row(rendered.html("finance"), "mtd-settlement-table", provider)[5] == money(net)

    def test_statement_without_totals_says_so(self, rendered):
        rows = table(rendered.html("finance"), "statement-table")
        assert all(r[-1] == "not stated" for r in rows[1:])

    def test_xlsx_holds_the_same_numbers_as_numbers(self, rendered):
        records = sheet_records(xlsx_sheets(rendered.folder / "finance.xlsx")["Settlement"])
        by_provider = {r["Provider"]: r for r in records}
        for provider, s in expected.settlement(rendered.shop, REPORT_DAY).items():
            assert by_provider[provider]["Net settlement (CNY)"] == float(s["net"])
            assert by_provider[provider]["Payments"] == s["payments"]


class TestBreaksByType:
    """Open breaks by type as 长款 (difference > 0) and 短款 (difference < 0), new and resolved."""

    def _want(self, rendered):
        open_ = expected.open_breaks(rendered.shop)
        by_type: dict[str, dict] = {}
        for b in open_:
            t = by_type.setdefault(b["type"], {"n": 0, "long_n": 0, "long": Decimal(0), "short_n": 0, "short": Decimal(0),
                                               "new": 0})
            t["n"] += 1
            if b["difference"] > 0:
                t["long_n"] += 1
                t["long"] += b["difference"]
            elif b["difference"] < 0:
                t["short_n"] += 1
                t["short"] += b["difference"]
        return by_type

    def test_open_counts_and_sides_per_type(self, rendered):
        html = rendered.html("finance")
        for break_type, t in self._want(rendered).items():
            cells = row(html, "breaks-table", break_type)
            assert cells[2:8] == [count(t["n"]), money(t["long"] + t["short"]), count(t["long_n"]), money(t["long"]),
                                  count(t["short_n"]), money(t["short"])], break_type

    def test_total_long_and_short(self, rendered):
        want = self._want(rendered)
        cells = row(rendered.html("finance"), "breaks-table", "total")
        assert cells[5] == money(sum(t["long"] for t in want.values()))
        assert cells[7] == money(sum(t["short"] for t in want.values()))
        assert row(rendered.html("index"), "run-table", "Files loaded")  # the index renders beside it

    def test_resolved_today(self, rendered):
        resolved = expected.resolved_today(rendered.shop)
        html = rendered.html("finance")
        late = [r for r in resolved if r["type"] == "LATE_CREDIT"]
        assert row(html, "breaks-table", "LATE_CREDIT")[10] == count(len(late))
        manual = [r for r in resolved if r["type"] == "CREDIT_WITHOUT_PAYMENT"]
        assert row(html, "breaks-table", "CREDIT_WITHOUT_PAYMENT")[10:12] == [
            count(1), money(manual[0]["difference"])]

    def test_every_type_is_listed_even_without_breaks(self, rendered):
        assert row(rendered.html("finance"), "breaks-table", "REFUNDED_BUT_CREDITED")[2] == "0"


class TestOpenBreaksList:
    """Open breaks with an amount, the largest first."""

    def test_largest_first_and_complete_count(self, rendered):
        want = [b for b in expected.open_breaks(rendered.shop) if b["difference"] != 0]
        rows = table(rendered.html("finance"), "open-table")[1:]
        assert len(rows) == len(want)
        assert rows[0][-2] == "+" + money(max(abs(b["difference"]) for b in want)) or \
            rows[0][-2] == "-" + money(max(abs(b["difference"]) for b in want))

    def test_xlsx_neutralises_ids_from_input(self, rendered):
        records = sheet_records(xlsx_sheets(rendered.folder / "finance.xlsx")["Open breaks"])
        ids = {r.get("Order id") for r in records}
        assert "'=HYPERLINK(\"x\")-1" in ids
        assert not any(isinstance(v, str) and v[:1] in "=+-@" for r in records for v in r.values() if v)


def test_queue_csv_counts_every_open_break(rendered):
    assert len(csv_rows(rendered.folder / "ops_queue.csv")) == len(expected.open_breaks(rendered.shop))
