"""What a fix may move, read from the warehouse (sql/fixes/): the fixes a break allows, with
their targets and bounds, and, at sending, what a payment has left after its refunds.

Opened read-only: proposing and sending never take the warehouse's write lock, so they never
block or wait for the night's run (and fail at once, clearly, while it holds the file).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from etl.config import Settings
from etl.warehouse import Warehouse

MODELS = ("fixes/fix_scope", "fixes/refundable_payments", "fixes/standing_credits", "fixes/fix_candidates")


@dataclass(frozen=True)
class FixOption:
    break_key: str
    break_type: str
    kind: str  # refund | recredit | reversal
    target: str  # provider:txn for a refund, the credit id for a reversal, the order id for a re-credit
    order_id: str | None
    provider: str | None
    provider_txn_id: str | None
    credit_id: str | None
    msisdn: str | None
    product_type: str | None
    payment_amount: Decimal | None
    max_amount: Decimal  # never more than the break's difference, the payment's remainder, the credit


def open_warehouse(settings: Settings) -> Warehouse:
    if not settings.paths.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {settings.paths.warehouse}: run `recon run` first")
    return Warehouse(settings, read_only=True)


def latest_run_date(wh: Warehouse) -> date | None:
    return wh.scalar("select max(business_date) from break_log")


def fix_options(wh: Warehouse, break_keys: list[str], run_date: date | None = None) -> list[FixOption]:
    """Every fix the open breaks ``break_keys`` allow, as of the latest run (or ``run_date``)."""
    run_date = run_date or latest_run_date(wh)
    if run_date is None:
        return []
    params = {"run_date": run_date, "break_keys": list(break_keys)}
    for name in MODELS:
        wh.model(name, params)
    cur = wh.execute("select * from fix_candidates")
    names = [c[0] for c in cur.description]
    return [FixOption(**dict(zip(names, row))) for row in cur.fetchall()]


def payment_remaining(wh: Warehouse, provider: str, provider_txn_id: str) -> Decimal | None:
    """What the payment has left after the successful refunds the statements loaded so far state
    (None: no such successful payment)."""
    wh.execute("create or replace temp table fix_scope as select 'PAYMENT' as break_type, "
               "null::varchar as order_id, $p as provider, $t as provider_txn_id",
               {"p": provider, "t": provider_txn_id})
    wh.model("fixes/refundable_payments", {})
    return wh.scalar("select remaining from refundable_payments where provider = $p and provider_txn_id = $t",
                     {"p": provider, "t": provider_txn_id})


def landed_keys(wh: Warehouse, keys: list[str], through: date, since: date = date.min) -> dict[str, date]:
    """The fix keys that a statement refund (refund_id) or a billing row (credit_id) landed in
    [``since``, ``through``] states, and the landing date each was first seen. ``since`` (the
    run that found the break) keeps the night's look to the rows landed since, not the whole history."""
    if not keys:
        return {}
    rows = wh.rows(
        "select refund_id, min(landing_date) from raw_payments "
        "where kind = 'refund' and status = 'success' and list_contains($k, refund_id) "
        "and landing_date between $s and $d "
        "group by refund_id "
        "union all "
        "select credit_id, min(landing_date) from raw_billing "
        "where list_contains($k, credit_id) and landing_date between $s and $d "
        "and ((result = 'success' and amount > 0) or amount < 0 or result = 'reversed') "
        "group by credit_id",
        {"k": list(keys), "d": through, "s": since})
    return {key: day for key, day in rows}


def msisdn_for(wh: Warehouse, order_id: str | None, credit_id: str | None) -> str | None:
    """The phone a billing fix is for: the credit's (a reversal), else the order's latest delivery."""
    if credit_id:
        found = wh.scalar("select any_value(msisdn) from raw_billing where credit_id = $c", {"c": credit_id})
        if found:
            return found
    if order_id:
        return wh.scalar("select msisdn from raw_orders where order_id = $o "
                         "order by updated_at desc nulls last, landing_date desc limit 1", {"o": order_id})
    return None
