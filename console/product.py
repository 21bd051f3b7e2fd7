"""The product page: trends over a chosen date range, filtered by channel, province, product and
pay method, split into series by one of them, with charts (matplotlib SVG, as the reports)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from console import forms
from console.published import Published
from console.reasons import CHANNELS

DIMENSIONS = ("channel", "province", "product_type", "pay_method")
MAX_DAYS = 366


def product_context(ctx, published: Published) -> dict[str, Any]:  # noqa: ANN001 - console.app.Ctx
    from reports.charts import line_chart, pct_axis

    _ = ctx._
    latest = published.latest()
    if latest is None:
        return {"latest": None}
    last = forms.day(ctx.fields, "to", latest)
    first = forms.day(ctx.fields, "from", last - timedelta(days=29))
    if first > last:
        raise forms.BadInput("the range starts after it ends")
    if (last - first).days >= MAX_DAYS:
        raise forms.BadInput(f"choose at most {MAX_DAYS} days")
    options = published.product_options()
    dims = {d: forms.choice(ctx.fields, d, options.get(d, [])) for d in DIMENSIONS}
    split = forms.choice(ctx.fields, "split", DIMENSIONS)
    rows = published.product_daily(first, last, dims, split)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    series: dict[str, dict[date, dict[str, Any]]] = {}
    for r in rows:
        series.setdefault(r["series"] or "—", {})[r["order_date"]] = r
    # the largest series first, at most 8 lines on a chart
    names = sorted(series, key=lambda s: -sum(int(v["orders"]) for v in series[s].values()))[:8]
    totals = []
    for name in names:
        by_day = series[name]
        orders = sum(int(v["orders"]) for v in by_day.values())
        paid = sum(int(v["paid_orders"]) for v in by_day.values())
        credited = sum(int(v["credited_orders"]) for v in by_day.values())
        late = sum(int(v["late_orders"]) for v in by_day.values())
        gmv = sum((Decimal(v["gmv"]) for v in by_day.values()), Decimal(0))
        delay = sum((Decimal(v["delay_sum"] or 0) for v in by_day.values()), Decimal(0))
        totals.append({"name": name, "orders": orders, "paid": paid, "gmv": gmv,
                       "success": credited / paid if paid else None, "late": late / credited if credited else None,
                       "mean_delay": delay / credited if credited else None})
    charts = []

    def label(name: str) -> str:
        if name == "all":
            return _("All orders")
        return _(CHANNELS[name]) if split == "channel" and name in CHANNELS else name

    if names:
        charts.append(line_chart(days, {label(n): [int(series[n][d]["orders"]) if d in series[n] else 0 for d in days]
                                        for n in names}, _("Orders per day")))
        charts.append(line_chart(days, {label(n): [(int(series[n][d]["credited_orders"]) / int(series[n][d]["paid_orders"]))
                                                   if d in series[n] and int(series[n][d]["paid_orders"]) else None
                                                   for d in days] for n in names},
                                 _("Success rate (credited of paid)"), axis=pct_axis))
    return {"latest": latest, "first": first, "last": last, "options": options, "dims": dims, "split": split or "",
            "totals": totals, "charts": charts, "dimensions": DIMENSIONS}
