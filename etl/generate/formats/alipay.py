"""Alipay trade bill writer: ``<PID>0156_<yyyyMMdd>.csv.zip`` with the GBK 业务明细 member(s)
and the 业务明细(汇总) member, as Alipay delivers it (see ``etl.ingest.alipay``)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from etl.generate.formats import (canonical_input, decimal_text, delivered_at, gbk, joined_bytes, refuse_chars,
                                  write_zip)

COLUMNS = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
           "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
           "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")
SUMMARY_COLUMNS = ("门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,"
                   "商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）")
DASHES = "-" * 41
PRODUCT = "话费充值"
CREATED_BEFORE = 5  # seconds between 创建时间 and 完成时间 of a payment


def write(rows: pa.Table, folder: Path, business_date: date, pid: str = "20881234123412340156", *,
          max_rows_per_member: int | None = None) -> list[Path]:
    """Write one day's Alipay trade bill zip into ``folder``; returns ``[zip path]``.

    ``pid`` is the account as Alipay prints it (PID + ``0156``); a bare 16-digit PID gets the
    suffix. ``max_rows_per_member`` splits the detail rows into ``…业务明细_1.csv``, ``_2``, …,
    each a complete file with its own footer, as large days are delivered.
    """
    table = canonical_input(rows, {"payment": {"success"}, "refund": {"success"}}, "alipay")
    account = pid if len(pid) > 16 else pid + "0156"
    stem = f"{account}_{business_date:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    refund = pc.equal(table["kind"], "refund")
    fee_as_stated = pc.negate(table["fee"])  # Alipay states the fee as money out: -0.60 on a payment

    size = max_rows_per_member or max(table.num_rows, 1)
    chunks = [table.slice(i, size) for i in range(0, max(table.num_rows, 1), size)]
    fees = [fee_as_stated.slice(i, size) for i in range(0, max(table.num_rows, 1), size)]
    if len(chunks) == 1:
        members = [(f"{stem}_业务明细.csv", _detail(chunks[0], fees[0], business_date, account))]
    else:
        members = [(f"{stem}_业务明细_{i}.csv", _detail(chunk, fee, business_date, account))
                   for i, (chunk, fee) in enumerate(zip(chunks, fees), 1)]
    members.append((f"{stem}_业务明细(汇总).csv", _summary(table, refund, fee_as_stated, business_date, account)))
    path = folder / f"{stem}.csv.zip"
    write_zip(path, members, delivered_at(business_date), gbk_names=True)
    return [path]


def _title(kind: str, business_date: date, account: str) -> str:
    end = business_date + timedelta(days=1)
    return (f"#支付宝{kind}查询\r\n#账号：[{account}]\r\n"
            f"#起始日期：[{business_date:%Y年%m月%d日} 00:00:00]   终止日期：[{end:%Y年%m月%d日} 00:00:00]\r\n")


def _exported(business_date: date) -> str:
    return f"#导出时间：[{business_date + timedelta(days=1):%Y年%m月%d日} 09:00:00]\r\n"


def _sum(values: pa.Array, mask: pa.Array | None = None) -> Decimal:
    total = pc.sum(values if mask is None else pc.filter(values, mask)).as_py()
    return Decimal(0) if total is None else Decimal(total)


def _detail(table: pa.Table, fee_as_stated: pa.Array, business_date: date, account: str) -> bytes:
    refund = pc.equal(table["kind"], "refund")
    for column in ("provider_txn_id", "order_id", "refund_id"):
        refuse_chars(table[column], column, ",\r\n")

    def signed(values):
        return pc.if_else(refund, pc.negate(values), values)

    amount, received = signed(table["amount"]), signed(table["settle_amount"])
    discount = pc.subtract(amount, received).cast(pa.decimal128(18, 2))  # 商家优惠: what the merchant gave up
    event = table["event_at"].cast(pa.string())
    created = pc.subtract(table["event_at"], pa.scalar(CREATED_BEFORE, pa.duration("s"))).cast(pa.string())

    def b(text: str) -> pa.Scalar:
        return pa.scalar(text.encode("gbk"), pa.binary())

    tab = b("\t")
    zero = b("0.00")
    lines = pc.binary_join_element_wise(
        pc.binary_join_element_wise(gbk(table["provider_txn_id"]), tab, b("")),
        pc.binary_join_element_wise(gbk(table["order_id"]), tab, b("")),
        pc.if_else(refund, b("退款\t"), b("交易\t")),
        b(PRODUCT),
        created.cast(pa.binary()),
        event.cast(pa.binary()),
        tab, tab, tab, tab, tab,  # 门店编号, 门店名称, 操作员, 终端号, 对方账户
        decimal_text(amount, 2).cast(pa.binary()),
        decimal_text(received, 2).cast(pa.binary()),
        zero, zero, zero,  # 支付宝红包, 集分宝, 支付宝优惠
        decimal_text(discount, 2).cast(pa.binary()),
        zero, b(""),  # 券核销金额, 券名称
        b("0.00\t"), zero,  # 商家红包消费金额, 卡消费金额
        pc.binary_join_element_wise(pc.if_else(refund, gbk(table["refund_id"]), b("")), tab, b("")),
        _fee_text(fee_as_stated),
        zero,  # 分润
        b("\r\n"),  # 备注 (empty), then the line end
        b(","),
    )
    pays, refunds = pc.invert(refund), refund
    footer = (
        f"#{DASHES}业务明细列表结束{DASHES[:-5]}\r\n"
        f"#交易合计：{_count(pays)}笔，商家实收共{_sum(table['settle_amount'], pays):.2f}元，"
        f"商家优惠共{_sum(discount, pays):.2f}元\r\n"
        f"#退款合计：{_count(refunds)}笔，商家实收退款共{-_sum(table['settle_amount'], refunds):.2f}元，"
        f"商家优惠退款共{_sum(discount, refunds):.2f}元\r\n"
        + _exported(business_date)
    )
    head = _title("业务明细", business_date, account) + f"#{DASHES}业务明细列表{DASHES[:-1]}\r\n" + COLUMNS + "\r\n"
    return head.encode("gbk") + joined_bytes(lines) + footer.encode("gbk")


def _fee_text(fee_as_stated: pa.Array) -> pa.Array:
    try:
        return decimal_text(fee_as_stated, 2).cast(pa.binary())
    except ValueError:
        raise ValueError("Alipay states fees to the fen: a fee has more than 2 decimals") from None


def _count(mask: pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


def _summary(table: pa.Table, refund: pa.Array, fee_as_stated: pa.Array, business_date: date, account: str) -> bytes:
    pays = pc.invert(refund)
    net_amount = _sum(table["amount"], pays) - _sum(table["amount"], refund)
    net_received = _sum(table["settle_amount"], pays) - _sum(table["settle_amount"], refund)
    fee = _sum(fee_as_stated)
    total = ",".join([
        "合计", "", str(_count(pays)), str(_count(refund)), f"{net_amount:.2f}", f"{net_received:.2f}", "0.00",
        f"{net_amount - net_received:.2f}", "0.00", f"{fee:.2f}", "0.00", f"{net_received + fee:.2f}",
    ])
    text = (_title("业务汇总", business_date, account) + f"#{DASHES}业务汇总列表{DASHES[:-1]}\r\n"
            + SUMMARY_COLUMNS + "\r\n" + total + "\r\n" + f"#{DASHES[:-1]}业务汇总列表结束{DASHES[:-4]}\r\n"
            + _exported(business_date))
    return text.encode("gbk")

