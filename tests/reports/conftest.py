"""A small shop over nine days, written straight into the warehouse's raw tables with the
matching tests' Ledger helper, matched day by day by the real SQL, then rendered.

``Shop`` remembers what it put in (orders, payments, credits, surveys, complaints) as plain
Python records: the tests compute the figures the reports should show from these records,
independently of the SQL marts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from etl.config import load_settings
from etl.match import match_date
from etl.pipeline import RunSummary
from etl.warehouse import Warehouse
from reports.render import render_all
from tests.matching.conftest import Ledger

FIRST_DAY = date(2026, 10, 26)
REPORT_DAY = date(2026, 11, 3)  # crosses a month end: month to date is 1–3 November only
DAYS = [FIRST_DAY + timedelta(days=i) for i in range((REPORT_DAY - FIRST_DAY).days + 1)]
CHANNELS = ("app", "web", "alipay_mini", "wechat_mini", "jd")
PROVIDER_OF = {"alipay_mini": "alipay", "wechat_mini": "wechatpay", "jd": "unionpay"}
PRODUCTS = (("call_credit", "50.00", "49.80"), ("call_credit", "100.00", "99.50"), ("data", "30.00", "27.00"),
            ("plan", "129.00", "129.00"))
PROVINCES = ("GD", "BJ", "SH", "ZJ", "SC")
SCRIPT_COMMENT = "<script>alert('x')</script> credited <b>late</b>"
FORMULA_ORDER = "=HYPERLINK(\"x\")-1"
FORMULA_COMMENT = "=1+2 still waiting"
PHONE_COMMENT = "call me on 13912345678 please"


def fen(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class Order:
    order_id: str
    day: date
    created: datetime
    msisdn: str
    channel: str
    provider: str
    product_type: str
    face: Decimal
    pay: Decimal
    province: str
    kind: str  # clean | late | unpaid | missing | missing_then_late | refunded | dup_payment | cwp
    paid_at: datetime | None = None
    credited_at: datetime | None = None


@dataclass
class Shop:
    ledger: Ledger
    orders: list[Order] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)  # provider, kind, amount, fee, at (landing day = at's date)
    credits: list[dict] = field(default_factory=list)
    surveys: list[dict] = field(default_factory=list)
    complaints: list[dict] = field(default_factory=list)
    orphan_payments: list[dict] = field(default_factory=list)
    orphan_credits: list[dict] = field(default_factory=list)
    fee_breaks: list[dict] = field(default_factory=list)
    manual: dict = field(default_factory=dict)
    suggestion: tuple[str, str] | None = None

    @property
    def wh(self) -> Warehouse:
        return self.ledger.wh

    def pay(self, o: Order, at: datetime, txn: str | None = None, fee: str | None = None) -> None:
        amount = o.pay
        contracted = fen(amount * Decimal("0.006"))
        stated = Decimal(fee) if fee is not None else contracted
        self.ledger.payment(o.order_id, str(amount), at=str(at), provider=o.provider, txn=txn, fee=fee)
        self.payments.append({"provider": o.provider, "kind": "payment", "amount": amount, "fee": stated, "at": at})

    def refund(self, o: Order, at: datetime) -> None:
        self.ledger.refund(o.order_id, str(o.pay), at=str(at), provider=o.provider)
        self.payments.append({"provider": o.provider, "kind": "refund", "amount": o.pay,
                              "fee": -fen(o.pay * Decimal("0.006")), "at": at})

    def credit(self, o: Order, at: datetime) -> None:
        self.ledger.credit(o.order_id, str(o.face), at=str(at), msisdn=o.msisdn)
        self.credits.append({"order_id": o.order_id, "amount": o.face, "at": at})


KINDS = (("clean", 30), ("late", 5), ("unpaid", 4), ("missing", 2), ("missing_then_late", 2), ("refunded", 3),
         ("dup_payment", 1), ("cwp", 1))


def build_shop(ledger: Ledger, seed: int = 11, per_day: int = 48) -> Shop:
    rng = random.Random(seed)
    shop = Shop(ledger)
    kinds = [k for k, w in KINDS for _ in range(w)]
    n = 0
    for day in DAYS:
        midnight = datetime.combine(day, datetime.min.time())
        for i in range(per_day + rng.randint(-6, 6)):
            n += 1
            channel = rng.choice(CHANNELS)
            provider = PROVIDER_OF.get(channel) or rng.choice(("alipay", "wechatpay", "unionpay"))
            ptype, face, pay = rng.choice(PRODUCTS)
            order_id = f"T{day:%m%d}{i:03d}"
            if day == REPORT_DAY and i == 5:
                order_id = FORMULA_ORDER  # an id that a spreadsheet would run
            kind = rng.choice(kinds)
            if day == REPORT_DAY and i in (5, 6):
                kind = "missing"
            created = midnight + timedelta(hours=rng.randint(0, 21), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            o = Order(order_id, day, created, f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}", channel, provider,
                      ptype, Decimal(face), Decimal(pay), rng.choice(PROVINCES), kind)
            shop.orders.append(o)
            status = {"clean": "credited", "late": "credited", "unpaid": rng.choice(("created", "failed")),
                      "missing": "paid", "missing_then_late": "paid", "refunded": "refunded",
                      "dup_payment": "credited", "cwp": "created"}[kind]
            ledger.order(order_id, pay=pay, face=face, status=status, at=str(created), msisdn=o.msisdn,
                         product_type=ptype, pay_method=provider)
            # the Ledger's orders are all in 'app' and 'GD': give them their real attributes
            ledger.wh.execute("update raw_orders set channel = $c, province = $p where order_id = $o",
                              {"c": channel, "p": o.province, "o": order_id})
            if kind in ("unpaid", "cwp"):
                if kind == "cwp":
                    o.credited_at = created + timedelta(minutes=2)
                    shop.credit(o, o.credited_at)
                continue
            o.paid_at = created + timedelta(seconds=rng.randint(5, 300))
            shop.pay(o, o.paid_at)
            if kind == "dup_payment":
                shop.pay(o, o.paid_at + timedelta(seconds=40), txn=f"{provider}-{order_id}-2")
            if kind == "refunded":
                shop.refund(o, o.paid_at + timedelta(minutes=30))
                continue
            if kind == "missing":
                continue
            if kind == "missing_then_late":
                if day == REPORT_DAY:
                    continue  # its credit would come tomorrow: still missing in this report
                o.credited_at = o.paid_at + timedelta(days=1, hours=3)  # next day, after the cutoff
            elif kind == "late":
                o.credited_at = o.paid_at + timedelta(seconds=rng.randint(11 * 60, 90 * 60))
            else:
                o.credited_at = o.paid_at + timedelta(seconds=rng.randint(20, 9 * 60))
            shop.credit(o, o.credited_at)

        # every day: an orphan payment, an orphan credit with no order, and a fee that is off
        at = midnight + timedelta(hours=14, minutes=n % 50)
        amount = fen(rng.choice(("10.00", "30.00", "88.80")))
        txn = f"GHOST-{day:%m%d}"
        ledger.payment(f"GHOST{day:%m%d}", str(amount), at=str(at), provider="alipay", txn=txn)
        shop.payments.append({"provider": "alipay", "kind": "payment", "amount": amount,
                              "fee": fen(amount * Decimal("0.006")), "at": at})
        shop.orphan_payments.append({"day": day, "amount": amount, "txn": txn})
        credit_amount = Decimal("20.00")
        ledger.credit(None, str(credit_amount), at=str(at + timedelta(minutes=1)), credit_id=f"OC{day:%m%d}",
                      msisdn=f"1380000{day:%m%d}")
        shop.orphan_credits.append({"day": day, "amount": credit_amount, "credit_id": f"OC{day:%m%d}"})
        # a clean order paid through WeChat whose statement charges the wrong fee
        fo = Order(f"F{day:%m%d}", day, at, "13700000000", "app", "wechatpay", "call_credit", Decimal("50.00"),
                   Decimal("49.80"), "GD", "clean", at + timedelta(seconds=10), at + timedelta(minutes=3))
        shop.orders.append(fo)
        ledger.order(fo.order_id, pay="49.80", face="50.00", status="credited", at=str(at), msisdn=fo.msisdn,
                     pay_method="wechatpay")
        shop.pay(fo, fo.paid_at, fee="0.50")  # contracted 0.30
        shop.credit(fo, fo.credited_at)
        shop.fee_breaks.append({"day": day, "difference": Decimal("0.20"), "order_id": fo.order_id})

    # one suggestion: an orphan credit without order id for the phone and face value of an open missing credit
    target = next(o for o in shop.orders if o.day == REPORT_DAY and o.kind == "missing" and o.order_id != FORMULA_ORDER)
    ledger.credit(None, str(target.face), at=str(target.paid_at + timedelta(minutes=30)), credit_id="OC-SUGGEST",
                  msisdn=target.msisdn)
    shop.orphan_credits.append({"day": REPORT_DAY, "amount": target.face, "credit_id": "OC-SUGGEST"})
    shop.suggestion = (target.order_id, "OC-SUGGEST")

    _surveys_and_complaints(shop, rng)
    return shop


def _surveys_and_complaints(shop: Shop, rng: random.Random) -> None:
    line = 0
    for o in shop.orders:
        if o.credited_at is None or rng.random() > 0.5:
            continue
        late = o.kind in ("late", "missing_then_late")
        csat = rng.choice((1, 2, 3)) if late else rng.choice((3, 4, 5, 5))
        nps = rng.choice((0, 3, 6, 7)) if late else rng.choice((6, 8, 9, 10))
        if rng.random() < 0.1:
            nps = None
        landing = o.credited_at.date() + timedelta(days=rng.choice((0, 1)))
        if landing > REPORT_DAY:
            continue
        line += 1
        shop.surveys.append({"response_id": f"S{line:05d}", "order_id": o.order_id, "csat": csat, "nps": nps,
                             "comment": None, "landing": landing})
    # comments that must stay text, and a re-sent survey row that counts once
    today = [s for s in shop.surveys if s["landing"] == REPORT_DAY]
    today[0]["comment"], today[1]["comment"], today[2]["comment"] = SCRIPT_COMMENT, FORMULA_COMMENT, PHONE_COMMENT
    today[0]["csat"] = 1
    categories = ("not_credited", "late_credit", "wrong_amount", "refund", "payment", "other")
    for i, o in enumerate(o for o in shop.orders if o.kind in ("late", "missing", "missing_then_late", "refunded")):
        if rng.random() < 0.6:
            cat = {"late": "late_credit", "missing": "not_credited", "missing_then_late": "not_credited",
                   "refunded": "refund"}[o.kind] if rng.random() < 0.8 else rng.choice(categories)
            shop.complaints.append({"ticket_id": f"K{i:04d}", "order_id": o.order_id, "msisdn": o.msisdn,
                                    "category": cat, "landing": o.day})
    for s in shop.surveys:
        shop.wh.execute(
            "insert into raw_surveys (response_id, order_id, submitted_at, csat, nps, comment, source_file, source_line, "
            "file_hash, landing_date) values ($r, $o, $t, $c, $n, $m, 'surveys.csv', 1, 'h', $d)",
            {"r": s["response_id"], "o": s["order_id"], "t": datetime.combine(s["landing"], datetime.min.time()),
             "c": s["csat"], "n": s["nps"], "m": s["comment"], "d": s["landing"]})
    # the same response in a second file: one answer, not two
    shop.wh.execute("insert into raw_surveys select * replace ('surveys-resent.csv' as source_file) from raw_surveys "
                    "where response_id = $r", {"r": shop.surveys[0]["response_id"]})
    for k in shop.complaints:
        shop.wh.execute(
            "insert into raw_complaints (ticket_id, order_id, msisdn, opened_at, category, closed_at, source_file, "
            "source_line, file_hash, landing_date) values ($t, $o, $m, $at, $c, null, 'complaints.csv', 1, 'h', $d)",
            {"t": k["ticket_id"], "o": k["order_id"], "m": k["msisdn"],
             "at": datetime.combine(k["landing"], datetime.min.time()), "c": k["category"], "d": k["landing"]})


def run_shop(shop: Shop) -> None:
    """Match day by day; one ops resolution takes effect on the report day."""
    cwp = next(o for o in shop.orders if o.kind == "cwp" and o.day < REPORT_DAY)
    shop.wh.execute("insert into resolutions values ('R1', $k, 'resolve', 'ops.li', 'reversed in BOSS', $at, $d)",
                    {"k": f"CREDIT_WITHOUT_PAYMENT|{cwp.order_id}", "at": datetime(2026, 11, 3, 9, 0), "d": REPORT_DAY})
    shop.manual = {"order_id": cwp.order_id, "by": "ops.li"}
    for day in DAYS:
        match_date(shop.wh, day)


@dataclass
class Rendered:
    shop: Shop
    folder: Path
    paths: list[Path]
    summary: RunSummary
    settings: object

    def html(self, name: str) -> str:
        return (self.folder / f"{name}.html").read_text("utf-8")


def _settings(tmp: Path):
    return load_settings({"RECON_WAREHOUSE": str(tmp / "wh.duckdb"), "RECON_LANDING": str(tmp / "landing"),
                          "RECON_OUTPUT": str(tmp / "out"), "RECON_QUARANTINE": str(tmp / "q"),
                          "RECON_STAGING": str(tmp / "staging")})


@pytest.fixture(scope="session")
def rendered_both(tmp_path_factory) -> dict[str, Rendered]:
    """The shop's report day rendered once per language, from the same warehouse."""
    tmp = tmp_path_factory.mktemp("shop")
    settings = _settings(tmp)
    with Warehouse(settings) as wh:
        shop = build_shop(Ledger(wh))
        run_shop(shop)
        summary = RunSummary(REPORT_DAY, files_loaded=[{"source": "orders", "file": "2026-11-03/orders/orders.csv", "rows": 50}],
                             files_quarantined=[{"landing_date": "2026-11-03", "source": "billing",
                                                 "source_file": "2026-11-03/billing/bad.csv", "quarantine_path": "q/bad.csv",
                                                 "reason": "column msisdn: bad value '1381234567x <img src=x>'", "line": 7}],
                             warnings=["surveys: no folder for 2026-11-03"],
                             control_totals=[{"source": "orders", "rows_in": 50, "rows_classified": 50,
                                              "rows_unclassified": 0, "amount_in": "2490.00",
                                              "amount_classified": "2490.00", "balanced": True}],
                             timings={"stage": 1.25, "load": 0.5, "match": 2.0, "export": 0.1},
                             breaks_by_type={"MISSING_CREDIT": 3})
        out = {}
        for locale in ("en", "zh_CN"):
            folder = tmp / "out" / locale / REPORT_DAY.isoformat()
            out[locale] = (folder, render_all(wh, REPORT_DAY, folder, summary, locale=locale))
        shop.ledger = None  # the connection closes with this block; the records stay
        shop_records = shop
    return {locale: Rendered(shop_records, folder, paths, summary, settings) for locale, (folder, paths) in out.items()}


@pytest.fixture(scope="session")
def rendered(rendered_both) -> Rendered:
    """The English reports: the figures tests find rows by their codes (alipay, MISSING_CREDIT)."""
    return rendered_both["en"]


@pytest.fixture(scope="session")
def rendered_zh(rendered_both) -> Rendered:
    """The Chinese reports: what a run writes by default."""
    return rendered_both["zh_CN"]
