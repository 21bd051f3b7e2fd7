"""The generator's hook for extra rows: unused, it changes no byte; used, only the named
day's files change, and they still parse, each with one row more (the end-to-end loop shows
the rows themselves come back: refunds by their request number, credits by their id)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from etl.generate import ExtraRows, generate_landing
from etl.generate.ledgers import BILLING_ROWS, PAYMENTS_ROWS
from etl.ingest.stage import stage_source

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_unused_hook_changes_no_byte(tmp_path):
    generate_landing(tmp_path / "a" / "landing", D1, 2, 200, seed=3)
    generate_landing(tmp_path / "b" / "landing", D1, 2, 200, seed=3, extra=ExtraRows())
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_extra_rows_land_in_their_day_only(tmp_path, monkeypatch):
    plain, extra_root = tmp_path / "plain" / "landing", tmp_path / "extra" / "landing"
    generate_landing(plain, D1, 2, 200, seed=3)
    refund = pa.table({"provider": ["wechatpay"], "provider_txn_id": ["4200002001202611010000000001"],
                       "refund_id": ["RF0123456789ABCDEF0123456789ABCD"], "order_id": ["T2026110100000001"],
                       "kind": ["refund"], "amount": pa.array([Decimal("49.80")], pa.decimal128(18, 2)),
                       "settle_amount": pa.array([Decimal("49.80")], pa.decimal128(18, 2)),
                       "fee": pa.array([Decimal("-0.30")], pa.decimal128(18, 5)),
                       "event_at": pa.array([datetime(2026, 11, 2, 11, 0)], pa.timestamp("s")),
                       "status": ["success"], "raw_type": ["REFUND"], "pay_detail": pa.array([None], pa.string())},
                      schema=PAYMENTS_ROWS)
    credit = pa.table({"credit_id": ["RC0123456789ABCDEF0123456789ABCD"], "order_id": ["T2026110100000002"],
                       "msisdn": ["13812341234"], "amount": pa.array([Decimal("50.00")], pa.decimal128(18, 2)),
                       "product_type": ["call_credit"],
                       "credited_at": pa.array([datetime(2026, 11, 2, 10, 0)], pa.timestamp("s")),
                       "result": ["success"], "result_code": ["0000"], "reverses_credit_id": pa.array([None], pa.string())},
                      schema=BILLING_ROWS)
    generate_landing(extra_root, D1, 2, 200, seed=3, extra=ExtraRows(statement={D2: refund}, billing={D2: credit}))
    a, b = digests(plain), digests(extra_root)
    changed = {name for name in a if a[name] != b.get(name)}
    assert changed and all(name.startswith("2026-11-02/wechatpay/") or name.startswith("2026-11-02/billing/")
                           for name in changed), changed

    from etl.config import load_settings
    from tests.conftest import paths_env

    settings = load_settings(paths_env(tmp_path / "extra"))
    wechat = stage_source(settings, D2, "wechatpay")
    billing = stage_source(settings, D2, "billing")
    assert wechat.problem is None and billing.problem is None
    assert sum(f.rows for f in wechat.files) == _rows(plain, D2, "wechatpay", settings) + 1
    assert sum(f.rows for f in billing.files) == _rows(plain, D2, "billing", settings) + 1


def _rows(landing: Path, day: date, source: str, settings) -> int:
    from etl.config import load_settings
    from tests.conftest import paths_env

    other = load_settings(paths_env(landing.parent))
    return sum(f.rows for f in stage_source(other, day, source).files)
