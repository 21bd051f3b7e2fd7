"""Property: any canonical rows a provider can state, written in its real format and parsed
back, are the same rows, to the fen and the second (and for the ledgers: any text, commas,
quotes, markup and CJK included, comes back as it went in)."""
from __future__ import annotations

import string
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.generate.formats import alipay as alipay_format
from etl.generate.formats import unionpay as unionpay_format
from etl.generate.formats import wechatpay as wechatpay_format
from etl.ingest import alipay, ledgers, unionpay, wechatpay
from etl.schema import ORDERS, PAYMENTS

CANONICAL = pa.schema([f for f in PAYMENTS if f.name not in ("source_member", "source_line")])
DAY = date(2026, 11, 24)
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Ids as providers print them: no separators, nothing their parsers strip; WeChat's "0" means "none".
ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=20).filter(lambda s: s != "0")
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
fees_fen = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("999.99"), places=2)
fees_wechat = st.decimals(min_value=Decimal("0.00000"), max_value=Decimal("999.99999"), places=5)
times = st.integers(0, 86_399).map(lambda s: datetime.combine(DAY, time()) + timedelta(seconds=s))


def at_most(amount: Decimal):
    return st.decimals(min_value=Decimal("0.00"), max_value=amount, places=2)


@st.composite
def alipay_rows(draw):
    kind = draw(st.sampled_from(["payment", "refund"]))
    amount = draw(amounts)
    fee = draw(fees_fen)
    return {"provider": "alipay", "provider_txn_id": draw(ids), "refund_id": draw(ids) if kind == "refund" else None,
            "order_id": draw(ids), "kind": kind, "amount": amount, "settle_amount": draw(at_most(amount)),
            "fee": fee if kind == "payment" else -fee, "event_at": draw(times), "status": "success",
            "raw_type": "交易" if kind == "payment" else "退款", "pay_detail": None}


@st.composite
def wechat_rows(draw):
    kind = draw(st.sampled_from(["payment", "refund"]))
    amount = draw(amounts)
    fee = draw(fees_wechat)
    if kind == "payment":
        status = draw(st.sampled_from(["success", "revoked"]))
        return {"provider": "wechatpay", "provider_txn_id": draw(ids), "refund_id": None, "order_id": draw(ids),
                "kind": kind, "amount": amount, "settle_amount": draw(at_most(amount)), "fee": fee,
                "event_at": draw(times), "status": status, "raw_type": status.upper(),
                "pay_detail": draw(st.one_of(st.none(), ids))}
    return {"provider": "wechatpay", "provider_txn_id": draw(ids), "refund_id": draw(ids), "order_id": draw(ids),
            "kind": kind, "amount": amount, "settle_amount": amount, "fee": -fee, "event_at": draw(times),
            "status": draw(st.sampled_from(["success", "processing", "fail", "change"])), "raw_type": "REFUND",
            "pay_detail": draw(st.one_of(st.none(), ids))}


@st.composite
def unionpay_rows(draw):
    kind = draw(st.sampled_from(["payment", "refund", "void"]))
    amount = draw(amounts)
    fee = draw(fees_fen)
    code = {"payment": draw(st.sampled_from(["S22", "S56"])), "refund": "S30", "void": "S22"}[kind]
    return {"provider": "unionpay", "provider_txn_id": draw(ids), "refund_id": None if kind == "payment" else draw(ids),
            "order_id": draw(ids), "kind": kind, "amount": amount, "settle_amount": amount,
            "fee": fee if kind == "payment" else -fee, "event_at": draw(times), "status": "success",
            "raw_type": code, "pay_detail": draw(st.sampled_from(["01", "02", "03"]))}


def round_trip(writer, parser, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=CANONICAL)
    with TemporaryDirectory() as folder:
        path = writer(table, Path(folder), DAY)[0]
        parsed = parser.parse(path).rows
    assert parsed.select(CANONICAL.names).equals(table)
    assert parsed["source_line"].to_pylist() == sorted(parsed["source_line"].to_pylist())


class TestProviderRoundTrip:
    """Writer then parser is the identity on canonical rows, for each provider."""

    @PROPERTY
    @given(st.lists(alipay_rows(), max_size=25))
    def test_alipay(self, rows):
        round_trip(alipay_format.write, alipay, rows)

    @PROPERTY
    @given(st.lists(wechat_rows(), max_size=25), st.booleans())
    def test_wechatpay(self, rows, gzip):
        round_trip(lambda t, f, d: wechatpay_format.write(t, f, d, gzip=gzip), wechatpay, rows)

    @PROPERTY
    @given(st.lists(unionpay_rows(), max_size=25))
    def test_unionpay(self, rows):
        round_trip(unionpay_format.write, unionpay, rows)


# Free text as an export may hold it: any printable character, commas, quotes, '=', '<', CJK and
# emoji included (surrounding spaces are trimmed by the parser by design: not generated).
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")) | st.sampled_from(' ,"'),
                min_size=1, max_size=30).filter(lambda s: s == s.strip())
LEDGER_FIELDS = [f for f in ORDERS if f.name not in ("source_member", "source_line")]


@st.composite
def order_rows(draw, index: int):
    face = draw(amounts)
    return {"order_id": f"T{index:08d}", "created_at": draw(times), "msisdn": "1" + draw(st.text(string.digits,
            min_size=10, max_size=10)), "province": draw(st.one_of(st.none(), texts)),
            "channel": draw(st.one_of(st.none(), texts)), "product_type": draw(st.one_of(st.none(), texts)),
            "product_code": draw(st.one_of(st.none(), texts)), "face_value": face, "pay_amount": draw(at_most(face)),
            "pay_method": draw(st.sampled_from(["alipay", "wechatpay", "unionpay"])),
            "status": draw(st.sampled_from(["created", "paid", "credited", "failed", "refunded", "cancelled"])),
            "updated_at": draw(st.one_of(st.none(), times))}


class TestLedgerRoundTrip:
    """An orders CSV written by a standard CSV writer (quoting what needs it) parses back to
    the same rows, whatever the text fields hold."""

    @PROPERTY
    @given(st.integers(0, 20).flatmap(lambda n: st.tuples(*(order_rows(i) for i in range(n)))))
    def test_orders(self, rows):
        table = pa.Table.from_pylist(list(rows), schema=pa.schema(LEDGER_FIELDS))
        with TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            pacsv.write_csv(table, path)
            parsed = ledgers.parse(path, "orders").rows
        assert parsed.select([f.name for f in LEDGER_FIELDS]).equals(table)
