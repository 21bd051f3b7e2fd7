"""UnionPay refunds: 全渠道 退货 (``txnType=04``, ``txnSubType=00``, ``bizType=000201``) to the
back-channel endpoint (``backTransReq.do``), signed with ``sign_fields`` like the settlement-file
request, the answer verified as the SDKs do (``verify_answer``: certificate chain, owner, signature).

``orderId`` is the fix's key and ``txnTime`` the time of its first send, both repeated on every
retry; ``origQryId`` names the payment. UnionPay answers ``respCode=00`` when it has taken the
refund (受理成功; the result follows by notification and in the settlement file), and ``12``
(重复交易) when it already has that orderId: that refund exists, so it counts as accepted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from etl.extract.providers.http import DEFAULT_POLICY, Http, RetryPolicy, TransientError, with_retries
from etl.extract.providers.unionpay import parse_answer, sign_fields, verify_answer
from etl.fixes.senders.base import RefundOutcome, RefundRequest, SendError, fen

if TYPE_CHECKING:
    from etl.extract.credentials import UnionPayCredentials

BUSY_CODES = {"03", "04", "05", "06"}  # 通讯超时 / 状态未明 / 已受理请稍后查询 / 系统繁忙: same orderId again
DUPLICATE = "12"  # 重复交易: this orderId was taken before


def fields(request: RefundRequest, credentials: "UnionPayCredentials", notify_url: str) -> dict[str, str]:
    return {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "txnType": "04",
        "txnSubType": "00",
        "bizType": "000201",
        "accessType": "0",
        "channelType": "07",
        "merId": credentials.mer_id,
        "orderId": request.key,
        "origQryId": request.provider_txn_id,
        "txnTime": request.first_sent_at.strftime("%Y%m%d%H%M%S"),
        "txnAmt": str(fen(request.amount)),
        "currencyCode": "156",
        "backUrl": notify_url,
        "certId": credentials.cert_id,
    }


def send_refund(request: RefundRequest, credentials: "UnionPayCredentials", *, url: str,
                notify_url: str = "", http: Http | None = None,
                policy: RetryPolicy = DEFAULT_POLICY) -> RefundOutcome:
    if not url:
        raise SendError("unionpay refund: no refund_url configured ([remediation.providers.unionpay])")
    http = http or Http()
    what = f"unionpay refund {request.key}"
    business = fields(request, credentials, notify_url)

    def attempt() -> RefundOutcome:
        response = http.send("POST", url, what=what, data=sign_fields(credentials, business),
                             headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        if response.status_code != 200:
            raise SendError(f"{what}: HTTP {response.status_code}")
        response.encoding = "utf-8"
        answer = parse_answer(response.text.strip())
        verify_answer(answer, credentials, what)
        code, message = answer.get("respCode", ""), answer.get("respMsg", "")
        shown = {k: v for k, v in answer.items() if k not in ("signature", "signPubKeyCert")}
        if code in BUSY_CODES:
            raise TransientError(f"{what}: respCode {code} {message}".rstrip())
        if code in ("00", DUPLICATE):
            return RefundOutcome("accepted", code, message, provider_refund_id=answer.get("queryId") or request.key,
                                 request=business, response=shown)
        if not code:
            raise SendError(f"{what}: the answer holds no respCode")
        return RefundOutcome("rejected", code, message, request=business, response=shown)

    return with_retries(what, attempt, policy)
