"""The report marts (``sql/marts/mart_*.sql``): built once per render as temp tables in the
warehouse connection, read as small lists of dicts. Only aggregates and capped top-N lists
cross into Python; the full ops queue goes from DuckDB to CSV directly."""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from datetime import date, timedelta
from typing import Any

from etl.privacy import MASK_SQL, SAFE_SQL
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)


def parameters(business_date: date) -> dict[str, Any]:
    """The dates the marts bind: the day, its month so far, the last 7 and 30 days."""
    month_start = business_date.replace(day=1)
    window_start = business_date - timedelta(days=29)
    return {
        "business_date": business_date,
        "month_start": month_start,
        "window_start": window_start,
        "week_start": business_date - timedelta(days=6),
        "history_start": min(month_start, window_start),
        "resolved_limit": 200,
    }


# Marts that read another mart, which must be built first.
DEPENDS_ON = {
    "mart_product_daily": ("mart_order_days",),
    "mart_product_late_vs_ontime": ("mart_order_days", "mart_survey_orders"),
    "mart_product_satisfaction": ("mart_survey_orders",),
    "mart_product_comments": ("mart_survey_orders",),
    "mart_product_complaints": ("mart_order_days",),
}

# Marts whose joins must build their hash table on the side the SQL puts on the right: the few
# orders with several evaluations, never the window's evaluations (DuckDB misjudges the filters'
# selectivity and flipped it for some dates, building a hash table of 20M evaluations).
JOINS_AS_WRITTEN = frozenset({"mart_order_days"})


class Marts:
    """Builds each mart at most once and remembers its rows."""

    def __init__(self, wh: Warehouse, business_date: date):
        self.wh = wh
        self.params = parameters(business_date)
        self._built: dict[str, list[dict]] = {}
        self.seconds: dict[str, float] = {}
        # masking and formula-neutralising, as etl.privacy defines them, callable from the marts
        wh.con.execute("create or replace temp macro mask_msisdn(msisdn) as " + MASK_SQL.format(col="msisdn"))
        wh.con.execute("create or replace temp macro safe_text(value) as " + SAFE_SQL.format(col="value"))
        wh.run_file("marts/report_macros", {})
        # each order of a span of days as its latest evaluation has it (mart_order_days): a table
        # macro, so that the 30 days' evaluations are streamed, never copied
        wh.run_file("marts/order_latest", {})

    def build(self, name: str) -> str:
        """Materialise ``sql/marts/<name>.sql`` (once) and return the temp table's name."""
        if name not in self._built:
            for needed in DEPENDS_ON.get(name, ()):
                self.build(needed)
            started = time.perf_counter()
            with self.wh.joins_as_written() if name in JOINS_AS_WRITTEN else nullcontext():
                self.wh.model(f"marts/{name}", self.params)
            self.seconds[name] = round(time.perf_counter() - started, 3)
            self._built[name] = []
            log.info("mart %-36s %6.2fs", name, self.seconds[name])
        return name

    def rows(self, name: str, limit: int | None = None, where: str | None = None,
             order_by: str | None = None) -> list[dict]:
        """The rows of a mart (aggregates: small), or the first ``limit`` of a long one."""
        table = self.build(name)
        sql = f"select * from temp.main.{table}"
        if where:
            sql += f" where {where}"
        if order_by:
            sql += f" order by {order_by}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        cur = self.wh.execute(sql, self.params)  # a where clause may use the marts' $parameters
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def scalar(self, sql: str) -> Any:
        row = self.wh.execute(sql, self.params).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        for name in self._built:
            self.wh.con.execute(f"drop table if exists temp.main.{name}")
        for macro in ("mask_msisdn", "safe_text", "age_bucket", "age_bucket_order", "next_action", "money_side",
                      "credit_timing", "tr"):
            self.wh.con.execute(f"drop macro if exists {macro}")
        self.wh.con.execute("drop table if exists temp.main.report_labels")  # the exports' words (reports.exports)
        self.wh.con.execute("drop macro table if exists order_latest")
        self._built.clear()
