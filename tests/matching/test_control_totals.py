"""Every row and every fen of a date lands in exactly one outcome, or the run fails."""
from decimal import Decimal

import pytest

from etl.match import ControlTotalsError


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
