"""Which breaks have a fix, of which kind, and each fix's idempotency key.

A fix acts on one *target*: a payment (provider + transaction id) for a refund, a credit id for
a reversal, the order for a re-credit. Its key is derived from the break key, the kind and the
target, so it is the same on every retry and every run: the provider's refund request number
(Alipay ``out_request_no``, WeChat Pay ``out_refund_no``, UnionPay ``orderId``) and the batch
line's key are this key, and a provider that sees it twice refunds once.
"""
from __future__ import annotations

import hashlib
from enum import StrEnum


class FixKind(StrEnum):
    RECREDIT = "recredit"  # 补充值: ask billing to credit the phone
    REFUND = "refund"  # 退款: return a payment (part of it) through its provider
    REVERSAL = "reversal"  # 冲正: ask billing to cancel a standing credit


# The fixes each break type allows (docs/REMEDIATION.md). Others (LATE_CREDIT, FEE_MISMATCH,
# AMOUNT_MISMATCH, STATUS_MISMATCH, ORPHAN_CREDIT) need a person to decide, not a fix request.
FIXES_BY_BREAK: dict[str, tuple[FixKind, ...]] = {
    "MISSING_CREDIT": (FixKind.RECREDIT, FixKind.REFUND),
    "DUPLICATE_PAYMENT": (FixKind.REFUND,),
    "ORPHAN_PAYMENT": (FixKind.REFUND,),
    "DUPLICATE_CREDIT": (FixKind.REVERSAL,),
    "CREDIT_WITHOUT_PAYMENT": (FixKind.REVERSAL,),
    "REFUNDED_BUT_CREDITED": (FixKind.REVERSAL,),
}

ZH = {FixKind.RECREDIT: "补充值", FixKind.REFUND: "退款", FixKind.REVERSAL: "冲正"}
KEY_PREFIX = {FixKind.RECREDIT: "RC", FixKind.REFUND: "RF", FixKind.REVERSAL: "RV"}


def fix_key(break_key: str, kind: FixKind | str, target: str) -> str:
    """``RF`` / ``RC`` / ``RV`` and 30 hex digits of SHA-256 over the break key, kind and target.

    32 letters and digits: within every provider's rules for a request number (UnionPay's
    ``orderId`` takes 8–40 letters and digits, no ``-`` or ``_``; Alipay and WeChat Pay take 64).
    """
    kind = FixKind(kind)
    digest = hashlib.sha256(f"{break_key}\x1f{kind.value}\x1f{target}".encode("utf-8")).hexdigest()
    return KEY_PREFIX[kind] + digest[:30].upper()
