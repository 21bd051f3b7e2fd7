"""topup_recon_daily: reconcile one business date (Asia/Shanghai) per run.

    configured_sources ─► ingest[source] (mapped: wait_for_files ─► stage) ─► load_and_match ─► reports ─► publish

* The run for business date D covers the data interval [D 00:00, D+1 00:00) Asia/Shanghai and
  starts after D+1 00:00. Every task derives D from ``data_interval_start``, never from the
  clock, so retries, cleared tasks and ``airflow backfill create`` redo exactly that date.
* ``wait_for_files`` pokes in reschedule mode (no worker slot held while waiting): billing
  lands after its 02:00 cutoff, provider statements after 10:00.
* ``stage`` parses one source into its own Parquet under staging, in parallel, without
  touching the warehouse. ``load_and_match`` is the one task that writes the DuckDB file: it
  first re-runs earlier dates that never completed or whose landing folder changed within
  ``matching.recheck_days`` (late files), then loads and matches D.
* ``reports`` writes breaks.csv and the reports into ``<output>/D/`` (swapped in whole);
  ``publish`` checks the alert thresholds and announces the date on the ``topup_recon_daily``
  Asset, which schedules the weekly DAG.

The same ``etl`` functions run under ``recon run``; see docs/AIRFLOW.md.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    ExceptionRetryPolicy,
    PokeReturnValue,
    RetryAction,
    RetryRule,
    dag,
    task,
    task_group,
)

from etl import orchestration as orch

SETTINGS = orch.airflow_settings()  # parse time: the deadline and the [airflow] timings come from here
DAILY_OUTPUTS = Asset(name=orch.DAILY_ASSET_NAME, uri=orch.DAILY_ASSET_URI)

POKE_INTERVAL = timedelta(seconds=SETTINGS.airflow.poke_interval_seconds)
# Sensors start at D+1 00:00; the last statements are due a little after 10:00. Past 16:00 a
# source is missing, not late: the sensor fails and the failure alert names it.
WAIT_TIMEOUT = timedelta(hours=SETTINGS.airflow.wait_timeout_hours)
# The tasks that open the DuckDB file: on the warehouse queue (one Celery worker with one slot,
# on the machine holding the file) and in a one-slot pool, so no two of them ever run at once,
# whatever runs beside them (a backfill and the nightly run, a cleared task).
WAREHOUSE = {"queue": orch.WAREHOUSE_QUEUE, "pool": orch.WAREHOUSE_POOL, "max_active_tis_per_dag": 1}

DEFAULT_ARGS = {
    "owner": "topup-recon",
    "retries": SETTINGS.airflow.retries,
    "retry_delay": timedelta(seconds=SETTINGS.airflow.retry_delay_seconds),
    "retry_exponential_backoff": 2.0,  # from 2, 4, 8 minutes on (Airflow adds jitter)
    "max_retry_delay": timedelta(minutes=30),
    # Unbalanced control totals are a data problem: retrying cannot fix it, ops must look now.
    "retry_policy": ExceptionRetryPolicy(rules=[
        RetryRule(exception="etl.match.ControlTotalsError", action=RetryAction.FAIL,
                  reason="control totals do not balance"),
    ]),
    "on_failure_callback": orch.on_task_failure,
}


@dag(
    dag_id="topup_recon_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Shanghai"),
    start_date=datetime(2026, 11, 1, tzinfo=orch.SHANGHAI),
    catchup=False,
    max_active_runs=1,  # a date's open items are carried from the date before
    default_args=DEFAULT_ARGS,
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,  # = data_interval_start, D 00:00
        interval=orch.deadline_after_interval_start(SETTINGS),
        callback=AsyncCallback(orch.on_deadline_missed),
    ),
    tags=["topup-recon", "reconciliation"],
    doc_md=__doc__,
)
def topup_recon_daily():
    @task
    def configured_sources() -> list[str]:
        """Orders, each active provider, billing, surveys, complaints: read at run time, so a
        provider switched on in the configuration is picked up without a DAG change."""
        return list(orch.airflow_settings().source_dirs())

    @task_group
    def ingest(source: str):
        @task.sensor(poke_interval=POKE_INTERVAL, timeout=WAIT_TIMEOUT, mode="reschedule")
        def wait_for_files(source: str, data_interval_start=None) -> PokeReturnValue:
            settings = orch.airflow_settings()
            ready = orch.source_ready(settings, orch.business_date(data_interval_start), source)
            return PokeReturnValue(is_done=ready, xcom_value=source)

        @task
        def stage(source: str, data_interval_start=None) -> dict:
            from etl.ingest.stage import stage_source

            manifest = stage_source(orch.airflow_settings(), orch.business_date(data_interval_start), source)
            return {"source": source, "files": len(manifest.files), "rows": sum(f.rows for f in manifest.files),
                    "quarantined": len(manifest.quarantined), "problem": manifest.problem}

        wait_for_files(source) >> stage(source)

    @task(**WAREHOUSE)
    def load_and_match(data_interval_start=None) -> dict:
        return orch.load_and_match_with_recheck(orch.airflow_settings(), orch.business_date(data_interval_start))

    @task(**WAREHOUSE)
    def reports(data_interval_start=None) -> str:
        return str(orch.reports_step(orch.airflow_settings(), orch.business_date(data_interval_start)))

    @task(outlets=[DAILY_OUTPUTS])
    def publish(data_interval_start=None, outlet_events=None) -> dict:
        settings = orch.airflow_settings()
        found = orch.open_breaks(settings, orch.business_date(data_interval_start))
        if alert := orch.threshold_alert(settings, found):
            orch.send_alert(alert, settings)
        announced = {"business_date": found.business_date.isoformat(), "output": str(found.location),
                     "open_breaks": found.count, "open_amount": str(found.amount)}
        outlet_events[DAILY_OUTPUTS].extra = announced
        return announced

    ingest.expand(source=configured_sources()) >> load_and_match() >> reports() >> publish()


topup_recon_daily()
