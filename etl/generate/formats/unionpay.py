"""UnionPay online payment (全渠道) settlement writer: ``<merId>_<yyyyMMdd>.zip`` holding the
608-byte GBK 流水 member ``INN<YYMMDD>88ZM_<merId>`` and the ``RD…`` summary report in the
layout of UnionPay's published sample (see ``etl.ingest.unionpay``).

Records are assembled a block of rows at a time as a (rows × 610) byte matrix, each field
written into its columns for all rows of the block at once, and streamed into the zip.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.generate.formats import canonical_input, delivered_at, single, text_or_empty, unscaled, write_zip

RECORD = 608  # bytes, without CRLF
BLOCK = 1 << 17  # records assembled at a time (80 MB): a day's member is never held whole
KINDS = ("payment", "refund", "void")
TXN_TYPES = (b"01", b"04", b"31")  # 交易类型 per kind: a void is told by 31, its code stays S22
SUB_TYPES = (b"01", b"00", b"00")
CODES = (b"S22", b"S30", b"S56")  # 交易代码; S56 (self-service purchase) only where raw_type says so
TYPE_NAMES = ("消费", "退货", "自助消费")
CARD_TYPES = ("01", "02", "03")
CARD_NAMES = ("借记卡", "贷记卡", "准贷记卡", "其他卡")

# Fields that are the same on every record: (offset, bytes).
CONSTANT_FIELDS = (
    (4, b"48020000   "), (16, b"00049993   "), (46, b"622609******0048   "), (79, b"4814"), (84, b"07"),
    (109, b"01"), (194, b"0001"), (221, b"000201"), (228, b"01"), (311, b"000000000000000"),
    (360, b" 000000000000"), (388, b"01080209"), (430, b" 000000000000"), (444, b" 000000000000"),
    (458, b" 00000000000"), (474, b"7"),
)


def write(rows: pa.Table, folder: Path, business_date: date, mer_id: str = "898111111111111") -> list[Path]:
    """Write one day's UnionPay settlement zip into ``folder``; returns ``[zip path]``."""
    if not (mer_id.isascii() and len(mer_id) <= 15):
        raise ValueError(f"merchant id {mer_id!r}: at most 15 ASCII characters")
    table = canonical_input(rows, {"payment": {"success"}, "refund": {"success"}, "void": {"success"}}, "unionpay")
    kind = _index(table["kind"], KINDS)
    self_service = pc.fill_null(pc.equal(table["raw_type"], "S56"), False).to_numpy(zero_copy_only=False)
    code = np.where(self_service & (kind != 1), 2, np.where(kind == 1, 1, 0))
    report = _report(table, kind, code, business_date, mer_id)
    blocks = (inn_bytes(table.slice(i, BLOCK), kind[i: i + BLOCK], code[i: i + BLOCK], mer_id, first_row=i)
              for i in range(0, table.num_rows, BLOCK))
    members = [
        (f"INN{business_date:%y%m%d}88ZM_{mer_id}", blocks),
        (f"RD2010{business_date:%y%m%d}01_{mer_id}", report),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mer_id}_{business_date:%Y%m%d}.zip"
    # Level 1: records are mostly spaces and digits; higher levels cost seconds per million rows.
    write_zip(path, members, delivered_at(business_date), level=1)
    return [path]


def _index(values: pa.Array, choices: tuple[str, ...]) -> np.ndarray:
    """Each value's position in ``choices`` (len(choices) when absent), as numpy."""
    found = pc.index_in(values, value_set=pa.array(choices, pa.string()))
    return pc.fill_null(found, len(choices)).to_numpy(zero_copy_only=False).astype(np.int64)


def _pick(index: np.ndarray, choices: tuple[bytes, ...]) -> np.ndarray:
    """Per-row constants chosen by index, as an (n, width) byte matrix."""
    return np.frombuffer(b"".join(choices), np.uint8).reshape(len(choices), -1)[index]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded ASCII digits, an (n, width) byte matrix."""
    if (values < 0).any() or (values >= 10**width).any():
        raise ValueError(f"a value does not fit {width} digits")
    out = np.empty((len(values), width), np.uint8)
    rest = values.astype(np.int64).copy()
    for column in range(width - 1, -1, -1):
        out[:, column] = rest % 10 + 0x30
        rest //= 10
    return out


def _signed(fen: np.ndarray) -> np.ndarray:
    """Signed fen as a 13-byte amount: D (debit, > 0) or C (credit, < 0), then 12 digits."""
    out = np.empty((len(fen), 13), np.uint8)
    out[:, 0] = np.where(fen < 0, ord("C"), ord("D"))
    out[:, 1:] = _digits(np.abs(fen), 12)
    return out


def _ascii(values: pa.Array, width: int, what: str) -> np.ndarray:
    """Text left-aligned and space-padded to ``width`` bytes, an (n, width) byte matrix."""
    text = text_or_empty(values)
    if len(text) == 0:
        return np.empty((0, width), np.uint8)
    bad = pc.or_(pc.invert(pc.string_is_ascii(text)), pc.greater(pc.binary_length(text), width))
    if pc.any(bad).as_py():
        raise ValueError(f"{what} {text[pc.index(bad, True).as_py()].as_py()!r}: the field holds {width} ASCII bytes")
    padded = single(pc.utf8_rpad(text, width, " "))
    offsets = np.frombuffer(padded.buffers()[1], np.int32)[padded.offset: padded.offset + len(padded) + 1]
    return np.frombuffer(padded.buffers()[2], np.uint8)[offsets[0]: offsets[-1]].reshape(len(padded), width)


def _transmission_times(event_at: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(MMDDhhmmss, yyyyMMddhhmmss) of each time, as integers."""
    at = event_at.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[s]")
    months = at.astype("datetime64[M]")
    days = at.astype("datetime64[D]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    seconds = (at - days.astype("datetime64[s]")).astype(np.int64)
    clock = seconds // 3600 * 10000 + seconds // 60 % 60 * 100 + seconds % 60
    return (month * 100 + day) * 10**6 + clock, ((year * 100 + month) * 100 + day) * 10**6 + clock


def _fee_fen(table: pa.Table) -> np.ndarray:
    fee = unscaled(table["fee"], 5)
    if (fee % 1000).any():
        raise ValueError("UnionPay states fees to the fen: a fee has more than 2 decimals")
    return fee // 1000


def inn_bytes(table: pa.Table, kind: np.ndarray, code: np.ndarray, mer_id: str, first_row: int = 0) -> memoryview:
    """Records of the 流水 member: 608 bytes + CRLF per row (rows from ``first_row`` of the day)."""
    n = table.num_rows
    out = np.full((n, RECORD + 2), 0x20, np.uint8)
    out[:, RECORD], out[:, RECORD + 1] = 0x0D, 0x0A

    def put(offset: int, matrix: np.ndarray) -> None:
        out[:, offset: offset + matrix.shape[1]] = matrix

    for offset, value in CONSTANT_FIELDS:
        out[:, offset: offset + len(value)] = np.frombuffer(value, np.uint8)
    out[:, 293: 293 + len(mer_id)] = np.frombuffer(mer_id.encode("ascii"), np.uint8)
    back = kind != 0  # refunds and voids point at the payment they undo
    fen = unscaled(table["amount"], 2)
    fee_fen = _fee_fen(table)
    net = np.where(back, -fen, fen) - fee_fen  # money to the merchant
    short_time, long_time = _transmission_times(table["event_at"])
    row = np.arange(first_row + 1, first_row + n + 1, dtype=np.int64)
    own_query_id = np.concatenate([_digits(long_time, 14), _digits(row % 10**7, 7)], axis=1)

    put(0, _pick(code, CODES))
    put(28, _digits(row % 10**6, 6))  # 系统跟踪号
    put(35, _digits(short_time, 10))  # 交易传输时间
    put(66, _digits(fen, 12))  # 交易金额
    put(87, np.where(back[:, None], own_query_id, _ascii(table["provider_txn_id"], 21, "查询流水号")))
    put(112, _ascii(pc.if_else(pa.array(back), table["refund_id"], table["order_id"]), 32, "商户订单号"))
    put(145, _ascii(table["pay_detail"], 2, "支付卡类型"))
    put(166, _signed(fee_fen))  # 商户手续费: D a fee charged, C a fee returned
    put(180, _signed(-net))  # 结算金额: C when the merchant is credited
    put(215, _pick(kind, TXN_TYPES))
    put(218, _pick(kind, SUB_TYPES))
    put(271, np.where(back[:, None], _ascii(table["provider_txn_id"], 21, "原交易查询流水号"), np.uint8(0x20)))
    put(374, _signed(-net))  # 清算净额
    put(476, np.where(back[:, None], _ascii(table["order_id"], 32, "原始交易订单号"), np.uint8(0x20)))
    return memoryview(out.reshape(-1))


# --- the RD summary report -------------------------------------------------------------------

RULE = b"_" * 136
HEADING = "交易笔数" + " " * 15 + "交易金额" + " " * 25 + "费用" + " " * 30 + "资金清算差额"
SIDES = " " * 41 + "借" + " " * 14 + "贷" + " " * 14 + "借" + " " * 14 + "贷" + " " * 15 + "借" + " " * 18 + "贷"


def _figures(fen: np.ndarray, fee_fen: np.ndarray, back: np.ndarray, mask: np.ndarray) -> tuple[int, list[Decimal]]:
    """Count and the six money columns (交易金额 借/贷, 费用 借/贷, 资金清算差额 借/贷) of some rows."""
    fen, fee, back = fen[mask], fee_fen[mask], back[mask]
    debit, credit = int(fen[back].sum()), int(fen[~back].sum())
    fee_debit, fee_credit = int(fee[fee > 0].sum()), int(-fee[fee < 0].sum())
    net = credit - debit - fee_debit + fee_credit
    columns = [debit, credit, fee_debit, fee_credit, max(-net, 0), max(net, 0)]
    return int(mask.sum()), [Decimal(v).scaleb(-2) for v in columns]


def _gbk_ljust(text: str, width: int) -> bytes:
    raw = text.encode("gbk")
    return raw + b" " * (width - len(raw))


def _row(label: str, count: int, money: list[Decimal]) -> bytes:
    name = label.encode("gbk")
    return name + str(count).encode().rjust(28 - len(name)) + b"".join(f"{m:.2f}".encode().rjust(16) for m in money)


def _report(table: pa.Table, kind: np.ndarray, code: np.ndarray, business_date: date, mer_id: str) -> bytes:
    """中国银联全渠道商户交易汇总表: by 交易类型 and by 卡性质, each with its 总计 row."""
    fen, fee_fen, back = unscaled(table["amount"], 2), _fee_fen(table), kind != 0

    def row(label: str, mask: np.ndarray) -> bytes:
        return _row(label, *_figures(fen, fee_fen, back, mask))

    total = row("总计", np.ones(len(kind), bool))
    by_type = [row(name, (code == i) & (kind != 2)) for i, name in enumerate(TYPE_NAMES)
               if ((code == i) & (kind != 2)).any()]
    if (kind == 2).any():
        by_type.append(row("消费撤销", kind == 2))
    by_type = by_type or [row("消费", np.zeros(len(kind), bool))]
    card = _index(table["pay_detail"], CARD_TYPES)
    by_card = [row(name, card == i) for i, name in enumerate(CARD_NAMES)]
    lines = [
        b" " * 73 + "中国银联全渠道商户交易汇总表".encode("gbk") + b" " * 12,
        b"",
        _gbk_ljust(f"商户代码:{mer_id}", 64) + "清算币种:人民币".encode("gbk"),
        _gbk_ljust("收单机构:48020000", 64) + f"清算日期:{business_date:%Y%m%d}".encode("gbk"),
        _gbk_ljust("商户名称:话费充值平台", 64)
        + f"生成日期:{business_date + timedelta(days=1):%Y%m%d}".encode("gbk"),
        b"",
        b"",
    ]
    for label, rows in (("交易类型", by_type), ("卡性质", by_card)):
        lines += [_gbk_ljust(label, 20) + HEADING.encode("gbk"), SIDES.encode("gbk"), RULE, *rows, RULE, total, b""]
    return b"\r\n".join(lines)
