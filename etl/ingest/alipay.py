"""Alipay trade bill (业务明细, ``bill_type=trade``) → canonical payment rows.

Delivered as ``<PID>0156_<yyyyMMdd>.csv.zip`` (GBK members, GBK member names without the
UTF-8 flag) or as a bare ``…业务明细.csv``. Layout: ``#`` title lines, one header row, data
rows, a ``…业务明细列表结束…`` marker, then the ``#交易合计`` / ``#退款合计`` footer.

Speed: the detail rows are never decoded as a whole. GBK is ASCII-compatible and its
trail bytes (0x40–0xFE) never equal ``,``, CR, LF, TAB or ``#``, so the bytes are split
as they are by pyarrow.csv; only the columns we keep are turned into text (ASCII ids and
numbers directly, the few distinct Chinese values of 业务类型 through a dictionary).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.ingest.archive import SafeZip
from etl.ingest.archive import member_name as member_name  # the GBK name rule, shared with UnionPay
from etl.ingest.base import (ParsedFile, ParseError, StatementTotals, check_text, check_totals,
                             constant_text, first_row_with_wrong_width, parse_times, provider_parser,
                             refuse_empty, refuse_missing_txn_id, refuse_utf8)
from etl.schema import FEE, MONEY, PAYMENTS

PROVIDER = "alipay"
# Stripped from both ends of every field (spec: TAB, backtick, space, CR). All ASCII, so
# pc.ascii_trim is safe on any UTF-8 text: it never cuts into a multi-byte character.
STRIP = "\t` \r"

# Columns we read, by header name (others are ignored wherever they are).
TXN_ID, ORDER_ID, TYPE, FINISHED = "支付宝交易号", "商户订单号", "业务类型", "完成时间"
AMOUNT, RECEIVED, REFUND_NO, FEE_COL = "订单金额（元）", "商家实收（元）", "退款批次号/请求号", "服务费（元）"
NEEDED = (TXN_ID, ORDER_ID, TYPE, FINISHED, AMOUNT, RECEIVED, REFUND_NO, FEE_COL)

KINDS = {"交易": "payment", "退款": "refund"}
LIST_END = "业务明细列表结束"
TRADE_FOOTER = re.compile(r"^#交易合计[：:]\s*(\d+)\s*笔[，,]\s*商家实收共\s*(-?[\d.]+)\s*元")
REFUND_FOOTER = re.compile(r"^#退款合计[：:]\s*(\d+)\s*笔[，,]\s*商家实收退款共\s*(-?[\d.]+)\s*元")
SPLIT_SUFFIX = re.compile(r"_(\d+)\.csv$", re.IGNORECASE)
AMOUNT_RE = r"^-?\d+(\.\d{1,2})?$"
FEE_RE = r"^-?\d+(\.\d{1,5})?$"


@dataclass(frozen=True)
class _Footer:
    payment_count: int
    payment_received: Decimal
    refund_count: int
    refund_received: Decimal  # as stated: negative


@dataclass
class _Member:
    name: str | None
    raw: pa.Table  # the NEEDED columns as raw GBK bytes
    first_line: int  # line number of the first data row
    footer: _Footer | None


@provider_parser("Alipay bill")
def parse(path: Path) -> ParsedFile:
    """Parse one delivered Alipay trade bill (zip or bare 业务明细 CSV)."""
    refuse_empty(path)
    if path.suffix.lower() == ".zip":
        details, summary, names = _zip_members(path)
    else:
        details, summary, names = [(None, path.read_bytes())], None, []
    for name, data in details + ([summary] if summary else []):
        if not data:
            raise ParseError(path, None, "empty file (0 bytes)", name)
        check_text(path, data, name)
        refuse_utf8(path, data, name, "Alipay bills")
    members = [_read_detail(path, name, data) for name, data in details]
    del details, data  # the rows are in Arrow now: a large bill's bytes are not kept while they are typed
    warnings: list[str] = []
    parts = [_canonical(path, m, warnings) for m in members]
    rows = pa.concat_tables([table for table, _ in parts])
    fee_as_stated = pa.chunked_array([c for _, fee in parts for c in fee.chunks], FEE)
    totals = _check_footers(path, members, rows)
    if summary is not None:
        _check_summary(path, *summary, rows, fee_as_stated)
    return ParsedFile(path=path, rows=rows, totals=totals, members=names, warnings=warnings)


# --- the zip ---------------------------------------------------------------------------


def _split_order(name: str) -> tuple[int, str]:
    match = SPLIT_SUFFIX.search(name)
    return (int(match.group(1)) if match else 0, name)


def _zip_members(path: Path):
    with SafeZip(path) as archive:
        names = archive.names()
        detail_names = sorted((n for n in names if "业务明细" in n and "汇总" not in n), key=_split_order)
        summary_names = [n for n in names if "业务明细" in n and "汇总" in n]
        if not detail_names:
            kinds = ", ".join(names) or "nothing"
            raise ParseError(path, None, f"no 业务明细 (trade bill) member in the zip; it holds {kinds}")
        details = [(n, archive.read(n)) for n in detail_names]
        summary = (summary_names[0], archive.read(summary_names[0])) if summary_names else None
    return details, summary, names


# --- one detail member -----------------------------------------------------------------


def _decode(path: Path, member: str | None, line: int | None, raw: bytes) -> str:
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        try:
            raw.decode("utf-8")
            cause = "text is UTF-8, but Alipay bills are GBK (re-encoded after download?)"
        except UnicodeDecodeError:
            cause = "text is not valid GBK (wrong encoding or corrupt file)"
        raise ParseError(path, line, cause, member) from None


def _read_detail(path: Path, member: str | None, data: bytes) -> _Member:
    # The '#' title lines, then the header row.
    pos, line_no, title = 0, 0, None
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise ParseError(path, line_no + 1 if data[pos:] else None,
                             "no header row after the '#' title lines (truncated or empty file)", member)
        line_no += 1
        raw = data[pos:end].rstrip(b"\r")
        pos = end + 1
        if not raw.startswith(b"#"):
            break
        if title is None:
            title = _decode(path, member, line_no, raw).strip("#" + STRIP)
    header_line, body_start = line_no, pos
    if title is not None and "业务明细" not in title:
        raise ParseError(path, 1, f"this is {title!r}, not the Alipay 业务明细 trade bill (bill_type=trade)",
                         member)
    names = [n.strip(STRIP) for n in _decode(path, member, header_line, raw).split(",")]
    missing = [n for n in NEEDED if n not in names]
    if missing:
        raise ParseError(path, header_line, f"not an Alipay 业务明细 header: no column(s) {', '.join(missing)}",
                         member)
    twice = sorted({n for n in names if names.count(n) > 1 and n in NEEDED})
    if twice:
        raise ParseError(path, header_line, f"column(s) {', '.join(twice)} appear twice in the header", member)

    # The data rows run to the end-of-list line (searched from the end: the footer is short).
    marker = data.rfind(LIST_END.encode("gbk"))
    body_end = data.rfind(b"\n", body_start - 1, max(marker, body_start)) + 1
    if marker < body_start or not data.startswith(b"#", body_end):
        raise ParseError(path, None, f"no end-of-list line '{LIST_END}' (truncated file)", member)
    first_line = header_line + 1
    raw_rows = _read_rows(path, member, memoryview(data)[body_start:body_end], names, first_line)  # no copy
    marker_line = first_line + raw_rows.num_rows
    footer = _footer(path, member, _decode(path, member, marker_line, data[body_end:]).splitlines(), marker_line)
    return _Member(member, raw_rows, first_line, footer)


def _footer(path: Path, member: str | None, tail: list[str], marker_line: int) -> _Footer | None:
    trade = refund = None
    for offset, text in enumerate(tail[1:], start=1):
        text = text.strip(STRIP)
        if (m := TRADE_FOOTER.match(text)) is not None:
            trade = (m, marker_line + offset)
        elif (m := REFUND_FOOTER.match(text)) is not None:
            refund = (m, marker_line + offset)
        elif text.startswith(("#交易合计", "#退款合计")):
            raise ParseError(path, marker_line + offset, f"unreadable footer line {text!r}", member)
    if trade is None and refund is None:
        return None
    if trade is None or refund is None:
        which = "#交易合计" if trade is None else "#退款合计"
        raise ParseError(path, None, f"footer has no '{which}' line (truncated file)", member)
    try:
        return _Footer(int(trade[0].group(1)), Decimal(trade[0].group(2)),
                       int(refund[0].group(1)), Decimal(refund[0].group(2)))
    except InvalidOperation:
        raise ParseError(path, trade[1], "bad amount in the footer", member) from None


def _read_rows(path: Path, member: str | None, body: memoryview, names: list[str], first_line: int) -> pa.Table:
    if not body:
        return pa.table({n: pa.array([], pa.binary()) for n in NEEDED})
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            # one thread: staging parses two sources side by side, and a threaded read of a
            # large bill held more memory and was no faster
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(NEEDED), column_types={n: pa.binary() for n in NEEDED},
                check_utf8=False, strings_can_be_null=False, null_values=[],
            ),
        )
    except pa.ArrowInvalid as error:
        bad = first_row_with_wrong_width(body, len(names), b",")
        if bad is None:
            raise ParseError(path, None, f"unreadable rows: {error}", member) from error
        index, found = bad
        raise ParseError(path, first_line + index,
                         f"row has {found} fields, the header has {len(names)} (truncated or malformed row)",
                         member) from error
    return table


def _text(path: Path, member: str | None, col: pa.ChunkedArray, first_line: int) -> pa.ChunkedArray:
    """Bytes → stripped text; ASCII (the usual case) is cast as is, anything else decoded as GBK."""
    try:
        text = col.cast(pa.string())
        ascii_only = pc.all(pc.string_is_ascii(text)).as_py() is not False
    except pa.ArrowInvalid:
        ascii_only = False
    if not ascii_only:
        encoded = pc.dictionary_encode(col).combine_chunks()
        values = []
        for raw in encoded.dictionary.to_pylist():
            try:
                values.append(raw.decode("gbk"))
            except UnicodeDecodeError:
                line = first_line + pc.index(col, pa.scalar(raw, pa.binary())).as_py()
                raise ParseError(path, line, "text is not valid GBK (wrong encoding or corrupt file)",
                                 member) from None
        text = pc.take(pa.array(values, pa.string()), encoded.indices)
    return pc.ascii_trim(text, STRIP)


def _null_if_empty(text: pa.ChunkedArray | pa.Array):
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _number(path, member, text, column: str, pattern: str, type_: pa.DataType, first_line: int):
    ok = pc.match_substring_regex(text, pattern)
    if pc.all(ok).as_py() is False:
        index = pc.index(ok, False).as_py()
        raise ParseError(path, first_line + index, f"bad number {text[index].as_py()!r} in {column}", member)
    return text.cast(type_)


def _map(text, mapping: dict[str, str], default: str) -> pa.ChunkedArray | pa.Array:
    """Vectorised dict lookup: each value's mapping, or ``default``."""
    keys = pa.array(list(mapping), pa.string())
    found = pc.index_in(text, value_set=keys)
    return pc.fill_null(pc.take(pa.array(list(mapping.values()), pa.string()), found), default)


def _warn_unknown(path, member, raw_type, kind, first_line: int, what: str, warnings: list[str]) -> None:
    unknown = pc.equal(kind, "unknown")
    if not pc.any(unknown).as_py():
        return
    where = path.name + (f"!{member}" if member else "")
    for value in pc.unique(pc.filter(raw_type, unknown)).to_pylist():
        rows = np.flatnonzero(pc.and_(unknown, pc.equal(raw_type, value)).to_numpy(zero_copy_only=False))
        lines = ", ".join(str(first_line + i) for i in rows[:10]) + (", …" if len(rows) > 10 else "")
        warnings.append(f"{where}: unknown {what} {value!r} on {len(rows)} row(s) (line {lines}): "
                        "kept as kind 'unknown'")


def _canonical(path: Path, m: _Member, warnings: list[str]) -> tuple[pa.Table, pa.ChunkedArray]:
    """The member's rows in PAYMENTS shape, and the fee exactly as the file signs it."""
    raw, member, first = m.raw, m.name, m.first_line
    n = raw.num_rows

    def text(column: str):
        return _text(path, member, raw[column], first)

    types = text(TYPE)
    kind = _map(types, KINDS, "unknown")
    _warn_unknown(path, member, types, kind, first, "业务类型", warnings)
    is_refund = pc.equal(kind, "refund")
    amount = _number(path, member, text(AMOUNT), AMOUNT, AMOUNT_RE, MONEY, first)
    received = _number(path, member, text(RECEIVED), RECEIVED, AMOUNT_RE, MONEY, first)
    fee_as_stated = _number(path, member, text(FEE_COL), FEE_COL, FEE_RE, FEE, first)
    _refuse_negative_payments(path, member, kind, {AMOUNT: amount, RECEIVED: received}, first)
    # Sources disagree on the fee's sign: the canonical sign follows the row's kind.
    fee = pc.if_else(is_refund, pc.negate(pc.abs(fee_as_stated)), pc.abs(fee_as_stated))
    txn_id = _null_if_empty(text(TXN_ID))
    refuse_missing_txn_id(path, txn_id, lambda i: first + i, TXN_ID, member)
    table = pa.table(
        {
            "provider": constant_text(PROVIDER, n),
            "provider_txn_id": txn_id,
            "refund_id": pc.if_else(is_refund, _null_if_empty(text(REFUND_NO)), pa.scalar(None, pa.string())),
            "order_id": _null_if_empty(text(ORDER_ID)),
            "kind": kind,
            "amount": pc.abs(amount),
            "settle_amount": pc.abs(received),
            "fee": fee,
            "event_at": parse_times(path, text(FINISHED), FINISHED, first, member),
            "status": constant_text("success", n),
            "raw_type": _null_if_empty(types),
            "pay_detail": pa.nulls(n, pa.string()),
            "source_member": constant_text(member, n),
            "source_line": pa.array(np.arange(first, first + n, dtype=np.int64)),
        }
    )
    return table.cast(PAYMENTS), fee_as_stated


def _refuse_negative_payments(path, member, kind, columns: dict, first_line: int) -> None:
    """A 交易 row states money received: a negative figure there is a corrupt or forged row
    (refunds are the rows that carry the minus sign), not something to take the magnitude of."""
    payment = pc.equal(kind, "payment")
    for column, values in columns.items():
        bad = pc.fill_null(pc.and_(payment, pc.less(values, pa.scalar(0, values.type))), False)
        if pc.any(bad).as_py():
            index = pc.index(bad, True).as_py()
            raise ParseError(path, first_line + index, f"negative amount {values[index].as_py()} in {column} "
                             "of a 交易 (payment) row", member)


# --- the file's own totals ---------------------------------------------------------------


def _with(rows: pa.Table, column: str, values) -> pa.Table:
    return rows.set_column(rows.schema.get_field_index(column), column, values)


def _check(path: Path, rows: pa.Table, stated: StatementTotals, member: str | None, what: str) -> None:
    try:
        check_totals(path, rows, stated, member)
    except ParseError as error:
        raise ParseError(path, None, f"{what}: {error.cause}", member) from None


def _check_footers(path: Path, members: list[_Member], rows: pa.Table) -> StatementTotals:
    footers = [(m.name, m.footer) for m in members if m.footer is not None]
    where = ", ".join(str(m.name) for m in members) if members[0].name else None
    if not footers:
        raise ParseError(path, None, "no '#交易合计' / '#退款合计' footer (truncated file)", where)
    if len(footers) == 1:
        where = footers[0][0]
    # Split members either each carry their own footer or the last carries the whole day's:
    # either way the footers present add up to all rows.
    stated = StatementTotals(
        payment_count=sum(f.payment_count for _, f in footers),
        refund_count=sum(f.refund_count for _, f in footers),
        settle_amount=sum((f.payment_received for _, f in footers), Decimal(0)),
    )
    _check(path, rows, stated, where, "footer '#交易合计'/'#退款合计'")
    refund_received = -sum((f.refund_received for _, f in footers), Decimal(0))
    _check(path, _with(rows, "amount", rows["settle_amount"]), StatementTotals(refund_amount=refund_received),
           where, "footer '#退款合计' (商家实收退款)")
    return stated


def _check_summary(path: Path, name: str, data: bytes, rows: pa.Table, fee_as_stated: pa.ChunkedArray) -> None:
    """The 汇总 member's 合计 row: counts, net amounts and the fee as the file signs it."""
    lines = _decode(path, name, None, data).splitlines()
    header = next(((i, l) for i, l in enumerate(lines, 1) if "交易订单总笔数" in l), None)
    total = next(((i, l) for i, l in enumerate(lines, 1) if l.strip(STRIP).startswith("合计")), None)
    if header is None or total is None:
        raise ParseError(path, None, "summary has no header or no 合计 row (truncated file)", name)
    values = dict(zip((h.strip(STRIP) for h in header[1].split(",")), (v.strip(STRIP) for v in total[1].split(","))))
    try:
        figures = {k: Decimal(values[k]) for k in ("交易订单总笔数", "退款订单总笔数", AMOUNT, RECEIVED, FEE_COL)}
    except (KeyError, InvalidOperation) as error:
        raise ParseError(path, total[0], f"unreadable 合计 row: {error!r}", name) from None
    refunds = pc.equal(rows["kind"], "refund")
    refund_amount = pc.sum(pc.filter(rows["amount"], refunds)).as_py() or Decimal(0)
    refund_received = pc.sum(pc.filter(rows["settle_amount"], refunds)).as_py() or Decimal(0)
    # 订单金额 and 商家实收 are net of refunds there: add our refunds back to compare payments.
    stated = StatementTotals(
        payment_count=int(figures["交易订单总笔数"]),
        refund_count=int(figures["退款订单总笔数"]),
        payment_amount=figures[AMOUNT] + refund_amount,
        settle_amount=figures[RECEIVED] + refund_received,
    )
    _check(path, rows, stated, name, "summary 合计 row")
    _check(path, _with(rows, "fee", fee_as_stated), StatementTotals(fee_total=figures[FEE_COL]), name,
           "summary 合计 row (服务费, signed as in the file)")
