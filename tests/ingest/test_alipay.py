"""Alipay trade bill (业务明细): GBK zip or bare CSV → canonical payment rows."""
from __future__ import annotations

import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from etl.generate.formats import write_zip
from etl.ingest import alipay
from etl.ingest.base import ParseError

COLUMNS = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
           "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
           "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注").split(",")
ZIP_SAMPLE = "20881234123412340156_20240515.csv.zip"


def trade(txn: str, order: str, amount: str, fee: str, finished: str = "2024-05-15 09:01:10", **more: str) -> dict:
    """One 交易 row as Alipay prints it (ids and type end with a TAB)."""
    return {"支付宝交易号": txn + "\t", "商户订单号": order + "\t", "业务类型": "交易\t", "商品名称": "话费充值",
            "创建时间": finished, "完成时间": finished, "订单金额（元）": amount, "商家实收（元）": amount,
            "服务费（元）": fee, **more}


def refund(txn: str, order: str, amount: str, fee: str, request: str, finished: str = "2024-05-15 15:30:00") -> dict:
    return {**trade(txn, order, "-" + amount, fee, finished), "业务类型": "退款\t", "退款批次号/请求号": request + "\t"}


def bill(rows: list[dict], columns: list[str] = COLUMNS, footer: tuple[str, str] | None = None,
         title: str = "支付宝业务明细查询", encoding: str = "gbk") -> bytes:
    """A 业务明细 CSV: title lines, header, rows (unlisted columns 0.00 or empty), marker, footer."""
    def value(row: dict, column: str) -> str:
        return row.get(column, "0.00" if "（元）" in column else "")

    pays = [r for r in rows if r["业务类型"].startswith("交易")]
    refunds = [r for r in rows if r["业务类型"].startswith("退款")]
    received = sum((Decimal(r["商家实收（元）"]) for r in pays), Decimal("0.00"))
    returned = sum((Decimal(r["商家实收（元）"]) for r in refunds), Decimal("0.00"))
    trade_line, refund_line = footer or (f"#交易合计：{len(pays)}笔，商家实收共{received}元，商家优惠共0.00元",
                                         f"#退款合计：{len(refunds)}笔，商家实收退款共{returned}元，商家优惠退款共0.00元")
    lines = [f"#{title}", "#账号：[20881234123412340156]",
             "#起始日期：[2024年05月15日 00:00:00]   终止日期：[2024年05月16日 00:00:00]",
             "#--------业务明细列表--------", ",".join(columns),
             *(",".join(value(r, c) for c in columns) for r in rows),
             "#--------业务明细列表结束--------", trade_line, refund_line, "#导出时间：[2024年05月16日 09:12:34]"]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def write(tmp_path: Path, data: bytes, name: str = "2088_20240515_业务明细.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


PAY = trade("2024051522001400001000000001", "ORD1", "100.00", "-0.60")
PAY2 = trade("2024051522001400001000000002", "ORD2", "58.80", "-0.35", "2024-05-15 10:11:20")
REFUND = refund("2024051522001400001000000001", "ORD1", "30.00", "0.18", "RF1")


class TestSamples:
    """The shared samples: the zip as downloaded and the bare 业务明细 CSV give the same rows."""

    def test_zip_and_bare_csv_give_the_same_rows(self, samples_dir):
        zipped = alipay.parse(samples_dir / ZIP_SAMPLE).rows
        bare = alipay.parse(samples_dir / "alipay_trade_业务明细.csv").rows
        assert zipped.num_rows == 5
        assert zipped.drop_columns(["source_member"]).equals(bare.drop_columns(["source_member"]))

    def test_amounts_are_exact_to_the_fen(self, samples_dir):
        rows = alipay.parse(samples_dir / ZIP_SAMPLE).rows.to_pylist()
        assert [r["amount"] for r in rows] == [Decimal(v) for v in ("100.00", "58.80", "30.00", "0.01", "12.50")]
        assert sum(r["settle_amount"] for r in rows if r["kind"] == "payment") == Decimal("171.31")

    def test_refund_points_at_its_payment(self, samples_dir):
        rows = alipay.parse(samples_dir / ZIP_SAMPLE).rows.to_pylist()
        payment, refund_row = rows[0], rows[2]
        assert (refund_row["kind"], refund_row["raw_type"]) == ("refund", "退款")
        assert refund_row["provider_txn_id"] == payment["provider_txn_id"] == "2024051522001400001000000001"
        assert refund_row["order_id"] == payment["order_id"] == "ORD20240515001"
        assert (refund_row["refund_id"], payment["refund_id"]) == ("RF20240515001", None)
        assert refund_row["event_at"] == datetime(2024, 5, 15, 15, 30)

    def test_fees_are_costs_whatever_sign_the_file_uses(self, samples_dir):
        rows = alipay.parse(samples_dir / ZIP_SAMPLE).rows.to_pylist()
        assert [r["fee"] for r in rows] == [Decimal(v) for v in ("0.6", "0.35", "-0.18", "0", "0.08")]

    def test_lineage_names_member_and_line(self, samples_dir):
        zipped = alipay.parse(samples_dir / ZIP_SAMPLE)
        bare = alipay.parse(samples_dir / "alipay_trade_业务明细.csv")
        assert set(zipped.rows["source_member"].to_pylist()) == {"20881234123412340156_20240515_业务明细.csv"}
        assert bare.rows["source_member"].to_pylist() == [None] * 5
        assert bare.rows["source_line"].to_pylist() == [6, 7, 8, 9, 10]
        assert zipped.totals.payment_count == 4 and zipped.totals.settle_amount == Decimal("171.31")


class TestOtherBillTypes:
    """账务明细 (signcustomer) is another bill: loading it as trades would invent payments."""

    def test_account_bill_is_rejected_by_name(self, samples_dir):
        path = samples_dir / "alipay_signcustomer_账务明细.csv"
        with pytest.raises(ParseError) as error:
            alipay.parse(path)
        assert error.value.file == str(path)
        assert "账务明细" in error.value.cause and "业务明细" in error.value.cause

    def test_zip_without_trade_member_is_rejected(self, tmp_path):
        path = write_zip(tmp_path / "x.csv.zip", [("2088_20240515_账务明细.csv", b"#")], (2024, 5, 16, 9, 0, 0),
                         gbk_names=True)
        with pytest.raises(ParseError, match="no 业务明细"):
            alipay.parse(path)


class TestColumnsByName:
    """Newer exports add and move columns: only the names count."""

    def test_reordered_columns_with_an_extra_one(self, tmp_path):
        plain = alipay.parse(write(tmp_path, bill([PAY, REFUND]))).rows
        shuffled = ["备注", "新增字段", *reversed(COLUMNS[:-1])]
        moved = alipay.parse(write(tmp_path, bill([PAY, REFUND], columns=shuffled), "b_业务明细.csv")).rows
        assert moved.equals(plain)

    def test_missing_column_is_named(self, tmp_path):
        columns = [c for c in COLUMNS if c != "服务费（元）"]
        with pytest.raises(ParseError, match="服务费"):
            alipay.parse(write(tmp_path, bill([PAY], columns=columns)))


class TestFeeSign:
    """Some sources print 服务费 as money out (-0.60 on a payment), others as a cost (0.60)."""

    @pytest.mark.parametrize("pay_fee, refund_fee", [("-0.60", "0.18"), ("0.60", "-0.18")],
                             ids=["money-out", "cost"])
    def test_both_conventions_give_canonical_fees(self, tmp_path, pay_fee, refund_fee):
        rows = [{**PAY, "服务费（元）": pay_fee}, {**REFUND, "服务费（元）": refund_fee}]
        fees = alipay.parse(write(tmp_path, bill(rows))).rows["fee"].to_pylist()
        assert fees == [Decimal("0.6"), Decimal("-0.18")]


class TestZipMembers:
    """Members are picked by name, whatever their order; split members are one bill."""

    def test_member_order_does_not_matter(self, samples_dir, tmp_path):
        with zipfile.ZipFile(samples_dir / ZIP_SAMPLE) as original:
            members = [(alipay.member_name(i), original.read(i)) for i in original.infolist()]
        path = write_zip(tmp_path / ZIP_SAMPLE, members[::-1], (2024, 5, 16, 9, 0, 0), gbk_names=True)
        assert alipay.parse(path).rows.equals(alipay.parse(samples_dir / ZIP_SAMPLE).rows)

    def test_split_members_are_concatenated_in_number_order(self, tmp_path):
        members = [("2088_20240515_业务明细_2.csv", bill([REFUND])), ("2088_20240515_业务明细_1.csv", bill([PAY, PAY2]))]
        path = write_zip(tmp_path / "2088_20240515.csv.zip", members, (2024, 5, 16, 9, 0, 0), gbk_names=True)
        rows = alipay.parse(path).rows
        assert rows["kind"].to_pylist() == ["payment", "payment", "refund"]
        assert rows["source_member"].to_pylist() == ["2088_20240515_业务明细_1.csv"] * 2 + ["2088_20240515_业务明细_2.csv"]
        assert rows["source_line"].to_pylist() == [6, 7, 6]


class TestOwnTotals:
    """A bill that disagrees with its own footer or summary is truncated or corrupt: quarantine it."""

    def test_footer_count_that_disagrees(self, tmp_path):
        footer = ("#交易合计：3笔，商家实收共158.80元，商家优惠共0.00元", "#退款合计：1笔，商家实收退款共-30.00元，商家优惠退款共0.00元")
        path = write(tmp_path, bill([PAY, PAY2, REFUND], footer=footer))
        with pytest.raises(ParseError) as error:
            alipay.parse(path)
        assert error.value.file == str(path)
        assert "payment_count=3" in error.value.cause and "truncated or corrupt" in error.value.cause

    def test_refund_total_that_disagrees(self, tmp_path):
        footer = ("#交易合计：2笔，商家实收共158.80元", "#退款合计：1笔，商家实收退款共-31.00元")
        with pytest.raises(ParseError, match="退款合计"):
            alipay.parse(write(tmp_path, bill([PAY, PAY2, REFUND], footer=footer)))

    def test_summary_member_that_disagrees(self, samples_dir, tmp_path):
        with zipfile.ZipFile(samples_dir / ZIP_SAMPLE) as original:
            members = [(alipay.member_name(i), original.read(i)) for i in original.infolist()]
        name, summary = next(m for m in members if "汇总" in m[0])
        tampered = summary.replace(b"-0.85", b"-0.86")
        members = [(n, tampered if n == name else d) for n, d in members]
        path = write_zip(tmp_path / ZIP_SAMPLE, members, (2024, 5, 16, 9, 0, 0), gbk_names=True)
        with pytest.raises(ParseError) as error:
            alipay.parse(path)
        assert error.value.member == name and "fee_total=-0.86" in error.value.cause

    def test_file_cut_after_the_rows(self, tmp_path):
        data = bill([PAY, PAY2])
        with pytest.raises(ParseError, match="truncated"):
            alipay.parse(write(tmp_path, data[: data.index("#--------业务明细列表结束".encode("gbk"))]))

    def test_row_cut_short_names_the_line(self, tmp_path):
        data = bill([PAY, PAY2])
        cut, marker = data.index(b"ORD2") + 20, data.index("#--------业务明细列表结束".encode("gbk"))
        with pytest.raises(ParseError) as error:
            alipay.parse(write(tmp_path, data[:cut] + b"\r\n" + data[marker:]))
        assert error.value.line == 7 and "fields" in error.value.cause

    def test_missing_footer(self, tmp_path):
        data = bill([PAY])
        data = data[: data.index("#交易合计".encode("gbk"))]
        with pytest.raises(ParseError, match="footer"):
            alipay.parse(write(tmp_path, data))

    def test_corrupt_zip(self, samples_dir, tmp_path):
        data = (samples_dir / ZIP_SAMPLE).read_bytes()
        path = write(tmp_path, data[: len(data) // 2], ZIP_SAMPLE)
        with pytest.raises(ParseError, match="zip"):
            alipay.parse(path)


class TestBadValues:
    """A value that is not what the column holds names its line and column."""

    @pytest.mark.parametrize("column, value, cause", [
        pytest.param("订单金额（元）", "1OO.00", "bad number", id="amount"),
        pytest.param("服务费（元）", "0.6.0", "bad number", id="fee"),
        pytest.param("完成时间", "2024-02-30 10:00:00", "bad date", id="no-such-day"),
        pytest.param("完成时间", "2024/05/15 10:00", "bad date", id="format"),
    ])
    def test_bad_value_names_line_and_column(self, tmp_path, column, value, cause):
        path = write(tmp_path, bill([PAY, {**PAY2, column: value}]))
        with pytest.raises(ParseError) as error:
            alipay.parse(path)
        assert (error.value.line, error.value.file) == (7, str(path))
        assert cause in error.value.cause and column in error.value.cause

    def test_utf8_file_is_named_as_such(self, tmp_path):
        with pytest.raises(ParseError, match="UTF-8"):
            alipay.parse(write(tmp_path, bill([PAY], encoding="utf-8")))


class TestUnknownBusinessType:
    """A 业务类型 we do not know is kept (as 'unknown') and reported, never dropped."""

    def test_kept_and_reported(self, tmp_path):
        odd = {**PAY2, "业务类型": "冻结\t"}
        parsed = alipay.parse(write(tmp_path, bill([PAY, odd], footer=(
            "#交易合计：1笔，商家实收共100.00元", "#退款合计：0笔，商家实收退款共0.00元"))))
        assert parsed.rows["kind"].to_pylist() == ["payment", "unknown"]
        assert len(parsed.warnings) == 1 and "冻结" in parsed.warnings[0] and "line 7" in parsed.warnings[0]
