"""The match finds the history of the orders in scope by the hashes stored with the raw rows
(etl.row_hashes). A hash only finds candidates: two ids sharing one must never mix two orders,
and rows written without their hashes must still be found."""
from __future__ import annotations

from decimal import Decimal


def _collide(wh, order_id: str, with_id: str) -> None:
    """Give ``order_id``'s raw rows the hashes of ``with_id``: as if the two ids hashed alike."""
    wh.execute("update raw_orders set key_hash = hash($w) where order_id = $o", {"o": order_id, "w": with_id})
    for table in ("raw_payments", "raw_billing"):
        wh.execute(f"update {table} set order_hash = hash($w) where order_id = $o", {"o": order_id, "w": with_id})


def test_an_order_whose_id_shares_a_hash_is_not_mixed_in(ledger):
    ledger.paid_and_credited("T1").paid_and_credited("T2", pay="29.90", face="30.00")
    ledger.run("2026-11-24")
    _collide(ledger.wh, "T2", "T1")
    ledger.refund("T1", at="2026-11-25 11:00:00")  # names T1 the next day: T1's history is read
    assert ledger.breaks(on="2026-11-25") == {("REFUNDED_BUT_CREDITED", "T1")}
    row = ledger.row("REFUNDED_BUT_CREDITED", on="2026-11-25")
    # refunded in full: nothing paid net (T2's payment, read as T1's, would leave 29.90)
    assert (row["order_id"], row["paid_amount"], row["credited_amount"]) == ("T1", Decimal("0.00"), Decimal("50.00"))
    assert ledger.wh.scalar("select count(*) from order_eval where business_date = '2026-11-25'") == 1


def test_rows_of_a_warehouse_older_than_the_hashes_are_found(ledger):
    ledger.order("T1", status="paid").payment("T1")
    assert ledger.outcome("T1", on="2026-11-24") == "MISSING_CREDIT"
    # as a warehouse made before the hashes were kept holds them: flagged, without hashes
    for table in ("raw_orders", "raw_payments", "raw_billing"):
        ledger.wh.execute(f"update {table} set key_hash = null")
    for table in ("raw_payments", "raw_billing"):
        ledger.wh.execute(f"update {table} set order_hash = null")
    ledger.credit("T1", at="2026-11-25 10:00:00")  # names T1 the next day: its payment of the 24th is found
    ledger.wh.execute("update raw_billing set repeats = false")
    assert ledger.outcome("T1", on="2026-11-25") == "LATE_CREDIT"
    assert ledger.wh.scalar("select count(*) from raw_payments where order_hash is null") == 0


def test_a_refund_without_an_order_id_in_the_history_counts_when_a_later_row_names_the_order(ledger):
    # UnionPay may not give a refund's order id: the history models keep it for the staging
    # view, which takes the order of the payment it refunds (found by a second reading)
    ledger.order("A").payment("A").credit("A", credit_id="C-A")
    ledger.refund(None, amount="49.80", at="2026-11-25 12:00:00", txn="alipay-A")
    ledger.reversal("C-A", "A", at="2026-11-26 12:00:00")  # names A: A is judged again on the 26th
    assert ledger.outcome("A", on="2026-11-25") == "REFUNDED_BUT_CREDITED"
    assert ledger.outcome("A", on="2026-11-26") == "REFUNDED_CLEAN"
