"""Reading providers' zips and gzips without trusting them.

A delivered archive is input like any other: its member names, declared sizes and
compression are checked before a byte is inflated, and inflating is bounded by the size the
archive declares, so neither a path in a name (zip slip) nor a small file that expands to
gigabytes (zip bomb, or a header that lies about the size) can reach the disk or exhaust
memory. Nothing is ever extracted to disk: members are read into memory by their checked
names only. Every refusal is a ``ParseError`` naming the file, the member and the cause.
"""
from __future__ import annotations

import re
import struct
import zipfile
import zlib
from pathlib import Path

from etl.ingest.base import ParseError

MAX_MEMBER_BYTES = 2 << 30  # one member (or one gzip'd bill), uncompressed; a 3M-row day is ~1.9 GB
MAX_TOTAL_BYTES = 4 << 30  # all members of one zip together (split Alipay days)
MAX_RATIO = 200  # uncompressed : compressed; real bills compress 5–20 : 1
RATIO_FLOOR = 1 << 20  # below 1 MiB uncompressed the ratio is not a risk (a blank 10 KB member is 300 : 1)
MAX_MEMBERS = 64
# Compressed bytes fed to zlib at a time, and the most it may produce per call: memory stays
# bounded whatever the input, and the pieces stay small enough to be reused by the allocator
# (measured: within 20 % of one-shot zlib.decompress).
_IN_CHUNK = 1 << 16
_OUT_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n:,} bytes"


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's real name: Alipay and UnionPay write GBK names without the UTF-8 flag (0x800)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except UnicodeError:
        return info.filename


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name must not be trusted, or None. Names are never used as paths here,
    but a zip that carries a traversal is hostile or broken either way: it is refused whole."""
    if not name:
        return "an empty member name"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "a control character in a member name"
    if "\\" in name:
        return "a backslash in a member name"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path as a member name"
    if ".." in name.split("/"):
        return "'..' in a member name (path traversal, 'zip slip')"
    return None


class SafeZip:
    """A zip whose member list has been checked; ``read(name)`` inflates one member, bounded.

    Refused (``ParseError``) when opened: not a zip or cut short; more than MAX_MEMBERS
    members; an unsafe or duplicated member name; an encrypted member or a compression other
    than stored/deflate; a member declaring more than MAX_MEMBER_BYTES, all together more
    than MAX_TOTAL_BYTES, or an expansion ratio above MAX_RATIO.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as error:
            raise ParseError(self.path, None, f"corrupt or truncated zip: {error}") from error
        try:
            self.members = self._check(self._zip.infolist())
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> "SafeZip":
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        return sorted(self.members)

    def _check(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        if len(infos) > MAX_MEMBERS:
            raise ParseError(self.path, None, f"zip holds {len(infos)} members, more than {MAX_MEMBERS}: refused")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = member_name(info)
            if (why := unsafe_name_reason(name)) is not None:
                raise ParseError(self.path, None, f"unsafe zip: {why} ({name!r}); the zip is refused whole")
            if info.is_dir():
                continue
            if name in members:
                raise ParseError(self.path, None, f"member {name!r} appears twice in the zip (which one is the bill?)")
            if info.flag_bits & 0x1:
                raise ParseError(self.path, None, "member is encrypted", name)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ParseError(self.path, None, f"member uses compression method {info.compress_type}; "
                                                  "only stored and deflate are accepted", name)
            if info.file_size > MAX_MEMBER_BYTES:
                raise ParseError(self.path, None, f"member declares {_gib(info.file_size)} uncompressed, over the "
                                                  f"{_gib(MAX_MEMBER_BYTES)} limit (zip bomb?)", name)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                raise ParseError(self.path, None, f"member expands {ratio:,.0f}:1 ({_gib(info.compress_size)} → "
                                                  f"{_gib(info.file_size)}), over the {MAX_RATIO}:1 limit (zip bomb?)",
                                 name)
            total += info.file_size
            members[name] = info
        if total > MAX_TOTAL_BYTES:
            raise ParseError(self.path, None, f"members declare {_gib(total)} uncompressed together, over the "
                                              f"{_gib(MAX_TOTAL_BYTES)} limit (zip bomb?)")
        return members

    def read(self, name: str) -> bytearray:
        """The member's bytes, inflated into one buffer of its declared size: a member that
        would grow past that size is stopped there (the header lied), never read to its end."""
        info = self.members[name]
        size = info.file_size
        fp = self._zip.fp
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise ParseError(self.path, None, "bad local header (corrupt or truncated zip)", name)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        local_name = fp.read(name_length)
        central_name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
        if local_name != central_name:
            raise ParseError(self.path, None, f"local header names {local_name!r}, the directory {central_name!r} "
                                              "(tampered zip)", name)
        fp.seek(info.header_offset + 30 + name_length + extra_length)
        if info.compress_type == zipfile.ZIP_STORED:
            data = bytearray(size)
            if fp.readinto(data) != size or info.compress_size != size:
                raise ParseError(self.path, None, "member is cut short (truncated zip)", name)
        else:
            data = _inflate(self.path, name, _chunks(fp, info.compress_size), size, wbits=-15)
        if zlib.crc32(data) != info.CRC:
            raise ParseError(self.path, None, "bad CRC: the member's bytes are corrupt", name)
        return data


def _chunks(fp, length: int):
    while length > 0:
        chunk = fp.read(min(_IN_CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)
        yield chunk


def _inflate(path: Path, member: str | None, chunks, size: int, wbits: int) -> bytearray:
    """Inflate exactly ``size`` bytes into one preallocated buffer. More output than that is
    refused as soon as it appears; less (or no end-of-stream) is a truncated archive."""
    out = bytearray(size)
    view = memoryview(out)
    inflater = zlib.decompressobj(wbits)
    pos = 0
    pending = b""
    source = iter(chunks)
    try:
        while not inflater.eof:
            if not pending:
                pending = next(source, b"")
                if not pending:
                    break
            piece = inflater.decompress(pending, min(_OUT_CHUNK, size - pos + 1))
            pending = inflater.unconsumed_tail
            if pos + len(piece) > size:
                raise ParseError(path, None, f"inflates past the {_gib(size)} its header declares "
                                             "(zip bomb or tampered header): stopped there", member)
            view[pos: pos + len(piece)] = piece
            pos += len(piece)
    except zlib.error as error:
        raise ParseError(path, None, f"corrupt compressed data: {error}", member) from error
    finally:
        view.release()
    if not inflater.eof or pos != size:
        raise ParseError(path, None, f"member is cut short: {pos:,} of {size:,} bytes (truncated archive)", member)
    return out


def gunzip(path: Path, data: bytes | bytearray, limit: int = MAX_MEMBER_BYTES) -> bytearray:
    """A gzip file's content (all members, as ``gzip.decompress``), refusing more than
    ``limit`` bytes or more than MAX_RATIO times the compressed size (above RATIO_FLOOR)."""
    cap = min(limit, max(RATIO_FLOOR, MAX_RATIO * len(data)))
    out = bytearray()
    rest = memoryview(data).cast("B")
    try:
        while len(rest):
            if len(rest) < 18 or bytes(rest[:2]) != b"\x1f\x8b":
                if len(out) and not bytes(rest).strip(b"\x00"):  # zero padding after the last member, as gzip allows
                    break
                raise ParseError(path, None, "not a gzip file (or cut short)")
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            offset = 0
            while not inflater.eof:
                if offset >= len(rest) and not inflater.unconsumed_tail:
                    break
                chunk = inflater.unconsumed_tail or rest[offset: offset + _IN_CHUNK]
                if not inflater.unconsumed_tail:
                    offset += len(chunk)
                piece = inflater.decompress(chunk, min(_OUT_CHUNK, cap - len(out) + 1))
                if len(out) + len(piece) > cap:
                    raise ParseError(path, None, f"gzip inflates past {_gib(cap)} (limit: {_gib(limit)} and "
                                                 f"{MAX_RATIO}:1 of its size; gzip bomb?): stopped there")
                out += piece
            if not inflater.eof:
                raise ParseError(path, None, "gzip is cut short (truncated download)")
            used = offset - len(inflater.unused_data)
            rest = rest[used:]
    except zlib.error as error:
        raise ParseError(path, None, f"corrupt gzip data: {error}") from error
    return out
