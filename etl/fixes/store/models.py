"""The fix requests' table (SQLAlchemy 2.x), in the console's database beside its users and
audit log. Its schema is made by the Alembic migrations beside this file (their own version
table, ``alembic_version_fixes``, so they never tangle with the console's own revisions).

The database enforces what must never depend on the code being right: an amount is positive
and never above the bound the break allowed when it was proposed; an approver is never the
maker, two approvers are two people; an approved or sent fix has its approvals; a refund names
its payment; one row per idempotency key. Money is Numeric(18, 2), read back as Decimal.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATES = ("proposed", "approved", "declined", "sending", "sent", "accepted", "rejected", "confirmed", "unconfirmed")
KINDS = ("refund", "recredit", "reversal")
APPROVED_STATES = ("approved", "sending", "sent", "accepted", "rejected", "confirmed", "unconfirmed")


class FixBase(DeclarativeBase):
    pass


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class FixRequest(FixBase):
    __tablename__ = "fix_requests"
    __table_args__ = (
        CheckConstraint("amount > 0", name="fix_amount_positive"),
        CheckConstraint("amount <= max_amount", name="fix_amount_within_break"),
        CheckConstraint(_in("state", STATES), name="fix_state_known"),
        CheckConstraint(_in("kind", KINDS), name="fix_kind_known"),
        CheckConstraint("approvals_needed in (1, 2)", name="fix_approvals_needed"),
        CheckConstraint("approver_1 is null or approver_1 <> maker", name="fix_checker_not_maker"),
        CheckConstraint("approver_2 is null or (approver_2 <> maker and approver_2 <> approver_1)",
                        name="fix_second_checker_distinct"),
        CheckConstraint(f"not ({_in('state', APPROVED_STATES)}) or (approver_1 is not null "
                        "and (approvals_needed = 1 or approver_2 is not null))", name="fix_sent_only_approved"),
        CheckConstraint("kind <> 'refund' or (provider is not null and provider_txn_id is not null "
                        "and payment_amount is not null and amount <= payment_amount)", name="fix_refund_names_payment"),
        CheckConstraint("kind <> 'reversal' or credit_id is not null", name="fix_reversal_names_credit"),
    )

    key: Mapped[str] = mapped_column(String(40), primary_key=True)  # the idempotency key (etl.fixes.kinds.fix_key)
    break_key: Mapped[str] = mapped_column(String(300), index=True)
    break_type: Mapped[str] = mapped_column(String(40))
    business_date: Mapped[date] = mapped_column(Date)  # the run whose open break it fixes
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(128), index=True)
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_txn_id: Mapped[str | None] = mapped_column(String(64))
    credit_id: Mapped[str | None] = mapped_column(String(64))
    product_type: Mapped[str | None] = mapped_column(String(32))
    payment_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    max_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))  # what the break allowed when proposed
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    approvals_needed: Mapped[int] = mapped_column(Integer)
    maker: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime] = mapped_column(DateTime)
    approver_1: Mapped[str | None] = mapped_column(String(64))
    approved_1_at: Mapped[datetime | None] = mapped_column(DateTime)
    approver_2: Mapped[str | None] = mapped_column(String(64))
    approved_2_at: Mapped[datetime | None] = mapped_column(DateTime)
    declined_by: Mapped[str | None] = mapped_column(String(64))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    first_sent_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome_code: Mapped[str | None] = mapped_column(String(64))
    outcome_message: Mapped[str | None] = mapped_column(Text)
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    batch_file: Mapped[str | None] = mapped_column(String(300))
    confirmed_on: Mapped[date | None] = mapped_column(Date)  # the landing date whose rows showed it done
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    raised_at: Mapped[datetime | None] = mapped_column(DateTime)  # unconfirmed: raised to ops
    version: Mapped[int] = mapped_column(Integer, default=0)  # up with every change of state
