"""UnionPay 全渠道 settlement: fixed-width GBK records in a zip (with the RD summary) or bare."""
from __future__ import annotations

import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from etl.generate.formats import write_zip
from etl.ingest import unionpay
from etl.ingest.base import ParseError

OFFICIAL = "official_unionpay_sample_802310048993424_20150905.zip"
WHEN = (2024, 5, 16, 9, 0, 0)


def record(code: str = "S22", time: str = "0515090102", fen: str = "000000010000", query_id: str = "Q" * 21,
           order: str = "ORD1", card: str = "01", fee: str = "D000000000060", settle: str = "C000000009940",
           txn_type: str = "01", orig_query_id: str = "", orig_order: str = "", length: int = 608) -> bytes:
    """One record with the fields we read at their spec offsets; everything else blank."""
    line = bytearray(b" " * 608)
    for offset, value in ((0, code), (35, time), (66, fen), (87, query_id), (112, order), (145, card), (166, fee),
                          (180, settle), (215, txn_type), (271, orig_query_id), (476, orig_order)):
        line[offset: offset + len(value)] = value.encode("gbk")
    return bytes(line[:length])


def inn(*records: bytes) -> bytes:
    return b"".join(r + b"\r\n" for r in records)


def write(tmp_path: Path, data: bytes, name: str = "INN24051588ZM_898111111111111") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


PAY = record(query_id="202405150901021000018", order="ORD1")
REFUND = record(code="S30", time="0515153000", fen="000000003000", query_id="202405151530001000038",
                order="RF1", fee="C000000000018", settle="D000000002982", txn_type="04",
                orig_query_id="202405150901021000018", orig_order="ORD1")


class TestOfficialSample:
    """UnionPay's own published sample: 8 self-service purchases, and the RD report that sums them."""

    def test_eight_records_agree_with_the_report(self, samples_dir):
        parsed = unionpay.parse(samples_dir / OFFICIAL)
        rows = parsed.rows.to_pylist()
        assert len(rows) == 8 and {r["kind"] for r in rows} == {"payment"}
        assert (parsed.totals.row_count, parsed.totals.payment_amount, parsed.totals.fee_total) == (
            8, Decimal("13227.00"), Decimal("79.36"))
        amount, fee = sum(r["amount"] for r in rows), sum(r["fee"] for r in rows)
        assert (amount, fee, amount - fee) == (Decimal("13227.00"), Decimal("79.36"), Decimal("13147.64"))
        assert parsed.members == ["INN15090588ZM_802310048993424", "RD201015090501_802310048993424"]

    def test_first_record_field_by_field(self, samples_dir):
        row = unionpay.parse(samples_dir / OFFICIAL).rows.to_pylist()[0]
        assert row == {
            "provider": "unionpay", "provider_txn_id": "201509061122031906248", "refund_id": None,
            "order_id": "10078087", "kind": "payment", "amount": Decimal("4768.00"),
            "settle_amount": Decimal("4768.00"), "fee": Decimal("28.61"), "event_at": datetime(2015, 9, 6, 11, 22, 3),
            "status": "success", "raw_type": "S56", "pay_detail": "01",
            "source_member": "INN15090588ZM_802310048993424", "source_line": 1,
        }

    def test_report_that_disagrees_is_refused(self, samples_dir, tmp_path):
        with zipfile.ZipFile(samples_dir / OFFICIAL) as original:
            members = [(i.filename, original.read(i)) for i in original.infolist()]
        members = [(n, d.replace(b"13227.00", b"13228.00") if n.startswith("RD") else d) for n, d in members]
        path = write_zip(tmp_path / OFFICIAL, members, WHEN)
        with pytest.raises(ParseError) as error:
            unionpay.parse(path)
        assert error.value.file == str(path) and error.value.member.startswith("RD")
        assert "payment_amount=13228.00" in error.value.cause


class TestRefunds:
    """A refund (S30) points at the payment it refunds by that payment's 查询流水号."""

    def test_standalone_sample_refund_is_linked(self, samples_dir):
        parsed = unionpay.parse(samples_dir / "INN24051588ZM_898111111111111")
        rows = parsed.rows.to_pylist()
        payment, refund = rows[0], rows[2]
        assert (refund["kind"], refund["raw_type"]) == ("refund", "S30")
        assert refund["provider_txn_id"] == payment["provider_txn_id"] == "202405150901021000018"
        assert refund["order_id"] == payment["order_id"] == "ORD20240515001"
        assert (refund["refund_id"], refund["amount"], refund["fee"]) == ("RF20240515001", Decimal("30.00"),
                                                                          Decimal("-0.18"))
        assert parsed.totals is None  # a bare INN file states no totals

    def test_refund_without_its_own_order_number_uses_its_query_id(self, tmp_path):
        rows = unionpay.parse(write(tmp_path, inn(PAY, record(
            code="S30", query_id="R" * 21, order="", txn_type="04", orig_query_id="202405150901021000018"))))
        assert rows.rows["refund_id"].to_pylist() == [None, "R" * 21]

    def test_purchase_void_is_a_void(self, tmp_path):
        rows = unionpay.parse(write(tmp_path, inn(PAY, record(txn_type="31", order="V1", orig_query_id="X" * 21))))
        assert rows.rows["kind"].to_pylist() == ["payment", "void"]
        assert rows.rows["provider_txn_id"].to_pylist() == ["202405150901021000018", "X" * 21]


class TestYearOfTheTime:
    """交易传输时间 has no year: the one nearest the settlement date in the file name."""

    @pytest.mark.parametrize("name, time, expected", [
        pytest.param("INN24123188ZM_1", "0101000030", datetime(2025, 1, 1, 0, 0, 30), id="january-in-december"),
        pytest.param("INN25010188ZM_1", "1231235950", datetime(2024, 12, 31, 23, 59, 50), id="december-in-january"),
        pytest.param("INN24051588ZM_1", "0515090102", datetime(2024, 5, 15, 9, 1, 2), id="same-day"),
        pytest.param("INN24030188ZM_1", "0229120000", datetime(2024, 2, 29, 12), id="leap-day"),
    ])
    def test_year_from_the_settlement_date(self, tmp_path, name, time, expected):
        rows = unionpay.parse(write(tmp_path, inn(record(time=time)), name)).rows
        assert rows["event_at"].to_pylist() == [expected]

    def test_zip_named_by_date_holding_an_inn_member(self, tmp_path):
        path = write_zip(tmp_path / "898111111111111_20241231.zip",
                         [("INN24123188ZM_898111111111111", inn(record(time="0101000030")))], WHEN)
        assert unionpay.parse(path).rows["event_at"].to_pylist() == [datetime(2025, 1, 1, 0, 0, 30)]


class TestUnknownCodes:
    """Any other 交易代码 is kept as kind 'unknown' and reported with its line."""

    def test_kept_and_reported(self, tmp_path):
        parsed = unionpay.parse(write(tmp_path, inn(PAY, record(code="S99"), record(code="S99"))))
        assert parsed.rows["kind"].to_pylist() == ["payment", "unknown", "unknown"]
        assert len(parsed.warnings) == 1
        assert "S99" in parsed.warnings[0] and "2 row(s)" in parsed.warnings[0] and "line 2, 3" in parsed.warnings[0]


class TestLayouts:
    """607- and 608-byte records, short last fields and the older layout all read the same fields."""

    def test_607_and_608_byte_records_mixed(self, tmp_path):
        uniform = unionpay.parse(write(tmp_path, inn(PAY, REFUND))).rows
        mixed = unionpay.parse(write(tmp_path, inn(PAY[:607], REFUND), "INN24051588ZM_2")).rows
        assert mixed.drop_columns(["source_member"]).equals(uniform.drop_columns(["source_member"]))

    def test_older_layout_has_no_original_order_id(self, tmp_path):
        old_refund = REFUND[:430] + b"9" * 98  # one 98-byte field after 商户自定义域
        rows = unionpay.parse(write(tmp_path, inn(PAY[:528], old_refund))).rows.to_pylist()
        assert [r["amount"] for r in rows] == [Decimal("100.00"), Decimal("30.00")]
        assert rows[1]["order_id"] is None  # filled from the original payment downstream

    def test_blank_fee_sign_means_no_fee(self, tmp_path):
        rows = unionpay.parse(write(tmp_path, inn(record(fee=" " * 13)))).rows
        assert rows["fee"].to_pylist() == [Decimal(0)]


class TestDamage:
    """Truncated files and bad values are refused with file, line and cause."""

    def test_last_record_cut_short(self, tmp_path):
        path = write(tmp_path, inn(PAY, PAY) + PAY[:500])
        with pytest.raises(ParseError) as error:
            unionpay.parse(path)
        assert (error.value.file, error.value.line) == (str(path), 3) and "truncated" in error.value.cause

    def test_short_record_in_the_middle(self, tmp_path):
        with pytest.raises(ParseError) as error:
            unionpay.parse(write(tmp_path, inn(PAY, PAY[:200], PAY)))
        assert error.value.line == 2 and "200 bytes" in error.value.cause

    @pytest.mark.parametrize("field, cause", [
        pytest.param({"fen": "00000001O000"}, "交易金额", id="amount"),
        pytest.param({"time": "1332090102"}, "交易传输时间", id="month-13"),
        pytest.param({"time": "0230090102"}, "交易传输时间", id="february-30"),
        pytest.param({"fee": "X000000000060"}, "商户手续费", id="fee-sign"),
    ])
    def test_bad_value_names_its_line(self, tmp_path, field, cause):
        with pytest.raises(ParseError) as error:
            unionpay.parse(write(tmp_path, inn(PAY, record(**field))))
        assert error.value.line == 2 and cause in error.value.cause

    def test_report_without_total_row(self, samples_dir, tmp_path):
        with zipfile.ZipFile(samples_dir / OFFICIAL) as original:
            members = [(i.filename, original.read(i)) for i in original.infolist()]
        members = [(n, d[: d.index("总计".encode("gbk"))] if n.startswith("RD") else d) for n, d in members]
        with pytest.raises(ParseError, match="总计"):
            unionpay.parse(write_zip(tmp_path / OFFICIAL, members, WHEN))

    def test_cut_zip(self, samples_dir, tmp_path):
        data = (samples_dir / OFFICIAL).read_bytes()
        with pytest.raises(ParseError, match="zip"):
            unionpay.parse(write(tmp_path, data[:-100], OFFICIAL))

    def test_bare_file_must_be_named_by_its_date(self, tmp_path):
        with pytest.raises(ParseError, match="INN<YYMMDD>"):
            unionpay.parse(write(tmp_path, inn(PAY), "settlement.txt"))
