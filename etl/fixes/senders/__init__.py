"""Provider refund senders, one per provider, with the same shape:
``send_refund(request, credentials, *, url, notify_url, http, policy) -> RefundOutcome``."""
from __future__ import annotations

from typing import Any

from etl.config import RemediationProvider
from etl.extract.providers.http import DEFAULT_POLICY, Http, RetryPolicy
from etl.fixes.senders import alipay, unionpay, wechatpay
from etl.fixes.senders.base import RefundOutcome, RefundRequest, SendError, SignatureError, TransientError

SENDERS = {"alipay": alipay, "wechatpay": wechatpay, "unionpay": unionpay}


def send_refund(request: RefundRequest, credentials: Any, endpoint: RemediationProvider, *,
                http: Http | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> RefundOutcome:
    """Send ``request`` to its provider, at the configured endpoint."""
    if request.provider not in SENDERS:
        raise SendError(f"no refund sender for provider {request.provider!r}")
    module = SENDERS[request.provider]
    kwargs: dict[str, Any] = {"url": endpoint.refund_url, "http": http, "policy": policy}
    if request.provider != "alipay":
        kwargs["notify_url"] = endpoint.notify_url
    return module.send_refund(request, credentials, **kwargs)


__all__ = ["RefundOutcome", "RefundRequest", "SENDERS", "SendError", "SignatureError", "TransientError", "send_refund"]
