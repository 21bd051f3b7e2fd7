"""Rows that no order explains, and fees that differ from the contract."""
from decimal import Decimal


class TestOrphanPayment:
    """Money received for an order id that no orders file knows (长款)."""

    def test_payment_for_unknown_order(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.payment("GHOST", amount="30.00", txn="2026112422001", provider="wechatpay")
        assert ledger.breaks() == {("ORPHAN_PAYMENT", "wechatpay", "2026112422001")}
        assert ledger.row("ORPHAN_PAYMENT")["difference"] == Decimal("30.00")

    def test_payment_landed_before_its_orders_file_counts_when_the_order_arrives(self, ledger):
        # paid a second before midnight: the statement of the 24th has it, the orders file of
        # the 25th has the order; the next night's match reads that earlier row back
        ledger.order("T1", at="2026-11-24 23:59:58", landing="2026-11-25")
        ledger.payment("T1", at="2026-11-24 23:59:59", txn="2026112423595901")
        ledger.credit("T1", at="2026-11-25 00:01:00")  # billing of the 24th
        assert ledger.breaks(on="2026-11-24") == {("ORPHAN_PAYMENT", "alipay", "2026112423595901")}
        assert ledger.outcome("T1", on="2026-11-25") == "MATCHED"
        # the order raises nothing (the orphan row stays open for ops, as every orphan does)
        assert {b for b in ledger.breaks(on="2026-11-25") if b[1] == "T1"} == set()

    def test_late_refund_of_a_known_order_is_no_orphan(self, ledger):
        ledger.order("T1", status="paid").payment("T1").credit("T1", result="failed")
        ledger.refund("T1", at="2026-11-26 10:00:00")
        assert ledger.breaks(on="2026-11-26") == {("MISSING_CREDIT", "T1")}
        assert ledger.statuses(on="2026-11-26")[("MISSING_CREDIT", "T1")][0] == "resolved"


class TestOrphanCredit:
    """A credit no order explains; one without order id may be suggested for a missing credit."""

    def test_credit_without_order_id(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.credit(None, amount="10.00", credit_id="PROMO1", at="2026-11-24 12:00:00")
        assert ledger.breaks() == {("ORPHAN_CREDIT", "PROMO1")}

    def test_credit_for_unknown_order(self, ledger):
        ledger.credit("NOPE", amount="10.00", credit_id="C9", at="2026-11-24 12:00:00")
        assert ledger.breaks() == {("ORPHAN_CREDIT", "C9")}

    def test_credit_after_midnight_for_an_order_paid_after_midnight_is_no_orphan(self, ledger):
        ledger.order("T1", at="2026-11-24 23:59:50", landing="2026-11-25")
        ledger.payment("T1", at="2026-11-25 00:00:05")
        ledger.credit("T1", at="2026-11-25 00:00:20")  # in billing of the 24th
        assert ledger.breaks(on="2026-11-24") == set()
        assert ledger.breaks(on="2026-11-25") == set()
        assert ledger.outcome("T1", on="2026-11-25") == "MATCHED"

    def test_credit_after_midnight_for_an_earlier_order_is_no_orphan_the_next_night(self, ledger):
        # credited after midnight, in billing of the 23rd: judged with its order on the 23rd;
        # on the 24th nothing today names the order, and the credit must not turn orphan
        ledger.paid_and_credited("T1", at="2026-11-23 23:58:00")
        assert ledger.outcome("T1", on="2026-11-23") == "MATCHED"
        assert ledger.breaks(on="2026-11-24") == set()

    def test_credit_after_midnight_for_an_order_no_file_knows_is_an_orphan_the_next_night(self, ledger):
        # billing of the 24th holds a credit posted after midnight: its order may be in the
        # orders file of the 25th, so it waits a night; that file does not have it
        ledger.paid_and_credited("T1")
        ledger.paid_and_credited("T2", at="2026-11-25 09:00:00")
        ledger.credit("NOPE", amount="10.00", credit_id="C9", at="2026-11-25 00:30:00")
        assert ledger.breaks(on="2026-11-24") == set()
        pending = ledger.wh.rows("select rows, amount from outcome_totals where business_date = '2026-11-24' "
                                 "and outcome = 'PENDING_NEXT_DAY'")
        assert pending == [(1, Decimal("10.00"))]
        assert ledger.breaks(on="2026-11-25") == {("ORPHAN_CREDIT", "C9")}
        assert ledger.row("ORPHAN_CREDIT", on="2026-11-25")["credited_amount"] == Decimal("10.00")

    def test_orphans_of_one_night_each_break_once(self, ledger):
        # two orphans of each kind, and a copy of one of them re-delivered in another file
        ledger.paid_and_credited("T1")
        ledger.payment("GHOST1", amount="30.00", txn="W1", provider="wechatpay")
        ledger.payment("GHOST2", amount="20.00", txn="W2", provider="wechatpay")
        ledger.credit("NOPE1", amount="10.00", credit_id="C8", at="2026-11-24 12:00:00")
        ledger.credit(None, amount="5.00", credit_id="C9", at="2026-11-24 12:00:00")
        ledger.credit(None, amount="5.00", credit_id="C9", at="2026-11-24 12:00:00")  # the copy
        assert ledger.breaks() == {("ORPHAN_PAYMENT", "wechatpay", "W1"), ("ORPHAN_PAYMENT", "wechatpay", "W2"),
                                   ("ORPHAN_CREDIT", "C8"), ("ORPHAN_CREDIT", "C9")}
        totals = dict(ledger.wh.rows("select outcome, rows from outcome_totals where business_date = '2026-11-24' "
                                     "and source = 'billing'"))
        assert totals["ORPHAN_CREDIT"] == 2 and totals["DUPLICATE_ROW"] == 1

    def test_suggested_for_a_missing_credit_never_applied(self, ledger):
        ledger.order("T1", status="paid", msisdn="13912345678").payment("T1", at="2026-11-24 10:00:00")
        ledger.credit(None, amount="50.00", credit_id="M1", msisdn="13912345678", at="2026-11-24 10:40:00")
        assert ledger.breaks() == {("MISSING_CREDIT", "T1"), ("ORPHAN_CREDIT", "M1")}
        rows = ledger.wh.rows("select credit_id, order_id, confidence from fallback_suggestions")
        assert rows == [("M1", "T1", Decimal("1.0000"))]


class TestOrphansByRawRow:
    """Orphans are found once, by their raw row, in the pass that gives each row its outcome."""

    def test_an_orphan_is_not_confused_with_the_other_ledgers_row_of_the_same_number(self, ledger):
        # raw_payments: row 0 the orphan, row 1 T1's payment; raw_billing: row 0 T1's credit
        # (matched), row 1 the orphan credit. Each orphan's row number is that of a matched row
        # of the other ledger.
        ledger.order("T1")
        ledger.payment("GHOST", amount="30.00", txn="W1", provider="wechatpay")
        ledger.payment("T1", txn="A1")
        ledger.credit("T1", credit_id="K1")
        ledger.credit("NOPE", amount="10.00", credit_id="C9", at="2026-11-24 12:00:00")
        assert ledger.wh.rows("select rowid, provider_txn_id from raw_payments order by rowid") == [(0, "W1"), (1, "A1")]
        assert ledger.wh.rows("select rowid, credit_id from raw_billing order by rowid") == [(0, "K1"), (1, "C9")]
        assert ledger.breaks() == {("ORPHAN_PAYMENT", "wechatpay", "W1"), ("ORPHAN_CREDIT", "C9")}
        assert ledger.outcome("T1") == "MATCHED"

    def test_rows_of_unknown_orders_that_are_not_successful_payments_or_credits_are_no_orphans(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.payment("GHOST", amount="30.00", txn="W1", provider="wechatpay")             # the one orphan payment
        ledger.payment("GHOST", amount="30.00", txn="W1", provider="wechatpay",
                       landing="2026-11-24")                                                 # its copy
        ledger.payment("G2", amount="30.00", txn="W2", status="processing")
        ledger.payment("G3", amount="30.00", txn="W3", status="failed")
        ledger.payment("G4", amount="30.00", txn="W4", kind="void")
        ledger.payment("G5", amount="30.00", txn="W5", kind="unknown")
        ledger.refund("G6", amount="30.00", txn="W6")                                       # ORPHAN_REFUND: no break
        ledger.credit("NOPE", amount="10.00", credit_id="C1", at="2026-11-24 12:00:00")     # the one orphan credit
        ledger.credit("NOPE", amount="10.00", credit_id="C1", at="2026-11-24 12:00:00")     # its copy
        ledger.credit("NOPE2", amount="10.00", credit_id="C2", result="failed")
        ledger.credit("NOPE3", amount="-10.00", credit_id="C3", result="reversed")
        ledger.credit(None, amount="-10.00", credit_id="C4", result="reversed")
        ledger.credit("NOPE5", amount="10.00", credit_id="C5", at="2026-11-25 00:30:00")    # waits a night
        assert ledger.breaks() == {("ORPHAN_PAYMENT", "wechatpay", "W1"), ("ORPHAN_CREDIT", "C1")}
        totals = dict(((s, o), r) for s, o, r in ledger.wh.rows(
            "select source, outcome, rows from outcome_totals where business_date = '2026-11-24'"))
        assert totals[("wechatpay", "ORPHAN_PAYMENT")] == 1 and totals[("wechatpay", "DUPLICATE_ROW")] == 1
        assert totals[("billing", "ORPHAN_CREDIT")] == 1 and totals[("billing", "PENDING_NEXT_DAY")] == 1
        assert ledger.breaks(on="2026-11-25") >= {("ORPHAN_CREDIT", "C5")}

    def test_a_payment_without_a_status_is_no_orphan(self, ledger):
        # docs/MATCHING.md: ORPHAN_PAYMENT is a *successful* payment; is_success is null here.
        # Parsers refuse a null status (cast to etl.schema.PAYMENTS), raw_payments does not.
        ledger.paid_and_credited("T1")
        ledger.payment("GHOST", amount="30.00", txn="W1", status=None)
        assert ledger.breaks() == set()


class TestFeeMismatch:
    """A statement fee that differs from amount × contracted rate, rounded half-up."""

    def test_fee_off_by_a_fen(self, ledger):
        ledger.order("T1").payment("T1", fee="0.31", txn="A1").credit("T1")  # 49.80 × 0.6% = 0.2988 → 0.30
        assert ledger.breaks() == {("FEE_MISMATCH", "alipay", "A1")}
        assert ledger.row("FEE_MISMATCH")["difference"] == Decimal("0.01")

    def test_half_fen_rounds_up(self, ledger):
        ledger.order("T1", pay="12.50").payment("T1", fee="0.08", txn="A1").credit("T1")  # 0.075 → 0.08
        assert ledger.breaks() == set()

    def test_refund_returning_too_little_fee(self, ledger):
        ledger.order("T1", status="refunded").payment("T1", txn="A1").credit("T1", result="failed")
        ledger.refund("T1", txn="A1")
        ledger.wh.execute("update raw_payments set fee = -0.29 where kind = 'refund'")
        assert ledger.breaks() == {("FEE_MISMATCH", "alipay", "A1")}
        assert ledger.row("FEE_MISMATCH")["difference"] == Decimal("0.01")

    def test_fee_of_a_late_refund_shows_its_earlier_orders_phone_and_amount(self, ledger):
        ledger.order("T1", status="refunded", msisdn="13912345678").payment("T1", txn="A1")
        ledger.credit("T1", result="failed").refund("T1", txn="A1", at="2026-11-27 09:00:00")
        ledger.wh.execute("update raw_payments set fee = -0.29 where kind = 'refund'")
        row = ledger.row("FEE_MISMATCH", on="2026-11-27")
        assert (row["order_id"], row["msisdn"], row["order_amount"]) == ("T1", "13912345678", Decimal("49.80"))

    def test_fee_of_a_payment_no_order_explains_has_no_phone(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.payment("GHOST", amount="30.00", txn="G1", fee="0.50")
        row = ledger.row("FEE_MISMATCH")
        assert (row["order_id"], row["msisdn"], row["order_amount"]) == ("GHOST", None, None)
