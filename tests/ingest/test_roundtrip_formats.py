"""Writers (etl.generate.formats) and parsers (etl.ingest) are inverses: canonical rows written
in a provider's format and parsed back are the same rows, to the fen and the second."""
from __future__ import annotations

import hashlib
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from etl.generate.formats import alipay as alipay_format
from etl.generate.formats import unionpay as unionpay_format
from etl.generate.formats import wechatpay as wechatpay_format
from etl.ingest import alipay, unionpay, wechatpay
from etl.ingest.sources import PROVIDER_PARSERS, provider_files
from etl.schema import PAYMENTS

CANONICAL = pa.schema([f for f in PAYMENTS if f.name not in ("source_member", "source_line")])
DAY = date(2024, 5, 15)


def rows(provider: str, *specs: tuple) -> pa.Table:
    """Canonical rows from (kind, txn, order, refund_id, amount, settle, fee, at, status, raw_type, pay_detail)."""
    names = ["kind", "provider_txn_id", "order_id", "refund_id", "amount", "settle_amount", "fee", "event_at",
             "status", "raw_type", "pay_detail"]
    records = []
    for spec in specs:
        record = dict(zip(names, spec))
        for money in ("amount", "settle_amount", "fee"):
            record[money] = Decimal(record[money])
        record["event_at"] = datetime.fromisoformat(record["event_at"])
        records.append({"provider": provider, **record})
    return pa.Table.from_pylist(records, schema=CANONICAL)


def parsed_back(parser, path: Path) -> pa.Table:
    return parser.parse(path).rows.select(CANONICAL.names)


ALIPAY_ROWS = rows(
    "alipay",
    ("payment", "2024051522001400001000000001", "ORD1", None, "100.00", "100.00", "0.60", "2024-05-15 09:01:10",
     "success", "交易", None),
    ("payment", "2024051522001400001000000002", "ORD2", None, "12.50", "10.50", "0.06", "2024-05-15 23:59:58",
     "success", "交易", None),  # 2.00 of merchant discount
    ("refund", "2024051522001400001000000001", "ORD1", "RF1", "30.00", "30.00", "-0.18", "2024-05-15 15:30:00",
     "success", "退款", None),
    ("payment", "2024051522001400001000000003", "ORD3", None, "0.01", "0.01", "0.00", "2024-05-15 00:00:00",
     "success", "交易", None),
    ("refund", "2024051522001400001000000002", "ORD2", "RF2", "12.50", "10.50", "-0.06", "2024-05-15 23:59:59",
     "success", "退款", None),
)
WECHAT_ROWS = rows(
    "wechatpay",
    ("payment", "4200000001", "ORD1", None, "100.00", "100.00", "0.60000", "2024-05-15 09:01:10", "success",
     "SUCCESS", "CMB_CREDIT"),
    ("payment", "4200000002", "ORD2", None, "12.50", "10.50", "0.06000", "2024-05-15 10:00:00", "success",
     "SUCCESS", "OTHERS"),
    ("payment", "4200000003", "ORD3", None, "50.00", "50.00", "0.00000", "2024-05-15 11:00:00", "revoked",
     "REVOKED", None),
    ("refund", "4200000001", "ORD1", "RF1", "30.00", "30.00", "-0.18000", "2024-05-15 15:30:00", "success",
     "REFUND", "CMB_CREDIT"),
    ("refund", "4200000001", "ORD1", "RF2", "10.00", "10.00", "-0.06000", "2024-05-15 16:00:00", "processing",
     "REFUND", "CMB_CREDIT"),
    ("payment", "4200000004", "ORD4", None, "30.00", "30.00", "0.18004", "2024-05-15 17:00:00", "success",
     "SUCCESS", "ICBC_DEBIT"),  # WeChat states fees to 5 decimals
)
UNIONPAY_ROWS = rows(
    "unionpay",
    ("payment", "202405150901021000018", "ORD1", None, "100.00", "100.00", "0.60", "2024-05-15 09:01:02",
     "success", "S22", "01"),
    ("payment", "202405151011121000028", "ORD2", None, "4768.00", "4768.00", "28.61", "2024-05-15 10:11:12",
     "success", "S56", "02"),
    ("refund", "202405150901021000018", "ORD1", "RF1", "30.00", "30.00", "-0.18", "2024-05-15 15:30:00",
     "success", "S30", "01"),
    ("void", "202405151011121000028", "ORD2", "V1", "4768.00", "4768.00", "-28.61", "2024-05-15 18:00:00",
     "success", "S22", "02"),
)


class TestAlipay:
    """Alipay's zip, 业务明细 and 汇总 members, with and without split members."""

    def test_round_trip(self, tmp_path):
        [path] = alipay_format.write(ALIPAY_ROWS, tmp_path, DAY)
        assert path.name == "20881234123412340156_20240515.csv.zip"
        assert parsed_back(alipay, path).equals(ALIPAY_ROWS)

    def test_members_are_gbk_named_without_the_utf8_flag(self, tmp_path):
        [path] = alipay_format.write(ALIPAY_ROWS, tmp_path, DAY)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        assert [i.flag_bits & 0x800 for i in infos] == [0, 0]
        assert [alipay.member_name(i) for i in infos] == ["20881234123412340156_20240515_业务明细.csv",
                                                          "20881234123412340156_20240515_业务明细(汇总).csv"]

    def test_split_members_round_trip(self, tmp_path):
        [path] = alipay_format.write(ALIPAY_ROWS, tmp_path, DAY, max_rows_per_member=2)
        parsed = alipay.parse(path)
        assert parsed.rows.select(CANONICAL.names).equals(ALIPAY_ROWS)
        assert sorted(set(parsed.rows["source_member"].to_pylist())) == [
            f"20881234123412340156_20240515_业务明细_{i}.csv" for i in (1, 2, 3)]

    def test_fee_finer_than_the_fen_is_refused(self, tmp_path):
        fee = pa.array([Decimal("0.605")] * ALIPAY_ROWS.num_rows, CANONICAL.field("fee").type)
        bad = ALIPAY_ROWS.set_column(CANONICAL.get_field_index("fee"), "fee", fee)
        with pytest.raises(ValueError, match="decimals"):
            alipay_format.write(bad, tmp_path, DAY)


class TestWechatpay:
    """WeChat's backtick CSV with summary, plain or gzip, and its SHA1 beside it."""

    @pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
    def test_round_trip(self, tmp_path, gzip):
        path, sha1 = wechatpay_format.write(WECHAT_ROWS, tmp_path, DAY, gzip=gzip)
        assert path.name == "1900000001_20240515_ALL.csv" + (".gz" if gzip else "")
        assert sha1.name == path.name + ".sha1"
        assert parsed_back(wechatpay, path).equals(WECHAT_ROWS)

    def test_sha1_is_of_the_uncompressed_bill(self, tmp_path):
        plain, plain_sha1 = wechatpay_format.write(WECHAT_ROWS, tmp_path / "a", DAY)
        _, gzip_sha1 = wechatpay_format.write(WECHAT_ROWS, tmp_path / "b", DAY, gzip=True)
        assert plain_sha1.read_text().split()[0] == gzip_sha1.read_text().split()[0] == \
            hashlib.sha1(plain.read_bytes()).hexdigest()


class TestUnionpay:
    """UnionPay's zip: 608-byte INN records and an RD report in the official layout."""

    def test_round_trip(self, tmp_path):
        [path] = unionpay_format.write(UNIONPAY_ROWS, tmp_path, DAY)
        assert path.name == "898111111111111_20240515.zip"
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == ["INN24051588ZM_898111111111111", "RD201024051501_898111111111111"]
            assert {len(line) for line in archive.read(archive.namelist()[0]).splitlines()} == {608}
        parsed = unionpay.parse(path)
        assert parsed.rows.select(CANONICAL.names).equals(UNIONPAY_ROWS)
        assert (parsed.totals.row_count, parsed.totals.payment_amount, parsed.totals.refund_amount) == (
            4, Decimal("4868.00"), Decimal("4798.00"))

    @pytest.mark.parametrize("business_date, at", [
        pytest.param(date(2024, 12, 31), "2025-01-01 00:00:30", id="january-time-in-december-file"),
        pytest.param(date(2025, 1, 1), "2024-12-31 23:59:50", id="december-time-in-january-file"),
    ])
    def test_year_survives_new_year(self, tmp_path, business_date, at):
        table = rows("unionpay", ("payment", "2" * 21, "ORD1", None, "10.00", "10.00", "0.06", at, "success",
                                  "S22", "01"))
        [path] = unionpay_format.write(table, tmp_path, business_date)
        assert parsed_back(unionpay, path).equals(table)

    def test_a_million_row_day_is_written_in_blocks(self, tmp_path, monkeypatch):
        monkeypatch.setattr(unionpay_format, "BLOCK", 3)  # blocks of 3 rows: same bytes as one block
        [blocked] = unionpay_format.write(UNIONPAY_ROWS, tmp_path / "a", DAY)
        monkeypatch.setattr(unionpay_format, "BLOCK", 1 << 17)
        [whole] = unionpay_format.write(UNIONPAY_ROWS, tmp_path / "b", DAY)
        assert blocked.read_bytes() == whole.read_bytes()


class TestDeterminism:
    """Generated data is reproducible: the same rows give the same bytes (fixed zip times)."""

    @pytest.mark.parametrize("writer, table", [
        pytest.param(alipay_format.write, ALIPAY_ROWS, id="alipay"),
        pytest.param(lambda *a: wechatpay_format.write(*a, gzip=True), WECHAT_ROWS, id="wechatpay-gzip"),
        pytest.param(unionpay_format.write, UNIONPAY_ROWS, id="unionpay"),
    ])
    def test_same_rows_same_bytes(self, tmp_path, writer, table):
        first = [p.read_bytes() for p in writer(table, tmp_path / "a", DAY)]
        second = [p.read_bytes() for p in writer(table, tmp_path / "b", DAY)]
        assert first == second


class TestEmptyDay:
    """A provider with no rows on a day still delivers a well-formed, empty statement."""

    @pytest.mark.parametrize("writer, parser", [
        pytest.param(alipay_format.write, alipay, id="alipay"),
        pytest.param(wechatpay_format.write, wechatpay, id="wechatpay"),
        pytest.param(unionpay_format.write, unionpay, id="unionpay"),
    ])
    def test_no_rows(self, tmp_path, writer, parser):
        parsed = parser.parse(writer(CANONICAL.empty_table(), tmp_path, DAY)[0])
        assert parsed.rows.num_rows == 0 and parsed.rows.schema == PAYMENTS


class TestLandingFolders:
    """What the writers deliver is what provider_files lists and the registered parser reads."""

    def test_written_files_are_found_and_parsed(self, tmp_path):
        for provider, write, table in (("alipay", alipay_format.write, ALIPAY_ROWS),
                                       ("wechatpay", wechatpay_format.write, WECHAT_ROWS),
                                       ("unionpay", unionpay_format.write, UNIONPAY_ROWS)):
            folder = tmp_path / provider
            written = write(table, folder, DAY)
            (folder / ".partial.zip").write_bytes(b"")  # a download in progress is not a statement
            files = provider_files(folder, provider)
            assert files == [written[0]]  # never the .sha1
            assert PROVIDER_PARSERS[provider](files[0]).rows.num_rows == table.num_rows

    def test_bare_files_are_found(self, tmp_path):
        for name in ("INN24051588ZM_898111111111111", "898111111111111_20240515.zip", "notes.txt"):
            (tmp_path / name).write_bytes(b"")
        assert [p.name for p in provider_files(tmp_path, "unionpay")] == [
            "898111111111111_20240515.zip", "INN24051588ZM_898111111111111"]
