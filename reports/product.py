"""Product: how customers order (channel, pay method, product, province, hour), how fast and
how reliably they are credited, and what they say about it, today and over 7 and 30 days."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from etl.privacy import mask_text
from reports import charts, formatting as fmt
from reports.exports import Col, Workbook, write_csv
from reports.marts import Marts

DIMENSIONS = (("channel", "Channel"), ("pay_method", "Pay method"), ("product_type", "Product type"),
              ("province", "Province"))


def _sum(rows: list[dict], key: str) -> float:
    return sum(float(r[key] or 0) for r in rows)


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return num * scale / den if den else None


def period(rows: list[dict]) -> dict:
    """Figures of several days from the additive daily parts (counts and sums, never averages
    of averages). Percentiles do not add up, so a period has none."""
    orders, paid, credited = _sum(rows, "orders"), _sum(rows, "paid_orders"), _sum(rows, "credited_orders")
    csat_n, nps_n = _sum(rows, "csat_responses"), _sum(rows, "nps_responses")
    return {
        "orders": orders,
        "gmv": _sum(rows, "gmv"),
        "success_rate": _ratio(credited, paid),
        "late_rate": _ratio(_sum(rows, "late_orders"), credited),
        "p95_minutes": None,
        "csat_avg": _ratio(_sum(rows, "csat_sum"), csat_n),
        "nps": _ratio(_sum(rows, "promoters") - _sum(rows, "detractors"), nps_n, 100.0),
        "complaints_per_10k": _ratio(_sum(rows, "complaints"), orders, 10_000.0),
    }


# metric key, label, filter, how a change reads (relative %, percentage points, difference)
KPIS = (
    ("orders", "Orders", "count", "relative"),
    ("gmv", "GMV (pay amount of paid orders)", "money", "relative"),
    ("success_rate", "Success rate (credited ÷ paid)", "pct", "points"),
    ("late_rate", "Late-credit rate (over SLA ÷ credited)", "pct", "points"),
    ("p95_minutes", "Time to credit, p95", "minutes", "relative"),
    ("csat_avg", "CSAT (mean, 1–5)", "number", "difference"),
    ("nps", "NPS", "nps", "difference"),
    ("complaints_per_10k", "Complaints per 10,000 orders", "number", "relative"),
)


def kpi_table(daily: list[dict], business_date: date) -> list[dict]:
    by_day = {r["day"]: r for r in daily}
    today = by_day.get(business_date, {})
    yesterday = by_day.get(business_date - timedelta(days=1), {})
    last_week = by_day.get(business_date - timedelta(days=7), {})
    last7 = period([r for r in daily if r["day"] > business_date - timedelta(days=7)])
    prev7 = period([r for r in daily if business_date - timedelta(days=14) < r["day"] <= business_date - timedelta(days=7)])
    last30 = period(daily)
    table = []
    for key, label, filt, kind in KPIS:
        f = fmt.FILTERS[filt]
        table.append({
            "key": key,
            "label": label,
            "today": f(today.get(key)),
            "dod": fmt.change(today.get(key), yesterday.get(key), kind),
            "wow": fmt.change(today.get(key), last_week.get(key), kind),
            "last7": f(last7[key]),
            "vs_prev7": fmt.change(last7[key], prev7[key], kind),
            "last30": f(last30[key]),
        })
    return table


def context(marts: Marts, business_date: date) -> dict:
    p = marts.params
    daily = marts.rows("mart_product_daily", order_by="day")
    mix = marts.rows("mart_product_mix")
    hourly = marts.rows("mart_product_hourly")
    ttc = marts.rows("mart_product_time_to_credit")
    histogram = marts.rows("mart_product_delay_histogram", order_by="bin_order, channel")
    satisfaction = marts.rows("mart_product_satisfaction")
    late_vs = marts.rows("mart_product_late_vs_ontime")
    complaints = marts.rows("mart_product_complaints")
    comments = marts.rows("mart_product_comments")
    for row in comments:  # free text: a customer may type a phone number into it
        row["comment"] = mask_text(row["comment"])

    days = [r["day"] for r in daily]

    def series(key: str) -> list:
        """A day the warehouse has no run for is a gap in the line, not a zero."""
        return [r[key] if r["has_run"] else None for r in daily]

    channels = [r["value"] for r in mix if r["dimension"] == "channel"]
    colour = {c: charts.PALETTE[i % len(charts.PALETTE)] for i, c in enumerate(channels)}
    chart = {}
    if any(r["orders"] for r in daily):
        chart["orders"] = charts.line_chart(days, {"orders": series("orders")}, "Orders per day, 30 days")
        chart["gmv"] = charts.line_chart(days, {"GMV": series("gmv")}, "GMV per day, 30 days",
                                         axis=charts.money_axis, colours=("#009E73",))
        chart["success"] = charts.line_chart(days, {"success rate": series("success_rate")},
                                             "Success rate (credited ÷ paid), 30 days", axis=charts.pct_axis,
                                             colours=("#009E73",))
        chart["late"] = charts.line_chart(days, {"late-credit rate": series("late_rate")},
                                          "Late-credit rate (over SLA ÷ credited), 30 days", axis=charts.pct_axis,
                                          colours=("#D55E00",))
        chart["ttc_trend"] = charts.line_chart(
            days, {"p50": series("p50_minutes"), "p95": series("p95_minutes"), "p99": series("p99_minutes")},
            "Time to credit (minutes, log scale), 30 days", axis=charts.plain_axis, log=True)
    if any(r["responses"] for r in daily):
        chart["satisfaction"] = charts.line_chart(days, {"CSAT (1–5)": series("csat_avg")},
                                                  "CSAT per day (mean, 1–5)", axis=charts.plain_axis,
                                                  colours=("#0072B2",))
        chart["nps"] = charts.line_chart(days, {"NPS": series("nps")}, "NPS per day",
                                         axis=charts.plain_axis, colours=("#CC79A7",))
    if any(r["complaints"] for r in daily):
        chart["complaints"] = charts.line_chart(days, {"per 10k": series("complaints_per_10k")},
                                                "Complaints per 10,000 orders", axis=charts.plain_axis,
                                                colours=("#D55E00",))
    if hourly:
        hours = list(range(24))
        per = {(r["hour"], r["channel"]): r["orders"] for r in hourly}
        chart["hourly"] = charts.stacked_bars(
            [f"{h:02d}" for h in hours], {c: [per.get((h, c), 0) for h in hours] for c in channels},
            "Orders by hour of day (Asia/Shanghai) and channel", colours=[colour[c] for c in channels])
    if histogram:
        labels = sorted({(r["bin_order"], r["label"]) for r in histogram})
        per = {(r["bin_order"], r["channel"]): r["orders"] for r in histogram}
        hist_channels = [c for c in channels if any(per.get((b, c)) for b, _ in labels)]
        sla_bin = next((i for i, (_, label) in enumerate(labels) if label.startswith("10-")), None)
        chart["histogram"] = charts.stacked_bars(
            [label for _, label in labels], {c: [per.get((b, c), 0) for b, _ in labels] for c in hist_channels},
            "Time to credit (minutes from payment), credited orders by channel",
            colours=[colour[c] for c in hist_channels],
            reference=(sla_bin - 0.5, "SLA 10 min") if sla_bin is not None else None)
    mix_gmv = [r for r in mix if r["dimension"] == "channel"]
    if mix_gmv:
        chart["channel_gmv"] = charts.stacked_bars(
            [r["value"] for r in mix_gmv], {"GMV": [r["gmv"] for r in mix_gmv]}, "GMV by channel, today",
            axis=charts.money_axis, horizontal=True, width=3.5, height=2.2, colours=("#009E73",))
        product_rows = [r for r in mix if r["dimension"] == "product_type"]
        chart["product_gmv"] = charts.stacked_bars(
            [r["value"] for r in product_rows], {"GMV": [r["gmv"] for r in product_rows]},
            "GMV by product type, today", axis=charts.money_axis, horizontal=True, width=3.5, height=2.2,
            colours=("#0072B2",))

    return {
        "kpis": kpi_table(daily, business_date),
        "daily": list(reversed(daily)),
        "mix": {key: [r for r in mix if r["dimension"] == key] for key, _ in DIMENSIONS},
        "mix_total": next((r for r in mix if r["dimension"] == "total"), None),
        "dimensions": DIMENSIONS,
        "ttc": [r for r in ttc if not r["is_total"]],
        "ttc_total": next((r for r in ttc if r["is_total"]), None),
        "satisfaction_channel": [r for r in satisfaction if r["dimension"] == "channel"],
        "satisfaction_product": [r for r in satisfaction if r["dimension"] == "product_type"],
        "satisfaction_total": next((r for r in satisfaction if r["dimension"] == "total"), None),
        "late_vs": late_vs,
        "complaints": [r for r in complaints if not r["is_total"]],
        "complaints_total": next((r for r in complaints if r["is_total"]), None),
        "comments": comments,
        "chart": chart,
        "week_start": p["week_start"],
        "window_start": p["window_start"],
    }


DAILY_COLUMNS = (
    Col("Day", "day", "date", 11), Col("Orders", "orders", "count"), Col("Paid orders", "paid_orders", "count"),
    Col("GMV (CNY)", "gmv", "money", 16), Col("Credited orders", "credited_orders", "count"),
    Col("Late credits", "late_orders", "count"), Col("Success rate", "success_rate", "pct"),
    Col("Late-credit rate", "late_rate", "pct"), Col("p50 minutes", "p50_minutes", "number"),
    Col("p95 minutes", "p95_minutes", "number"), Col("p99 minutes", "p99_minutes", "number"),
    Col("Survey responses", "responses", "count"), Col("CSAT mean", "csat_avg", "number"),
    Col("NPS", "nps", "number"), Col("Complaints", "complaints", "count"),
    Col("Complaints per 10k orders", "complaints_per_10k", "number"),
)
MIX_COLUMNS = (
    Col("Dimension", "dimension", "label", 13), Col("Value", "value", "text", 16), Col("Orders", "orders", "count"),
    Col("Paid orders", "paid_orders", "count"), Col("GMV (CNY)", "gmv", "money", 16),
    Col("Credited orders", "credited_orders", "count"), Col("Success rate", "success_rate", "pct"),
)
HOURLY_COLUMNS = (Col("Hour", "hour", "count", 6), Col("Channel", "channel", "text"),
                  Col("Orders", "orders", "count"), Col("GMV (CNY)", "gmv", "money", 16))
TTC_COLUMNS = (
    Col("Channel", "channel", "text"), Col("Credited orders", "credited_orders", "count"),
    Col("Mean minutes", "mean_minutes", "number"), Col("p50 minutes", "p50_minutes", "number"),
    Col("p95 minutes", "p95_minutes", "number"), Col("p99 minutes", "p99_minutes", "number"),
    Col("Late credits", "late_orders", "count"), Col("Late-credit rate", "late_rate", "pct"),
)
SAT_COLUMNS = (
    Col("Dimension", "dimension", "label", 13), Col("Value", "value", "text", 16),
    Col("Responses", "responses", "count"), Col("CSAT answers", "csat_responses", "count"),
    Col("CSAT mean", "csat_avg", "number"), Col("CSAT 4–5 share", "csat_satisfied_share", "pct"),
    Col("NPS answers", "nps_responses", "count"), Col("NPS", "nps", "number"),
)
LATE_COLUMNS = (
    Col("How the order was served", "credit_timing", "label", 22), Col("Orders (7 days)", "orders", "count"),
    Col("Responses", "responses", "count"), Col("CSAT mean", "csat_avg", "number"),
    Col("CSAT 4–5 share", "csat_satisfied_share", "pct"), Col("NPS", "nps", "number"),
    Col("Complaints", "complaints", "count"), Col("Complaints per 10k orders", "complaints_per_10k", "number"),
)
COMPLAINT_COLUMNS = (
    Col("Category", "category", "text", 16), Col("Complaints today", "complaints_day", "count"),
    Col("Per 10k orders today", "per_10k_day", "number"), Col("Complaints, 7 days", "complaints_week", "count"),
    Col("Per 10k orders, 7 days", "per_10k_week", "number"),
)

COMMENT_COLUMNS = (
    Col("Response id", "response_id", "text", 14), Col("Order id", "order_id", "text", 22),
    Col("Submitted", "submitted_at", "timestamp", 18), Col("CSAT", "csat", "count", 6), Col("NPS", "nps", "count", 6),
    Col("Channel", "channel", "text"), Col("Product type", "product_type", "text"),
    Col("Comment", "comment", "text", 80),
)


def write_exports(marts: Marts, ctx: dict, business_date: date, folder: Path) -> list[Path]:
    day = business_date.isoformat()
    book = Workbook(folder / "product.xlsx")
    book.sheet("Daily", f"Product figures per day, {ctx['window_start']} to {day}", DAILY_COLUMNS,
               marts.rows("mart_product_daily", order_by="day"))
    book.sheet("Mix", f"Orders of {day} by dimension", MIX_COLUMNS, marts.rows("mart_product_mix"))
    book.sheet("Hourly", f"Orders of {day} by hour and channel", HOURLY_COLUMNS, marts.rows("mart_product_hourly"))
    book.sheet("Time to credit", f"Minutes from payment to credit, orders of {day}", TTC_COLUMNS,
               marts.rows("mart_product_time_to_credit"))
    book.sheet("Satisfaction", f"Survey answers {ctx['week_start']} to {day}", SAT_COLUMNS,
               marts.rows("mart_product_satisfaction"))
    book.sheet("Late vs on time", f"Satisfaction by credit timing, {ctx['week_start']} to {day}", LATE_COLUMNS,
               ctx["late_vs"])
    book.sheet("Complaints", f"Complaints per 10,000 orders, {day} and 7 days", COMPLAINT_COLUMNS,
               ctx["complaints"] + ([ctx["complaints_total"]] if ctx["complaints_total"] else []))
    book.sheet("Comments", f"Survey comments received {day}, unhappiest first", COMMENT_COLUMNS, ctx["comments"])
    csv = write_csv(marts.wh, "select * exclude (csat_sum, csat_responses, promoters, detractors, nps_responses) "
                              "from temp.main.mart_product_daily order by day", folder / "product_daily.csv")
    return [book.close(), csv]
