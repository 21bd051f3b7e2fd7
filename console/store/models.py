"""The console's tables (SQLAlchemy 2.x). The schema itself is made by the Alembic migrations
beside this file; these classes are how the code reads and writes it.

Times are Asia/Shanghai wall times (etl.config.shanghai_now), as everywhere in topup-recon.
Money is exact: Numeric(18, 2), read back as Decimal.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))          # console.auth.ROLES
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    password_hash: Mapped[str | None] = mapped_column(String(256))  # argon2id; None for SSO-only users
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WebSession(Base):
    """Server-side sessions: the cookie holds a random id, the table only its SHA-256, so a
    copy of the database opens no session."""
    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)


class Claim(Base):
    """Who works on a break. ``version`` goes up with every action on the break (claim, note,
    resolve, reopen): an action names the version its form showed, so of two people acting at
    once one wins and the other is told."""
    __tablename__ = "claims"
    break_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_by: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    break_key: Mapped[str] = mapped_column(String(300), index=True)
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Resolution(Base):
    """A resolve or reopen of a break. ``status``: ``pending`` (a write-off above the limit,
    waiting for finance), ``approved`` (takes effect), ``rejected``. The next nightly run copies
    approved ones into the warehouse (``taken_by_run``) and records the run whose breaks show it
    resolved (``confirmed_by_run``)."""
    __tablename__ = "resolutions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    break_key: Mapped[str] = mapped_column(String(300), index=True)
    break_type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))        # resolve | reopen
    reason_code: Mapped[str] = mapped_column(String(32))   # console.reasons.REASONS
    text: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # the break's difference when proposed
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    effective_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16), default="console")  # console | bulk
    taken_by_run: Mapped[date | None] = mapped_column(Date)
    confirmed_by_run: Mapped[date | None] = mapped_column(Date)


class Approval(Base):
    """A finance decision on a pending resolution: maker ≠ checker."""
    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resolution_id: Mapped[str] = mapped_column(ForeignKey("resolutions.id"), index=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))      # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime)


class DaySignoff(Base):
    """日终关账: finance closes a business date; reopening needs a reason. Append-only: the
    latest row of a date says whether it is closed."""
    __tablename__ = "day_signoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(16))        # close | reopen
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """操作审计日志: append-only, each entry's hash covers the one before (console.store.audit)."""
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text)              # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last entry's number and hash. Updating it first serialises writers, so two
    entries never claim the same predecessor."""
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
