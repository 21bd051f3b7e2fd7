"""Every row and every fen of a date lands in exactly one outcome, or the run fails."""
from decimal import Decimal

import pytest

from etl.match import ControlTotalsError
from etl.warehouse import Warehouse
from tests.matching.conftest import Ledger


class TestControlTotals:
    def test_balance_on_a_mixed_day(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.order("T2", status="paid").payment("T2")
        ledger.payment("GHOST", amount="5.00", txn="X")
        ledger.credit(None, amount="10.00", credit_id="P1")
        ledger.run("2026-11-24")
        rows = ledger.wh.rows("select source, rows_in, rows_classified, amount_in, amount_classified, balanced "
                              "from control_totals where business_date = '2026-11-24' order by source")
        assert rows == [
            ("alipay", 3, 3, Decimal("104.60"), Decimal("104.60"), True),
            ("billing", 2, 2, Decimal("60.00"), Decimal("60.00"), True),
            ("orders", 2, 2, Decimal("100.00"), Decimal("100.00"), True),
        ]

    def test_a_row_the_sql_cannot_classify_fails_the_run(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.payment("T1", kind="chargeback", txn="CB1", amount="49.80")
        with pytest.raises(ControlTotalsError, match=r"alipay: rows in 2, classified 1 .*difference 49.80"):
            ledger.run("2026-11-24")
        assert ledger.wh.scalar("select count(*) from break_log") == 0  # nothing published


def test_a_warehouse_from_before_the_slim_evaluation_is_migrated_and_matches(settings):
    """order_eval used to keep every order's phone, first payment and first credit; a
    warehouse made then loses those columns on opening (order_breaks looks them up now)."""
    import duckdb

    settings.paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.paths.warehouse))
    # order_eval as the first release made it (the break flags came later, by ALTER)
    con.execute("""create table order_eval (
        business_date date not null, order_id varchar not null, order_date date not null,
        outcome varchar not null, msisdn varchar, province varchar, channel varchar, product_type varchar,
        product_code varchar, pay_method varchar, status varchar, created_at timestamp,
        face_value decimal(18,2), pay_amount decimal(18,2), provider varchar, provider_txn_id varchar,
        n_payments integer, n_unrefunded integer, paid_total decimal(18,2), refunded_total decimal(18,2),
        net_paid decimal(18,2), n_credits integer, credited_total decimal(18,2),
        first_paid_at timestamp, first_credited_at timestamp, delay_minutes decimal(18,2), sla_minutes integer)""")
    con.execute("insert into order_eval (business_date, order_id, order_date, outcome, msisdn, provider, "
                "provider_txn_id) values ('2026-11-23', 'OLD', '2026-11-23', 'MATCHED', '13812341234', 'alipay', 'x')")
    con.close()
    with Warehouse(settings) as wh:
        columns = {c for (c,) in wh.rows("select column_name from duckdb_columns() where table_name = 'order_eval'")}
        assert not columns & {"msisdn", "provider", "provider_txn_id", "credit_id", "status", "paid_total"}
        assert "is_missing_credit" in columns
        ledger = Ledger(wh)
        ledger.order("T1", status="paid").payment("T1", txn="p1")
        assert ledger.row("MISSING_CREDIT")["provider_txn_id"] == "p1"
        assert wh.scalar("select outcome from order_eval where order_id = 'OLD'") == "MATCHED"
