"""The console and the night together: what ops resolve in the console is taken by the next
`recon run` and shown confirmed; the console answers while a run writes the warehouse."""
from __future__ import annotations

import threading
import time

from sqlalchemy import select

from console.store.models import Resolution
from tests.console.conftest import DAYS, first_break, run_nights


class TestResolutionsReachTheNight:
    def test_the_next_run_applies_and_confirms_a_console_resolution(self, as_role, site, app):
        root, settings = site
        row = first_break(settings, "MISSING_CREDIT")
        ops = as_role("ops")
        assert ops.post("/break/resolve", {"key": row["break_key"], "version": "0", "reason": "recredit",
                                           "text": "BOSS re-credited by hand"}).status_code == 303
        run_nights(root, DAYS[2])
        with app.state.store() as db:
            r = db.execute(select(Resolution)).scalar_one()
        assert (r.taken_by_run.isoformat(), r.confirmed_by_run.isoformat()) == (DAYS[2], DAYS[2])
        import duckdb

        con = duckdb.connect(str(settings.paths.warehouse), read_only=True)
        status, resolution, by = con.execute(
            "select status, resolution, resolved_by from break_log where business_date = $d and break_key = $k",
            {"d": DAYS[2], "k": row["break_key"]}).fetchone()
        con.close()
        assert (status, resolution, by) == ("resolved", "manual", "wang.ops")
        page = ops.get("/break", params={"key": row["break_key"]}).text
        assert "已由 2026-11-03 的对账确认" in page

    def test_a_pending_write_off_is_not_taken(self, as_role, site, app):
        root, settings = site
        row = first_break(settings, "MISSING_CREDIT", above=settings.console.writeoff_approval_above)
        ops = as_role("ops")
        ops.post("/break/resolve", {"key": row["break_key"], "version": "0", "reason": "writeoff",
                                    "text": "customer unreachable"})
        run_nights(root, DAYS[2])
        with app.state.store() as db:
            r = db.execute(select(Resolution)).scalar_one()
        assert r.status == "pending" and r.taken_by_run is None

    def test_a_run_without_a_console_database_goes_on(self, site):
        root, settings = site
        (root / "console" / "console.db").unlink()
        run_nights(root, DAYS[2])
        assert (settings.paths.output / DAYS[2] / "console" / "breaks.parquet").exists()


class TestConsoleDuringTheRun:
    def test_pages_answer_while_recon_run_writes_the_warehouse(self, as_role, site):
        root, _ = site
        ops = as_role("ops")
        errors: list[BaseException] = []
        run = threading.Thread(target=lambda: _capture(errors, run_nights, root, DAYS[2]))
        run.start()
        answered, slowest = 0, 0.0
        while run.is_alive():
            for path in ("/queue", "/", "/queue?sort=amount&page=2"):
                started = time.perf_counter()
                assert ops.get(path).status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                answered += 1
        run.join()
        assert errors == []
        assert answered >= 3
        assert ops.get("/queue").status_code == 200


def _capture(errors, fn, *args):
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
