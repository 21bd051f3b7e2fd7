"""A representative handful of hostile inputs through the real pipeline (``run_dates``) on a
generated day: the bad file is quarantined with its reason and listed in the run summary,
the other sources are processed, and the counts prove nothing was dropped; data problems
load and show in the summary's warnings and the outcome totals."""
from __future__ import annotations

import csv
import os
import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datetime import timedelta

from etl.generate.formats import alipay as alipay_format
from etl.ingest import alipay
from etl.ingest.sources import PROVIDER_PARSERS
from etl.ingest.stage import read_manifest, stage_source
from etl.config import load_settings
from etl.generate import generate_landing
from etl.pipeline import run_dates
from tests.hostile import corpus
from tests.hostile.conftest import DAY, SOURCES, assert_nothing_lost, loaded_rows

INN = "INN26112488ZM_898111111111111"


def damage_alipay_zip_slip(day) -> None:
    path = day.file("alipay")
    corpus.rezip(path, corpus.members(path) + [("../../x", b"pwned")], gbk_names=True)


def damage_wechat_long_line(day) -> None:
    path = day.file("wechatpay")
    corpus.write_wechat(path, corpus.ten_mb_line(path.read_bytes(), 3))


def damage_billing_nul(day) -> None:
    path = day.file("billing")
    path.write_bytes(corpus.nul_in_line(path.read_bytes(), 9))


def damage_complaints_empty(day) -> None:
    day.file("complaints").write_bytes(b"")


class TestQuarantinedFileRunGoesOn:
    """One source's file is refused: it is quarantined byte for byte with a reason naming file,
    line and cause, the summary lists it, the run completes, every other source loads in full
    and the control totals balance."""

    @pytest.mark.parametrize("source, damage, line, cause", [
        pytest.param("alipay", damage_alipay_zip_slip, None, "unsafe zip: '..' in a member name", id="zip-slip"),
        pytest.param("wechatpay", damage_wechat_long_line, 4, "over the 64 KiB limit", id="long-line"),
        pytest.param("billing", damage_billing_nul, 10, "NUL byte", id="nul-byte"),
        pytest.param("complaints", damage_complaints_empty, None, "empty file (0 bytes)", id="empty-file"),
    ])
    def test_quarantined_listed_and_nothing_lost(self, day, source, damage, line, cause):
        damage(day)
        path = day.file(source)
        damaged = path.read_bytes()
        summary = day.run()
        assert summary.status == "ok"
        [listed] = summary.files_quarantined
        assert (listed["source"], listed["line"]) == (source, line)
        assert cause in listed["reason"] and str(path) in listed["reason"]
        [held] = day.quarantined(source)
        assert held.read_bytes() == damaged and day.reason(held)["reason"] == listed["reason"]
        assert [p.read_bytes() for p in day.folder(source).iterdir() if not p.name.endswith(".sha1")] \
            == [damaged]  # copied: the landing zone is never changed
        # judged once: a second run refuses it again from its record, without parsing it again
        again = day.run()
        assert again.files_quarantined == summary.files_quarantined
        assert {f["source"] for f in summary.files_loaded} == set(SOURCES) - {source}
        assert_nothing_lost(day, summary, {source: damaged})
        logged = day.warehouse("select source, reason from quarantine_log where landing_date = $d", {"d": DAY})
        assert logged == [(source, listed["reason"])]
        [note] = read_manifest(day.settings, DAY, source).warnings
        assert note.startswith(f"{source}: every delivered file was quarantined (1)")

    def test_a_source_left_without_rows_is_a_summary_warning(self, day):
        damage_alipay_zip_slip(day)
        summary = day.run()
        assert any("alipay: every delivered file was quarantined" in w for w in summary.warnings)


class TestParserBugIsContained:
    """An error no parser foresaw (a bug, or an input nobody imagined) quarantines that one
    file with the exception named, logs the traceback, and staging goes on."""

    def test_unexpected_exception_quarantines_the_file(self, day, monkeypatch, caplog):
        def broken(path):
            raise IndexError("index 3 is out of bounds")
        monkeypatch.setitem(PROVIDER_PARSERS, "unionpay", broken)
        manifest = stage_source(day.settings, DAY, "unionpay")
        [held] = manifest.quarantined
        assert "could not be parsed: unexpected IndexError: index 3 is out of bounds" in held.reason
        assert manifest.files == [] and any(r.exc_info for r in caplog.records)
        assert stage_source(day.settings, DAY, "alipay").files  # the other sources are staged as ever


class TestReSentFile:
    """The same file delivered again under another name is loaded once; the copy is
    quarantined as re-sent, and the rows are counted once."""

    def test_copy_quarantined_rows_counted_once(self, day):
        original = day.file("alipay")
        copy = original.with_name("resent_" + original.name)
        shutil.copyfile(original, copy)
        summary = day.run()
        [listed] = summary.files_quarantined
        assert listed["source_file"].endswith(copy.name)
        assert f"re-sent file: same content as {original.relative_to(day.landing)}" in listed["reason"]
        [held] = day.quarantined("alipay")
        assert held.read_bytes() == original.read_bytes()
        assert loaded_rows(summary, "alipay") == day.truth_rows("alipay")
        assert_nothing_lost(day, summary, {})

    def test_wechat_copy_takes_its_sha1_along(self, day):
        original = day.file("wechatpay")
        copy = original.with_name("resent_" + original.name)
        shutil.copyfile(original, copy)
        shutil.copyfile(original.with_name(original.name + ".sha1"), copy.with_name(copy.name + ".sha1"))
        summary = day.run()
        [held] = day.quarantined("wechatpay")
        assert held.with_name(held.name + ".sha1").exists()
        assert loaded_rows(summary, "wechatpay") == day.truth_rows("wechatpay")


class TestUnknownUnionPayCodeInARun:
    """An unknown 交易代码 loads as kind 'unknown': a warning in the summary, the row counted
    UNKNOWN_TYPE in the outcome totals, the control totals balanced."""

    def test_counted_unknown_type(self, day):
        corpus.edit_member(day.file("unionpay"), lambda n: n == INN, lambda data: corpus.replace_line(
            data, 0, lambda record: corpus.set_field(record, 0, b"S99")))
        summary = day.run()
        assert summary.files_quarantined == []
        assert any("unknown 交易代码 'S99' on 1 row(s) (line 1)" in w for w in summary.warnings)
        assert day.outcomes("unionpay").get("UNKNOWN_TYPE") == 1
        assert_nothing_lost(day, summary, {})


class TestUnknownVocabularyInARun:
    """A new channel or product loads as is and is named in the run summary's warnings."""

    def test_warned_and_loaded(self, day):
        path = day.file("orders")
        data = path.read_bytes()
        header = corpus.lines(data)[0]
        channel = corpus.column_index(header, "channel", "utf-8")
        product = corpus.column_index(header, "product_type", "utf-8")

        def edit(line: bytes) -> bytes:
            fields = line.split(b",")
            fields[channel], fields[product] = b"tiktok_mini", b"game_card"
            return b",".join(fields)
        path.write_bytes(corpus.replace_line(data, 4, edit))
        summary = day.run()
        assert summary.files_quarantined == []
        warned = " | ".join(summary.warnings)
        assert "unknown channel 'tiktok_mini' on 1 row(s) (line 5)" in warned
        assert "unknown product_type 'game_card' on 1 row(s) (line 5)" in warned
        assert day.warehouse("select count(*) from raw_orders where channel = 'tiktok_mini'") == [(1,)]
        assert_nothing_lost(day, summary, {})


class TestDuplicatedRowsInARun:
    """A copy of a row, inside one file, is loaded and classified DUPLICATE_ROW: counted once
    in matching, visible in the outcome totals, balanced in the control totals."""

    def test_statement_row_the_provider_counted_twice(self, day, tmp_path):
        path = day.file("alipay")
        rows = alipay.parse(path).rows
        index = pc.index(rows["kind"], "payment").as_py()
        doubled = pa.concat_tables([rows, rows.slice(index, 1)])
        path.unlink()
        alipay_format.write(doubled, path.parent, DAY)
        summary = day.run()
        assert summary.files_quarantined == []
        assert loaded_rows(summary, "alipay") == day.truth_rows("alipay") + 1
        assert day.outcomes("alipay").get("DUPLICATE_ROW") == 1
        assert "DUPLICATE_PAYMENT" not in {b for b, in day.warehouse(
            "select break_type from break_log where business_date = $d and provider_txn_id = $t",
            {"d": DAY, "t": rows["provider_txn_id"][index].as_py()})}

    def test_statement_row_delivered_again_the_next_day(self, tmp_path):
        # the next day's statement holds one of the first day's payments again: the load flags
        # both rows (etl.redelivery), and the next night counts the copy once, as DUPLICATE_ROW
        landing, nxt = tmp_path / "landing", DAY + timedelta(days=1)
        generate_landing(landing, DAY, days=2, orders_per_day=300, seed=7)
        settings = load_settings({
            "RECON_LANDING": str(landing), "RECON_WAREHOUSE": str(tmp_path / "wh.duckdb"),
            "RECON_OUTPUT": str(tmp_path / "out"), "RECON_QUARANTINE": str(tmp_path / "q"),
            "RECON_STAGING": str(tmp_path / "staging"), "RECON_REPORTS__ENABLED": "false"})
        [first] = [p for p in (landing / DAY.isoformat() / "alipay").iterdir() if not p.name.endswith(".sha1")]
        [second] = [p for p in (landing / nxt.isoformat() / "alipay").iterdir() if not p.name.endswith(".sha1")]
        copied = alipay.parse(first).rows
        index = pc.index(copied["kind"], "payment").as_py()
        txn = copied["provider_txn_id"][index].as_py()
        rows = pa.concat_tables([alipay.parse(second).rows, copied.slice(index, 1)])
        second.unlink()
        alipay_format.write(rows.select(copied.column_names), second.parent, nxt)
        summaries = run_dates(settings, [DAY, nxt])
        assert all(t["balanced"] for s in summaries for t in s.control_totals)
        with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
            assert con.execute("select landing_date, repeats from raw_payments where provider_txn_id = $t "
                               "order by landing_date", {"t": txn}).fetchall() == [(DAY, True), (nxt, True)]
            outcomes = dict(con.execute("select outcome, rows from outcome_totals where business_date = $d "
                                        "and source = 'alipay'", {"d": nxt}).fetchall())
        assert outcomes["DUPLICATE_ROW"] == 1

    def test_ledger_row_repeated_exactly(self, day):
        path = day.file("orders")
        path.write_bytes(corpus.duplicate_line(path.read_bytes(), 10))
        summary = day.run()
        assert any("1 row(s) repeat an earlier row exactly (line 12)" in w for w in summary.warnings)
        assert day.outcomes("orders").get("DUPLICATE_ROW") == 1
        assert loaded_rows(summary, "orders") == day.truth_rows("orders") + 1
        assert all(t["balanced"] for t in summary.control_totals)


class TestTextStaysTextInARun:
    """A formula in a statement's order id and markup in a survey comment load unchanged; the
    breaks export neutralises the formula and the reports escape the markup."""

    FORMULA = '=HYPERLINK("http://evil.example")'  # no comma: Alipay's CSV is unquoted
    SCRIPT = "<script>alert('pwned')</script>"

    def test_loaded_as_text_and_neutralised_on_the_way_out(self, day):
        day.reports_on()
        path = day.file("alipay")
        rows = alipay.parse(path).rows
        index = pc.index(rows["kind"], "payment").as_py()
        order_ids = rows["order_id"].to_pylist()
        order_ids[index] = self.FORMULA
        path.unlink()
        alipay_format.write(rows.set_column(rows.schema.get_field_index("order_id"), "order_id",
                                            pa.array(order_ids)), path.parent, DAY)
        surveys = day.file("surveys")
        data = surveys.read_bytes()
        surveys.write_bytes(corpus.replace_line(data, 1, lambda line: line.rsplit(b",", 1)[0] + b',"'
                                                + self.SCRIPT.encode() + b'"'))
        summary = day.run()
        assert summary.files_quarantined == []
        assert day.warehouse("select count(*) from raw_payments where order_id = $o", {"o": self.FORMULA}) == [(1,)]
        assert day.warehouse("select count(*) from raw_surveys where comment = $c", {"c": self.SCRIPT}) == [(1,)]
        with (day.output / "breaks.csv").open(encoding="utf-8") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        assert "'" + self.FORMULA in cells and self.FORMULA not in cells
        pages = {page.name: page.read_text("utf-8") for page in day.output.glob("*.html")}
        assert pages and not any("<script>alert('pwned')" in text for text in pages.values())
        assert "&lt;script&gt;alert(" in pages["product.html"]  # shown, escaped


class TestStrayFilesInARun:
    """Files a source does not deliver, links, and names that are not safe as paths: each is
    quarantined under a safe name with its reason; nothing is silently ignored or followed."""

    def test_quarantined_under_safe_names(self, day, tmp_path):
        (day.folder("alipay") / "readme.txt").write_text("not a bill")
        secret = tmp_path / "outside.csv"
        secret.write_text("credit_id\n")
        os.symlink(secret, day.folder("billing") / "linked.csv")
        hostile = day.folder("surveys") / "\u202eSVC.evil\nname.csv"
        hostile.write_bytes(b"")
        summary = day.run()
        reasons = {(q["source"], os.path.basename(q["quarantine_path"])): q["reason"]
                   for q in summary.files_quarantined}
        assert "not a file the alipay source delivers" in reasons[("alipay", "readme.txt")]
        assert "a symbolic link" in reasons[("billing", "linked.csv")]
        assert "empty file" in reasons[("surveys", "_SVC.evil_name.csv")]
        assert "\\u202eSVC.evil\\nname.csv" in reasons[("surveys", "_SVC.evil_name.csv")]  # escaped, not obeyed
        assert all(reason.isprintable() for reason in reasons.values())
        assert secret.read_text() == "credit_id\n"  # the link was copied as a link, its target untouched
        assert loaded_rows(summary, "billing") == day.truth_rows("billing")
        assert all(t["balanced"] for t in summary.control_totals)
