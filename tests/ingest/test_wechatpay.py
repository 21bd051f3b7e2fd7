"""WeChat Pay trade bill (ALL): backtick CSV, plain or gzip, with summary and SHA1."""
from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from etl.ingest import wechatpay
from etl.ingest.base import ParseError

COLUMNS = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
           "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
           "手续费,费率,订单金额,申请退款金额,费率备注").split(",")
LEGACY = ("交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
          "总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,"
          "商户数据包,手续费,费率").split(",")
SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def payment(txn: str, order: str, amount: str, fee: str, at: str = "2024-05-15 09:01:10", **more: str) -> dict:
    return {"交易时间": at, "微信订单号": txn, "商户订单号": order, "交易状态": "SUCCESS", "付款银行": "CMB_CREDIT",
            "应结订单金额": amount, "订单金额": amount, "总金额": amount, "微信退款单号": "0", "商户退款单号": "0",
            "退款金额": "0.00", "手续费": fee, **more}


def refund(txn: str, order: str, amount: str, fee: str, request: str, state: str = "SUCCESS",
           at: str = "2024-05-15 15:30:00") -> dict:
    return {**payment(txn, order, "0.00", fee, at), "交易状态": "REFUND", "微信退款单号": "503" + request,
            "商户退款单号": request, "退款金额": amount, "申请退款金额": amount, "退款状态": state, "退款类型": "ORIGINAL"}


def bill(rows: list[dict], columns: list[str] = COLUMNS, summary: str | None = None) -> bytes:
    """A bill as WeChat gives it: header, backtick rows ending in ",`", summary header and row."""
    def money(column: str) -> bool:
        return "金额" in column or column == "手续费"

    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join("`" + row.get(c, "0.00" if money(c) else "") for c in columns))
    if summary is None:
        pays = [r for r in rows if r["交易状态"] != "REFUND"]
        refunds = [r for r in rows if r["交易状态"] == "REFUND"]

        def total(rs, column):
            return sum((Decimal(r[column]) for r in rs), Decimal("0.00"))

        summary = ",".join("`" + str(v) for v in (
            len(rows), total(pays, "应结订单金额"), total(refunds, "退款金额"), "0.00",
            sum((Decimal(r["手续费"]) for r in rows), Decimal("0.00000")), total(pays, "订单金额"),
            total(refunds, "退款金额")))
    return ("\r\n".join(lines + [SUMMARY, summary]) + "\r\n").encode()


def write(tmp_path: Path, data: bytes, name: str = "1900000001_20240515_ALL.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return path


PAY = payment("4200000001", "ORD1", "100.00", "0.60000")
PAY2 = payment("4200000002", "ORD2", "58.80", "0.35000", "2024-05-15 10:11:20")
REFUND = refund("4200000001", "ORD1", "30.00", "-0.18000", "RF1")


class TestSamples:
    """The shared samples: plain and gzip give the same rows, with settlement after coupons."""

    def test_plain_and_gzip_give_the_same_rows(self, samples_dir):
        plain = wechatpay.parse(samples_dir / "wechat_tradebill_ALL.csv")
        zipped = wechatpay.parse(samples_dir / "wechat_tradebill_ALL.csv.gz")
        assert plain.rows.num_rows == 5 and plain.rows.equals(zipped.rows)
        assert plain.totals.row_count == 5 and plain.totals.fee_total == Decimal("0.83")

    def test_amount_is_the_order_amount_and_settle_what_remains_after_coupons(self, samples_dir):
        row = wechatpay.parse(samples_dir / "wechat_tradebill_ALL.csv").rows.to_pylist()[4]
        assert (row["amount"], row["settle_amount"], row["fee"]) == (Decimal("12.50"), Decimal("10.50"),
                                                                       Decimal("0.06"))

    def test_refund_points_at_its_payment(self, samples_dir):
        rows = wechatpay.parse(samples_dir / "wechat_tradebill_ALL.csv").rows.to_pylist()
        payment_row, refund_row = rows[0], rows[2]
        assert (refund_row["kind"], refund_row["status"], refund_row["raw_type"]) == ("refund", "success", "REFUND")
        assert refund_row["provider_txn_id"] == payment_row["provider_txn_id"]
        assert refund_row["order_id"] == payment_row["order_id"] == "ORD20240515001"
        assert (refund_row["refund_id"], payment_row["refund_id"]) == ("RF20240515001", None)
        assert (refund_row["amount"], refund_row["settle_amount"], refund_row["fee"]) == (
            Decimal("30.00"), Decimal("30.00"), Decimal("-0.18"))
        assert refund_row["event_at"] == datetime(2024, 5, 15, 15, 30)

    def test_lineage_and_bank(self, samples_dir):
        rows = wechatpay.parse(samples_dir / "wechat_tradebill_ALL.csv").rows
        assert rows["source_line"].to_pylist() == [2, 3, 4, 5, 6]
        assert rows["source_member"].null_count == 5
        assert rows["pay_detail"].to_pylist()[:2] == ["OTHERS", "CMB_CREDIT"]


class TestSeparators:
    """Values hold commas (商户数据包 is JSON): only ",`" separates columns."""

    def test_json_with_commas_stays_in_its_column(self, tmp_path):
        rows = wechatpay.parse(write(tmp_path, bill([{**PAY, "商户数据包": '{"a":1,"b":[2,3]}'}, PAY2]))).rows
        assert rows["amount"].to_pylist() == [Decimal("100.00"), Decimal("58.80")]
        assert rows["fee"].to_pylist() == [Decimal("0.6"), Decimal("0.35")]

    def test_backtick_inside_a_value_is_not_a_separator(self, tmp_path):
        rows = wechatpay.parse(write(tmp_path, bill([{**PAY, "商品名称": "话费`充值"}, PAY2]))).rows
        assert rows["amount"].to_pylist() == [Decimal("100.00"), Decimal("58.80")]
        assert rows["provider_txn_id"].to_pylist() == ["4200000001", "4200000002"]

    def test_utf8_bom_is_accepted(self, tmp_path):
        rows = wechatpay.parse(write(tmp_path, b"\xef\xbb\xbf" + bill([PAY]))).rows
        assert rows["provider_txn_id"].to_pylist() == ["4200000001"]


class TestColumnsByName:
    """Columns are found by name: moved and extra columns change nothing."""

    def test_reordered_columns_with_an_extra_one(self, tmp_path):
        plain = wechatpay.parse(write(tmp_path, bill([PAY, REFUND]))).rows
        moved = wechatpay.parse(write(tmp_path, bill([PAY, REFUND], ["新字段", *reversed(COLUMNS)]), "b.csv")).rows
        assert moved.equals(plain)

    def test_legacy_header_before_2018(self, tmp_path):
        legacy_summary = "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额"
        data = bill([PAY, REFUND], LEGACY, summary="`2,`100.00,`30.00,`0.00,`0.42000")
        data = data.replace(SUMMARY.encode(), legacy_summary.encode())
        rows = wechatpay.parse(write(tmp_path, data)).rows.to_pylist()
        assert [(r["kind"], r["amount"], r["settle_amount"]) for r in rows] == [
            ("payment", Decimal("100.00"), Decimal("100.00")), ("refund", Decimal("30.00"), Decimal("30.00"))]


class TestStatuses:
    """交易状态 says the kind; a refund's own 退款状态 says whether money went back."""

    def test_revoked_payment(self, tmp_path):
        row = wechatpay.parse(write(tmp_path, bill([{**PAY, "交易状态": "REVOKED"}]))).rows.to_pylist()[0]
        assert (row["kind"], row["status"]) == ("payment", "revoked")

    @pytest.mark.parametrize("state", ["SUCCESS", "PROCESSING", "FAIL", "CHANGE"])
    def test_refund_status_is_its_refund_state(self, tmp_path, state):
        row = wechatpay.parse(write(tmp_path, bill([refund("4200000001", "ORD1", "30.00", "-0.18", "RF1", state)])))
        assert row.rows["status"].to_pylist() == [state.lower()]

    def test_refund_without_merchant_number_uses_wechats(self, tmp_path):
        rows = wechatpay.parse(write(tmp_path, bill([{**REFUND, "商户退款单号": ""}]))).rows
        assert rows["refund_id"].to_pylist() == ["503RF1"]

    def test_unknown_state_is_kept_and_reported(self, tmp_path):
        summary = "`2,`100.00,`0.00,`0.00,`0.95000,`100.00,`0.00"  # the unknown row is not a payment
        parsed = wechatpay.parse(write(tmp_path, bill([PAY, {**PAY2, "交易状态": "FROZEN"}], summary=summary)))
        assert parsed.rows["kind"].to_pylist() == ["payment", "unknown"]
        assert "FROZEN" in parsed.warnings[0] and "line 3" in parsed.warnings[0]


class TestSha1:
    """v3 gives the SHA1 of the uncompressed bill: a mismatch is a corrupt download."""

    @pytest.mark.parametrize("name", ["bill.csv", "bill.csv.gz"])
    def test_matching_sha1_passes(self, tmp_path, name):
        data = bill([PAY])
        path = write(tmp_path, data, name)
        path.with_name(name + ".sha1").write_text(hashlib.sha1(data).hexdigest().upper() + "  " + name + "\n")
        assert wechatpay.parse(path).rows.num_rows == 1

    @pytest.mark.parametrize("name", ["bill.csv", "bill.csv.gz"])
    def test_wrong_sha1_names_file_and_cause(self, tmp_path, name):
        path = write(tmp_path, bill([PAY]), name)
        path.with_name(name + ".sha1").write_text(hashlib.sha1(b"another bill").hexdigest())
        with pytest.raises(ParseError) as error:
            wechatpay.parse(path)
        assert error.value.file == str(path) and "SHA1 mismatch" in error.value.cause


class TestOwnTotals:
    """The summary row must agree with the detail rows."""

    def test_summary_that_disagrees(self, tmp_path):
        path = write(tmp_path, bill([PAY, PAY2], summary="`2,`158.80,`0.00,`0.00,`0.96000,`158.80,`0.00"))
        with pytest.raises(ParseError) as error:
            wechatpay.parse(path)
        assert error.value.file == str(path) and "fee_total=0.96000" in error.value.cause

    def test_missing_summary_is_truncation(self, tmp_path):
        data = bill([PAY, PAY2])
        with pytest.raises(ParseError, match="truncated"):
            wechatpay.parse(write(tmp_path, data[: data.index(SUMMARY.encode())]))

    def test_row_cut_short_names_its_line(self, tmp_path):
        data = bill([PAY, PAY2])
        cut = data.index(b"`ORD2") + 30
        with pytest.raises(ParseError) as error:
            wechatpay.parse(write(tmp_path, data[:cut] + b"\r\n" + data[data.index(SUMMARY.encode()):]))
        assert error.value.line == 3 and "fields" in error.value.cause

    def test_truncated_gzip(self, tmp_path):
        path = write(tmp_path, bill([PAY, PAY2]), "bill.csv.gz")
        path.write_bytes(path.read_bytes()[:-12])
        with pytest.raises(ParseError, match="gzip"):
            wechatpay.parse(path)


class TestBadValues:
    @pytest.mark.parametrize("column, value, cause", [
        pytest.param("订单金额", "12,50", "bad number", id="amount"),
        pytest.param("手续费", "abc", "bad number", id="fee"),
        pytest.param("交易时间", "2024-13-01 00:00:00", "bad date", id="month-13"),
    ])
    def test_bad_value_names_its_line(self, tmp_path, column, value, cause):
        summary = "`2,`158.80,`0.00,`0.00,`0.95000,`158.80,`0.00"
        with pytest.raises(ParseError) as error:
            wechatpay.parse(write(tmp_path, bill([PAY, {**PAY2, column: value}], summary=summary)))
        assert error.value.line == 3 and cause in error.value.cause

    def test_gbk_file_is_named_as_such(self, tmp_path):
        data = bill([PAY]).decode().encode("gbk")
        with pytest.raises(ParseError, match="not UTF-8"):
            wechatpay.parse(write(tmp_path, data))
