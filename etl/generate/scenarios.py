"""The break scenarios: which orders go wrong, how, at what rate, and what happens to them later.

Each order of a day gets at most one scenario (a few are deliberate combinations, named so).
A scenario is a small function over *all* its orders of the day at once: it writes payments,
refunds, credits and reversals through a :class:`Kit`, with times that may fall on later days
(late credits, refunds of old orders, reversals). Whatever lands after the last generated date
is dropped later, by the caller, from the files and from the ground truth alike.

``outcome`` is what the order's own run must conclude (docs/MATCHING.md: its most severe break,
or MATCHED / UNPAID / REFUNDED_CLEAN); ``later`` says in words what later runs see. The ground
truth is *not* copied from this table: ``etl.generate.truth`` derives it from the rows by the
rules, and the tests check that both agree.

Rates are per mille of the day's orders. The count per day is the rate × orders, the fraction
rounded at random, so a 2,000-order day gets 4 of a 2‰ scenario every day. MATCHED takes the
rest. Time windows are hours of the day of the scenario's anchor event (the payment, or the
creation for orders never paid); on the first generated day they start at the billing cut
(02:00 with the default grace) at the earliest, because a credit posted before it belongs to
the previous day's billing export, which is not generated. Credits meant to be punctual are
kept inside the day's billing export, whatever the configured SLA and grace.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

import numpy as np

from etl.config import Settings
from etl.generate.population import (
    DAY,
    HOUR,
    PRODUCT_TYPES,
    PROVIDERS,
    checkout_seconds,
    draw_customers,
    draw_times,
    force_method,
)

ORDER_STATUSES = ("created", "paid", "credited", "failed", "refunded", "cancelled")
STATUS = {name: code for code, name in enumerate(ORDER_STATUSES)}

# statement rows
PAYMENT, REFUND = 0, 1
KINDS = ("payment", "refund")
SUCCESS, PROCESSING = 0, 1
STATEMENT_STATUSES = ("success", "processing")

# billing rows
CREDITED, FAILED, REVERSED = 0, 1, 2
RESULTS = ("success", "failed", "reversed")
RESULT_CODES = ("0000", "E1021", "E2003", "E3005", "R0000")  # success, 3 failures, reversal
FAILURE_CODES = np.array([1, 2, 3], dtype=np.int8)


class Rows:
    """A growable columnar table: scenarios append arrays, ``finish`` concatenates once."""

    def __init__(self, **dtypes: type):
        self.dtypes = dtypes
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in dtypes}
        self.size = 0

    def add(self, **columns) -> np.ndarray:
        """Append rows (scalars broadcast); return their positions."""
        sizes = [np.size(v) for v in columns.values() if np.ndim(v) > 0]
        n = max(sizes) if sizes else 1
        if set(columns) != set(self.dtypes):
            raise ValueError(f"columns {sorted(columns)} differ from {sorted(self.dtypes)}")
        for name, value in columns.items():
            self.parts[name].append(np.array(np.broadcast_to(np.asarray(value, dtype=self.dtypes[name]), (n,))))
        self.size += n
        return np.arange(self.size - n, self.size)

    def next_positions(self, n: int) -> np.ndarray:
        """The positions the next ``add`` of ``n`` rows will return."""
        return np.arange(self.size, self.size + n)

    def column(self, name: str) -> np.ndarray:
        """One column of the rows added so far."""
        parts = self.parts[name]
        if len(parts) > 1:
            self.parts[name] = parts = [np.concatenate(parts)]
        return parts[0] if parts else np.empty(0, dtype=self.dtypes[name])

    def finish(self) -> dict[str, np.ndarray]:
        return {name: self.column(name) for name in self.parts}


def statement_rows() -> Rows:
    """Provider statement rows, canonical in meaning (etl.schema.PAYMENTS), numeric in form."""
    return Rows(
        oi=np.int64,  # order index (a ghost order for orphans)
        provider=np.int8,  # PROVIDERS
        kind=np.int8,  # KINDS
        amount=np.int64,  # fen, positive magnitude
        fee=np.int64,  # fen as stated: > 0 payments, < 0 refunds
        event_at=np.int64,
        status=np.int8,  # STATEMENT_STATUSES
        pays=np.int64,  # the payment row (itself, or the one a refund refunds)
        refund_n=np.int8,  # 1, 2, … per order for refunds; 0 for payments
        pay_detail=np.int8,
    )


def billing_rows() -> Rows:
    return Rows(
        oi=np.int64,  # -1: a credit the platform did not order
        msisdn=np.int64,
        amount=np.int64,  # fen: > 0 credit, < 0 reversal
        product_type=np.int8,
        credited_at=np.int64,
        result=np.int8,  # RESULTS
        code=np.int8,  # RESULT_CODES
        reverses=np.int64,  # the credit row a reversal cancels, else -1
    )


def contracted_fee(amount: np.ndarray, provider: np.ndarray, settings: Settings) -> np.ndarray:
    """amount × the provider's contracted rate, rounded half up to the fen: fen in, fen out
    (amount ≥ 0; a refund returns minus the fee of the refunded amount)."""
    ratios = [Decimal(settings.providers.fee_rates.get(p, 0)).as_integer_ratio() for p in PROVIDERS]
    num = np.array([r[0] for r in ratios], dtype=np.int64)[provider]
    den = np.array([r[1] for r in ratios], dtype=np.int64)[provider]
    return (2 * np.asarray(amount, dtype=np.int64) * num + den) // (2 * den)


class Kit:
    """What a scenario writes with: one day's orders (positions 0..n-1 of the batch) and the
    rows they produce. Money in fen, times in seconds (see population)."""

    def __init__(self, rng: np.random.Generator, day0: int, orders: dict[str, np.ndarray], settings: Settings,
                 stmt: Rows, billing: Rows):
        self.rng = rng
        self.day0 = day0
        self.o = orders
        self.stmt = stmt
        self.billing = billing
        m = settings.matching
        self.sla_s = np.array([m.sla_for(t) * 60 for t in PRODUCT_TYPES], dtype=np.int64)[orders["product_type"]]
        self.grace = m.grace_minutes * 60
        self.cutoff = day0 + DAY + self.grace  # the end of the day's billing export
        self.tolerance_fen = int(m.amount_tolerance * 100)
        self.settings = settings
        self.n_refunds = np.zeros(len(orders["oi"]), dtype=np.int8)

    # --- money and time -----------------------------------------------------------------------
    def within_sla(self, ix: np.ndarray) -> np.ndarray:
        """Seconds from payment to credit for a punctual credit: mostly seconds, never at the SLA."""
        sla = self.sla_s[ix]
        top = np.maximum(sla - 15, 2)
        return np.minimum(2 + ((top - 2) * self.rng.random(ix.size) ** 3).astype(np.int64), np.maximum(sla - 1, 1))

    def late_same_day(self, ix: np.ndarray, paid_at: np.ndarray) -> np.ndarray:
        """Seconds to a late credit that still makes the day's billing export (before the cutoff)."""
        lo = self.sla_s[ix] + 60
        hi = np.minimum(lo + 3 * HOUR, self.cutoff - paid_at - 60)
        return lo + (self.rng.random(ix.size) * np.maximum(hi - lo, 1)).astype(np.int64)

    def punctual(self, ix: np.ndarray, paid_at: np.ndarray) -> np.ndarray:
        """When a punctual credit lands: within the SLA, and in the day's billing export."""
        return np.minimum(paid_at + self.within_sla(ix), np.maximum(paid_at, self.cutoff - 1))

    def later(self, ix: np.ndarray) -> np.ndarray:
        """A time 1-8 days after the order's day, in office hours (from 03:00, or an hour after
        the billing cut, to 22:00): well inside both the statements' and billing's day."""
        days = self.rng.choice([1, 2, 3, 5, 8], size=ix.size, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        opens = max(3 * HOUR, self.grace + HOUR)
        return self.day0 + days * DAY + opens + self.rng.integers(0, 22 * HOUR - opens, size=ix.size)

    def seconds(self, lo: int, hi: int, n: int) -> np.ndarray:
        return self.rng.integers(lo, hi, size=n)

    # --- rows ---------------------------------------------------------------------------------
    def pay(self, ix: np.ndarray, at: np.ndarray | None = None, amount: np.ndarray | None = None,
            fee_delta: np.ndarray | int = 0) -> np.ndarray:
        """One successful payment per order (default: its pay amount, at its paid_at)."""
        provider = self.o["pay_method"][ix]
        amount = self.o["pay_fen"][ix] if amount is None else amount
        return self.stmt.add(
            oi=self.o["oi"][ix], provider=provider, kind=PAYMENT, amount=amount,
            fee=contracted_fee(amount, provider, self.settings) + fee_delta,
            event_at=self.o["paid_at"][ix] if at is None else at, status=SUCCESS,
            pays=self.stmt.next_positions(ix.size),  # a payment points at itself
            refund_n=0, pay_detail=self.o["pay_detail"][ix],
        )

    def refund(self, ix: np.ndarray, pays: np.ndarray, at: np.ndarray, amount: np.ndarray | None = None,
               status: int = SUCCESS, fee: np.ndarray | None = None) -> np.ndarray:
        """A refund of the payment rows ``pays`` (default: in full); the fee returned is the
        contracted fee of the refunded amount, negative."""
        provider = self.o["pay_method"][ix]
        amount = self.stmt.column("amount")[pays] if amount is None else amount
        self.n_refunds[ix] += 1
        return self.stmt.add(
            oi=self.o["oi"][ix], provider=provider, kind=REFUND, amount=amount,
            fee=-contracted_fee(amount, provider, self.settings) if fee is None else fee,
            event_at=at, status=status, pays=pays, refund_n=self.n_refunds[ix],
            pay_detail=self.o["pay_detail"][ix],
        )

    def credit(self, ix: np.ndarray, at: np.ndarray, amount: np.ndarray | None = None,
               result: int = CREDITED) -> np.ndarray:
        code = 0 if result == CREDITED else FAILURE_CODES[self.rng.integers(0, FAILURE_CODES.size, size=ix.size)]
        return self.billing.add(
            oi=self.o["oi"][ix], msisdn=self.o["msisdn"][ix],
            amount=self.o["face_fen"][ix] if amount is None else amount,
            product_type=self.o["product_type"][ix], credited_at=at, result=result, code=code, reverses=-1,
        )

    def reverse(self, ix: np.ndarray, credits: np.ndarray, at: np.ndarray) -> np.ndarray:
        amount = self.billing.column("amount")[credits]
        return self.billing.add(
            oi=self.o["oi"][ix], msisdn=self.o["msisdn"][ix], amount=-amount,
            product_type=self.o["product_type"][ix], credited_at=at, result=REVERSED,
            code=RESULT_CODES.index("R0000"), reverses=credits,
        )

    def unordered_credit(self, msisdn: np.ndarray, product_type: np.ndarray, amount: np.ndarray,
                         at: np.ndarray, oi: np.ndarray | int = -1) -> np.ndarray:
        """A success credit billing made on its own (manual, promotion), or for an order id
        that no orders file holds (``oi`` a ghost order)."""
        return self.billing.add(
            oi=oi, msisdn=msisdn, amount=amount, product_type=product_type, credited_at=at,
            result=CREDITED, code=0, reverses=-1,
        )

    def status(self, ix: np.ndarray, name: str | np.ndarray, at: np.ndarray) -> None:
        self.o["status"][ix] = STATUS[name] if isinstance(name, str) else name
        self.o["updated_at"][ix] = at

    def clean(self, ix: np.ndarray, amount: np.ndarray | None = None, fee_delta: np.ndarray | int = 0,
              credit_amount: np.ndarray | None = None):
        """Paid, credited within the SLA, status ``credited``: the MATCHED skeleton most
        scenarios start from. Returns (payment rows, credit rows, credited_at)."""
        pays = self.pay(ix, amount=amount, fee_delta=fee_delta)
        credited_at = self.punctual(ix, self.o["paid_at"][ix])
        credits = self.credit(ix, credited_at, amount=credit_amount)
        self.status(ix, "credited", credited_at)
        return pays, credits, credited_at


# ---------------------------------------------------------------------------------------------
# The scenarios

def _matched(k: Kit, ix: np.ndarray) -> None:
    k.clean(ix)


def _matched_midnight(k: Kit, ix: np.ndarray) -> None:
    """Paid in the day's last minute, credited just after midnight: in this day's billing."""
    k.pay(ix)
    paid_at = k.o["paid_at"][ix]
    credited_at = np.minimum(k.day0 + DAY + k.seconds(0, 60, ix.size), paid_at + k.sla_s[ix] - 1)
    credited_at = np.maximum(np.minimum(credited_at, k.cutoff - 1), paid_at)
    k.credit(ix, credited_at)
    k.status(ix, "credited", credited_at)


def _matched_paid_after_midnight(k: Kit, ix: np.ndarray) -> None:
    """Created yesterday at 23:5x, paid after midnight: in today's orders file and statements,
    while its credit (before 02:00) is in yesterday's billing export."""
    k.o["created_at"][ix] = k.day0 - k.seconds(20, 240, ix.size)
    k.clean(ix)


def _unpaid(k: Kit, ix: np.ndarray) -> None:
    status = k.rng.choice([STATUS["created"], STATUS["cancelled"], STATUS["failed"]], size=ix.size, p=[0.4, 0.35, 0.25])
    gap = np.where(status == STATUS["created"], 0, k.seconds(30, 1800, ix.size))
    k.status(ix, status, k.o["created_at"][ix] + gap)


def _refunded_clean(k: Kit, ix: np.ndarray) -> None:
    """Billing could not credit the number; the payment is refunded the same day."""
    pays = k.pay(ix)
    tried_at = k.o["paid_at"][ix] + k.seconds(5, 120, ix.size)
    k.credit(ix, tried_at, result=FAILED)
    refunded_at = tried_at + k.seconds(60, 1800, ix.size)
    k.refund(ix, pays, refunded_at)
    k.status(ix, "refunded", refunded_at)


def _refunded_reversed_same_day(k: Kit, ix: np.ndarray) -> None:
    pays, credits, credited_at = k.clean(ix)
    reversed_at = credited_at + k.seconds(120, 1800, ix.size)
    k.reverse(ix, credits, reversed_at)
    refunded_at = reversed_at + k.seconds(30, 1800, ix.size)
    k.refund(ix, pays, refunded_at)
    k.status(ix, "refunded", refunded_at)


def _late_credit_same_day(k: Kit, ix: np.ndarray) -> None:
    k.pay(ix)
    credited_at = k.o["paid_at"][ix] + k.late_same_day(ix, k.o["paid_at"][ix])
    k.credit(ix, credited_at)
    k.status(ix, "credited", credited_at)


def _missing_credit(k: Kit, ix: np.ndarray) -> None:
    """Never credited; half of them after a failed attempt."""
    k.pay(ix)
    tried = ix[k.rng.random(ix.size) < 0.5]
    k.credit(tried, k.o["paid_at"][tried] + k.seconds(5, 300, tried.size), result=FAILED)
    k.status(ix, "paid", k.o["paid_at"][ix])


def _missing_credit_credited_later(k: Kit, ix: np.ndarray) -> None:
    k.pay(ix)
    k.credit(ix, k.later(ix))
    k.status(ix, "paid", k.o["paid_at"][ix])


def _missing_credit_refunded_later(k: Kit, ix: np.ndarray) -> None:
    pays = k.pay(ix)
    k.refund(ix, pays, k.later(ix))
    k.status(ix, "paid", k.o["paid_at"][ix])


def _missing_credit_orphan_link(k: Kit, ix: np.ndarray) -> None:
    """Paid late in the evening, never credited through the order: billing credits the number
    by hand next morning, without an order id. The matcher suggests the link."""
    k.pay(ix)
    at = k.day0 + DAY + int(2.5 * HOUR) + k.seconds(0, int(2.5 * HOUR), ix.size)
    k.unordered_credit(k.o["msisdn"][ix], k.o["product_type"][ix], k.o["face_fen"][ix], at)
    k.status(ix, "paid", k.o["paid_at"][ix])


def _credit_without_payment(k: Kit, ix: np.ndarray) -> None:
    created_at = k.o["created_at"][ix]
    k.credit(ix, created_at + k.seconds(30, 600, ix.size))
    k.status(ix, "created", created_at)


def _refunded_but_credited(k: Kit, ix: np.ndarray) -> None:
    pays, _, credited_at = k.clean(ix)
    refunded_at = credited_at + k.seconds(600, 2 * HOUR, ix.size)
    k.refund(ix, pays, refunded_at)
    k.status(ix, "refunded", refunded_at)


def _old_order_refunded(k: Kit, ix: np.ndarray) -> None:
    pays, _, _ = k.clean(ix)
    k.refund(ix, pays, k.later(ix))


def _old_order_refunded_and_reversed(k: Kit, ix: np.ndarray) -> None:
    pays, credits, _ = k.clean(ix)
    reversed_at = k.later(ix)
    k.reverse(ix, credits, reversed_at)
    k.refund(ix, pays, reversed_at + k.seconds(60, HOUR, ix.size))


def _second_payment(k: Kit, ix: np.ndarray) -> np.ndarray:
    return k.pay(ix, at=k.o["paid_at"][ix] + k.seconds(5, 120, ix.size))


def _duplicate_payment(k: Kit, ix: np.ndarray) -> None:
    k.clean(ix)
    _second_payment(k, ix)


def _duplicate_payment_refunded_later(k: Kit, ix: np.ndarray) -> None:
    k.clean(ix)
    k.refund(ix, _second_payment(k, ix), k.later(ix))


def _duplicate_payment_refunded_same_day(k: Kit, ix: np.ndarray) -> None:
    k.clean(ix)
    extra = _second_payment(k, ix)
    k.refund(ix, extra, k.o["paid_at"][ix] + k.seconds(300, HOUR, ix.size))


def _duplicate_payment_late_credit(k: Kit, ix: np.ndarray) -> None:
    k.pay(ix)
    _second_payment(k, ix)
    credited_at = k.o["paid_at"][ix] + k.late_same_day(ix, k.o["paid_at"][ix])
    k.credit(ix, credited_at)
    k.status(ix, "credited", credited_at)


def _duplicate_credit(k: Kit, ix: np.ndarray) -> None:
    _, _, credited_at = k.clean(ix)
    k.credit(ix, np.minimum(credited_at + k.seconds(1, 90, ix.size), np.maximum(credited_at, k.cutoff - 1)))


def _wrong_payment_amount(k: Kit, ix: np.ndarray) -> None:
    off = k.tolerance_fen + k.rng.choice([1, 10, 100, 500], size=ix.size)
    pay = k.o["pay_fen"][ix]
    amount = np.where((k.rng.random(ix.size) < 0.5) & (pay > off), pay - off, pay + off)
    k.clean(ix, amount=amount)


def _wrong_credit_amount(k: Kit, ix: np.ndarray) -> None:
    face = k.o["face_fen"][ix]
    k.clean(ix, credit_amount=np.where(k.rng.random(ix.size) < 0.5, face // 2, face + 1_000))


def _partial_refund_amount(k: Kit, ix: np.ndarray) -> np.ndarray:
    pay = k.o["pay_fen"][ix]
    part = (pay * k.rng.uniform(0.1, 0.9, size=ix.size)).astype(np.int64)
    return np.clip(part, k.tolerance_fen + 1, pay - 1)


def _partial_refund_same_day(k: Kit, ix: np.ndarray) -> None:
    pays, _, credited_at = k.clean(ix)
    k.refund(ix, pays, credited_at + k.seconds(1800, 2 * HOUR, ix.size), amount=_partial_refund_amount(k, ix))


def _partial_refund_later(k: Kit, ix: np.ndarray) -> None:
    pays, _, _ = k.clean(ix)
    k.refund(ix, pays, k.later(ix), amount=_partial_refund_amount(k, ix))


def _status_mismatch(k: Kit, ix: np.ndarray) -> None:
    _, _, credited_at = k.clean(ix)
    wrong = k.rng.choice([STATUS["failed"], STATUS["paid"], STATUS["created"], STATUS["cancelled"]],
                         size=ix.size, p=[0.4, 0.4, 0.1, 0.1])
    k.status(ix, wrong, credited_at)


def _reversed_later(k: Kit, ix: np.ndarray) -> None:
    _, credits, _ = k.clean(ix)
    k.reverse(ix, credits, k.later(ix))


def _fee_mismatch(k: Kit, ix: np.ndarray) -> None:
    k.clean(ix, fee_delta=k.rng.choice([-1, 1, 2, 5, 10, 30], size=ix.size))


def _fee_not_returned(k: Kit, ix: np.ndarray) -> None:
    """A same-day refund whose fee the provider kept (fee 0.00 on the refund row)."""
    pays = k.pay(ix)
    tried_at = k.o["paid_at"][ix] + k.seconds(5, 120, ix.size)
    k.credit(ix, tried_at, result=FAILED)
    refunded_at = tried_at + k.seconds(60, 1800, ix.size)
    k.refund(ix, pays, refunded_at, fee=np.zeros(ix.size, dtype=np.int64))
    k.status(ix, "refunded", refunded_at)


def _wechat_refund_processing(k: Kit, ix: np.ndarray) -> None:
    """A refund asked for and still PROCESSING in the bill: not money returned, no break."""
    pays, _, credited_at = k.clean(ix)
    k.refund(ix, pays, credited_at + k.seconds(600, 2 * HOUR, ix.size), status=PROCESSING,
             fee=np.zeros(ix.size, dtype=np.int64))


@dataclass(frozen=True)
class Scenario:
    name: str
    per_mille: float
    outcome: str  # at the order's own date
    later: str  # what later runs see, in words
    build: Callable[[Kit, np.ndarray], None] = field(repr=False)
    hours: tuple[float, float] = (0, 24)  # window of the anchor time (payment, or creation)
    paid: bool = True  # anchor is the payment; else the creation, and there is no payment
    method: str | None = None  # a provider the scenario needs
    not_first_day: bool = False
    complaint: tuple[str, float] | None = None  # category, share of these orders complaining


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("MATCHED", 0, "MATCHED", "-", _matched, complaint=("other", 0.001)),
    Scenario("MATCHED_MIDNIGHT", 3, "MATCHED", "-", _matched_midnight, hours=(23 + 59 / 60, 24)),
    Scenario("MATCHED_PAID_AFTER_MIDNIGHT", 2, "MATCHED", "-", _matched_paid_after_midnight,
             hours=(0, 0.05), not_first_day=True),
    Scenario("UNPAID", 50, "UNPAID", "-", _unpaid, paid=False, complaint=("payment", 0.01)),
    Scenario("REFUNDED_CLEAN", 4, "REFUNDED_CLEAN", "-", _refunded_clean, hours=(0, 22),
             complaint=("refund", 0.05)),
    Scenario("REFUNDED_REVERSED_SAME_DAY", 2, "REFUNDED_CLEAN", "-", _refunded_reversed_same_day, hours=(0, 22)),
    Scenario("LATE_CREDIT_SAME_DAY", 6, "LATE_CREDIT", "-", _late_credit_same_day, hours=(0, 22),
             complaint=("late_credit", 0.15)),
    Scenario("MISSING_CREDIT", 3, "MISSING_CREDIT", "open every day", _missing_credit,
             complaint=("not_credited", 0.35)),
    Scenario("MISSING_CREDIT_CREDITED_LATER", 3, "MISSING_CREDIT",
             "open until the credit lands k days later, then LATE_CREDIT resolved with its first_seen",
             _missing_credit_credited_later, complaint=("not_credited", 0.35)),
    Scenario("MISSING_CREDIT_REFUNDED_LATER", 2, "MISSING_CREDIT",
             "open until the refund k days later: MISSING_CREDIT resolved", _missing_credit_refunded_later,
             complaint=("not_credited", 0.35)),
    Scenario("MISSING_CREDIT_ORPHAN_LINK", 2, "MISSING_CREDIT",
             "open; next morning an ORPHAN_CREDIT without order id for its msisdn and face value: a suggestion",
             _missing_credit_orphan_link, hours=(21, 23.5), complaint=("not_credited", 0.35)),
    Scenario("CREDIT_WITHOUT_PAYMENT", 2, "CREDIT_WITHOUT_PAYMENT", "open", _credit_without_payment,
             hours=(0, 23.5), paid=False),
    Scenario("REFUNDED_BUT_CREDITED", 2, "REFUNDED_BUT_CREDITED", "open", _refunded_but_credited,
             hours=(0, 21), complaint=("refund", 0.05)),
    Scenario("OLD_ORDER_REFUNDED", 2, "MATCHED", "REFUNDED_BUT_CREDITED first seen on the refund's date, open",
             _old_order_refunded, complaint=("refund", 0.05)),
    Scenario("OLD_ORDER_REFUNDED_AND_REVERSED", 3, "MATCHED", "refund and reversal the same later day: clean",
             _old_order_refunded_and_reversed, complaint=("refund", 0.05)),
    Scenario("DUPLICATE_PAYMENT", 2, "DUPLICATE_PAYMENT", "open", _duplicate_payment, hours=(0, 23.9),
             complaint=("payment", 0.3)),
    Scenario("DUPLICATE_PAYMENT_REFUNDED_LATER", 2, "DUPLICATE_PAYMENT",
             "resolved when the extra payment is refunded k days later", _duplicate_payment_refunded_later,
             hours=(0, 23.9), complaint=("payment", 0.3)),
    Scenario("DUPLICATE_PAYMENT_REFUNDED_SAME_DAY", 2, "MATCHED", "-", _duplicate_payment_refunded_same_day,
             hours=(0, 22)),
    Scenario("DUPLICATE_PAYMENT_LATE_CREDIT", 1, "DUPLICATE_PAYMENT",
             "two breaks: DUPLICATE_PAYMENT open, LATE_CREDIT resolved", _duplicate_payment_late_credit,
             hours=(0, 22), complaint=("payment", 0.3)),
    Scenario("DUPLICATE_CREDIT", 2, "DUPLICATE_CREDIT", "open", _duplicate_credit),
    Scenario("AMOUNT_MISMATCH_PAYMENT", 2, "AMOUNT_MISMATCH", "open", _wrong_payment_amount,
             complaint=("wrong_amount", 0.2)),
    Scenario("AMOUNT_MISMATCH_CREDIT", 2, "AMOUNT_MISMATCH", "open", _wrong_credit_amount,
             complaint=("wrong_amount", 0.3)),
    Scenario("PARTIAL_REFUND_SAME_DAY", 2, "AMOUNT_MISMATCH", "open", _partial_refund_same_day, hours=(0, 21),
             complaint=("refund", 0.1)),
    Scenario("PARTIAL_REFUND_LATER", 2, "MATCHED", "AMOUNT_MISMATCH first seen on the refund's date, open",
             _partial_refund_later, complaint=("refund", 0.1)),
    Scenario("STATUS_MISMATCH", 3, "STATUS_MISMATCH", "open", _status_mismatch),
    Scenario("REVERSED_LATER", 2, "MATCHED", "MISSING_CREDIT first seen on the reversal's date, open",
             _reversed_later, complaint=("not_credited", 0.3)),
    Scenario("FEE_MISMATCH", 2, "MATCHED", "FEE_MISMATCH (provider, txn id) open from the payment's date",
             _fee_mismatch),
    Scenario("FEE_NOT_RETURNED", 1, "REFUNDED_CLEAN", "FEE_MISMATCH on the payment's key, open", _fee_not_returned,
             hours=(0, 22)),
    Scenario("WECHAT_REFUND_PROCESSING", 2, "MATCHED", "-", _wechat_refund_processing, hours=(0, 21),
             method="wechatpay"),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)

# Rows no order explains, per mille of the day's orders (on top of them).
ORPHAN_RATES: dict[str, float] = {
    "ORPHAN_PAYMENT": 2,  # paid for an order id in no orders file
    "ORPHAN_REFUND": 1,  # refund of a payment from before the landing zone (no break: control totals)
    "ORPHAN_CREDIT_NO_ORDER": 2,  # manual / promotion credit, empty order id
    "ORPHAN_CREDIT_UNKNOWN_ORDER": 1,  # credit naming an order id no orders file holds
}


@dataclass
class Batch:
    """One day's orders (ghost orders included: order ids that exist only in other rows) and
    every row they cause, whatever day it lands on."""

    orders: dict[str, np.ndarray]
    stmt: dict[str, np.ndarray]
    billing: dict[str, np.ndarray]


def _count(rng: np.random.Generator, per_mille: float, n: int) -> int:
    exact = per_mille * n / 1000
    whole = int(exact)
    return whole + int(rng.random() < exact - whole)


def build_day(rng: np.random.Generator, start0: int, day_index: int, n: int, first_oi: int,
              settings: Settings) -> Batch:
    """Draw ``n`` orders for day ``day_index`` of a range starting at ``start0`` (order indexes
    from ``first_oi``), assign scenarios and write all their rows."""
    day0 = start0 + day_index * DAY
    active = settings.providers.active
    counts = np.zeros(len(SCENARIOS), dtype=np.int64)
    for i, s in enumerate(SCENARIOS[1:], start=1):
        if not (s.not_first_day and day_index == 0) and (s.method is None or s.method in active):
            counts[i] = _count(rng, s.per_mille, n)
    if counts.sum() > n:
        raise ValueError(f"{n} orders a day are too few for the scenario rates")
    counts[0] = n - counts.sum()
    scenario = rng.permutation(np.repeat(np.arange(len(SCENARIOS), dtype=np.int16), counts))

    orphan_counts = {name: _count(rng, rate, n) for name, rate in ORPHAN_RATES.items()}
    n_ghost = orphan_counts["ORPHAN_PAYMENT"] + orphan_counts["ORPHAN_REFUND"] + orphan_counts["ORPHAN_CREDIT_UNKNOWN_ORDER"]
    total = n + n_ghost

    orders = draw_customers(rng, total, active)
    orders["oi"] = np.arange(first_oi, first_oi + total, dtype=np.int64)
    orders["day"] = np.full(total, day_index, dtype=np.int32)
    orders["scenario"] = np.concatenate([scenario, np.full(n_ghost, -1, dtype=np.int16)])
    orders["ghost"] = np.arange(total) >= n
    orders["paid_at"] = np.full(total, -1, dtype=np.int64)
    orders["created_at"] = np.zeros(total, dtype=np.int64)
    orders["status"] = np.zeros(total, dtype=np.int8)
    orders["updated_at"] = np.zeros(total, dtype=np.int64)

    grace_hours = settings.matching.grace_minutes / 60
    for code, s in enumerate(SCENARIOS):
        ix = np.flatnonzero(scenario == code)
        if s.method and ix.size:
            force_method(orders, ix, s.method, rng)
        # on the first day no credit may fall before the billing cut (into a day not generated)
        lo = max(s.hours[0], grace_hours) if day_index == 0 else s.hours[0]
        anchor = draw_times(rng, day0, ix.size, lo, s.hours[1])
        if s.paid:
            orders["paid_at"][ix] = anchor
            orders["created_at"][ix] = anchor - checkout_seconds(rng, ix.size)
        else:
            orders["created_at"][ix] = anchor

    stmt, billing = statement_rows(), billing_rows()
    kit = Kit(rng, day0, orders, settings, stmt, billing)
    for code, s in enumerate(SCENARIOS):
        ix = np.flatnonzero(scenario == code)
        if ix.size:
            s.build(kit, ix)
    _orphans(kit, n, orphan_counts, start0)
    # order ids number orders in the order they were created, as the platform's database does
    orders["seq"] = np.empty(total, dtype=np.int64)
    orders["seq"][np.argsort(orders["created_at"], kind="stable")] = np.arange(first_oi, first_oi + total)
    return Batch(orders, stmt.finish(), billing.finish())


def _orphans(k: Kit, n: int, counts: dict[str, int], start0: int) -> None:
    """Rows for order ids no orders file holds (the ghost orders after the day's ``n`` real
    ones) and credits with no order id at all."""
    bounds = np.cumsum([n, counts["ORPHAN_PAYMENT"], counts["ORPHAN_REFUND"], counts["ORPHAN_CREDIT_UNKNOWN_ORDER"]])
    paid, refunded, unknown = (np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:]))

    k.o["paid_at"][paid] = draw_times(k.rng, k.day0, paid.size, 0, 24)
    k.pay(paid)

    # The refunded payment was in a statement from before the first generated date: it is
    # dropped with everything else that lands before the range, and only the refund remains.
    k.o["paid_at"][refunded] = start0 - 40 * DAY
    k.refund(refunded, k.pay(refunded), draw_times(k.rng, k.day0, refunded.size, 3, 22))

    k.unordered_credit(k.o["msisdn"][unknown], k.o["product_type"][unknown], k.o["face_fen"][unknown],
                       _billing_day_times(k, unknown.size), oi=k.o["oi"][unknown])

    m = counts["ORPHAN_CREDIT_NO_ORDER"]
    strangers = draw_customers(k.rng, m, PROVIDERS)
    k.unordered_credit(strangers["msisdn"], strangers["product_type"], strangers["face_fen"],
                       _billing_day_times(k, m))

    ghosts = np.arange(n, len(k.o["oi"]))
    k.o["created_at"][ghosts] = np.where(k.o["paid_at"][ghosts] >= 0, k.o["paid_at"][ghosts] - 60, k.day0)


def _billing_day_times(k: Kit, n: int) -> np.ndarray:
    """Times over the day's billing export, [cut, cut next day) (the cut at 02:00 by default),
    on the hour-of-day curve."""
    t = draw_times(k.rng, k.day0, n, 0, 24)
    return np.where(t < k.day0 + k.grace, t + DAY, t)
