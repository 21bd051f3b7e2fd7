"""The console's defences, each tried as an attacker or a careless user would: forged and stale
forms, a session id planted before login, guessing passwords, cookies, markup in notes and
ledger text, SQL in every filter, hostile uploads, unknown fields, and a write-off approved by
the person who proposed it. Each refusal changes nothing."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from console.store.models import AuditEntry, Claim, Note, Resolution
from tests.console.conftest import PASSWORD, ROLE_USERS, Browser, first_break


def _count(app, model) -> int:
    with app.state.store() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


class TestCsrf:
    def test_a_form_without_the_token_changes_nothing(self, as_role, site, app):
        ops = as_role("ops")
        key = first_break(site[1])["break_key"]
        for token in (None, "", "forged-token"):
            data = {"key": key, "version": "0", "text": "hello"}
            if token is not None:
                data["csrf"] = token
            assert ops.post("/break/note", data, csrf=False).status_code == 403
        assert _count(app, Note) == 0

    def test_the_token_of_another_session_is_refused(self, as_role, app, site):
        other = Browser(app)
        other.login(ROLE_USERS["ops"])
        ops = as_role("ops")
        key = first_break(site[1])["break_key"]
        assert ops.post("/break/note", {"key": key, "version": "0", "text": "x", "csrf": other.csrf}).status_code == 403

    def test_login_form_needs_its_own_token(self, app):
        b = Browser(app)
        r = b.client.post("/login", data={"csrf": "x", "name": ROLE_USERS["ops"], "password": PASSWORD})
        assert r.status_code == 403 and "recon_session" not in r.headers.get("set-cookie", "")


class TestSessions:
    def test_a_session_id_planted_before_login_is_replaced(self, app):
        b = Browser(app)
        b.client.cookies.set("recon_session", "attacker-chosen-id", domain="testserver.local")
        b.login(ROLE_USERS["ops"])
        assert b.client.cookies.get("recon_session") != "attacker-chosen-id"
        intruder = Browser(app)
        intruder.client.cookies.set("recon_session", "attacker-chosen-id", domain="testserver.local")
        assert intruder.get("/queue").status_code == 303

    def test_login_gives_a_new_id_every_time(self, app):
        b = Browser(app)
        b.login(ROLE_USERS["ops"])
        first = b.client.cookies.get("recon_session")
        b.login(ROLE_USERS["ops"])
        second = b.client.cookies.get("recon_session")
        assert first != second
        stale = Browser(app)
        stale.client.cookies.set("recon_session", first, domain="testserver.local")
        assert stale.get("/queue").status_code == 303  # the old id ended at the new login

    def test_cookie_flags(self, app):
        r = Browser(app).login(ROLE_USERS["ops"])
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        r = Browser(app, base_url="https://testserver").login(ROLE_USERS["ops"])
        assert "Secure" in r.headers["set-cookie"]

    def test_security_headers_and_no_script(self, as_role):
        r = as_role("ops").get("/queue")
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none' forbids scripts
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        assert "<script" not in r.text.lower()


class TestLockout:
    def test_repeated_failures_lock_without_saying_which_was_wrong(self, app):
        b = Browser(app)
        unknown = b.login("nobody-here", "whatever password")
        answers = [b.login(ROLE_USERS["ops"], "wrong password!!") for _ in range(5)]
        locked = b.login(ROLE_USERS["ops"])  # the right password, but locked now
        messages = {re.search(r'role="alert">([^<]+)<', r.text).group(1) for r in [unknown, *answers, locked]}
        assert len(messages) == 1 and all(r.status_code == 400 for r in [unknown, *answers, locked])


class TestXss:
    PAYLOAD = '<script>alert(1)</script><img src=x onerror=alert(2)>'

    def test_a_note_is_shown_as_text(self, as_role, site):
        ops = as_role("ops")
        key = first_break(site[1])["break_key"]
        assert ops.post("/break/note", {"key": key, "version": "0", "text": self.PAYLOAD}).status_code == 303
        page = ops.get("/break", params={"key": key}).text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        audit = as_role("auditor").get("/audit").text
        assert "<img src=x" not in audit

    def test_ledger_text_is_shown_as_text(self, as_role, site):
        """A channel name from the orders file with markup in it: escaped on every page."""
        import duckdb

        settings = site[1]
        from console.published import Published
        from console.reasons import SlaRule

        pub = Published(settings.paths.output, SlaRule.from_settings(settings.console))
        path = pub.file(pub.latest(), "breaks")
        con = duckdb.connect()
        con.execute(f"copy (select * replace ('{self.PAYLOAD}' as channel) from read_parquet($p)) to '{path}.new' "
                    "(format parquet)", {"p": path})
        import os

        os.replace(path + ".new", path)
        ops = as_role("ops")
        key = first_break(settings)["break_key"]
        page = ops.get("/break", params={"key": key}).text
        assert "<img src=x" not in page and "&lt;img src=x" in page


class TestSqlInFilters:
    INJECTIONS = ["' or 1=1 --", "1; drop table claims", "\") union select * from users --"]

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_every_queue_filter(self, as_role, app, text):
        from console.forms import QUEUE_FIELDS

        ops = as_role("ops")
        for field in QUEUE_FIELDS:
            r = ops.get("/queue", params={field: text})
            # a choice, a date or an amount is refused with a message; free text finds nothing
            assert r.status_code in (200, 400), field
            if r.status_code == 200:
                assert 'id="queue-total">0 ' in r.text, field
        assert as_role("auditor").get("/audit", params={"actor": text, "action": text, "target": text}).status_code == 200
        assert as_role("ops").get("/search", params={"q": text}).status_code == 200
        assert as_role("product").get("/product", params={"channel": text}).status_code == 400
        assert _count(app, Claim) == 0  # nothing ran


class TestBadInput:
    def test_unknown_fields_are_refused(self, as_role, site, app):
        ops = as_role("ops")
        assert ops.get("/queue", params={"colour": "red"}).status_code == 400
        key = first_break(site[1])["break_key"]
        r = ops.post("/break/note", {"key": key, "version": "0", "text": "hi", "is_admin": "1"})
        assert r.status_code == 400 and _count(app, Note) == 0

    def test_a_stale_form_is_told_plainly(self, as_role, site, app):
        ops = as_role("ops")
        key = first_break(site[1])["break_key"]
        assert ops.post("/break/claim", {"key": key, "version": "0"}).status_code == 303
        r = ops.post("/break/note", {"key": key, "version": "0", "text": "from an old page"})
        assert r.status_code == 409 and _count(app, Note) == 0

    def _upload(self, ops, name, data):
        return ops.client.post("/bulk/preview", data={"csrf": ops.csrf}, files={"file": (name, io.BytesIO(data))})

    def test_uploads(self, as_role, site, app):
        ops = as_role("ops")
        key = first_break(site[1])["break_key"]
        header = b"break_key,reason,text\n"
        formula = self._upload(ops, "q.csv", header + f"{key},refund,=HYPERLINK(\"http://x\")\n".encode())
        latin = self._upload(ops, "q.csv", header + f"{key},refund,caf\xe9\n".encode("latin-1"))
        huge = self._upload(ops, "q.csv", header + b"x" * (site[1].console.max_upload_bytes + 100))
        assert formula.status_code == 400 and "formula" in formula.text
        assert latin.status_code == 400 and "UTF-8" in latin.text
        assert huge.status_code in (400, 413)
        assert _count(app, Resolution) == 0


class TestMakerChecker:
    def test_a_write_off_cannot_be_approved_by_its_maker(self, app, site):
        from decimal import Decimal

        from console import actions

        row = first_break(site[1])
        with app.state.store() as db:
            r = actions.resolve(db, "li.finance", actions.BreakFacts.of(row), 0, "writeoff", "small loss",
                                row["first_seen"], Decimal("0.00"))
            assert r.status == "pending"
            with pytest.raises(actions.Refused):
                actions.decide(db, "li.finance", r.id, approve=True)
            db.rollback()
            assert db.get(Resolution, r.id).status == "pending"

    def test_two_people_acting_at_once_one_wins(self, app, site):
        from console import actions

        key = first_break(site[1])["break_key"]
        with app.state.store() as a, app.state.store() as b:
            actions.claim(a, "wang.ops", key, 0)
            with pytest.raises(actions.Conflict):
                actions.claim(b, "other", key, 0)
        with app.state.store() as db:
            assert db.get(Claim, key).assignee == "wang.ops"
            assert db.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "break.claim")).scalar_one() == 1
