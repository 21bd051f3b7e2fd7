"""What the three refund senders share: the request they are given and the outcome they return.

A sender signs with the statement downloads' code (etl/extract/providers), sends through the
same :class:`~etl.extract.providers.http.Http` with the same retries, and verifies the answer's
signature before believing it. Its outcome is one of

- ``accepted``: the provider took the refund (it may still be processing); the night's run
  confirms it from the statement;
- ``rejected``: a business refusal with the provider's own code (no money moved);

and anything else raises: :class:`TransientError` after the last retry (the network, a 5xx,
"busy": the outcome is unknown, and the next send repeats the same request number, which the
provider answers with the same refund), :class:`SignatureError` (an answer we cannot trust).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from etl.extract.providers.http import DownloadError, SignatureError, TransientError

__all__ = ["RefundOutcome", "RefundRequest", "SendError", "SignatureError", "TransientError", "fen"]


class SendError(DownloadError):
    """An answer that is neither an acceptance nor a known refusal (malformed, unexpected)."""


@dataclass(frozen=True)
class RefundRequest:
    key: str  # the fix's idempotency key: out_request_no / out_refund_no / orderId
    provider: str
    provider_txn_id: str  # trade_no / transaction_id / origQryId of the payment refunded
    order_id: str | None  # our merchant order id (out_trade_no), when the payment names one
    amount: Decimal  # to refund, ≤ what the payment has left
    payment_amount: Decimal  # the payment's own amount (WeChat Pay's amount.total)
    reason: str
    first_sent_at: datetime  # Asia/Shanghai wall time of the first send: UnionPay's txnTime on every retry


@dataclass(frozen=True)
class RefundOutcome:
    status: Literal["accepted", "rejected"]
    code: str  # the provider's code: 10000 / SUCCESS / PROCESSING / 00, or the refusal's sub_code / code / respCode
    message: str
    provider_refund_id: str | None = None
    request: dict = field(default_factory=dict)  # the business fields sent (no signature, no keys)
    response: dict = field(default_factory=dict)  # the verified answer


def fen(amount: Decimal) -> int:
    """Yuan to fen, exactly; an amount with more than two decimals is refused, not rounded."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(cents)
