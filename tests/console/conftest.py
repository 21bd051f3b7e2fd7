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


# ---- a published site: generated ledgers, the first two nights run, a console store -----------

ROLE_USERS = {"ops": "wang.ops", "finance": "li.finance", "product": "zhao.product", "auditor": "qian.audit",
              "admin": "sun.admin"}
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")


def site_env(root) -> dict[str, str]:
    from tests.conftest import paths_env

    return paths_env(root, RECON_REPORTS__ENABLED="false",
                     RECON_CONSOLE__DATABASE_URL=f"sqlite:///{root / 'console' / 'console.db'}",
                     RECON_CONSOLE__SEARCH_KEY_FILE=str(root / "console" / "search.key"))


def run_nights(root, *days: str) -> None:
    from datetime import date

    from etl.config import load_settings
    from etl.pipeline import run_dates

    run_dates(load_settings(site_env(root)), [date.fromisoformat(d) for d in days])


@pytest.fixture(scope="session")
def published_base(tmp_path_factory):
    """Three generated days (300 orders each), the first two run and published, one user per
    role in the console store. Copied by ``site`` before a test changes anything."""
    from datetime import date

    import console.auth as auth_module
    from etl.config import load_settings
    from etl.generate import generate_landing

    root = tmp_path_factory.mktemp("site")
    generate_landing(root / "landing", date(2026, 11, 1), 3, 300, seed=11)
    run_nights(root, *DAYS[:2])
    settings = load_settings(site_env(root))
    store = auth_module.open_session_store(settings)
    with store() as db:
        for role, name in ROLE_USERS.items():
            auth_module.add_user(db, "test", name, role, PASSWORD, display_name=name)
    store.kw["bind"].dispose()
    return root


@pytest.fixture
def site(published_base, tmp_path):
    """A private copy of the published site: (root, settings)."""
    import shutil

    from etl.config import load_settings

    root = tmp_path / "site"
    shutil.copytree(published_base, root)
    return root, load_settings(site_env(root))


@pytest.fixture
def app(site):
    from console.app import create_app
    from console.store import _engine_for

    _engine_for.cache_clear()
    return create_app(site[1])


class Browser:
    """A signed-in (or not) HTTP client, with the CSRF token of its session."""

    def __init__(self, app, base_url: str = "http://testserver"):
        from fastapi.testclient import TestClient

        self.client = TestClient(app, base_url=base_url, follow_redirects=False)
        self.csrf = ""

    def login(self, name: str, password: str = PASSWORD):
        import re

        page = self.client.get("/login")
        token = re.search(r'<form class="login".*?name="csrf" value="([^"]+)"', page.text, re.S).group(1)
        response = self.client.post("/login", data={"csrf": token, "name": name, "password": password})
        if response.status_code == 303:
            self.refresh_csrf()
        return response

    def refresh_csrf(self) -> None:
        import re

        page = self.client.get("/settings")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        self.csrf = found.group(1) if found else ""

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf", self.csrf)
        return self.client.post(url, data=data, **kw)


@pytest.fixture
def as_role(app):
    """as_role("ops") → a Browser signed in as that role's user; as_role(None) → signed out."""
    made = {}

    def make(role: str | None) -> Browser:
        if role not in made:
            b = Browser(app)
            if role is not None:
                assert b.login(ROLE_USERS[role]).status_code == 303
            made[role] = b
        return made[role]

    return make


def first_break(settings, break_type: str = "MISSING_CREDIT", status: str = "open", above=None,
                skip: tuple[str, ...] = ()) -> dict:
    from console.published import Published
    from console.reasons import SlaRule

    pub = Published(settings.paths.output, SlaRule.from_settings(settings.console))
    rows = pub.query("select * from read_parquet($f) where break_type = $t and status = $s "
                     "and abs(difference) > coalesce($above, -1) and break_key not in (select unnest($skip::varchar[])) "
                     "order by abs(difference) desc, break_key limit 1",
                     {"f": pub.file(pub.latest(), "breaks"), "t": break_type, "s": status, "above": above,
                      "skip": list(skip)})
    assert rows, f"the generated days have no {status} {break_type}"
    return rows[0]
