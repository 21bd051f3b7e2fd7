"""The business's clock: run summaries stamp their times with their offset; older ones, without,
were on the machine's clock. Either way the reports show Shanghai wall time."""
import time
from datetime import datetime

from etl.config import shanghai_wall


class TestRecordedTimes:
    def test_a_stamp_with_its_offset_is_taken_as_it_says(self):
        assert shanghai_wall("2026-11-25T02:13:05+08:00") == datetime(2026, 11, 25, 2, 13, 5)
        assert shanghai_wall("2026-11-24T18:13:05+00:00") == datetime(2026, 11, 25, 2, 13, 5)

    def test_a_stamp_without_an_offset_is_the_machines_clock(self, monkeypatch):
        monkeypatch.setenv("TZ", "Europe/Berlin")  # UTC+1 in November: neither UTC nor Shanghai
        time.tzset()
        try:
            assert shanghai_wall("2026-11-24T18:13:05") == datetime(2026, 11, 25, 1, 13, 5)
        finally:
            monkeypatch.undo()
            time.tzset()

    def test_nothing_readable_is_none(self):
        assert shanghai_wall(None) is None and shanghai_wall("yesterday") is None
