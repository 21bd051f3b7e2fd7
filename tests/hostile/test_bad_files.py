"""Hostile files, one damage at a time, at the parser: each is refused with the file, the line
(where there is one) and the cause, or, when the damage is data and not corruption, loads
with the text kept as text and a warning. What the run then does with them is in
test_end_to_end.py; zips and gzips have their own module."""
from __future__ import annotations

import re
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from etl.generate.formats import alipay as alipay_format
from etl.generate.formats import unionpay as unionpay_format
from etl.ingest import alipay, ledgers, unionpay
from etl.ingest.base import ParseError
from etl.ingest.stage import LEDGER_SOURCES, parse_file, stage_source
from etl.schema import PAYMENTS, SOURCE_SCHEMAS
from tests.hostile import corpus
from tests.hostile.conftest import DAY, Day

DETAIL = "业务明细.csv"  # the Alipay detail member's name ends so; the summary's with (汇总).csv
ALIPAY_HEADER, ALIPAY_FIRST_ROW = 4, 5  # 0-based line indexes in the detail member
UNIONPAY_INN = re.compile(r"^INN")


@pytest.fixture
def files(day: Day) -> "Files":
    return Files(day)


class Files:
    """The generated day's files, to damage in place, and the parser of each."""

    def __init__(self, day: Day):
        self.day = day

    def path(self, source: str) -> Path:
        return self.day.file(source)

    def parse(self, source: str):
        parsed = parse_file(self.path(source), source)
        if source in LEDGER_SOURCES:
            # A run stages a ledger another way (DuckDB writes it straight to Parquet): it must
            # keep the same rows, with the same warnings.
            rows, warnings = self._stage(source)
            assert warnings == parsed.warnings
            assert rows.equals(parsed.rows), "staged rows differ from the parsed ones"
        return parsed

    def refused(self, source: str) -> ParseError:
        with pytest.raises(ParseError) as caught:
            parse_file(self.path(source), source)
        error = caught.value
        assert error.file == str(self.path(source)), "the error names the file"
        if source in LEDGER_SOURCES:  # staging refuses it alike, and leaves nothing behind
            with pytest.raises(ParseError) as staged:
                self._stage(source)
            assert str(staged.value) == str(error)
        return error

    def _stage(self, source: str) -> tuple[pa.Table, list[str]]:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "staged.parquet"
            count, warnings, _ = ledgers.stage(self.path(source), source, target, "lineage", "hash")
            if not target.exists():
                raise AssertionError("staging wrote no file")
            table = pq.read_table(target)
            assert table.column("source_file").to_pylist() == ["lineage"] * count
            rows = table.drop_columns(["source_file", "file_hash"]).cast(SOURCE_SCHEMAS[source])
            return rows, warnings

    # -- each format's own way of being edited ------------------------------------------------
    def alipay_detail(self, edit) -> None:
        corpus.edit_member(self.path("alipay"), lambda n: n.endswith(DETAIL), edit, gbk_names=True)

    def alipay_lines(self) -> list[bytes]:
        [(_, data)] = [(n, d) for n, d in corpus.members(self.path("alipay")) if n.endswith(DETAIL)]
        return corpus.lines(data)

    def wechat(self, edit) -> None:
        path = self.path("wechatpay")
        corpus.write_wechat(path, edit(path.read_bytes()))

    def unionpay_inn(self, edit) -> None:
        corpus.edit_member(self.path("unionpay"), lambda n: bool(UNIONPAY_INN.match(n)), edit)

    def unionpay_report(self, edit) -> None:
        corpus.edit_member(self.path("unionpay"), lambda n: n.startswith("RD"), edit)

    def ledger(self, source: str, edit) -> None:
        path = self.path(source)
        path.write_bytes(edit(path.read_bytes()))


def alipay_column(files: Files, name: str) -> int:
    return corpus.column_index(files.alipay_lines()[ALIPAY_HEADER], name, "gbk")


def first_alipay_payment_line(files: Files) -> int:
    """0-based index of the first 交易 (payment) row of the detail member."""
    kind = alipay_column(files, "业务类型")
    return next(i for i, line in enumerate(files.alipay_lines()) if i >= ALIPAY_FIRST_ROW
                and line.split(b",")[kind].strip(b"\t").decode("gbk") == "交易")


def wechat_column(files: Files, name: str) -> int:
    return corpus.column_index(files.path("wechatpay").read_bytes().splitlines()[0], name, "utf-8")


def set_wechat_field(data: bytes, line: int, column: int, value: bytes) -> bytes:
    def edit(body: bytes) -> bytes:
        fields = body[1:].split(b",`")
        fields[column] = value
        return b"`" + b",`".join(fields)
    return corpus.replace_line(data, line, edit)


def set_alipay_field(files: Files, line: int, name: str, value: bytes) -> None:
    column = alipay_column(files, name)

    def edit(body: bytes) -> bytes:
        fields = body.split(b",")
        fields[column] = value
        return b",".join(fields)
    files.alipay_detail(lambda data: corpus.replace_line(data, line, edit))


def payments_of(parsed) -> pa.Table:
    return parsed.rows.select([f.name for f in PAYMENTS if f.name not in ("source_member",)])


class TestEmptyFile:
    """A 0-byte file (an aborted transfer) is refused as 'empty file' for every source; so is
    an empty member inside a provider's zip."""

    @pytest.mark.parametrize("source", ["orders", "billing", "surveys", "complaints", "alipay", "wechatpay",
                                        "unionpay"])
    def test_zero_bytes(self, files, source):
        files.path(source).write_bytes(b"")
        error = files.refused(source)
        assert (error.line, error.cause) == (None, "empty file (0 bytes)")

    def test_empty_member_in_the_alipay_zip(self, files):
        files.alipay_detail(lambda data: b"")
        error = files.refused("alipay")
        assert error.cause == "empty file (0 bytes)" and error.member.endswith(DETAIL)


class TestHeaderOnly:
    """A ledger with its header and no rows is a valid empty day. A provider file with its
    header but without the footer/summary that closes it was cut short: refused."""

    @pytest.mark.parametrize("source", ["orders", "billing", "surveys", "complaints"])
    def test_ledger_header_only_loads_zero_rows(self, files, source):
        files.ledger(source, lambda data: corpus.lines(data)[0])
        assert files.parse(source).rows.num_rows == 0

    def test_wechat_header_without_summary(self, files):
        files.wechat(lambda data: corpus.lines(data)[0])
        error = files.refused("wechatpay")
        assert "no summary" in error.cause and "truncated" in error.cause

    def test_alipay_header_without_end_of_list_and_footer(self, files):
        files.alipay_detail(lambda data: b"".join(corpus.lines(data)[: ALIPAY_HEADER + 1]))
        error = files.refused("alipay")
        assert "no end-of-list line" in error.cause and error.member.endswith(DETAIL)

    def test_unionpay_empty_inn_member_with_a_zero_report_is_an_empty_day(self, files, tmp_path):
        empty = pa.table({f.name: pa.array([], f.type) for f in PAYMENTS})
        [path] = unionpay_format.write(empty, tmp_path, date(2026, 11, 24))
        assert unionpay.parse(path).rows.num_rows == 0

    def test_unionpay_empty_inn_member_against_its_report_is_refused(self, files):
        files.unionpay_inn(lambda data: b"")
        error = files.refused("unionpay")
        assert "totals disagree" in error.cause and "row_count=24" in error.cause


class TestNulByte:
    """A NUL inside a text file is corruption (or binary data): refused, naming the line."""

    @pytest.mark.parametrize("source, line", [("orders", 3), ("billing", 3), ("surveys", 3), ("complaints", 2)])
    def test_ledger(self, files, source, line):
        files.ledger(source, lambda data: corpus.nul_in_line(data, line - 1))
        error = files.refused(source)
        assert error.line == line and "NUL byte" in error.cause

    def test_alipay(self, files):
        files.alipay_detail(lambda data: corpus.nul_in_line(data, 7))
        error = files.refused("alipay")
        assert (error.line, error.member.endswith(DETAIL)) == (8, True) and "NUL byte" in error.cause

    def test_wechat(self, files):
        files.wechat(lambda data: corpus.nul_in_line(data, 2))
        error = files.refused("wechatpay")
        assert error.line == 3 and "NUL byte" in error.cause

    def test_unionpay(self, files):
        files.unionpay_inn(lambda data: corpus.nul_in_line(data, 4, at=300))
        error = files.refused("unionpay")
        assert (error.line, error.member) == (5, "INN26112488ZM_898111111111111") and "NUL byte" in error.cause


class TestTenMegabyteLine:
    """One 10 MB line (lost line breaks, garbage) is refused before any parser reads it, at
    once: no line of any format is longer than 64 KiB."""

    def _refused_promptly(self, files, source) -> ParseError:
        started = time.perf_counter()
        error = files.refused(source)
        assert time.perf_counter() - started < 2.0
        assert "over the 64 KiB limit" in error.cause
        return error

    @pytest.mark.parametrize("source", ["orders", "billing", "surveys", "complaints"])
    def test_ledger(self, files, source):
        files.ledger(source, lambda data: corpus.ten_mb_line(data, 2))
        assert self._refused_promptly(files, source).line == 3

    def test_ledger_that_is_one_line(self, files):
        files.ledger("orders", lambda data: b"x" * corpus.TEN_MB)
        assert self._refused_promptly(files, "orders").line == 1

    def test_alipay(self, files):
        files.alipay_detail(lambda data: corpus.ten_mb_line(data, 9))
        assert self._refused_promptly(files, "alipay").line == 10

    def test_wechat(self, files):
        files.wechat(lambda data: corpus.ten_mb_line(data, 5))
        assert self._refused_promptly(files, "wechatpay").line == 6

    def test_unionpay(self, files):
        files.unionpay_inn(lambda data: corpus.ten_mb_line(data, 3))
        assert self._refused_promptly(files, "unionpay").line == 4


class TestMixedLineEnds:
    """CRLF and LF mixed in one file (a file appended to by another tool) is accepted when the
    content is otherwise valid: the same rows as the clean file, line numbers unchanged."""

    @pytest.mark.parametrize("source", ["orders", "billing", "surveys", "complaints"])
    def test_ledger(self, files, source):
        before = files.parse(source).rows
        files.ledger(source, corpus.mixed_line_ends)
        assert b"\r\n" in files.path(source).read_bytes()
        assert files.parse(source).rows.equals(before)

    def test_ledger_normalised_copy_is_removed_when_writing_it_fails(self, files, tmp_path, monkeypatch):
        files.ledger("orders", corpus.mixed_line_ends)
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))

        def full_disk(fh):
            yield fh.read(1024)
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(ledgers, "line_blocks", full_disk)
        with pytest.raises(OSError):
            ledgers.parse(files.path("orders"), "orders")
        assert list(scratch.iterdir()) == []

    def test_alipay(self, files):
        before = files.parse("alipay").rows
        files.alipay_detail(corpus.mixed_line_ends)
        assert files.parse("alipay").rows.equals(before)

    def test_wechat(self, files):
        before = files.parse("wechatpay").rows
        files.wechat(corpus.mixed_line_ends)
        assert files.parse("wechatpay").rows.equals(before)

    def test_unionpay(self, files):
        before = files.parse("unionpay").rows
        files.unionpay_inn(corpus.mixed_line_ends)
        assert files.parse("unionpay").rows.equals(before)

    def test_bare_cr_line_ends_in_a_ledger_are_refused(self, files):
        files.ledger("orders", lambda data: data.replace(b"\n", b"\r"))
        error = files.refused("orders")
        assert error.line == 1 and "bare CR" in error.cause


class TestWrongEncoding:
    """A GBK format delivered as UTF-8 and a UTF-8 format delivered as GBK are named as such,
    never read as garbage."""

    def test_alipay_as_utf8(self, files):
        files.alipay_detail(lambda data: corpus.reencode(data, "gbk", "utf-8"))
        error = files.refused("alipay")
        assert error.cause == "text is UTF-8, but Alipay bills are GBK (re-encoded after download?)"
        assert error.line == 1 and error.member.endswith(DETAIL)

    def test_unionpay_report_as_utf8(self, files):
        files.unionpay_report(lambda data: corpus.reencode(data, "gbk", "utf-8"))
        error = files.refused("unionpay")
        assert "text is UTF-8, but UnionPay settlement files are GBK" in error.cause
        assert error.member.startswith("RD")

    def test_wechat_as_gbk(self, files):
        files.wechat(lambda data: corpus.reencode(data, "utf-8", "gbk"))
        error = files.refused("wechatpay")
        assert error.line == 1 and "not UTF-8" in error.cause and "GBK" in error.cause

    def test_ledger_as_gbk(self, files):
        files.ledger("surveys", lambda data: corpus.reencode(data, "utf-8", "gbk"))
        damaged = files.path("surveys").read_bytes()
        first_chinese = next(i for i, line in enumerate(corpus.lines(damaged), 1) if not line.isascii())
        error = files.refused("surveys")
        assert error.line == first_chinese and error.cause.startswith("text is not UTF-8")


class TestColumns:
    """Columns are taken by header name: reordered or extra columns give the same rows; a
    missing (or renamed) column the parser needs is refused, naming it, at the header line."""

    # -- ledgers --------------------------------------------------------------------------
    def test_ledger_reordered_and_extra(self, files):
        before = files.parse("orders").rows
        files.ledger("orders", lambda data: corpus.edit_columns(data, 0, len(corpus.lines(data)),
                                                                lambda f: list(reversed(f)) + [b"extra"]))
        assert files.parse("orders").rows.equals(before)

    def test_ledger_extra_columns_named_like_the_parsers_own(self, files):
        before = files.parse("orders").rows
        files.ledger("orders", lambda data: corpus.edit_columns(data, 0, len(corpus.lines(data)), lambda f: f + (
            [b"source_line", b"typed_order_id"] if f[0] == b"order_id" else [b"x", b"y"])))
        assert files.parse("orders").rows.equals(before)

    def test_ledger_header_naming_a_column_twice_in_another_case(self, files):
        files.ledger("orders", lambda data: corpus.edit_columns(data, 0, len(corpus.lines(data)), lambda f: f + (
            [b"Channel"] if f[0] == b"order_id" else [b"x"])))
        error = files.refused("orders")
        assert error.line == 1 and "['Channel', 'channel'] appear twice in the header" in error.cause

    def test_ledger_file_name_with_a_wildcard_is_refused(self, files):
        # DuckDB reads such a name as a pattern: `orders*.csv` would read every orders file there
        path = files.path("orders")
        path.rename(path.with_name("orders_2026112[4].csv"))
        error = files.refused("orders")
        assert "the file name holds one of * ? [ ] { }" in error.cause

    def test_ledger_quotes_in_its_name_and_header_are_text(self, files):
        # the parse reads a CSV through a view, which names the file and the header's columns
        # as string literals: a quote in either must stay text
        before = files.parse("orders").rows
        files.ledger("orders", lambda data: corpus.edit_columns(data, 0, len(corpus.lines(data)), lambda f: f + (
            [b"x': 'VARCHAR'}) --"] if f[0] == b"order_id" else [b"y"])))
        path = files.path("orders")
        path.rename(path.with_name("orders_o'brien.csv"))
        assert files.parse("orders").rows.equals(before)

    @pytest.mark.parametrize("damage", ["missing", "renamed"])
    def test_ledger_missing_or_renamed(self, files, damage):
        def edit(data: bytes) -> bytes:
            index = corpus.column_index(corpus.lines(data)[0], "msisdn", "utf-8")
            if damage == "renamed":
                return corpus.replace_line(data, 0, lambda h: h.replace(b"msisdn", b"phone"))
            return corpus.edit_columns(data, 0, len(corpus.lines(data)), lambda f: f[:index] + f[index + 1:])
        files.ledger("orders", edit)
        error = files.refused("orders")
        assert (error.line, error.cause) == (1, "missing column(s) ['msisdn'] in the header")

    # -- Alipay -------------------------------------------------------------------------------
    def test_alipay_reordered_and_extra(self, files):
        before = payments_of(files.parse("alipay"))
        files.alipay_detail(lambda data: corpus.edit_columns(data, ALIPAY_HEADER, -4,
                                                             lambda f: list(reversed(f)) + [b"extra"]))
        assert payments_of(files.parse("alipay")).equals(before)

    @pytest.mark.parametrize("damage", ["missing", "renamed"])
    def test_alipay_missing_or_renamed(self, files, damage):
        column = alipay_column(files, "商户订单号")
        if damage == "missing":
            files.alipay_detail(lambda data: corpus.edit_columns(data, ALIPAY_HEADER, -4,
                                                                 lambda f: f[:column] + f[column + 1:]))
        else:
            files.alipay_detail(lambda data: corpus.replace_line(
                data, ALIPAY_HEADER, lambda h: h.replace("商户订单号".encode("gbk"), "订单号".encode("gbk"))))
        error = files.refused("alipay")
        assert error.line == ALIPAY_HEADER + 1 and "no column(s) 商户订单号" in error.cause

    # -- WeChat -------------------------------------------------------------------------------
    def test_wechat_reordered_and_extra(self, files):
        before = files.parse("wechatpay").rows
        files.wechat(lambda data: corpus.wechat_edit_columns(data, lambda f: f[1:] + f[:1] + [b"extra"]))
        assert files.parse("wechatpay").rows.equals(before)

    @pytest.mark.parametrize("damage", ["missing", "renamed"])
    def test_wechat_missing_or_renamed(self, files, damage):
        column = wechat_column(files, "商户订单号")
        if damage == "missing":
            files.wechat(lambda data: corpus.wechat_edit_columns(data, lambda f: f[:column] + f[column + 1:]))
        else:
            files.wechat(lambda data: corpus.replace_line(data, 0, lambda h: h.replace("商户订单号".encode(),
                                                                                      "订单号".encode())))
        error = files.refused("wechatpay")
        assert error.line == 1 and "no column(s) 商户订单号" in error.cause

    # -- UnionPay: fixed width, no header -----------------------------------------------------
    def test_unionpay_shifted_layout(self, files):
        files.unionpay_inn(lambda data: b"".join(b" " + line for line in corpus.lines(data)))
        error = files.refused("unionpay")
        assert error.line == 1 and "bad" in error.cause


class TestOwnTotalsDisagree:
    """Rows that do not add up to the file's own footer / summary / report: truncated or
    corrupt, refused with the figure that disagrees."""

    def test_alipay_footer(self, files):
        files.alipay_detail(lambda data: re.sub("#交易合计：(\\d+)笔".encode("gbk"),
                                                lambda m: "#交易合计：{}笔".format(int(m.group(1)) + 1).encode("gbk"),
                                                data))
        error = files.refused("alipay")
        assert "totals disagree" in error.cause and "payment_count=119" in error.cause

    def test_wechat_summary(self, files):
        files.wechat(lambda data: data.replace(b"`148,`", b"`149,`"))
        error = files.refused("wechatpay")
        assert "totals disagree" in error.cause and "row_count=149" in error.cause

    def test_unionpay_report(self, files):
        files.unionpay_report(lambda data: data.replace("总计                      24".encode("gbk"),
                                                        "总计                      25".encode("gbk")))
        error = files.refused("unionpay")
        assert "totals disagree" in error.cause and "row_count=25" in error.cause


class TestDuplicatedRows:
    """A statement row doubled in transit disagrees with the file's own totals: refused. A
    ledger row repeated exactly loads with a warning (the matcher counts the copy as
    DUPLICATE_ROW, test_end_to_end); one key on two different rows is refused. A statement row
    the provider itself counted twice loads as delivered (test_end_to_end)."""

    def test_alipay_row_doubled(self, files):
        files.alipay_detail(lambda data: corpus.duplicate_line(data, ALIPAY_FIRST_ROW + 3))
        assert "totals disagree" in files.refused("alipay").cause

    def test_wechat_row_doubled(self, files):
        files.wechat(lambda data: corpus.duplicate_line(data, 4))
        assert "totals disagree" in files.refused("wechatpay").cause

    def test_unionpay_record_doubled(self, files):
        files.unionpay_inn(lambda data: corpus.duplicate_line(data, 4))
        assert "totals disagree" in files.refused("unionpay").cause

    @pytest.mark.parametrize("source, counted", [("orders", "DUPLICATE_ROW"), ("billing", "DUPLICATE_ROW"),
                                                 ("surveys", "count each response_id once")])
    def test_ledger_row_repeated_exactly_loads_with_a_warning(self, files, source, counted):
        rows = files.parse(source).rows.num_rows
        files.ledger(source, lambda data: corpus.duplicate_line(data, 5))
        parsed = files.parse(source)
        assert parsed.rows.num_rows == rows + 1
        [warning] = parsed.warnings
        assert "1 row(s) repeat an earlier row exactly (line 7)" in warning and counted in warning

    def test_ledger_key_repeated_with_a_space_is_the_same_key(self, files):
        # " T…" and "T…" load as one order id: with the rest equal, the row is a copy (the
        # matcher counts it as DUPLICATE_ROW); with a different status, the file contradicts itself
        rows = files.parse("orders").rows.num_rows
        original = files.path("orders").read_bytes()
        files.ledger("orders", lambda data: corpus.with_line(data, 6, b" " + corpus.lines(data)[5].rstrip(b"\r\n")))
        parsed = files.parse("orders")
        assert parsed.rows.num_rows == rows + 1
        assert any("1 row(s) repeat an earlier row exactly (line 7)" in w for w in parsed.warnings)
        files.path("orders").write_bytes(original)
        files.ledger("orders", lambda data: corpus.with_line(
            data, 6, b" " + corpus.lines(data)[5].rstrip(b"\r\n").replace(b",credited,", b",failed,")))
        error = files.refused("orders")
        assert error.line == 7 and "on lines 6, 7 with different values" in error.cause

    def test_ledger_key_on_two_different_rows_is_refused(self, files):
        def edit(data: bytes) -> bytes:
            row = corpus.lines(data)[5].rstrip(b"\r\n")
            return corpus.with_line(data, 6, row.replace(b",credited,", b",failed,"))
        files.ledger("orders", edit)
        error = files.refused("orders")
        assert error.line == 7 and "on lines 6, 7 with different values" in error.cause


class TestAmounts:
    """Negative (where a sign is not allowed), non-numeric and three-decimal amounts are
    refused, naming line and column. Negative billing amounts are reversals: they load."""

    def test_ledger_amount_too_large_for_the_fen_is_a_bad_value(self, files):
        column = corpus.column_index(corpus.lines(files.path("orders").read_bytes())[0], "face_value", "utf-8")
        files.ledger("orders", lambda data: corpus.edit_columns(
            data, 3, 4, lambda f: f[:column] + [b"12345678901234567890.00"] + f[column + 1:]))
        error = files.refused("orders")
        assert error.line == 4 and "column face_value: bad value '12345678901234567890.00'" in error.cause

    @pytest.mark.parametrize("value, cause", [
        pytest.param(b"-20.00", "bad value '-20.00'", id="negative"),
        pytest.param(b"abc", "bad value 'abc'", id="non-numeric"),
        pytest.param(b"20.001", "bad value '20.001'", id="three-decimals"),
    ])
    def test_orders_face_value(self, files, value, cause):
        def edit(data: bytes) -> bytes:
            column = corpus.column_index(corpus.lines(data)[0], "face_value", "utf-8")
            return corpus.replace_line(data, 3, lambda line: b",".join(
                value if i == column else f for i, f in enumerate(line.split(b","))))
        files.ledger("orders", edit)
        error = files.refused("orders")
        assert error.line == 4 and cause in error.cause and "column face_value" in error.cause

    def test_negative_billing_amount_is_a_reversal_and_loads(self, files):
        def edit(data: bytes) -> bytes:
            column = corpus.column_index(corpus.lines(data)[0], "amount", "utf-8")
            return corpus.replace_line(data, 3, lambda line: b",".join(
                b"-" + f if i == column else f for i, f in enumerate(line.split(b","))))
        files.ledger("billing", edit)
        assert pc.min(files.parse("billing").rows["amount"]).as_py() < 0

    @pytest.mark.parametrize("value, cause", [
        pytest.param(b"-50.00", "negative amount -50.00", id="negative"),
        pytest.param(b"abc", "bad number 'abc'", id="non-numeric"),
        pytest.param(b"50.001", "bad number '50.001'", id="three-decimals"),
    ])
    def test_alipay_payment_amount(self, files, value, cause):
        line = first_alipay_payment_line(files)
        set_alipay_field(files, line, "订单金额（元）", value)
        error = files.refused("alipay")
        assert error.line == line + 1 and cause in error.cause and "订单金额（元）" in error.cause

    @pytest.mark.parametrize("value, cause", [
        pytest.param(b"-20.00", "negative amount -20.00", id="negative"),
        pytest.param(b"abc", "bad number 'abc'", id="non-numeric"),
        pytest.param(b"20.001", "bad number '20.001'", id="three-decimals"),
    ])
    def test_wechat_payment_amount(self, files, value, cause):
        column = wechat_column(files, "订单金额")
        files.wechat(lambda data: set_wechat_field(data, 1, column, value))
        error = files.refused("wechatpay")
        assert error.line == 2 and cause in error.cause

    @pytest.mark.parametrize("value", [b"-00000001000", b"0000000010.0", b"00000000abcd"],
                             ids=["negative", "decimal-point", "non-numeric"])
    def test_unionpay_amount_is_digits_of_fen_only(self, files, value):
        files.unionpay_inn(lambda data: corpus.replace_line(data, 2, lambda r: corpus.set_field(r, 66, value)))
        error = files.refused("unionpay")
        assert error.line == 3 and "bad number" in error.cause and "交易金额" in error.cause

    def test_unionpay_fee_with_a_bad_sign_letter(self, files):
        files.unionpay_inn(lambda data: corpus.replace_line(data, 2, lambda r: corpus.set_field(r, 166, b"X")))
        error = files.refused("unionpay")
        assert error.line == 3 and "bad sign 'X' in 商户手续费" in error.cause


class TestMissingTransactionId:
    """A statement row without the provider's transaction id is refused at its line: the id is
    the key it is matched, de-duplicated and reported by (taken as is, every such row would
    count as a copy of the first, and an orphan's break would have no key)."""

    def test_alipay(self, files):
        line = first_alipay_payment_line(files)
        set_alipay_field(files, line, "支付宝交易号", b"")
        error = files.refused("alipay")
        assert error.line == line + 1 and "empty 支付宝交易号" in error.cause

    def test_wechat(self, files):
        column = wechat_column(files, "微信订单号")
        files.wechat(lambda data: set_wechat_field(data, 2, column, b""))
        error = files.refused("wechatpay")
        assert error.line == 3 and "empty 微信订单号" in error.cause

    def test_unionpay(self, files):
        blank = b" " * 21
        files.unionpay_inn(lambda data: corpus.replace_line(
            data, 1, lambda r: corpus.set_field(corpus.set_field(r, 87, blank), 271, blank)))
        error = files.refused("unionpay")
        assert error.line == 2 and "empty 查询流水号" in error.cause


class TestImpossibleDates:
    """A date or time that is not on the calendar (30 February, hour 25, month 13) is refused
    with its line."""

    @pytest.mark.parametrize("value", [b"2026-02-30T10:00:00+08:00", b"2026-11-24T25:00:00+08:00"],
                             ids=["30-february", "hour-25"])
    def test_orders(self, files, value):
        def edit(data: bytes) -> bytes:
            column = corpus.column_index(corpus.lines(data)[0], "created_at", "utf-8")
            return corpus.replace_line(data, 2, lambda line: b",".join(
                value if i == column else f for i, f in enumerate(line.split(b","))))
        files.ledger("orders", edit)
        error = files.refused("orders")
        assert error.line == 3 and "column created_at: bad value" in error.cause

    def test_orders_fraction_of_a_second(self, files):
        """Staged times are whole seconds: a fraction is refused with its line, never cut off."""
        def edit(data: bytes) -> bytes:
            column = corpus.column_index(corpus.lines(data)[0], "updated_at", "utf-8")
            return corpus.replace_line(data, 2, lambda line: b",".join(
                b"2026-11-24T10:00:00.5+08:00" if i == column else f for i, f in enumerate(line.split(b","))))
        files.ledger("orders", edit)
        error = files.refused("orders")
        assert error.line == 3 and "column updated_at: bad value '2026-11-24T10:00:00.5+08:00'" in error.cause
        [held] = stage_source(files.day.settings, DAY, "orders").quarantined
        assert "line 3: column updated_at: bad value" in held.reason

    @pytest.mark.parametrize("value", [b"2026-02-30 10:00:00", b"2026-11-24 25:00:00"], ids=["30-february", "hour-25"])
    def test_alipay(self, files, value):
        set_alipay_field(files, ALIPAY_FIRST_ROW + 2, "完成时间", value)
        error = files.refused("alipay")
        assert error.line == ALIPAY_FIRST_ROW + 3 and "bad date/time" in error.cause

    @pytest.mark.parametrize("value", [b"2026-02-30 10:00:00", b"2026-11-24 25:00:00"], ids=["30-february", "hour-25"])
    def test_wechat(self, files, value):
        files.wechat(lambda data: set_wechat_field(data, 3, 0, value))
        error = files.refused("wechatpay")
        assert error.line == 4 and "bad date/time" in error.cause

    @pytest.mark.parametrize("value", [b"1324101010", b"0230101010", b"1124256000"],
                             ids=["month-13", "30-february", "hour-25"])
    def test_unionpay(self, files, value):
        files.unionpay_inn(lambda data: corpus.replace_line(data, 1, lambda r: corpus.set_field(r, 35, value)))
        error = files.refused("unionpay")
        assert error.line == 2 and "bad date/time" in error.cause and "交易传输时间" in error.cause


class TestUnionPayTimeWithoutYear:
    """交易传输时间 has no year: the year nearest the settlement date, across New Year both ways
    (data, not damage: the rows load)."""

    @pytest.mark.parametrize("settled, at", [
        pytest.param(date(2026, 12, 31), datetime(2027, 1, 1, 0, 0, 5), id="january-time-in-a-december-file"),
        pytest.param(date(2027, 1, 1), datetime(2026, 12, 31, 23, 59, 58), id="december-time-in-a-january-file"),
    ])
    def test_year_of_each_record(self, tmp_path, settled, at):
        money = pa.array([Decimal("10.00")], PAYMENTS.field("amount").type)
        rows = pa.table({
            "provider": ["unionpay"], "provider_txn_id": ["202612312359581000001"],
            "refund_id": pa.nulls(1, pa.string()), "order_id": ["T1"], "kind": ["payment"], "amount": money,
            "settle_amount": money, "fee": pa.array([Decimal("0.06")], PAYMENTS.field("fee").type),
            "event_at": pa.array([at], pa.timestamp("s")), "status": ["success"], "raw_type": ["S22"],
            "pay_detail": ["01"],
        })
        [path] = unionpay_format.write(rows, tmp_path, settled)
        assert unionpay.parse(path).rows["event_at"].to_pylist() == [at]


class TestUnknownUnionPayCode:
    """An unknown 交易代码 is data: the row is kept as kind 'unknown', reported with its line
    (and counted UNKNOWN_TYPE by the matcher: test_end_to_end)."""

    def test_kept_and_reported(self, files):
        files.unionpay_inn(lambda data: corpus.replace_line(data, 0, lambda r: corpus.set_field(r, 0, b"S99")))
        parsed = files.parse("unionpay")
        assert parsed.rows["kind"][0].as_py() == "unknown" and parsed.rows["raw_type"][0].as_py() == "S99"
        [warning] = parsed.warnings
        assert "unknown 交易代码 'S99' on 1 row(s) (line 1)" in warning


class TestUnknownVocabulary:
    """A channel, product type, pay method or complaint category outside the known list loads
    as is, with a warning naming the value and its lines."""

    @pytest.mark.parametrize("source, column, value", [
        ("orders", "channel", "tiktok_mini"), ("orders", "product_type", "game_card"),
        ("orders", "pay_method", "paypal"), ("billing", "product_type", "game_card"),
        ("complaints", "category", "rude_agent"),
    ])
    def test_loaded_with_a_warning(self, files, source, column, value):
        def edit(data: bytes) -> bytes:
            index = corpus.column_index(corpus.lines(data)[0], column, "utf-8")
            return corpus.replace_line(data, 1, lambda line: b",".join(
                value.encode() if i == index else f for i, f in enumerate(line.split(b","))))
        files.ledger(source, edit)
        parsed = files.parse(source)
        assert parsed.rows[column][0].as_py() == value
        assert f"unknown {column} '{value}' on 1 row(s) (line 2): loaded as is" in " ".join(parsed.warnings)

    def test_msisdn_not_eleven_digits_is_counted_never_shown(self, files):
        files.ledger("orders", lambda data: corpus.replace_line(
            data, 1, lambda line: re.sub(rb",1\d{10},", b",138123456789,", line, count=1)))
        [warning] = files.parse("orders").warnings
        assert "msisdn is not 11 digits" in warning and "line 2" in warning and "138123456789" not in warning


class TestTextStaysText:
    """Spreadsheet formulas and markup in text fields are data: they load byte for byte (the
    exports and reports neutralise them: test_end_to_end, tests/reports/test_safety.py)."""

    FORMULA = '=HYPERLINK("http://evil.example/x","click")'
    SCRIPT = "<script>alert(document.cookie)</script>"

    def test_in_a_ledger(self, files):
        def edit(data: bytes) -> bytes:
            index = corpus.column_index(corpus.lines(data)[0], "product_code", "utf-8")
            quoted = b'"' + self.FORMULA.replace('"', '""').encode() + b'"'
            data = corpus.replace_line(data, 1, lambda line: b",".join(
                quoted if i == index else f for i, f in enumerate(line.split(b","))))
            return corpus.replace_line(data, 2, lambda line: b",".join(
                self.SCRIPT.encode() if i == index else f for i, f in enumerate(line.split(b","))))
        files.ledger("orders", edit)
        assert files.parse("orders").rows["product_code"].to_pylist()[:2] == [self.FORMULA, self.SCRIPT]

    def test_in_a_statement(self, files, tmp_path):
        parsed = files.parse("alipay").rows
        index = pc.index(parsed["kind"], "payment").as_py()
        order_ids = parsed["order_id"].to_pylist()
        order_ids[index] = '=HYPERLINK("http://evil.example")'
        rows = parsed.set_column(parsed.schema.get_field_index("order_id"), "order_id", pa.array(order_ids))
        [path] = alipay_format.write(rows, tmp_path, date(2026, 11, 24))
        assert alipay.parse(path).rows["order_id"][index].as_py() == '=HYPERLINK("http://evil.example")'


class TestUnreadableParquet:
    """A Parquet ledger cut short is refused as unreadable, not a crash of the run."""

    def test_truncated(self, files, tmp_path):
        path = files.path("orders").with_suffix(".parquet")
        pq.write_table(files.parse("orders").rows, path)
        path.write_bytes(corpus.cut(path.read_bytes()))
        with pytest.raises(ParseError, match="unreadable Parquet"):
            ledgers.parse(path, "orders")
