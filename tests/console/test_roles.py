"""Every route of the console against every role and no login, generated from the app's own
route table (console.app.ROUTES): a new route cannot escape it. Each answer is what the role
allows and nothing else: a page or action the role may use is served (or refused only for its
input), anything else is 403, and without a login a page sends to the login form and an action
is 401."""
from __future__ import annotations

import pytest

from console.auth import PERMISSIONS, ROLES, can
from tests.console.conftest import first_break

# a valid request where a route needs one; everything else is sent bare (a refusal of the input
# is fine: what matters here is that the role check answers first)
SAMPLE_QUERY = {"/break": lambda key: {"key": key}, "/search": lambda key: {"q": "13800000000"}}


def _routes():
    from console.app import ROUTES

    return [r for r in ROUTES if r.permission is not None and r.path != "/logout"]


def _request(browser, route, key):
    params = SAMPLE_QUERY.get(route.path, lambda k: {})(key)
    if route.method == "GET":
        return browser.get(route.path, params=params)
    return browser.post(route.path, data={"key": key} if route.path.startswith("/break/") else {})


def _check(browser, role, key):
    wrong = []
    for route in _routes():
        response = _request(browser, route, key)
        status = response.status_code
        if role is None:
            expected_ok = status == (303 if route.method == "GET" else 401)
            if route.method == "GET":
                expected_ok = expected_ok and response.headers["location"].startswith("/login")
        elif can(role, route.permission):
            expected_ok = status < 500 and status not in (401, 403)
        else:
            expected_ok = status == 403
        if not expected_ok:
            wrong.append(f"{route.method} {route.path} ({route.permission}) → {status}")
    return wrong


def test_every_route_declares_a_known_permission(app):
    from console.app import ROUTES

    declared = {(r.method, r.path) for r in ROUTES}
    served = {(m, route.path) for route in app.routes for m in getattr(route, "methods", ()) if m != "HEAD"}
    assert served == declared
    assert all(r.permission in PERMISSIONS for r in ROUTES if r.permission is not None)
    public = sorted(r.path for r in ROUTES if r.permission is None)
    assert public == ["/login", "/login", "/static/console.css"]


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r or "anonymous")
def test_each_role_gets_exactly_what_it_may(as_role, site, role):
    key = first_break(site[1])["break_key"]
    assert _check(as_role(role), role, key) == []


class TestOps:
    def test_works_the_queue_but_never_approves_or_closes(self, as_role):
        ops = as_role("ops")
        assert ops.get("/queue").status_code == 200
        assert ops.post("/finance/decide", {"resolution": "x", "decision": "approve"}).status_code == 403
        assert ops.post("/finance/close", {"day": "2026-11-02"}).status_code == 403
        assert ops.get("/audit").status_code == 403


class TestFinance:
    def test_signs_off_but_cannot_resolve(self, as_role, site):
        fin = as_role("finance")
        key = first_break(site[1])["break_key"]
        assert fin.get("/finance").status_code == 200
        assert fin.post("/break/resolve", {"key": key, "version": "0", "reason": "refund", "text": "x"}).status_code == 403
        assert fin.post("/break/reveal", {"key": key, "reason": "call"}).status_code == 403


class TestProduct:
    def test_sees_product_pages_only_and_never_a_phone_number(self, as_role, site):
        prod = as_role("product")
        page = prod.get("/product")
        assert page.status_code == 200
        assert "****" not in page.text
        for path in ("/queue", "/search", "/finance", "/audit", "/queue.csv"):
            assert prod.get(path, params={"q": "x"} if path == "/search" else None).status_code == 403, path
        assert prod.get("/break", params={"key": first_break(site[1])["break_key"]}).status_code == 403


class TestAuditor:
    def test_reads_everything_changes_nothing(self, as_role, site):
        aud = as_role("auditor")
        for path in ("/", "/queue", "/finance", "/product", "/audit", "/audit.csv"):
            assert aud.get(path).status_code == 200, path
        key = first_break(site[1])["break_key"]
        for path in ("/break/claim", "/break/note", "/break/resolve", "/finance/close", "/finance/decide"):
            assert aud.post(path, {"key": key}).status_code == 403, path


class TestAdmin:
    def test_users_only(self, as_role):
        adm = as_role("admin")
        assert adm.get("/users").status_code == 200
        for path in ("/", "/queue", "/finance", "/product", "/audit"):
            assert adm.get(path).status_code == 403, path


@pytest.mark.parametrize("role", list(ROLES))
def test_every_role_can_sign_out(app, role):
    from tests.console.conftest import ROLE_USERS, Browser

    b = Browser(app)
    b.login(ROLE_USERS[role])
    assert b.post("/logout").status_code == 303
    assert b.get("/settings").status_code == 303  # signed out: back to the login form
