"""What leaves the warehouse in a report: phone numbers masked, text from input escaped in
HTML and neutralised in CSV/XLSX, pages that load nothing and run nothing."""
import re
import zipfile
from datetime import date

import pytest

from etl.pipeline import RunSummary
from etl.warehouse import Warehouse
from reports.render import CSP, render_all
from tests.reports.conftest import FORMULA_ORDER, _settings

PAGES = ("index", "finance", "ops", "product")


def _texts(folder):
    """Every report file's text; an XLSX's text is its XML parts."""
    for path in sorted(folder.iterdir()):
        if path.suffix in (".html", ".csv"):
            yield path.name, path.read_text("utf-8")
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                yield path.name, "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))


class TestNoPhoneNumberLeaves:
    def test_no_msisdn_unmasked_in_any_report_or_export(self, rendered):
        phones = {o.msisdn for o in rendered.shop.orders} | {k["msisdn"] for k in rendered.shop.complaints}
        phones |= {"13912345678"}  # the one a customer typed into a comment
        for name, text in _texts(rendered.folder):
            leaked = {p for p in phones if p in text}
            assert not leaked, f"{name} shows {sorted(leaked)[:3]}"

    def test_masked_form_is_there(self, rendered):
        """The open missing credit's phone is in the queue, masked (the test above is not vacuous)."""
        o = next(o for o in rendered.shop.orders if o.order_id == FORMULA_ORDER)
        assert any(o.msisdn[:3] + "****" + o.msisdn[-4:] in text for _, text in _texts(rendered.folder))


class TestSelfContainedPages:
    """Pages open offline under a strict content-security policy."""

    @pytest.mark.parametrize("page", PAGES)
    def test_csp_and_no_script(self, rendered, page):
        html = rendered.html(page)
        assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
        assert "<script" not in html.lower()

    @pytest.mark.parametrize("page", PAGES)
    def test_every_link_and_source_is_local(self, rendered, page):
        html = rendered.html(page)
        for attr, target in re.findall(r'\b(href|src|xlink:href)="([^"]*)"', html):
            assert target.startswith(("#", "data:")) or re.fullmatch(r"(\.\./\d{4}-\d{2}-\d{2}/)?[\w.]+", target), \
                (attr, target)
        assert "url(http" not in html and "@import" not in html

    def test_charts_are_inline_svg_with_unique_ids(self, rendered):
        html = rendered.html("product")
        assert html.count('<svg class="chart"') >= 6
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids))


class TestEscaping:
    def test_quarantine_reason_is_text(self, rendered):
        html = rendered.html("index")
        assert "&lt;img src=x&gt;" in html and "<img" not in html

    def test_run_summary_figures(self, rendered):
        from tests.reports.readers import row

        html = rendered.html("index")
        assert row(html, "control-table", "orders")[1:3] == ["50", "50"]
        assert row(html, "quarantine-table", "billing")[2] == "7"
        assert row(html, "breaks-by-type", "MISSING_CREDIT") == ["MISSING_CREDIT", "3"]


class TestEmptyWarehouse:
    """A date with nothing in the warehouse still renders every page (and says so)."""

    def test_renders(self, tmp_path):
        with Warehouse(_settings(tmp_path)) as wh:
            paths = render_all(wh, date(2026, 11, 3), tmp_path / "out", RunSummary(date(2026, 11, 3)))
            assert wh.scalar("select count(*) from duckdb_tables() where temporary") == 0
        names = {p.name for p in paths}
        assert {"index.html", "finance.html", "ops.html", "product.html", "ops_queue.csv", "finance.xlsx"} <= names
        assert "没有未处理的差错。" in (tmp_path / "out" / "ops.html").read_text("utf-8")  # zh_CN, the default
        assert (tmp_path / "out" / "ops_queue.csv").read_text("utf-8").startswith("序号,差错类型,")
