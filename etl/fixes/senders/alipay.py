"""Alipay refunds: ``alipay.trade.refund``, signed RSA2 like the bill download (the same
``signed_call``), the answer verified over the exact JSON text of
``alipay_trade_refund_response`` with Alipay's public key.

``out_request_no`` is the fix's key: Alipay treats a repeated one as the same refund (answers
success again, ``fund_change=N``), so a retry after a lost answer refunds once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from etl.extract.providers.alipay import signed_call, verified_content
from etl.extract.providers.http import DEFAULT_POLICY, Http, RetryPolicy, TransientError, with_retries
from etl.fixes.senders.base import RefundOutcome, RefundRequest, SendError

if TYPE_CHECKING:
    from etl.extract.credentials import AlipayCredentials

METHOD = "alipay.trade.refund"
RESPONSE_KEY = "alipay_trade_refund_response"
BUSY_CODES = {"20000"}  # 服务不可用
RETRY_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR"}  # Alipay: retry with the same out_request_no


def biz_content(request: RefundRequest) -> dict:
    content = {
        "trade_no": request.provider_txn_id,
        "refund_amount": f"{request.amount:.2f}",
        "out_request_no": request.key,
        "refund_reason": request.reason[:256],
    }
    if request.order_id:
        content["out_trade_no"] = request.order_id
    return content


def send_refund(request: RefundRequest, credentials: "AlipayCredentials", *, url: str = "",
                http: Http | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> RefundOutcome:
    http = http or Http()
    what = f"alipay refund {request.key}"
    business = biz_content(request)

    def attempt() -> RefundOutcome:
        # signed afresh on each attempt (the timestamp is signed); the business fields never change
        response = http.send("POST", url or credentials.gateway, what=what,
                             data=signed_call(credentials, METHOD, business))
        if response.status_code != 200:
            raise SendError(f"{what}: the gateway answered HTTP {response.status_code}")
        response.encoding = "utf-8"
        content, _ = verified_content(response.text, credentials, RESPONSE_KEY, what)
        code, sub_code = str(content.get("code", "")), str(content.get("sub_code", ""))
        if code in BUSY_CODES or sub_code in RETRY_SUB_CODES:
            raise TransientError(f"{what}: Alipay busy: {code} {sub_code}".rstrip())
        if code == "10000":
            return RefundOutcome("accepted", code, f"fund_change={content.get('fund_change', '')}",
                                 provider_refund_id=request.key, request=business, response=content)
        if not code:
            raise SendError(f"{what}: the answer holds no code")
        return RefundOutcome("rejected", sub_code or code, str(content.get("sub_msg") or content.get("msg") or ""),
                             request=business, response=content)

    return with_retries(what, attempt, policy)
