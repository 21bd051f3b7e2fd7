"""What every parser shares: the parse result, the error that names file, line and cause,
and the check of parsed rows against the file's own totals."""
from __future__ import annotations

import functools
import gzip
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_LINE_BYTES = 64 * 1024  # no line of any format comes near this (UnionPay's records are 610 bytes)
_SCAN_CHUNK = 1 << 24  # bytes scanned at a time: memory for the scan stays small whatever the file
# Staged Parquet lives one night and is read once, by the load: LZ4 writes and reads faster than
# zstd (a 1M-order ledger's write: 0.86 s against 1.09 s on one core), and the files are not kept.
STAGED_COMPRESSION = "lz4"


class ParseError(Exception):
    """A file that cannot be loaded as it is. Quarantine it with ``str(error)`` as the reason."""

    def __init__(self, file: Path | str, line: int | None, cause: str, member: str | None = None):
        self.file = str(file)
        self.line = line
        self.cause = cause
        self.member = member
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file + (f"!{self.member}" if self.member else "")
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.cause}"


@dataclass(frozen=True)
class StatementTotals:
    """What a statement says about itself (footer, summary member or summary row).

    Any figure the file does not state is None and is not checked. Amounts are positive
    magnitudes; ``fee_total`` follows the canonical sign (payments +, refunds −).
    """

    row_count: int | None = None  # all detail rows, where the file counts them that way
    payment_count: int | None = None
    payment_amount: Decimal | None = None
    refund_count: int | None = None
    refund_amount: Decimal | None = None
    fee_total: Decimal | None = None
    settle_amount: Decimal | None = None  # payments' settle_amount total, where stated


@dataclass
class ParsedFile:
    path: Path
    rows: pa.Table  # the source's schema from etl.schema
    totals: StatementTotals | None = None
    members: list[str] = field(default_factory=list)  # zip members parsed / kept
    warnings: list[str] = field(default_factory=list)  # e.g. unknown transaction codes kept


def _sum(table: pa.Table, column: str, mask: pa.Array) -> Decimal:
    value = pc.sum(pc.filter(table[column], mask)).as_py()
    return Decimal(0) if value is None else Decimal(value)


def computed_totals(rows: pa.Table) -> StatementTotals:
    """The same figures as StatementTotals, computed from parsed canonical payment rows."""
    pay = pc.equal(rows["kind"], "payment")
    ref = pc.equal(rows["kind"], "refund")
    return StatementTotals(
        row_count=rows.num_rows,
        payment_count=pc.sum(pay).as_py() or 0,
        payment_amount=_sum(rows, "amount", pay),
        refund_count=pc.sum(ref).as_py() or 0,
        refund_amount=_sum(rows, "amount", ref),
        fee_total=_sum(rows, "fee", pc.is_valid(rows["fee"])),
        settle_amount=_sum(rows, "settle_amount", pay),
    )


def check_totals(path: Path, rows: pa.Table, stated: StatementTotals, member: str | None = None) -> None:
    """Raise ParseError when a figure the file states disagrees with its parsed rows."""
    ours = computed_totals(rows)
    for name in StatementTotals.__dataclass_fields__:
        want = getattr(stated, name)
        if want is None:
            continue
        got = getattr(ours, name)
        if Decimal(want) != Decimal(got):
            raise ParseError(
                path, None, f"totals disagree: the file states {name}={want}, its rows add up to {got} "
                "(truncated or corrupt file)", member,
            )


# --- checks every text format shares ---------------------------------------------------
# They look at the raw bytes before any parsing, so a hostile file is refused promptly and by
# its real cause (a NUL, a 10 MB line, the wrong encoding), not by whatever a parser trips on.
# Each is a C-speed scan over bytes or bytearray (memchr, isascii, decode): no Python loop per line.


def refuse_missing_txn_id(path: Path, txn_ids, line_of, column: str, member: str | None = None) -> None:
    """Every statement row names the provider's transaction: it is the key a row is matched,
    de-duplicated and reported by (shared/spec/breaks.md). A row without one is corrupt; taken
    as is, it would count as a copy of any other row missing it."""
    missing = pc.is_null(txn_ids)
    if pc.any(missing).as_py():
        index = pc.index(missing, True).as_py()
        raise ParseError(path, line_of(index), f"empty {column}: a statement row without the provider's "
                         "transaction id cannot be matched or reported", member)


def refuse_empty(path: Path) -> None:
    if Path(path).stat().st_size == 0:
        raise ParseError(path, None, "empty file (0 bytes)")


def line_at(data, pos: int) -> int:
    """1-based line number of byte ``pos``."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, count=pos) == 0x0A)) + 1


@dataclass(frozen=True)
class TextShape:
    lines: int  # line breaks (LF)
    crlf: int  # of them preceded by CR
    # No space and no byte above 0x7F: DuckDB's trim (spaces, Unicode's among them) would
    # change no value, so the ledgers' typing skips it (~2.5 CPU-s per 10M orders).
    nothing_to_trim: bool

    @property
    def mixed_line_ends(self) -> bool:
        return 0 < self.crlf < self.lines


def check_text(path: Path, data, member: str | None = None, first_line: int = 1) -> None:
    """Refuse NUL bytes (a CSV or fixed-width file never holds one: binary data or corruption)
    and lines over MAX_LINE_BYTES (a lost line break or garbage), before any parser sees them."""
    check_nul(path, data, member, first_line)
    check_line_lengths(path, data, member, first_line)


def check_nul(path: Path, data, member: str | None = None, first_line: int = 1) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise ParseError(path, first_line + line_at(data, nul) - 1,
                         f"NUL byte at column {column} (binary data or a corrupt file)", member)


def check_line_lengths(path: Path, data, member: str | None = None, first_line: int = 1) -> None:
    """Lines are measured without walking them: every aligned block of half the limit must hold a
    line break (a longer line covers a whole block), so one ``find`` per 32 KiB does it and
    only a block without a break is looked at closely."""
    size, probe, start = len(data), MAX_LINE_BYTES // 2, 0
    while start < size:
        end = min(start + probe, size)
        if end - start < probe or data.find(b"\n", start, end) >= 0:
            start = end
            continue
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", end)
        line_end = size if line_end < 0 else line_end
        if line_end - line_start > MAX_LINE_BYTES:
            raise ParseError(path, first_line + line_at(data, line_start) - 1,
                             f"line is {line_end - line_start:,} bytes long, over the {MAX_LINE_BYTES // 1024} KiB "
                             "limit (lost line breaks or not this format)", member)
        start = line_end + 1


def line_blocks(fh):
    """A file's bytes in blocks of about _SCAN_CHUNK, each ending at a line break (the last one
    may not): no line, and so no UTF-8 character or CRLF, is split between two blocks. A line
    longer than a block makes its block longer (check_line_lengths then refuses it whole)."""
    pending: list[bytes] = []
    while chunk := fh.read(_SCAN_CHUNK):
        cut = chunk.rfind(b"\n") + 1
        if cut:
            yield b"".join([*pending, memoryview(chunk)[:cut]])
            pending, chunk = [], chunk[cut:]
        if chunk:
            pending.append(chunk)
    if pending:
        yield b"".join(pending)


def check_text_file(path: Path, not_utf8: str) -> tuple[TextShape, bytes]:
    """check_text and check_utf8 of a whole file, read in blocks so that it is never held in
    memory, and its line ends. Same errors, same lines as the whole-file checks: a NUL anywhere
    comes first, then the first over-long line, then the first line that is not UTF-8.
    Returns the shape and the first line (the header)."""
    lines = crlf = 0
    nothing_to_trim = True
    first: bytes | None = None
    too_long = not_text = None  # raised once the whole file is known to hold no NUL
    with open(path, "rb") as fh:
        for block in line_blocks(fh):
            check_nul(path, block, None, lines + 1)
            if too_long is None:
                too_long = _raised(check_line_lengths, path, block, None, lines + 1)
            if too_long is None and not_text is None:
                not_text = _raised(check_utf8, path, block, None, not_utf8, lines + 1)
            if first is None:
                end = block.find(b"\n")
                first = block if end < 0 else block[:end]
            lines += block.count(b"\n")
            if b"\r" in block:  # a block without CR holds no CRLF: memchr, not a pair count (~1 s per GB)
                crlf += block.count(b"\r\n")
            if nothing_to_trim and (b" " in block or not block.isascii()):
                nothing_to_trim = False
    for error in (too_long, not_text):
        if error is not None:
            raise error
    return TextShape(lines, crlf, nothing_to_trim), first or b""


def _raised(check: Callable[..., None], *args) -> ParseError | None:
    try:
        check(*args)
    except ParseError as error:
        return error
    return None


def _chunks_at_line_ends(data):
    """(start, piece) of about _SCAN_CHUNK bytes, each ending at a line break: a line break
    never falls inside a UTF-8 or GBK character, so each piece decodes on its own."""
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", min(start + _SCAN_CHUNK, size))
        end = size if end < 0 else end + 1
        yield start, data[start:end]
        start = end


def check_utf8(path: Path, data, member: str | None, cause: str, first_line: int = 1) -> None:
    """Refuse text that is not UTF-8, naming the line of the first bad byte."""
    if data.isascii():
        return
    for start, chunk in _chunks_at_line_ends(data):
        if chunk.isascii():
            continue
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(path, first_line + line_at(data, start + error.start) - 1, cause, member) from None


def refuse_utf8(path: Path, data, member: str | None, what: str) -> None:
    """For GBK formats: refuse text that is in fact UTF-8 (re-encoded after download). GBK
    text with Chinese in it is never valid UTF-8 for long, so the scan stops at the first
    piece that fails to decode; pure ASCII is the same in both and passes."""
    if data.isascii():
        return
    first = None
    for start, chunk in _chunks_at_line_ends(data):
        if chunk.isascii():
            continue
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return
        if first is None:
            first = start + int(np.argmax(np.frombuffer(chunk, np.uint8) > 0x7F))
    if first is not None:
        raise ParseError(path, line_at(data, first), f"text is UTF-8, but {what} are GBK "
                         "(re-encoded after download?)", member)


def provider_parser(what: str) -> Callable[[Callable[[Path], "ParsedFile"]], Callable[[Path], "ParsedFile"]]:
    """Make a provider parser raise only ParseError: a broken archive or an unreadable value
    becomes a ParseError naming the file, so staging always quarantines it."""

    def decorate(body: Callable[[Path], ParsedFile]) -> Callable[[Path], ParsedFile]:
        @functools.wraps(body)
        def parse(path: Path) -> ParsedFile:
            path = Path(path)
            try:
                return body(path)
            except ParseError:
                raise
            except (zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as error:
                archive = "gzip" if path.suffix.lower() == ".gz" else "zip"
                raise ParseError(path, None, f"corrupt or truncated {archive}: {error}") from error
            except (pa.ArrowException, ValueError, UnicodeError) as error:
                raise ParseError(path, None, f"unreadable {what}: {error}") from error

        return parse

    return decorate


# DuckDB limits for parsing (in-memory connections): set once per process from the
# configuration by ``configure_parsing``; a parse may spill to ``temp_directory`` past them.
_PARSE_CONFIG: dict[str, object] = {}


def configure_parsing(memory_limit: str, threads: int, temp_directory: Path) -> None:
    Path(temp_directory).mkdir(parents=True, exist_ok=True)
    _PARSE_CONFIG.update(memory_limit=memory_limit, threads=threads, temp_directory=str(temp_directory))


def parsing_connection():
    """An in-memory DuckDB for one parse, within the configured memory and threads."""
    import duckdb

    con = duckdb.connect(config=dict(_PARSE_CONFIG))
    con.execute("set enable_progress_bar = false")
    return con


def constant_text(value: str | None, n: int) -> pa.Array:
    """The same text on every row, built from buffers (a Python list of n strings is slow)."""
    if value is None:
        return pa.nulls(n, pa.string())
    raw = value.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(raw)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)]) \
        .cast(pa.string())


def first_row_with_wrong_width(body: bytes, width: int, separator: bytes) -> tuple[int, int] | None:
    """(row index, field count) of the first line of ``body`` whose count of the one-byte
    ``separator`` disagrees with a header of ``width`` fields, or None."""
    buf = np.frombuffer(body, np.uint8)
    ends = np.flatnonzero(buf == 0x0A)
    if len(ends) == 0 or ends[-1] != len(buf) - 1:
        ends = np.append(ends, len(buf))
    starts = np.concatenate(([0], ends[:-1] + 1))
    found = (np.add.reduceat((buf == separator[0]).astype(np.uint8), np.minimum(starts, len(buf) - 1),
                             dtype=np.int64) if len(buf) else starts)
    found = np.where(starts >= len(buf), 0, found)  # an empty last line has no separator
    wrong = np.flatnonzero(found + 1 != width)
    return (int(wrong[0]), int(found[wrong[0]]) + 1) if len(wrong) else None


TIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"  # providers' local times: 2024-05-15 09:01:10


def parse_times(path: Path, text: pa.ChunkedArray, column: str, first_line: int,
                member: str | None = None) -> pa.ChunkedArray:
    """A column of ``YYYY-MM-DD hh:mm:ss`` texts as timestamps, or a ParseError naming the line of
    the first one that is malformed or no calendar time (02-30)."""
    from etl.schema import TS

    ok = pc.match_substring_regex(text, TIME_TEXT)
    if pc.all(ok).as_py() is not False:
        try:
            return text.cast(TS)
        except pa.ArrowInvalid:  # well-formed but not a calendar time: find which
            parsed = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
            ok = pc.fill_null(pc.equal(pc.cast(parsed, pa.string()), text), False)
    index = pc.index(ok, False).as_py()
    raise ParseError(path, first_line + index, f"bad date/time {text[index].as_py()!r} in {column}", member)
