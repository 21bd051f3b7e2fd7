"""Product: how customers order (channel, pay method, product, province, hour), how fast and
how reliably they are credited, and what they say about it, today and over 7 and 30 days."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from etl.i18n import DEFAULT_LOCALE, N_, gettext_for
from etl.privacy import mask_text
from reports import charts, formatting as fmt, labels
from reports.exports import Col, Workbook, header_sql, register_labels, write_csv
from reports.marts import Marts

# dimension, its column header, its heading (msgids)
DIMENSIONS = (("channel", N_("Channel"), N_("By channel")), ("pay_method", N_("Pay method"), N_("By pay method")),
              ("product_type", N_("Product type"), N_("By product type")), ("province", N_("Province"), N_("By province")))


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
    ("orders", N_("Orders"), "count", "relative"),
    ("gmv", N_("GMV (pay amount of paid orders)"), "money", "relative"),
    ("success_rate", N_("Success rate (credited ÷ paid)"), "pct", "points"),
    ("late_rate", N_("Late-credit rate (over SLA ÷ credited)"), "pct", "points"),
    ("p95_minutes", N_("Time to credit, p95"), "minutes", "relative"),
    ("csat_avg", N_("CSAT (mean, 1–5)"), "number", "difference"),
    ("nps", N_("NPS"), "nps", "difference"),
    ("complaints_per_10k", N_("Complaints per 10,000 orders"), "number", "relative"),
)


def kpi_table(daily: list[dict], business_date: date, locale: str = DEFAULT_LOCALE) -> list[dict]:
    by_day = {r["day"]: r for r in daily}
    today = by_day.get(business_date, {})
    yesterday = by_day.get(business_date - timedelta(days=1), {})
    last_week = by_day.get(business_date - timedelta(days=7), {})
    last7 = period([r for r in daily if r["day"] > business_date - timedelta(days=7)])
    prev7 = period([r for r in daily if business_date - timedelta(days=14) < r["day"] <= business_date - timedelta(days=7)])
    last30 = period(daily)
    table = []
    for key, label, filt, kind in KPIS:
        f = fmt.filters_for(locale)[filt]
        table.append({
            "key": key,
            "label": label,
            "today": f(today.get(key)),
            "dod": fmt.change(today.get(key), yesterday.get(key), kind, locale),
            "wow": fmt.change(today.get(key), last_week.get(key), kind, locale),
            "last7": f(last7[key]),
            "vs_prev7": fmt.change(last7[key], prev7[key], kind, locale),
            "last30": f(last30[key]),
        })
    return table


def context(marts: Marts, business_date: date, locale: str = DEFAULT_LOCALE) -> dict:
    _ = gettext_for(locale)
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

    def word(code: object, kind: str) -> str:
        return labels.label(code, kind, locale)

    channels = [r["value"] for r in mix if r["dimension"] == "channel"]
    colour = {c: charts.PALETTE[i % len(charts.PALETTE)] for i, c in enumerate(channels)}
    chart = {}
    if any(r["orders"] for r in daily):
        chart["orders"] = charts.line_chart(days, {_("orders"): series("orders")}, _("Orders per day, 30 days"),
                                            locale=locale)
        chart["gmv"] = charts.line_chart(days, {_("GMV"): series("gmv")}, _("GMV per day, 30 days"),
                                         axis=charts.money_axis, colours=("#009E73",), locale=locale)
        chart["success"] = charts.line_chart(days, {_("success rate"): series("success_rate")},
                                             _("Success rate (credited ÷ paid), 30 days"), axis=charts.pct_axis,
                                             colours=("#009E73",), locale=locale)
        chart["late"] = charts.line_chart(days, {_("late-credit rate"): series("late_rate")},
                                          _("Late-credit rate (over SLA ÷ credited), 30 days"), axis=charts.pct_axis,
                                          colours=("#D55E00",), locale=locale)
        chart["ttc_trend"] = charts.line_chart(
            days, {"p50": series("p50_minutes"), "p95": series("p95_minutes"), "p99": series("p99_minutes")},
            _("Time to credit (minutes, log scale), 30 days"), axis=charts.plain_axis, log=True, locale=locale)
    if any(r["responses"] for r in daily):
        chart["satisfaction"] = charts.line_chart(days, {_("CSAT (1–5)"): series("csat_avg")},
                                                  _("CSAT per day (mean, 1–5)"), axis=charts.plain_axis,
                                                  colours=("#0072B2",), locale=locale)
        chart["nps"] = charts.line_chart(days, {"NPS": series("nps")}, _("NPS per day"),
                                         axis=charts.plain_axis, colours=("#CC79A7",), locale=locale)
    if any(r["complaints"] for r in daily):
        chart["complaints"] = charts.line_chart(days, {_("per 10k"): series("complaints_per_10k")},
                                                _("Complaints per 10,000 orders"), axis=charts.plain_axis,
                                                colours=("#D55E00",), locale=locale)
    if hourly:
        hours = list(range(24))
        per = {(r["hour"], r["channel"]): r["orders"] for r in hourly}
        chart["hourly"] = charts.stacked_bars(
            [f"{h:02d}" for h in hours], {word(c, "channel"): [per.get((h, c), 0) for h in hours] for c in channels},
            _("Orders by hour of day (Asia/Shanghai) and channel"), colours=[colour[c] for c in channels],
            locale=locale)
    if histogram:
        bins = sorted({(r["bin_order"], r["label"]) for r in histogram})
        per = {(r["bin_order"], r["channel"]): r["orders"] for r in histogram}
        hist_channels = [c for c in channels if any(per.get((b, c)) for b, _label in bins)]
        sla_bin = next((i for i, (_order, text) in enumerate(bins) if text.startswith("10-")), None)
        chart["histogram"] = charts.stacked_bars(
            [text for _order, text in bins],
            {word(c, "channel"): [per.get((b, c), 0) for b, _label in bins] for c in hist_channels},
            _("Time to credit (minutes from payment), credited orders by channel"),
            colours=[colour[c] for c in hist_channels],
            reference=(sla_bin - 0.5, _("SLA {minutes} min").format(minutes=10)) if sla_bin is not None else None,
            locale=locale)
    mix_gmv = [r for r in mix if r["dimension"] == "channel"]
    if mix_gmv:
        chart["channel_gmv"] = charts.stacked_bars(
            [word(r["value"], "channel") for r in mix_gmv], {_("GMV"): [r["gmv"] for r in mix_gmv]},
            _("GMV by channel, today"), axis=charts.money_axis, horizontal=True, width=3.5, height=2.2,
            colours=("#009E73",), locale=locale)
        product_rows = [r for r in mix if r["dimension"] == "product_type"]
        chart["product_gmv"] = charts.stacked_bars(
            [word(r["value"], "product_type") for r in product_rows], {_("GMV"): [r["gmv"] for r in product_rows]},
            _("GMV by product type, today"), axis=charts.money_axis, horizontal=True, width=3.5, height=2.2,
            colours=("#0072B2",), locale=locale)

    return {
        "kpis": kpi_table(daily, business_date, locale),
        "daily": list(reversed(daily)),
        "mix": {key: [r for r in mix if r["dimension"] == key] for key, _header, _heading in DIMENSIONS},
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
    Col(N_("Day"), "day", "date", 11), Col(N_("Orders"), "orders", "count"), Col(N_("Paid orders"), "paid_orders", "count"),
    Col(N_("GMV (CNY)"), "gmv", "money", 16), Col(N_("Credited orders"), "credited_orders", "count"),
    Col(N_("Late credits"), "late_orders", "count"), Col(N_("Success rate"), "success_rate", "pct"),
    Col(N_("Late-credit rate"), "late_rate", "pct"), Col(N_("p50 minutes"), "p50_minutes", "number"),
    Col(N_("p95 minutes"), "p95_minutes", "number"), Col(N_("p99 minutes"), "p99_minutes", "number"),
    Col(N_("Survey responses"), "responses", "count"), Col(N_("CSAT mean"), "csat_avg", "number"),
    Col(N_("NPS"), "nps", "number"), Col(N_("Complaints"), "complaints", "count"),
    Col(N_("Complaints per 10k orders"), "complaints_per_10k", "number"),
)
MIX_COLUMNS = (
    Col(N_("Dimension"), "dimension", "label", 13, vocab="dimension"), Col(N_("Value"), "value", "text", 16), Col(N_("Orders"), "orders", "count"),
    Col(N_("Paid orders"), "paid_orders", "count"), Col(N_("GMV (CNY)"), "gmv", "money", 16),
    Col(N_("Credited orders"), "credited_orders", "count"), Col(N_("Success rate"), "success_rate", "pct"),
)
HOURLY_COLUMNS = (Col(N_("Hour"), "hour", "count", 6), Col(N_("Channel"), "channel", "label", vocab="channel"),
                  Col(N_("Orders"), "orders", "count"), Col(N_("GMV (CNY)"), "gmv", "money", 16))
TTC_COLUMNS = (
    Col(N_("Channel"), "channel", "label", vocab="channel"), Col(N_("Credited orders"), "credited_orders", "count"),
    Col(N_("Mean minutes"), "mean_minutes", "number"), Col(N_("p50 minutes"), "p50_minutes", "number"),
    Col(N_("p95 minutes"), "p95_minutes", "number"), Col(N_("p99 minutes"), "p99_minutes", "number"),
    Col(N_("Late credits"), "late_orders", "count"), Col(N_("Late-credit rate"), "late_rate", "pct"),
)
SAT_COLUMNS = (
    Col(N_("Dimension"), "dimension", "label", 13, vocab="dimension"), Col(N_("Value"), "value", "text", 16),
    Col(N_("Responses"), "responses", "count"), Col(N_("CSAT answers"), "csat_responses", "count"),
    Col(N_("CSAT mean"), "csat_avg", "number"), Col(N_("CSAT 4–5 share"), "csat_satisfied_share", "pct"),
    Col(N_("NPS answers"), "nps_responses", "count"), Col(N_("NPS"), "nps", "number"),
)
LATE_COLUMNS = (
    Col(N_("How the order was served"), "credit_timing", "label", 22, vocab="credit_timing"), Col(N_("Orders (7 days)"), "orders", "count"),
    Col(N_("Responses"), "responses", "count"), Col(N_("CSAT mean"), "csat_avg", "number"),
    Col(N_("CSAT 4–5 share"), "csat_satisfied_share", "pct"), Col(N_("NPS"), "nps", "number"),
    Col(N_("Complaints"), "complaints", "count"), Col(N_("Complaints per 10k orders"), "complaints_per_10k", "number"),
)
COMPLAINT_COLUMNS = (
    Col(N_("Category"), "category", "label", 16, vocab="category"), Col(N_("Complaints today"), "complaints_day", "count"),
    Col(N_("Per 10k orders today"), "per_10k_day", "number"), Col(N_("Complaints, 7 days"), "complaints_week", "count"),
    Col(N_("Per 10k orders, 7 days"), "per_10k_week", "number"),
)

COMMENT_COLUMNS = (
    Col(N_("Response id"), "response_id", "text", 14), Col(N_("Order id"), "order_id", "text", 22),
    Col(N_("Submitted"), "submitted_at", "timestamp", 18), Col(N_("CSAT"), "csat", "count", 6), Col(N_("NPS"), "nps", "count", 6),
    Col(N_("Channel"), "channel", "label", vocab="channel"), Col(N_("Product type"), "product_type", "label", vocab="product_type"),
    Col(N_("Comment"), "comment", "text", 80),
)


def write_exports(marts: Marts, ctx: dict, business_date: date, folder: Path,
                  locale: str = DEFAULT_LOCALE) -> list[Path]:
    _ = gettext_for(locale)
    day = fmt.day_heading(business_date, locale)
    week = fmt.day_heading(ctx["week_start"], locale)
    book = Workbook(folder / "product.xlsx", locale)
    book.sheet(_("Daily"), _("Product figures per day, {first} to {last}").format(
        first=fmt.day_heading(ctx["window_start"], locale), last=day), DAILY_COLUMNS,
        marts.rows("mart_product_daily", order_by="day"))
    book.sheet(_("Mix"), _("Orders of {day} by dimension").format(day=day), MIX_COLUMNS, _mix_rows(marts, locale))
    book.sheet(_("Hourly"), _("Orders of {day} by hour and channel").format(day=day), HOURLY_COLUMNS,
               marts.rows("mart_product_hourly"))
    book.sheet(_("Time to credit"), _("Minutes from payment to credit, orders of {day}").format(day=day), TTC_COLUMNS,
               marts.rows("mart_product_time_to_credit"))
    book.sheet(_("Satisfaction"), _("Survey answers {first} to {last}").format(first=week, last=day), SAT_COLUMNS,
               _mix_rows(marts, locale, "mart_product_satisfaction"))
    book.sheet(_("Late vs on time"), _("Satisfaction by credit timing, {first} to {last}").format(first=week, last=day),
               LATE_COLUMNS, ctx["late_vs"])
    book.sheet(_("Complaints"), _("Complaints per 10,000 orders, {day} and 7 days").format(day=day), COMPLAINT_COLUMNS,
               ctx["complaints"] + ([ctx["complaints_total"]] if ctx["complaints_total"] else []))
    book.sheet(_("Comments"), _("Survey comments received {day}, unhappiest first").format(day=day), COMMENT_COLUMNS,
               ctx["comments"])
    register_labels(marts.wh, locale)
    columns = [c for c in marts.wh.con.execute("select * from temp.main.mart_product_daily limit 0").description]
    select = header_sql([(f"tr('yesno', {name}::varchar)" if name == "has_run" else name, name)
                         for name, *_rest in columns
                         if name not in ("csat_sum", "csat_responses", "promoters", "detractors", "nps_responses")],
                        locale)
    csv = write_csv(marts.wh, f"select {select} from temp.main.mart_product_daily order by day",
                    folder / "product_daily.csv")
    return [book.close(), csv]


def _mix_rows(marts: Marts, locale: str, mart: str = "mart_product_mix") -> list[dict]:
    """A mix's rows with each value in words of its dimension's kind (a channel, a province …)."""
    rows = marts.rows(mart)
    return [{**r, "value": labels.label(r["value"], r["dimension"], locale)} for r in rows]
