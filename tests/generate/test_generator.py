"""The sample-data generator: a landing zone in the layout of landing.md, with every break of
breaks.md injected at known rates, and a ground truth that follows docs/MATCHING.md.

The ground truth is derived from the generated rows by the rules; each scenario also declares
what it means. Most tests here check one against the other, or the rows against the time rules
the matcher relies on. The matcher itself is not tested here (tests/test_scoring.py does)."""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from etl.config import load_settings
from etl.generate import generate_landing, truth_folder
from etl.generate.scenarios import ORPHAN_RATES, SCENARIOS
from etl.schema import FEE, MONEY

START = date(2026, 11, 1)
ALL_BREAKS = {
    "MISSING_CREDIT", "LATE_CREDIT", "CREDIT_WITHOUT_PAYMENT", "REFUNDED_BUT_CREDITED", "DUPLICATE_PAYMENT",
    "DUPLICATE_CREDIT", "AMOUNT_MISMATCH", "STATUS_MISMATCH", "ORPHAN_PAYMENT", "ORPHAN_CREDIT", "FEE_MISMATCH",
}
LEDGER_HEADERS = {
    "orders": "order_id,created_at,msisdn,province,channel,product_type,product_code,face_value,pay_amount,"
              "pay_method,status,updated_at",
    "billing": "credit_id,order_id,msisdn,amount,product_type,credited_at,result,result_code,reverses_credit_id",
    "surveys": "response_id,order_id,submitted_at,csat,nps,comment",
    "complaints": "ticket_id,order_id,msisdn,opened_at,category,closed_at",
}
DECLARED = {s.name: s.outcome for s in SCENARIOS}


class Generated:
    """A generated landing zone and its ground truth, read back for the tests."""

    def __init__(self, root: Path, days: int, orders_per_day: int, seed: int, settings=None):
        self.settings = settings or load_settings({})
        self.landing = root / "landing"
        self.summary = generate_landing(self.landing, START, days, orders_per_day, seed, self.settings)
        self.truth = truth_folder(self.landing)
        self.dates = [START + timedelta(days=i) for i in range(days)]
        self._canonical: dict[str, pd.DataFrame] = {}

    def canonical(self, source: str) -> pd.DataFrame:
        """The canonical rows of every date, with the date of the file they are in."""
        if source not in self._canonical:
            frames = [pq.read_table(self.truth / d.isoformat() / f"{source}.parquet").to_pandas()
                      .assign(file_date=pd.Timestamp(d)) for d in self.dates]
            self._canonical[source] = pd.concat(frames, ignore_index=True)
        return self._canonical[source]

    def statements(self) -> pd.DataFrame:
        return pd.concat([self.canonical(p) for p in self.settings.providers.active], ignore_index=True)

    @property
    def breaks(self) -> pd.DataFrame:
        return pd.read_csv(self.truth / "breaks.csv", dtype=str, keep_default_na=False)

    @property
    def outcomes(self) -> pd.DataFrame:
        return pd.read_parquet(self.truth / "orders_outcome.parquet")

    @property
    def suggestions(self) -> pd.DataFrame:
        return pd.read_csv(self.truth / "suggestions.csv", dtype=str, keep_default_na=False)

    def orders_of(self, scenario: str) -> pd.DataFrame:
        out = self.outcomes
        return out[out["scenario"] == scenario]


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Generated:
    return Generated(tmp_path_factory.mktemp("week"), days=7, orders_per_day=2_000, seed=11)


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Generated:
    return Generated(tmp_path_factory.mktemp("month"), days=30, orders_per_day=1_000, seed=3)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _contracted_fee(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class TestDeterminism:
    """Tests and benchmarks compare runs: the same seed must give the same bytes."""

    def test_same_seed_same_bytes(self, week, tmp_path):
        again = tmp_path / "again"
        generate_landing(again / "landing", START, 7, 2_000, 11, week.settings)
        assert _tree_digest(again) == _tree_digest(week.landing.parent)

    def test_another_seed_other_orders(self, week, tmp_path):
        other = Generated(tmp_path, days=1, orders_per_day=2_000, seed=12)
        assert not other.canonical("orders")["msisdn"].equals(week.canonical("orders")["msisdn"].iloc[:2_000])


class TestLayout:
    """The landing zone is what upstream systems deliver (landing.md), one folder per date."""

    PATTERNS = {
        "orders": r"orders_\d{8}\.(csv|parquet)",
        "alipay": r"\d+_\d{8}\.csv\.zip",
        "wechatpay": r"\d+_\d{8}_ALL\.csv(\.gz)?(\.sha1)?",
        "unionpay": r"\d+_\d{8}\.zip",
        "billing": r"billing_\d{8}(_\d)?\.(csv|parquet)",
        "surveys": r"surveys_\d{8}\.csv",
        "complaints": r"complaints_\d{8}\.csv",
    }

    def test_every_date_has_every_source_in_its_formats(self, month):
        assert sorted(p.name for p in month.landing.iterdir()) == [d.isoformat() for d in month.dates]
        for d in month.dates:
            folder = month.landing / d.isoformat()
            assert sorted(p.name for p in folder.iterdir()) == sorted(self.PATTERNS)
            for source, pattern in self.PATTERNS.items():
                names = [p.name for p in (folder / source).iterdir()]
                assert names and all(re.fullmatch(pattern, n) for n in names), (d, source, names)

    def test_ledger_csvs_have_the_columns_of_landing_md(self, week):
        for d in week.dates:
            for source, header in LEDGER_HEADERS.items():
                for path in (week.landing / d.isoformat() / source).glob("*.csv"):
                    assert path.read_bytes().decode("utf-8").split("\n", 1)[0] == header, path

    def test_some_days_in_parquet_some_split(self, month):
        orders = {p.suffix for d in month.dates for p in (month.landing / d.isoformat() / "orders").iterdir()}
        billing = [p.name for d in month.dates for p in (month.landing / d.isoformat() / "billing").iterdir()]
        assert orders == {".csv", ".parquet"}
        assert any(n.endswith(".parquet") for n in billing) and any(n.endswith("_2.csv") for n in billing)
        assert {p.name for d in month.dates for p in (month.landing / d.isoformat() / "wechatpay").iterdir()
                if p.suffix == ".gz"}, "WeChat bills alternate plain and gzip"

    def test_truth_beside_the_landing_zone_with_canonical_rows_per_source_and_date(self, week):
        assert week.truth == week.landing.parent / "ground_truth"
        for d in week.dates:
            names = {p.name for p in (week.truth / d.isoformat()).iterdir()}
            assert names == {f"{s}.parquet" for s in TestLayout.PATTERNS}
            for source in TestLayout.PATTERNS:
                assert week.summary.rows[source][d] == pq.read_metadata(week.truth / d.isoformat() / f"{source}.parquet").num_rows

    def test_money_is_decimal_in_the_canonical_rows(self, week):
        d = week.dates[0].isoformat()
        assert pq.read_schema(week.truth / d / "orders.parquet").field("pay_amount").type == MONEY
        assert pq.read_schema(week.truth / d / "alipay.parquet").field("fee").type == FEE
        assert pq.read_schema(week.truth / d / "billing.parquet").field("amount").type == MONEY


class TestTimeRules:
    """Rows sit in the files MATCHING.md says the matcher will find them in."""

    def test_statements_of_a_date_hold_its_events(self, month):
        s = month.statements()
        assert (s["event_at"].dt.normalize() == s["file_date"]).all()

    def test_billing_of_a_date_holds_credits_from_its_cut_to_the_next(self, month):
        b = month.canonical("billing")
        grace = pd.Timedelta(minutes=month.settings.matching.grace_minutes)
        assert ((b["credited_at"] - grace).dt.normalize() == b["file_date"]).all()
        after_midnight = b[b["credited_at"].dt.normalize() > b["file_date"]]
        assert len(after_midnight) > 0

    def test_an_order_is_in_the_file_of_its_payment_or_of_its_creation(self, month):
        orders = month.canonical("orders")
        s = month.statements()
        paid = s[(s["kind"] == "payment") & (s["status"] == "success")].groupby("order_id")["event_at"].min()
        orders = orders.join(paid.rename("paid_at"), on="order_id")
        day = orders["paid_at"].fillna(orders["created_at"]).dt.normalize()
        assert (day == orders["file_date"]).all()
        # cross-midnight: created yesterday, paid today, in today's file
        assert (orders["created_at"].dt.normalize() < orders["file_date"]).any()

    def test_surveys_and_complaints_of_a_date(self, month):
        assert (month.canonical("surveys")["submitted_at"].dt.normalize() == month.canonical("surveys")["file_date"]).all()
        assert (month.canonical("complaints")["opened_at"].dt.normalize() == month.canonical("complaints")["file_date"]).all()

    def test_ids_are_unique_across_the_run(self, month):
        s = month.statements()
        payments = s[s["kind"] == "payment"]
        assert month.canonical("orders")["order_id"].is_unique
        assert month.canonical("billing")["credit_id"].is_unique
        assert not payments.duplicated(["provider", "provider_txn_id"]).any()
        assert not s[s["kind"] == "refund"].duplicated(["provider", "refund_id"]).any()
        assert month.canonical("surveys")["response_id"].is_unique
        assert month.canonical("complaints")["ticket_id"].is_unique
        assert month.canonical("orders")["msisdn"].str.fullmatch(r"1[3-9]\d{9}").all()


class TestCleanOrders:
    """MATCHED must mean perfectly clean, or the matcher would be blamed for the generator."""

    def test_one_exact_payment_one_exact_credit_within_sla_right_fee(self, month):
        orders = month.canonical("orders").set_index("order_id")
        matched = month.outcomes[month.outcomes["scenario"].isin(["MATCHED", "MATCHED_MIDNIGHT",
                                                                  "MATCHED_PAID_AFTER_MIDNIGHT"])]
        assert (matched["outcome"] == "MATCHED").all() and len(matched) > 20_000
        ids = set(matched["order_id"])
        s = month.statements()
        s = s[s["order_id"].isin(ids)]
        b = month.canonical("billing")
        b = b[b["order_id"].isin(ids)]
        assert (s["kind"] == "payment").all() and (s["status"] == "success").all()
        assert s["order_id"].is_unique and set(s["order_id"]) == ids
        assert (b["result"] == "success").all() and b["order_id"].is_unique and set(b["order_id"]) == ids
        s = s.set_index("order_id")
        b = b.set_index("order_id")
        assert (s["amount"] == orders.loc[s.index, "pay_amount"]).all()
        assert (b["amount"] == orders.loc[b.index, "face_value"]).all()
        rates = month.settings.providers.fee_rates
        assert all(fee == _contracted_fee(amount, rates[p]) for fee, amount, p in zip(s["fee"], s["amount"], s["provider"]))
        sla = orders["product_type"].map(lambda t: pd.Timedelta(minutes=month.settings.matching.sla_for(t)))
        delay = b["credited_at"] - s.loc[b.index, "event_at"]
        assert (delay >= pd.Timedelta(0)).all() and (delay <= sla.loc[b.index]).all()
        assert (orders.loc[list(ids), "status"] == "credited").all()

    def test_clean_orders_cross_midnight_both_ways(self, month):
        ids = set(month.orders_of("MATCHED_MIDNIGHT")["order_id"])
        b = month.canonical("billing")
        b = b[b["order_id"].isin(ids)]
        # paid at 23:59, credited after midnight: in the billing export of the order's date
        assert len(b) and (b["credited_at"].dt.normalize() == b["file_date"] + pd.Timedelta(days=1)).all()
        after = month.orders_of("MATCHED_PAID_AFTER_MIDNIGHT")
        b = month.canonical("billing")
        b = b[b["order_id"].isin(set(after["order_id"]))].merge(after, on="order_id")
        # paid after midnight: its credit (before 02:00) is in the previous day's billing export
        assert len(b) and (b["file_date"] == b["order_date"].astype("datetime64[ns]") - pd.Timedelta(days=1)).all()


class TestGroundTruth:
    """The truth follows MATCHING.md, including what crosses days and what falls off the end."""

    def test_every_order_ends_as_its_scenario_means(self, month):
        out = month.outcomes
        assert (out["outcome"] == out["scenario"].map(DECLARED)).all(), (
            out[out["outcome"] != out["scenario"].map(DECLARED)].groupby(["scenario", "outcome"]).size())

    def test_every_break_type_appears_and_auto_resolution_happens(self, month):
        b = month.breaks
        assert set(b["break_type"]) == ALL_BREAKS
        resolved = set(b.loc[b["status"] == "resolved", "break_type"])
        assert resolved == {"MISSING_CREDIT", "DUPLICATE_PAYMENT", "LATE_CREDIT"}
        assert set(b["status"]) == {"open", "resolved"}

    def test_a_missing_credit_that_arrives_becomes_a_late_credit_with_its_first_seen(self, month):
        b = month.breaks
        late = month.orders_of("MISSING_CREDIT_CREDITED_LATER")
        rows = b[b["order_id"].isin(set(late["order_id"]))]
        arrived = rows[rows["break_type"] == "LATE_CREDIT"]
        assert len(arrived) > 10 and (arrived["status"] == "resolved").all()
        for _, lc in arrived.iterrows():
            mc = rows[(rows["order_id"] == lc["order_id"]) & (rows["break_type"] == "MISSING_CREDIT")]
            assert (mc["status"] == "open").all()
            assert sorted(mc["business_date"]) == [
                (date.fromisoformat(lc["first_seen"]) + timedelta(days=i)).isoformat()
                for i in range((date.fromisoformat(lc["business_date"]) - date.fromisoformat(lc["first_seen"])).days)]
            assert lc["first_seen"] == mc["first_seen"].iloc[0] == late.set_index("order_id").loc[
                lc["order_id"], "order_date"].isoformat()
        # credits due after the last date are not generated: those stay missing to the end
        last = month.dates[-1].isoformat()
        never = set(late["order_id"]) - set(arrived["order_id"])
        assert never and set(rows[(rows["business_date"] == last) & (rows["status"] == "open")]["order_id"]) == never

    def test_open_items_carry_over_and_resolve_once(self, month):
        b = month.breaks
        b = b.assign(key=b["break_type"] + "|" + b["order_id"] + "|" + b["provider"] + "|"
                     + b["provider_txn_id"] + "|" + b["credit_id"])
        late = b[b["break_type"] == "LATE_CREDIT"].set_index("order_id")
        for key, rows in b.groupby("key"):
            rows = rows.sort_values("business_date")
            days = [date.fromisoformat(d) for d in rows["business_date"]]
            assert days == [days[0] + timedelta(days=i) for i in range(len(days))], key
            assert list(rows["status"]).count("resolved") <= 1 and list(rows["status"])[:-1] == ["open"] * (len(rows) - 1)
            assert rows["first_seen"].nunique() == 1
            if rows["break_type"].iloc[0] == "LATE_CREDIT":  # reported once, maybe after a missing credit
                assert len(rows) == 1 and rows["first_seen"].iloc[0] <= rows["business_date"].iloc[0]
            else:
                assert rows["first_seen"].iloc[0] == rows["business_date"].iloc[0], key
            if rows["status"].iloc[-1] == "open" and days[-1] != month.dates[-1]:
                # only a missing credit stops short: its credit came, reported as the late credit
                order = rows["order_id"].iloc[0]
                assert rows["break_type"].iloc[0] == "MISSING_CREDIT", key
                assert late.loc[order, "business_date"] == (days[-1] + timedelta(days=1)).isoformat()
                assert late.loc[order, "first_seen"] == rows["first_seen"].iloc[0]

    @pytest.mark.parametrize(("scenario", "break_type", "status"), [
        pytest.param("MISSING_CREDIT_REFUNDED_LATER", "MISSING_CREDIT", "resolved", id="refund-resolves-missing"),
        pytest.param("DUPLICATE_PAYMENT_REFUNDED_LATER", "DUPLICATE_PAYMENT", "resolved", id="refund-resolves-dup"),
        pytest.param("OLD_ORDER_REFUNDED", "REFUNDED_BUT_CREDITED", "open", id="old-refund"),
        pytest.param("PARTIAL_REFUND_LATER", "AMOUNT_MISMATCH", "open", id="late-partial-refund"),
        pytest.param("REVERSED_LATER", "MISSING_CREDIT", "open", id="reversal-unpays-credit"),
    ])
    def test_events_days_later_are_seen_on_their_own_date(self, month, scenario, break_type, status):
        """First seen (or resolved) on the date the later refund or reversal lands, not the
        order's date."""
        orders = month.orders_of(scenario).set_index("order_id")
        b = month.breaks
        rows = b[b["order_id"].isin(set(orders.index)) & (b["break_type"] == break_type) & (b["status"] == status)]
        assert len(rows) > 5
        later = rows["business_date"] > orders.loc[rows["order_id"], "order_date"].astype(str).to_numpy()
        assert later.all()
        if status == "open":
            assert (rows["first_seen"] > orders.loc[rows["order_id"], "order_date"].astype(str).to_numpy()).all()

    def test_refund_with_reversal_later_stays_clean(self, month):
        ids = set(month.orders_of("OLD_ORDER_REFUNDED_AND_REVERSED")["order_id"])
        b = month.canonical("billing")
        reversals = b[b["order_id"].isin(ids) & (b["result"] == "reversed")]
        assert len(reversals) > 10
        assert (reversals["amount"] < 0).all()
        credits = b.set_index("credit_id")
        assert (credits.loc[reversals["reverses_credit_id"], "order_id"].to_numpy() == reversals["order_id"]).all()
        assert not month.breaks["order_id"].isin(ids).any()

    def test_orphan_payments_name_orders_no_orders_file_holds(self, month):
        b = month.breaks
        orphan = b[b["break_type"] == "ORPHAN_PAYMENT"]
        assert len(orphan) and not orphan["order_id"].isin(set(month.canonical("orders")["order_id"])).any()
        assert (orphan["provider"] != "").all() and (orphan["provider_txn_id"] != "").all()

    def test_orphan_credits_have_no_order_or_an_unknown_one(self, month):
        orphan = month.breaks[month.breaks["break_type"] == "ORPHAN_CREDIT"]
        known = set(month.canonical("orders")["order_id"])
        assert (orphan["order_id"] == "").any() and (orphan["order_id"] != "").any()
        assert not orphan["order_id"].isin(known).any()
        # credits posted after midnight for tomorrow's orders are no orphans (MATCHING.md)
        after = set(month.orders_of("MATCHED_PAID_AFTER_MIDNIGHT")["order_id"])
        credits = month.canonical("billing")
        assert not orphan["credit_id"].isin(set(credits.loc[credits["order_id"].isin(after), "credit_id"])).any()

    def test_fee_breaks_state_the_exact_difference(self, month):
        s = month.statements()
        s = s[s["status"] == "success"]
        rates = month.settings.providers.fee_rates
        sign = s["kind"].map({"payment": 1, "refund": -1})
        contracted = [_contracted_fee(a, rates[p]) * k for a, p, k in zip(s["amount"], s["provider"], sign)]
        wrong = s.assign(delta=[f - c for f, c in zip(s["fee"], contracted)])
        wrong = wrong[wrong["delta"] != 0].groupby(["provider", "provider_txn_id"])["delta"].sum()
        fee = month.breaks[month.breaks["break_type"] == "FEE_MISMATCH"]
        first = fee.sort_values("business_date").drop_duplicates(["provider", "provider_txn_id"])
        assert len(first) == len(wrong) > 20
        stated = first.set_index(["provider", "provider_txn_id"])["difference"].map(Decimal)
        assert all(stated.loc[k] == v for k, v in wrong.items())
        assert (first["order_id"] != "").all()

    def test_differences_are_exact_two_place_decimals(self, month):
        b = month.breaks
        assert b["difference"].str.fullmatch(r"(-?\d+\.\d{2})?").all()
        stated = b[b["difference"] != ""]
        assert (stated.loc[stated["break_type"].isin(["LATE_CREDIT", "STATUS_MISMATCH"]), "difference"] == "0.00").all()
        assert (stated.loc[stated["break_type"] == "MISSING_CREDIT", "difference"].map(Decimal) > 0).all()
        assert (stated.loc[stated["break_type"].isin(["ORPHAN_CREDIT", "CREDIT_WITHOUT_PAYMENT",
                                                      "REFUNDED_BUT_CREDITED"]), "difference"].map(Decimal) < 0).all()

    def test_wechat_refunds_still_processing_change_nothing(self, month):
        s = month.canonical("wechatpay")
        processing = s[(s["kind"] == "refund") & (s["status"] == "processing")]
        assert len(processing) > 10
        out = month.outcomes.set_index("order_id").loc[processing["order_id"]]
        assert (out["outcome"] == "MATCHED").all()
        assert not month.breaks["order_id"].isin(set(processing["order_id"])).any()


class TestSuggestions:
    """A manual credit without order id for a missing credit's number and face value: the
    matcher suggests the link (MATCHING.md) and never applies it."""

    def test_the_linked_orders_are_suggested_each_day_both_stay_open(self, month):
        linked = month.orders_of("MISSING_CREDIT_ORPHAN_LINK")
        sug = month.suggestions
        last = month.dates[-1]
        expected = set(linked.loc[linked["order_date"] < last, "order_id"])
        assert len(expected) > 10 and expected <= set(sug["order_id"])
        assert (sug["confidence"] == "1.0000").all()
        b = month.breaks
        open_ = b[b["status"] == "open"]
        for _, row in sug.iterrows():
            day = open_[open_["business_date"] == row["business_date"]]
            assert ((day["break_type"] == "ORPHAN_CREDIT") & (day["credit_id"] == row["credit_id"])
                    & (day["order_id"] == "")).any()
            assert ((day["break_type"] == "MISSING_CREDIT") & (day["order_id"] == row["order_id"])).any()
        credits = month.canonical("billing").set_index("credit_id").loc[sug["credit_id"]]
        orders = month.canonical("orders").set_index("order_id").loc[sug["order_id"]]
        assert (credits["msisdn"].to_numpy() == orders["msisdn"].to_numpy()).all()
        assert (credits["amount"].to_numpy() == orders["face_value"].to_numpy()).all()


class TestRates:
    """Each scenario at its rate: a 2,000-order day gets 4 of a 2‰ scenario, every day."""

    def test_counts_per_day_follow_the_rate_table(self, week):
        out = week.outcomes
        per_day = out.groupby(["order_date", "scenario"]).size().unstack(fill_value=0)
        for s in SCENARIOS[1:]:
            want = s.per_mille * 2
            first = 0 if s.not_first_day else want
            assert list(per_day[s.name]) == [first] + [want] * (len(week.dates) - 1), s.name
        assert per_day.sum(axis=1).eq(2_000).all()

    def test_orphans_per_day(self, week):
        b = week.breaks
        first = b.drop_duplicates(["break_type", "provider", "provider_txn_id", "credit_id", "order_id"])
        payments = first[first["break_type"] == "ORPHAN_PAYMENT"].groupby("first_seen").size()
        assert (payments == ORPHAN_RATES["ORPHAN_PAYMENT"] * 2).all() and len(payments) == len(week.dates)

    def test_surveys_and_complaints(self, month):
        surveys = month.canonical("surveys")
        credited = month.canonical("billing")
        credited = credited.loc[credited["result"] == "success", "order_id"].dropna().nunique()
        assert 0.12 < len(surveys) / credited < 0.18
        assert surveys["csat"].dropna().between(1, 5).all() and surveys["nps"].dropna().between(0, 10).all()
        comments = set(surveys["comment"].dropna())
        assert "<script>alert('x')</script>" in comments and '=HYPERLINK("http://x")' in comments
        assert any(re.search(r"[\u4e00-\u9fff]", c) for c in comments) and any(re.fullmatch(r"[ -~]+", c) for c in comments)
        late = set(month.orders_of("LATE_CREDIT_SAME_DAY")["order_id"])
        assert surveys.loc[surveys["order_id"].isin(late), "csat"].mean() < surveys["csat"].mean() - 1
        complaints = month.canonical("complaints").merge(month.outcomes, on="order_id", how="left")
        per_order = complaints.groupby("scenario").size() / month.outcomes.groupby("scenario").size()
        assert per_order["MISSING_CREDIT"] > 20 * per_order["MATCHED"]
        assert set(complaints["category"]) <= {"not_credited", "late_credit", "wrong_amount", "refund", "payment", "other"}


class TestSettings:
    """The truth and the timings follow the configuration, not the defaults."""

    def test_other_sla_grace_fees_and_providers(self, tmp_path):
        base = load_settings({})
        settings = base.model_copy(update={
            "matching": base.matching.model_copy(update={
                "grace_minutes": 60, "sla_minutes": {"call_credit": 5, "data": 15, "plan": 30, "default": 10}}),
            "providers": base.providers.model_copy(update={
                "active": ("alipay", "wechatpay"),
                "fee_rates": {"alipay": Decimal("0.0055"), "wechatpay": Decimal("0.006")}}),
        })
        g = Generated(tmp_path, days=4, orders_per_day=3_000, seed=2, settings=settings)
        out = g.outcomes
        assert (out["outcome"] == out["scenario"].map(DECLARED)).all()
        assert not any((g.landing / d.isoformat() / "unionpay").exists() for d in g.dates)
        assert set(g.canonical("orders")["pay_method"]) == {"alipay", "wechatpay"}
        b = g.canonical("billing")
        assert ((b["credited_at"] - pd.Timedelta(hours=1)).dt.normalize() == b["file_date"]).all()
        alipay = g.canonical("alipay")
        clean = alipay[alipay["order_id"].isin(set(g.orders_of("MATCHED")["order_id"]))]
        assert all(f == _contracted_fee(a, Decimal("0.0055")) for f, a in zip(clean["fee"], clean["amount"]))
        late = g.breaks[g.breaks["break_type"] == "LATE_CREDIT"]
        assert len(late) > 0

    def test_rejects_an_empty_range(self, tmp_path):
        with pytest.raises(ValueError):
            generate_landing(tmp_path / "landing", START, 0, 100, 1)


def test_timestamps_in_orders_csv_carry_the_zone(week):
    path = next(p for d in week.dates for p in (week.landing / d.isoformat() / "orders").glob("*.csv"))
    first = path.read_text("utf-8").splitlines()[1].split(",")
    assert datetime.fromisoformat(first[1]).utcoffset() == timedelta(hours=8)
