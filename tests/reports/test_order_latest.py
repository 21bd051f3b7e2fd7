"""order_latest: each order of the window once, as its latest evaluation has it, whatever runs
evaluated it (its own, a later re-check, or its own again after a backfill moved its order date
or a reload took it out of a date's file)."""
from __future__ import annotations

import shutil
from datetime import date

import pytest

from etl.config import load_settings
from etl.redelivery import flag_unmarked
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


def delivered(wh: Warehouse, order_id: str, *landing_dates: str) -> None:
    """The order's rows in the orders files of ``landing_dates``, flagged as the load flags them."""
    ledger = Ledger(wh)
    for day in landing_dates:
        ledger.order(order_id, at=f"{day} 10:00:00")
    flag_unmarked(wh)


def latest(wh: Warehouse) -> dict[str, tuple[date, int]]:
    wh.run_file("marts/order_latest", {})
    rows = wh.execute("select order_id, order_date, n_credits from order_latest($first, $last) order by order_id",
                      {"first": parameters(DAY)["window_start"], "last": DAY}).fetchall()
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
    delivered(wh, "A", "2026-11-24", "2026-11-25")
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 0)
    evaluate(wh, "B", "2026-11-26", "2026-11-26", 1)
    assert latest(wh) == {"A": (date(2026, 11, 25), 1), "B": (date(2026, 11, 26), 1)}


# The marts that look up the order a survey answer is about take each order once, too.

def answer(wh: Warehouse, response_id: str, order_id: str, csat: int, comment: str | None = None) -> None:
    wh.execute("insert into raw_surveys (response_id, order_id, submitted_at, csat, nps, comment, source_line, "
               "source_file, landing_date) values ($r, $o, '2026-11-26 09:00:00', $c, 9, $t, 1, 's.csv', $d)",
               {"r": response_id, "o": order_id, "c": csat, "t": comment, "d": DAY})


def test_an_answer_about_an_order_judged_twice_counts_once(wh):
    # A judged on the 25th, then again on the 24th after a backfill moved its order date
    delivered(wh, "A", "2026-11-24", "2026-11-25")
    evaluate(wh, "A", "2026-11-25", "2026-11-25", 1)
    evaluate(wh, "A", "2026-11-24", "2026-11-24", 1)
    wh.execute("update order_eval set channel = 'app', product_type = 'call', delay_minutes = 1, sla_minutes = 30")
    answer(wh, "R1", "A", 5, "quick")
    wh.model("marts/mart_survey_orders", parameters(DAY))  # what it reads (reports.marts.DEPENDS_ON)
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
    wh.model("marts/mart_survey_orders", parameters(DAY))  # what it reads (reports.marts.DEPENDS_ON)
    wh.model("marts/mart_product_comments", parameters(DAY))
    assert wh.rows("select channel from mart_product_comments") == [("app",)]


def test_complaints_per_order_count_an_order_judged_twice_once(wh):
    delivered(wh, "A", "2026-11-24", "2026-11-25")
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
    wh.model("marts/mart_survey_orders", parameters(DAY))  # what it reads (reports.marts.DEPENDS_ON)
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


@pytest.mark.parametrize("upgraded", [False, True], ids=["recorded-by-the-load", "warehouse-made-before-the-records"])
def test_an_order_a_reload_took_out_of_its_date_is_counted_once_from_real_files(small_landing, tmp_path, upgraded):
    """The whole path: an order of the 1st's file is moved to the 2nd's, the 1st is loaded again
    without matching it (`recon ingest`), and the 2nd is run. The 1st's evaluation of the order
    stays; the load records that its file no longer holds it (or, for a warehouse made before
    such records with that reload pending, its first opening by this version does), and the
    reports count it once, on the 2nd."""
    from etl.pipeline import ingest_only, run_dates
    from tests.conftest import paths_env

    first, second = date(2026, 11, 1), date(2026, 11, 2)
    shutil.copytree(small_landing, tmp_path / "landing")
    settings = load_settings(paths_env(tmp_path))
    run_dates(settings, [first, second])

    [first_file] = (tmp_path / "landing" / first.isoformat() / "orders").iterdir()
    [second_file] = (tmp_path / "landing" / second.isoformat() / "orders").iterdir()
    header, moved, *kept = first_file.read_text("utf-8").splitlines(keepends=True)
    first_file.write_text(header + "".join(kept), "utf-8")
    second_file.write_text(second_file.read_text("utf-8") + moved, "utf-8")
    moved_id = moved.split(",")[0]

    ingest_only(settings, first)
    if upgraded:
        with Warehouse(settings) as wh:
            wh.execute("drop table withdrawn_orders")
    run_dates(settings, [second])
    with Warehouse(settings) as wh:
        assert wh.rows("select order_id, landing_date from withdrawn_orders") == [(moved_id, first)]
        judged = dict(wh.rows("select business_date, order_date from order_eval where order_id = $o "
                              "order by business_date", {"o": moved_id}))
        assert judged == {first: first, second: second}  # the 1st's evaluation stays
        marts = Marts(wh, second)
        rows = wh.execute("select order_id, order_date from order_latest($first, $last)",
                          {"first": first, "last": second}).fetchall()
        assert len(rows) == len({o for o, _ in rows}), "an order counted twice"
        assert (moved_id, second) in rows
        daily = {r["day"]: r["orders"] for r in marts.rows("mart_product_daily")}
        assert daily[first] + daily[second] == len(rows)
        marts.close()

    run_dates(settings, [first])  # matched again: the 1st's evaluations are its current orders'
    with Warehouse(settings) as wh:
        assert wh.rows("select order_id from withdrawn_orders") == []
        assert wh.rows("select business_date from order_eval where order_id = $o", {"o": moved_id}) == [(second,)]


def test_daily_time_to_credit_percentiles_are_quantile_conts_exact_value(wh):
    """mart_product_daily reads its percentiles off a histogram of delays instead of sorting every
    delay of the window, in decimals: the exact value, which DuckDB's quantile_cont gives to
    within its doubles' last bit (delays of 0.01 minute interpolate to 0.0001). Days of one, two
    and thousands of credited orders, repeated delays, and orders not credited."""
    sizes = {"2026-11-20": 1, "2026-11-21": 2, "2026-11-22": 997, "2026-11-26": 4000}
    for day, size in sizes.items():
        # delays: short ones (to 3 min), long ones (to 100 h), and one value many orders share;
        # one order in twenty not credited
        wh.execute(
            "insert into order_eval (business_date, order_id, order_date, outcome, n_payments, net_paid, n_credits, "
            "pay_amount, delay_minutes, sla_minutes) "
            "select $d, $d || '-' || i, $d, 'x', 1, 49.80, (hash(i, 'c') % 20 <> 0)::int, 49.80, "
            "case hash(i, 'k') % 3 when 0 then (hash(i) % 301) / 100 when 1 then (hash(i) % 600001) / 100 "
            "else 12.5 end, 30 from range($n) as t(i)", {"d": day, "n": size})
    want = {d: (p50, p95, p99) for d, p50, p95, p99 in wh.rows(
        "select order_date, round(quantile_cont(delay_minutes::double, 0.50), 4), "
        "round(quantile_cont(delay_minutes::double, 0.95), 4), round(quantile_cont(delay_minutes::double, 0.99), 4) "
        "from order_eval where n_credits > 0 group by order_date")}
    marts = Marts(wh, DAY)
    got = {r["day"]: (r["p50_minutes"], r["p95_minutes"], r["p99_minutes"])
           for r in marts.rows("mart_product_daily") if r["credited_orders"]}
    assert got == want
    assert len(got) == 4
    marts.close()


def test_a_warehouse_made_before_withdrawals_were_recorded_records_them_once_when_opened(tmp_path):
    """Its loads did not record the orders a reload took out of a date's file: opened by this
    version, it records every order a date's own run judged that the date's rows no longer hold."""
    settings = load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb")})
    with Warehouse(settings) as wh:
        delivered(wh, "X", "2026-11-25")  # the 24th's file held it too, and was reloaded without it
        evaluate(wh, "X", "2026-11-24", "2026-11-24", 0)
        evaluate(wh, "X", "2026-11-25", "2026-11-25", 1)
        delivered(wh, "Y", "2026-11-24")
        evaluate(wh, "Y", "2026-11-24", "2026-11-24", 0)
        evaluate(wh, "Y", "2026-11-25", "2026-11-24", 1)  # re-checked: found without a record
        wh.execute("drop table withdrawn_orders")
    with Warehouse(settings) as wh:
        assert wh.rows("select order_id, landing_date from withdrawn_orders") == [("X", date(2026, 11, 24))]
        assert latest(wh) == {"X": (date(2026, 11, 25), 1), "Y": (date(2026, 11, 24), 1)}
    with Warehouse(settings) as wh:  # once: a later opening records nothing again
        assert wh.scalar("select count(*) from withdrawn_orders") == 1
