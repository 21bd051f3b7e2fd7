"""Fix requests: maker-checker, the money rules at proposing and again at sending, the kill
switch and the hourly limits, concurrency, and the audit log, on a small hand-built night."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from console.store.models import AuditEntry
from etl.config import load_settings
from etl.fixes import requests
from etl.fixes.kinds import fix_key
from etl.fixes.requests import FixError
from etl.fixes.store import open_store
from etl.fixes.store.models import FixRequest
from etl.match import match_date
from etl.warehouse import Warehouse
from tests.fixes.conftest import actor, fix_settings, make_users
from tests.matching.conftest import Ledger

D0 = date(2026, 11, 24)
KEY = "DUPLICATE_PAYMENT|T1"


@pytest.fixture
def night(tmp_path, sandbox, store_env):
    """T1 paid twice through Alipay (A1, A2 at 49.80), credited once; T2 paid, never credited
    (WeChat Pay); T3 credited twice. The run of D0 found their breaks. The store on SQLite and
    on PostgreSQL."""
    settings = fix_settings(tmp_path, sandbox, **store_env)
    with Warehouse(settings) as wh:
        ledger = Ledger(wh)
        ledger.order("T1").payment("T1", txn="A1").payment("T1", txn="A2", at="2026-11-24 10:01:00").credit("T1")
        ledger.order("T2", pay_method="wechatpay").payment("T2", txn="W1", provider="wechatpay")
        ledger.order("T3").payment("T3", txn="A3").credit("T3", credit_id="C31").credit("T3", credit_id="C32",
                                                                                        at="2026-11-24 10:05:00")
        match_date(wh, D0)
    for provider, txn, order in (("alipay", "A1", "T1"), ("alipay", "A2", "T1"), ("wechatpay", "W1", "T2"),
                                 ("alipay", "A3", "T3")):
        sandbox.add_payment(provider, txn, order, Decimal("49.80"))
    make_users(settings)
    return settings, open_store(settings)


def send(settings, db, who, key, sandbox, **kwargs):
    return requests.send(db, settings, actor(who), key, credentials_for=sandbox.credentials,
                         policy=requests.RetryPolicy(attempts=2, backoff=0, sleep=lambda s: None), **kwargs)


def audit_actions(db, key):
    with db() as s:
        return [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.target == f"fix:{key}")
                                        .order_by(AuditEntry.seq))]


class TestWhatAFixMayMove:
    """A fix never moves more than its break holds, nor than its payment has left."""

    def test_duplicate_payment_refunds_the_later_payment_at_most_its_excess(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "重复支付，退还多付的一笔")
        assert (fix.provider_txn_id, fix.amount, fix.max_amount) == ("A2", Decimal("49.80"), Decimal("49.80"))
        assert fix.key == fix_key(KEY, "refund", "alipay:A2") and fix.key.startswith("RF") and len(fix.key) == 32

    def test_more_than_the_break_holds_is_refused(self, night):
        settings, db = night
        with pytest.raises(FixError, match="more than this fix may move"):
            requests.propose(db, settings, actor("olivia"), KEY, "refund", "x", amount=Decimal("49.81"))

    def test_a_break_type_without_that_fix_is_refused(self, night):
        settings, db = night
        with pytest.raises(FixError, match="no reversal fix"):
            requests.propose(db, settings, actor("olivia"), KEY, "reversal", "x")

    def test_the_database_refuses_an_amount_above_the_bound(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "x")
        with db() as s, pytest.raises(IntegrityError):
            s.execute(text("update fix_requests set amount = 60 where key = :k"), {"k": fix.key})
            s.commit()

    def test_missing_credit_offers_a_recredit_of_the_face_value_or_a_refund(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), "MISSING_CREDIT|T2", "recredit", "补充值")
        assert (fix.kind, fix.amount, fix.target) == ("recredit", Decimal("50.00"), "T2")
        with pytest.raises(FixError, match="already has fix"):  # one remedy at a time: never both
            requests.propose(db, settings, actor("olivia"), "MISSING_CREDIT|T2", "refund", "客户要求退款")
        requests.decline(db, actor("fiona"), fix.key, "客户要求退款")
        refund = requests.propose(db, settings, actor("olivia"), "MISSING_CREDIT|T2", "refund", "客户要求退款")
        assert (refund.provider, refund.provider_txn_id, refund.amount) == ("wechatpay", "W1", Decimal("49.80"))

    def test_duplicate_credit_reverses_the_later_credit(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), "DUPLICATE_CREDIT|T3", "reversal", "冲正重复到账")
        assert (fix.credit_id, fix.amount) == ("C32", Decimal("50.00"))


class TestMakerChecker:
    """The approver is someone else, from finance; above the threshold, two of them."""

    def test_the_maker_may_not_approve(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("fiona"), KEY, "refund", "x")
        with pytest.raises(FixError, match="may not approve"):
            requests.approve(db, actor("fiona"), fix.key)
        assert "fix.refused" in audit_actions(db, fix.key)

    def test_ops_may_not_approve(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "x")
        with pytest.raises(FixError, match="may not approve"):
            requests.approve(db, actor("olivia"), fix.key)

    def test_an_auditor_may_not_propose(self, night):
        settings, db = night
        with pytest.raises(FixError, match="may not propose"):
            requests.propose(db, settings, actor("audrey"), KEY, "refund", "x")

    def test_the_database_refuses_the_maker_as_approver(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("fiona"), KEY, "refund", "x")
        with db() as s, pytest.raises(IntegrityError):
            s.execute(text("update fix_requests set approver_1 = maker, state = 'approved' where key = :k"),
                      {"k": fix.key})
            s.commit()

    def test_above_the_threshold_two_approvers(self, night):
        settings, db = night
        strict = settings.model_copy(update={"remediation": settings.remediation.model_copy(
            update={"two_approvers_above": Decimal("10.00")})})
        fix = requests.propose(db, strict, actor("olivia"), KEY, "refund", "x")
        assert fix.approvals_needed == 2
        assert requests.approve(db, actor("fiona"), fix.key).state == "proposed"
        with pytest.raises(FixError, match="must be someone else"):
            requests.approve(db, actor("fiona"), fix.key)
        assert requests.approve(db, actor("frank"), fix.key).state == "approved"

    def test_declined_then_proposed_again_keeps_its_key(self, night):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "x")
        assert requests.decline(db, actor("fiona"), fix.key, "金额不对").state == "declined"
        again = requests.propose(db, settings, actor("olivia"), KEY, "refund", "再次提交", amount=Decimal("20.00"))
        assert (again.key, again.state, again.amount, again.approver_1) == (fix.key, "proposed", Decimal("20.00"), None)

    def test_two_approvals_at_once_send_one_request(self, night, sandbox):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "x")
        results: list = []

        def act(who: str, what) -> None:
            try:
                results.append(what(who))
            except FixError as exc:
                results.append(exc)

        threads = [threading.Thread(target=act, args=(who, lambda w: requests.approve(db, actor(w), fix.key)))
                   for who in ("fiona", "frank")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sum(isinstance(r, FixError) for r in results) == 1
        results.clear()
        threads = [threading.Thread(target=act, args=(who, lambda w: send(settings, db, w, fix.key, sandbox)))
                   for who in ("fiona", "frank")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sandbox.server.calls("/gateway.do") == 1
        assert len(sandbox.refunds) == 1
        with db() as s:
            assert s.get(FixRequest, fix.key).state == "accepted"


class TestSending:
    def approved(self, night, key=KEY, kind="refund", amount=None):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), key, kind, "x", amount=amount)
        return requests.approve(db, actor("fiona"), fix.key)

    def test_refund_accepted_and_audited(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        done = send(settings, db, "olivia", fix.key, sandbox)
        assert (done.state, done.outcome_code) == ("accepted", "10000")
        assert audit_actions(db, fix.key) == ["fix.propose", "fix.approve", "fix.state", "fix.state",
                                              "fix.send.request", "fix.send.response", "fix.state"]

    def test_not_approved_is_not_sent(self, night, sandbox):
        settings, db = night
        fix = requests.propose(db, settings, actor("olivia"), KEY, "refund", "x")
        with pytest.raises(FixError, match="only an approved fix"):
            send(settings, db, "fiona", fix.key, sandbox)
        assert sandbox.server.requests == []

    def test_dry_run_writes_what_would_be_sent(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        dry = settings.model_copy(update={"remediation": settings.remediation.model_copy(update={"execute": False})})
        assert send(dry, db, "olivia", fix.key, sandbox).state == "approved"
        written = (settings.remediation.dry_run_dir / f"{fix.key}.json").read_text("utf-8")
        assert '"out_request_no"' not in written and fix.key in written and "49.80" in written
        assert sandbox.server.requests == []

    def test_kill_switch(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        off = settings.model_copy(update={"remediation": settings.remediation.model_copy(update={"kill_switch": True})})
        with pytest.raises(FixError, match="kill switch"):
            send(off, db, "olivia", fix.key, sandbox)
        assert sandbox.server.requests == []
        assert "fix.refused" in audit_actions(db, fix.key)

    def test_hourly_amount_limit(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        tight = settings.model_copy(update={"remediation": settings.remediation.model_copy(
            update={"max_amount_per_hour": Decimal("40.00")})})
        with pytest.raises(FixError, match="limit of 40.00 an hour"):
            send(tight, db, "olivia", fix.key, sandbox)
        assert sandbox.server.requests == []

    def test_hourly_count_limit(self, night, sandbox):
        settings, db = night
        first = self.approved(night)
        second = self.approved(night, "MISSING_CREDIT|T2", "refund")
        one = settings.model_copy(update={"remediation": settings.remediation.model_copy(
            update={"max_sends_per_hour": 1})})
        assert send(one, db, "olivia", first.key, sandbox).state == "accepted"
        with pytest.raises(FixError, match="limit of 1 sends an hour"):
            send(one, db, "olivia", second.key, sandbox)

    def test_more_than_the_payment_has_left_is_refused_before_sending(self, night, sandbox):
        """A refund of A2 landed after the proposal (someone refunded by hand): the fix no longer fits."""
        settings, db = night
        fix = self.approved(night)
        with Warehouse(settings) as wh:
            Ledger(wh).refund("T1", amount="30.00", txn="A2", at="2026-11-25 09:00:00")
        with pytest.raises(FixError, match=r"more than payment A2 has left now \(19.80\)"):
            send(settings, db, "olivia", fix.key, sandbox)
        assert sandbox.server.requests == []
        with db() as s:
            assert s.get(FixRequest, fix.key).state == "approved"

    def test_one_break_kind_and_target_is_one_request(self, night, sandbox):
        """Proposing the same fix again while it is on its way is refused: its key is taken."""
        settings, db = night
        first = self.approved(night, "MISSING_CREDIT|T2", "refund", amount=Decimal("30.00"))
        assert send(settings, db, "olivia", first.key, sandbox).state == "accepted"
        with pytest.raises(FixError, match="already accepted"):
            requests.propose(db, settings, actor("olivia"), "MISSING_CREDIT|T2", "refund", "again", amount=Decimal("10.00"))

    def test_timeout_after_acceptance_then_retry_refunds_once(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        sandbox.timeout_after_accept = 1
        quick = requests.Http(timeout=(2.0, 0.5))
        first = requests.send(db, settings, actor("olivia"), fix.key, credentials_for=sandbox.credentials, http=quick,
                              policy=requests.RetryPolicy(attempts=1, backoff=0, sleep=lambda s: None))
        assert (first.state, first.outcome_code) == ("sent", "TransientError")  # outcome unknown
        again = send(settings, db, "frank", fix.key, sandbox)
        assert again.state == "accepted" and again.send_attempts == 2
        assert len(sandbox.refunds) == 1 and sandbox.payments[("alipay", "A2")].refunded == Decimal("49.80")

    def test_5xx_throughout_leaves_it_sent_for_a_retry(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        sandbox.fail_5xx = 10
        assert send(settings, db, "olivia", fix.key, sandbox).state == "sent"
        sandbox.fail_5xx = 0
        assert send(settings, db, "olivia", fix.key, sandbox).state == "accepted"
        assert len(sandbox.refunds) == 1

    def test_provider_refusal_is_rejected_with_its_code(self, night, sandbox):
        settings, db = night
        fix = self.approved(night)
        sandbox.force_error = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
        done = send(settings, db, "olivia", fix.key, sandbox)
        assert (done.state, done.outcome_code) == ("rejected", "ACQ.SELLER_BALANCE_NOT_ENOUGH")
        assert sandbox.refunds == {}

    def test_recredit_and_reversal_go_to_one_billing_batch(self, night, sandbox):
        from etl.fixes.billing_batch import read_batch

        settings, db = night
        a = self.approved(night, "MISSING_CREDIT|T2", "recredit")
        b = self.approved(night, "DUPLICATE_CREDIT|T3", "reversal")
        done = requests.send_all(db, settings, actor("olivia"), credentials_for=sandbox.credentials)
        assert {f.state for f in done} == {"sent"}
        batches = sorted(settings.remediation.billing_batch_dir.glob("*.csv"))
        assert len(batches) == 1
        lines = read_batch(batches[0])
        assert {(l["request_key"], l["action"], l["amount"], l["reverses_credit_id"]) for l in lines} == {
            (a.key, "CREDIT", "50.00", ""), (b.key, "REVERSE", "50.00", "C32")}
        assert {l["msisdn"] for l in lines} == {"13812341234"}
