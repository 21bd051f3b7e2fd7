"""Where the fix requests live: the console's database (``[console] database_url``), beside the
users who make and approve them and the audit log that records every step. The fix requests'
own migrations (``migrations/``) run after the console's, with their own version table.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from console.store import engine_from_settings, session_factory
from console.store import migrate as migrate_console
from console.store.audit import record

MIGRATIONS = Path(__file__).with_name("migrations")

__all__ = ["migrate", "migrate_fixes", "open_store", "record", "store_exists"]


def migrate(engine: Engine) -> None:
    """The console's schema, then the fix requests' (Alembic ``upgrade head`` of each)."""
    migrate_console(engine)
    migrate_fixes(engine)


def migrate_fixes(engine: Engine) -> None:
    """The fix requests' schema only, on a store whose console schema is up to date."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "head")


def open_store(settings) -> sessionmaker[Session]:  # noqa: ANN001 - etl.config.Settings
    """Sessions on the configured store, its schema brought up to date first."""
    engine = engine_from_settings(settings)
    migrate(engine)
    return session_factory(engine)


def store_exists(settings) -> bool:  # noqa: ANN001
    """False for a SQLite store whose file was never made: the night's run then has nothing to
    confirm and makes no database (a store on a server always exists)."""
    url = settings.console.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        return bool(path) and path != ":memory:" and Path(path).is_file()
    return True
