"""``airflow backfill create`` over a range makes one run per business date of the range.

The range is of logical dates (= ``data_interval_start``), so it must be given in Asia/Shanghai
(``2026-10-01T00:00:00+08:00``): a bare ``2026-10-01`` means midnight UTC, which is 08:00 in
Shanghai, and the range then starts with the next day. A dry run shows the plan without a
scheduler; the runs themselves execute exactly like scheduled ones.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from etl.orchestration import business_date

pytestmark = pytest.mark.airflow

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def serialized(airflow_db):
    """Backfills are planned from the DAG as stored in the metadata DB."""
    subprocess.run([AIRFLOW, "dags", "reserialize"], check=True, capture_output=True, env=os.environ.copy())


def planned_business_dates(from_date: str, to_date: str) -> list[date]:
    done = subprocess.run([AIRFLOW, "backfill", "create", "--dag-id", "topup_recon_daily", "--dry-run",
                           "--from-date", from_date, "--to-date", to_date],
                          capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    logical = re.findall(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d) ", done.stdout, re.MULTILINE)
    return [business_date(datetime.fromisoformat(value)) for value in logical]


class TestBackfillRange:
    def test_one_run_per_business_date_given_in_shanghai_time(self, serialized):
        assert planned_business_dates("2026-10-01T00:00:00+08:00", "2026-10-03T00:00:00+08:00") == [
            date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]

    def test_bare_dates_are_utc_and_start_a_day_later(self, serialized):
        assert planned_business_dates("2026-10-01", "2026-10-03") == [date(2026, 10, 2), date(2026, 10, 3)]
