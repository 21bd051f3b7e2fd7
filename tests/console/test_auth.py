"""Accounts: argon2id hashes, one answer for every failed login, a lock after repeated failures,
sessions that end when idle or old, and `recon users` prompting for passwords."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from console.auth import (ROLES, AccountError, Policy, add_user, authenticate, can, current, end_session,
                          reset_password, set_disabled, start_session)
from console.store.models import AuditEntry, User, WebSession
from tests.console.conftest import PASSWORD

POLICY = Policy(lock_after_failures=3, lock_minutes=15, idle_minutes=30, session_hours=10)


@pytest.fixture
def db(store):
    _, Session = store
    with Session() as session:
        add_user(session, "test", "wang", "ops", PASSWORD, "王运营")
        yield session


class TestPasswords:
    def test_stored_as_argon2id_never_in_clear(self, db):
        stored = db.execute(select(User.password_hash).where(User.name == "wang")).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored

    def test_short_password_refused(self, db):
        with pytest.raises(AccountError):
            add_user(db, "test", "li", "ops", "short")

    def test_unknown_role_refused(self, db):
        with pytest.raises(AccountError):
            add_user(db, "test", "li", "superuser", PASSWORD)


class TestLogin:
    def test_right_password_signs_in(self, db):
        assert authenticate(db, "wang", PASSWORD, POLICY).name == "wang"

    def test_lock_after_repeated_failures_even_with_the_right_password(self, db):
        for _ in range(3):
            assert authenticate(db, "wang", "wrong password!", POLICY) is None
        assert authenticate(db, "wang", PASSWORD, POLICY) is None  # locked now
        user = db.execute(select(User).where(User.name == "wang")).scalar_one()
        user.locked_until -= timedelta(minutes=16)
        db.commit()
        assert authenticate(db, "wang", PASSWORD, POLICY) is not None  # the lock expired

    def test_disabled_account_cannot_sign_in(self, db):
        set_disabled(db, "test", "wang")
        assert authenticate(db, "wang", PASSWORD, POLICY) is None

    def test_reset_lifts_the_lock(self, db):
        for _ in range(3):
            authenticate(db, "wang", "wrong password!", POLICY)
        reset_password(db, "test", "wang", "another good password")
        assert authenticate(db, "wang", "another good password", POLICY) is not None

    def test_every_attempt_is_audited_without_the_password(self, db):
        authenticate(db, "wang", "wrong password!", POLICY)
        authenticate(db, "nobody", "wrong password!", POLICY)
        authenticate(db, "wang", PASSWORD, POLICY)
        rows = db.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)).all()
        assert [(a, b) for a, b, _ in rows][-3:] == [("wang", "login.failed"), ("nobody", "login.failed"),
                                                     ("wang", "login")]
        assert all(PASSWORD not in d and "wrong password!" not in d for _, _, d in rows)


def _age(db, **by):
    for session in db.execute(select(WebSession)).scalars():
        for column, delta in by.items():
            setattr(session, column, getattr(session, column) - delta)
    db.commit()


class TestSessions:
    def test_new_id_at_login_and_the_old_one_ends(self, db):
        user = authenticate(db, "wang", PASSWORD, POLICY)
        first = start_session(db, user)
        second = start_session(db, user, old_session_id=first)
        assert first != second
        assert current(db, first, POLICY) is None and current(db, second, POLICY).name == "wang"

    def test_idle_session_ends(self, db):
        sid = start_session(db, authenticate(db, "wang", PASSWORD, POLICY))
        _age(db, last_seen_at=timedelta(minutes=31))
        assert current(db, sid, POLICY) is None

    def test_old_session_ends_even_when_busy(self, db):
        sid = start_session(db, authenticate(db, "wang", PASSWORD, POLICY))
        _age(db, created_at=timedelta(hours=11))
        assert current(db, sid, POLICY) is None

    def test_logout_and_disable_end_sessions(self, db):
        user = authenticate(db, "wang", PASSWORD, POLICY)
        a, b = start_session(db, user), start_session(db, user)
        end_session(db, a)
        assert current(db, a, POLICY) is None and current(db, b, POLICY) is not None
        set_disabled(db, "test", "wang")
        assert current(db, b, POLICY) is None

    def test_the_database_holds_no_usable_session_id(self, db):
        sid = start_session(db, authenticate(db, "wang", PASSWORD, POLICY))
        assert sid not in {h for (h,) in db.execute(select(WebSession.id_hash))}


class TestRoles:
    @pytest.mark.parametrize("role", list(ROLES))
    def test_only_admin_manages_users(self, role):
        assert can(role, "users.manage") == (role == "admin")

    def test_auditor_changes_nothing(self):
        from console.auth import PERMISSIONS

        changes = [p for p in PERMISSIONS if not p.endswith((".view", ".export", ".use")) and p != "self.settings"]
        assert changes and not any(can("auditor", p) for p in changes)

    def test_unknown_role_or_permission_may_do_nothing(self):
        assert not can("root", "queue.view") and not can("ops", "no.such") and not can(None, "today.view")


class TestUsersCommand:
    def test_add_prompts_for_the_password_and_list_shows_the_user(self, tmp_path, monkeypatch):
        from typer.testing import CliRunner

        from console.store import _engine_for
        from etl.cli import app

        _engine_for.cache_clear()
        monkeypatch.setenv("RECON_CONSOLE__DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
        runner = CliRunner()
        added = runner.invoke(app, ["users", "add", "admin1", "--role", "admin"],
                              input=f"{PASSWORD}\n{PASSWORD}\n")
        assert added.exit_code == 0, added.output
        assert PASSWORD not in added.output
        listed = runner.invoke(app, ["users", "list"])
        assert "admin1\tadmin\tzh_CN\tactive" in listed.output
        mismatch = runner.invoke(app, ["users", "add", "x2", "--role", "ops"], input=f"{PASSWORD}\nother one!!\n"
                                 f"{PASSWORD}\n{PASSWORD}\n")
        assert mismatch.exit_code == 0  # asked again until both match
        verified = runner.invoke(app, ["audit", "verify"])
        assert verified.exit_code == 0 and "intact: 2 entries" in verified.output
        _engine_for.cache_clear()
