"""The console's own database: what people do (users, sessions, claims, notes, resolutions,
approvals, day sign-offs, the audit log). Never the warehouse.

SQLite under ``data/console/`` by default, PostgreSQL when ``[console] database_url`` names one.
The schema is Alembic's: ``migrate()`` brings any database to the newest revision, and runs at
the start of ``recon serve`` and ``recon users``.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created, and SQLite waits for a writer
    (busy timeout) and lets readers go on while one writes (WAL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("pragma journal_mode=wal")
            cur.execute("pragma foreign_keys=on")
            cur.execute("pragma busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):  # psycopg 3 is the driver the project installs
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # as many connections as the server has worker threads (Starlette's pool: 40)
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest migration (Alembic's ``upgrade head``)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine_from_settings(settings) -> Engine:  # noqa: ANN001 - etl.config.Settings
    """The configured engine, one per URL and process."""
    return _engine_for(settings.console.database_url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
