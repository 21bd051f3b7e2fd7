"""What the DAGs decide outside the pipeline: which date, whether to wait, what to re-run, when to alert."""
from __future__ import annotations

import email
import os
import socketserver
import threading
import time as clock
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from etl import orchestration as orch
from etl.config import load_settings
from etl.ingest.stage import stage_source
from tests.airflow.recording import sent

pytestmark = pytest.mark.airflow

D = date(2026, 11, 24)
ORDERS_HEADER = "order_id,created_at,msisdn,province,channel,product_type,product_code,face_value,pay_amount,pay_method,status,updated_at\n"
BILLING_HEADER = "credit_id,order_id,msisdn,amount,product_type,credited_at,result,result_code,reverses_credit_id\n"


@pytest.fixture
def settings(tmp_path):
    return load_settings({
        "RECON_LANDING": str(tmp_path / "landing"), "RECON_WAREHOUSE": str(tmp_path / "wh.duckdb"),
        "RECON_OUTPUT": str(tmp_path / "output"), "RECON_QUARANTINE": str(tmp_path / "quarantine"),
        "RECON_STAGING": str(tmp_path / "staging"), "RECON_PROVIDERS__ACTIVE": '["wechatpay"]',
        "RECON_MATCHING__RECHECK_DAYS": "3",
    })


def land(settings, day: date, source: str, name: str, text: str = "") -> Path:
    path = settings.paths.landing / day.isoformat() / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def land_ledgers(settings, day: date) -> None:
    land(settings, day, "orders", "orders.csv", ORDERS_HEADER +
         f"O1,{day}T10:00:00+08:00,13812341234,GD,app,call_credit,CC50,50.00,49.80,wechatpay,credited,{day}T10:00:00+08:00\n")
    land(settings, day, "billing", "billing.csv", BILLING_HEADER +
         f"C1,O1,13812341234,50.00,call_credit,{day}T10:03:00+08:00,success,0000,\n")


def stage_ledgers(settings, day: date) -> None:
    for source in ("orders", "billing", "surveys", "complaints"):
        stage_source(settings, day, source)


class TestBusinessDate:
    """The day the data interval starts, in Asia/Shanghai: never the clock."""

    def test_interval_start_in_utc_is_read_in_shanghai(self):
        assert orch.business_date(datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)) == D

    def test_a_run_without_interval_is_refused(self):
        with pytest.raises(ValueError, match="logical date"):
            orch.business_date(None)

    def test_deadline_is_the_configured_time_on_the_next_day(self, settings):
        assert orch.deadline_after_interval_start(settings) == timedelta(days=1, hours=12)  # "12:00"


class TestSourceReady:
    """A sensor stops waiting once the files staging will parse are there."""

    def test_nothing_landed_yet(self, settings):
        assert not orch.source_ready(settings, D, "billing")

    def test_landed(self, settings):
        land(settings, D, "billing", "billing_20261124.csv", BILLING_HEADER)
        assert orch.source_ready(settings, D, "billing")

    @pytest.mark.parametrize("name", [
        pytest.param(".billing_20261124.csv", id="hidden-copy-in-progress"),
        pytest.param("billing_20261124.csv.part", id="partial-upload"),
    ])
    def test_incomplete_files_do_not_count(self, settings, name):
        land(settings, D, "billing", name)
        assert not orch.source_ready(settings, D, "billing")

    def test_a_checksum_without_its_statement_does_not_count(self, settings):
        land(settings, D, "wechatpay", "1900000001_20261124_ALL.csv.sha1", "abc")
        assert not orch.source_ready(settings, D, "wechatpay")

    @pytest.mark.parametrize("source", ["surveys", "complaints"])
    def test_optional_sources_are_not_waited_for(self, settings, source):
        assert orch.source_ready(settings, D, source)


class TestDatesToRerun:
    """Late data: earlier dates run again, in order, when they never completed or their landing
    folder changed within ``matching.recheck_days``; every later date follows them."""

    @pytest.fixture
    def staged(self, settings):
        settings = settings.model_copy(update={"providers": settings.providers.model_copy(update={"active": ()})})
        for i in range(5):
            land_ledgers(settings, D + timedelta(days=i))
            stage_ledgers(settings, D + timedelta(days=i))
        return settings

    def days(self, *offsets: int) -> list[date]:
        return [D + timedelta(days=i) for i in offsets]

    def test_nothing_to_do(self, staged):
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 1, 2, 3))) == []

    def test_a_date_never_matched_runs_with_all_after_it(self, staged):
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 2, 3))) == self.days(1, 2, 3)

    def test_a_new_file_in_an_earlier_folder(self, staged):
        land(staged, D + timedelta(days=2), "billing", "billing_resent.csv", BILLING_HEADER)
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 1, 2, 3))) == self.days(2, 3)

    def test_a_file_redelivered_under_the_same_name(self, staged):
        path = staged.paths.landing / (D + timedelta(days=3)).isoformat() / "orders" / "orders.csv"
        later = clock.time() + 60
        os.utime(path, (later, later))
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 1, 2, 3))) == self.days(3)

    def test_changes_older_than_the_recheck_window_are_left_alone(self, staged):
        land(staged, D, "billing", "billing_resent.csv", BILLING_HEADER)  # 4 days back, window is 3
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 1, 2, 3))) == []

    def test_an_optional_source_arriving_late_counts(self, staged):
        land(staged, D + timedelta(days=3), "surveys", "surveys.csv", "response_id,order_id,submitted_at,csat,nps,comment\n")
        assert orch.dates_to_rerun(staged, D + timedelta(days=4), set(self.days(0, 1, 2, 3))) == self.days(3)

    def test_later_dates_are_never_rerun(self, staged):
        land(staged, D + timedelta(days=4), "billing", "billing_resent.csv", BILLING_HEADER)
        assert orch.dates_to_rerun(staged, D + timedelta(days=3), set(self.days(0, 1, 2))) == []


def write_breaks(settings, day: date, rows: list[tuple], first_seen: date | None = None) -> Path:
    """A breaks.csv with the columns the alerts and trends read; rows are (type, difference,
    status) or (type, difference, status, first_seen)."""
    folder = settings.paths.output / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["business_date,break_type,order_id,difference,first_seen,status"]
    for i, (t, diff, status, *seen) in enumerate(rows):
        lines.append(f"{day},{t},O{i},{diff},{seen[0] if seen else day},{status}")
    (folder / "breaks.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


class TestThresholds:
    """Open breaks over the configured count or amount (长款 and 短款 alike) raise an alert that
    says where the breaks and reports are."""

    def limits(self, settings, count: int, amount: str):
        alerts = settings.alerts.model_copy(update={"max_open_break_count": count,
                                                    "max_open_break_amount": Decimal(amount)})
        return settings.model_copy(update={"alerts": alerts})

    def test_open_breaks_count_and_amount(self, settings):
        write_breaks(settings, D, [("MISSING_CREDIT", "49.80", "open"), ("ORPHAN_CREDIT", "-50.00", "open"),
                                   ("LATE_CREDIT", "0.00", "resolved")])
        found = orch.open_breaks(settings, D)
        assert (found.count, found.amount) == (2, Decimal("99.80"))
        assert found.by_type == {"MISSING_CREDIT": 1, "ORPHAN_CREDIT": 1}

    def test_under_both_limits_no_alert(self, settings):
        write_breaks(settings, D, [("MISSING_CREDIT", "49.80", "open")])
        assert orch.threshold_alert(self.limits(settings, 1, "49.80"), orch.open_breaks(settings, D)) is None

    def test_over_count(self, settings):
        folder = write_breaks(settings, D, [("MISSING_CREDIT", "1.00", "open")] * 3)
        alert = orch.threshold_alert(self.limits(settings, 2, "1000"), orch.open_breaks(settings, D))
        assert alert.kind == "breaks" and "未处理差错 3 笔（阈值 2）" in alert.body  # zh_CN, the default
        assert alert.location == str(folder) and str(folder) in alert.body

    def test_over_amount_counts_short_and_long(self, settings):
        write_breaks(settings, D, [("MISSING_CREDIT", "60.00", "open"), ("ORPHAN_CREDIT", "-50.00", "open")])
        alert = orch.threshold_alert(self.limits(settings, 100, "100.00"), orch.open_breaks(settings, D))
        assert "未处理金额 ¥110.00（阈值 ¥100.00）" in alert.body
        assert "已支付未到账（掉单）" in alert.body and "(MISSING_CREDIT)" in alert.body

    def test_in_english_when_the_reports_are(self, settings):
        write_breaks(settings, D, [("MISSING_CREDIT", "60.00", "open"), ("ORPHAN_CREDIT", "-50.00", "open")])
        english = settings.model_copy(update={"reports": settings.reports.model_copy(update={"locale": "en"})})
        alert = orch.threshold_alert(self.limits(english, 100, "100.00"), orch.open_breaks(settings, D))
        assert "¥110.00 open (limit ¥100.00)" in alert.body
        assert alert.subject == "[topup-recon] 2026-11-24: breaks over threshold"


class TestNotifierChoice:
    def test_email_when_recipients_are_configured(self, settings):
        alerts = settings.alerts.model_copy(update={"email_to": ("recon-ops@example.com",)})
        notifier = orch.notifier_for(settings.model_copy(update={"alerts": alerts}), environ={})
        assert isinstance(notifier, orch.EmailNotifier) and notifier.to == ["recon-ops@example.com"]

    def test_task_log_when_no_one_is(self, settings):
        assert isinstance(orch.notifier_for(settings, environ={}), orch.LogNotifier)

    def test_pluggable(self, settings, monkeypatch, tmp_path):
        from tests.airflow.recording import RecordingNotifier

        monkeypatch.setenv("RECON_TEST_ALERTS", str(tmp_path / "alerts.jsonl"))
        notifier = orch.notifier_for(settings, environ={orch.NOTIFIER_ENV: "tests.airflow.recording:factory"})
        assert isinstance(notifier, RecordingNotifier)

    def test_a_broken_notifier_never_fails_the_caller(self, settings, monkeypatch, caplog):
        monkeypatch.setenv(orch.NOTIFIER_ENV, "tests.airflow.recording:factory")
        monkeypatch.delenv("RECON_TEST_ALERTS", raising=False)  # the factory raises KeyError
        orch.send_alert(orch.Alert(kind="breaks", subject="s", body="b"), settings)
        assert "could not send alert" in caplog.text


class _SMTPSink(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib.sendmail: every message lands in ``server.messages``."""

    def handle(self):
        self.wfile.write(b"220 sink ESMTP\r\n")
        lines, in_data = [], False
        while line := self.rfile.readline():
            if in_data:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(email.message_from_bytes(b"".join(lines)))
                    lines, in_data = [], False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 end with .\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server(monkeypatch, airflow_db):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPSink)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.server_address[1]),
                       "SMTP_STARTTLS": "False", "SMTP_SSL": "False",
                       "SMTP_MAIL_FROM": "airflow@example.com"}.items():
        monkeypatch.setenv(f"AIRFLOW__SMTP__{key}", value)
    yield server
    server.shutdown()
    server.server_close()


class TestEmailNotifier:
    """Mail goes out through Airflow's own [smtp] configuration."""

    def test_alert_is_mailed(self, smtp_server):
        orch.EmailNotifier(["recon-ops@example.com"]).send(orch.Alert(
            kind="breaks", subject="[topup-recon] 2026-11-24: breaks over threshold",
            body="3 open breaks <over> limit\nBreaks and reports: /data/output/2026-11-24"))
        [message] = smtp_server.messages
        assert message["Subject"] == "[topup-recon] 2026-11-24: breaks over threshold"
        assert message["To"] == "recon-ops@example.com"
        html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
        assert b"/data/output/2026-11-24" in html and b"&lt;over&gt;" in html


class TestFailureCallback:
    def test_names_the_task_the_date_and_the_error(self, settings, monkeypatch, tmp_path):
        monkeypatch.setenv(orch.NOTIFIER_ENV, "tests.airflow.recording:factory")
        monkeypatch.setenv("RECON_TEST_ALERTS", str(tmp_path / "alerts.jsonl"))
        ti = SimpleNamespace(task_id="ingest.stage", map_index=2, dag_id="topup_recon_daily",
                             run_id="scheduled__2026-11-24", try_number=4)
        orch.on_task_failure({"ti": ti, "data_interval_start": datetime(2026, 11, 23, 16, tzinfo=timezone.utc),
                              "exception": RuntimeError("cannot open the warehouse")})
        [alert] = sent(tmp_path / "alerts.jsonl")
        assert alert["kind"] == "failure" and alert["business_date"] == "2026-11-24"
        assert "ingest.stage[2]" in alert["subject"]
        assert "cannot open the warehouse" in alert["body"] and "尝试 4 次后失败" in alert["body"]


class TestDeadlineAlert:
    """The deadline callback's context is the scheduler's view of the run (JSON)."""

    def context(self, run_type="scheduled", queued_at="2026-11-24T16:00:05Z"):
        return {"dag_run": {"dag_id": "topup_recon_daily", "dag_run_id": "scheduled__2026-11-23T16:00:00+00:00",
                            "run_type": run_type, "state": "running", "queued_at": queued_at,
                            "data_interval_start": "2026-11-23T16:00:00Z"},
                "deadline": {"id": "x", "deadline_time": datetime(2026, 11, 24, 22, tzinfo=timezone.utc)}}

    def test_reads_only_fields_the_scheduler_sends(self, airflow_db):
        from airflow.api_fastapi.core_api.datamodels.dag_run import DAGRunResponse

        assert set(orch.DEADLINE_RUN_FIELDS) <= set(DAGRunResponse.model_fields)
        assert set(self.context()["dag_run"]) <= set(orch.DEADLINE_RUN_FIELDS)

    def test_scheduled_run_late(self):
        alert = orch.deadline_alert(self.context())
        assert alert.kind == "deadline" and alert.business_date == D
        assert "未能在 2026-11-25 06:00（北京时间）前完成" in alert.body
        assert "scheduled__2026-11-23T16:00:00+00:00" in alert.body

    def test_backfill_runs_do_not_alert(self):
        assert orch.deadline_alert(self.context(run_type="backfill")) is None

    def test_runs_queued_after_their_deadline_do_not_alert(self):
        assert orch.deadline_alert(self.context(run_type="manual", queued_at="2026-11-26T01:00:00Z")) is None

    def test_the_async_callback_sends(self, monkeypatch, tmp_path):
        import asyncio

        monkeypatch.setenv(orch.NOTIFIER_ENV, "tests.airflow.recording:factory")
        monkeypatch.setenv("RECON_TEST_ALERTS", str(tmp_path / "alerts.jsonl"))
        asyncio.run(orch.on_deadline_missed(self.context()))
        assert [a["kind"] for a in sent(tmp_path / "alerts.jsonl")] == ["deadline"]


class TestWeeklyTrend:
    def publish_day(self, settings, day: date, new: int, carried: int = 0, resolved: int = 0) -> None:
        import json

        rows = [("MISSING_CREDIT", "10.00", "open")] * new
        rows += [("ORPHAN_CREDIT", "-5.00", "open", date(2026, 10, 1))] * carried
        rows += [("LATE_CREDIT", "0.00", "resolved", date(2026, 10, 1))] * resolved
        folder = write_breaks(settings, day, rows)
        (folder / "run_summary.json").write_text(json.dumps({
            "business_date": day.isoformat(), "status": "ok", "breaks_by_type": {},
            "files_loaded": [{}] * 7, "files_quarantined": []}), "utf-8")

    def test_published_dates_come_from_the_events_extra(self):
        events = [SimpleNamespace(extra={"business_date": "2026-11-29", "output": "/o/2026-11-29"}),
                  SimpleNamespace(extra={"business_date": "2026-11-28"}), SimpleNamespace(extra={})]
        assert orch.published_dates(events) == [date(2026, 11, 28), date(2026, 11, 29)]

    def test_weeks_closed_are_the_sundays_published(self):
        assert orch.weeks_closed([date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)]) == [date(2026, 11, 29)]
        assert orch.week_end(date(2026, 11, 24)) == date(2026, 11, 29)

    def test_summary_of_the_week_and_30_days(self, settings):
        import json

        for i, day in enumerate(date(2026, 11, 23) + timedelta(days=n) for n in range(6)):  # Sunday missing
            self.publish_day(settings, day, new=i + 1, carried=3, resolved=1)
        self.publish_day(settings, date(2026, 11, 1), new=100)
        folder = orch.render_weekly(settings, date(2026, 11, 29))
        trend = json.loads((folder / "summary.json").read_text("utf-8"))
        week, month = trend["last_7_days"], trend["last_30_days"]
        assert folder == settings.paths.output / "weekly" / "2026-W48"
        # breaks carried open from earlier days are not counted again as new
        assert (week["new_breaks"], week["new_by_type"], week["resolved"]) == (21, {"MISSING_CREDIT": 21}, 6)
        assert week["days_missing"] == ["2026-11-29"] and week["days_reconciled"] == 6
        assert (week["open_breaks_at_end"], week["open_amount_at_end"]) == (9, "75.00")  # 6 × 10 + 3 × 5
        assert month["new_breaks"] == 121 and month["days_reconciled"] == 7
        html = (folder / "summary.html").read_text("utf-8")
        assert "2026-W48" in html and '<html lang="zh-CN">' in html
        assert "<td>¥75.00</td>" in html and "已支付未到账（掉单）" in html and "缺失" in html

    def test_rendering_again_replaces_the_week(self, settings):
        self.publish_day(settings, date(2026, 11, 29), new=1)
        first = (orch.render_weekly(settings, date(2026, 11, 29)) / "summary.json").read_bytes()
        assert (orch.render_weekly(settings, date(2026, 11, 29)) / "summary.json").read_bytes() == first
        assert [p.name for p in (settings.paths.output / "weekly").iterdir()] == ["2026-W48"]


# -- the warehouse lock: a wait, not a failure, for the DAG's tasks ----------------------------

class TestRunLockWaits:
    def hold_lock(self, settings, seconds: float):
        import subprocess
        import sys

        lock = settings.paths.warehouse.with_name(settings.paths.warehouse.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        holder = subprocess.Popen([sys.executable, "-c", (
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(float(sys.argv[2]))"), str(lock), str(seconds)],
            stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        return holder

    def test_a_task_waits_for_another_writer_then_runs(self, settings):
        from etl.pipeline import run_lock

        holder = self.hold_lock(settings, 1.5)
        started = clock.monotonic()
        with run_lock(settings, wait=30):
            waited = clock.monotonic() - started
        holder.wait()
        assert 0.5 < waited < 30

    def test_without_a_wait_the_second_writer_fails_at_once(self, settings):
        from etl.pipeline import RunError, run_lock

        holder = self.hold_lock(settings, 3)
        with pytest.raises(RunError, match="another recon run is using"):
            with run_lock(settings):
                pass
        holder.wait()


# -- links from Airflow's UI ---------------------------------------------------------------------

class TestReportLinks:
    def test_folder_url_links_each_report_of_the_date(self, settings):
        links = dict(orch.report_links(settings.model_copy(update={"airflow": settings.airflow.model_copy(
            update={"reports_url": "https://recon.example.com/reports/{date}/"})}), date(2026, 11, 24)))
        assert links["财务 / Finance"] == "https://recon.example.com/reports/2026-11-24/finance.html"
        assert len(links) == len(orch.REPORT_FILES)

    def test_page_url_is_the_one_link_and_the_console_is_its_root(self):
        settings = load_settings({"RECON_REPORTS_URL": "http://files.example.com:8080/out/{date}/index.html"})
        assert orch.report_links(settings, date(2026, 11, 24)) == [
            ("报告 / Reports 2026-11-24", "http://files.example.com:8080/out/2026-11-24/index.html")]
        assert orch.console_url(settings) == "http://files.example.com:8080/"
