"""topup_recon_weekly: the 7- and 30-day trend summary, once a week closes.

Scheduled on the ``topup_recon_daily`` Asset: every published date triggers a run, and a run
renders the ISO weeks whose Sunday was among the dates it was triggered by (several when a
backfill published many dates at once); on other days it renders nothing. Trigger it by hand
with ``{"week_ending": "YYYY-MM-DD"}`` to (re)render the week holding that date.

It reads only the published ``<output>/<date>/`` folders, never the warehouse, so it can run
while the daily DAG holds the DuckDB file. Output: ``<output>/weekly/<YYYY-Www>/summary.json``
and ``summary.html``, swapped in whole.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

from etl import orchestration as orch

DAILY_OUTPUTS = Asset(name=orch.DAILY_ASSET_NAME, uri=orch.DAILY_ASSET_URI)

DEFAULT_ARGS = {
    "owner": "topup-recon",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": orch.on_task_failure,
}


@dag(
    dag_id="topup_recon_weekly",
    schedule=[DAILY_OUTPUTS],
    start_date=datetime(2026, 11, 1, tzinfo=orch.SHANGHAI),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"week_ending": Param(None, type=["null", "string"], format="date",
                                 description="Render the ISO week holding this date (manual runs).")},
    tags=["topup-recon", "reports"],
    doc_md=__doc__,
)
def topup_recon_weekly():
    @task
    def weeks_to_render(params=None, triggering_asset_events=None) -> list[str]:
        if params and params.get("week_ending"):
            return [orch.week_end(date.fromisoformat(params["week_ending"])).isoformat()]
        published = orch.published_dates((triggering_asset_events or {}).get(DAILY_OUTPUTS, []))
        return [d.isoformat() for d in orch.weeks_closed(published)]

    @task
    def render_week(week_ending: str) -> str:
        return str(orch.render_weekly(orch.airflow_settings(), date.fromisoformat(week_ending)))

    render_week.expand(week_ending=weeks_to_render())


topup_recon_weekly()
