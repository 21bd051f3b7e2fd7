"""Each report opened in headless Chromium (Debian's package): no console error, no CSP
violation, no request beyond the file itself, and the charts and tables are drawn.

Needs /usr/bin/chromium (`.ci/run` installs it) and the `playwright` Python package (driver
only: no browser download). Missing either is a failure, not a skip."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("RECON_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-default-apps", "--disable-extensions"]
PAGES = ("index", "finance", "ops", "product")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"headless Chromium not found at {CHROMIUM}: apt-get install chromium"
    from playwright.sync_api import sync_playwright  # an ImportError fails the test: pip install playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(100)  # late CSP reports and favicon attempts arrive after load
    return page, problems, requests


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_cleanly_offline(browser, rendered, name):
    path = rendered.folder / f"{name}.html"
    page, problems, requests = _open(browser, path)
    try:
        assert problems == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert [u for u in requests if u.startswith("file:")] == [path.as_uri()]
        assert page.locator("h1").first.inner_text().strip()
        assert page.locator("script").count() == 0
        widths = page.eval_on_selector_all("table", "ts => ts.map(t => t.getBoundingClientRect().width)")
        assert widths and all(w > 0 for w in widths)
        if name != "index":
            sizes = page.eval_on_selector_all("svg.chart", "ss => ss.map(s => s.getBoundingClientRect().width)")
            assert sizes and all(w > 150 for w in sizes)
    finally:
        page.close()


def test_a_comment_with_markup_is_shown_as_text(browser, rendered):
    from tests.reports.conftest import SCRIPT_COMMENT

    page, problems, _ = _open(browser, rendered.folder / "product.html")
    try:
        texts = page.locator("#comments-table blockquote").all_inner_texts()
        assert SCRIPT_COMMENT in texts
        assert page.locator("#comments-table b").count() == 0
        assert problems == []
    finally:
        page.close()
