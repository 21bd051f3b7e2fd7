"""The loop closed, on two generated days: the run of day 1 finds the breaks; ops propose the
fixes, finance approves them, they are sent (refunds to the provider sandbox, re-credits and
reversals to the billing double as a batch); day 2 is generated with the sandbox's refunds in
its statements and the double's postings in its billing export; the run of day 2 confirms each
fix and resolves its break. The ground truth (which the matcher never reads) says each of these
breaks would still be open on day 2 without its fix."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from etl.fixes import requests
from etl.fixes.store import open_store
from etl.fixes.store.models import FixRequest
from etl.generate import ExtraRows, generate_landing
from etl.pipeline import run_dates
from etl.warehouse import Warehouse
from tests.extract.fakes import Keys
from tests.fixes.conftest import actor, fix_settings, make_users
from tests.fixes.sandbox import BillingDouble, ProviderSandbox

D1, D2 = date(2026, 11, 10), date(2026, 11, 11)
SEED, ORDERS = 21, 1500
FIXES = {"DUPLICATE_PAYMENT": "refund", "MISSING_CREDIT": "recredit", "DUPLICATE_CREDIT": "reversal",
         "ORPHAN_PAYMENT": "refund"}


def still_open_on_day_2(truth: pd.DataFrame, break_type: str) -> str:
    """The key of a break of ``break_type`` open on both days in the ground truth (an order id;
    provider|transaction for an orphan payment)."""
    rows = truth[(truth.break_type == break_type) & (truth.status == "open")].copy()
    rows["key"] = (rows.provider + "|" + rows.provider_txn_id) if break_type == "ORPHAN_PAYMENT" else rows.order_id
    both = set(rows[rows.business_date == D1.isoformat()].key) & set(rows[rows.business_date == D2.isoformat()].key)
    assert both, f"the generated days hold no {break_type} open on both days: choose another seed"
    return sorted(both)[0]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    sandbox = ProviderSandbox(Keys()).start()
    try:
        settings = fix_settings(root, sandbox)
        landing = root / "landing"
        generate_landing(landing, D1, 2, ORDERS, SEED)
        truth = pd.read_csv(root / "ground_truth" / "breaks.csv", dtype=str)
        chosen = {t: still_open_on_day_2(truth, t) for t in FIXES}
        run_dates(settings, [D1])

        # the providers know every payment the statements of day 1 hold
        with Warehouse(settings, read_only=True) as wh:
            for provider, txn, order_id, amount, refunded in wh.rows(
                    "select p.provider, p.provider_txn_id, any_value(p.order_id), any_value(p.amount), "
                    "coalesce((select sum(r.amount) from raw_payments r where r.kind = 'refund' and r.status = 'success' "
                    "and r.provider = p.provider and r.provider_txn_id = p.provider_txn_id), 0) "
                    "from raw_payments p where p.kind = 'payment' and p.status = 'success' group by 1, 2"):
                sandbox.add_payment(provider, txn, order_id, amount, refunded)

        make_users(settings)
        db = open_store(settings)
        keys = {}
        for break_type, kind in FIXES.items():
            fix = requests.propose(db, settings, actor("olivia"), f"{break_type}|{chosen[break_type]}", kind, "夜间对账发现")
            fix = requests.approve(db, actor("fiona"), fix.key)
            if fix.state == "proposed":
                fix = requests.approve(db, actor("frank"), fix.key)
            keys[break_type] = fix.key
        sent = requests.send_all(db, settings, actor("olivia"), credentials_for=sandbox.credentials)

        double = BillingDouble(settings.remediation.billing_batch_dir)
        double.take_batches()
        extra = ExtraRows(statement={D2: sandbox.statement_rows(datetime(2026, 11, 11, 11, 0, 0))},
                          billing={D2: double.billing_rows(datetime(2026, 11, 11, 10, 0, 0))})
        generate_landing(landing, D1, 2, ORDERS, SEED, extra=extra)
        run_dates(settings, [D2])
        with Warehouse(settings, read_only=True) as wh:
            cur = wh.execute("select * from break_log where business_date = $d", {"d": D2})
            names = [c[0] for c in cur.description]
            day2 = pd.DataFrame(cur.fetchall(), columns=names)
        with db() as s:
            states = {k: s.get(FixRequest, key) for k, key in keys.items()}
        yield {"chosen": chosen, "keys": keys, "sent": sent, "day2": day2, "fixes": states, "sandbox": sandbox,
               "double": double, "settings": settings, "db": db}
    finally:
        sandbox.stop()


def break_row(day2: pd.DataFrame, break_type: str, order_id: str) -> dict:
    rows = day2[(day2.break_type == break_type) & (day2.order_id == order_id)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_each_fix_was_sent_once(loop):
    assert sorted((f.kind, f.state) for f in loop["sent"]) == [
        ("recredit", "sent"), ("refund", "accepted"), ("refund", "accepted"), ("reversal", "sent")]
    assert len(loop["sandbox"].refunds) == 2
    assert set(loop["double"].posted) == {loop["keys"]["MISSING_CREDIT"], loop["keys"]["DUPLICATE_CREDIT"]}


def test_duplicate_payment_refunded_and_resolved_next_night(loop):
    row = break_row(loop["day2"], "DUPLICATE_PAYMENT", loop["chosen"]["DUPLICATE_PAYMENT"])
    assert (row["status"], row["resolution"]) == ("resolved", "auto")
    fix = loop["fixes"]["DUPLICATE_PAYMENT"]
    assert (fix.state, fix.confirmed_on) == ("confirmed", D2)


def test_missing_credit_recredited_and_resolved_next_night(loop):
    order = loop["chosen"]["MISSING_CREDIT"]
    missing = break_row(loop["day2"], "MISSING_CREDIT", order)
    assert (missing["status"], missing["resolution"], missing["exported"]) == ("resolved", "credited_late", False)
    late = break_row(loop["day2"], "LATE_CREDIT", order)
    assert (late["status"], late["credit_id"]) == ("resolved", loop["keys"]["MISSING_CREDIT"])
    assert loop["fixes"]["MISSING_CREDIT"].state == "confirmed"


def test_reversal_clears_the_duplicate_credit(loop):
    row = break_row(loop["day2"], "DUPLICATE_CREDIT", loop["chosen"]["DUPLICATE_CREDIT"])
    fix = loop["fixes"]["DUPLICATE_CREDIT"]
    assert (row["status"], row["resolution"], row["resolved_by"]) == ("resolved", "fixed", f"fix:{fix.key}")
    assert fix.state == "confirmed"


def test_orphan_payment_refunded_and_resolved_next_night(loop):
    provider, txn = loop["chosen"]["ORPHAN_PAYMENT"].split("|")
    rows = loop["day2"][(loop["day2"].break_type == "ORPHAN_PAYMENT") & (loop["day2"].provider_txn_id == txn)]
    assert [(r.status, r.resolution) for r in rows.itertuples()] == [("resolved", "fixed")]
    assert loop["fixes"]["ORPHAN_PAYMENT"].state == "confirmed"


def test_every_step_is_in_the_audit_log_and_the_chain_holds(loop):
    from sqlalchemy import select

    from console.store.audit import verify
    from console.store.models import AuditEntry

    with loop["db"]() as s:
        assert verify(s) == []
        for key in loop["keys"].values():
            actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.target == f"fix:{key}"))]
            assert {"fix.propose", "fix.approve", "fix.send.request", "fix.confirm"} <= set(actions), (key, actions)


def test_the_fixes_raise_no_break_of_their_own(loop):
    """The refund's fee, the re-credit's amount, the reversal's credit: all as the rules expect."""
    day2 = loop["day2"]
    orders = {v for k, v in loop["chosen"].items() if k != "ORPHAN_PAYMENT"}
    new = day2[day2.order_id.isin(orders) & (day2.first_seen == pd.Timestamp(D2).date()) & (day2.break_type != "LATE_CREDIT")]
    assert new.empty, new[["break_type", "order_id", "status"]]
    fees = day2[(day2.break_type == "FEE_MISMATCH") & day2.provider_txn_id.isin(
        [f.provider_txn_id for f in loop["fixes"].values() if f.provider_txn_id])]
    assert fees.empty
