"""The stories the console shows (``story.parquet``), told once and carried night to night.

A break stays open for days or months, and every night lists every open break: telling each
story again from the whole history grew with the queue (at 1M orders a day, 2.7 s on the first
night and 17 s on the twenty-first). So a night takes the story of a break that the previous
published night also listed from that night's file, and looks up only the rows that landed
since; the stories of new breaks are told from the history (sql/console/console_story.sql).

A carried story is told again in full when its rows tonight name a transaction or a credit that
its told rows did not (a row of it may have landed earlier under that id alone), and every story
is told in full when there is no previous night's file or a date up to it was loaded again after
it was written. A row archived since a story was told stays in it.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from etl.config import Settings
from etl.warehouse import Warehouse, read_sql

ORDER = "story_id, event_at, ledger, source_file, source_line"
TOLD = "read_parquet($told_file)"  # the previous night's story.parquet
BEFORE_ANY_ROW = date(1970, 1, 1)


def published_before(settings: Settings, wh: Warehouse, business_date: date,
                     name: str) -> tuple[date, datetime | None, Path] | None:
    """(date, finished_at, file) of the latest completed night before ``business_date`` and its
    published console file ``name``; None when there is no such night or the file is not there."""
    row = wh.execute("select business_date, finished_at from run_log where status = 'ok' and business_date < $d "
                     "order by business_date desc limit 1", {"d": business_date}).fetchone()
    if row is None:
        return None
    path = settings.paths.output / row[0].isoformat() / "console" / name
    return (row[0], row[1], path) if path.is_file() else None


def previous_story(settings: Settings, wh: Warehouse, business_date: date) -> tuple[date, Path] | None:
    """(date, file) of the latest night before ``business_date`` whose published stories still
    hold: its run completed, its file is there, and no date up to it was loaded again since."""
    night = published_before(settings, wh, business_date, "story.parquet")
    if night is None or night[1] is None:
        return None
    day, finished, path = night
    if wh.scalar("select exists (select 1 from loaded_files where landing_date <= $d and loaded_at > $f)",
                 {"d": day, "f": finished}):
        return None
    return day, path


def story_select(settings: Settings, wh: Warehouse, business_date: date, params: dict) -> tuple[str, dict]:
    """Prepare the night's stories in temp tables; return the select that lists them, sorted, and
    its parameters."""
    model = read_sql("console/console_story")
    wh.execute("create or replace temp table story_carried (story_id varchar)")
    wh.execute("create or replace temp table story_told_ids (story_id varchar, kind varchar, provider varchar, "
               "id varchar)")
    wh.execute(f"create or replace temp table story_since as select * from ({model}) limit 0",
               {**params, "carried": True, "rows_after": BEFORE_ANY_ROW})
    told = "(select * from story_since limit 0)"
    previous = previous_story(settings, wh, business_date)
    if previous is not None:
        params = {**params, "told_file": str(previous[1])}
        try:
            with wh.joins_as_written():
                told = _carry(wh, model, params, previous[0])
        except duckdb.Error:  # a file of another shape (an older version's): tell every story anew
            wh.execute("delete from story_carried")
            wh.execute("delete from story_told_ids")
            wh.execute("delete from story_since")
            told = "(select * from story_since limit 0)"
    # The model's hash joins build on the ids and row ids it found (written on the right): left
    # to its estimates, DuckDB built some on every billing row (10M orders: 5.4 s instead of 3.5).
    with wh.joins_as_written():
        wh.execute(f"create or replace temp table story_new as {model}",
                   {**params, "carried": False, "rows_after": BEFORE_ANY_ROW})
    return (f"select $run_date::date as business_date, * exclude (business_date) from ("
            f"select * from {told} union all by name select * from story_since "
            f"union all by name select * from story_new) order by {ORDER}"), params


def _carry(wh: Warehouse, model: str, params: dict, day: date) -> str:
    """Fill story_carried (the stories the file ``params["told_file"]`` told that tonight's breaks
    still list) and story_since (their rows landing after ``day``); return the select of their
    told rows."""
    wh.execute(f"insert into story_carried select distinct story_id from {TOLD} where story_id in "
               "(select coalesce(order_id, break_key) from break_log where business_date = $run_date and exported)",
               params)
    # The transactions and credits of the order's own rows it told: the full story finds a later
    # refund or reversal through them, whatever order id (or none) that row carries.
    wh.execute(f"""
        insert into story_told_ids
        select distinct story_id, 'txn', provider, provider_txn_id from {TOLD}
        where ledger not in ('order', 'credit') and order_id = story_id and provider_txn_id is not null
          and story_id in (select story_id from story_carried)
        union
        select distinct story_id, 'credit', null, credit_id from {TOLD}
        where ledger = 'credit' and order_id = story_id and credit_id is not null
          and story_id in (select story_id from story_carried)""", params)
    wh.execute(f"insert into story_since {model}", {**params, "carried": True, "rows_after": day})
    # A carried story whose new rows name a transaction or credit its told rows do not: told anew.
    wh.execute(f"""
        create or replace temp table story_relinked as
        with told as (select * from {TOLD} where story_id in (select story_id from story_carried)),
        ids as (
            select story_id, provider, provider_txn_id as id from told where provider_txn_id is not null
            union select story_id, 'credit', credit_id from told where credit_id is not null
            union select story_id, 'credit', reverses_credit_id from told where reverses_credit_id is not null
        ),
        new_ids as (
            select story_id, provider, provider_txn_id as id from story_since where provider_txn_id is not null
            union select story_id, 'credit', credit_id from story_since where credit_id is not null
            union select story_id, 'credit', reverses_credit_id from story_since where reverses_credit_id is not null
        )
        select distinct story_id from (select * from new_ids except select * from ids)""", params)
    wh.execute("delete from story_carried where story_id in (select story_id from story_relinked)")
    wh.execute("delete from story_since where story_id in (select story_id from story_relinked)")
    return f"(select * from {TOLD} where story_id in (select story_id from story_carried))"
