"""Property: whatever the three ledgers hold, every row of a date lands in exactly one outcome
and every fen is accounted for (the control totals balance), day after day."""
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from etl.config import load_settings
from etl.warehouse import Warehouse
from tests.matching.conftest import Ledger

DAYS = [date(2026, 11, 24) + timedelta(days=i) for i in range(3)]
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500.00"), places=2)

order_events = st.fixed_dictionaries({
    "day": st.integers(0, 2),
    "pay": money,
    "face": money,
    "status": st.sampled_from(["created", "paid", "credited", "failed", "refunded", "cancelled"]),
    "payments": st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.sampled_from(["success", "processing"])),
                         max_size=3),  # (day offset, refunded?, status)
    "credits": st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["success", "failed"]), st.booleans()),
                        max_size=2),  # (day offset, result, reversed later?)
    "known": st.booleans(),  # False: rows for an order id no orders file has
})


@given(st.lists(order_events, min_size=1, max_size=12))
@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_row_and_fen_lands_in_one_outcome(orders):
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"RECON_WAREHOUSE": str(Path(tmp) / "wh.duckdb")})
        with Warehouse(settings) as wh:
            ledger = Ledger(wh)
            for n, o in enumerate(orders):
                oid = f"T{n}"
                base = datetime(2026, 11, 24, 10, 0) + timedelta(days=o["day"], minutes=n)
                if o["known"]:
                    ledger.order(oid, pay=o["pay"], face=o["face"], status=o["status"], at=str(base))
                else:
                    ledger.orders[oid] = {"pay": o["pay"], "face": o["face"]}
                for k, (offset, refunded, status) in enumerate(o["payments"]):
                    at = base + timedelta(days=offset, seconds=5 + k)
                    ledger.payment(oid, at=str(at), txn=f"{oid}-{k}", status=status)
                    if refunded:
                        ledger.refund(oid, txn=f"{oid}-{k}", at=str(at + timedelta(hours=1)))
                for k, (offset, result, reversed_later) in enumerate(o["credits"]):
                    at = base + timedelta(days=offset, minutes=3 + k)
                    ledger.credit(oid, at=str(at), credit_id=f"{oid}-C{k}", result=result)
                    if reversed_later and result == "success":
                        ledger.reversal(f"{oid}-C{k}", oid, at=str(at + timedelta(hours=5)),
                                        amount=-o["face"])
            ledger.run(*[d for d in DAYS if d <= max(DAYS)])  # raises if a day does not balance
            for day in DAYS:
                totals = wh.rows("select source, rows_in, rows_classified, amount_in, amount_classified "
                                 "from control_totals where business_date = $d", {"d": day})
                for source, rows_in, rows_classified, amount_in, amount_classified in totals:
                    assert rows_in == rows_classified and amount_in == amount_classified, source
                by_outcome = wh.rows("select source, sum(rows), sum(amount) from outcome_totals "
                                     "where business_date = $d group by source", {"d": day})
                assert {s: (r, a) for s, r, a in by_outcome} == {s: (ri, ai) for s, ri, _, ai, _ in totals}
            judged = wh.rows("select order_id, count(*) from order_eval where business_date = order_date "
                             "group by order_id having count(*) <> 1")
            assert judged == []
