"""Ops: the work queue of open breaks, match suggestions, what was resolved, 30 days of open
items. The HTML shows the top of the queue; ops_queue.csv holds all of it."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from etl.i18n import DEFAULT_LOCALE, gettext_for
from reports import charts
from reports.exports import header_sql, register_labels, write_csv
from reports.finance import side_legend
from reports.marts import Marts

QUEUE_SHOWN = 500
SUGGESTIONS_SHOWN = 200
BUCKETS = ("0-1", "2-3", "4-7", "8-30", ">30")

# ops_queue.csv: for people, so its headers are in the run's language (the "column" words of
# reports/labels.py; English keeps these names); break_key stays the key `recon resolve` takes.
QUEUE_CSV_COLUMNS = (
    "queue_rank", "break_type", "first_seen", "age_days", "age_bucket", "next_action", "order_id", "provider",
    "provider_txn_id", "credit_id", "msisdn_masked", "order_amount", "paid_amount", "credited_amount",
    "difference", "side", "paid_at", "credited_at", "suggestion", "break_key",
)
_TEXT_FROM_INPUT = {"order_id", "provider_txn_id", "credit_id", "msisdn_masked", "break_key"}
# our own words in the queue, by their kind in reports/labels.py
_WORDS = {"break_type": "break_type", "next_action": "next_action", "provider": "provider", "side": "side"}


def context(marts: Marts, business_date: date, locale: str = DEFAULT_LOCALE) -> dict:
    _ = gettext_for(locale)
    p = marts.params
    queue = marts.rows("mart_ops_queue", limit=QUEUE_SHOWN, order_by="queue_rank")
    aging = marts.rows("mart_ops_aging")
    total = next((r for r in aging if r["break_type"] == "total" and r["age_bucket"] == "all"), None)
    by_type: dict[str, dict] = {}
    for r in aging:
        if r["break_type"] == "total":
            continue
        entry = by_type.setdefault(r["break_type"], {"break_type": r["break_type"], "next_action": r["next_action"],
                                                     "buckets": {}, "all": None})
        if r["age_bucket"] == "all":
            entry["all"] = r
        else:
            entry["buckets"][r["age_bucket"]] = r
    bucket_totals = {r["age_bucket"]: r for r in aging if r["break_type"] == "total" and r["age_bucket"] != "all"}

    history = marts.rows("mart_open_items_daily", where="business_date >= $window_start",
                         order_by="business_date, bucket_order")
    days = sorted({r["business_date"] for r in history})
    per_day_bucket = {(r["business_date"], r["age_bucket"]): r["open_count"] for r in history}
    per_day = [r for r in history if r["age_bucket"] == "all"]
    history_chart = charts.stacked_bars(
        [d.strftime("%m-%d") for d in days],
        {_("{bucket} days").format(bucket=b): [per_day_bucket.get((d, b), 0) for d in days] for b in BUCKETS},
        _("Open breaks at each day's close, by age"), colours=charts.BUCKET_COLOURS,
        rotate=45, locale=locale,
    ) if days else None
    history_amount_chart = charts.diverging_bars(
        [r["business_date"] for r in per_day], [r["long_amount"] for r in per_day],
        [r["short_amount"] for r in per_day], _("Open amounts at each day's close"),
        legend=side_legend(locale), locale=locale,
    ) if per_day else None

    return {
        "queue": queue,
        "queue_total": total,
        "queue_shown": QUEUE_SHOWN,
        "aging": list(by_type.values()),
        "bucket_totals": bucket_totals,
        "buckets": BUCKETS,
        "suggestions": marts.rows("mart_ops_suggestions", limit=SUGGESTIONS_SHOWN),
        "suggestions_count": marts.scalar("select count(*) from temp.main.mart_ops_suggestions"),
        "resolved": [r for r in marts.rows("mart_ops_resolved_summary") if r["break_type"] != "total"],
        "resolved_total": next((r for r in marts.rows("mart_ops_resolved_summary") if r["break_type"] == "total"), None),
        "resolved_items": marts.rows("mart_ops_resolved_items"),
        "resolved_limit": p["resolved_limit"],
        "history": list(reversed(per_day)),
        "history_chart": history_chart,
        "history_amount_chart": history_amount_chart,
    }


def _queue_expression(column: str) -> str:
    if column == "suggestion":  # "order T1 100%": its first word in the run's language
        return ("safe_text(case when suggestion is null then null else "
                "tr('suggestion', split_part(suggestion, ' ', 1)) || substr(suggestion, strpos(suggestion, ' ')) end)")
    if column in _TEXT_FROM_INPUT:
        return f"safe_text({column})"
    if column in ("paid_at", "credited_at"):
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S+08:00')"
    if column in _WORDS:
        return f"tr('{_WORDS[column]}', {column})"
    return column


def write_queue_csv(marts: Marts, folder: Path, locale: str = DEFAULT_LOCALE) -> Path:
    """Every open break, in queue order; headers and our words in ``locale``, ids neutralised
    for spreadsheets, amounts plain."""
    table = marts.build("mart_ops_queue")
    register_labels(marts.wh, locale)
    select = header_sql([(_queue_expression(c), c) for c in QUEUE_CSV_COLUMNS], locale)
    return write_csv(marts.wh, f"select {select} from temp.main.{table} order by queue_rank", folder / "ops_queue.csv")


def write_suggestions_csv(marts: Marts, folder: Path, locale: str = DEFAULT_LOCALE) -> Path:
    table = marts.build("mart_ops_suggestions")
    expressions = {"credit_id": "safe_text(credit_id)", "order_id": "safe_text(order_id)",
                   "msisdn_masked": "safe_text(msisdn_masked)",
                   "credited_at": "strftime(credited_at, '%Y-%m-%dT%H:%M:%S+08:00')",
                   "paid_at": "strftime(paid_at, '%Y-%m-%dT%H:%M:%S+08:00')"}
    columns = ("credit_id", "order_id", "msisdn_masked", "amount", "credited_at", "paid_at", "minutes_after_payment",
               "candidates", "confidence")
    select = header_sql([(expressions.get(c, c), c) for c in columns], locale)
    return write_csv(marts.wh, f"select {select} from temp.main.{table}", folder / "ops_suggestions.csv")
