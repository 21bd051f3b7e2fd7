"""Writers of the three provider statement formats, byte for byte as the providers deliver
them (``shared/spec/providers.md``): ``alipay.write``, ``wechatpay.write``, ``unionpay.write``.

Each takes rows in the canonical ``etl.schema.PAYMENTS`` shape (lineage columns may be
absent) and writes one business date's files. They are the inverse of ``etl.ingest``'s
parsers: a round trip reproduces the canonical rows. Lines are built column-wise with
pyarrow/numpy (no Python loop per row), and zips carry fixed timestamps so that the same
rows always give the same bytes.

What lives here is shared by the three writers.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.schema import FEE, MONEY, TS

NEEDED = ("provider_txn_id", "refund_id", "order_id", "kind", "amount", "settle_amount", "fee",
          "event_at", "status", "raw_type", "pay_detail")


def canonical_input(rows: pa.Table, kinds: dict[str, set[str]], provider: str) -> pa.Table:
    """The columns a writer reads, typed as in PAYMENTS, one chunk each; refuses rows the
    format cannot state (``kinds`` maps each writable kind to its writable statuses)."""
    missing = [c for c in NEEDED if c not in rows.column_names]
    if missing:
        raise ValueError(f"{provider} writer: rows lack column(s) {', '.join(missing)}")
    types = {"amount": MONEY, "settle_amount": MONEY, "fee": FEE, "event_at": TS}
    table = pa.table({c: rows[c].cast(types.get(c, pa.string())).combine_chunks() for c in NEEDED})
    for column in ("kind", "amount", "settle_amount", "fee", "event_at", "status"):
        if table[column].null_count:
            raise ValueError(f"{provider} writer: null {column}")
    for pair in pc.unique(pc.binary_join_element_wise(table["kind"], table["status"], "/")).to_pylist():
        kind, status = pair.split("/", 1)
        if kind not in kinds or status not in kinds[kind]:
            raise ValueError(f"{provider} writer: the format has no row of kind {kind!r} with status {status!r}")
    return table


def single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a table's column is chunked)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def unscaled(values: pa.Array, scale: int) -> np.ndarray:
    """Decimal values as int64 counts of 10**-scale (fen for scale 2); raises ValueError when a
    value has more decimals than the format states."""
    try:
        exact = single(values).cast(pa.decimal128(18, scale))
    except pa.ArrowInvalid as error:
        raise ValueError(f"a value has more than {scale} decimals: {error}") from None
    words = np.frombuffer(exact.buffers()[1], np.int64)[2 * exact.offset: 2 * (exact.offset + len(exact))]
    return words[0::2].copy()


def decimal_text(values: pa.Array, scale: int) -> pa.Array:
    """Plain decimal text with exactly ``scale`` decimals: ``-30.00``."""
    try:
        return values.cast(pa.decimal128(18, scale)).cast(pa.string())
    except pa.ArrowInvalid as error:
        raise ValueError(f"a value has more than {scale} decimals: {error}") from None


def text_or_empty(values: pa.Array) -> pa.Array:
    return pc.fill_null(values, "")


def refuse_chars(values: pa.Array, what: str, chars: str) -> None:
    """Ids are written unquoted: a separator inside one would shift every later column."""
    bad = pc.match_substring_regex(text_or_empty(values), "[" + "".join("\\" + c if c in "\\]^-" else c
                                                                       for c in chars) + "]")
    if pc.any(bad).as_py():
        raise ValueError(f"{what} {values[pc.index(bad, True).as_py()].as_py()!r} holds a character "
                         "the format cannot carry")


def gbk(values: pa.Array) -> pa.Array:
    """Text → GBK bytes, column-wise (ASCII values are already GBK)."""
    values = text_or_empty(values)
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return values.cast(pa.binary())
    encoded = pc.dictionary_encode(values)
    dictionary = pa.array([v.encode("gbk") for v in encoded.dictionary.to_pylist()], pa.binary())
    return pc.take(dictionary, encoded.indices)


def joined_bytes(lines: pa.Array) -> bytes:
    """The bytes of all elements back to back (each element already ends with its line break)."""
    lines = single(lines)
    if len(lines) == 0:
        return b""
    width = 8 if pa.types.is_large_binary(lines.type) or pa.types.is_large_string(lines.type) else 4
    offsets = np.frombuffer(lines.buffers()[1], np.int64 if width == 8 else np.int32)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2])[start:end].tobytes()


def delivered_at(business_date: date) -> tuple[int, int, int, int, int, int]:
    """The fixed zip timestamp of a business date's files: the next morning, 09:00."""
    day = business_date + timedelta(days=1)
    return (day.year, day.month, day.day, 9, 0, 0)


class _GbkNameInfo(zipfile.ZipInfo):
    """A member whose name is stored in GBK without the UTF-8 flag, as Alipay's zips are."""

    def _encodeFilenameFlags(self):  # noqa: N802 (zipfile's own name)
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def write_zip(path: Path, members: list[tuple[str, bytes | Iterable[bytes]]],
              when: tuple[int, int, int, int, int, int], gbk_names: bool = False, level: int = 6) -> Path:
    """A deterministic zip: fixed timestamps and attributes, members in the given order. A
    member's data is bytes or an iterable of byte blocks (streamed: large members are never
    held whole). A failure leaves no partial file behind."""
    info_type = _GbkNameInfo if gbk_names else zipfile.ZipInfo
    try:
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members:
                info = info_type(name, date_time=when)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 0
                info.external_attr = 0
                if isinstance(data, (bytes, bytearray, memoryview)):
                    archive.writestr(info, data, compresslevel=level)
                    continue
                info._compresslevel = level  # zipfile's own knob for open(..., "w")
                with archive.open(info, "w", force_zip64=True) as member:
                    for block in data:
                        member.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
