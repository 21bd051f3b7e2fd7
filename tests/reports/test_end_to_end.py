"""`recon generate` → `run_dates` → the reports, checked against pandas over the generator's
ground truth (<landing>/../ground_truth/): its canonical rows per source and date and its
expected breaks. No figure here is read from the warehouse (one test reads when files were loaded)."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from reports.formatting import count, fee, money, number, pct
from tests.reports.conftest import _settings
from tests.reports.readers import csv_rows, row

START, DAYS = date(2026, 11, 1), 3
LAST = START + timedelta(days=DAYS - 1)
PROVIDERS = ("alipay", "wechatpay", "unionpay")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from etl.generate import generate_landing
    from etl.pipeline import run_dates

    tmp = tmp_path_factory.mktemp("e2e")
    settings = _settings(tmp)
    # these checks find rows by their codes (alipay, MISSING_CREDIT): the English reports, chosen
    # the way a user chooses them ([reports] locale); test_i18n holds the Chinese ones to these
    settings = settings.model_copy(update={"reports": settings.reports.model_copy(update={"locale": "en"})})
    generate_landing(settings.paths.landing, START, DAYS, 1500, 7, settings)
    run_dates(settings, [START + timedelta(days=i) for i in range(DAYS)])
    return settings.paths.output / LAST.isoformat(), settings.paths.landing.parent / "ground_truth", settings


def _truth(truth: Path, source: str, last: date = LAST) -> pd.DataFrame:
    """Rows of every date up to ``last`` in load order, each once (a re-sent copy counts once)."""
    frames = []
    for i in range((last - START).days + 1):
        day = START + timedelta(days=i)
        path = truth / day.isoformat() / f"{source}.parquet"
        if path.exists():
            frames.append(pd.read_parquet(path).assign(landing=day))
    return pd.concat(frames, ignore_index=True)


def _statements(truth: Path) -> pd.DataFrame:
    rows = pd.concat([_truth(truth, p) for p in PROVIDERS], ignore_index=True)
    rows["refund_key"] = rows["refund_id"].fillna("")
    rows = rows.drop_duplicates(["provider", "kind", "provider_txn_id", "refund_key"], keep="first")
    return rows[(rows["status"] == "success") & rows["kind"].isin(["payment", "refund"])]


def _orders_today(truth: Path) -> pd.DataFrame:
    """The orders of LAST with paid / credited as the ledgers up to LAST show them."""
    orders = pd.read_parquet(truth / LAST.isoformat() / "orders.parquet").drop_duplicates("order_id")
    st = _statements(truth)
    payments = st[st["kind"] == "payment"]
    txn_order = payments.set_index(["provider", "provider_txn_id"])["order_id"]
    refunds = st[st["kind"] == "refund"].copy()
    refunds["order_id"] = [o if isinstance(o, str) else txn_order.get((p, t))
                           for o, p, t in zip(refunds["order_id"], refunds["provider"], refunds["provider_txn_id"])]
    paid = payments.groupby("order_id")["amount"].sum()
    refunded = refunds.groupby("order_id")["amount"].sum()
    billing = _truth(truth, "billing").drop_duplicates("credit_id")
    reversed_ids = set(billing.loc[(billing["amount"] < 0) | (billing["result"] == "reversed"), "reverses_credit_id"].dropna())
    standing = billing[(billing["result"] == "success") & (billing["amount"] > 0) & ~billing["credit_id"].isin(reversed_ids)]
    orders["is_paid"] = orders["order_id"].isin(paid.index)
    net = orders["order_id"].map(paid).fillna(Decimal(0)) - orders["order_id"].map(refunded).fillna(Decimal(0))
    orders["is_credited"] = (net > 0) & orders["order_id"].isin(set(standing["order_id"].dropna()))
    return orders


class TestFinance:
    def test_settlement_per_provider(self, run):
        folder, truth, _ = run
        st = _statements(truth)
        st = st[st["landing"] == LAST]
        html = (folder / "finance.html").read_text("utf-8")
        for provider in PROVIDERS:
            p = st[st["provider"] == provider]
            pay, ref = p[p["kind"] == "payment"], p[p["kind"] == "refund"]
            gross, refunds, fees = sum(pay["settle_amount"]), sum(ref["settle_amount"], Decimal(0)), sum(p["fee"])
            assert row(html, "settlement-table", provider)[1:] == [
                count(len(pay)), money(gross), count(len(ref)), money(refunds), fee(fees),
                money(gross - refunds - fees)], provider

    def test_breaks_by_type_match_the_ground_truth(self, run):
        folder, truth, _ = run
        want = pd.read_csv(truth / "breaks.csv", dtype=str)
        want = want[(want["business_date"] == LAST.isoformat()) & (want["status"] == "open")]
        want["difference"] = want["difference"].map(Decimal)
        html = (folder / "finance.html").read_text("utf-8")
        assert len(want) > 20
        for break_type, g in want.groupby("break_type"):
            long, short = g[g["difference"] > 0], g[g["difference"] < 0]
            assert row(html, "breaks-table", break_type)[2:8] == [
                count(len(g)), money(sum(g["difference"])), count(len(long)), money(sum(long["difference"], Decimal(0))),
                count(len(short)), money(sum(short["difference"], Decimal(0)))], break_type


class TestOps:
    def test_queue_is_the_ground_truths_open_items(self, run):
        folder, truth, _ = run
        want = pd.read_csv(truth / "breaks.csv", dtype=str, keep_default_na=False)
        want = want[(want["business_date"] == LAST.isoformat()) & (want["status"] == "open")]

        def key(r):
            if r["break_type"] in ("ORPHAN_PAYMENT", "FEE_MISMATCH"):
                return r["break_type"], r["provider"], r["provider_txn_id"]
            if r["break_type"] == "ORPHAN_CREDIT":
                return r["break_type"], r["credit_id"]
            return r["break_type"], r["order_id"]

        got = sorted(key(r) for r in csv_rows(folder / "ops_queue.csv"))
        assert got == sorted(key(r) for _, r in want.iterrows())


class TestProduct:
    def test_orders_gmv_and_success_by_channel(self, run):
        folder, truth, _ = run
        orders = _orders_today(truth)
        html = (folder / "product.html").read_text("utf-8")
        for channel, g in orders.groupby("channel"):
            paid = g[g["is_paid"]]
            assert row(html, "mix-channel", channel)[1:] == [
                count(len(g)), count(len(paid)), money(sum(paid["pay_amount"], Decimal(0))),
                count(int(g["is_credited"].sum())), pct(g["is_credited"].sum() / len(paid))], channel

    def test_csat_over_the_week(self, run):
        folder, truth, _ = run
        surveys = _truth(truth, "surveys").drop_duplicates("response_id")
        html = (folder / "product.html").read_text("utf-8")
        assert row(html, "sat-channel", "total")[1:3] == [count(len(surveys)), number(surveys["csat"].dropna().mean())]

    def test_complaints_per_10k_today(self, run):
        folder, truth, _ = run
        complaints = _truth(truth, "complaints").drop_duplicates("ticket_id")
        today = complaints[complaints["landing"] == LAST]
        orders = len(_orders_today(truth))
        html = (folder / "product.html").read_text("utf-8")
        assert row(html, "complaints-table", "total")[1:3] == [count(len(today)), number(10_000 * len(today) / orders, 1)]


class TestSafety:
    def test_no_phone_number_unmasked_in_any_output(self, run):
        folder, truth, settings = run
        phones = set(_truth(truth, "orders")["msisdn"].dropna()) | set(_truth(truth, "billing")["msisdn"].dropna())
        phones |= set(_truth(truth, "complaints")["msisdn"].dropna())
        for day_folder in settings.paths.output.iterdir():
            for path in day_folder.iterdir():
                if path.suffix in (".html", ".csv"):
                    text = path.read_text("utf-8")
                    assert not [p for p in phones if p in text], path

    def test_times_are_told_in_shanghai(self, run):
        # the machine's clock may be UTC (it is in CI): no time may pass that off as Shanghai's
        folder, _, settings = run
        html = (folder / "index.html").read_text("utf-8")
        summary = json.loads((folder / "run_summary.json").read_text("utf-8"))
        shown = {
            "generated": re.search(r"Generated (\S+ \S+) \(Asia/Shanghai\)", html).group(1),
            "started": re.search(r"Started \(Asia/Shanghai\)</th><td>([^<]+)</td>", html).group(1),
            "summary started": summary["started_at"],
            "summary finished": summary["finished_at"],
        }
        import duckdb  # read only, after the run: when each file was loaded
        with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
            shown["file loaded"] = str(con.execute("select max(loaded_at) from loaded_files").fetchone()[0])
        assert summary["started_at"].endswith("+08:00"), summary["started_at"]  # says which clock
        for what, stamp in shown.items():
            at = datetime.fromisoformat(stamp).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
            assert timedelta(0) <= datetime.now(timezone.utc) - at < timedelta(minutes=30), (what, stamp)

    def test_generated_markup_in_comments_is_escaped(self, run):
        folder, _, _ = run
        html = (folder / "product.html").read_text("utf-8")
        assert "<script" not in html and "<b>bold" not in html
