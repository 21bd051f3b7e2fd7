"""WeChat Pay refunds: API v3 ``POST /v3/refund/domestic/refunds``, signed with the same
``WECHATPAY2-SHA256-RSA2048`` Authorization as the bill download (``signer``), the answer
verified with the WeChat Pay platform key (``verify_response``), errors included when signed.

``out_refund_no`` is the fix's key: WeChat Pay answers a repeated one with the refund it already
made, so a retry after a lost answer refunds once. ``amount.total`` is the payment's amount.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from etl.extract.providers.http import DEFAULT_POLICY, Http, RetryPolicy, TransientError, with_retries
from etl.extract.providers.wechatpay import signer, verify_response
from etl.fixes.senders.base import RefundOutcome, RefundRequest, SendError, fen

if TYPE_CHECKING:
    from etl.extract.credentials import WeChatPayCredentials

PATH = "/v3/refund/domestic/refunds"
ACCEPTED = {"SUCCESS", "PROCESSING"}  # the refund exists; SUCCESS: already back with the customer
RETRY_CODES = {"SYSTEM_ERROR", "FREQUENCY_LIMITED"}  # WeChat Pay: retry with the same out_refund_no


def body(request: RefundRequest, notify_url: str = "") -> dict:
    content = {
        "transaction_id": request.provider_txn_id,
        "out_refund_no": request.key,
        "reason": request.reason[:80],
        "amount": {"refund": fen(request.amount), "total": fen(request.payment_amount), "currency": "CNY"},
    }
    if notify_url:
        content["notify_url"] = notify_url
    return content


def send_refund(request: RefundRequest, credentials: "WeChatPayCredentials", *, url: str = "",
                notify_url: str = "", http: Http | None = None,
                policy: RetryPolicy = DEFAULT_POLICY) -> RefundOutcome:
    http = http or Http()
    what = f"wechatpay refund {request.key}"
    business = body(request, notify_url)
    payload = json.dumps(business, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def attempt() -> RefundOutcome:
        response = http.send("POST", url or credentials.base_url + PATH, what=what, data=payload,
                             sign=signer(credentials),
                             headers={"Content-Type": "application/json", "Accept": "application/json"})
        signed = "Wechatpay-Signature" in response.headers
        if response.status_code == 200 or signed:
            verify_response(response, credentials, what)
        try:
            answer = response.json()
        except ValueError:
            raise SendError(f"{what}: HTTP {response.status_code}, not JSON") from None
        if response.status_code == 200:
            status = str(answer.get("status", ""))
            if status in ACCEPTED:
                return RefundOutcome("accepted", status, "", provider_refund_id=answer.get("refund_id"),
                                     request=business, response=answer)
            return RefundOutcome("rejected", status or "UNKNOWN", "refund status " + status,
                                 provider_refund_id=answer.get("refund_id"), request=business, response=answer)
        code = str(answer.get("code", ""))
        if code in RETRY_CODES:
            raise TransientError(f"{what}: HTTP {response.status_code} {code}")
        if not code:
            raise SendError(f"{what}: HTTP {response.status_code} without an error code")
        message = str(answer.get("message", "")) + ("" if signed else " (unsigned answer)")
        return RefundOutcome("rejected", code, message, request=business, response=answer)

    return with_retries(what, attempt, policy)
