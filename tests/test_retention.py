"""Retention (etl/retention.py): rows older than retention.keep_days leave the warehouse for
date-partitioned Parquet, every row and fen of them; the results of the dates kept are those of
a warehouse that keeps everything; archiving twice changes nothing; a crash between writing the
archive and deleting the rows leaves the warehouse whole, and the next run completes it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from etl.config import load_settings
from etl.pipeline import RunError, run_dates
from etl.retention import ARCHIVED, archive_command
from tests.conftest import paths_env

START, NIGHTS = date(2026, 10, 1), 12
DATES = [START + timedelta(days=i) for i in range(NIGHTS)]
# The generator's late events (credits, refunds, reversals) land up to 8 days after their order,
# and a payment may land a day before its order: kept 9 days, no late event finds its order gone.
KEEP = 9
RESULTS = ("order_eval", "break_log", "fallback_suggestions", "control_totals", "outcome_totals", "settlement")


def settings_for(root: Path, keep_days: int, recheck_days: int = 1):
    return load_settings(paths_env(root, RECON_REPORTS__ENABLED="false", RECON_ARCHIVE=str(root / "archive"),
                                   RECON_RETENTION__KEEP_DAYS=str(keep_days),
                                   RECON_MATCHING__RECHECK_DAYS=str(recheck_days)))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    from etl.generate import generate_landing

    root = tmp_path_factory.mktemp("retention-landing")
    generate_landing(root / "landing", START, NIGHTS, 300, seed=12)
    return root / "landing"


def run_all(root: Path, landing: Path, keep_days: int) -> Path:
    shutil.copytree(landing, root / "landing")
    run_dates(settings_for(root, keep_days), DATES)
    return root


@pytest.fixture(scope="module")
def everything(landing, tmp_path_factory) -> Path:
    """The nights on a warehouse that keeps every day (nothing is old enough to archive)."""
    return run_all(tmp_path_factory.mktemp("keep-all"), landing, 400)


@pytest.fixture(scope="module")
def kept(landing, tmp_path_factory) -> Path:
    """The same nights, keeping KEEP days."""
    return run_all(tmp_path_factory.mktemp("keep-9"), landing, KEEP)


def connect(*roots: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for i, root in enumerate(roots):
        con.execute(f"attach '{root / 'warehouse' / 'recon.duckdb'}' as w{i} (read_only)")
    return con


def archive_of(root: Path, table: str) -> str:
    """The table's archived rows (none when no date of it had rows to archive)."""
    if not list((root / "archive" / table).glob("*/*.parquet")):
        return f"(select * from w0.{table} where false)"
    return f"read_parquet('{root / 'archive' / table}/*/*.parquet', hive_partitioning = false)"


def differ(con: duckdb.DuckDBPyConnection, a: str, b: str) -> int:
    """Rows of a not in b plus rows of b not in a, as multisets."""
    return con.execute(f"select (select count(*) from (({a}) except all ({b}))) "
                       f"+ (select count(*) from (({b}) except all ({a})))").fetchone()[0]


def test_the_warehouse_keeps_only_the_days_kept(kept):
    first_kept = DATES[-1] - timedelta(days=KEEP)
    con = connect(kept)
    for table, column in ARCHIVED.items():
        oldest = con.execute(f"select min({column}) from w0.{table}").fetchone()[0]
        assert oldest is None or oldest >= first_kept, table
    archived = con.execute("select count(distinct archived_date) from w0.archive_log where table_name = 'raw_orders'")
    assert archived.fetchone()[0] == (first_kept - START).days


def test_every_row_removed_is_in_the_archive_to_the_fen(everything, kept):
    """Warehouse ∪ archive of the retained run = the warehouse that kept everything, per table:
    row for row, so every amount too."""
    con = connect(everything, kept)
    for table in ARCHIVED:
        both = f"select * from w1.{table} union all select * from {archive_of(kept, table)}"
        assert differ(con, f"select * from w0.{table}", both) == 0, table
    money = con.execute(f"select sum(amount) from {archive_of(kept, 'raw_payments')}").fetchone()[0]
    assert money > 0


def test_results_of_every_date_are_those_of_the_warehouse_that_keeps_everything(everything, kept):
    first_kept = DATES[-1] - timedelta(days=KEEP)
    con = connect(everything, kept)
    for table in RESULTS:
        where = f"where business_date >= '{first_kept}'"
        assert differ(con, f"select * from w0.{table} {where}", f"select * from w1.{table} {where}") == 0, table
    # and the dates archived were archived as they were, the kept tables whole
    for table in ("control_totals", "outcome_totals", "settlement"):
        assert differ(con, f"select * from w0.{table}", f"select * from w1.{table}") == 0, table
    breaks = "select break_key, status from {} where business_date = '" + DATES[-1].isoformat() + "'"
    assert con.execute(breaks.format("w1.break_log")).fetchall()


def test_archiving_twice_changes_nothing(kept, tmp_path):
    root = tmp_path / "again"
    shutil.copytree(kept, root)
    settings = settings_for(root, KEEP)
    files = {p: p.read_bytes() for p in (root / "archive").rglob("*.parquet")}
    before = connect(root).execute("select count(*) from w0.archive_log").fetchone()[0]
    _, done = archive_command(settings)
    assert done == []
    assert {p: p.read_bytes() for p in (root / "archive").rglob("*.parquet")} == files
    assert connect(root).execute("select count(*) from w0.archive_log").fetchone()[0] == before


def test_archiving_on_its_own_schedule_ends_where_the_nightly_archive_ends(everything, kept, tmp_path):
    """retention.nightly off: the nights archive nothing, and `recon archive` later moves the
    same rows as the nightly step would have."""
    root = tmp_path / "later"
    shutil.copytree(everything, root, ignore=shutil.ignore_patterns("archive"))
    _, done = archive_command(settings_for(root, KEEP))
    assert {a.table for a in done} >= {"raw_orders", "raw_payments", "raw_billing", "order_eval", "break_log"}
    con = connect(kept, root)
    for table in ARCHIVED:
        assert differ(con, f"select * from w0.{table}", f"select * from w1.{table}") == 0, table
        assert differ(con, f"select * from {archive_of(kept, table)}",
                      f"select * from {archive_of(root, table)}") == 0, table


def test_no_nightly_archive_when_it_is_off(landing, tmp_path):
    root = tmp_path / "off"
    shutil.copytree(landing, root / "landing")
    settings = load_settings(paths_env(root, RECON_REPORTS__ENABLED="false", RECON_ARCHIVE=str(root / "archive"),
                                       RECON_RETENTION__KEEP_DAYS="2", RECON_RETENTION__NIGHTLY="false",
                                       RECON_MATCHING__RECHECK_DAYS="1"))
    summaries = run_dates(settings, DATES[:4])
    assert all(s.archived == [] for s in summaries) and not (root / "archive").exists()
    assert connect(root).execute("select count(distinct landing_date) from w0.raw_orders").fetchone()[0] == 4


def test_an_archived_date_is_not_run_again(kept, tmp_path):
    root = tmp_path / "rerun"
    shutil.copytree(kept, root)
    files = {p: p.read_bytes() for p in (root / "archive").rglob("*.parquet")}
    with pytest.raises(RunError, match="archived"):
        run_dates(settings_for(root, KEEP), [DATES[0]])
    assert {p: p.read_bytes() for p in (root / "archive").rglob("*.parquet")} == files


def test_archive_never_reaches_what_a_recheck_reads(kept, tmp_path):
    root = tmp_path / "too-far"
    shutil.copytree(kept, root)
    with pytest.raises(RunError, match="re-check"):
        archive_command(settings_for(root, KEEP, recheck_days=3), before=DATES[-1] - timedelta(days=3))


def test_keep_days_must_exceed_the_recheck_window(tmp_path):
    with pytest.raises(ValueError, match="keep_days"):
        settings_for(tmp_path, keep_days=30, recheck_days=30)


def recon_archive(root: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(paths_env(root, RECON_ARCHIVE=str(root / "archive"), RECON_MATCHING__RECHECK_DAYS="1"))
    if crash_at:
        env["RECON_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "etl.cli", "archive", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_crash_between_writing_and_deleting_leaves_the_warehouse_whole(everything, tmp_path):
    root = tmp_path / "crash"
    shutil.copytree(everything, root, ignore=shutil.ignore_patterns("archive"))
    before = DATES[4]
    crashed = recon_archive(root, "--before", before.isoformat(), crash_at="archive_written")
    assert crashed.returncode == -9, crashed.stderr  # SIGKILL after the files, before the delete
    con = connect(everything, root)
    for table in ARCHIVED:
        assert differ(con, f"select * from w0.{table}", f"select * from w1.{table}") == 0, table
    assert con.execute("select count(*) from w1.archive_log").fetchone()[0] == 0
    con.close()
    done = recon_archive(root, "--before", before.isoformat())
    assert done.returncode == 0, done.stderr
    con = connect(everything, root)
    for table, column in ARCHIVED.items():
        assert con.execute(f"select count(*) from w1.{table} where {column} < '{before}'").fetchone()[0] == 0
        both = f"select * from w1.{table} union all select * from {archive_of(root, table)}"
        assert differ(con, f"select * from w0.{table}", both) == 0, table
    assert not list((root / "archive").rglob(".*tmp-*"))


def test_a_late_event_of_an_archived_order_is_a_one_sided_entry(landing, everything, tmp_path):
    """Kept 2 days, the late credits, refunds and reversals of orders archived count as rows of
    an unknown order: every night still balances, no row is lost, and the orphans grow."""
    short = run_all(tmp_path / "keep-2", landing, 2)
    con = connect(everything, short)
    totals = "select source, sum(rows), sum(amount) from {}.outcome_totals group by all order by all"
    assert con.execute(totals.format("w0")).fetchall() == con.execute(totals.format("w1")).fetchall()
    assert con.execute("select bool_and(balanced) from w1.control_totals").fetchone()[0]
    orphans = "select sum(rows) from {}.outcome_totals where outcome like 'ORPHAN%'"
    assert con.execute(orphans.format("w1")).fetchone()[0] > con.execute(orphans.format("w0")).fetchone()[0]
