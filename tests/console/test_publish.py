"""What the night publishes for the console (etl/console_publish.py), on a few hand-written rows:
each break's story tells every ledger row behind it exactly once."""
from __future__ import annotations

from datetime import date

import duckdb

from etl.config import load_settings
from etl.console_publish import write_console_tables
from etl.warehouse import Warehouse
from tests.conftest import paths_env
from tests.matching.conftest import Ledger


def _story(tmp_path, build) -> list[tuple]:
    settings = load_settings(paths_env(tmp_path, RECON_CONSOLE__SEARCH_KEY_FILE=str(tmp_path / "search.key")))
    with Warehouse(settings) as wh:
        ledger = Ledger(wh)
        build(ledger)
        ledger.run("2026-11-24")
        write_console_tables(settings, wh, date(2026, 11, 24), tmp_path / "console")
    return duckdb.connect().execute(
        "select story_id, ledger, credit_id, reverses_credit_id, source_line "
        f"from read_parquet('{tmp_path / 'console' / 'story.parquet'}') order by all").fetchall()


class TestStoryRows:
    def test_an_order_with_two_breaks_has_one_order_row(self, tmp_path):
        def build(ledger):  # paid twice and credited late: DUPLICATE_PAYMENT and LATE_CREDIT
            ledger.order("T1").payment("T1").payment("T1", txn="T1-again", at="2026-11-24 10:00:30")
            ledger.credit("T1", at="2026-11-24 11:00:00")

        rows = _story(tmp_path, build)
        assert [r[1] for r in rows].count("order") == 1
        assert len(rows) == len(set(rows)) == 4  # the order, two payments, the credit

    def test_a_reversal_naming_a_credit_of_its_own_order_is_one_row(self, tmp_path):
        def build(ledger):  # refunded, yet a credit stands; the second credit was reversed
            ledger.order("T2").payment("T2").refund("T2", at="2026-11-24 10:30:00")
            ledger.credit("T2", credit_id="C1").credit("T2", credit_id="C2", at="2026-11-24 10:04:00")
            ledger.reversal("C2", "T2", at="2026-11-24 12:00:00")

        rows = _story(tmp_path, build)
        reversals = [r for r in rows if r[3] == "C2"]
        assert len(reversals) == 1
        assert len(rows) == len(set(rows))
