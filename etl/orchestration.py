"""What the Airflow DAGs need besides ``etl.pipeline``: the business date of a run, whether a
source's files have landed, the late-data re-check, alerts, and the weekly trend summary.

The DAG files in ``dags/`` stay thin and call these functions and the pipeline's; nothing here
imports Airflow at module level, so everything can be tested (and used from a shell) without a
scheduler. Alerts go through a small :class:`Notifier` interface; the default sends mail with
Airflow's own ``[email]``/``[smtp]`` configuration.
"""
from __future__ import annotations

import csv
import html
import importlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from etl.config import SHANGHAI, Settings, load_settings, project_root
from etl.i18n import DEFAULT_LOCALE, gettext_for, ngettext_for
from etl.privacy import mask_all_log_records

# The DAG processor imports this module every time it parses the DAG files: the pipeline's
# heavier modules (pyarrow, DuckDB) are imported inside the functions that need them.

log = logging.getLogger(__name__)
mask_all_log_records()  # task logs: phone numbers masked whatever module logs them

# Sources whose absence is a warning, not an error (landing.md): nothing to wait for.
OPTIONAL_SOURCES = ("surveys", "complaints")
# The daily DAG announces each published date on this Asset; the weekly DAG is scheduled on it.
DAILY_ASSET_NAME = "topup_recon_daily"
DAILY_ASSET_URI = "file://topup-recon/output/daily"
# Where the tasks that open the warehouse run: a Celery queue served by the one worker on the
# warehouse's machine, and a one-slot pool the deployment creates (deploy/ctl.py).
WAREHOUSE_QUEUE = "warehouse"
WAREHOUSE_POOL = "recon_warehouse"
# The pool keeps the warehouse tasks apart; a writer outside it (a `recon run` by hand, a task
# cleared while another ran) is waited for this long instead of failing the task.
LOCK_WAIT_SECONDS = 3600


# -- configuration and the business date -----------------------------------------------------

def airflow_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The configuration as a task sees it. Airflow runs tasks from an arbitrary working
    directory, so relative paths are taken relative to the checkout (as the CLI sees them when
    run from there), never to wherever the worker happens to be."""
    settings = load_settings(None if environ is None else dict(environ))
    root = project_root()
    relative = {name: root / path for name, path in settings.paths.model_dump().items()
                if not Path(path).is_absolute()}
    return settings.with_paths(**relative) if relative else settings


def business_date(data_interval_start: datetime | None) -> date:
    """The business date a run reconciles: the day its data interval starts, in Asia/Shanghai.

    Never "today": a backfill, a retry or a cleared task days later must process the same date.
    """
    if data_interval_start is None:
        raise ValueError("this run has no data interval: trigger it with a logical date "
                         "(the business date is the day before it) or use `airflow backfill create`")
    return data_interval_start.astimezone(SHANGHAI).date()


def deadline_after_interval_start(settings: Settings) -> timedelta:
    """``alerts.deadline`` ("HH:MM", Asia/Shanghai, on the day after the business date) as an
    offset from the start of the data interval (the business date's midnight)."""
    hours, _, minutes = settings.alerts.deadline.partition(":")
    return timedelta(days=1, hours=int(hours), minutes=int(minutes or 0))


# -- landing: what there is to wait for ------------------------------------------------------

def landed_files(settings: Settings, landing_date: date, source: str) -> list[Path]:
    """The files of ``<landing>/<date>/<source>/`` that staging will parse (the parsers' own
    choice: no ``.sha1`` companions, no ``.part`` uploads in progress), minus hidden files
    (a copy tool's temporary name)."""
    from etl.ingest.stage import source_files

    folder = settings.paths.landing / landing_date.isoformat() / source
    if not folder.is_dir():
        return []
    return [p for p in source_files(folder, source) if not p.name.startswith(".")]


def source_ready(settings: Settings, landing_date: date, source: str) -> bool:
    """Whether a sensor may stop waiting for ``source``: it has landed, or it is optional."""
    if source in OPTIONAL_SOURCES:
        return True
    files = landed_files(settings, landing_date, source)
    if files:
        log.info("%s for %s: %d file(s) landed", source, landing_date, len(files))
    else:
        log.info("%s for %s: nothing in %s yet", source, landing_date,
                 settings.paths.landing / landing_date.isoformat() / source)
    return bool(files)


def staged_manifests(settings: Settings, landing_date: date) -> list:
    """The manifests the parallel staging tasks wrote for a date, one per configured source."""
    from etl.ingest.stage import read_manifest, staging_paths

    missing = [str(staging_paths(settings, landing_date, s)[1]) for s in settings.source_dirs()
               if not staging_paths(settings, landing_date, s)[1].exists()]
    if missing:
        raise FileNotFoundError(f"nothing staged for {landing_date} at {', '.join(missing)}: "
                                "clear the ingest tasks of this date, not only the warehouse step")
    return [read_manifest(settings, landing_date, s) for s in settings.source_dirs()]


# -- late data: which earlier dates to run again ---------------------------------------------

def landing_changed(settings: Settings, landing_date: date) -> bool:
    """Whether a date's landing folder holds something its last staging did not see: a source
    never staged, a file the manifest does not list, or a file written after the manifest
    (re-delivered under the same name). A file the staging quarantined was seen: it stays in
    the landing zone (read-only to us) and never counts as new."""
    from etl.ingest.stage import SourceManifest, staging_paths

    for source in settings.source_dirs():
        _, manifest_path = staging_paths(settings, landing_date, source)
        if not manifest_path.exists():
            return True
        manifest = SourceManifest.from_json(manifest_path.read_text("utf-8"))
        staged_at = manifest_path.stat().st_mtime
        seen = {f.source_file for f in manifest.files} | {q.source_file for q in manifest.quarantined}
        for path in landed_files(settings, landing_date, source):
            rel = str(path.relative_to(settings.paths.landing))
            if rel not in seen or path.stat().st_mtime > staged_at:
                log.info("late data for %s: %s", landing_date, rel)
                return True
    return False


def dates_to_rerun(settings: Settings, business_date: date, matched: set[date]) -> list[date]:
    """Earlier landing dates to run again, in order, before ``business_date``.

    A date re-runs when it was never matched (``matched`` comes from the warehouse's run log)
    or, within the last ``matching.recheck_days``, when its landing folder changed since it was
    staged. Every later date up to the day before ``business_date`` re-runs with it, because
    each date's open items are carried from the one before.
    """
    from etl.pipeline import landing_dates

    earlier = [d for d in landing_dates(settings) if d < business_date]
    window_start = business_date - timedelta(days=settings.matching.recheck_days)
    stale = [d for d in earlier if d not in matched
             or (d >= window_start and landing_changed(settings, d))]
    if not stale:
        return []
    return [d for d in earlier if d >= stale[0]]


def load_and_match_with_recheck(settings: Settings, business_date: date) -> dict[str, Any]:
    """The DAG's warehouse step: re-run earlier dates that need it (with their reports), then
    load and match ``business_date`` from what the staging tasks wrote. The only task that
    opens the warehouse for writing; ``run_lock`` keeps a stray second writer out."""
    from etl.pipeline import load_and_match, matched_dates, render_and_publish, run_lock
    from etl.warehouse import Warehouse

    with run_lock(settings, wait=LOCK_WAIT_SECONDS), Warehouse(settings) as wh:
        matched = matched_dates(wh)
        rerun = dates_to_rerun(settings, business_date, matched)
        for earlier in rerun:
            log.info("re-running %s before %s", earlier, business_date)
            summary = load_and_match(settings, earlier, wh=wh)
            render_and_publish(settings, earlier, summary=summary, wh=wh)
        summary = load_and_match(settings, business_date, manifests=staged_manifests(settings, business_date),
                                 wh=wh)
    return {"business_date": business_date.isoformat(), "rerun": [d.isoformat() for d in rerun],
            "breaks_by_type": summary.breaks_by_type,
            "files_quarantined": len(summary.files_quarantined)}


def reports_step(settings: Settings, business_date: date) -> Path:
    """The DAG's reports step: ``render_and_publish``, waiting for the warehouse like the load."""
    from etl.pipeline import render_and_publish, run_lock

    with run_lock(settings, wait=LOCK_WAIT_SECONDS):
        return render_and_publish(settings, business_date)


# -- links from Airflow's UI to the reports ----------------------------------------------------

REPORT_FILES = (("索引 / Run summary", "index.html"), ("财务 / Finance", "finance.html"),
                ("运营 / Ops work queue", "ops.html"), ("产品 / Product", "product.html"),
                ("差错明细 / breaks.csv", "breaks.csv"))


def reports_url(settings: Settings, day: date) -> str:
    """Where a date's reports are served: ``airflow.reports_url`` with ``{date}`` filled in."""
    return settings.airflow.reports_url.replace("{date}", day.isoformat())


def report_links(settings: Settings, day: date) -> list[tuple[str, str]]:
    """(label, URL) of a date's reports: each file when the URL names a folder (ends with
    ``/``), else the one page it names."""
    base = reports_url(settings, day)
    if not base.endswith("/"):
        return [(f"报告 / Reports {day}", base)]
    return [(label, base + name) for label, name in REPORT_FILES]


def console_url(settings: Settings) -> str:
    """The console's root: the reports URL up to its first ``{date}`` path segment."""
    pattern = settings.airflow.reports_url
    head = pattern.split("{date}")[0]
    parts = head.split("/")
    return "/".join(parts[:3]) + "/" if len(parts) >= 3 and "://" in head else head


# -- thresholds -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenBreaks:
    business_date: date
    count: int
    amount: Decimal  # Σ |difference| of the open breaks: 长款 and 短款 both need money moved
    by_type: dict[str, int]
    location: Path


def open_breaks(settings: Settings, business_date: date) -> OpenBreaks:
    """Open breaks in the published ``breaks.csv`` of a date (what ops will work through)."""
    folder = settings.paths.output / business_date.isoformat()
    count, amount, by_type = 0, Decimal("0"), {}
    with (folder / "breaks.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["status"] != "open":
                continue
            count += 1
            amount += abs(Decimal(row["difference"] or "0"))
            by_type[row["break_type"]] = by_type.get(row["break_type"], 0) + 1
    return OpenBreaks(business_date, count, amount, dict(sorted(by_type.items())), folder)


def threshold_alert(settings: Settings, found: OpenBreaks) -> Alert | None:
    """An alert when open breaks exceed ``alerts.max_open_break_amount`` or ``…_count``, in
    the reports' language ([reports] locale)."""
    from reports import formatting as fmt, labels  # the reports' words and figures, as the pages show them

    locale = settings.reports.locale
    _ = gettext_for(locale)
    limits = settings.alerts
    over = []
    if found.count > limits.max_open_break_count:
        over.append(_("{count} open breaks (limit {limit})").format(
            count=fmt.count(found.count, locale), limit=fmt.count(limits.max_open_break_count, locale)))
    if found.amount > limits.max_open_break_amount:
        over.append(_("{amount} open (limit {limit})").format(
            amount=fmt.money(found.amount, locale), limit=fmt.money(limits.max_open_break_amount, locale)))
    if not over:
        return None
    lines = [_("Reconciliation of {day}: {what}.").format(day=found.business_date, what=_(" and ").join(over)), "",
             _("Open breaks by type:")]
    lines += [f"  {labels.label(t, 'break_type', locale)}  {fmt.count(n, locale)}  ({t})" for t, n in found.by_type.items()]
    lines += ["", _("Breaks and reports: {location}").format(location=found.location)]
    return Alert(kind="breaks", subject=_("[topup-recon] {day}: breaks over threshold").format(day=found.business_date),
                 body="\n".join(lines), business_date=found.business_date, location=str(found.location))


def _alert_locale() -> str:
    """The language of alerts raised outside a run's settings (failure and deadline callbacks)."""
    try:
        return airflow_settings().reports.locale
    except Exception:  # a broken configuration must not stop the alert that may be about it
        return DEFAULT_LOCALE


# -- notifiers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    kind: str  # breaks | failure | deadline
    subject: str
    body: str  # plain text; mailers wrap it
    business_date: date | None = None
    location: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    """Writes the alert to the task log: the fallback when no one is configured to receive mail."""

    def send(self, alert: Alert) -> None:
        log.warning("ALERT %s\n%s", alert.subject, alert.body)


class EmailNotifier:
    """Mail through Airflow's email backend and its ``[smtp]`` settings / ``smtp_default``
    connection, so credentials live in Airflow, not in this project."""

    def __init__(self, to: Sequence[str], conn_id: str | None = None):
        if not to:
            raise ValueError("EmailNotifier needs at least one recipient (alerts.email_to)")
        self.to = list(to)
        self.conn_id = conn_id

    def send(self, alert: Alert) -> None:
        from airflow.utils.email import send_email

        body = f"<pre style=\"font-family: monospace\">{html.escape(alert.body)}</pre>"
        send_email(self.to, alert.subject, body, conn_id=self.conn_id)
        log.info("mailed %r to %s", alert.subject, ", ".join(self.to))


NOTIFIER_ENV = "RECON_NOTIFIER"


def notifier_for(settings: Settings, environ: Mapping[str, str] | None = None) -> Notifier:
    """The configured notifier. ``RECON_NOTIFIER=package.module:factory`` plugs in another one
    (``factory(settings)`` returns an object with ``send(alert)``: Slack, WeCom, a pager);
    otherwise mail to ``alerts.email_to``, or the task log when that list is empty."""
    spec = (os.environ if environ is None else environ).get(NOTIFIER_ENV, "").strip()
    if spec:
        module, _, name = spec.partition(":")
        if not name:
            raise ValueError(f"{NOTIFIER_ENV}={spec!r}: expected 'package.module:factory'")
        return getattr(importlib.import_module(module), name)(settings)
    if settings.alerts.email_to:
        return EmailNotifier(settings.alerts.email_to)
    return LogNotifier()


def send_alert(alert: Alert, settings: Settings | None = None) -> None:
    """Send through the configured notifier; a broken mail server is logged, never raised, so
    an alert cannot fail (and so re-run) the reconciliation it reports on."""
    settings = settings or airflow_settings()
    try:
        notifier_for(settings).send(alert)
    except Exception:
        log.exception("could not send alert %r; it was:\n%s", alert.subject, alert.body)


def on_task_failure(context: Mapping[str, Any]) -> None:
    """Airflow ``on_failure_callback``: a task failed for good (its retries are spent)."""
    ti = context.get("ti") or context.get("task_instance")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
    try:
        day: date | None = business_date(context.get("data_interval_start"))
    except ValueError:
        day = None
    label = f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id
    error = context.get("exception")
    locale = _alert_locale()
    _, ngettext = gettext_for(locale), ngettext_for(locale)
    tries = getattr(ti, "try_number", None)
    body = "\n".join([
        ngettext("Task {task} of {dag} failed after {tries} attempt.", "Task {task} of {dag} failed after {tries} attempts.",
                 tries if isinstance(tries, int) else 2).format(task=label, dag=dag_id, tries=tries or "?"),
        _("Business date: {day}    run: {run}").format(day=day or _("unknown"), run=run_id),
        "",
        _("Error: {error}").format(error=error) if error else _("Error: see the task log"),
        "",
        _("Nothing for this date was published by the failed step. Fix the cause, then clear the task in the "
          "Airflow UI (or `airflow tasks clear`): re-running a date gives the same result."),
    ])
    send_alert(Alert(kind="failure", subject=_("[topup-recon] {dag}: {task} failed for {day}").format(
                         dag=dag_id, task=label, day=day or run_id),
                     body=body, business_date=day, details={"task_id": task_id, "run_id": run_id}))


# Fields of the run the deadline callback reads (the scheduler sends them as DAGRunResponse JSON).
DEADLINE_RUN_FIELDS = ("dag_id", "dag_run_id", "run_type", "state", "queued_at", "data_interval_start")


def deadline_alert(context: Mapping[str, Any]) -> Alert | None:
    """The alert for a missed deadline, or None when it was already past when the run was
    queued (a backfill or a late manual run: no one expected it by then)."""
    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    deadline_at = _as_datetime(deadline.get("deadline_time"))
    queued_at = _as_datetime(run.get("queued_at"))
    if run.get("run_type") == "backfill" or (deadline_at and queued_at and deadline_at <= queued_at):
        return None
    start = _as_datetime(run.get("data_interval_start"))
    day = business_date(start) if start else None
    _ = gettext_for(_alert_locale())
    when = (_("by {time} Asia/Shanghai").format(time=f"{deadline_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
            if deadline_at else _("by its deadline"))
    body = "\n".join([
        _("The reconciliation run {run} of {dag} was not done {when} (alerts.deadline).").format(
            run=run.get("dag_run_id", "?"), dag=run.get("dag_id", "?"), when=when),
        _("Business date: {day}; state now: {state}.").format(day=day or _("unknown"), state=run.get("state", "?")),
        "",
        _("Usually a source has not landed yet (see the ingest.wait_for_files sensors) or a step is retrying."),
    ])
    return Alert(kind="deadline", subject=_("[topup-recon] {day}: not done by the deadline").format(
                     day=day or run.get("dag_run_id")),
                 body=body, business_date=day)


async def on_deadline_missed(context: dict[str, Any], **kwargs: Any) -> None:
    """Deadline-alert callback (runs in the triggerer, hence async): mail off the event loop."""
    import asyncio

    alert = deadline_alert(context)
    if alert is None:
        log.info("deadline passed before the run was queued; not alerting: %s", context.get("dag_run"))
        return
    await asyncio.to_thread(send_alert, alert)


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# -- the weekly trend summary -----------------------------------------------------------------

def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_end(day: date) -> date:
    """The Sunday closing the ISO week of ``day``."""
    return day + timedelta(days=7 - day.isoweekday())


def published_dates(events: Any) -> list[date]:
    """Business dates announced by daily-Asset events (their ``extra``, set by ``publish``)."""
    dates = sorted({date.fromisoformat(e.extra["business_date"]) for e in events
                    if e.extra and e.extra.get("business_date")})
    log.info("published dates: %s", ", ".join(map(str, dates)) or "none")
    return dates


def weeks_closed(published: list[date]) -> list[date]:
    """The ISO weeks whose last day (Sunday) is among the dates just published."""
    return sorted({d for d in published if d.isoweekday() == 7})


def _day_trend(settings: Settings, day: date) -> dict[str, Any]:
    """One published date: breaks first seen that day (by type), what was resolved, and what
    stayed open at its end. A daily export repeats every break still open, so only these add
    up across days."""
    folder = settings.paths.output / day.isoformat()
    summary_path = folder / "run_summary.json"
    if not summary_path.exists():
        return {"business_date": day.isoformat(), "status": "missing"}
    summary = json.loads(summary_path.read_text("utf-8"))
    new_by_type: dict[str, int] = {}
    resolved = 0
    with (folder / "breaks.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["first_seen"] == day.isoformat():
                new_by_type[row["break_type"]] = new_by_type.get(row["break_type"], 0) + 1
            resolved += row["status"] == "resolved"
    found = open_breaks(settings, day)
    return {
        "business_date": day.isoformat(),
        "status": summary.get("status"),
        "new_breaks": sum(new_by_type.values()),
        "new_by_type": dict(sorted(new_by_type.items())),
        "resolved": resolved,
        "open_breaks": found.count,
        "open_amount": str(found.amount),
        "files_loaded": len(summary.get("files_loaded", [])),
        "files_quarantined": len(summary.get("files_quarantined", [])),
    }


def _window(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if r["status"] == "ok"]
    by_type: dict[str, int] = {}
    for r in done:
        for t, n in r["new_by_type"].items():
            by_type[t] = by_type.get(t, 0) + n
    return {
        "days": len(rows),
        "days_reconciled": len(done),
        "days_missing": [r["business_date"] for r in rows if r["status"] != "ok"],
        "new_breaks": sum(r["new_breaks"] for r in done),
        "new_by_type": dict(sorted(by_type.items())),
        "resolved": sum(r["resolved"] for r in done),
        "open_breaks_at_end": done[-1]["open_breaks"] if done else None,
        "open_amount_at_end": done[-1]["open_amount"] if done else None,
        "files_quarantined": sum(r["files_quarantined"] for r in done),
    }


def weekly_trend(settings: Settings, week_end: date) -> dict[str, Any]:
    """Per-day figures of the ISO week ending ``week_end`` and of the 30 days to it, read from
    the published daily run summaries and breaks exports."""
    days30 = [week_end - timedelta(days=i) for i in range(29, -1, -1)]
    rows = {d: _day_trend(settings, d) for d in days30}
    week = [rows[d] for d in days30[-7:]]
    return {
        "iso_week": iso_week(week_end),
        "week_start": days30[-7].isoformat(),
        "week_end": week_end.isoformat(),
        "days": week,
        "last_7_days": _window(week),
        "last_30_days": _window([rows[d] for d in days30]),
    }


def render_weekly(settings: Settings, week_end: date) -> Path:
    """Write ``<output>/weekly/<YYYY-Www>/summary.json`` and ``summary.html`` (in the reports'
    language), swapped in whole."""
    from reports.render import environment

    trend = weekly_trend(settings, week_end)
    root = settings.paths.output / "weekly"
    final = root / trend["iso_week"]
    tmp = root / f".{trend['iso_week']}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "summary.json").write_text(json.dumps(trend, ensure_ascii=False, indent=2), "utf-8")
    template = environment(settings.reports.locale).get_template("weekly.html.j2")
    (tmp / "summary.html").write_text(template.render(t=trend), "utf-8")
    from etl.pipeline import publish

    publish(tmp, final)
    return final
