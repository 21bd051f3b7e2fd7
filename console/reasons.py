"""The words of the work: reason codes for a resolution, why a break is a break (in words, on
its row), and its SLA state. Text is English msgids, translated where the locale is known."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from etl.i18n import N_

# reason code → label (glossary-zh.md); a write-off needs a second person above the limit
REASONS: dict[str, str] = {
    "recredit": N_("Re-credit"),          # 补充值
    "refund": N_("Refund"),               # 退款
    "reversal": N_("Reverse the credit"),  # 冲正
    "writeoff": N_("Write off"),          # 核销
    "false_positive": N_("False positive"),  # 误报
    "other": N_("Other"),
}
WRITE_OFF = "writeoff"

BREAK_TYPES: dict[str, str] = {
    "MISSING_CREDIT": N_("Paid, not credited"),
    "LATE_CREDIT": N_("Late credit"),
    "CREDIT_WITHOUT_PAYMENT": N_("Credited, not paid"),
    "REFUNDED_BUT_CREDITED": N_("Refunded, still credited"),
    "DUPLICATE_PAYMENT": N_("Duplicate payment"),
    "DUPLICATE_CREDIT": N_("Duplicate credit"),
    "AMOUNT_MISMATCH": N_("Amount mismatch"),
    "STATUS_MISMATCH": N_("Order status mismatch"),
    "ORPHAN_PAYMENT": N_("One-sided: provider has it, platform does not"),
    "ORPHAN_CREDIT": N_("One-sided: billing has it, platform does not"),
    "FEE_MISMATCH": N_("Fee mismatch"),
}
CHANNELS = {"app": N_("Carrier app"), "web": N_("Web"), "alipay_mini": N_("Alipay mini program"),
            "wechat_mini": N_("WeChat mini program"), "jd": N_("JD")}
PROVIDERS = {"alipay": N_("Alipay"), "wechatpay": N_("WeChat Pay"), "unionpay": N_("UnionPay")}
AGE_BUCKETS: dict[str, tuple[int, int | None]] = {"0-1": (0, 1), "2-3": (2, 3), "4-7": (4, 7),
                                                  "8-30": (8, 30), "gt30": (31, None)}
SLA_STATES = {"on_track": N_("On track"), "warning": N_("Warning"), "breached": N_("Breached")}


@dataclass(frozen=True)
class SlaRule:
    days: dict[str, int]
    warn_days: int
    large_amount: Decimal

    @classmethod
    def from_settings(cls, console) -> "SlaRule":  # noqa: ANN001 - etl.config.Console
        return cls(dict(console.sla_days), console.sla_warn_days, console.sla_large_amount)

    def limit(self, break_type: str, difference: Decimal | None) -> int:
        days = self.days.get(break_type, self.days["default"])
        if difference is not None and abs(difference) >= self.large_amount:
            days -= 1
        return max(days, 0)

    def state(self, break_type: str, difference: Decimal | None, age_days: int) -> str:
        limit = self.limit(break_type, difference)
        if age_days > limit:
            return "breached"
        if age_days >= limit - self.warn_days:
            return "warning"
        return "on_track"


def _hm(at: Any) -> str:
    return at.strftime("%m-%d %H:%M") if isinstance(at, datetime) else "?"


def why(row: dict[str, Any], _: Callable[..., str], money: Callable[[Any], str]) -> str:
    """One sentence saying why this row is a break, with its own amounts and times."""
    t = row["break_type"]
    paid, credited, diff = row.get("paid_amount"), row.get("credited_amount"), row.get("difference")
    order_amount = row.get("order_amount")
    paid_at, credited_at = _hm(row.get("paid_at")), _hm(row.get("credited_at"))
    if t == "MISSING_CREDIT":
        return _("paid %(paid)s at %(at)s, no credit by the cutoff", paid=money(paid), at=paid_at)
    if t == "LATE_CREDIT":
        return _("paid at %(paid_at)s, credited at %(credited_at)s: %(minutes)s minutes, past the SLA",
                 paid_at=paid_at, credited_at=credited_at, minutes=row.get("delay_minutes"))
    if t == "CREDIT_WITHOUT_PAYMENT":
        return _("credited %(credited)s at %(at)s, never paid", credited=money(credited), at=credited_at)
    if t == "REFUNDED_BUT_CREDITED":
        return _("refunded in full, yet %(credited)s stays credited", credited=money(credited))
    if t == "DUPLICATE_PAYMENT":
        return _("paid %(paid)s for an order of %(amount)s: %(extra)s paid twice",
                 paid=money(paid), amount=money(order_amount), extra=money(diff))
    if t == "DUPLICATE_CREDIT":
        return _("credited %(credited)s for a face value of %(face)s",
                 credited=money(credited), face=money(row.get("face_value")))
    if t == "AMOUNT_MISMATCH":
        return _("order of %(amount)s, paid %(paid)s, credited %(credited)s",
                 amount=money(order_amount), paid=money(paid), credited=money(credited))
    if t == "STATUS_MISMATCH":
        return _("the order says %(status)s, the ledgers say otherwise", status=row.get("order_status") or "?")
    if t == "ORPHAN_PAYMENT":
        provider = row.get("provider")
        return _("%(provider)s received %(paid)s at %(at)s for an order the platform does not have",
                 provider=_(PROVIDERS[provider]) if provider in PROVIDERS else provider or "?",
                 paid=money(paid), at=paid_at)
    if t == "ORPHAN_CREDIT":
        return _("billing credited %(credited)s at %(at)s for no order of the platform",
                 credited=money(credited), at=credited_at)
    if t == "FEE_MISMATCH":
        return _("the statement's fee is off the contracted fee by %(diff)s", diff=money(diff))
    return t
