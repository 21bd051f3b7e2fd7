"""Finance: settlement reconciliation of one business date, and the month so far."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from reports import charts
from reports.exports import Col, Workbook
from reports.marts import Marts

OPEN_BREAKS_SHOWN = 200
OPEN_BREAKS_XLSX = 5_000


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def context(marts: Marts, business_date: date) -> dict:
    p = marts.params
    settlement = marts.rows("mart_finance_settlement")
    month = marts.rows("mart_finance_settlement_month")
    by_type = marts.rows("mart_finance_breaks_by_type")
    breaks_month = marts.rows("mart_finance_breaks_month")
    open_days = marts.rows("mart_open_items_daily", where="age_bucket = 'all' and business_date >= $month_start",
                           order_by="business_date")
    queue = marts.build("mart_ops_queue")
    open_money = marts.rows(queue, limit=OPEN_BREAKS_SHOWN, where="difference <> 0", order_by="queue_rank")
    open_money_count = marts.scalar(f"select count(*) from temp.main.{queue} where difference <> 0")

    days = _days(p["month_start"], business_date)
    providers = sorted({r["provider"] for r in month if r["grain"] == "day"})
    net = {(r["business_date"], r["provider"]): r["net_settlement"] for r in month if r["grain"] == "day"}
    net_chart = charts.stacked_bars(
        [d.strftime("%m-%d") for d in days],
        {prov: [net.get((d, prov)) or 0 for d in days] for prov in providers},
        "Net settlement per day, by provider", axis=charts.money_axis, rotate=45 if len(days) > 12 else 0,
    ) if providers else None
    open_chart = charts.diverging_bars(
        [r["business_date"] for r in open_days], [r["long_amount"] for r in open_days],
        [r["short_amount"] for r in open_days], "Open break amounts at each day's close: long vs short",
    ) if open_days else None

    total = next((r for r in by_type if r["is_total"]), {})
    return {
        "settlement": [r for r in settlement if not r["is_total"]],
        "settlement_total": next((r for r in settlement if r["is_total"]), None),
        "by_type": [r for r in by_type if not r["is_total"]],
        "by_type_total": total,
        "month_days": [r for r in month if r["grain"] == "day"],
        "month_providers": [r for r in month if r["grain"] == "provider_mtd"],
        "month_total": next((r for r in month if r["grain"] == "mtd"), None),
        "breaks_month": [r for r in breaks_month if not r["is_total"]],
        "breaks_month_total": next((r for r in breaks_month if r["is_total"]), None),
        "open_money": open_money,
        "open_money_count": open_money_count,
        "open_money_shown": OPEN_BREAKS_SHOWN,
        "net_chart": net_chart,
        "open_chart": open_chart,
        "month_start": p["month_start"],
    }


SETTLEMENT_COLUMNS = (
    Col("Provider", "provider", "label", 12),
    Col("Payments", "payment_count", "count"),
    Col("Gross paid (CNY)", "gross_paid", "money", 16),
    Col("Refunds", "refund_count", "count"),
    Col("Refunded (CNY)", "refunds", "money", 16),
    Col("Fees (CNY)", "fees", "fee", 14),
    Col("Net settlement (CNY)", "net_settlement", "money", 18),
)
STATEMENT_COLUMNS = (
    Col("Provider", "provider", "label", 12),
    Col("Payments (ours)", "payment_count", "count"),
    Col("Payments (stated)", "stated_payment_count", "count"),
    Col("Gross paid (ours)", "gross_paid", "money", 16),
    Col("Gross paid (stated)", "stated_gross_paid", "money", 16),
    Col("Difference", "diff_gross_paid", "money"),
    Col("Refunded (ours)", "refunds", "money", 16),
    Col("Refunded (stated)", "stated_refunds", "money", 16),
    Col("Difference", "diff_refunds", "money"),
    Col("Fees (ours)", "fees", "fee"),
    Col("Fees (stated)", "stated_fees", "fee"),
    Col("Difference", "diff_fees", "fee"),
)
BY_TYPE_COLUMNS = (
    Col("Break type", "break_type", "label", 26),
    Col("Who acts", "owner", "label", 14),
    Col("Open", "open_count", "count", 9),
    Col("Open amount (CNY)", "open_amount", "money", 16),
    Col("长款 long: count", "long_count", "count", 10),
    Col("长款 long: amount", "long_amount", "money", 16),
    Col("短款 short: count", "short_count", "count", 10),
    Col("短款 short: amount", "short_amount", "money", 16),
    Col("New today", "new_count", "count", 10),
    Col("New today: amount", "new_amount", "money", 16),
    Col("Resolved today", "resolved_count", "count", 10),
    Col("Resolved today: amount", "resolved_amount", "money", 16),
)
OPEN_COLUMNS = (
    Col("Break type", "break_type", "label", 24),
    Col("First seen", "first_seen", "date", 11),
    Col("Age (days)", "age_days", "count", 9),
    Col("Order id", "order_id", "text", 22),
    Col("Provider", "provider", "label", 11),
    Col("Provider txn id", "provider_txn_id", "text", 26),
    Col("Credit id", "credit_id", "text", 18),
    Col("Order amount", "order_amount", "money"),
    Col("Paid", "paid_amount", "money"),
    Col("Credited", "credited_amount", "money"),
    Col("Difference", "difference", "money"),
    Col("Side", "side", "label", 8),
    Col("Next action", "next_action", "label", 40),
)
MONTH_COLUMNS = (
    Col("Business date", "business_date", "date", 12),
    *SETTLEMENT_COLUMNS,
    Col("Days the statement differs", "days_statement_differs", "count", 12),
)
BREAKS_MONTH_COLUMNS = (
    Col("Break type", "break_type", "label", 26),
    Col("New this month", "new_count", "count", 10),
    Col("New: 长款 long amount", "new_long_amount", "money", 18),
    Col("New: 短款 short amount", "new_short_amount", "money", 18),
    Col("Resolved this month", "resolved_count", "count", 10),
    Col("Resolved amount", "resolved_amount", "money", 16),
    Col("Open now", "open_count", "count", 10),
    Col("Open amount", "open_amount", "money", 16),
)


def write_xlsx(marts: Marts, ctx: dict, business_date: date, folder: Path) -> Path:
    book = Workbook(folder / "finance.xlsx")
    day = business_date.isoformat()
    book.sheet("Settlement", f"Settlement {day}, per provider", SETTLEMENT_COLUMNS,
               ctx["settlement"] + ([ctx["settlement_total"]] if ctx["settlement_total"] else []))
    book.sheet("Statement check", f"Statement totals against ours, {day}", STATEMENT_COLUMNS,
               ctx["settlement"] + ([ctx["settlement_total"]] if ctx["settlement_total"] else []),
               note="Difference = ours − stated; empty when the statement gives no totals.")
    book.sheet("Breaks by type", f"Breaks of {day} by type", BY_TYPE_COLUMNS,
               ctx["by_type"] + [ctx["by_type_total"]],
               note="长款 (long): money held for nothing, a credit or refund is owed. "
                    "短款 (short): credit given, money missing.")
    open_rows = marts.rows("mart_ops_queue", limit=OPEN_BREAKS_XLSX, where="difference <> 0", order_by="queue_rank")
    book.sheet("Open breaks", f"Open breaks with an amount, {day}, largest first", OPEN_COLUMNS, open_rows,
               note=f"{ctx['open_money_count']:,} open breaks with an amount; the first {OPEN_BREAKS_XLSX:,} here, "
                    "all of them in ops_queue.csv and breaks.csv.")
    book.sheet("Month to date", f"Settlement {ctx['month_start']} to {day}", MONTH_COLUMNS,
               ctx["month_providers"] + ([ctx["month_total"]] if ctx["month_total"] else []) + ctx["month_days"])
    book.sheet("Breaks MTD", f"Breaks found and resolved {ctx['month_start']} to {day}", BREAKS_MONTH_COLUMNS,
               ctx["breaks_month"] + ([ctx["breaks_month_total"]] if ctx["breaks_month_total"] else []))
    return book.close()
