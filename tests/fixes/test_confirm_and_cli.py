"""The night's confirmation (and its absence), and the same actions from the command line."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from console.store.models import AuditEntry
from etl.cli import app
from etl.fixes import requests
from etl.fixes.confirm import confirm_fixes
from etl.fixes.store import open_store
from etl.fixes.store.models import FixRequest
from etl.match import match_date
from etl.warehouse import Warehouse
from tests.fixes.conftest import PASSWORD, actor, fix_env, fix_settings, make_users
from tests.matching.conftest import Ledger

D0 = date(2026, 11, 24)


@pytest.fixture
def credited_twice(tmp_path):
    """T3 credited twice (C31, C32): DUPLICATE_CREDIT open after the run of D0."""
    settings = fix_settings(tmp_path)
    with Warehouse(settings) as wh:
        Ledger(wh).order("T3").payment("T3", txn="A3").credit("T3", credit_id="C31").credit(
            "T3", credit_id="C32", at="2026-11-24 10:05:00")
        match_date(wh, D0)
    make_users(settings)
    db = open_store(settings)
    fix = requests.propose(db, settings, actor("olivia"), "DUPLICATE_CREDIT|T3", "reversal", "冲正")
    requests.approve(db, actor("fiona"), fix.key)
    sent = requests.send(db, settings, actor("olivia"), fix.key)
    assert sent.state == "sent"
    return settings, db, fix.key


def state(db, key):
    with db() as s:
        return s.get(FixRequest, key)


class TestConfirmation:
    def test_not_seen_for_days_is_raised_then_confirmed_when_it_lands(self, credited_twice):
        settings, db, key = credited_twice
        sent_on = state(db, key).first_sent_at.date()
        with Warehouse(settings) as wh:
            early = confirm_fixes(settings, wh, sent_on + timedelta(days=2))
            assert (early.confirmed, early.unconfirmed) == ([], [])
            late = confirm_fixes(settings, wh, sent_on + timedelta(days=3))
            assert late.unconfirmed == [key] and "no statement or billing export shows it" in late.warnings()[0]
        assert state(db, key).state == "unconfirmed"

        landing = D0 + timedelta(days=1)
        with Warehouse(settings) as wh:
            Ledger(wh).credit("T3", amount="-50.00", at="2026-11-25 10:00:00", result="reversed",
                              reverses="C32", credit_id=key)
            done = confirm_fixes(settings, wh, landing)
            assert done.confirmed == [key]
            again = confirm_fixes(settings, wh, landing)  # a re-run confirms nothing twice
            assert again.confirmed == []
            assert wh.scalar("select count(*) from resolutions where action = 'fixed'") == 1
            match_date(wh, landing)
            row = wh.rows("select status, resolution from break_log where business_date = $d and break_key = $k",
                          {"d": landing, "k": "DUPLICATE_CREDIT|T3"})
        assert row == [("resolved", "fixed")]
        fix = state(db, key)
        assert (fix.state, fix.confirmed_on) == ("confirmed", landing)
        with db() as s:
            actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.target == f"fix:{key}"))]
        assert {"fix.unconfirmed", "fix.confirm"} <= set(actions)

    def test_a_confirmed_fix_that_did_not_clear_the_break_leaves_it_open(self, tmp_path):
        """A third credit: one reversal leaves a duplicate, and the break stays open."""
        settings = fix_settings(tmp_path)
        with Warehouse(settings) as wh:
            ledger = Ledger(wh)
            ledger.order("T3").payment("T3", txn="A3")
            for n, at in enumerate(("10:03", "10:05", "10:07"), 1):
                ledger.credit("T3", credit_id=f"C3{n}", at=f"2026-11-24 {at}:00")
            match_date(wh, D0)
        make_users(settings)
        db = open_store(settings)
        fix = requests.propose(db, settings, actor("olivia"), "DUPLICATE_CREDIT|T3", "reversal", "冲正")
        assert fix.amount == Decimal("50.00") and fix.credit_id == "C33"
        requests.approve(db, actor("fiona"), fix.key)
        requests.send(db, settings, actor("olivia"), fix.key)
        day = D0 + timedelta(days=1)
        with Warehouse(settings) as wh:
            Ledger(wh).credit("T3", amount="-50.00", at="2026-11-25 10:00:00", result="reversed",
                              reverses="C33", credit_id=fix.key)
            confirm_fixes(settings, wh, day)
            match_date(wh, day)
            row = wh.rows("select status from break_log where business_date = $d and break_key = 'DUPLICATE_CREDIT|T3'",
                          {"d": day})
        assert row == [("open",)]
        assert state(db, fix.key).state == "confirmed"

    def test_no_store_no_database_made(self, tmp_path):
        settings = fix_settings(tmp_path)
        with Warehouse(settings) as wh:
            assert confirm_fixes(settings, wh, D0).confirmed == []
        assert not (tmp_path / "console" / "console.db").exists()


class TestCommandLine:
    """recon fix …: the same rules, the acting user signed in with their password."""

    @pytest.fixture
    def cli(self, tmp_path, monkeypatch):
        env = fix_env(tmp_path, RECON_REMEDIATION__EXECUTE="false")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = fix_settings(tmp_path, RECON_REMEDIATION__EXECUTE="false")
        with Warehouse(settings) as wh:
            Ledger(wh).order("T1").payment("T1", txn="A1").payment("T1", txn="A2", at="2026-11-24 10:01:00").credit("T1")
            match_date(wh, D0)
        make_users(settings)
        runner = CliRunner()

        def run(*args: str, password: str = PASSWORD):
            return runner.invoke(app, ["fix", *args, "--password-stdin"], input=password + "\n")
        return run, settings

    def test_propose_approve_send_status(self, cli):
        run, settings = cli
        proposed = run("propose", "DUPLICATE_PAYMENT|T1", "--kind", "refund", "--why", "重复支付", "--as", "olivia")
        assert proposed.exit_code == 0, proposed.output
        key = proposed.stdout.split()[0]
        assert run("approve", key, "--as", "olivia").exit_code == 1  # ops may not approve
        approved = run("approve", key, "--as", "fiona")
        assert approved.exit_code == 0 and "approved" in approved.stdout
        sent = run("send", key, "--as", "olivia")
        assert sent.exit_code == 0, sent.output
        assert (settings.remediation.dry_run_dir / f"{key}.json").is_file()  # execute = false: a dry run
        status = run("status", "--as", "audrey")
        assert key in status.stdout and "approved" in status.stdout

    def test_a_wrong_password_is_refused(self, cli):
        run, _ = cli
        result = run("propose", "DUPLICATE_PAYMENT|T1", "--kind", "refund", "--why", "x", "--as", "olivia",
                     password="not the password")
        assert result.exit_code == 1 and "wrong password" in result.output

    def test_the_maker_rejecting_their_own_is_refused(self, cli):
        run, _ = cli
        key = run("propose", "DUPLICATE_PAYMENT|T1", "--kind", "refund", "--why", "x", "--as", "fiona").stdout.split()[0]
        result = run("reject", key, "--why", "no", "--as", "fiona")
        assert result.exit_code == 1 and "may not decline" in result.output
        assert run("reject", key, "--why", "金额有误", "--as", "frank").exit_code == 0
