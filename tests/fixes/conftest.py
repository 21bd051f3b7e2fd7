"""Fixtures of the remediation tests: the provider sandbox (keys made once per session)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from etl.extract.providers.http import Http, RetryPolicy
from etl.fixes.senders import RefundRequest
from tests.extract.fakes import Keys
from tests.fixes.sandbox import ProviderSandbox


@pytest.fixture(scope="session")
def fix_keys() -> Keys:
    return Keys()


@pytest.fixture
def sandbox(fix_keys) -> Iterator[ProviderSandbox]:
    box = ProviderSandbox(fix_keys).start()
    yield box
    box.stop()


@pytest.fixture
def quick_http() -> Http:
    """A read timeout shorter than the sandbox's late answer."""
    return Http(timeout=(2.0, 0.6))


@pytest.fixture
def no_wait() -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff=0.0, sleep=lambda s: None)


def refund_request(provider: str, key: str = "RF0123456789ABCDEF0123456789ABCD", txn: str = "TXN1",
                   amount: str = "49.80", paid: str = "49.80", order_id: str | None = "T1") -> RefundRequest:
    return RefundRequest(key=key, provider=provider, provider_txn_id=txn, order_id=order_id, amount=Decimal(amount),
                         payment_amount=Decimal(paid), reason="重复支付退款",
                         first_sent_at=datetime(2026, 11, 25, 10, 0, 0))


PASSWORD = "correct horse battery"
USERS = {"olivia": "ops", "fiona": "finance", "frank": "finance", "felix": "finance", "audrey": "auditor"}


def fix_settings(root, sandbox: ProviderSandbox | None = None, **extra: str):
    """Settings with every path, the console store and the fix outboxes under ``root``; sending
    for real (execute = true) to the sandbox when one is given."""
    from etl.config import load_settings

    return load_settings(fix_env(root, sandbox, **extra))


def fix_env(root, sandbox: ProviderSandbox | None = None, **extra: str) -> dict[str, str]:
    from tests.conftest import paths_env

    env = paths_env(root, RECON_REPORTS__ENABLED="false",
                    RECON_CONSOLE__DATABASE_URL=f"sqlite:///{root / 'console' / 'console.db'}",
                    RECON_REMEDIATION__DRY_RUN_DIR=str(root / "fixes" / "dry_run"),
                    RECON_REMEDIATION__BILLING_BATCH_DIR=str(root / "fixes" / "outbox"),
                    RECON_REMEDIATION__EXECUTE="true")
    if sandbox is not None:
        env["RECON_REMEDIATION__PROVIDERS__UNIONPAY__REFUND_URL"] = sandbox.refund_url("unionpay")
        env["RECON_REMEDIATION__PROVIDERS__UNIONPAY__NOTIFY_URL"] = "https://recon.example.com/unionpay/notify"
    env.update(extra)
    return env


def make_users(settings) -> None:
    """The console accounts of the tests, one per role (and three from finance)."""
    from console.auth import add_user
    from etl.fixes.store import open_store

    with open_store(settings)() as db:
        for name, role in USERS.items():
            add_user(db, "test", name, role, PASSWORD)


def actor(name: str):
    from etl.fixes.requests import Actor

    return Actor(name, USERS[name])


PG_ADMIN_URL = os.environ.get("RECON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.db)])
def store_env(request) -> Iterator[dict[str, str]]:
    """The console store on each backend: SQLite (the default, under the test's folder) or a
    fresh database on the real PostgreSQL server, dropped after the test. Fails, never skips,
    when the server is absent (.ci/run starts it)."""
    if request.param == "sqlite":
        yield {}
        return
    import psycopg

    name = f"fixes_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    yield {"RECON_CONSOLE__DATABASE_URL": url}
    from console.store import _engine_for

    _engine_for(url).dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
