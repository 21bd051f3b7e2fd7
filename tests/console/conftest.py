"""Fixtures of the console tests: a migrated store on SQLite and on the real PostgreSQL (a
fresh database per test run, dropped after), users of every role."""
from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test run; dropped at the end. Fails (never skips)
    when the server is absent: .ci/run starts it."""
    import psycopg

    name = f"console_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.db)])
def store_url(request, tmp_path):
    """A store URL on each backend: SQLite in a temporary folder, or this run's database on the
    real PostgreSQL server (emptied after each test by the store fixture)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'console.db'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def store(store_url):
    """A migrated store: (engine, sessionmaker)."""
    from console.store import make_engine, migrate, session_factory

    engine = make_engine(store_url)
    migrate(engine)
    yield engine, session_factory(engine)
    if not store_url.startswith("sqlite"):  # the next test starts from an empty database
        from alembic import command
        from sqlalchemy import text

        from console.store import alembic_config

        command.downgrade(alembic_config(engine), "base")
        with engine.begin() as conn:
            conn.execute(text("drop table if exists alembic_version"))
    engine.dispose()
