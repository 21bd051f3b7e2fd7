"""The nightly job as production runs it: bin/airflow-up's deployment (scheduler, DAG processor,
triggerer, API server, two Celery workers; PostgreSQL, Redis), driven through the REST API.

One deployment for the module; the tests run in order against it, over eight generated dates:

1. D1-D3 triggered through the API: every output equals ``recon run`` on a copy of the files;
2. the warehouse worker killed (SIGKILL, its whole process group) inside ``load_and_match``;
3. a backfill of D4-D5 beside the "nightly" run of D6: the warehouse tasks never overlap;
4. the scheduler restarted while D7's warehouse task runs;
5. D8's WeChat Pay statement dropped in while its sensor waits in reschedule mode;
6. a late billing file for D1: D1 re-runs and D2-D8 follow, equal to a fresh ``recon run``;
7. a run whose deadline passes with its sources missing: the alert reaches the SMTP sink.

The landing zone is a read-only mount for the deployment's processes, and no file in it
changes (name, size, mtime, sha256) but those the test delivers as a provider.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.airflow.test_daily_dag import land_late_credit, open_missing_credit, published, warehouse_state
from tests.deploy.conftest import ctl, deliver, restart, snapshot

pytestmark = pytest.mark.deploy

DAG = "topup_recon_daily"
START, DAYS, ORDERS = date(2026, 11, 2), 8, 200
D = [START + timedelta(days=i) for i in range(DAYS)]  # D[0] is D1
SHANGHAI = timezone(timedelta(hours=8))
RUN_TIMEOUT = 420
WAREHOUSE_TASKS = ("load_and_match", "reports")


# -- the same files, reconciled by recon run --------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from etl.config import load_settings
    from etl.generate import generate_landing

    out = tmp_path_factory.mktemp("generated") / "landing"
    generate_landing(out, START, DAYS, ORDERS, 17, load_settings({}))
    return out


def recon_run(root: Path, landing: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECON_"))}
    env.update({"RECON_LANDING": str(landing), "RECON_WAREHOUSE": str(root / "warehouse" / "recon.duckdb"),
                "RECON_OUTPUT": str(root / "output"), "RECON_QUARANTINE": str(root / "quarantine"),
                "RECON_STAGING": str(root / "staging")})
    recon = Path(sys.executable).with_name("recon")
    done = subprocess.run([str(recon), "run", "--from", D[0].isoformat(), "--to", D[-1].isoformat()],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def reference(generated, tmp_path_factory) -> Path:
    """``recon run`` over D1-D8 on a copy of the files."""
    root = tmp_path_factory.mktemp("cli")
    return recon_run(root, Path(shutil.copytree(generated, root / "landing")))


@pytest.fixture(scope="module")
def late_order(reference) -> str:
    return open_missing_credit(reference, D[0])


@pytest.fixture(scope="module")
def reference_late(generated, late_order, tmp_path_factory) -> Path:
    """The same with a late billing file for D1 (a credit for an order that missed one)."""
    root = tmp_path_factory.mktemp("cli-late")
    landing = Path(shutil.copytree(generated, root / "landing"))
    land_late_credit(landing, D[0], late_order)
    return recon_run(root, landing)


# -- driving the deployment ---------------------------------------------------------------------

def run_id(day: date) -> str:
    return f"test__{day.isoformat()}"


def midnight(day: date) -> str:
    return datetime.combine(day, datetime.min.time(), SHANGHAI).isoformat()


def trigger(dep, day: date) -> str:
    """A run of business date ``day`` as the schedule would make it: logical date and data
    interval [D 00:00, D+1 00:00) Shanghai, given explicitly (a logical date alone would infer
    the interval before it, and take the logical date a backfill of the next date needs)."""
    dep.api.post(f"/api/v2/dags/{DAG}/dagRuns", {
        "dag_run_id": run_id(day), "logical_date": midnight(day),
        "data_interval_start": midnight(day), "data_interval_end": midnight(day + timedelta(days=1))})
    return run_id(day)


def mark_failed(dep, rid: str, tries: int = 1) -> bool:
    """Marks a run failed; True once it is. The API answers 500 ("Database error") when the
    scheduler updates the same run at that moment, so a 500 is tried again after a pause."""
    for attempt in range(tries):
        if attempt:
            time.sleep(2)
        try:
            dep.api.patch(f"/api/v2/dags/{DAG}/dagRuns/{rid}", {"state": "failed"})
            return True
        except AssertionError as error:
            if ": 500 " not in str(error):
                raise
    return False


def drop_foreign_runs(dep) -> None:
    """Runs the scheduler made on its own (the latest interval, on unpausing) are marked failed,
    so they do not hold the DAG's one active run while waiting for files that will never come.
    (Not deleted: a run deleted while the scheduler handles it crashes the scheduler.)
    One try each: wait_for_run calls this on every poll, so a run missed now is marked next time."""
    for run in dep.api.get(f"/api/v2/dags/{DAG}/dagRuns", params={"limit": 100})["dag_runs"]:
        if run["run_type"] == "scheduled" and run["state"] not in ("success", "failed"):
            mark_failed(dep, run["dag_run_id"])


def task_instances(dep, rid: str) -> list[dict]:
    return dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{rid}/taskInstances", params={"limit": 100})["task_instances"]


def wait_for_run(dep, rid: str, timeout: float = RUN_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        drop_foreign_runs(dep)
        run = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{rid}")
        if run["state"] in ("success", "failed"):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    states = {(t["task_id"], t["map_index"]): (t["state"], t["try_number"]) for t in task_instances(dep, rid)}
    assert run["state"] == "success", (f"{rid}: {run['state']}; tasks: {states}; logs under "
                                       f"{dep.env['AIRFLOW_HOME']}/logs")
    return run


def xcom(dep, rid: str, task_id: str):
    entry = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{rid}/taskInstances/{task_id}/xcomEntries/return_value",
                        params={"deserialize": "true"})
    return entry["value"]


def warehouse_intervals(dep) -> list[tuple[datetime, datetime, str]]:
    """Every try of every warehouse task of every run, as (start, end, label)."""
    found = []
    for run in dep.api.get(f"/api/v2/dags/{DAG}/dagRuns", params={"limit": 100})["dag_runs"]:
        for task in WAREHOUSE_TASKS:
            tries = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{run['dag_run_id']}/taskInstances/{task}/tries")
            for t in tries["task_instances"]:
                if t["start_date"] and t["end_date"]:
                    found.append((datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"]),
                                  f"{run['dag_run_id']}:{task}#{t['try_number']}"))
    return sorted(found)


def assert_never_overlapped(dep) -> None:
    spans = [s for s in warehouse_intervals(dep) if not s[2].startswith("scheduled__")]
    assert spans
    for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:]):
        assert e1 <= s2, f"{a} ({s1}–{e1}) overlaps {b} ({s2}–{e2})"


def assert_same_as(dep, reference: Path, days) -> None:
    for day in days:
        assert published(dep.root, day) == published(reference, day), day
        assert (dep.output(day) / "breaks.csv").read_bytes() == (reference / "output" / day.isoformat() / "breaks.csv").read_bytes()


def hold(dep, failpoint: str) -> Path:
    """Make the next warehouse task that reaches ``failpoint`` wait there (etl.failpoints)."""
    (dep.pause_dir / f"{failpoint}.reached").unlink(missing_ok=True)
    path = dep.pause_dir / failpoint
    path.write_text("hold")
    return path


def wait_reached(dep, failpoint: str, timeout: float = RUN_TIMEOUT) -> int:
    reached = dep.pause_dir / f"{failpoint}.reached"
    deadline = time.monotonic() + timeout
    while not reached.exists():
        assert time.monotonic() < deadline, f"no task reached {failpoint}"
        drop_foreign_runs(dep)
        time.sleep(0.5)
    return int(reached.read_text())


@pytest.fixture(scope="module")
def landed(deployment, generated):
    """D1-D3 delivered; what the landing zone must hold from now on, file by file."""
    for day in D[:3]:
        deliver(generated / day.isoformat(), deployment.landing / day.isoformat())
    deployment.api.patch(f"/api/v2/dags/{DAG}", {"is_paused": False})
    return {"expected": snapshot(deployment.landing)}


def provide(dep, landed, src: Path, day: date, source: str | None = None) -> None:
    """A provider delivers a date (or one source of it); the expected landing zone follows."""
    sub = Path(day.isoformat()) / source if source else Path(day.isoformat())
    deliver(src / sub, dep.landing / sub)
    landed["expected"] = snapshot(dep.landing)


# -- 1. three dates through the REST API --------------------------------------------------------

def test_three_dates_through_the_api_equal_recon_run(deployment, landed, reference):
    dep = deployment
    t0 = time.monotonic()
    for day in D[:3]:
        trigger(dep, day)
    for day in D[:3]:
        wait_for_run(dep, run_id(day))
    dep.note(f"three dates through the API: {time.monotonic() - t0:.0f} s")
    for day in D[:3]:
        assert xcom(dep, run_id(day), "load_and_match")["business_date"] == day.isoformat()
        tis = task_instances(dep, run_id(day))
        assert {t["queue"] for t in tis if t["task_id"] in WAREHOUSE_TASKS} == {"warehouse"}
        assert {t["pool"] for t in tis if t["task_id"] in WAREHOUSE_TASKS} == {"recon_warehouse"}
        assert {t["queue"] for t in tis if t["task_id"] not in WAREHOUSE_TASKS} == {"default"}
    assert_same_as(dep, reference, D[:3])
    # the warehouse tasks ran on the warehouse worker, and only there
    home = Path(dep.env["AIRFLOW_HOME"])
    assert "load_and_match" in (home / "logs/deploy/worker-warehouse.log").read_text()
    assert "load_and_match" not in (home / "logs/deploy/worker-default.log").read_text()
    assert_never_overlapped(dep)


def test_runs_link_to_their_reports_from_airflows_ui(deployment, landed):
    dep = deployment
    plugins = dep.api.get("/api/v2/plugins")["plugins"]
    [ours] = [p for p in plugins if p["name"] == "topup_recon_reports"]
    [view] = [v for v in ours["external_views"] if v["destination"] == "dag_run"]
    href = view["href"].replace("{DAG_ID}", DAG).replace("{RUN_ID}", run_id(D[1]))
    page = dep.api.session.get(f"{dep.api.base}/{href}", timeout=30)
    assert page.status_code == 200
    assert f"http://127.0.0.1:8000/reports/{D[1]}/finance.html" in page.text
    go = dep.api.session.get(f"{dep.api.base}/{href}/go", allow_redirects=False, timeout=30)
    assert go.headers["location"] == f"http://127.0.0.1:8000/reports/{D[1]}/"


# -- 2. a worker killed in the middle of the warehouse task -------------------------------------

def test_warehouse_worker_killed_mid_task_then_retried_same_result(deployment, landed, reference):
    dep = deployment
    t0 = time.monotonic()
    rid = run_id(D[2])
    hold(dep, "mid_match_write")  # inside the transaction that writes the date's results
    dep.api.post(f"/api/v2/dags/{DAG}/clearTaskInstances",
                 {"dry_run": False, "dag_run_id": rid, "task_ids": ["load_and_match"], "include_downstream": True,
                  "only_failed": False, "reset_dag_runs": True})
    task_pid = wait_reached(dep, "mid_match_write")
    worker = ctl.pid_of(dep.env, "worker-warehouse")
    os.killpg(worker, signal.SIGKILL)  # the worker and its pool die at once, as with its machine
    try:
        os.kill(task_pid, signal.SIGKILL)  # the task process too, if it had left the worker's group
    except ProcessLookupError:
        pass
    (dep.pause_dir / "mid_match_write").unlink()
    ctl.stop(dep.env, "worker-warehouse")  # reaps what is left, forgets the pid
    time.sleep(2)
    restart(dep, "worker-warehouse")  # what a process manager does
    wait_for_run(dep, rid)
    tries = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{rid}/taskInstances/load_and_match/tries")["task_instances"]
    assert [t["state"] for t in tries][-2:] == ["failed", "success"], tries
    dep.note(f"worker killed mid-task, retried and done: {time.monotonic() - t0:.0f} s")
    assert_same_as(dep, reference, D[:3])


# -- 3. a backfill beside the nightly run -------------------------------------------------------

def test_backfill_beside_the_nightly_run_never_collides(deployment, landed, generated, reference):
    dep = deployment
    t0 = time.monotonic()
    for day in D[3:6]:
        provide(dep, landed, generated, day)
    backfill = dep.api.post("/api/v2/backfills", {
        "dag_id": DAG, "from_date": midnight(D[3]), "to_date": midnight(D[4]),
        "max_active_runs": 2, "reprocess_behavior": "none", "run_backwards": False})
    trigger(dep, D[5])  # the nightly run of D6, beside the backfill
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        runs = [r for r in dep.api.get(f"/api/v2/dags/{DAG}/dagRuns", params={"limit": 100})["dag_runs"]
                if r["run_type"] == "backfill"]
        if len(runs) == 2 and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, runs
        drop_foreign_runs(dep)
        time.sleep(2)
    for r in runs:
        wait_for_run(dep, r["dag_run_id"])
    wait_for_run(dep, run_id(D[5]))
    assert sorted(r["data_interval_start"][:10] for r in runs) == ["2026-11-04", "2026-11-05"]  # UTC: D4, D5 Shanghai
    dep.note(f"backfill of 2 dates beside the nightly run: {time.monotonic() - t0:.0f} s (backfill {backfill['id']})")
    assert_never_overlapped(dep)
    for r in runs + [dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id(D[5])}")]:
        for task in WAREHOUSE_TASKS:
            tries = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{r['dag_run_id']}/taskInstances/{task}/tries")
            assert [t["state"] for t in tries["task_instances"]] == ["success"]  # no collision, no retry
    assert_same_as(dep, reference, D[:6])


# -- 4. the scheduler restarted mid-run ---------------------------------------------------------

def test_scheduler_restarted_mid_run_the_run_finishes_once(deployment, landed, generated, reference):
    dep = deployment
    t0 = time.monotonic()
    provide(dep, landed, generated, D[6])
    release = hold(dep, "mid_match")
    rid = trigger(dep, D[6])
    wait_reached(dep, "mid_match")
    ctl.stop(dep.env, "scheduler")
    restart(dep, "scheduler")
    release.unlink()
    wait_for_run(dep, rid)
    for task in WAREHOUSE_TASKS:
        tries = dep.api.get(f"/api/v2/dags/{DAG}/dagRuns/{rid}/taskInstances/{task}/tries")["task_instances"]
        assert [t["state"] for t in tries] == ["success"], (task, tries)  # ran once
    assert_never_overlapped(dep)
    dep.note(f"scheduler restarted mid-run: {time.monotonic() - t0:.0f} s")
    assert_same_as(dep, reference, [D[6]])


# -- 5. a statement dropped in while its sensor waits -------------------------------------------

def test_sensor_in_reschedule_mode_picks_up_a_statement_dropped_in(deployment, landed, generated, reference):
    dep = deployment
    t0 = time.monotonic()
    day = D[7]
    for source in sorted(p.name for p in (generated / day.isoformat()).iterdir()):
        if source != "wechatpay":
            provide(dep, landed, generated, day, source)
    rid = trigger(dep, day)
    seen, deadline = [], time.monotonic() + RUN_TIMEOUT
    while seen.count("up_for_reschedule") < 3:
        assert time.monotonic() < deadline, seen
        drop_foreign_runs(dep)
        waiting = [t for t in task_instances(dep, rid) if t["task_id"] == "ingest.wait_for_files"
                   and t["state"] not in ("success",)]
        if len(waiting) == 1:
            seen.append(waiting[0]["state"])
        time.sleep(1)
    # between pokes the sensor is up_for_reschedule: it holds no worker slot (a running task would)
    assert seen.count("up_for_reschedule") >= 3
    provide(dep, landed, generated, day, "wechatpay")
    wait_for_run(dep, rid)
    dep.note(f"sensor picked up a statement dropped in: {time.monotonic() - t0:.0f} s")
    assert_same_as(dep, reference, [day])
    assert warehouse_state(dep.root) == warehouse_state(reference)


# -- 6. a late file for an earlier date ---------------------------------------------------------

def test_late_file_for_an_earlier_date_reruns_it_and_the_later_dates(deployment, landed, late_order,
                                                                     reference_late):
    dep = deployment
    t0 = time.monotonic()
    # the late file is written beside the landing zone (it reads the order from D1's orders),
    # then delivered as a provider would
    staging = dep.root / "late"
    shutil.copytree(dep.landing / D[0].isoformat() / "orders", staging / D[0].isoformat() / "orders")
    (staging / D[0].isoformat() / "billing").mkdir(parents=True)
    land_late_credit(staging, D[0], late_order)
    provide(dep, landed, staging, D[0], "billing")
    rid = run_id(D[7])
    dep.api.post(f"/api/v2/dags/{DAG}/clearTaskInstances",
                 {"dry_run": False, "dag_run_id": rid, "task_ids": ["load_and_match"], "include_downstream": True,
                  "only_failed": False, "reset_dag_runs": True})
    time.sleep(3)
    wait_for_run(dep, rid)
    assert xcom(dep, rid, "load_and_match")["rerun"] == [d.isoformat() for d in D[:7]]
    dep.note(f"late file: 7 earlier dates re-run, then the date: {time.monotonic() - t0:.0f} s")
    assert_same_as(dep, reference_late, D)
    assert warehouse_state(dep.root) == warehouse_state(reference_late)


# -- Airflow's UI -------------------------------------------------------------------------------

def test_grid_in_airflows_ui_shows_the_runs(deployment, landed):
    """The DAG's grid, opened in Chromium with the API token as the UI's cookie: every task
    shows. RECON_UPDATE_SCREENSHOTS=1 saves it as docs/screenshots/airflow-grid.png."""
    from tests.chromium import chromium

    dep = deployment
    out = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "airflow-grid.png" \
        if os.environ.get("RECON_UPDATE_SCREENSHOTS") else dep.root / "airflow-grid.png"
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "_token", "value": dep.api.token, "url": dep.api.base}])
        page = context.new_page()
        page.goto(f"{dep.api.base}/dags/{DAG}", wait_until="networkidle")
        page.get_by_text("load_and_match").first.wait_for(timeout=60_000)
        for task in ("configured_sources", "reports", "publish"):
            assert page.get_by_text(task).count() >= 1, task
        page.wait_for_timeout(5000)  # the grid's cells draw after its labels
        page.screenshot(path=str(out))
    assert out.stat().st_size > 10_000


# -- the landing zone -------------------------------------------------------------------------

def test_landing_zone_unchanged_and_read_only_to_the_deployment(deployment, landed):
    dep = deployment
    assert snapshot(dep.landing) == landed["expected"]
    if dep.read_only:  # every process of the deployment sees it through a read-only mount
        for name in ctl.procfile():
            mounts = Path(f"/proc/{ctl.pid_of(dep.env, name)}/mountinfo").read_text().splitlines()
            [line] = [m for m in mounts if m.split()[4] == str(dep.landing)]
            assert "ro" in line.split()[5].split(","), (name, line)


# -- 7. the deadline passes with a source missing -----------------------------------------------

def test_deadline_passed_with_sources_missing_is_mailed(deployment, landed, smtp_sink):
    from etl.i18n import DEFAULT_LOCALE, gettext_for

    dep = deployment
    t0 = time.monotonic()
    # The deadline is alerts.deadline (00:00 here) the day after the business date, counted from
    # the logical date: a logical date one day minus 45 s ago puts it 45 s from now.
    logical = datetime.now(timezone.utc) - timedelta(days=1) + timedelta(seconds=45)
    rid = "test__deadline"
    dep.api.post(f"/api/v2/dags/{DAG}/dagRuns", {"dag_run_id": rid, "logical_date": logical.isoformat()})
    business = (logical.astimezone(SHANGHAI).date() - timedelta(days=1)).isoformat()
    try:
        drop_foreign_runs(dep)
        # the deployment speaks the default language (zh_CN): its alerts are mailed in it
        subject = gettext_for(DEFAULT_LOCALE)("[topup-recon] {day}: not done by the deadline").format(day=business)
        [mail] = smtp_sink.wait_for(lambda m: m["Subject"] == subject, timeout=240)
    finally:
        # the run waits for files that never come: it must not hold the DAG's one active run
        marked = mark_failed(dep, rid, tries=30)
    assert marked, f"run {rid} could not be marked failed"
    assert mail["To"] == "recon-ops@example.com"
    assert "ingest.wait_for_files" in mail.get_body().get_content()
    dep.note(f"deadline alert mailed: {time.monotonic() - t0:.0f} s")
