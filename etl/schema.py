"""The canonical shapes every parser produces: one for all provider statements, one per ledger.

These are the contracts between ``etl/ingest`` (which writes them to Parquet) and
``sql/staging`` (which reads them). Money is ``decimal128``: never float.
"""
from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
FEE = pa.decimal128(18, 5)  # WeChat states fees with 5 decimals
TS = pa.timestamp("s")  # local Asia/Shanghai wall time, as the files state it

# Lineage the parser fills: which member of a zip (null for a plain file) and which line.
PARSER_LINEAGE = [pa.field("source_member", pa.string()), pa.field("source_line", pa.int64())]

# One row per statement row, whatever the provider.
PAYMENTS = pa.schema(
    [
        pa.field("provider", pa.string(), nullable=False),  # alipay | wechatpay | unionpay
        pa.field("provider_txn_id", pa.string()),  # provider's id of the payment (for a refund: of the payment refunded)
        pa.field("refund_id", pa.string()),  # refund rows: merchant refund no., else the provider's refund id
        pa.field("order_id", pa.string()),  # merchant order id (for a refund: the original order's)
        pa.field("kind", pa.string(), nullable=False),  # payment | refund | void | unknown
        pa.field("amount", MONEY, nullable=False),  # order amount, positive magnitude
        pa.field("settle_amount", MONEY, nullable=False),  # what settles to the merchant, positive magnitude
        pa.field("fee", FEE, nullable=False),  # cost to the merchant: > 0 on payments, < 0 (returned) on refunds
        pa.field("event_at", TS, nullable=False),  # payment success / refund time
        pa.field("status", pa.string(), nullable=False),  # success | processing | failed | revoked | unknown
        pa.field("raw_type", pa.string()),  # the provider's own words: 交易/退款, SUCCESS/REFUND, S22/S30, …
        pa.field("pay_detail", pa.string()),  # bank / trade type / card type, for product reports
        *PARSER_LINEAGE,
    ]
)

ORDERS = pa.schema(
    [
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("created_at", TS, nullable=False),
        pa.field("msisdn", pa.string(), nullable=False),
        pa.field("province", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("product_type", pa.string()),
        pa.field("product_code", pa.string()),
        pa.field("face_value", MONEY, nullable=False),
        pa.field("pay_amount", MONEY, nullable=False),
        pa.field("pay_method", pa.string()),
        pa.field("status", pa.string()),
        pa.field("updated_at", TS),
        *PARSER_LINEAGE,
    ]
)

BILLING = pa.schema(
    [
        pa.field("credit_id", pa.string(), nullable=False),
        pa.field("order_id", pa.string()),  # null for credits the platform did not order
        pa.field("msisdn", pa.string()),
        pa.field("amount", MONEY, nullable=False),  # > 0 credit, < 0 reversal
        pa.field("product_type", pa.string()),
        pa.field("credited_at", TS, nullable=False),
        pa.field("result", pa.string(), nullable=False),  # success | failed | reversed
        pa.field("result_code", pa.string()),
        pa.field("reverses_credit_id", pa.string()),
        *PARSER_LINEAGE,
    ]
)

SURVEYS = pa.schema(
    [
        pa.field("response_id", pa.string(), nullable=False),
        pa.field("order_id", pa.string()),
        pa.field("submitted_at", TS),
        pa.field("csat", pa.int8()),
        pa.field("nps", pa.int8()),
        pa.field("comment", pa.string()),
        *PARSER_LINEAGE,
    ]
)

COMPLAINTS = pa.schema(
    [
        pa.field("ticket_id", pa.string(), nullable=False),
        pa.field("order_id", pa.string()),
        pa.field("msisdn", pa.string()),
        pa.field("opened_at", TS),
        pa.field("category", pa.string()),
        pa.field("closed_at", TS),
        *PARSER_LINEAGE,
    ]
)

# Schema of each landing source's staged rows.
SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    "alipay": PAYMENTS,
    "wechatpay": PAYMENTS,
    "unionpay": PAYMENTS,
    "orders": ORDERS,
    "billing": BILLING,
    "surveys": SURVEYS,
    "complaints": COMPLAINTS,
}
