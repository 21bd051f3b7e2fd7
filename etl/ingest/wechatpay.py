"""WeChat Pay trade bill (``bill_type=ALL``, v2 downloadbill and v3 tradebill) → canonical rows.

UTF-8 (optional BOM), plain ``.csv`` or ``.csv.gz``; a ``<name>.sha1`` beside the file (v3's
hash of the uncompressed bill) is verified. Line 1 is the header, then detail rows in which
every value is prefixed with a backtick, then the summary header and one summary row.

Values may hold commas (商户数据包 is JSON), so rows are split on the two-byte separator
``,``` only: pyarrow.csv reads with quoting off, splitting on the backtick where that is
provably the same split (the usual case: no copy of the bill), else after replacing each
``,``` by a control byte. The read is single-threaded: staging already parses two sources
side by side, and a threaded read of a 1 GB bill held 0.8 GB more and was no faster.
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.ingest.archive import gunzip
from etl.ingest.base import (ParsedFile, ParseError, StatementTotals, check_text, check_totals,
                             constant_text, first_row_with_wrong_width, parse_times, provider_parser,
                             refuse_empty, refuse_missing_txn_id)
from etl.schema import FEE, MONEY, PAYMENTS

PROVIDER = "wechatpay"
STRIP = "\t` \r"
SEPARATOR = b",`"
UNIT_SEPARATOR = b"\x1f"  # never in a bill: stands in for the ",`" separator
SUMMARY_START = "总交易单数".encode()

TIME, TXN_ID, ORDER_ID, STATE, BANK = "交易时间", "微信订单号", "商户订单号", "交易状态", "付款银行"
WX_REFUND_NO, MCH_REFUND_NO, REFUND_AMOUNT, REFUND_STATE = "微信退款单号", "商户退款单号", "退款金额", "退款状态"
FEE_COL = "手续费"
SETTLE, ORDER_AMOUNT = "应结订单金额", "订单金额"  # current header
LEGACY_TOTAL = "总金额"  # pre-2018 header: one amount, no separate settlement figure
COMMON = (TIME, TXN_ID, ORDER_ID, STATE, BANK, WX_REFUND_NO, MCH_REFUND_NO, REFUND_AMOUNT, REFUND_STATE, FEE_COL)

KINDS = {"SUCCESS": "payment", "REVOKED": "payment", "REFUND": "refund"}
PAYMENT_STATUS = {"SUCCESS": "success", "REVOKED": "revoked"}
AMOUNT_RE = r"^-?\d+(\.\d{1,2})?$"
FEE_RE = r"^-?\d+(\.\d{1,5})?$"
NO_ID = ("", "0")  # WeChat fills id columns that do not apply with "0"


@provider_parser("WeChat Pay bill")
def parse(path: Path) -> ParsedFile:
    """Parse one delivered WeChat Pay trade bill (``.csv`` or ``.csv.gz``)."""
    refuse_empty(path)
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        data = gunzip(path, data)
        if not data:
            raise ParseError(path, None, "empty file (the gzip holds 0 bytes)")
    _verify_sha1(path, data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    check_text(path, data)
    header_end = data.find(b"\n")
    if header_end < 0:
        raise ParseError(path, None, "no header line (empty or truncated file)")
    names = [n.strip(STRIP) for n in _utf8(path, 1, data[:header_end]).split(",")]
    legacy = LEGACY_TOTAL in names and ORDER_AMOUNT not in names
    needed = COMMON + ((LEGACY_TOTAL,) if legacy else (SETTLE, ORDER_AMOUNT))
    missing = [n for n in needed if n not in names]
    if missing:
        raise ParseError(path, 1, f"not a WeChat Pay trade bill header: no column(s) {', '.join(missing)}")

    summary_at = data.find(b"\n" + SUMMARY_START, header_end)
    if summary_at < 0:
        raise ParseError(path, None, "no summary ('总交易单数,…' and its row) at the end (truncated file)")
    raw = _read_rows(path, data, header_end + 1, summary_at + 1, names, needed)
    tail = data[summary_at + 1:]
    del data  # the rows are in Arrow now: a large bill's bytes are not kept while they are typed
    summary_line = 2 + raw.num_rows
    warnings: list[str] = []
    rows = _canonical(path, raw, legacy, warnings)
    totals = _summary(path, tail, summary_line, legacy)
    check_totals(path, rows, totals)
    return ParsedFile(path=path, rows=rows, totals=totals, warnings=warnings)


def _verify_sha1(path: Path, data: bytes) -> None:
    candidates = [path.with_name(path.name + ".sha1")]
    if path.suffix.lower() == ".gz":
        candidates.append(path.with_name(path.name[:-3] + ".sha1"))
    sha1_file = next((c for c in candidates if c.is_file()), None)
    if sha1_file is None:
        return
    stated = (sha1_file.read_text("ascii", errors="replace").split() or [""])[0].lower()
    if not re.fullmatch(r"[0-9a-f]{40}", stated):
        raise ParseError(path, None, f"{sha1_file.name} holds no SHA1 ({stated[:60]!r})")
    actual = hashlib.sha1(data).hexdigest()
    if actual != stated:
        raise ParseError(path, None, f"SHA1 mismatch: {sha1_file.name} states {stated}, the (uncompressed) "
                                     f"content hashes to {actual} (corrupt or truncated download)")


def _utf8(path: Path, line: int | None, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if line is not None:
            line += raw.count(b"\n", 0, error.start)
        raise ParseError(path, line, "text is not UTF-8 (WeChat Pay bills are UTF-8; re-encoded as GBK?)") from None


def _read_rows(path: Path, data: bytes, start: int, end: int, names: list[str], needed: tuple[str, ...]) -> pa.Table:
    """The detail rows, ``data[start:end]``: read in place (a slice would copy the whole bill)."""
    if start >= end:
        return pa.table({n: pa.array([], pa.string()) for n in needed})
    fast = _split_on_backticks(memoryview(data)[start:end], data.count(SEPARATOR, start, end), names, needed)
    if fast is not None:
        return fast
    body = data[start:end].replace(SEPARATOR, UNIT_SEPARATOR)
    try:
        return pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(needed), column_types={n: pa.string() for n in needed},
                strings_can_be_null=False, null_values=[],
            ),
        )
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error).upper():
            _utf8(path, 2, body)
        bad = first_row_with_wrong_width(body, len(names), UNIT_SEPARATOR)
        if bad is None:
            raise ParseError(path, None, f"unreadable rows: {error}") from error
        index, found = bad
        raise ParseError(path, 2 + index, f"row has {found} fields, the header has {len(names)} "
                                          "(truncated or malformed row)") from error


def _split_on_backticks(body: memoryview, separators: int, names: list[str],
                        needed: tuple[str, ...]) -> pa.Table | None:
    """The same split without copying the body, when it is provably the same: split on every
    backtick, then drop the separator's comma from each value. That holds when each row starts
    with a backtick, has one field per name, and every other backtick follows a comma (the
    file holds exactly rows × (names − 1) ",`"). Otherwise None: take the exact way."""
    lead = "\x00lead"  # the empty field before each row's first backtick
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=[lead, *names], block_size=1 << 24, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter="`", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=[lead, *needed], column_types={n: pa.string() for n in (lead, *needed)},
                strings_can_be_null=False, null_values=[],
            ),
        )
    except pa.ArrowInvalid:
        return None
    if separators != table.num_rows * (len(names) - 1) or pc.any(pc.not_equal(table[lead], "")).as_py():
        return None
    columns = {n: table[n] for n in needed}
    del table  # each column gives way to its sliced copy in turn: never two copies of every column
    for n in needed:
        if n != names[-1]:
            columns[n] = pc.utf8_slice_codeunits(columns[n], 0, -1)
    return pa.table(columns)


def _map(text, mapping: dict[str, str], default: str | None):
    found = pc.index_in(text, value_set=pa.array(list(mapping), pa.string()))
    mapped = pc.take(pa.array(list(mapping.values()), pa.string()), found)
    return mapped if default is None else pc.fill_null(mapped, default)


def _null_if(text, empty: tuple[str, ...] = ("",)):
    return pc.if_else(pc.is_in(text, value_set=pa.array(empty, pa.string())), pa.scalar(None, pa.string()), text)


def _number(path: Path, text, what: str, pattern: str, type_: pa.DataType):
    ok = pc.match_substring_regex(text, pattern)
    if pc.all(ok).as_py() is False:
        index = pc.index(ok, False).as_py()
        raise ParseError(path, 2 + index, f"bad number {text[index].as_py()!r} in {what}")
    return text.cast(type_)


def _canonical(path: Path, raw: pa.Table, legacy: bool, warnings: list[str]) -> pa.Table:
    n = raw.num_rows

    def text(column: str):
        return pc.ascii_trim(raw[column], STRIP)

    state = text(STATE)
    kind = _map(state, KINDS, "unknown")
    _warn_unknown(path, state, kind, warnings)
    is_refund = pc.equal(kind, "refund")
    refund_state = pc.utf8_lower(text(REFUND_STATE))
    status = pc.if_else(is_refund, pc.if_else(pc.equal(refund_state, ""), "unknown", refund_state),
                        _map(state, PAYMENT_STATUS, "unknown"))
    order_amount = text(LEGACY_TOTAL if legacy else ORDER_AMOUNT)
    settle = text(LEGACY_TOTAL if legacy else SETTLE)
    refund_amount = text(REFUND_AMOUNT)
    # Only the figure a row uses is read (refund rows leave the order amounts at 0.00 and
    # payment rows the refund amount; older bills may leave them blank).
    amount = _number(path, pc.if_else(is_refund, refund_amount, order_amount), "the amount "
                     f"({REFUND_AMOUNT} / {LEGACY_TOTAL if legacy else ORDER_AMOUNT})", AMOUNT_RE, MONEY)
    settle_amount = _number(path, pc.if_else(is_refund, refund_amount, settle),
                            f"{REFUND_AMOUNT} / {LEGACY_TOTAL if legacy else SETTLE}", AMOUNT_RE, MONEY)
    for what, values in (("amount", amount), ("settlement amount", settle_amount)):
        negative = pc.less(values, pa.scalar(0, values.type))
        if pc.any(negative).as_py():
            index = pc.index(negative, True).as_py()
            raise ParseError(path, 2 + index, f"negative {what} {values[index].as_py()}: WeChat states amounts "
                                              "as positive figures (only 手续费 is signed)")
    refund_id = pc.coalesce(_null_if(text(MCH_REFUND_NO), NO_ID), _null_if(text(WX_REFUND_NO), NO_ID))
    txn_id = _null_if(text(TXN_ID))
    refuse_missing_txn_id(path, txn_id, lambda i: 2 + i, TXN_ID)
    table = pa.table(
        {
            "provider": constant_text(PROVIDER, n),
            "provider_txn_id": txn_id,
            "refund_id": pc.if_else(is_refund, refund_id, pa.scalar(None, pa.string())),
            "order_id": _null_if(text(ORDER_ID)),
            "kind": kind,
            "amount": amount,
            "settle_amount": settle_amount,
            "fee": _number(path, text(FEE_COL), FEE_COL, FEE_RE, FEE),
            "event_at": parse_times(path, text(TIME), TIME, 2),
            "status": status,
            "raw_type": _null_if(state),
            "pay_detail": _null_if(text(BANK)),
            "source_member": pa.nulls(n, pa.string()),
            "source_line": pa.array(np.arange(2, 2 + n, dtype=np.int64)),
        }
    )
    return table.cast(PAYMENTS)


def _warn_unknown(path: Path, state, kind, warnings: list[str]) -> None:
    unknown = pc.equal(kind, "unknown")
    if not pc.any(unknown).as_py():
        return
    for value in pc.unique(pc.filter(state, unknown)).to_pylist():
        rows = np.flatnonzero(pc.and_(unknown, pc.equal(state, value)).to_numpy(zero_copy_only=False))
        lines = ", ".join(str(2 + i) for i in rows[:10]) + (", …" if len(rows) > 10 else "")
        warnings.append(f"{path.name}: unknown {STATE} {value!r} on {len(rows)} row(s) (line {lines}): "
                        "kept as kind 'unknown'")


# --- the summary -------------------------------------------------------------------------


def _summary(path: Path, tail: bytes, line: int, legacy: bool) -> StatementTotals:
    lines = _utf8(path, line, tail).splitlines()
    if len(lines) < 2 or not lines[1].strip(STRIP):
        raise ParseError(path, line, "summary header without its row (truncated file)")
    names = [n.strip(STRIP) for n in lines[0].split(",")]
    values = [v.strip(STRIP) for v in lines[1].split(",")]
    if len(values) != len(names):
        raise ParseError(path, line + 1, f"summary row has {len(values)} values for {len(names)} names")
    figures = dict(zip(names, values))
    wanted = {
        "row_count": "总交易单数",
        "payment_amount": "总交易额" if legacy else "订单总金额",
        "settle_amount": None if legacy else "应结订单总金额",
        "refund_amount": "总退款金额" if legacy else "退款总金额",
        "fee_total": "手续费总金额",
    }
    stated: dict[str, object] = {}
    for field, name in wanted.items():
        if name is None:
            continue
        if name not in figures:
            raise ParseError(path, line, f"summary has no {name}")
        try:
            stated[field] = int(figures[name]) if field == "row_count" else Decimal(figures[name])
        except (ValueError, InvalidOperation):
            raise ParseError(path, line + 1, f"bad number {figures[name]!r} in summary {name}") from None
    return StatementTotals(**stated)
