"""The breaks export (shared/spec/breaks.md): breaks.csv with exactly the spec's columns, and
a Parquet copy, written from the open-items store for one business date."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from etl.privacy import MASK_SQL, SAFE_SQL
from etl.warehouse import Warehouse, sql_literal

BREAKS_COLUMNS = (
    "business_date", "break_type", "order_id", "provider", "provider_txn_id", "credit_id",
    "msisdn_masked", "order_amount", "paid_amount", "credited_amount", "difference", "paid_at",
    "credited_at", "delay_minutes", "first_seen", "age_days", "status",
)


def sql_path(path: Path) -> str:
    """A path as a SQL string literal (COPY cannot bind its target as a parameter)."""
    return sql_literal(str(path))


def _iso(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%dT%H:%M:%S+08:00')"


def _text(col: str) -> str:
    # ids come from input files: neutralise anything a spreadsheet would run as a formula
    return SAFE_SQL.format(col=col) + f" as {col}"


BREAKS_SELECT = f"""
select
    strftime(business_date, '%Y-%m-%d') as business_date,
    break_type,
    {_text('order_id')},
    provider,
    {_text('provider_txn_id')},
    {_text('credit_id')},
    {MASK_SQL.format(col='msisdn')} as msisdn_masked,
    order_amount::varchar as order_amount,
    paid_amount::varchar as paid_amount,
    credited_amount::varchar as credited_amount,
    difference::varchar as difference,
    {_iso('paid_at')} as paid_at,
    {_iso('credited_at')} as credited_at,
    delay_minutes::varchar as delay_minutes,
    strftime(first_seen, '%Y-%m-%d') as first_seen,
    date_diff('day', first_seen, business_date) as age_days,
    status
from break_log
where business_date = $d and exported
order by break_type, status, first_seen, order_id, provider, provider_txn_id, credit_id
"""


def write_breaks(wh: Warehouse, business_date: date, folder: Path) -> tuple[Path, Path]:
    """Write breaks.csv and breaks.parquet into ``folder`` (a staging folder, published whole)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = folder / "breaks.csv", folder / "breaks.parquet"
    # selected and sorted once, written twice: a table scan keeps the order it was written in
    wh.execute(f"create or replace temp table breaks_export as {BREAKS_SELECT}", {"d": business_date})
    try:
        wh.execute(f"copy temp.main.breaks_export to {sql_path(csv_path)} (header, delimiter ',', quote '\"')")
        wh.execute(f"copy temp.main.breaks_export to {sql_path(parquet_path)} (format parquet)")
    finally:
        wh.execute("drop table if exists temp.main.breaks_export")
    return csv_path, parquet_path
