"""Each break of shared/spec/breaks.md on a few hand-written rows (docs/MATCHING.md)."""
from datetime import datetime
from decimal import Decimal

import pytest


class TestMatched:
    """One payment of the pay amount, one credit of the face value, within SLA: no break."""

    def test_clean_order_is_matched(self, ledger):
        ledger.paid_and_credited("T1")
        assert ledger.breaks() == set()
        assert ledger.outcome("T1") == "MATCHED"

    def test_paid_at_235959_credited_at_000030_is_no_break(self, ledger):
        ledger.order("T1", at="2026-11-24 23:59:40")
        ledger.payment("T1", at="2026-11-24 23:59:59")
        ledger.credit("T1", at="2026-11-25 00:00:30")  # billing of the 24th runs to 02:00 on the 25th
        assert ledger.breaks() == set()
        assert ledger.outcome("T1") == "MATCHED"


class TestUnpaidAndRefundedClean:
    """Abandoned orders and paid-then-refunded-never-credited orders are clean."""

    @pytest.mark.parametrize("status", ["created", "failed", "cancelled"])
    def test_never_paid_is_unpaid(self, ledger, status):
        ledger.order("T1", status=status)
        assert ledger.breaks() == set()
        assert ledger.outcome("T1") == "UNPAID"

    def test_paid_credit_failed_refunded_is_clean(self, ledger):
        ledger.order("T1", status="refunded").payment("T1")
        ledger.credit("T1", result="failed").refund("T1")
        assert ledger.breaks() == set()
        assert ledger.outcome("T1") == "REFUNDED_CLEAN"


class TestLateCredit:
    """Credited after the SLA: reported once, resolved (the credit came), with its delay."""

    def test_credit_after_sla_is_late_and_resolved(self, ledger):
        ledger.order("T1").payment("T1", at="2026-11-24 10:00:00").credit("T1", at="2026-11-24 10:25:00")
        assert ledger.breaks() == {("LATE_CREDIT", "T1")}
        row = ledger.row("LATE_CREDIT")
        assert row["status"] == "resolved" and row["delay_minutes"] == Decimal("25.00")

    def test_credit_exactly_at_sla_is_on_time(self, ledger):
        ledger.order("T1").payment("T1", at="2026-11-24 10:00:00").credit("T1", at="2026-11-24 10:10:00")
        assert ledger.breaks() == set()

    def test_late_credit_is_not_repeated_next_day(self, ledger):
        ledger.order("T1").payment("T1", at="2026-11-24 10:00:00").credit("T1", at="2026-11-24 11:00:00")
        ledger.paid_and_credited("T2", at="2026-11-25 09:00:00")
        assert ledger.breaks(on="2026-11-25") == set()


class TestMissingCredit:
    """Paid, not refunded, and no credit by the cutoff: ops must credit or refund."""

    def test_paid_never_credited_is_missing(self, ledger):
        ledger.order("T1", status="paid").payment("T1")
        assert ledger.breaks() == {("MISSING_CREDIT", "T1")}
        assert ledger.row("MISSING_CREDIT")["difference"] == Decimal("49.80")

    def test_stays_open_and_ages(self, ledger):
        ledger.order("T1", status="paid").payment("T1")
        assert ledger.statuses(on="2026-11-27")[("MISSING_CREDIT", "T1")] == ("open", "2026-11-24")
        assert ledger.row("MISSING_CREDIT", on="2026-11-27")["first_seen"].isoformat() == "2026-11-24"

    def test_credit_arriving_days_later_becomes_a_resolved_late_credit(self, ledger):
        ledger.order("T1", status="paid").payment("T1", at="2026-11-24 10:00:00")
        ledger.credit("T1", at="2026-11-26 09:00:00")
        assert ledger.breaks(on="2026-11-25") == {("MISSING_CREDIT", "T1")}
        assert ledger.statuses(on="2026-11-26") == {("LATE_CREDIT", "T1"): ("resolved", "2026-11-24")}
        assert ledger.row("LATE_CREDIT", on="2026-11-26")["delay_minutes"] == Decimal(47 * 60)
        assert ledger.breaks(on="2026-11-27") == set()

    def test_refund_days_later_resolves_it(self, ledger):
        ledger.order("T1", status="paid").payment("T1").refund("T1", at="2026-11-27 15:00:00")
        assert ledger.statuses(on="2026-11-27") == {("MISSING_CREDIT", "T1"): ("resolved", "2026-11-24")}
        assert ledger.breaks(on="2026-11-28") == set()

    def test_reversed_credit_days_later_raises_it_on_that_day(self, ledger):
        ledger.paid_and_credited("T1")
        credit_id = ledger.wh.scalar("select credit_id from raw_billing where order_id = 'T1'")
        ledger.reversal(credit_id, "T1", at="2026-11-26 12:00:00")
        assert ledger.breaks(on="2026-11-25") == set()
        assert ledger.statuses(on="2026-11-26") == {("MISSING_CREDIT", "T1"): ("open", "2026-11-26")}


class TestCreditWithoutPayment:
    """Billing credited an order that was never paid: a loss (短款)."""

    def test_credit_without_any_payment(self, ledger):
        ledger.order("T1", status="created").credit("T1")
        assert ledger.breaks() == {("CREDIT_WITHOUT_PAYMENT", "T1")}
        assert ledger.row("CREDIT_WITHOUT_PAYMENT")["difference"] == Decimal("-50.00")


class TestRefundedButCredited:
    """Refunded in full while the credit stands: a loss."""

    def test_full_refund_with_standing_credit(self, ledger):
        ledger.paid_and_credited("T1", status="refunded").refund("T1")
        assert ledger.breaks() == {("REFUNDED_BUT_CREDITED", "T1")}

    def test_refund_of_a_10_day_old_order_is_raised_on_the_refund_date(self, ledger):
        ledger.paid_and_credited("T1").refund("T1", at="2026-12-04 11:00:00")
        assert ledger.breaks(on="2026-12-03") == set()
        assert ledger.statuses(on="2026-12-04") == {("REFUNDED_BUT_CREDITED", "T1"): ("open", "2026-12-04")}

    def test_refund_with_reversal_is_clean(self, ledger):
        ledger.paid_and_credited("T1").refund("T1", at="2026-12-04 11:00:00")
        credit_id = ledger.wh.scalar("select credit_id from raw_billing where order_id = 'T1'")
        ledger.reversal(credit_id, "T1", at="2026-12-04 11:05:00")
        assert ledger.breaks(on="2026-12-04") == set()
        assert ledger.outcome("T1", on="2026-12-04") == "REFUNDED_CLEAN"


class TestDuplicatePayment:
    """Paid twice and not refunded: ops must refund the extra."""

    def test_two_payments(self, ledger):
        ledger.paid_and_credited("T1").payment("T1", txn="second", at="2026-11-24 10:00:09")
        assert ledger.breaks() == {("DUPLICATE_PAYMENT", "T1")}
        assert ledger.row("DUPLICATE_PAYMENT")["difference"] == Decimal("49.80")

    def test_two_payments_one_refunded_is_clean(self, ledger):
        ledger.paid_and_credited("T1").payment("T1", txn="second", at="2026-11-24 10:00:09")
        ledger.refund("T1", txn="second", at="2026-11-24 10:30:00")
        assert ledger.breaks() == set()
        assert ledger.outcome("T1") == "MATCHED"

    def test_extra_refunded_later_resolves_it(self, ledger):
        ledger.paid_and_credited("T1").payment("T1", txn="second", at="2026-11-24 10:00:09")
        ledger.refund("T1", txn="second", at="2026-11-26 10:30:00")
        assert ledger.statuses(on="2026-11-25") == {("DUPLICATE_PAYMENT", "T1"): ("open", "2026-11-24")}
        assert ledger.statuses(on="2026-11-26") == {("DUPLICATE_PAYMENT", "T1"): ("resolved", "2026-11-24")}
        assert ledger.breaks(on="2026-11-27") == set()


class TestDuplicateCredit:
    """Credited twice, none reversed."""

    def test_two_credits(self, ledger):
        ledger.paid_and_credited("T1").credit("T1", at="2026-11-24 10:04:00")
        assert ledger.breaks() == {("DUPLICATE_CREDIT", "T1")}
        assert ledger.row("DUPLICATE_CREDIT")["difference"] == Decimal("-50.00")

    def test_second_credit_reversed_is_clean(self, ledger):
        ledger.paid_and_credited("T1").credit("T1", at="2026-11-24 10:04:00", credit_id="C-dup")
        ledger.reversal("C-dup", "T1", at="2026-11-24 10:20:00")
        assert ledger.breaks() == set()


class TestAmountMismatch:
    """Paid or credited a different amount than the order says."""

    def test_payment_differs_from_pay_amount(self, ledger):
        ledger.order("T1").payment("T1", amount="48.80").credit("T1")
        assert ledger.breaks() == {("AMOUNT_MISMATCH", "T1")}
        assert ledger.row("AMOUNT_MISMATCH")["difference"] == Decimal("-1.00")

    def test_credit_differs_from_face_value(self, ledger):
        ledger.order("T1").payment("T1").credit("T1", amount="30.00")
        assert ledger.breaks() == {("AMOUNT_MISMATCH", "T1")}
        assert ledger.row("AMOUNT_MISMATCH")["difference"] == Decimal("20.00")

    def test_partial_refund_of_a_credited_order(self, ledger):
        ledger.paid_and_credited("T1").refund("T1", amount="20.00", at="2026-11-24 18:00:00")
        assert ledger.breaks() == {("AMOUNT_MISMATCH", "T1")}
        assert ledger.row("AMOUNT_MISMATCH")["paid_amount"] == Decimal("29.80")


class TestAmountTolerance:
    """With matching.amount_tolerance set, a payment within it of the pay amount is no mismatch;
    with several payments, only those outside it add to the difference."""

    @pytest.fixture
    def tolerant(self, tmp_path):
        from etl.config import load_settings
        from etl.warehouse import Warehouse
        from tests.matching.conftest import Ledger

        settings = load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb"),
                                  "RECON_MATCHING__AMOUNT_TOLERANCE": "0.05"})
        with Warehouse(settings) as wh:
            yield Ledger(wh)

    def test_one_payment_within_the_tolerance_is_matched(self, tolerant):
        tolerant.order("T1", pay="49.80").payment("T1", amount="49.84").credit("T1")
        assert tolerant.breaks() == set()
        assert tolerant.outcome("T1") == "MATCHED"

    def test_two_payments_only_the_one_outside_counts(self, tolerant):
        tolerant.order("T1", pay="49.80").payment("T1", amount="49.83", txn="a")
        tolerant.payment("T1", amount="49.70", txn="b", at="2026-11-24 10:00:09").credit("T1")
        assert tolerant.breaks() == {("AMOUNT_MISMATCH", "T1"), ("DUPLICATE_PAYMENT", "T1")}
        assert tolerant.row("AMOUNT_MISMATCH")["difference"] == Decimal("-0.10")


class TestStatusMismatch:
    """The order ledger's own status contradicts the statements and billing."""

    @pytest.mark.parametrize("status", ["failed", "paid", "created"])
    def test_paid_and_credited_but_status_says_otherwise(self, ledger, status):
        ledger.paid_and_credited("T1", status=status)
        assert ledger.breaks() == {("STATUS_MISMATCH", "T1")}

    def test_status_is_judged_in_the_orders_own_run_only(self, ledger):
        ledger.order("T1", status="paid").payment("T1").credit("T1", at="2026-11-25 12:00:00")
        assert ("STATUS_MISMATCH", "T1") not in ledger.breaks(on="2026-11-25")


class TestSeveralProblems:
    """One break row per problem; the order's outcome is the most severe."""

    def test_duplicate_payment_and_late_credit(self, ledger):
        ledger.order("T1").payment("T1", at="2026-11-24 10:00:00")
        ledger.payment("T1", txn="second", at="2026-11-24 10:00:30").credit("T1", at="2026-11-24 11:00:00")
        assert ledger.breaks() == {("DUPLICATE_PAYMENT", "T1"), ("LATE_CREDIT", "T1")}
        assert ledger.outcome("T1") == "DUPLICATE_PAYMENT"


class TestBreakRowIds:
    """A break row names the order's first payment, its first standing credit and its phone:
    looked up for the breaking orders only, after the evaluation (which holds numbers only)."""

    def test_duplicate_payment_names_the_earliest_payment_not_the_first_loaded(self, ledger):
        ledger.order("T1", msisdn="13900001111")
        ledger.payment("T1", txn="later", provider="alipay", at="2026-11-24 10:00:09")
        ledger.payment("T1", txn="earlier", provider="wechatpay", at="2026-11-24 10:00:05")
        ledger.credit("T1", credit_id="C-only", at="2026-11-24 10:03:00")
        row = ledger.row("DUPLICATE_PAYMENT")
        assert (row["provider"], row["provider_txn_id"]) == ("wechatpay", "earlier")
        assert row["credit_id"] == "C-only"
        assert row["msisdn"] == "13900001111"

    def test_duplicate_credit_skips_a_reversed_first_credit(self, ledger):
        ledger.order("T1").payment("T1", txn="pay-1")
        ledger.credit("T1", credit_id="C-a", at="2026-11-24 10:02:00")
        ledger.reversal("C-a", "T1", at="2026-11-24 10:10:00")
        ledger.credit("T1", credit_id="C-c", at="2026-11-24 10:04:00")
        ledger.credit("T1", credit_id="C-b", at="2026-11-24 10:03:00")
        row = ledger.row("DUPLICATE_CREDIT")
        assert row["credit_id"] == "C-b"  # the first credit that stands
        assert row["provider_txn_id"] == "pay-1"

    def test_a_credit_without_order_id_takes_the_order_of_the_credit_it_names(self, ledger):
        # C1 is reversed by a reversal without an order id; C2, also without one, names C1:
        # both take C1's order (stg_credits), and C2 is that order's one standing credit
        ledger.order("T2", status="credited").payment("T2", txn="p2")
        ledger.credit("T2", credit_id="C1", at="2026-11-24 10:03:00")
        ledger.reversal("C1", None, at="2026-11-24 10:30:00")
        ledger.credit(None, amount="50.00", credit_id="C2", reverses="C1", at="2026-11-24 11:05:00")
        row = ledger.row("LATE_CREDIT")
        assert (row["order_id"], row["credit_id"], row["credited_amount"]) == ("T2", "C2", Decimal("50.00"))

    def test_a_re_delivered_payment_row_is_not_looked_up_twice(self, ledger):
        # the same statement row in yesterday's and today's files is one payment: no duplicate
        ledger.order("T1", at="2026-11-24 23:59:00", status="paid")
        ledger.payment("T1", txn="p", at="2026-11-24 23:59:30")
        ledger.payment("T1", txn="p", at="2026-11-24 23:59:30", landing="2026-11-25")
        assert ledger.breaks(on="2026-11-25") == {("MISSING_CREDIT", "T1")}
        row = ledger.row("MISSING_CREDIT", on="2026-11-25")
        assert (row["provider_txn_id"], row["credit_id"], row["paid_amount"]) == ("p", None, Decimal("49.80"))


class TestIdsOfABreakRowFromEarlierRows:
    """A break row names the order's first payment, first standing credit and phone, which may
    have landed on earlier nights (read from the history the night finds once: int_scope_earlier,
    int_history_payments, int_history_credits); rows of a later date never count."""

    def test_the_break_row_of_a_late_refund_names_what_landed_days_before(self, ledger):
        # the order, its payment and its credit landed ten days before the refund: the row's ids
        # come from the history the night reads for the earlier orders in scope
        ledger.paid_and_credited("T1", msisdn="13912345678").refund("T1", at="2026-12-04 11:00:00")
        ledger.paid_and_credited("T2", at="2026-12-04 09:00:00", msisdn="13700001111")  # today's own order
        txn, credit_id = ledger.wh.execute(
            "select p.provider_txn_id, b.credit_id from raw_payments as p join raw_billing as b using (order_id) "
            "where order_id = 'T1' and p.kind = 'payment'").fetchone()
        row = ledger.row("REFUNDED_BUT_CREDITED", on="2026-12-04")
        assert (row["order_id"], row["provider"], row["provider_txn_id"], row["credit_id"], row["msisdn"]) == (
            "T1", "alipay", txn, credit_id, "13912345678")
        assert row["paid_at"] == datetime(2026, 11, 24, 10, 0, 5)

    def test_late_refund_of_a_redelivered_order_with_a_recredit_and_a_later_dates_row(self, ledger):
        ledger.order("T1", at="2026-11-24 10:00:00", msisdn="13900000001")
        ledger.payment("T1", at="2026-11-24 10:00:05")                      # txn alipay-T1, lands 11-24
        ledger.credit("T1", at="2026-11-24 10:03:00", credit_id="C1")
        ledger.reversal("C1", None, at="2026-11-25 10:00:00")               # no order id: takes C1's
        ledger.credit(None, amount="50.00", at="2026-11-25 11:00:00", credit_id="RC1", reverses="C1")
        ledger.order("T1", at="2026-11-26 08:00:00", landing="2026-11-26", msisdn="13900000002")  # re-export
        ledger.refund(None, amount="49.80", txn="alipay-T1", at="2026-11-27 09:00:00")  # order id from its payment
        # rows of a later date already loaded (the runs below are a backfill): never seen on the 27th
        ledger.payment("T1", amount="49.80", txn="alipay-LATE", at="2026-11-24 09:00:00", landing="2026-11-29")
        ledger.credit("T1", at="2026-11-24 09:30:00", credit_id="C0", landing="2026-11-29")
        ledger.paid_and_credited("T2", at="2026-11-27 09:00:00")            # today's own order
        row = ledger.row("REFUNDED_BUT_CREDITED", on="2026-11-27")
        assert (row["order_id"], row["provider"], row["provider_txn_id"], row["credit_id"], row["msisdn"]) == (
            "T1", "alipay", "alipay-T1", "RC1", "13900000002")

    def test_payment_landed_before_its_order_file_names_the_break_row(self, ledger):
        # a payment a second before midnight lands the day before its order (order_date = the 25th)
        ledger.payment("T1", amount="49.80", txn="alipay-EARLY", at="2026-11-24 23:59:59")
        ledger.order("T1", at="2026-11-24 23:59:50", landing="2026-11-25", msisdn="13900000003")
        ledger.payment("T1", amount="49.80", txn="alipay-SECOND", at="2026-11-25 08:00:00")
        ledger.credit("T1", at="2026-11-25 08:01:00", credit_id="C1")
        row = ledger.row("DUPLICATE_PAYMENT", on="2026-11-25")
        assert (row["provider_txn_id"], row["credit_id"], row["msisdn"]) == ("alipay-EARLY", "C1", "13900000003")
