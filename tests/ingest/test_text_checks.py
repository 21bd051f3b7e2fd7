"""The ledgers' byte checks read a file in blocks (base.check_text_file) instead of whole: with
any block size, the verdict is the whole-file checks' own, to the error, line and column, and
so are the line ends and the header. Blocks are made tiny here so that lines, UTF-8
characters and CRLFs fall across block boundaries."""
from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.ingest import base
from etl.ingest.base import MAX_LINE_BYTES, ParseError, TextShape, check_text, check_text_file, check_utf8

CAUSE = "text is not UTF-8"
PIECES = [b"a", b"1,", b" ", b'"', "é".encode(), "中".encode(), "😀".encode(), b"\r", b"\n", b"\r\n", b"\n",
          b"\x00", b"\xff", "中".encode()[:2], b"z" * (MAX_LINE_BYTES // 3)]  # a few of them make a line too long


def whole_file(path: Path) -> tuple[TextShape, bytes] | str:
    data = path.read_bytes()
    try:
        check_text(path, data)
        check_utf8(path, data, None, CAUSE)
    except ParseError as error:
        return str(error)
    return TextShape(data.count(b"\n"), data.count(b"\r\n"), data.isascii() and b" " not in data), data.split(b"\n", 1)[0]


def in_blocks(path: Path) -> tuple[TextShape, bytes] | str:
    try:
        return check_text_file(path, CAUSE)
    except ParseError as error:
        return str(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=60), block=st.integers(1, 40))
def test_blocks_give_the_whole_file_verdict(monkeypatch, pieces, block):
    monkeypatch.setattr(base, "_SCAN_CHUNK", block)
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.csv"
        path.write_bytes(b"".join(pieces))
        assert in_blocks(path) == whole_file(path)


def test_errors_name_lines_far_into_a_large_file(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "_SCAN_CHUNK", 1000)
    lines = [b"id,name\n"] + [f"{i},row {i}\n".encode() for i in range(2, 5000)]
    path = tmp_path / "ledger.csv"
    for damage, expected in ((b"4321,\x00x\n", "line 4321: NUL byte at column 6"),
                             (b"4321," + b"x" * (MAX_LINE_BYTES + 1) + b"\n", "line 4321: line is 65,542 bytes long"),
                             ("4321,中".encode("gbk") + b"\n", "line 4321: text is not UTF-8")):
        path.write_bytes(b"".join(lines[:4320] + [damage] + lines[4321:]))
        assert expected in in_blocks(path) and in_blocks(path) == whole_file(path)
