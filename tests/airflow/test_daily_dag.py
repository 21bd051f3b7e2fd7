"""The daily DAG, run for real with ``dag.test()`` on generated data, publishes what
``recon run`` publishes; re-running its tasks changes nothing; late files re-run their date.

One module-scoped scenario (generation and runs take seconds each), checked from several angles:

1. ``recon run --from D1 --to D2`` into one folder, the DAG for D1 then D2 into another,
   each on its own copy of the same generated landing zone (quarantine moves files away);
2. the DAG's D1 run again in full, then only its warehouse step and what follows it;
3. a late billing file dropped into D1's folder, then the DAG for D2 again, compared with a
   fresh ``recon run`` over the same files.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from tests.airflow.conftest import DAGS, logical_date_for, recon_env
from tests.airflow.recording import sent

pytestmark = pytest.mark.airflow

D1, D2 = date(2026, 11, 24), date(2026, 11, 25)
DATES = (D1, D2)
ORDERS_PER_DAY = 500
# Columns that record when or where a run happened, not what it found: left out of comparisons.
VOLATILE = {"loaded_at", "quarantined_at", "quarantine_path", "started_at", "finished_at", "summary", "resolved_at"}


# -- running both ways ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from etl.config import load_settings
    from etl.generate import generate_landing

    out = tmp_path_factory.mktemp("generated") / "landing"
    generate_landing(out, D1, len(DATES), ORDERS_PER_DAY, 11, load_settings())
    return out


def copy_landing(generated: Path, root: Path) -> Path:
    return Path(shutil.copytree(generated, root / "landing"))


def recon_run(root: Path, landing: Path, first: date, last: date) -> None:
    recon = Path(sys.executable).with_name("recon")
    env = {**os.environ, **recon_env(root, landing)}
    done = subprocess.run([str(recon), "run", "--from", first.isoformat(), "--to", last.isoformat()],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@contextmanager
def recon_environment(root: Path, landing: Path, alerts: Path):
    """What the Airflow worker's environment would hold: the recon paths, a notifier that
    records, and thresholds low enough that every date alerts."""
    env = {**recon_env(root, landing), "RECON_NOTIFIER": "tests.airflow.recording:factory",
           "RECON_TEST_ALERTS": str(alerts), "RECON_ALERTS__MAX_OPEN_BREAK_COUNT": "0"}
    with mock.patch.dict(os.environ, env):
        yield


@pytest.fixture(scope="module")
def daily_dag(airflow_db):
    """A fresh parse (the session DagBag stays untouched for the structure tests), adjusted
    for dag.test(): no deadline (apache/airflow#73428: dag.test() crashes on a DAG with a
    DeadlineAlert when it marks the run successful) and no retries, so a failing task fails
    the test at once instead of sleeping through its backoff."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags["topup_recon_daily"]
    dag.deadline = None
    for task in dag.tasks:
        task.retries = 0
    return dag


def run_dag(dag, day: date, only: str | None = None):
    """One run for ``day``; ``only`` = regex of task ids to run, the others are marked success
    (as when a task is cleared with its downstream tasks)."""
    mark_success = None if only is None else rf"(?!(?:{only})$).*"
    dr = dag.test(logical_date=logical_date_for(day), mark_success_pattern=mark_success)
    failed = [(ti.task_id, ti.map_index, ti.state) for ti in dr.get_task_instances() if ti.state != "success"]
    assert dr.state == "success" and not failed, failed
    return dr


@pytest.fixture(scope="module")
def cli(generated, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    recon_run(root, copy_landing(generated, root), D1, D2)
    return root


@pytest.fixture(scope="module")
def airflow_run(generated, tmp_path_factory, daily_dag):
    root = tmp_path_factory.mktemp("airflow")
    landing = copy_landing(generated, root)
    alerts = root / "alerts.jsonl"
    with recon_environment(root, landing, alerts):
        runs = {day: run_dag(daily_dag, day) for day in DATES}
    return root, landing, alerts, runs


# -- what a run leaves behind -----------------------------------------------------------------

def published(root: Path, day: date) -> dict:
    """A date's published folder, minus what records time: file names, every CSV byte for
    byte, and the run summary's accounting."""
    folder = root / "output" / day.isoformat()
    summary = json.loads((folder / "run_summary.json").read_text("utf-8"))
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "csv": {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))},
        "summary": {
            "status": summary["status"],
            "control_totals": summary["control_totals"],
            "breaks_by_type": summary["breaks_by_type"],
            "files_loaded": summary["files_loaded"],
            "files_quarantined": [(q["source"], q["source_file"], q["reason"]) for q in summary["files_quarantined"]],
            "warnings": summary["warnings"],
            "outputs": summary["outputs"],
        },
    }


def warehouse_state(root: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(root / "warehouse" / "recon.duckdb"), read_only=True)
    try:
        state = {}
        for (table,) in con.execute("select table_name from duckdb_tables() where schema_name = 'main' "
                                    "order by 1").fetchall():
            columns = [c for (c,) in con.execute("select column_name from duckdb_columns() where table_name = ? "
                                                 "order by column_index", [table]).fetchall() if c not in VOLATILE]
            cols = ", ".join(f'"{c}"' for c in columns)
            state[table] = con.execute(f'select {cols} from "{table}" order by all').fetchall()
        return state
    finally:
        con.close()


# -- 1. the same results as recon run ---------------------------------------------------------

class TestSameAsReconRun:
    def test_every_source_was_waited_for_and_staged_in_its_own_task(self, airflow_run):
        from etl.config import load_settings

        *_, runs = airflow_run
        sources = len(load_settings().source_dirs())
        for dr in runs.values():
            tis = dr.get_task_instances()
            assert sorted(ti.map_index for ti in tis if ti.task_id == "ingest.stage") == list(range(sources))
            assert sorted(ti.map_index for ti in tis if ti.task_id == "ingest.wait_for_files") == list(range(sources))

    def test_each_run_reconciled_its_business_date(self, airflow_run):
        *_, runs = airflow_run
        for day, dr in runs.items():
            [ti] = [ti for ti in dr.get_task_instances() if ti.task_id == "load_and_match"]
            assert ti.xcom_pull(task_ids="load_and_match")["business_date"] == day.isoformat()

    @pytest.mark.parametrize("day", DATES, ids=str)
    def test_breaks_csv_is_byte_identical(self, cli, airflow_run, day):
        root, *_ = airflow_run
        name = f"{day}/breaks.csv"
        assert (root / "output" / name).read_bytes() == (cli / "output" / name).read_bytes()
        assert (cli / "output" / name).read_bytes().count(b"\n") > 1  # there is something to compare

    @pytest.mark.parametrize("day", DATES, ids=str)
    def test_published_folder_and_control_totals_are_the_same(self, cli, airflow_run, day):
        root, *_ = airflow_run
        assert published(root, day) == published(cli, day)

    def test_warehouse_is_the_same(self, cli, airflow_run):
        root, *_ = airflow_run
        assert warehouse_state(root) == warehouse_state(cli)

    def test_breaks_over_threshold_are_announced_with_the_reports_location(self, airflow_run):
        root, _, alerts, _ = airflow_run
        breaks = [a for a in sent(alerts) if a["kind"] == "breaks"]
        assert [a["business_date"] for a in breaks] == [d.isoformat() for d in DATES]
        for alert in breaks:
            assert alert["location"] == str(root / "output" / alert["business_date"])
            assert alert["location"] in alert["body"]

    def test_published_dates_are_announced_on_the_asset(self, airflow_run):
        from airflow.models.asset import AssetEvent, AssetModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        from etl.orchestration import DAILY_ASSET_NAME

        *_, runs = airflow_run
        run_ids = [dr.run_id for dr in runs.values()]
        with create_session() as session:
            events = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                     .where(AssetModel.name == DAILY_ASSET_NAME,
                                            AssetEvent.source_run_id.in_(run_ids))).all()
            assert sorted(e.extra["business_date"] for e in events) == [d.isoformat() for d in DATES]


# -- 2. clearing and re-running changes nothing -----------------------------------------------

@pytest.fixture(scope="module")
def before_reruns(airflow_run):
    root, *_ = airflow_run
    return {"warehouse": warehouse_state(root), "published": {d: published(root, d) for d in DATES}}


class TestRerunChangesNothing:
    """Run after D2 is done, so D1's re-run could only leak into D2 if it were not idempotent."""

    def check_unchanged(self, root, before):
        assert {d: published(root, d) for d in DATES} == before["published"]
        assert warehouse_state(root) == before["warehouse"]

    def test_the_whole_date_again(self, airflow_run, before_reruns, daily_dag):
        root, landing, alerts, _ = airflow_run
        with recon_environment(root, landing, alerts):
            run_dag(daily_dag, D1)
        self.check_unchanged(root, before_reruns)

    def test_the_warehouse_step_and_what_follows(self, airflow_run, before_reruns, daily_dag):
        root, landing, alerts, _ = airflow_run
        with recon_environment(root, landing, alerts):
            dr = run_dag(daily_dag, D1, only="configured_sources|load_and_match|reports|publish")
        tis = {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}
        assert tis[("load_and_match", -1)].xcom_pull(task_ids="load_and_match") is not None
        assert tis[("ingest.stage", 0)].xcom_pull(task_ids="ingest.stage", map_indexes=0) is None  # not run
        self.check_unchanged(root, before_reruns)


# -- 3. late data -----------------------------------------------------------------------------

def open_missing_credit(root: Path, day: date) -> str:
    with (root / "output" / day.isoformat() / "breaks.csv").open(newline="", encoding="utf-8") as fh:
        return next(r["order_id"] for r in csv.DictReader(fh)
                    if r["break_type"] == "MISSING_CREDIT" and r["status"] == "open")


def land_late_credit(landing: Path, day: date, order_id: str) -> None:
    """A second billing file for ``day``, delivered after the date was reconciled, with the
    credit of an order that was missing one."""
    [orders_file] = (landing / day.isoformat() / "orders").glob("*.csv")
    with orders_file.open(newline="", encoding="utf-8") as fh:
        order = next(r for r in csv.DictReader(fh) if r["order_id"] == order_id)
    late = landing / day.isoformat() / "billing" / f"billing_{day:%Y%m%d}_late.csv"
    with late.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["credit_id", "order_id", "msisdn", "amount", "product_type", "credited_at",
                         "result", "result_code", "reverses_credit_id"])
        writer.writerow([f"LATE-{order_id}", order_id, order["msisdn"], order["face_value"], order["product_type"],
                         f"{day}T23:30:00+08:00", "success", "0000", ""])


@pytest.fixture(scope="module")
def late_data(generated, airflow_run, before_reruns, daily_dag, tmp_path_factory):
    root, landing, alerts, _ = airflow_run
    order_id = open_missing_credit(root, D1)
    land_late_credit(landing, D1, order_id)
    with recon_environment(root, landing, alerts):
        dr = run_dag(daily_dag, D2)
    fresh = tmp_path_factory.mktemp("cli-late")
    fresh_landing = copy_landing(generated, fresh)
    land_late_credit(fresh_landing, D1, order_id)
    recon_run(fresh, fresh_landing, D1, D2)
    return root, fresh, dr, order_id


class TestLateData:
    def test_the_changed_date_is_run_again_before_today(self, late_data):
        *_, dr, _ = late_data
        [ti] = [ti for ti in dr.get_task_instances() if ti.task_id == "load_and_match"]
        assert ti.xcom_pull(task_ids="load_and_match")["rerun"] == [D1.isoformat()]

    def test_the_late_credit_changed_d1(self, late_data, before_reruns):
        root, _, _, order_id = late_data
        assert published(root, D1)["csv"]["breaks.csv"] != before_reruns["published"][D1]["csv"]["breaks.csv"]
        assert f"MISSING_CREDIT,{order_id}".encode() not in \
            (root / "output" / D1.isoformat() / "breaks.csv").read_bytes().replace(b'"', b"")

    @pytest.mark.parametrize("day", DATES, ids=str)
    def test_results_equal_a_fresh_recon_run_over_the_same_files(self, late_data, day):
        root, fresh, *_ = late_data
        assert published(root, day) == published(fresh, day)

    def test_warehouse_equals_a_fresh_recon_run(self, late_data):
        root, fresh, *_ = late_data
        assert warehouse_state(root) == warehouse_state(fresh)


class TestFailureAlert:
    def test_a_task_that_fails_for_good_alerts_with_its_error(self, daily_dag, tmp_path):
        """The warehouse step without staged files (as if only it had been cleared on a new date)."""
        alerts = tmp_path / "alerts.jsonl"
        with recon_environment(tmp_path, tmp_path / "landing", alerts):
            dr = daily_dag.test(logical_date=logical_date_for(D1),
                                mark_success_pattern=r"(?!(?:configured_sources|load_and_match)$).*")
        assert dr.state == "failed"
        [alert] = [a for a in sent(alerts) if a["kind"] == "failure"]
        assert "load_and_match 处理 2026-11-24 失败" in alert["subject"]
        assert "nothing staged for 2026-11-24" in alert["body"]


# -- the weekly DAG on the daily outputs ------------------------------------------------------

class TestWeekly:
    def test_renders_the_week_of_the_published_dates(self, airflow_run, airflow_db):
        from airflow.dag_processing.dagbag import DagBag

        root, landing, alerts, _ = airflow_run
        weekly = DagBag(dag_folder=str(DAGS)).dags["topup_recon_weekly"]
        with recon_environment(root, landing, alerts):
            dr = weekly.test(logical_date=None, run_conf={"week_ending": D2.isoformat()})
        assert dr.state == "success"
        week = json.loads((root / "output" / "weekly" / "2026-W48" / "summary.json").read_text("utf-8"))
        assert [d["business_date"] for d in week["days"] if d["status"] == "ok"] == [d.isoformat() for d in DATES]
        with (root / "output" / D2.isoformat() / "breaks.csv").open(newline="", encoding="utf-8") as fh:
            open_at_end = sum(row["status"] == "open" for row in csv.DictReader(fh))
        assert week["last_7_days"]["open_breaks_at_end"] == open_at_end > 0
