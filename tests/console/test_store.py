"""The console store: Alembic builds it on SQLite and PostgreSQL, and the audit log's hash chain
finds an entry edited, deleted or inserted."""
from __future__ import annotations

from sqlalchemy import delete, inspect, select, text, update

from console.store import current_revision, migrate
from console.store.audit import record, verify
from console.store.models import AuditEntry


class TestMigrations:
    def test_upgrade_head_makes_every_table(self, store):
        engine, _ = store
        tables = set(inspect(engine).get_table_names())
        assert {"users", "web_sessions", "claims", "notes", "resolutions", "approvals", "day_signoffs",
                "audit_log", "audit_head", "alembic_version"} <= tables
        assert current_revision(engine) == "0001_console_store"

    def test_migrate_twice_changes_nothing(self, store):
        engine, _ = store
        migrate(engine)
        assert current_revision(engine) == "0001_console_store"


class TestAuditChain:
    def _three(self, Session):
        with Session() as db:
            for i in range(3):
                record(db, "wang", "break.note", f"MISSING_CREDIT|T{i}", {"n": i, "text": "call 13812345678"})
            db.commit()

    def test_an_intact_log_verifies(self, store):
        _, Session = store
        self._three(Session)
        with Session() as db:
            assert verify(db) == []
            details = [d for (d,) in db.execute(select(AuditEntry.detail))]
        assert all("13812345678" not in d and "138****5678" in d for d in details)

    def test_an_edited_entry_is_found(self, store):
        _, Session = store
        self._three(Session)
        with Session() as db:
            db.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="li"))
            db.commit()
            assert [(p.seq, "edited" in p.what) for p in verify(db)] == [(2, True)]

    def test_a_deleted_entry_is_found(self, store):
        _, Session = store
        self._three(Session)
        with Session() as db:
            db.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
            db.commit()
            problems = verify(db)
        assert [p.seq for p in problems] == [3, 3]  # a gap, and entry 3 no longer follows entry 1

    def test_the_last_entry_deleted_is_found(self, store):
        _, Session = store
        self._three(Session)
        with Session() as db:
            db.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
            db.commit()
            problems = verify(db)
        assert len(problems) == 1 and "head" in problems[0].what

    def test_a_rolled_back_action_leaves_no_entry(self, store):
        _, Session = store
        with Session() as db:
            record(db, "wang", "break.note", "K", {})
            db.rollback()
            assert db.execute(text("select count(*) from audit_log")).scalar() == 0
            assert verify(db) == []
