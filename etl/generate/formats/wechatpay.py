"""WeChat Pay trade bill writer (``bill_type=ALL``): backtick-prefixed UTF-8 CSV with its
summary, plain or gzip, with ``<name>.sha1`` of the uncompressed bill beside it, as the v3
tradebill download gives it (see ``etl.ingest.wechatpay``)."""
from __future__ import annotations

import gzip as gzip_module
import hashlib
from decimal import Decimal
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.generate.formats import canonical_input, decimal_text, joined_bytes, refuse_chars, text_or_empty

COLUMNS = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
           "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
           "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
SUMMARY_COLUMNS = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
APP_ID = "wx1234567890abcdef"
PRODUCT = "话费充值"
RATE = "0.60%"
STATES = {"success": "SUCCESS", "revoked": "REVOKED"}


def write(rows: pa.Table, folder: Path, business_date: date, gzip: bool = False,
          mch_id: str = "1900000001") -> list[Path]:
    """Write one day's WeChat Pay bill ``<mch_id>_<yyyyMMdd>_ALL.csv[.gz]`` and its ``.sha1``
    into ``folder``; returns ``[bill path, sha1 path]``."""
    table = canonical_input(
        rows, {"payment": set(STATES), "refund": {"success", "processing", "fail", "change"}}, "wechatpay")
    data = bill_bytes(table, mch_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mch_id}_{business_date:%Y%m%d}_ALL.csv"
    if gzip:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip_module.compress(data, compresslevel=6, mtime=0))
    else:
        path.write_bytes(data)
    sha1 = path.with_name(path.name + ".sha1")
    sha1.write_text(hashlib.sha1(data).hexdigest() + "\n", "ascii")
    return [path, sha1]


def _sum(values: pa.Array, mask: pa.Array) -> Decimal:
    total = pc.sum(pc.filter(values, mask)).as_py()
    return Decimal(0) if total is None else Decimal(total)


def bill_bytes(table: pa.Table, mch_id: str) -> bytes:
    """The uncompressed bill: header, detail rows, summary header and row."""
    for column in ("provider_txn_id", "order_id", "refund_id", "pay_detail"):
        refuse_chars(table[column], column, "`\r\n")
    n = table.num_rows
    refund = pc.equal(table["kind"], "refund")
    pays = pc.invert(refund)
    zero = pa.scalar("0.00")

    def pay_only(values, other=zero):
        return pc.if_else(refund, other, values)

    def refund_only(values, other=zero):
        return pc.if_else(refund, values, other)

    amount = decimal_text(table["amount"], 2)
    settle = decimal_text(table["settle_amount"], 2)
    coupon = decimal_text(pc.subtract(table["amount"], table["settle_amount"]).cast(pa.decimal128(18, 2)), 2)
    # WeChat's own refund number: deterministic, unique per row.
    row_no = pc.utf8_lpad(pa.array(np.arange(n, dtype=np.int64)).cast(pa.string()), 8, "0")
    txn_tail = pc.utf8_slice_codeunits(text_or_empty(table["provider_txn_id"]), 2, 22)
    wx_refund_no = pc.binary_join_element_wise("50", txn_tail, row_no, "")
    state = pc.if_else(refund, "REFUND", pc.take(pa.array(list(STATES.values())),
                                                 pc.index_in(table["status"], value_set=pa.array(list(STATES)))))
    lines = pc.binary_join_element_wise(
        pc.binary_join_element_wise("`", table["event_at"].cast(pa.string()), ""),
        APP_ID, mch_id, "0", "",  # 公众账号ID, 商户号, 特约商户号, 设备号
        text_or_empty(table["provider_txn_id"]),
        text_or_empty(table["order_id"]),
        "",  # 用户标识
        "JSAPI",
        state,
        text_or_empty(table["pay_detail"]),
        "CNY",
        pay_only(settle),
        pay_only(coupon),
        refund_only(wx_refund_no, pa.scalar("0")),
        refund_only(text_or_empty(table["refund_id"]), pa.scalar("0")),
        refund_only(amount),
        "0.00",  # 充值券退款金额
        refund_only(pa.scalar("ORIGINAL"), pa.scalar("")),
        refund_only(pc.utf8_upper(table["status"]), pa.scalar("")),
        PRODUCT,
        "",  # 商户数据包
        decimal_text(table["fee"], 5),
        RATE,
        pay_only(amount),
        refund_only(amount),
        "\r\n",  # 费率备注 (empty), then the line end
        ",`",
    )
    summary = ",".join("`" + v for v in [
        str(n),
        f"{_sum(table['settle_amount'], pays):.2f}",
        f"{_sum(table['amount'], refund):.2f}",
        "0.00",
        f"{Decimal(pc.sum(table['fee']).as_py() or 0):.5f}",
        f"{_sum(table['amount'], pays):.2f}",
        f"{_sum(table['amount'], refund):.2f}",
    ])
    return (COLUMNS + "\r\n").encode() + joined_bytes(lines) + (SUMMARY_COLUMNS + "\r\n" + summary + "\r\n").encode()
