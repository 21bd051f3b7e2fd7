"""mart_order_latest: each order of the window once, as its latest evaluation has it, whatever
runs evaluated it (its own, a later re-check, or its own again after a backfill moved its order
date)."""
from __future__ import annotations

from datetime import date

import pytest

from etl.config import load_settings
from etl.warehouse import Warehouse
from reports.marts import parameters
from tests.matching.conftest import Ledger

DAY = date(2026, 11, 26)


@pytest.fixture
def wh(tmp_path):
    with Warehouse(load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb")})) as wh:
        yield wh


def evaluate(wh: Warehouse, order_id: str, business_date: str, order_date: str, n_credits: int) -> None:
    wh.execute("insert into order_eval (business_date, order_id, order_date, outcome, n_payments, net_paid, "
               "n_credits) values ($b, $o, $d, 'x', 1, 49.80, $c)",
               {"b": business_date, "o": order_id, "d": order_date, "c": n_credits})


def latest(wh: Warehouse) -> dict[str, tuple[date, int]]:
    wh.model("marts/mart_order_latest", parameters(DAY))
    rows = wh.rows("select order_id, order_date, n_credits from mart_order_latest order by order_id")
    assert len(rows) == len({r[0] for r in rows}), f"an order counted twice: {rows}"
    return {o: (d, n) for o, d, n in rows}


def test_an_order_judged_once_is_taken_as_judged(wh):
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    assert latest(wh) == {"A": (date(2026, 11, 25), 1)}


def test_a_later_re_check_wins(wh):
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 0)  # missing its credit in its own run
    evaluate(wh, "A", "2026-11-25", "2026-11-24", 1)  # the credit came the next day
    evaluate(wh, "A", "2026-11-27", "2026-11-24", 5)  # after the report's date: not seen
    assert latest(wh) == {"A": (date(2026, 11, 24), 1)}


def test_an_order_judged_again_after_a_backfill_moved_its_date_is_counted_once(wh):
    # first seen in the 25th's file and run; then a late file of the 24th also held it, and the
    # 24th was run again: each run judged it in its own order date, and the 24th's run recorded
    # the move (test_a_backfill_records_the_move below runs the real match)
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 0)
    wh.execute("insert into order_eval_moves values ('2026-11-24', 'A', '2026-11-25')")
    evaluate(wh, "B", "2026-11-26", "2026-11-26", 1)
    assert latest(wh) == {"A": (date(2026, 11, 25), 1), "B": (date(2026, 11, 26), 1)}


def test_a_backfill_records_the_move_and_the_order_counts_once(wh):
    ledger = Ledger(wh)
    ledger.order("A", at="2026-11-25 09:00:00").payment("A", at="2026-11-25 09:00:05")
    ledger.credit("A", at="2026-11-25 09:03:00")
    ledger.run(date(2026, 11, 25))
    # a late orders file of the 24th holds A as well: the 24th is run (a backfill)
    ledger.order("A", at="2026-11-24 23:59:00", landing="2026-11-24")
    ledger.run(date(2026, 11, 24))
    assert wh.rows("select business_date, order_id, judged_on from order_eval_moves") == [
        (date(2026, 11, 24), "A", date(2026, 11, 25))]
    assert set(latest(wh)) == {"A"}
    # a nightly run (no later date matched) records nothing
    ledger.run(date(2026, 11, 26))
    assert wh.scalar("select count(*) from order_eval_moves where business_date = '2026-11-26'") == 0
