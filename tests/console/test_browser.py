"""Each role's day in real Chromium (Debian's, driven by playwright) against the console served
by uvicorn on an ephemeral port: ops works a missing credit from the queue to the next night's
confirmation, finance approves the write-off ops proposed and closes the day, product compares
two channels over 30 days, and the auditor finds each of those actions in the log. Every page
loads with no console error and no request beyond the console itself.

RECON_SCREENSHOTS=DIR saves a screenshot of each page (how docs/screenshots/console-*.png are
made)."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from urllib.parse import quote

import pytest

from tests.chromium import chromium
from tests.console.conftest import DAYS, PASSWORD, ROLE_USERS, first_break, run_nights, site_env

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("RECON_SCREENSHOTS")


@pytest.fixture(scope="module")
def day_site(published_base, tmp_path_factory):
    from etl.config import load_settings

    root = tmp_path_factory.mktemp("browser") / "site"
    shutil.copytree(published_base, root)
    return root, load_settings(site_env(root))


@pytest.fixture(scope="module")
def server(day_site):
    """The console under uvicorn in a thread, on a port the system picks."""
    import uvicorn

    from console.app import create_app
    from console.store import _engine_for

    _engine_for.cache_clear()
    app = create_app(day_site[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Visit:
    """One person's browser tab: signs in, and checks every page it opens."""

    def __init__(self, browser, base: str, role: str):
        self.base, self.role = base, role
        self.context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.foreign: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.foreign.append(r.url)
                     if not r.url.startswith((base, "data:")) else None)
        self.go("/login")
        self.page.fill("input[name=name]", ROLE_USERS[role])
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("load")

    def go(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.problems == [] and self.foreign == []
        assert self.page.is_closed()


def test_ops_day(browser, server, day_site):
    base, app = server
    root, settings = day_site
    big = first_break(settings, "MISSING_CREDIT", above=settings.console.writeoff_approval_above)
    target = first_break(settings, "MISSING_CREDIT", skip=(big["break_key"],))
    ops = Visit(browser, base, "ops")
    page = ops.page
    assert page.url.endswith("/queue")
    assert page.locator("h1").inner_text() == "待办队列"
    ops.shot("queue")
    page.select_option("select[name=type]", "MISSING_CREDIT")
    page.click("#apply-filters")
    page.wait_for_load_state("load")
    types = page.locator("#queue tbody tr td:first-child").all_inner_texts()
    assert types and set(types) == {"已支付未到账（掉单）"}
    assert "截止时间前未到账" in page.locator("#queue tbody tr td.why").first.inner_text()
    ops.go("/break?key=" + quote(target["break_key"]))
    assert target["order_id"] in page.locator("h1").inner_text()
    assert page.locator("#story tbody tr").count() >= 2  # the order row and its payment, with file and line
    page.click("#claim")
    page.wait_for_load_state("load")
    assert "已由 wang.ops 认领" in page.content()
    page.fill("form[action='/break/note'] textarea", "客户来电，已核实支付成功")
    page.click("#add-note")
    page.wait_for_load_state("load")
    assert "客户来电，已核实支付成功" in page.locator("#notes").inner_text()
    page.fill("form[action='/break/reveal'] input[name=reason]", "回电客户")
    page.click("#reveal")
    page.wait_for_load_state("load")
    assert "****" not in page.locator("#phone").inner_text()
    ops.go("/break?key=" + quote(target["break_key"]))
    page.select_option("form[action='/break/resolve'] select[name=reason]", "recredit")
    page.fill("form[action='/break/resolve'] textarea", "BOSS 已手工补充值")
    page.click("#resolve")
    page.wait_for_load_state("load")
    assert "待下次对账确认" in page.content()
    ops.shot("story")
    # a write-off for finance to approve: the largest open break, above the limit
    ops.go("/break?key=" + quote(big["break_key"]))
    page.select_option("form[action='/break/resolve'] select[name=reason]", "writeoff")
    page.fill("form[action='/break/resolve'] textarea", "客户无法联系，申请核销")
    page.click("#resolve")
    page.wait_for_load_state("load")
    assert "核销待复核" in page.content()
    ops.go("/search?q=" + target["order_id"])
    assert target["order_id"] in page.locator("#orders").inner_text()
    ops.shot("search")
    # the next night runs; the console says it confirmed the resolution
    run_nights(root, DAYS[2])
    ops.go("/break?key=" + quote(target["break_key"]))
    assert "已由 2026-11-03 的对账确认" in page.content()
    ops.close()


def test_finance_day(browser, server, day_site):
    base, _ = server
    fin = Visit(browser, base, "finance")
    page = fin.page
    assert page.url.endswith("/finance")
    assert page.locator("#pending tbody tr").count() == 1
    fin.shot("finance")
    page.fill("#pending input[name=comment]", "同意核销")
    page.click("#pending button.approve")
    page.wait_for_load_state("load")
    assert "没有待复核的事项" in page.content()
    page.click("#close-day")
    page.wait_for_load_state("load")
    assert "已由 li.finance 于" in page.locator("#day-state").inner_text()
    assert page.locator("#settlement tbody tr").count() == 3
    fin.close()


def test_product_day(browser, server, day_site):
    base, _ = server
    prod = Visit(browser, base, "product")
    page = prod.page
    assert page.url.endswith("/product")
    page.fill("input[name=from]", "2026-10-05")
    page.fill("input[name=to]", "2026-11-03")
    page.select_option("select[name=split]", "channel")
    page.click("#apply")
    page.wait_for_load_state("load")
    series = page.locator("#totals tbody tr td:first-child").all_inner_texts()
    assert len(series) >= 2  # the channels, side by side over the 30 days
    assert page.locator("svg.chart").count() == 2
    assert "****" not in page.content()
    prod.shot("product")
    prod.close()


def test_auditor_day(browser, server, day_site):
    base, _ = server
    aud = Visit(browser, base, "auditor")
    page = aud.page
    assert page.url.endswith("/audit")
    assert "哈希链完整" in page.locator("#chain").inner_text()
    aud.shot("audit")
    found = {}
    for action in ("login", "break.claim", "break.note", "msisdn.reveal", "break.resolve", "writeoff.propose",
                   "writeoff.approve", "day.close", "search"):
        page.select_option("select[name=action]", action)
        page.click("#filter")
        page.wait_for_load_state("load")
        found[action] = page.locator("#audit tbody tr").count()
    assert all(n >= 1 for n in found.values()), found
    aud.go("/")
    aud.shot("today")
    aud.close()
