"""A tiny three-ledger builder for matcher tests: rows go straight into the warehouse's raw
tables (as the loader would put them), then the real SQL runs day by day."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from etl.config import load_settings
from etl.match import match_date
from etl.warehouse import Warehouse

D0 = date(2026, 11, 24)


def _ts(at: str) -> datetime:
    return datetime.fromisoformat(at)


def _day(landing: date | str | None, at: datetime) -> date:
    if landing is not None:
        return date.fromisoformat(landing) if isinstance(landing, str) else landing
    return at.date()


class Ledger:
    def __init__(self, wh: Warehouse):
        self.wh = wh
        self._ids = itertools.count(1)
        self.orders: dict[str, dict] = {}

    # -- the three ledgers ---------------------------------------------------------------
    def order(self, order_id: str, pay: str | float = "49.80", face: str | float = "50.00",
              status: str = "credited", at: str = "2026-11-24 10:00:00", landing: str | None = None,
              msisdn: str = "13812341234", product_type: str = "call_credit", pay_method: str = "alipay"):
        created = _ts(at)
        self.orders[order_id] = {"pay": Decimal(str(pay)), "face": Decimal(str(face))}
        self.wh.execute(
            "insert into raw_orders (order_id, created_at, msisdn, province, channel, product_type, product_code, "
            "face_value, pay_amount, pay_method, status, updated_at, source_file, source_line, file_hash, landing_date) "
            "values ($o, $c, $m, 'GD', 'app', $pt, 'CC50', $f, $p, $pm, $s, $c, 'orders.csv', $l, 'h', $d)",
            {"o": order_id, "c": created, "m": msisdn, "pt": product_type, "f": Decimal(str(face)),
             "p": Decimal(str(pay)), "pm": pay_method, "s": status, "l": next(self._ids),
             "d": _day(landing, created)})
        return self

    def payment(self, order_id: str, amount: str | float | None = None, at: str = "2026-11-24 10:00:05",
                txn: str | None = None, provider: str = "alipay", fee: str | None = None,
                status: str = "success", landing: str | None = None, kind: str = "payment"):
        event = _ts(at)
        amount_d = Decimal(str(amount)) if amount is not None else self.orders[order_id]["pay"]
        fee_d = Decimal(fee) if fee is not None else (amount_d * Decimal("0.006")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        txn = txn or f"{provider}-{order_id}"
        self._statement_row(provider, txn, None, order_id, kind, amount_d, fee_d, event, status, landing)
        return self

    def refund(self, order_id: str, amount: str | float | None = None, at: str = "2026-11-24 12:00:00",
               txn: str | None = None, provider: str = "alipay", refund_id: str | None = None,
               status: str = "success", landing: str | None = None):
        event = _ts(at)
        amount_d = Decimal(str(amount)) if amount is not None else self.orders[order_id]["pay"]
        fee_d = -(amount_d * Decimal("0.006")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        txn = txn or f"{provider}-{order_id}"
        self._statement_row(provider, txn, refund_id or f"RF{next(self._ids)}", order_id, "refund", amount_d,
                            fee_d, event, status, landing)
        return self

    def _statement_row(self, provider, txn, refund_id, order_id, kind, amount, fee, event, status, landing):
        self.wh.execute(
            "insert into raw_payments (provider, provider_txn_id, refund_id, order_id, kind, amount, settle_amount, "
            "fee, event_at, status, raw_type, source_file, source_line, file_hash, landing_date) "
            "values ($pr, $t, $r, $o, $k, $a, $a, $f, $e, $s, $k, $pr, $l, 'h', $d)",
            {"pr": provider, "t": txn, "r": refund_id, "o": order_id, "k": kind, "a": amount, "f": fee,
             "e": event, "s": status, "l": next(self._ids), "d": _day(landing, event)})

    def credit(self, order_id: str | None, amount: str | float | None = None, at: str = "2026-11-24 10:03:00",
               credit_id: str | None = None, result: str = "success", msisdn: str = "13812341234",
               landing: str | None = None, reverses: str | None = None):
        event = _ts(at)
        amount_d = Decimal(str(amount)) if amount is not None else self.orders[order_id]["face"]
        # billing of D runs from D 02:00 to D+1 02:00
        day = _day(landing, event - timedelta(hours=2))
        self.wh.execute(
            "insert into raw_billing (credit_id, order_id, msisdn, amount, product_type, credited_at, result, "
            "result_code, reverses_credit_id, source_file, source_line, file_hash, landing_date) "
            "values ($c, $o, $m, $a, 'call_credit', $t, $r, '0000', $v, 'billing.csv', $l, 'h', $d)",
            {"c": credit_id or f"C{next(self._ids)}", "o": order_id, "m": msisdn, "a": amount_d, "t": event,
             "r": result, "v": reverses, "l": next(self._ids), "d": day})
        return self

    def reversal(self, credit_id: str, order_id: str | None, at: str, amount: str | float = "-50.00"):
        return self.credit(order_id, amount=amount, at=at, result="reversed", reverses=credit_id,
                           credit_id=f"R-{credit_id}")

    def paid_and_credited(self, order_id: str, at: str = "2026-11-24 10:00:00", **order):
        """A clean order: paid 5 s after creation, credited 3 minutes later."""
        created = _ts(at)
        self.order(order_id, at=at, **order)
        self.payment(order_id, at=str(created + timedelta(seconds=5)))
        return self.credit(order_id, at=str(created + timedelta(minutes=3)))

    # -- running and reading -------------------------------------------------------------
    def run(self, *days: date | str) -> None:
        for d in days or (D0,):
            match_date(self.wh, date.fromisoformat(d) if isinstance(d, str) else d)

    def breaks(self, on: date | str = D0, status: str | None = None) -> set[tuple]:
        """Exported breaks of a run as (type, key) pairs, run for every day up to ``on``."""
        on = date.fromisoformat(on) if isinstance(on, str) else on
        self._run_through(on)
        rows = self.wh.rows(
            "select break_type, coalesce(order_id, ''), provider, provider_txn_id, credit_id, status "
            "from break_log where business_date = $d and exported", {"d": on})
        out = set()
        for break_type, order_id, provider, txn, credit_id, st in rows:
            if status is not None and st != status:
                continue
            if break_type == "ORPHAN_PAYMENT" or break_type == "FEE_MISMATCH":
                out.add((break_type, provider, txn))
            elif break_type == "ORPHAN_CREDIT":
                out.add((break_type, credit_id))
            else:
                out.add((break_type, order_id))
        return out

    def statuses(self, on: date | str = D0) -> dict[tuple, tuple]:
        on = date.fromisoformat(on) if isinstance(on, str) else on
        self._run_through(on)
        return {(t, k): (s, str(f)) for t, k, s, f in self.wh.rows(
            "select break_type, coalesce(order_id, credit_id, provider_txn_id), status, first_seen "
            "from break_log where business_date = $d and exported", {"d": on})}

    def row(self, break_type: str, on: date | str = D0) -> dict:
        on = date.fromisoformat(on) if isinstance(on, str) else on
        self._run_through(on)
        cur = self.wh.execute("select * from break_log where business_date = $d and break_type = $t and exported",
                              {"d": on, "t": break_type})
        names = [c[0] for c in cur.description]
        rows = cur.fetchall()
        assert len(rows) == 1, rows
        return dict(zip(names, rows[0]))

    def outcome(self, order_id: str, on: date | str = D0) -> str:
        on = date.fromisoformat(on) if isinstance(on, str) else on
        self._run_through(on)
        return self.wh.scalar("select outcome from order_eval where business_date = $d and order_id = $o",
                              {"d": on, "o": order_id})

    def _run_through(self, on: date) -> None:
        done = {d for (d,) in self.wh.rows("select distinct business_date from control_totals")}
        first = self.wh.scalar("select min(landing_date) from (select landing_date from raw_orders union all "
                               "select landing_date from raw_payments union all select landing_date from raw_billing)")
        day = first or on
        while day <= on:
            if day not in done or day == on:
                match_date(self.wh, day)
            day += timedelta(days=1)


@pytest.fixture
def settings(tmp_path):
    return load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb"), "RECON_LANDING": str(tmp_path / "landing"),
                          "RECON_OUTPUT": str(tmp_path / "out"), "RECON_QUARANTINE": str(tmp_path / "q"),
                          "RECON_STAGING": str(tmp_path / "staging")})


@pytest.fixture
def ledger(settings):
    with Warehouse(settings) as wh:
        yield Ledger(wh)
