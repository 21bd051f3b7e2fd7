"""Airflow UI plugin: from a run of the daily DAG to its date's reports.

Adds a "报告 / Reports" tab to every DAG run's page (an external view) showing the run's
business date and links to its reports, and a "对账控制台 / Recon console" entry in the
navigation. The links follow ``airflow.reports_url`` (env ``RECON_REPORTS_URL``, default the
console's ``http://127.0.0.1:8000/reports/{date}/``). The tab's page is served by a small
FastAPI app mounted at ``/recon`` in the API server; it shows links only, no figures (the
reports sit behind the console's own login).
"""
from __future__ import annotations

import html

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow.plugins_manager import AirflowPlugin
from etl import orchestration as orch

app = FastAPI(title="topup-recon reports", docs_url=None, redoc_url=None, openapi_url=None)


def _business_date(dag_id: str, run_id: str):
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            raise HTTPException(404, f"no run {run_id!r} of {dag_id!r}")
        try:
            return orch.business_date(run.data_interval_start), run.state
        except ValueError as error:
            raise HTTPException(404, str(error)) from None


@app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
def run_reports(dag_id: str, run_id: str) -> str:
    day, state = _business_date(dag_id, run_id)
    links = orch.report_links(orch.airflow_settings(), day)
    items = "".join(f'<li><a href="{html.escape(url)}" target="_blank" rel="noopener">{html.escape(label)}</a></li>'
                    for label, url in links)
    return (f"<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{day}</title>"
            "<style>body{font-family:sans-serif;margin:1.5em}li{margin:.4em 0}</style></head><body>"
            f"<h2>对账日 / Business date {day}</h2><p>Run <code>{html.escape(run_id)}</code>: {html.escape(str(state))}</p>"
            f"<ul>{items}</ul></body></html>")


@app.get("/runs/{dag_id}/{run_id}/go")
def go_to_reports(dag_id: str, run_id: str) -> RedirectResponse:
    day, _ = _business_date(dag_id, run_id)
    return RedirectResponse(orch.reports_url(orch.airflow_settings(), day), status_code=307)


class ReconReportsPlugin(AirflowPlugin):
    name = "topup_recon_reports"
    fastapi_apps = [{"app": app, "url_prefix": "/recon", "name": "topup-recon reports"}]
    external_views = [
        {"name": "报告 / Reports", "href": "recon/runs/{DAG_ID}/{RUN_ID}", "destination": "dag_run"},
        {"name": "对账控制台 / Recon console", "href": orch.console_url(orch.airflow_settings()), "destination": "nav"},
    ]
