"""Providers' archives are input too: a zip or gzip is checked before a byte is inflated, read
bounded, and never extracted to disk. Each hostile archive is refused (→ quarantine) with
the file, the member and the cause."""
from __future__ import annotations

import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from etl.ingest import alipay, unionpay, wechatpay
from etl.ingest.archive import MAX_MEMBERS, SafeZip, gunzip
from etl.ingest.base import ParseError
from tests.hostile import corpus

ALIPAY_ZIP = "20881234123412340156_20261124.csv.zip"
UNIONPAY_ZIP = "898111111111111_20261124.zip"
INN = "INN26112488ZM_898111111111111"
PARSERS = {"alipay": (alipay, ALIPAY_ZIP), "unionpay": (unionpay, UNIONPAY_ZIP)}


def refused(parser, path: Path) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parser.parse(path)
    assert caught.value.file == str(path)
    return caught.value


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


class TestTruncatedArchive:
    """A zip or gzip cut short in transfer: refused as truncated, never half-read."""

    @pytest.mark.parametrize("source", ["alipay", "unionpay"])
    @pytest.mark.parametrize("fraction", [0.3, 0.9, 0.999])
    def test_zip_cut(self, day, source, fraction):
        path = day.file(source)
        path.write_bytes(corpus.cut(path.read_bytes(), fraction))
        error = refused(PARSERS[source][0], path)
        assert "truncated" in error.cause or "corrupt" in error.cause

    def test_gzip_cut(self, day, tmp_path):
        data = day.file("wechatpay").read_bytes()
        path = tmp_path / "1900000001_20261124_ALL.csv.gz"
        path.write_bytes(corpus.cut(corpus.gzip.compress(data, mtime=0), 0.6))
        error = refused(wechatpay, path)
        assert "gzip is cut short" in error.cause


class TestZipSlip:
    """A member named with '..', an absolute path or a backslash: the whole zip is refused
    (names are never used as paths, and nothing is written anywhere)."""

    @pytest.mark.parametrize("name", ["../../x", "../../INN26112488ZM_898111111111111", "/etc/cron.d/x",
                                      "..\\..\\x", "C:/x", "ok/../../x", "a\nb"])
    @pytest.mark.parametrize("source", ["alipay", "unionpay"])
    def test_refused_whole(self, tmp_path, samples_dir, source, name):
        parser, zip_name = PARSERS[source]
        good = corpus.members(samples_dir / "20881234123412340156_20240515.csv.zip") if source == "alipay" else []
        path = corpus.zip_with_raw_names(tmp_path / zip_name, [*good, (name, b"pwned")])
        before = files_under(tmp_path.parent)
        error = refused(parser, path)
        assert error.cause.startswith("unsafe zip:") and repr(name) in error.cause
        assert files_under(tmp_path.parent) == before  # nothing extracted, anywhere
        assert not (tmp_path.parent.parent / "x").exists()


class TestZipBomb:
    """Expansion is capped before reading (declared size, ratio, members, total) and bounded
    while reading (a header that lies is stopped at its declared size)."""

    def test_ratio_over_200_to_1_is_refused_before_inflating(self, tmp_path):
        path = corpus.zip_bomb(tmp_path / UNIONPAY_ZIP, INN)
        tracemalloc.start()
        try:
            error = refused(unionpay, path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert "over the 200:1 limit" in error.cause and error.member == INN
        assert peak < 8 * 1024 * 1024  # the 64 MB member was never inflated

    def test_declared_size_over_2_gib_is_refused_before_inflating(self, tmp_path):
        path = corpus.declares_huge_size(tmp_path / UNIONPAY_ZIP, INN)
        error = refused(unionpay, path)
        assert "declares 3.5 GiB uncompressed, over the 2.0 GiB limit" in error.cause

    def test_header_that_lies_is_stopped_at_its_declared_size(self, tmp_path):
        path = corpus.lying_header(tmp_path / UNIONPAY_ZIP, INN)
        started = time.perf_counter()
        tracemalloc.start()
        try:
            error = refused(unionpay, path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert "inflates past the 1,000 bytes its header declares" in error.cause
        assert peak < 8 * 1024 * 1024 and time.perf_counter() - started < 2  # 20 MB never produced

    def test_too_many_members(self, tmp_path):
        path = corpus.zip_with_raw_names(tmp_path / UNIONPAY_ZIP, [(f"m{i}", b"") for i in range(MAX_MEMBERS + 1)])
        assert f"more than {MAX_MEMBERS}" in refused(unionpay, path).cause

    def test_gzip_bomb_is_stopped_at_200_to_1(self, tmp_path):
        path = tmp_path / "1900000001_20261124_ALL.csv.gz"
        path.write_bytes(corpus.gzip_bomb())
        tracemalloc.start()
        try:
            error = refused(wechatpay, path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert "gzip inflates past" in error.cause and "gzip bomb" in error.cause
        assert peak < 24 * 1024 * 1024  # stopped near 200 × 32 KB, not at 32 MB

    def test_small_members_compress_as_they_like(self, tmp_path):
        """A blank 100 KB member (ratio ~1000:1) is no risk: the ratio applies above 1 MiB."""
        path = corpus.zip_with_raw_names(tmp_path / "x.zip", [("RD", b" " * 100_000)])
        with SafeZip(path) as archive:
            assert archive.read("RD") == b" " * 100_000


class TestOtherHostileZips:
    """Duplicate member names, encryption, other compression methods, a local header that
    names another file: refused, naming the member."""

    def test_member_twice(self, tmp_path):
        path = corpus.duplicate_member(tmp_path / UNIONPAY_ZIP, INN, b"S22")
        assert f"member '{INN}' appears twice" in refused(unionpay, path).cause

    def test_encrypted_member(self, tmp_path):
        path = corpus.encrypted(tmp_path / UNIONPAY_ZIP, INN)
        error = refused(unionpay, path)
        assert (error.cause, error.member) == ("member is encrypted", INN)

    def test_bzip2_member(self, tmp_path):
        path = corpus.bzip2_member(tmp_path / UNIONPAY_ZIP, INN)
        assert "only stored and deflate are accepted" in refused(unionpay, path).cause

    def test_local_header_names_another_file(self, tmp_path):
        path = corpus.tampered_local_name(tmp_path / UNIONPAY_ZIP, INN, "INN26112488ZM_../../etc/passw")
        assert "tampered zip" in refused(unionpay, path).cause

    def test_corrupt_member_data_fails_its_crc(self, day):
        path = day.file("unionpay")
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(INN)
        middle = info.header_offset + 30 + len(INN) + info.compress_size // 2
        raw[middle] ^= 0xFF
        path.write_bytes(bytes(raw))
        error = refused(unionpay, path)
        assert "corrupt" in error.cause or "bad CRC" in error.cause


class TestNeverExtracted:
    """No parser extracts: the code has no ``extract``/``extractall`` and opens no path built
    from a member name."""

    def test_no_extract_calls_in_the_ingest_code(self):
        root = Path(__file__).resolve().parents[2] / "etl" / "ingest"
        for path in root.glob("*.py"):
            text = path.read_text("utf-8")
            assert ".extract(" not in text and ".extractall(" not in text, path

    def test_good_zips_still_read_the_same(self, day):
        for parser, source in ((alipay, "alipay"), (unionpay, "unionpay")):
            assert parser.parse(day.file(source)).rows.num_rows == day.truth_rows(source)


class TestGzipAsGzipReadsIt:
    """The bounded gunzip reads what ``gzip.decompress`` reads: members back to back."""

    def test_concatenated_members(self, tmp_path):
        data = corpus.gzip.compress(b"a" * 10, mtime=0) + corpus.gzip.compress(b"b" * 5, mtime=0)
        assert gunzip(tmp_path / "x.gz", data) == b"a" * 10 + b"b" * 5

    def test_not_a_gzip(self, tmp_path):
        with pytest.raises(ParseError, match="not a gzip file"):
            gunzip(tmp_path / "x.gz", b"plain text, not gzip at all")
