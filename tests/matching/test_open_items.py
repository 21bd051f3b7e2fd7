"""Open items across nights: carried, aged, resolved automatically or by ops, never edited."""
from datetime import date
from decimal import Decimal

import pytest

from etl.resolve import ResolveError, resolve_breaks


class TestManualResolution:
    """Breaks that need a person stay open until ops resolve them; the trail is append-only."""

    def test_resolution_closes_the_break_from_its_effective_date(self, ledger, settings):
        ledger.paid_and_credited("T1").credit("T1", at="2026-11-24 10:04:00")
        ledger.run("2026-11-24")
        ledger.wh.close()
        resolve_breaks(settings, [("T1", "reversed by hand in BOSS")], by="ops.li", effective_date=date(2026, 11, 26))
        from etl.warehouse import Warehouse

        ledger.wh = Warehouse(settings)
        assert ledger.statuses(on="2026-11-25") == {("DUPLICATE_CREDIT", "T1"): ("open", "2026-11-24")}
        assert ledger.statuses(on="2026-11-26") == {("DUPLICATE_CREDIT", "T1"): ("resolved", "2026-11-24")}
        assert ledger.row("DUPLICATE_CREDIT", on="2026-11-26")["resolved_by"] == "ops.li"
        assert ledger.breaks(on="2026-11-27") == set()

    def test_reopen_supersedes_and_keeps_both_rows(self, ledger, settings):
        ledger.payment("GHOST", amount="5.00", txn="X1")
        ledger.run("2026-11-24")
        ledger.wh.close()
        resolve_breaks(settings, [("ORPHAN_PAYMENT|alipay|X1", "our test payment")], by="fin.wang",
                       effective_date=date(2026, 11, 25))
        from etl.warehouse import Warehouse

        with Warehouse(settings) as wh:
            ledger.wh = wh
            ledger.run("2026-11-25")
        resolve_breaks(settings, [("ORPHAN_PAYMENT|alipay|X1", "not ours after all")], by="fin.wang",
                       effective_date=date(2026, 11, 26), action="reopen")
        with Warehouse(settings) as wh:
            ledger.wh = wh
            assert wh.scalar("select count(*) from resolutions") == 2
            ledger.run("2026-11-26")
            assert ledger.statuses(on="2026-11-26") == {}  # a reopened orphan is not re-found: no new row landed

    def test_unknown_key_is_refused(self, ledger, settings):
        ledger.paid_and_credited("T1")
        ledger.run("2026-11-24")
        ledger.wh.close()
        with pytest.raises(ResolveError, match="no open break"):
            resolve_breaks(settings, [("T1", "nothing to do")], by="ops.li")


    def test_a_file_is_recorded_whole_or_not_at_all(self, ledger, settings):
        ledger.paid_and_credited("T1").credit("T1", at="2026-11-24 10:04:00")  # DUPLICATE_CREDIT
        ledger.payment("GHOST", amount="5.00", txn="X1")                       # ORPHAN_PAYMENT
        ledger.run("2026-11-24")
        ledger.wh.close()
        items = [("ORPHAN_PAYMENT|alipay|X1", "our test payment"), ("T1", "reversed by hand")]
        with pytest.raises(ResolveError, match="'T9'"):
            resolve_breaks(settings, items + [("T9", "no such order")], by="ops.li")
        from etl.warehouse import Warehouse

        with Warehouse(settings) as wh:
            assert wh.scalar("select count(*) from resolutions") == 0
        done = resolve_breaks(settings, items, by="ops.li", effective_date=date(2026, 11, 25))
        assert [(r.break_key, r.reason) for r in done] == [("ORPHAN_PAYMENT|alipay|X1", "our test payment"),
                                                           ("DUPLICATE_CREDIT|T1", "reversed by hand")]
        with Warehouse(settings) as wh:
            assert wh.rows("select break_key, action, resolved_by, reason from resolutions order by break_key") == [
                ("DUPLICATE_CREDIT|T1", "resolve", "ops.li", "reversed by hand"),
                ("ORPHAN_PAYMENT|alipay|X1", "resolve", "ops.li", "our test payment")]
            assert len({r.resolution_id for r in done}) == 2

class TestRerun:
    """Running a date twice, or dates in another order, gives the same result."""

    def _snapshot(self, wh):
        return wh.rows("select * exclude (business_date), business_date from break_log order by all")

    def test_rerun_and_reverse_order_are_identical(self, ledger):
        ledger.order("T1", status="paid").payment("T1")
        ledger.credit("T1", at="2026-11-26 09:00:00")
        ledger.paid_and_credited("T2", at="2026-11-25 10:00:00").payment("T2", txn="dup", at="2026-11-25 10:01:00")
        ledger.run("2026-11-24", "2026-11-25", "2026-11-26")
        first = self._snapshot(ledger.wh)
        ledger.run("2026-11-25", "2026-11-24", "2026-11-25", "2026-11-26")
        assert self._snapshot(ledger.wh) == first


class TestReSentStatement:
    """The same statement rows delivered again in another file count once."""

    def test_duplicate_rows_count_once(self, ledger):
        ledger.paid_and_credited("T1")
        ledger.wh.execute("insert into raw_payments select * replace ('copy.csv' as source_file) from raw_payments")
        assert ledger.breaks() == set()
        totals = dict(ledger.wh.rows(
            "select outcome, rows from outcome_totals where source = 'alipay' and business_date = '2026-11-24'"))
        assert totals == {"MATCHED": 1, "DUPLICATE_ROW": 1}


class TestReExportedOrder:
    """A delta pull re-exports an order whose status changed: it keeps its own date, the new
    row updates it, and the copy is counted, not judged again."""

    def test_status_change_next_day_is_a_copy_not_a_new_order(self, ledger):
        ledger.order("T1", status="paid").payment("T1")
        ledger.credit("T1", at="2026-11-25 09:00:00")
        ledger.order("T1", status="credited", at="2026-11-24 10:00:00", landing="2026-11-25")
        assert ledger.statuses(on="2026-11-25") == {("LATE_CREDIT", "T1"): ("resolved", "2026-11-24")}
        assert ledger.wh.scalar("select order_date from order_eval where order_id = 'T1' "
                                "and business_date = '2026-11-25'").isoformat() == "2026-11-24"
        assert dict(ledger.wh.rows("select outcome, rows from outcome_totals where source = 'orders' "
                                   "and business_date = '2026-11-25'")) == {"DUPLICATE_ROW": 1}


class TestFiguresAsOfToday:
    """A break carried open across nights shows today's money, not the night it was found:
    ops must not chase a payment that has since been refunded."""

    def test_carried_amount_mismatch_shows_the_refund(self, ledger):
        ledger.order("T1", pay="49.80").payment("T1", amount="59.80").credit("T1")
        assert ledger.row("AMOUNT_MISMATCH")["paid_amount"] == Decimal("59.80")
        ledger.refund("T1", amount="10.00", at="2026-11-25 09:00:00")
        row = ledger.row("AMOUNT_MISMATCH", on="2026-11-25")
        assert (row["status"], row["first_seen"]) == ("open", date(2026, 11, 24))
        assert (row["paid_amount"], row["difference"]) == (Decimal("49.80"), Decimal("0.00"))

    def test_carried_duplicate_credit_shows_the_reversal(self, ledger):
        ledger.paid_and_credited("T1").credit("T1", at="2026-11-24 10:04:00", credit_id="C2")
        assert ledger.row("DUPLICATE_CREDIT")["credited_amount"] == Decimal("100.00")
        ledger.reversal("C2", "T1", at="2026-11-25 11:00:00")
        row = ledger.row("DUPLICATE_CREDIT", on="2026-11-25")
        assert row["status"] == "open"
        assert (row["credited_amount"], row["difference"]) == (Decimal("50.00"), Decimal("0.00"))

    def test_break_of_an_order_nothing_touched_keeps_its_figures(self, ledger):
        ledger.order("T1", pay="49.80").payment("T1", amount="59.80").credit("T1")
        ledger.paid_and_credited("T2", at="2026-11-25 10:00:00")
        first = ledger.row("AMOUNT_MISMATCH")
        again = ledger.row("AMOUNT_MISMATCH", on="2026-11-25")
        keep = ("paid_amount", "credited_amount", "difference", "paid_at", "credited_at", "delay_minutes")
        assert {k: again[k] for k in keep} == {k: first[k] for k in keep}

    def test_an_auto_resolved_missing_credit_keeps_what_was_owed(self, ledger):
        ledger.order("T1", status="paid").payment("T1")
        ledger.run("2026-11-24")
        ledger.refund("T1", at="2026-11-25 09:00:00")
        ledger.run("2026-11-25")
        row = ledger.row("MISSING_CREDIT", on="2026-11-25")
        assert row["status"] == "resolved" and row["difference"] == Decimal("49.80")
