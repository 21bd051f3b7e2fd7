"""The reports in both languages: every report rendered in zh_CN (the default) and in English
from the same warehouse. A Chinese page shows no English word outside a short allowlist (ids,
codes, units), every msgid the reports use has its Chinese, the amounts are the same to the fen
in both languages and in the warehouse, and the exports speak the language of the run."""
from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser

import duckdb
import pytest

from etl import i18n
from reports.formatting import money, money_signed
from tests.reports.conftest import REPORT_DAY
from tests.reports.readers import csv_rows, table

PAGES = ("index", "finance", "ops", "product")

# Words a Chinese page may show in Latin letters: units and measures users know by these names,
# the product's name, file formats; everything else must be Chinese.
ALLOWED_WORDS = {"CSAT", "NPS", "SLA", "BOSS", "App", "topup-recon", "CSV", "XLSX", "p50", "p95", "p99", "n"}
FILE_NAME = re.compile(r"^[\w.-]+\.(csv|xlsx|parquet|json|html)$")
# Elements whose text is not ours: ids and file names (class mono/ids/id), user names (user), input verbatim
# (customer comments, resolution reasons, the parser's quarantine reasons: class verbatim,
# marked lang="en" where it is English), a command line (code).
SKIPPED_CLASSES = {"mono", "ids", "id", "verbatim", "user"}
SKIPPED_TAGS = {"style", "script", "code"}
MONEY = re.compile(r"[+-]?¥[\d,]+\.\d{2}")


class _VisibleText(HTMLParser):
    """The text a reader sees, less the elements that hold input or ids."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "path", "use", "rect", "circle", "line",
            "polyline", "polygon", "ellipse", "stop"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its text skipped
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        a = dict(attrs)
        skipped = (tag in SKIPPED_TAGS or (tag != "html" and a.get("lang", "").startswith("en"))
                   or bool(SKIPPED_CLASSES & set((a.get("class") or "").split())))
        self.stack.append(skipped or (bool(self.stack) and self.stack[-1]))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.chunks.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.chunks)


def english_words(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", text)
    return sorted({w.rstrip(".-") for w in words
                   if not any(c.isdigit() for c in w) and w.rstrip(".-") not in ALLOWED_WORDS
                   and not FILE_NAME.match(w)})


class TestChinesePages:
    """What a run writes by default: Chinese, in the glossary's words."""

    @pytest.mark.parametrize("name", PAGES)
    def test_no_english_word_outside_the_allowlist(self, rendered_zh, name):
        assert english_words(visible_text(rendered_zh.html(name))) == []

    @pytest.mark.parametrize("name", PAGES)
    def test_declared_chinese(self, rendered_zh, rendered, name):
        assert '<html lang="zh-CN">' in rendered_zh.html(name)
        assert '<html lang="en">' in rendered.html(name)

    def test_the_checker_sees_english(self, rendered):
        # the same check on the English page finds plenty: it is not blind
        assert {"Settlement", "reconciliation"} <= set(english_words(visible_text(rendered.html("finance"))))

    def test_glossary_words(self, rendered_zh):
        finance, ops = rendered_zh.html("finance"), rendered_zh.html("ops")
        for word in ("已支付未到账（掉单）", "单边账（渠道有、平台无）", "单边账（计费有、平台无）", "手续费不符",
                     "结算净额", "长款", "短款", "支付宝", "微信支付", "银联"):
            assert word in finance, word
        assert "待办队列" in ops and "人工补充值，或退款" in ops

    def test_headings_name_the_day_in_chinese_tables_in_iso(self, rendered_zh):
        html = rendered_zh.html("finance")
        assert "2026年11月3日" in html and "星期二" in html
        assert table(html, "mtd-daily-table")[1][0] == "2026-11-03"

    def test_every_msgid_of_the_sources_has_chinese(self):
        # extracted from the sources now (templates and Python), not read from the committed .pot
        template = i18n.extract(i18n.LOCALE_DIR.parents[1])
        assert len(template) > 300
        assert i18n.untranslated("zh_CN", template) == []

    def test_every_phrase_the_marts_return_has_a_word(self):
        """The SQL's next actions, sides and credit timings are all marked in reports/labels.py."""
        from etl.config import project_root
        from reports import labels

        macros = (project_root() / "sql" / "marts" / "report_macros.sql").read_text("utf-8")
        marked = set(labels.MARKED)
        for name, kind in (("next_action", "next_action"), ("money_side", "side"), ("credit_timing", "credit_timing")):
            body = macros.split(f"macro {name}(", 1)[1].split(";", 1)[0]
            for phrase in re.findall(r"then '([^']+)'|else '([^']+)'", body):
                phrase = phrase[0] or phrase[1]
                assert (kind, phrase) in marked, (kind, phrase)


class TestSameFiguresInBothLanguages:
    """Translation never touches a figure: the amounts of a Chinese page are the English page's,
    in the same order, and the warehouse's."""

    @pytest.mark.parametrize("name", PAGES)
    def test_amounts_equal_to_the_fen(self, rendered, rendered_zh, name):
        en, zh = MONEY.findall(rendered.html(name)), MONEY.findall(rendered_zh.html(name))
        assert zh == en and len(zh) > 5

    def test_open_amounts_equal_the_warehouse(self, rendered_zh):
        con = duckdb.connect(str(rendered_zh.settings.paths.warehouse), read_only=True)
        try:
            long, short = con.execute(
                "select sum(difference) filter (where difference > 0), sum(difference) filter (where difference < 0) "
                "from break_log where business_date = ? and exported and status = 'open'", [REPORT_DAY]).fetchone()
            open_rows = con.execute("select difference from break_log where business_date = ? and exported "
                                    "and status = 'open'", [REPORT_DAY]).fetchall()
        finally:
            con.close()
        html = rendered_zh.html("finance")
        assert re.search(r'id="tile-long">([^<]+)<', html).group(1) == money(long)
        assert re.search(r'id="tile-short">([^<]+)<', html).group(1) == money(short)
        queue = table(rendered_zh.html("ops"), "queue-table")[1:]
        assert Counter(r[7] for r in queue) == Counter(money_signed(d) for (d,) in open_rows)
        assert all(isinstance(d, Decimal) for (d,) in open_rows)


class TestExports:
    """CSV and XLSX exports are for people: in the run's language; breaks.csv is not one of them."""

    def test_ops_queue_csv(self, rendered, rendered_zh):
        en, zh = csv_rows(rendered.folder / "ops_queue.csv"), csv_rows(rendered_zh.folder / "ops_queue.csv")
        assert list(en[0])[:3] == ["queue_rank", "break_type", "first_seen"]
        assert list(zh[0])[:3] == ["序号", "差错类型", "首次发现日期"]
        assert len(zh) == len(en)
        assert [r["差额"] for r in zh] == [r["difference"] for r in en]
        assert [r["差错键"] for r in zh] == [r["break_key"] for r in en]  # `recon resolve` takes these
        assert {r["差错类型"] for r in zh} >= {"已支付未到账（掉单）", "单边账（计费有、平台无）"}
        assert {r["下一步处理"] for r in zh} >= {"人工补充值，或退款"}
        assert english_words(" ".join(k for k in zh[0])) == []

    def test_suggestions_and_product_daily_csv(self, rendered, rendered_zh):
        zh = csv_rows(rendered_zh.folder / "ops_suggestions.csv")
        assert list(zh[0]) == ["到账流水号", "订单号", "手机号（脱敏）", "金额", "到账时间", "支付时间",
                               "支付后分钟数", "候选数", "置信度"]
        daily_en = csv_rows(rendered.folder / "product_daily.csv")
        daily_zh = csv_rows(rendered_zh.folder / "product_daily.csv")
        assert english_words(" ".join(daily_zh[0])) == []
        assert [r["交易额"] for r in daily_zh] == [r["gmv"] for r in daily_en]
        assert {r["已对账"] for r in daily_zh} <= {"是", "否"}

    @pytest.mark.parametrize("book, sheets", [
        pytest.param("finance.xlsx", ["结算", "对账单核对", "差错类型汇总", "未处理差错", "本月累计", "本月差错"], id="finance"),
        pytest.param("product.xlsx", ["每日", "构成", "分时", "到账时长", "满意度", "延迟与按时对比", "投诉数", "用户评价"],
                     id="product"),
    ])
    def test_xlsx_opens_with_chinese_sheets_and_headers(self, rendered, rendered_zh, book, sheets):
        from openpyxl import load_workbook

        zh = load_workbook(rendered_zh.folder / book, read_only=True)
        en = load_workbook(rendered.folder / book, read_only=True)
        try:
            assert zh.sheetnames == sheets
            for zh_sheet, en_sheet in zip(zh.worksheets, en.worksheets):
                zh_rows = [list(r) for r in zh_sheet.iter_rows(values_only=True)]
                en_rows = [list(r) for r in en_sheet.iter_rows(values_only=True)]
                header = next(i for i, r in enumerate(en_rows) if i >= 1 and len(r) > 2
                              and all(isinstance(v, str) for v in r))
                assert english_words(" ".join(zh_rows[header])) == [], zh_sheet.title
                assert english_words(str(zh_rows[0][0])) == [], zh_sheet.title  # the sheet's title
                # the figures: every number cell the same in both languages
                numbers = [[v for v in r if isinstance(v, (int, float))] for r in en_rows[header + 1:]]
                assert [[v for v in r if isinstance(v, (int, float))] for r in zh_rows[header + 1:]] == numbers
        finally:
            zh.close()
            en.close()

    def test_finance_xlsx_break_types_in_chinese(self, rendered_zh):
        from openpyxl import load_workbook

        book = load_workbook(rendered_zh.folder / "finance.xlsx", read_only=True)
        try:
            column = [r[0] for r in book["差错类型汇总"].iter_rows(min_row=5, values_only=True)]
        finally:
            book.close()
        assert "已支付未到账（掉单）" in column and "合计" in column


class TestChartAxes:
    """Large ticks read as people write them: 万 in Chinese, k in English; finance never shortens."""

    @pytest.mark.parametrize("kind, locale, text", [
        pytest.param("money", "zh_CN", "¥20万", id="zh-money"),
        pytest.param("money", "en", "¥200k", id="en-money"),
        pytest.param("money_exact", "zh_CN", "¥200,000", id="zh-finance"),
        pytest.param("money_exact", "en", "¥200,000", id="en-finance"),
        pytest.param("count", "zh_CN", "20万", id="zh-count"),
    ])
    def test_ticks(self, kind, locale, text):
        from reports.charts import tick_labeller

        assert tick_labeller(kind, [0, 100_000, 200_000], locale)(200_000) == text


class TestPluralForms:
    """English picks the form by the number; Chinese has one form."""

    def test_one_file_quarantined(self, rendered, rendered_zh):
        assert "1 file quarantined" in rendered.html("index")
        assert "1 个文件已隔离" in rendered_zh.html("index")

    def test_breaks(self, rendered):
        subs = re.findall(r'<div class="sub">([\d,]+ breaks?)</div>', rendered.html("finance"))
        assert subs and all(s.endswith("break") == (s.split()[0] == "1") for s in subs)

    def test_alert_attempts(self, monkeypatch):
        from etl import orchestration as orch

        sent = []
        monkeypatch.setattr(orch, "send_alert", lambda alert, settings=None: sent.append(alert))
        monkeypatch.setenv("RECON_REPORTS__LOCALE", "en")
        ti = type("TI", (), {"task_id": "load_and_match", "map_index": -1, "dag_id": "d", "run_id": "r",
                             "try_number": 1})()
        orch.on_task_failure({"ti": ti, "data_interval_start": None, "exception": RuntimeError("x")})
        ti.try_number = 3
        orch.on_task_failure({"ti": ti, "data_interval_start": None, "exception": RuntimeError("x")})
        assert "failed after 1 attempt." in sent[0].body and "failed after 3 attempts." in sent[1].body
