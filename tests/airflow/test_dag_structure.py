"""The DAG files import cleanly and have the shape production relies on."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

pytestmark = pytest.mark.airflow

DAILY_TASKS = {
    "configured_sources",
    "ingest.wait_for_files",
    "ingest.stage",
    "load_and_match",
    "reports",
    "publish",
}


@pytest.fixture(scope="module")
def daily(dagbag):
    return dagbag.dags["topup_recon_daily"]


@pytest.fixture(scope="module")
def weekly(dagbag):
    return dagbag.dags["topup_recon_weekly"]


class TestDagBag:
    def test_no_import_errors(self, dagbag):
        assert dagbag.import_errors == {}

    def test_both_dags_are_found(self, dagbag):
        assert {"topup_recon_daily", "topup_recon_weekly"} <= set(dagbag.dag_ids)


class TestDailySchedule:
    """One run per business date in Asia/Shanghai, in order, keyed on the data interval."""

    def test_interval_timetable_in_shanghai(self, daily):
        from airflow.sdk import CronDataIntervalTimetable

        assert isinstance(daily.timetable, CronDataIntervalTimetable)
        assert (daily.timetable.expression, str(daily.timetable.timezone)) == ("0 0 * * *", "Asia/Shanghai")

    def test_scheduled_run_reconciles_the_day_before_it_starts(self, daily):
        """The run that starts at 2026-11-25 00:00 CST covers 11-24 and reconciles 11-24."""
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.timetables.base import DataInterval, TimeRestriction

        from etl.orchestration import SHANGHAI, business_date

        previous = DataInterval(datetime(2026, 11, 23, tzinfo=SHANGHAI), datetime(2026, 11, 24, tzinfo=SHANGHAI))
        info = coerce_to_core_timetable(daily.timetable).next_dagrun_info(
            last_automated_data_interval=previous,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True))
        assert info.run_after == datetime(2026, 11, 25, tzinfo=SHANGHAI)
        assert business_date(info.data_interval.start) == date(2026, 11, 24)
        assert info.logical_date == info.data_interval.start  # what the deadline counts from

    def test_one_run_at_a_time(self, daily):
        # a date's open items are carried from the date before: runs must not overlap
        assert daily.max_active_runs == 1


class TestDailyTasks:
    def test_task_ids(self, daily):
        assert set(daily.task_ids) == DAILY_TASKS

    def test_order(self, daily):
        t = daily.task_dict
        assert t["ingest.wait_for_files"].downstream_task_ids == {"ingest.stage"}
        assert t["ingest.stage"].downstream_task_ids == {"load_and_match"}
        assert t["load_and_match"].downstream_task_ids == {"reports"}
        assert t["reports"].downstream_task_ids == {"publish"}

    def test_wait_and_stage_are_mapped_per_source(self, daily):
        """Mapped over the sources read at run time: a provider switched on in the configuration
        gets its own sensor and staging task without a DAG change."""
        for task_id in ("ingest.wait_for_files", "ingest.stage"):
            group = daily.task_dict[task_id].get_closest_mapped_task_group()
            assert group is not None and group.group_id == "ingest", task_id
        assert daily.task_dict["configured_sources"].downstream_task_ids >= {"ingest.wait_for_files"}

    def test_sensor_waits_without_holding_a_slot_and_gives_up(self, daily):
        sensor = daily.task_dict["ingest.wait_for_files"]
        assert sensor.mode == "reschedule"
        assert timedelta(hours=10) < timedelta(seconds=sensor.timeout) <= timedelta(hours=24)
        assert sensor.poke_interval <= 15 * 60

    @pytest.mark.parametrize("task_id", sorted(DAILY_TASKS))
    def test_retries_with_backoff_and_failure_alert(self, daily, task_id):
        from etl.orchestration import on_task_failure

        task = daily.task_dict[task_id]
        assert task.retries >= 2
        assert task.retry_exponential_backoff > 1
        assert on_task_failure in task.on_failure_callback

    def test_unbalanced_totals_are_not_retried(self, daily):
        from etl.match import ControlTotalsError

        policy = daily.task_dict["load_and_match"].retry_policy
        decision = policy.evaluate(ControlTotalsError("x"), try_number=1, max_tries=4, context={})
        assert decision.action.value == "fail"

    def test_only_the_warehouse_steps_are_single_instance(self, daily):
        single = {t.task_id for t in daily.tasks if t.max_active_tis_per_dag == 1}
        assert single == {"load_and_match", "reports"}

    def test_publish_announces_the_daily_asset(self, daily):
        from etl.orchestration import DAILY_ASSET_NAME

        assert [a.name for a in daily.task_dict["publish"].outlets] == [DAILY_ASSET_NAME]


class TestDeadline:
    def test_deadline_alert_at_configured_time_after_the_business_day(self, daily):
        from airflow.sdk import AsyncCallback, DeadlineReference

        [alert] = daily.deadline
        assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
        assert alert.interval == timedelta(days=1, hours=12)  # alerts.deadline "12:00" of D+1
        assert isinstance(alert.callback, AsyncCallback)
        assert alert.callback.path == "etl.orchestration.on_deadline_missed"


class TestWeekly:
    def test_scheduled_on_the_daily_asset(self, weekly):
        from etl.orchestration import DAILY_ASSET_NAME

        assert [a.name for a in weekly.timetable.asset_condition.objects] == [DAILY_ASSET_NAME]

    def test_render_is_mapped_over_closed_weeks(self, weekly):
        assert set(weekly.task_ids) == {"weeks_to_render", "render_week"}
        assert weekly.task_dict["render_week"].is_mapped

    @pytest.mark.parametrize("task_id", ["weeks_to_render", "render_week"])
    def test_retries(self, weekly, task_id):
        assert weekly.task_dict[task_id].retries >= 2
