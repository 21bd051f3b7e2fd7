"""Retention: the warehouse keeps ``retention.keep_days`` days of raw ledger rows and per-order
results; older ones are archived to date-partitioned Parquet, checked, then deleted.

A night's cost and the warehouse's size then follow the days kept, not every day ever loaded.
Each expired date of each table is written to
``<archive>/<table>/business_date=YYYY-MM-DD/part-0.parquet`` (a temporary file, checked
against the warehouse's rows, count and every DECIMAL column's sum and a hash of every row,
then renamed into place); only when every file of the run is in place are the rows deleted, in
one transaction. A crash in between leaves the warehouse whole, and the next run writes the
same files again and completes the delete. A date loaded again after it was archived (a
backfill) is archived again, its file replaced by the warehouse's rows.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from etl.config import Settings, shanghai_now
from etl.failpoints import failpoint
from etl.warehouse import Warehouse, sql_literal

log = logging.getLogger(__name__)

# The tables that grow with every night, and the date that ages their rows: the raw ledgers by
# the landing date they came in, the per-order results by the business date of their run. The
# other tables hold a few rows a day (loaded files, totals, settlement, the run log) and are
# kept whole: the re-sent-file check reads every file hash ever loaded.
ARCHIVED = {
    "raw_orders": "landing_date",
    "raw_payments": "landing_date",
    "raw_billing": "landing_date",
    "raw_surveys": "landing_date",
    "raw_complaints": "landing_date",
    "order_eval": "business_date",
    "break_log": "business_date",
    "fallback_suggestions": "business_date",
}
PART = "part-0.parquet"


class RetentionError(RuntimeError):
    """An archive file does not hold the rows it must: nothing was deleted."""


@dataclass(frozen=True)
class ArchivedDate:
    table: str
    day: date
    rows: int
    path: Path


def cutoff(wh: Warehouse, settings: Settings, business_date: date) -> date:
    """The first date kept: ``keep_days`` before the newest date matched (this run's, or a later
    one when an older date is run again)."""
    newest = wh.scalar("select max(business_date) from run_log where status = 'ok'")
    latest = max(business_date, newest) if newest else business_date
    return latest - timedelta(days=settings.retention.keep_days)


def _qualified(wh: Warehouse, table: str) -> str:
    """The persistent table: temp tables of a match may share its name."""
    database = wh.scalar("select current_database()")
    return '"' + database.replace('"', '""') + f'".main.{table}'


def _decimal_columns(wh: Warehouse, table: str) -> list[str]:
    return [c for (c,) in wh.rows(
        "select column_name from duckdb_columns() where table_name = $t and schema_name = 'main' "
        "and database_name = current_database() and data_type like 'DECIMAL%' order by column_index",
        {"t": table})]


def _check_sql(relation: str, decimals: list[str]) -> str:
    """Count, each DECIMAL column's sum (exact, to the fen) and the sum of every row's hash."""
    sums = "".join(f", sum({c})" for c in decimals)
    return f"select count(*){sums}, sum(hash(r)::hugeint) from {relation} as r"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_partition(wh: Warehouse, table: str, column: str, day: date, root: Path) -> ArchivedDate:
    """Write ``table``'s rows of ``day`` to their partition file, atomically, after checking the
    file holds exactly those rows."""
    folder = root / table / f"business_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f".{PART}.tmp-*"):  # left by a crashed run
        stale.unlink(missing_ok=True)
    final, tmp = folder / PART, folder / f".{PART}.tmp-{os.getpid()}"
    source = _qualified(wh, table)
    rows = f"(select * from {source} where {column} = $d)"
    target = sql_literal(str(tmp))  # COPY cannot bind its path
    wh.execute(f"copy {rows} to {target} (format parquet, compression zstd, compression_level 1)", {"d": day})
    try:
        decimals = _decimal_columns(wh, table)
        in_warehouse = _check_sql(rows, decimals)
        in_file = _check_sql(f"read_parquet({target}, hive_partitioning = false)", decimals)
        expected = wh.execute(in_warehouse, {"d": day}).fetchone()
        written = wh.execute(in_file).fetchone()
        if expected != written:
            raise RetentionError(f"archive of {table} for {day} does not hold the warehouse's rows "
                                 f"(warehouse {expected}, file {written}); nothing deleted")
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ArchivedDate(table, day, int(expected[0]), final)


def archive_before(wh: Warehouse, first_kept: date, root: Path) -> list[ArchivedDate]:
    """Archive then delete every row of the tables in ARCHIVED dated before ``first_kept``."""
    due = []
    for table, column in ARCHIVED.items():
        source = _qualified(wh, table)
        due += [(table, column, day) for (day,) in wh.rows(
            f"select distinct {column} from {source} where {column} < $c order by 1", {"c": first_kept})]
    if not due:
        return []
    written = [_write_partition(wh, table, column, day, root) for table, column, day in due]
    failpoint("archive_written")
    at = shanghai_now()
    with wh.transaction():
        for (table, column, day), done in zip(due, written):
            source = _qualified(wh, table)
            wh.execute(f"delete from {source} where {column} = $d", {"d": day})
            wh.execute("insert into archive_log values ($t, $d, $n, $p, $at)",
                       {"t": table, "d": day, "n": done.rows, "p": str(done.path), "at": at})
    wh.con.execute("checkpoint")  # hand the deleted rows' blocks back for the next nights' rows
    log.info("archived %d table-date(s) before %s to %s", len(written), first_kept, root)
    return written


def refuse_archived_date(wh: Warehouse, landing_date: date) -> None:
    """A date already archived is not loaded or matched again: its run could not see the history
    it was judged on, and archiving that run would replace the rows the archive holds."""
    archived_at = wh.scalar("select max(archived_at) from archive_log where archived_date = $d", {"d": landing_date})
    if archived_at is not None:
        from etl.pipeline import RunError

        raise RunError(f"{landing_date} was archived on {archived_at:%Y-%m-%d %H:%M} (retention.keep_days): its rows "
                       f"and results are in the archive; running it again would judge it without its history "
                       "and replace what the archive holds")


def archive_expired(wh: Warehouse, settings: Settings, business_date: date) -> list[ArchivedDate]:
    """The nightly step, after the match: archive what ``keep_days`` no longer keeps (unless
    ``retention.nightly`` is off and ``recon archive`` runs on its own schedule)."""
    if not settings.retention.nightly:
        return []
    return archive_before(wh, cutoff(wh, settings, business_date), settings.paths.archive)


def archive_command(settings: Settings, before: date | None = None) -> tuple[date, list[ArchivedDate]]:
    """``recon archive``: archive what ``keep_days`` no longer keeps, or everything dated before
    ``before``, which may not reach the dates a re-check still reads."""
    from etl.pipeline import RunError, run_lock

    with run_lock(settings), Warehouse(settings) as wh:
        newest = wh.scalar("select max(business_date) from run_log where status = 'ok'")
        if newest is None:
            raise RunError("no date has been run in this warehouse yet: nothing to archive")
        latest_allowed = newest - timedelta(days=settings.matching.recheck_days + 1)
        first_kept = before or cutoff(wh, settings, newest)
        if first_kept > latest_allowed:
            raise RunError(f"--before {first_kept} would archive rows a re-check still reads: the newest "
                           f"date run is {newest} and matching.recheck_days is {settings.matching.recheck_days}, "
                           f"so the earliest --before is {latest_allowed}")
        return first_kept, archive_before(wh, first_kept, settings.paths.archive)
