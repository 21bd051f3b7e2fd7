"""The generated rows as canonical tables (``etl.schema`` shapes, no lineage columns), and the
writers of the internal ledgers in their landing formats (``shared/spec/landing.md``).

Everything is column-wise pyarrow: ids are built with string kernels, money goes from int64
fen straight into decimal128 buffers (exact), times from int64 seconds into ``timestamp[s]``.

Files per date and source (``<landing>/<date>/<source>/``):
- ``orders_<yyyymmdd>.csv`` (times ``2026-11-24T10:00:00+08:00``) or ``.parquet``;
- ``billing_<yyyymmdd>.csv`` (naive local times), split into ``_1``/``_2`` parts on some days, or
  ``.parquet``;
- ``surveys_<yyyymmdd>.csv`` and ``complaints_<yyyymmdd>.csv`` (naive local times).
CSV is UTF-8 with a header; ledgers are written unquoted (their values hold no commas), surveys
quoted (comments hold anything).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.generate.population import (
    CHANNELS,
    DAY,
    HOUR,
    COMMENTS,
    COMPLAINT_CATEGORIES,
    PRODUCT_CODES,
    PRODUCT_TYPES,
    PROVIDERS,
    PROVINCES,
    UNIONPAY_CARDS,
    WECHAT_BANKS,
)
from etl.generate.scenarios import KINDS, ORDER_STATUSES, RESULT_CODES, RESULTS, STATEMENT_STATUSES
from etl.schema import BILLING, COMPLAINTS, FEE, MONEY, ORDERS, PARSER_LINEAGE, PAYMENTS, SURVEYS, TS

_LINEAGE = {f.name for f in PARSER_LINEAGE}


def without_lineage(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in _LINEAGE])


ORDERS_ROWS = without_lineage(ORDERS)
PAYMENTS_ROWS = without_lineage(PAYMENTS)
BILLING_ROWS = without_lineage(BILLING)
SURVEYS_ROWS = without_lineage(SURVEYS)
COMPLAINTS_ROWS = without_lineage(COMPLAINTS)

# The statement's own words for a row, per provider (what the parsers keep in raw_type).
RAW_TYPES = {"alipay": ("交易", "退款"), "wechatpay": ("SUCCESS", "REFUND"), "unionpay": ("S22", "S30")}


# --- column builders --------------------------------------------------------------------------

def decimal_from_units(units: np.ndarray, type_: pa.Decimal128Type) -> pa.Array:
    """int64 counts of 10**-scale (fen for MONEY) as a decimal128 array, exactly."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((units.size, 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # two's-complement sign extension to 128 bits
    return pa.Array.from_buffers(type_, units.size, [None, pa.py_buffer(words)])


def money(fen: np.ndarray) -> pa.Array:
    return decimal_from_units(fen, MONEY)


def fee_decimal(fen: np.ndarray) -> pa.Array:
    return decimal_from_units(np.asarray(fen, dtype=np.int64) * 1000, FEE)


def timestamps(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64), TS, mask=missing)


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Codes into ``names`` as text; a negative code is null."""
    codes = np.asarray(codes)
    return pc.take(pa.array(names, pa.string()), pa.array(codes.astype(np.int32), mask=codes < 0))


def padded(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width, "0")


def yyyymmdd(seconds: np.ndarray) -> np.ndarray:
    """The calendar date of each time as an integer 20261124 (integer arithmetic: strftime is
    slow on tens of millions of rows)."""
    day = (np.asarray(seconds, dtype=np.int64) // DAY).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]").astype(np.int64) + 1970
    return year * 10_000 + (month.astype(np.int64) % 12 + 1) * 100 + (day - month).astype(np.int64) + 1


def hhmmss(seconds: np.ndarray) -> np.ndarray:
    of_day = np.asarray(seconds, dtype=np.int64) % DAY
    return of_day // HOUR * 10_000 + of_day // 60 % 60 * 100 + of_day % 60


def text(numbers: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string())


def concat(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def order_ids(seq: np.ndarray, created_at: np.ndarray) -> pa.Array:
    """``T<yyyymmdd of creation><run-wide sequence, 8+ digits>``: unique across the run."""
    return concat("T", text(yyyymmdd(created_at)), padded(seq + 1, 8))


def credit_ids(row: np.ndarray, credited_at: np.ndarray) -> pa.Array:
    return concat("C", text(yyyymmdd(credited_at)), padded(row + 1, 9))


def dated_ids(prefix: str, at: np.ndarray, width: int) -> pa.Array:
    """``<prefix><yyyymmdd><1, 2, … zero-padded to width>``."""
    return concat(prefix, text(yyyymmdd(at)), padded(np.arange(1, np.size(at) + 1), width))


def txn_ids(provider: np.ndarray, seq: np.ndarray, at: np.ndarray) -> pa.Array:
    """Each provider's style: Alipay 支付宝交易号 (28 digits), WeChat 微信订单号 (28 digits),
    UnionPay 查询流水号 (21: time to the second and a 7-digit sequence)."""
    styles = (
        lambda seq, at: concat(text(yyyymmdd(at)), "2200", padded(seq, 16)),
        lambda seq, at: concat("4200002001", text(yyyymmdd(at)), padded(seq, 10)),
        lambda seq, at: concat(text(yyyymmdd(at) * 1_000_000 + hhmmss(at)), padded(seq % 10_000_000, 7)),
    )
    rows = [np.flatnonzero(provider == code) for code in range(len(PROVIDERS))]
    pieces = pa.concat_arrays([style(seq[r], at[r]) for style, r in zip(styles, rows)])
    return pieces.take(pa.array(np.argsort(np.concatenate(rows), kind="stable")))


def msisdn_text(msisdn: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(msisdn, dtype=np.int64)).cast(pa.string())


# --- canonical tables -------------------------------------------------------------------------

def orders_table(o: dict[str, np.ndarray], order_id: pa.Array) -> pa.Table:
    return pa.table(
        {
            "order_id": order_id,
            "created_at": timestamps(o["created_at"]),
            "msisdn": msisdn_text(o["msisdn"]),
            "province": labels(o["province"], PROVINCES),
            "channel": labels(o["channel"], CHANNELS),
            "product_type": labels(o["product_type"], PRODUCT_TYPES),
            "product_code": labels(o["product"], PRODUCT_CODES),
            "face_value": money(o["face_fen"]),
            "pay_amount": money(o["pay_fen"]),
            "pay_method": labels(o["pay_method"], PROVIDERS),
            "status": labels(o["status"], ORDER_STATUSES),
            "updated_at": timestamps(o["updated_at"]),
        },
        schema=ORDERS_ROWS,
    )


def statement_table(s: dict[str, np.ndarray], txn_id: pa.Array, order_id: pa.Array) -> pa.Table:
    """Statement rows (any providers) in PAYMENTS shape; ``order_id`` per row."""
    provider = s["provider"]
    raw = np.empty(provider.size, dtype=np.int8)
    raw_names: list[str] = []
    for code, name in enumerate(PROVIDERS):
        rows = provider == code
        raw[rows] = len(raw_names) + s["kind"][rows]
        raw_names.extend(RAW_TYPES[name])
    detail = np.where(provider == PROVIDERS.index("wechatpay"), s["pay_detail"],
                      np.where(provider == PROVIDERS.index("unionpay"), s["pay_detail"] + len(WECHAT_BANKS), -1))
    detail = np.where(s["pay_detail"] < 0, -1, detail)
    is_refund = s["kind"] == KINDS.index("refund")
    refund_id = concat("RF", pc.utf8_slice_codeunits(order_id, 1), padded(s["refund_n"], 2))
    return pa.table(
        {
            "provider": labels(provider, PROVIDERS),
            "provider_txn_id": txn_id,
            "refund_id": pc.if_else(pa.array(is_refund), refund_id, pa.scalar(None, pa.string())),
            "order_id": order_id,
            "kind": labels(s["kind"], KINDS),
            "amount": money(s["amount"]),
            "settle_amount": money(s["amount"]),  # no provider-side coupons: all of it settles
            "fee": fee_decimal(s["fee"]),
            "event_at": timestamps(s["event_at"]),
            "status": labels(s["status"], STATEMENT_STATUSES),
            "raw_type": labels(raw, tuple(raw_names)),
            "pay_detail": labels(detail, WECHAT_BANKS + UNIONPAY_CARDS),
        },
        schema=PAYMENTS_ROWS,
    )


def billing_table(b: dict[str, np.ndarray], credit_id: pa.Array, order_id: pa.Array,
                  reverses_credit_id: pa.Array) -> pa.Table:
    """Billing rows; ids per row (order id null for credits nobody ordered)."""
    return pa.table(
        {
            "credit_id": credit_id,
            "order_id": order_id,
            "msisdn": msisdn_text(b["msisdn"]),
            "amount": money(b["amount"]),
            "product_type": labels(b["product_type"], PRODUCT_TYPES),
            "credited_at": timestamps(b["credited_at"]),
            "result": labels(b["result"], RESULTS),
            "result_code": labels(b["code"], RESULT_CODES),
            "reverses_credit_id": reverses_credit_id,
        },
        schema=BILLING_ROWS,
    )


def surveys_table(v: dict[str, np.ndarray], response_id: pa.Array, order_id: pa.Array) -> pa.Table:
    return pa.table(
        {
            "response_id": response_id,
            "order_id": order_id,
            "submitted_at": timestamps(v["submitted_at"]),
            "csat": pa.array(v["csat"], pa.int8(), mask=v["csat"] < 0),
            "nps": pa.array(v["nps"], pa.int8(), mask=v["nps"] < 0),
            "comment": labels(v["comment"], COMMENTS),
        },
        schema=SURVEYS_ROWS,
    )


def complaints_table(c: dict[str, np.ndarray], ticket_id: pa.Array, order_id: pa.Array) -> pa.Table:
    return pa.table(
        {
            "ticket_id": ticket_id,
            "order_id": order_id,
            "msisdn": msisdn_text(c["msisdn"]),
            "opened_at": timestamps(c["opened_at"]),
            "category": labels(c["category"], COMPLAINT_CATEGORIES),
            "closed_at": timestamps(c["closed_at"], missing=c["closed_at"] < 0),
        },
        schema=COMPLAINTS_ROWS,
    )


# --- writers ----------------------------------------------------------------------------------

def _as_text(table: pa.Table, iso: bool) -> pa.Table:
    """Times as ``2026-11-24 10:00:00``, or ISO ``2026-11-24T10:00:00+08:00`` (null stays
    empty), decimals as plain text, the rest as is."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.string())
            if iso:
                column = pc.binary_join_element_wise(
                    pc.replace_substring(column, " ", "T", max_replacements=1), "+08:00", "")
        elif pa.types.is_decimal(field.type):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _csv(table: pa.Table, path: Path, iso: bool = False, quoted: bool = False) -> Path:
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed" if quoted else "none",
                                 quoting_header="none")
    pacsv.write_csv(_as_text(table, iso), path, options)
    return path


def _parquet(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path, compression="zstd")
    return path


def write_orders(rows: pa.Table, folder: Path, day: date, parquet: bool) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"orders_{day:%Y%m%d}"
    if parquet:
        return [_parquet(rows, folder / f"{stem}.parquet")]
    return [_csv(rows, folder / f"{stem}.csv", iso=True)]


def write_billing(rows: pa.Table, folder: Path, day: date, parquet: bool, parts: int = 1) -> list[Path]:
    """The billing export; split in ``parts`` files of consecutive rows (as a large export is)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"billing_{day:%Y%m%d}"
    if parquet:
        return [_parquet(rows, folder / f"{stem}.parquet")]
    if parts == 1:
        return [_csv(rows, folder / f"{stem}.csv")]
    bounds = np.linspace(0, rows.num_rows, parts + 1).astype(int)
    return [_csv(rows.slice(a, b - a), folder / f"{stem}_{i}.csv")
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]), start=1)]


def write_surveys(rows: pa.Table, folder: Path, day: date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [_csv(rows, folder / f"surveys_{day:%Y%m%d}.csv", quoted=True)]


def write_complaints(rows: pa.Table, folder: Path, day: date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [_csv(rows, folder / f"complaints_{day:%Y%m%d}.csv")]
