"""Provider refunds against the sandbox: signed as the providers check, answers verified,
the providers' rules and failures mapped to accepted / rejected / retried."""
from __future__ import annotations

from decimal import Decimal

import pytest

from etl.config import RemediationProvider
from etl.extract.providers.http import SignatureError, TransientError
from etl.fixes.senders import send_refund
from tests.fixes.conftest import refund_request

PROVIDERS = ["alipay", "wechatpay", "unionpay"]


def endpoint(sandbox, provider: str) -> RemediationProvider:
    return RemediationProvider(conn=f"recon_{provider}", refund_url=sandbox.refund_url(provider),
                               notify_url="https://recon.example.com/notify" if provider == "unionpay" else "")


def send(sandbox, provider, request, http=None, policy=None):
    kwargs = {"http": http} if http else {}
    if policy:
        kwargs["policy"] = policy
    return send_refund(request, sandbox.credentials(provider), endpoint(sandbox, provider), **kwargs)


@pytest.mark.parametrize("provider", PROVIDERS)
class TestRefund:
    """A refund within what the payment has left is taken once, however often it is asked."""

    def test_accepted_and_recorded(self, sandbox, provider, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("99.60"))
        outcome = send(sandbox, provider, refund_request(provider, amount="49.80", paid="99.60"), policy=no_wait)
        assert outcome.status == "accepted", outcome
        assert sandbox.bad_signatures == 0
        assert [r.amount for r in sandbox.refunds.values()] == [Decimal("49.80")]

    def test_same_request_number_is_one_refund(self, sandbox, provider, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("99.60"))
        request = refund_request(provider, amount="49.80", paid="99.60")
        first = send(sandbox, provider, request, policy=no_wait)
        again = send(sandbox, provider, request, policy=no_wait)
        assert (first.status, again.status) == ("accepted", "accepted")
        assert len(sandbox.refunds) == 1
        assert sandbox.payments[(provider, "TXN1")].refunded == Decimal("49.80")

    def test_more_than_left_is_rejected(self, sandbox, provider, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"), refunded=Decimal("10.00"))
        outcome = send(sandbox, provider, refund_request(provider, amount="49.80"), policy=no_wait)
        assert outcome.status == "rejected"
        assert outcome.code in {"ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "INVALID_REQUEST", "33"}
        assert sandbox.refunds == {}

    def test_unknown_payment_is_rejected(self, sandbox, provider, no_wait):
        outcome = send(sandbox, provider, refund_request(provider, txn="NOPE"), policy=no_wait)
        assert outcome.status == "rejected"
        assert outcome.code in {"ACQ.TRADE_NOT_EXIST", "RESOURCE_NOT_EXISTS", "35"}

    def test_timeout_after_accept_then_retry_refunds_once(self, sandbox, provider, quick_http, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"))
        sandbox.timeout_after_accept = 1
        outcome = send(sandbox, provider, refund_request(provider), http=quick_http, policy=no_wait)
        assert outcome.status == "accepted"
        assert len(sandbox.refunds) == 1
        assert sandbox.payments[(provider, "TXN1")].refunded == Decimal("49.80")
        assert sandbox.server.calls({"alipay": "/gateway.do", "wechatpay": "/v3/refund/domestic/refunds",
                                     "unionpay": "/gateway/api/backTransReq.do"}[provider]) == 2

    def test_5xx_is_retried(self, sandbox, provider, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"))
        sandbox.fail_5xx = 2
        assert send(sandbox, provider, refund_request(provider), policy=no_wait).status == "accepted"
        assert len(sandbox.refunds) == 1

    def test_5xx_every_time_leaves_the_outcome_unknown(self, sandbox, provider, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"))
        sandbox.fail_5xx = 5
        with pytest.raises(TransientError, match="HTTP 500"):
            send(sandbox, provider, refund_request(provider), policy=no_wait)
        assert sandbox.refunds == {}

    def test_answer_signed_by_someone_else_is_not_believed(self, sandbox, provider, fix_keys, no_wait):
        sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"))
        if provider == "alipay":
            sandbox.keys = type(fix_keys)()  # the sandbox now signs with keys we do not trust
            sandbox.keys.alipay_app = fix_keys.alipay_app
        elif provider == "wechatpay":
            sandbox.keys = type(fix_keys)()
            sandbox.keys.wechat_merchant = fix_keys.wechat_merchant
        else:
            sandbox.keys = type(fix_keys)()
            sandbox.keys.unionpay_merchant, sandbox.keys.merchant_cert = fix_keys.unionpay_merchant, fix_keys.merchant_cert
        with pytest.raises(SignatureError):
            send_refund(refund_request(provider), _trusting(sandbox, fix_keys, provider), endpoint(sandbox, provider),
                        policy=no_wait)


def _trusting(sandbox, keys, provider):
    """Credentials that trust the original keys, not the ones the sandbox now answers with."""
    original = sandbox.keys
    sandbox.keys = keys
    try:
        return sandbox.credentials(provider)
    finally:
        sandbox.keys = original


@pytest.mark.parametrize("provider, code, status", [
    pytest.param("alipay", "ACQ.SELLER_BALANCE_NOT_ENOUGH", "rejected", id="alipay-balance"),
    pytest.param("alipay", "ACQ.TRADE_STATUS_ERROR", "rejected", id="alipay-trade-status"),
    pytest.param("alipay", "ACQ.SYSTEM_ERROR", "retried", id="alipay-system-error"),
    pytest.param("wechatpay", "NOT_ENOUGH", "rejected", id="wechat-balance"),
    pytest.param("wechatpay", "USER_ACCOUNT_ABNORMAL", "rejected", id="wechat-account"),
    pytest.param("wechatpay", "SYSTEM_ERROR", "retried", id="wechat-system-error"),
    pytest.param("unionpay", "31", "rejected", id="unionpay-merchant-state"),
    pytest.param("unionpay", "38", "rejected", id="unionpay-risk"),
    pytest.param("unionpay", "06", "retried", id="unionpay-busy"),
])
def test_business_errors(sandbox, provider, code, status, no_wait):
    """A refusal keeps the provider's code and moves no money; a "try again" code is retried
    with the same request number."""
    sandbox.add_payment(provider, "TXN1", "T1", Decimal("49.80"))
    sandbox.force_error = code
    outcome = send(sandbox, provider, refund_request(provider), policy=no_wait)
    if status == "rejected":
        assert (outcome.status, outcome.code) == ("rejected", code)
        assert sandbox.refunds == {}
    else:
        assert outcome.status == "accepted"
        assert len(sandbox.refunds) == 1


def test_unionpay_without_a_notify_url_is_refused(sandbox, no_wait):
    sandbox.add_payment("unionpay", "TXN1", "T1", Decimal("49.80"))
    outcome = send_refund(refund_request("unionpay"), sandbox.credentials("unionpay"),
                          RemediationProvider(conn="x", refund_url=sandbox.refund_url("unionpay")), policy=no_wait)
    assert (outcome.status, outcome.code) == ("rejected", "13")
