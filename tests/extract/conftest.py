"""Fixtures for the extract tests: the two database servers, throwaway keys, a local HTTP server.

The database tests need PostgreSQL at 127.0.0.1:5432 (trust auth, database ``test``) and
MariaDB at 127.0.0.1:3306 (root, empty password, database ``test``); override with
``RECON_TEST_PG_URI`` / ``RECON_TEST_MYSQL_URI``. An unreachable server FAILS the test: CI
must start both (.ci/run), and a skip would hide that the pull was never exercised.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.extract.fakes import FakeServer, Keys

PG_URI = os.environ.get("RECON_TEST_PG_URI", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URI = os.environ.get("RECON_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test")

TYPES = {
    "postgresql": {"text": "varchar(64)", "ts": "timestamp(6)", "tstz": "timestamptz", "money": "numeric(18,2)",
                   "float": "double precision", "wide_money": "numeric(20,4)"},
    "mariadb": {"text": "varchar(64)", "ts": "datetime(6)", "tstz": "timestamp(6) null", "money": "decimal(18,2)",
                "float": "double", "wide_money": "decimal(20,4)"},
}


class Database:
    """One server, reached with a plain driver (row-by-row is fine for loading test rows),
    with the tables this test created, dropped at the end."""

    def __init__(self, dialect: str, uri: str):
        self.dialect, self.uri = dialect, uri
        self.tables: list[str] = []
        try:
            if dialect == "postgresql":
                import psycopg

                self.conn = psycopg.connect(uri, autocommit=True, connect_timeout=5)
            else:
                import pymysql
                from urllib.parse import urlsplit

                parts = urlsplit(uri)
                self.conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                                            password=parts.password or "", database=parts.path.lstrip("/"),
                                            autocommit=True, connect_timeout=5, charset="utf8mb4")
        except Exception as exc:
            pytest.fail(f"{dialect} is not reachable at {uri} ({type(exc).__name__}: {exc}). The extract tests "
                        "need the real server: start it (.ci/run does) or set RECON_TEST_PG_URI / RECON_TEST_MYSQL_URI.",
                        pytrace=False)

    @property
    def q(self) -> str:
        return '"' if self.dialect == "postgresql" else "`"

    def execute(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def create(self, prefix: str, columns: dict[str, str]) -> str:
        """A new table with a unique name; ``columns`` maps name → TYPES key (or literal SQL type)."""
        name = f"recon_{prefix}_{uuid.uuid4().hex[:10]}"
        types = TYPES[self.dialect]
        cols = ", ".join(f"{self.q}{c}{self.q} {types.get(t, t)}" for c, t in columns.items())
        self.execute(f"create table {name} ({cols})")
        self.tables.append(name)
        return name

    def insert(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        names = list(rows[0])
        cols = ", ".join(f"{self.q}{c}{self.q}" for c in names)
        marks = ", ".join(["%s"] * len(names))
        with self.conn.cursor() as cur:
            cur.executemany(f"insert into {table} ({cols}) values ({marks})", [tuple(r[c] for c in names) for r in rows])

    def update(self, table: str, key: str, value: str, **changes) -> None:
        sets = ", ".join(f"{self.q}{c}{self.q} = %s" for c in changes)
        self.execute(f"update {table} set {sets} where {self.q}{key}{self.q} = %s", (*changes.values(), value))

    def close(self) -> None:
        try:
            for table in self.tables:
                self.execute(f"drop table if exists {table}")
        finally:
            self.conn.close()


@pytest.fixture(params=["postgresql", "mariadb"])
def db(request) -> Iterator[Database]:
    database = Database(request.param, PG_URI if request.param == "postgresql" else MYSQL_URI)
    yield database
    database.close()


@pytest.fixture
def pg() -> Iterator[Database]:
    database = Database("postgresql", PG_URI)
    yield database
    database.close()


@pytest.fixture
def mariadb() -> Iterator[Database]:
    database = Database("mariadb", MYSQL_URI)
    yield database
    database.close()


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff waits the retry loop asked for (recorded, not slept)."""
    return []
