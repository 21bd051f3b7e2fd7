"""Debian's Chromium as every browser test launches it (playwright drives it; no browser is ever
downloaded): where it is, and the flags that keep it off the closed network."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CHROMIUM = Path(os.environ.get("RECON_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-default-apps", "--disable-extensions"]


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium; missing it (or playwright) is a failure, never a skip."""
    assert CHROMIUM.exists(), f"headless Chromium not found at {CHROMIUM}: apt-get install chromium"
    from playwright.sync_api import sync_playwright  # an ImportError fails the test: pip install playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
