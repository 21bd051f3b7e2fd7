"""mart_order_latest: each order of the window once, as its latest evaluation has it, whatever
runs evaluated it (its own, a later re-check, or its own again after a backfill moved its order
date)."""
from __future__ import annotations

from datetime import date

import pytest

from etl.config import load_settings
from etl.warehouse import Warehouse
from reports.marts import Marts, parameters
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
    # 24th was run again: each run judged it in its own order date
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 0)
    evaluate(wh, "B", "2026-11-26", "2026-11-26", 1)
    assert latest(wh) == {"A": (date(2026, 11, 25), 1), "B": (date(2026, 11, 26), 1)}


def test_an_order_moved_by_a_reload_that_was_not_matched_again_is_counted_once(wh):
    # X was in the 24th's file and judged there; the 24th was then loaded again without it (its
    # match not run again: `recon ingest`, or a match that failed), and the 25th's file holds X
    ledger = Ledger(wh)
    ledger.order("X", at="2026-11-24 10:00:00").payment("X", at="2026-11-24 10:00:05")
    ledger.run(date(2026, 11, 24))
    wh.execute("delete from raw_orders where order_id = 'X'")
    ledger.order("X", at="2026-11-25 10:00:00").payment("X", at="2026-11-25 10:00:05")
    ledger.run(date(2026, 11, 25))
    assert set(latest(wh)) == {"X"}


# The marts that look up the order a survey answer is about take each order once, too.

def answer(wh: Warehouse, response_id: str, order_id: str, csat: int, comment: str | None = None) -> None:
    wh.execute("insert into raw_surveys (response_id, order_id, submitted_at, csat, nps, comment, source_line, "
               "source_file, landing_date) values ($r, $o, '2026-11-26 09:00:00', $c, 9, $t, 1, 's.csv', $d)",
               {"r": response_id, "o": order_id, "c": csat, "t": comment, "d": DAY})


def test_an_answer_about_an_order_judged_twice_counts_once(wh):
    # A judged on the 25th, then again on the 24th after a backfill moved its order date
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 1)
    wh.execute("update order_eval set channel = 'app', product_type = 'call', delay_minutes = 1, sla_minutes = 30")
    answer(wh, "R1", "A", 5, "quick")
    wh.model("marts/mart_product_satisfaction", parameters(DAY))
    assert wh.rows("select value, responses from mart_product_satisfaction order by dimension, value") == [
        ("app", 1), ("call", 1), ("total", 1)]
    wh.model("marts/mart_product_comments", parameters(DAY))
    assert wh.rows("select response_id, channel, is_late from mart_product_comments") == [("R1", "app", False)]


def test_an_answer_takes_the_orders_latest_fields(wh):
    # re-delivered with another channel: the latest of its own-run evaluations tells
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 1)
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    wh.execute("update order_eval set channel = case when business_date = '2026-11-24' then 'web' else 'app' end, "
               "product_type = 'call', delay_minutes = 1, sla_minutes = 30")
    answer(wh, "R1", "A", 5, "quick")
    wh.model("marts/mart_product_comments", parameters(DAY))
    assert wh.rows("select channel from mart_product_comments") == [("app",)]


def test_complaints_per_order_count_an_order_judged_twice_once(wh):
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 1)  # judged again after a backfill moved its date
    evaluate(wh, "B", "2026-11-26", "2026-11-26", 1)
    marts = Marts(wh, DAY)
    rows = marts.rows("mart_product_complaints")
    assert {(r["orders_day"], r["orders_week"]) for r in rows} == {(1, 2)}


def test_an_answer_takes_the_orders_own_run_not_a_re_check_nor_a_later_run(wh):
    evaluate(wh, "A", "2026-11-20", "2026-11-20", 0)
    evaluate(wh, "A", "2026-11-25", "2026-11-20", 1)  # re-checked
    evaluate(wh, "A", "2026-11-27", "2026-11-27", 1)  # after the report's date
    wh.execute("update order_eval set channel = case business_date when '2026-11-20' then 'own' "
               "when '2026-11-25' then 'recheck' else 'later' end")
    answer(wh, "R1", "A", 5, "quick")
    wh.model("marts/mart_product_satisfaction", parameters(DAY))
    assert ("channel", "own", 1) in wh.rows("select dimension, value, responses from mart_product_satisfaction")
    wh.model("marts/mart_product_comments", parameters(DAY))
    assert wh.rows("select channel from mart_product_comments") == [("own",)]


def test_complaints_per_order_count_an_order_only_a_re_check_judged(wh):
    # the 24th's run missed A (its file came late), a row of the 25th named it: it is an order
    # of the 24th, as the daily trend counts it
    evaluate(wh, "A", "2026-11-25", "2026-11-24", 1)
    evaluate(wh, "B", "2026-11-26", "2026-11-26", 1)
    evaluate(wh, "C", "2026-11-27", "2026-11-27", 1)  # after the report's date
    rows = Marts(wh, DAY).rows("mart_product_complaints")
    assert {(r["orders_day"], r["orders_week"]) for r in rows} == {(1, 2)}
