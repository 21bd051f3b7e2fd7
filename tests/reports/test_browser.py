"""Each report opened in headless Chromium (Debian's package): no console error, no CSP
violation, no request beyond the file itself, and the charts and tables are drawn.

Needs /usr/bin/chromium (`.ci/run` installs it) and the `playwright` Python package (driver
only: no browser download). Missing either is a failure, not a skip."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.chromium import chromium

pytestmark = pytest.mark.browser

PAGES = ("index", "finance", "ops", "product")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


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


@pytest.mark.parametrize("locale", ("zh_CN", "en"))
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_cleanly_offline(browser, rendered_both, name, locale):
    path = rendered_both[locale].folder / f"{name}.html"
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


# -- Chinese pages: every character drawn with a real glyph (no tofu) -------------------------

def _font_files() -> dict[str, tuple[str, int]]:
    """PostScript name → (file, index in a collection), as fontconfig (and so Chromium) knows them."""
    import subprocess

    out = subprocess.run(["fc-list", "-f", "%{postscriptname}\t%{file}\t%{index}\n"], capture_output=True,
                         text=True, check=True).stdout
    files = {}
    for line in out.splitlines():
        name, path, index = (line.split("\t") + ["", "", "0"])[:3]
        if name:
            files.setdefault(name, (path, int(index or 0)))
    return files


class _Cmaps:
    """The characters each font has a glyph for (fontTools reads the font's own cmap)."""

    def __init__(self) -> None:
        self.files = _font_files()
        self.cache: dict[str, frozenset[int]] = {}

    def __call__(self, postscript_name: str) -> frozenset[int]:
        if postscript_name not in self.cache:
            from fontTools.ttLib import TTFont

            path, index = self.files[postscript_name]  # a font Chromium used that fontconfig does not list: KeyError
            font = TTFont(path, fontNumber=index, lazy=True)
            self.cache[postscript_name] = frozenset(font.getBestCmap())
            font.close()
        return self.cache[postscript_name]


def _text_elements(node: dict, out: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if node.get("nodeName") in ("HEAD", "STYLE", "SCRIPT"):
        return out
    children = node.get("children", [])
    text = "".join(c.get("nodeValue", "") for c in children if c.get("nodeType") == 3)
    if text.strip():
        out.append((node["nodeId"], text))
    for child in children:
        _text_elements(child, out)
    return out


def _glyph_check(browser, path: Path) -> tuple[list[tuple[str, str]], set[str], int, list[str]]:
    """Asks Chromium which fonts drew each element's text (CSS.getPlatformFontsForNode) and checks
    every character against those fonts' own character maps: a character none of them has is
    drawn as a box. Returns (characters without a glyph, font families used, Chinese characters
    seen, console problems)."""
    page, problems, _ = _open(browser, path)
    cmaps = _Cmaps()
    try:
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        elements = _text_elements(cdp.send("DOM.getDocument", {"depth": -1})["root"], [])
        families, missing, chinese = set(), [], 0
        for node_id, text in elements:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node_id})["fonts"]
            assert fonts, f"not drawn: {text[:40]!r}"
            families |= {f["familyName"] for f in fonts}
            covered = frozenset().union(*(cmaps(f["postScriptName"]) for f in fonts))
            missing += [(ch, text[:30]) for ch in text if not ch.isspace() and ord(ch) not in covered]
            chinese += sum("\u4e00" <= ch <= "\u9fff" for ch in text)
        return missing, families, chinese, problems
    finally:
        page.close()


@pytest.mark.parametrize("name", PAGES)
def test_chinese_page_has_a_glyph_for_every_character(browser, rendered_zh, name):
    """Every character of a Chinese page, its charts' SVG text included, has a glyph in the
    font Chromium drew it with, and the CJK font is the one found."""
    missing, families, chinese, problems = _glyph_check(browser, rendered_zh.folder / f"{name}.html")
    assert missing == []
    assert chinese > 50 and "Noto Sans CJK SC" in families
    assert problems == []


def test_the_glyph_check_sees_a_missing_glyph(browser, tmp_path):
    page = tmp_path / "tofu.html"
    page.write_text('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
                    '</head><body><p>对账 \U000F0041</p></body></html>', "utf-8")
    missing, families, chinese, _ = _glyph_check(browser, page)
    assert [ch for ch, _ in missing] == ["\U000F0041"] and chinese == 2
