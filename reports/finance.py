"""Finance: settlement reconciliation of one business date, and the month so far."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from etl.i18n import DEFAULT_LOCALE, N_, gettext_for
from reports import charts, labels
from reports.exports import Col, Workbook
from reports.formatting import count, day_heading
from reports.marts import Marts

OPEN_BREAKS_SHOWN = 200
OPEN_BREAKS_XLSX = 5_000


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def context(marts: Marts, business_date: date, locale: str = DEFAULT_LOCALE) -> dict:
    _ = gettext_for(locale)
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
        {labels.label(prov, "provider", locale): [net.get((d, prov)) or 0 for d in days] for prov in providers},
        _("Net settlement per day, by provider"), axis=charts.money_exact_axis, rotate=45 if len(days) > 12 else 0,
        locale=locale,
    ) if providers else None
    open_chart = charts.diverging_bars(
        [r["business_date"] for r in open_days], [r["long_amount"] for r in open_days],
        [r["short_amount"] for r in open_days], _("Open break amounts at each day's close: 长款 vs 短款"),
        legend=side_legend(locale), locale=locale, axis=charts.money_exact_axis,
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


def side_legend(locale: str) -> tuple[str, str]:
    """The two sides of a break in the diverging charts' legend."""
    _ = gettext_for(locale)
    return _("长款 long: money held, credit or refund owed"), _("短款 short: credit given, money missing")


SETTLEMENT_COLUMNS = (
    Col(N_("Provider"), "provider", "label", 12, vocab="provider"),
    Col(N_("Payments"), "payment_count", "count"),
    Col(N_("Gross paid (CNY)"), "gross_paid", "money", 16),
    Col(N_("Refunds"), "refund_count", "count"),
    Col(N_("Refunded (CNY)"), "refunds", "money", 16),
    Col(N_("Fees (CNY)"), "fees", "fee", 14),
    Col(N_("Net settlement (CNY)"), "net_settlement", "money", 18),
)
STATEMENT_COLUMNS = (
    Col(N_("Provider"), "provider", "label", 12, vocab="provider"),
    Col(N_("Payments (ours)"), "payment_count", "count"),
    Col(N_("Payments (stated)"), "stated_payment_count", "count"),
    Col(N_("Gross paid (ours)"), "gross_paid", "money", 16),
    Col(N_("Gross paid (stated)"), "stated_gross_paid", "money", 16),
    Col(N_("Difference"), "diff_gross_paid", "money"),
    Col(N_("Refunded (ours)"), "refunds", "money", 16),
    Col(N_("Refunded (stated)"), "stated_refunds", "money", 16),
    Col(N_("Difference"), "diff_refunds", "money"),
    Col(N_("Fees (ours)"), "fees", "fee"),
    Col(N_("Fees (stated)"), "stated_fees", "fee"),
    Col(N_("Difference"), "diff_fees", "fee"),
)
BY_TYPE_COLUMNS = (
    Col(N_("Break type"), "break_type", "label", 26, vocab="break_type"),
    Col(N_("Who acts"), "owner", "label", 14, vocab="owner"),
    Col(N_("Open"), "open_count", "count", 9),
    Col(N_("Open amount (CNY)"), "open_amount", "money", 16),
    Col(N_("长款 long: count"), "long_count", "count", 10),
    Col(N_("长款 long: amount"), "long_amount", "money", 16),
    Col(N_("短款 short: count"), "short_count", "count", 10),
    Col(N_("短款 short: amount"), "short_amount", "money", 16),
    Col(N_("New today"), "new_count", "count", 10),
    Col(N_("New today: amount"), "new_amount", "money", 16),
    Col(N_("Resolved today"), "resolved_count", "count", 10),
    Col(N_("Resolved today: amount"), "resolved_amount", "money", 16),
)
OPEN_COLUMNS = (
    Col(N_("Break type"), "break_type", "label", 24, vocab="break_type"),
    Col(N_("First seen"), "first_seen", "date", 11),
    Col(N_("Age (days)"), "age_days", "count", 9),
    Col(N_("Order id"), "order_id", "text", 22),
    Col(N_("Provider"), "provider", "label", 11, vocab="provider"),
    Col(N_("Provider txn id"), "provider_txn_id", "text", 26),
    Col(N_("Credit id"), "credit_id", "text", 18),
    Col(N_("Order amount"), "order_amount", "money"),
    Col(N_("Paid"), "paid_amount", "money"),
    Col(N_("Credited"), "credited_amount", "money"),
    Col(N_("Difference"), "difference", "money"),
    Col(N_("Side"), "side", "label", 8, vocab="side"),
    Col(N_("Next action"), "next_action", "label", 40, vocab="next_action"),
)
MONTH_COLUMNS = (
    Col(N_("Business date"), "business_date", "date", 12),
    *SETTLEMENT_COLUMNS,
    Col(N_("Days the statement differs"), "days_statement_differs", "count", 12),
)
BREAKS_MONTH_COLUMNS = (
    Col(N_("Break type"), "break_type", "label", 26, vocab="break_type"),
    Col(N_("New this month"), "new_count", "count", 10),
    Col(N_("New: 长款 long amount"), "new_long_amount", "money", 18),
    Col(N_("New: 短款 short amount"), "new_short_amount", "money", 18),
    Col(N_("Resolved this month"), "resolved_count", "count", 10),
    Col(N_("Resolved amount"), "resolved_amount", "money", 16),
    Col(N_("Open now"), "open_count", "count", 10),
    Col(N_("Open amount"), "open_amount", "money", 16),
)


def write_xlsx(marts: Marts, ctx: dict, business_date: date, folder: Path, locale: str = DEFAULT_LOCALE) -> Path:
    _ = gettext_for(locale)
    book = Workbook(folder / "finance.xlsx", locale)
    day = day_heading(business_date, locale)
    first = day_heading(ctx["month_start"], locale)
    book.sheet(_("Settlement"), _("Settlement {day}, per provider").format(day=day), SETTLEMENT_COLUMNS,
               ctx["settlement"] + ([ctx["settlement_total"]] if ctx["settlement_total"] else []))
    book.sheet(_("Statement check"), _("Statement totals against ours, {day}").format(day=day), STATEMENT_COLUMNS,
               ctx["settlement"] + ([ctx["settlement_total"]] if ctx["settlement_total"] else []),
               note=_("Difference = ours − stated; empty when the statement gives no totals."))
    book.sheet(_("Breaks by type"), _("Breaks of {day} by type").format(day=day), BY_TYPE_COLUMNS,
               ctx["by_type"] + [ctx["by_type_total"]],
               note=_("长款 (long): money held for nothing, a credit or refund is owed. "
                      "短款 (short): credit given, money missing."))
    open_rows = marts.rows("mart_ops_queue", limit=OPEN_BREAKS_XLSX, where="difference <> 0", order_by="queue_rank")
    book.sheet(_("Open breaks"), _("Open breaks with an amount, {day}, largest first").format(day=day), OPEN_COLUMNS,
               open_rows,
               note=_("{n} open breaks with an amount; the first {shown} here, all of them in ops_queue.csv and "
                      "breaks.csv.").format(n=count(ctx["open_money_count"], locale),
                                             shown=count(OPEN_BREAKS_XLSX, locale)))
    book.sheet(_("Month to date"), _("Settlement {first} to {last}").format(first=first, last=day), MONTH_COLUMNS,
               ctx["month_providers"] + ([ctx["month_total"]] if ctx["month_total"] else []) + ctx["month_days"])
    book.sheet(_("Breaks MTD"), _("Breaks found and resolved {first} to {last}").format(first=first, last=day),
               BREAKS_MONTH_COLUMNS,
               ctx["breaks_month"] + ([ctx["breaks_month_total"]] if ctx["breaks_month_total"] else []))
    return book.close()
