"""UnionPay online payment (全渠道) settlement file → canonical payment rows.

Delivered as ``<merId>_<yyyyMMdd>.zip`` holding the 流水 member ``INN<YYMMDD>88ZM_<merId>``
(plus an ``RD…`` summary report, maybe a ``…ZME…`` error file), or as a bare ``INN…`` file.
Records are GBK, fixed width and measured in bytes (607–608 bytes, CRLF).

Speed: records are never decoded as a whole. When all lines have one length (the usual
case) the member is viewed as a (records × bytes) numpy matrix and a field is a column
slice of it, wrapped as an Arrow binary array without a loop; otherwise each line is an
element of a binary array and a field is ``binary_slice`` of it. Digits become numbers by
Arrow casts, money becomes decimal128 straight from integer fen, and only the ASCII fields
we keep become text (GBK is decoded only where a kept field is not ASCII).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.ingest.archive import SafeZip
from etl.ingest.base import (ParsedFile, ParseError, StatementTotals, check_text, check_totals,
                             constant_text, provider_parser, refuse_empty, refuse_missing_txn_id, refuse_utf8)
from etl.schema import FEE, MONEY, PAYMENTS, TS

PROVIDER = "unionpay"
INN_NAME = re.compile(r"^INN(\d{6})\d{2}ZM_(\w+)$")  # not …ZME… (the error file)
ZIP_DATE = re.compile(r"_(\d{8})\.zip$", re.IGNORECASE)
RD_TOTAL = re.compile(r"^总计\s+(\d+)" + r"\s+(\d+\.\d{2})" * 6 + r"\s*$")

# (offset, length) in bytes, from the spec.
CODE, ACCT_TIME, AMOUNT = (0, 3), (35, 10), (66, 12)
QUERY_ID, ORDER_ID, CARD_TYPE = (87, 21), (112, 32), (145, 2)
FEE_COL, SETTLE = (166, 13), (180, 13)
TXN_TYPE, ORIG_QUERY_ID = (215, 2), (271, 21)
ORIG_ORDER_ID = (476, 32)  # current layout only
OLD_LAYOUT_END = 429  # the older layout ends after 商户自定义域 (32@397) with one 98-byte field
NEW_LAYOUT_MIN = 541  # the current layout's last field, 保留使用, starts here

KINDS = {"S22": "payment", "S56": "payment", "S30": "refund"}
VOID_TXN_TYPE = "31"  # 交易类型 of a purchase void
EPOCH = date(1970, 1, 1)


@dataclass
class _Inn:
    name: str | None  # member name, None for a bare file
    rows: pa.Table
    settles_as_credit: pa.Array  # does the row move money to the merchant (贷)?


@provider_parser("UnionPay file")
def parse(path: Path) -> ParsedFile:
    """Parse one delivered UnionPay settlement file (zip or bare INN file)."""
    refuse_empty(path)
    warnings: list[str] = []
    members: list[str] = []
    report = None
    if path.suffix.lower() == ".zip":
        with SafeZip(path) as archive:
            members = archive.names()
            inn_names = [n for n in members if INN_NAME.match(n)]
            if not inn_names:
                raise ParseError(path, None, f"no INN…ZM_… (流水) member in the zip; it holds {', '.join(members)}")
            zip_date = ZIP_DATE.search(path.name)
            inns = [_read_inn(path, n, _checked(path, n, archive.read(n)), _settlement_date(path, n, zip_date),
                              warnings)
                    for n in inn_names]
            rd_names = [n for n in members if n.startswith("RD")]
            if rd_names:
                report = (rd_names[0], _checked(path, rd_names[0], archive.read(rd_names[0])))
    else:
        if not INN_NAME.match(path.name):
            raise ParseError(path, None, "a bare UnionPay file must be named INN<YYMMDD>88ZM_<merId> "
                                         "(its settlement date gives the year of each record)")
        inns = [_read_inn(path, None, _checked(path, None, path.read_bytes()),
                          _settlement_date(path, path.name, None), warnings)]
    rows = pa.concat_tables([inn.rows for inn in inns])
    totals = None
    if report is not None:
        credit = pa.chunked_array([inn.settles_as_credit for inn in inns], pa.bool_())
        totals = _check_report(path, *report, rows, credit)
    return ParsedFile(path=path, rows=rows, totals=totals, members=members, warnings=warnings)


def _checked(path: Path, member: str | None, data):
    """No NUL bytes, no over-long lines, not re-encoded as UTF-8 (an empty INN member is a day
    without transactions; its report then states 总计 0)."""
    check_text(path, data, member)
    refuse_utf8(path, data, member, "UnionPay settlement files")
    return data


def _settlement_date(path: Path, inn_name: str, zip_date: re.Match | None) -> date:
    try:
        return datetime.strptime(INN_NAME.match(inn_name).group(1), "%y%m%d").date()
    except ValueError:
        if zip_date is not None:
            return datetime.strptime(zip_date.group(1), "%Y%m%d").date()
        raise ParseError(path, None, f"no settlement date in the name {inn_name!r}") from None


# --- the records -------------------------------------------------------------------------


class _Records:
    """The lines of an INN member, and any field of all of them at once as a binary array.

    When every line has the same length (the usual case) the bytes are viewed as a
    (lines × length) matrix and a field is a column slice of it; otherwise each line is an
    element of a binary array and a field is ``binary_slice`` of that.
    """

    def __init__(self, data: bytes):
        buf = np.frombuffer(data, np.uint8)
        first = data.find(b"\n") + 1
        self.matrix = None
        if first > 2 and len(data) % first == 0 and bool(np.all(buf[first - 1::first] == 0x0A)):
            n = len(data) // first
            self.matrix = buf.reshape(n, first)
            crlf = bool(np.all(self.matrix[:, -2] == 0x0D))
            self.lengths = np.full(n, first - 1 - crlf, np.int64)
            self.line_numbers = np.arange(1, n + 1, dtype=np.int64)
            self.cut_short = False
            return
        starts = np.concatenate(([0], np.flatnonzero(buf == 0x0A) + 1)).astype(np.int64)
        terminated = starts[-1] == len(data)
        if not terminated:
            starts = np.append(starts, len(data))
        n = len(starts) - 1
        ends = starts[1:] - 1
        if not terminated:
            ends[-1] += 1
        has_cr = (ends > starts[:-1]) & (buf[np.maximum(ends - 1, 0)] == 0x0D)
        lengths = ends - starts[:-1] - has_cr
        lines = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(starts), pa.py_buffer(data)])
        keep = lengths > 0  # e.g. a trailing empty line: not a record
        self.lines = lines.filter(pa.array(keep)) if not keep.all() else lines
        self.lengths = lengths[keep]
        self.line_numbers = np.arange(1, n + 1, dtype=np.int64)[keep]
        # A last record without its line break, shorter than the others, was cut off.
        self.cut_short = bool(not terminated and keep[-1] and self.lengths[-1] < self.lengths.max())

    def __len__(self) -> int:
        return len(self.lengths)

    def field(self, offset: int, width: int) -> pa.Array:
        """Bytes [offset, offset + width) of every line (fewer where a line is shorter)."""
        if self.matrix is None:
            return pc.binary_slice(self.lines, offset, offset + width)
        n = len(self.matrix)
        width = max(0, min(width, self.matrix.shape[1] - offset))
        column = np.ascontiguousarray(self.matrix[:, offset: offset + width])
        offsets = np.arange(0, n * width + 1, width, dtype=np.int64) if width else np.zeros(n + 1, np.int64)
        return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(column)])

    def byte(self, offset: int) -> np.ndarray:
        """Byte ``offset`` of every line (lines are long enough: checked on reading)."""
        if self.matrix is not None:
            return self.matrix[:, offset].copy()
        sliced = pc.binary_slice(self.lines, offset, offset + 1)
        bounds = np.frombuffer(sliced.buffers()[1], np.int64)[sliced.offset: sliced.offset + len(sliced) + 1]
        return np.frombuffer(sliced.buffers()[2], np.uint8)[bounds[0]: bounds[-1]].copy()


def _line(records: _Records, index: int) -> int:
    return int(records.line_numbers[index])


def _text(path: Path, member: str | None, records: _Records, field: tuple[int, int]) -> pa.Array:
    """One field as stripped text, null when blank. ASCII as is; anything else decoded as GBK."""
    raw = records.field(*field)
    try:
        text = raw.cast(pa.large_string())
        ascii_only = pc.all(pc.string_is_ascii(text)).as_py() is not False
    except pa.ArrowInvalid:
        ascii_only = False
    if ascii_only:
        text = pc.ascii_trim(text, " ")
    else:
        encoded = pc.dictionary_encode(raw)
        values = []
        for value in encoded.dictionary.to_pylist():
            try:
                values.append(value.decode("gbk"))
            except UnicodeDecodeError:
                index = pc.index(raw, pa.scalar(value, raw.type)).as_py()
                raise ParseError(path, _line(records, index), "field is not valid GBK", member) from None
        text = pc.ascii_trim(pc.take(pa.array(values, pa.large_string()), encoded.indices), " ")
    text = text.cast(pa.string())
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _integers(path, member, records: _Records, raw: pa.Array, what: str) -> np.ndarray:
    """Digit-only fields → int64 (leading zeros, no sign)."""
    text = raw.cast(pa.large_string()) if raw.type != pa.large_string() else raw
    ok = pc.ascii_is_decimal(text)
    if pc.all(ok).as_py() is False:
        index = pc.index(ok, False).as_py()
        raise ParseError(path, _line(records, index), f"bad number {text[index].as_py()!r} in {what}", member)
    return text.cast(pa.int64()).to_numpy()


def _signed_fen(path, member, records: _Records, field: tuple[int, int], what: str) -> np.ndarray:
    """A sign letter (D debit, C credit, blank = zero) and 12 digits of fen → signed fen, D > 0."""
    offset, width = field
    sign = records.byte(offset)
    blank = sign == 0x20
    bad = ~(blank | (sign == ord("D")) | (sign == ord("C")))
    if bad.any():
        index = int(np.argmax(bad))
        raise ParseError(path, _line(records, index),
                         f"bad sign {chr(sign[index])!r} in {what} (expected D, C or blank)", member)
    digits = records.field(offset + 1, width - 1)
    if blank.any():  # a blank sign means zero, whatever the digits say (often blanks)
        digits = pc.if_else(pa.array(blank), pa.scalar(b"0", digits.type), digits)
    fen = _integers(path, member, records, digits, what)
    return np.where(sign == ord("C"), -fen, fen)


def _decimal(unscaled: np.ndarray, type_: pa.Decimal128Type) -> pa.Array:
    """A decimal128 array from int64 unscaled values (fen for scale 2), without going via text."""
    words = np.empty(2 * len(unscaled), np.int64)
    words[0::2] = unscaled
    words[1::2] = np.where(unscaled < 0, -1, 0)
    return pa.Array.from_buffers(type_, len(unscaled), [None, pa.py_buffer(words)])


def _event_times(path, member, records: _Records, settled: date) -> pa.Array:
    """MMDDhhmmss with no year: the year that puts the time nearest the settlement date
    (a January time in a December file belongs to the next year, and the reverse)."""
    value = _integers(path, member, records, records.field(*ACCT_TIME), "交易传输时间")
    month, day = value // 10**8, value // 10**6 % 100
    hour, minute, second = value // 10**4 % 100, value // 100 % 100, value % 100
    clock_ok = (month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60) & (second < 60)
    month0 = np.clip(month, 1, 12) - 1
    clock = hour * 3600 + minute * 60 + second
    anchor = (settled - EPOCH).days * 86400
    far = np.iinfo(np.int64).max
    best, best_distance = np.zeros(len(value), np.int64), np.full(len(value), far)
    for year in (settled.year - 1, settled.year, settled.year + 1):
        month_starts = [date(year, m, 1) for m in range(1, 13)] + [date(year + 1, 1, 1)]
        firsts = np.array([(d - EPOCH).days for d in month_starts])
        month_days = np.diff(firsts)
        at = (firsts[month0] + day - 1) * 86400 + clock
        distance = np.where(clock_ok & (day <= month_days[month0]), np.abs(at - anchor), far)
        closer = distance < best_distance
        best, best_distance = np.where(closer, at, best), np.minimum(distance, best_distance)
    bad = best_distance == far
    if bad.any():
        index = int(np.argmax(bad))
        raise ParseError(path, _line(records, index),
                         f"bad date/time {value[index]:010d} in 交易传输时间 (MMDDhhmmss)", member)
    return pa.Array.from_buffers(TS, len(best), [None, pa.py_buffer(best)])


def _read_inn(path: Path, member: str | None, data: bytes, settled: date, warnings: list[str]) -> _Inn:
    records = _Records(data)
    short = records.lengths < OLD_LAYOUT_END
    if records.cut_short:
        short[-1] = True
    if short.any():
        index = int(np.argmax(short))
        raise ParseError(path, _line(records, index),
                         f"record is {int(records.lengths[index])} bytes, expected 607–608 (truncated file)", member)
    n = len(records)

    code = _text(path, member, records, CODE)
    txn_type = _text(path, member, records, TXN_TYPE)
    kind = pc.fill_null(pc.take(pa.array(list(KINDS.values())),
                                pc.index_in(code, value_set=pa.array(list(KINDS)))), "unknown")
    kind = pc.if_else(pc.and_(pc.not_equal(kind, "unknown"), pc.equal(pc.fill_null(txn_type, ""), VOID_TXN_TYPE)),
                      "void", kind)
    _warn_unknown(path, member, code, kind, records, warnings)
    points_back = pc.is_in(kind, value_set=pa.array(["refund", "void"]))

    own_query_id = _text(path, member, records, QUERY_ID)
    own_order_id = _text(path, member, records, ORDER_ID)
    orig_query_id = _text(path, member, records, ORIG_QUERY_ID)
    # Only the current layout has 原始交易订单号; in the older one those bytes are reserved.
    current_layout = records.lengths >= NEW_LAYOUT_MIN
    orig_order_id = pc.if_else(pa.array(current_layout), _text(path, member, records, ORIG_ORDER_ID),
                               pa.scalar(None, pa.string())) if current_layout.any() else pa.nulls(n, pa.string())
    fen = _integers(path, member, records, records.field(*AMOUNT), "交易金额")
    fee_fen = _signed_fen(path, member, records, FEE_COL, "商户手续费")
    amount = _decimal(fen, MONEY)
    txn_id = pc.if_else(points_back, orig_query_id, own_query_id)
    refuse_missing_txn_id(path, txn_id, lambda i: _line(records, i), "查询流水号 / 原交易查询流水号", member)
    rows = pa.table(
        {
            "provider": constant_text(PROVIDER, n),
            "provider_txn_id": txn_id,
            "refund_id": pc.if_else(points_back, pc.coalesce(own_order_id, own_query_id),
                                    pa.scalar(None, pa.string())),
            "order_id": pc.if_else(points_back, orig_order_id, own_order_id),
            "kind": kind,
            "amount": amount,
            "settle_amount": amount,
            "fee": _decimal(fee_fen * 1000, FEE),
            "event_at": _event_times(path, member, records, settled),
            "status": constant_text("success", n),
            "raw_type": code,
            "pay_detail": _text(path, member, records, CARD_TYPE),
            "source_member": constant_text(member, n),
            "source_line": pa.array(records.line_numbers),
        }
    ).cast(PAYMENTS)
    settles_to_merchant = records.byte(SETTLE[0]) != ord("D")
    credit = pc.if_else(pc.equal(kind, "payment"), True,
                        pc.if_else(points_back, False, pa.array(settles_to_merchant)))
    return _Inn(member, rows, credit)


def _warn_unknown(path, member, code, kind, records: _Records, warnings: list[str]) -> None:
    unknown = pc.equal(kind, "unknown")
    if not pc.any(unknown).as_py():
        return
    where = path.name + (f"!{member}" if member else "")
    for value in pc.unique(pc.filter(code, unknown)).to_pylist():
        hit = pc.and_(unknown, pc.fill_null(pc.equal(code, value), value is None))
        lines = records.line_numbers[np.asarray(hit.to_numpy(zero_copy_only=False), bool)]
        shown = ", ".join(str(i) for i in lines[:10]) + (", …" if len(lines) > 10 else "")
        warnings.append(f"{where}: unknown 交易代码 {value!r} on {len(lines)} row(s) (line {shown}): "
                        "kept as kind 'unknown'")


# --- the RD summary report -----------------------------------------------------------------


def _check_report(path: Path, name: str, data: bytes, rows: pa.Table, credit: pa.ChunkedArray) -> StatementTotals:
    """The 总计 row: count, 交易金额 借/贷, 费用 借/贷 (资金清算差额 follows from those)."""
    try:
        text = data.decode("gbk")
    except UnicodeDecodeError:
        raise ParseError(path, None, "summary report is not valid GBK", name) from None
    totals = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("总计"):
            match = RD_TOTAL.match(line.strip())
            if match is None:
                raise ParseError(path, number, f"unreadable 总计 row {line.strip()!r}", name)
            totals.append(match)
    if not totals:
        raise ParseError(path, None, "summary report has no 总计 row (truncated file)", name)
    if len({m.groups() for m in totals}) > 1:  # one per section (交易类型, 卡性质): all the same
        raise ParseError(path, None, "the report's 总计 rows disagree with each other", name)
    try:
        count, amount_debit, amount_credit, fee_debit, fee_credit = (
            int(totals[0].group(1)), *(Decimal(totals[0].group(i)) for i in (2, 3, 4, 5)))
    except InvalidOperation:
        raise ParseError(path, None, "bad number in the 总计 row", name) from None
    stated = StatementTotals(row_count=count, payment_amount=amount_credit, refund_amount=amount_debit,
                             fee_total=fee_debit - fee_credit)
    # The report splits money by direction, not by kind: credits (贷) vs debits (借).
    by_direction = rows.set_column(rows.schema.get_field_index("kind"), "kind",
                                   pc.if_else(credit, "payment", "refund"))
    check_totals(path, by_direction, stated, name)
    return stated
