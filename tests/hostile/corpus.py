"""The corpus of bad inputs, made by code from good files of a generated day.

Every function takes the bytes (or the path) of a good delivered file and returns it damaged
in one way, as it could really arrive: cut short, re-encoded, with a row doubled, a column
renamed, a NUL byte, a 10 MB line, a hostile zip member… Nothing here is a checked-in binary:
a reader sees exactly what each case is, and the cases follow any change of the formats.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from etl.generate.formats import write_zip
from etl.ingest.archive import member_name

WHEN = (2026, 11, 25, 9, 0, 0)
TEN_MB = 10 * 1024 * 1024


# --- zips -----------------------------------------------------------------------------------


def members(path: Path) -> list[tuple[str, bytes]]:
    """A (trusted, test-made) zip's members in order, by their real names."""
    with zipfile.ZipFile(path) as archive:
        return [(member_name(info), archive.read(info)) for info in archive.infolist()]


def rezip(path: Path, new_members: list[tuple[str, bytes]], gbk_names: bool = False) -> Path:
    write_zip(path, new_members, WHEN, gbk_names=gbk_names)
    return path


def edit_member(path: Path, match: Callable[[str], bool], edit: Callable[[bytes], bytes],
                gbk_names: bool = False) -> Path:
    """Rewrite the members whose name ``match``es with ``edit`` (the others are kept)."""
    return rezip(path, [(n, edit(d) if match(n) else d) for n, d in members(path)], gbk_names)


def cut(data: bytes, fraction: float = 0.5) -> bytes:
    return data[: int(len(data) * fraction)]


def zip_with_raw_names(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    """A zip whose member names are written exactly as given (``zipfile`` keeps ``..``,
    absolute paths and backslashes as they are: it is the reader that must refuse them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=WHEN)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def zip_bomb(path: Path, name: str, size: int = 64 * 1024 * 1024) -> Path:
    """``size`` bytes of zeros deflated to about size/1000: a ratio far above any real bill."""
    return zip_with_raw_names(path, [(name, bytes(size))])


def _patch_sizes(path: Path, name: str, file_size: int | None = None, flag_bits: int | None = None) -> Path:
    """Overwrite the declared uncompressed size (and/or the flag bits) of member ``name`` in
    both its local header and the central directory: the header lies, the data is unchanged."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = next(i for i in archive.infolist() if i.filename == name)
    local = info.header_offset
    central = raw.find(b"PK\x01\x02")  # this member's directory entry: the one pointing at its header
    while struct.unpack_from("<I", raw, central + 42)[0] != local:
        central = raw.find(b"PK\x01\x02", central + 4)
    if file_size is not None:
        struct.pack_into("<I", raw, local + 22, file_size)
        struct.pack_into("<I", raw, central + 24, file_size)
    if flag_bits is not None:
        struct.pack_into("<H", raw, local + 6, flag_bits)
        struct.pack_into("<H", raw, central + 8, flag_bits)
    path.write_bytes(bytes(raw))
    return path


def declares_huge_size(path: Path, name: str) -> Path:
    """A member whose header declares 3.5 GiB (a bomb that announces itself)."""
    zip_with_raw_names(path, [(name, b"x" * 1000)])
    return _patch_sizes(path, name, file_size=int(3.5 * (1 << 30)))


def lying_header(path: Path, name: str) -> Path:
    """A member declaring 1,000 bytes whose data inflates to 20 MB: read bounded, it stops at 1,001."""
    zip_with_raw_names(path, [(name, bytes(20 * 1024 * 1024))])
    return _patch_sizes(path, name, file_size=1000)


def encrypted(path: Path, name: str) -> Path:
    zip_with_raw_names(path, [(name, b"secret")])
    return _patch_sizes(path, name, flag_bits=0x1)


def bzip2_member(path: Path, name: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr(name, b"data")
    return path


def duplicate_member(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, data)
        import warnings

        with warnings.catch_warnings():  # zipfile warns about the duplicate: that is the point
            warnings.simplefilter("ignore")
            archive.writestr(name, b"other content")
    return path


def tampered_local_name(path: Path, name: str, other: str) -> Path:
    """The local header names another file than the central directory (a zip parser confusion
    trick): ``other`` must have the same length as ``name``."""
    assert len(other) == len(name)
    zip_with_raw_names(path, [(name, b"data")])
    raw = path.read_bytes()
    path.write_bytes(raw.replace(name.encode(), other.encode(), 1))  # the first copy is the local header
    return path


# --- gzip -----------------------------------------------------------------------------------


def gzip_bomb(size: int = 32 * 1024 * 1024) -> bytes:
    return gzip.compress(bytes(size), mtime=0)


# --- text lines -----------------------------------------------------------------------------


def lines(data: bytes) -> list[bytes]:
    """Lines with their line ends kept."""
    return data.splitlines(keepends=True)


def with_line(data: bytes, index: int, new: bytes) -> bytes:
    """``new`` inserted as line ``index`` (0-based) with the file's own line end."""
    parts = lines(data)
    end = b"\r\n" if parts[0].endswith(b"\r\n") else b"\n"
    return b"".join(parts[:index] + [new + end] + parts[index:])


def replace_line(data: bytes, index: int, edit: Callable[[bytes], bytes]) -> bytes:
    parts = lines(data)
    body = parts[index].rstrip(b"\r\n")
    parts[index] = edit(body) + parts[index][len(body):]
    return b"".join(parts)


def duplicate_line(data: bytes, index: int) -> bytes:
    parts = lines(data)
    return b"".join(parts[: index + 1] + [parts[index]] + parts[index + 1:])


def mixed_line_ends(data: bytes) -> bytes:
    """Every other line's CRLF becomes LF (and every other LF becomes CRLF)."""
    parts = lines(data)
    out = []
    for i, line in enumerate(parts):
        body = line.rstrip(b"\r\n")
        if len(body) == len(line):  # the last line without a line end
            out.append(line)
        else:
            out.append(body + (b"\n" if i % 2 else b"\r\n"))
    return b"".join(out)


def nul_in_line(data: bytes, index: int, at: int = 5) -> bytes:
    return replace_line(data, index, lambda line: line[:at] + b"\x00" + line[at:])


def ten_mb_line(data: bytes, index: int) -> bytes:
    """A 10 MB line of random letters (random, so that inside a zip it is not also a zip bomb)."""
    letters = np.random.default_rng(0).integers(ord("a"), ord("z") + 1, TEN_MB, dtype=np.uint8)
    return with_line(data, index, letters.tobytes())


def reencode(data: bytes, source: str, target: str) -> bytes:
    return data.decode(source).encode(target, errors="replace")


# --- columns of delimited text --------------------------------------------------------------


def edit_columns(data: bytes, header_index: int, last_index: int, edit: Callable[[list[bytes]], list[bytes]],
                 separator: bytes = b",") -> bytes:
    """Apply ``edit`` to the fields of the header (line ``header_index``) and of every row up
    to line ``last_index`` (exclusive; negative counts from the end)."""
    parts = lines(data)
    stop = last_index if last_index >= 0 else len(parts) + last_index
    for i in range(header_index, stop):
        body = parts[i].rstrip(b"\r\n")
        fields = body.split(separator)
        parts[i] = separator.join(edit(fields)) + parts[i][len(body):]
    return b"".join(parts)


def column_index(header: bytes, name: str, encoding: str, separator: bytes = b",") -> int:
    names = [n.strip(b"\t` ").decode(encoding) for n in header.rstrip(b"\r\n").split(separator)]
    return names.index(name)


# --- WeChat: a bill and its SHA1 go together -------------------------------------------------


def write_wechat(path: Path, data: bytes) -> Path:
    """Write a WeChat bill with a SHA1 that fits it: the damage is the provider's, not the
    download's (a download that breaks the SHA1 is its own case)."""
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    sha1 = path.with_name(path.name + ".sha1")
    if sha1.exists():
        sha1.write_text(hashlib.sha1(data).hexdigest() + "\n", "ascii")
    return path


def wechat_rows(data: bytes) -> tuple[int, int]:
    """(first data line index, summary header line index) of a WeChat bill."""
    parts = lines(data)
    summary = next(i for i, line in enumerate(parts) if line.lstrip(b"\xef\xbb\xbf").startswith("总交易单数".encode()))
    return 1, summary


def wechat_edit_columns(data: bytes, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """Edit the columns of the header and the rows (rows are split on ",`", the header on ",")."""
    parts = lines(data)
    _, summary = wechat_rows(data)
    header = parts[0].rstrip(b"\r\n")
    parts[0] = b",".join(edit(header.split(b","))) + parts[0][len(header):]
    for i in range(1, summary):
        body = parts[i].rstrip(b"\r\n")
        fields = body[1:].split(b",`")  # drop the row's first backtick
        parts[i] = b"`" + b",`".join(edit(fields)) + parts[i][len(body):]
    return b"".join(parts)


# --- UnionPay records -------------------------------------------------------------------------


def set_field(record: bytes, offset: int, value: bytes) -> bytes:
    return record[:offset] + value + record[offset + len(value):]
