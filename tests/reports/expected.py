"""What the reports should say, computed from what the Shop put in: plain Python and pandas
over the records, following shared/spec/breaks.md and docs/MATCHING.md, never the SQL."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from tests.reports.conftest import REPORT_DAY, Shop


def cutoff(day: date) -> datetime:
    """Billing of ``day`` holds credits up to the next day 02:00."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=2)


def orders_frame(shop: Shop, as_of: date = REPORT_DAY) -> pd.DataFrame:
    """One row per order, with what is known of it by the run of ``as_of``."""
    rows = []
    for o in shop.orders:
        if o.day > as_of:
            continue
        paid = o.paid_at is not None
        payments = 2 if o.kind == "dup_payment" else (1 if paid else 0)
        refunded = o.kind == "refunded"
        net_paid = o.pay * payments - (o.pay if refunded else 0)
        credited = o.credited_at is not None and o.credited_at < cutoff(as_of)
        delay = None
        if credited and net_paid > 0:
            seconds = (o.credited_at - o.paid_at).total_seconds()
            delay = float(Decimal(seconds / 60).quantize(Decimal("0.01"), ROUND_HALF_UP))
        rows.append({**{k: v for k, v in asdict(o).items()}, "is_paid": paid, "net_paid": net_paid,
                     "is_credited": credited and net_paid > 0, "delay": delay,
                     "is_late": delay is not None and delay > 10})
    return pd.DataFrame(rows)


def settlement(shop: Shop, day: date) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in shop.payments:
        if p["at"].date() != day:
            continue
        s = out.setdefault(p["provider"], {"payments": 0, "gross": Decimal(0), "refunds": 0, "refunded": Decimal(0),
                                           "fees": Decimal(0)})
        if p["kind"] == "payment":
            s["payments"] += 1
            s["gross"] += p["amount"]
        else:
            s["refunds"] += 1
            s["refunded"] += p["amount"]
        s["fees"] += p["fee"]
    for s in out.values():
        s["net"] = s["gross"] - s["refunded"] - s["fees"]
    return out


def open_breaks(shop: Shop, day: date = REPORT_DAY) -> list[dict]:
    """Every break open at the close of ``day``: (type, key, difference, first_seen)."""
    out = []
    for o in shop.orders:
        if o.day > day:
            continue
        if o.kind == "missing" or (o.kind == "missing_then_late" and (o.credited_at is None or o.credited_at >= cutoff(day))):
            out.append({"type": "MISSING_CREDIT", "key": o.order_id, "difference": o.pay, "first_seen": o.day})
        elif o.kind == "dup_payment":
            out.append({"type": "DUPLICATE_PAYMENT", "key": o.order_id, "difference": o.pay, "first_seen": o.day})
        elif o.kind == "cwp":
            if shop.manual.get("order_id") == o.order_id and day >= REPORT_DAY:
                continue
            out.append({"type": "CREDIT_WITHOUT_PAYMENT", "key": o.order_id, "difference": -o.face, "first_seen": o.day})
    for p in shop.orphan_payments:
        if p["day"] <= day:
            out.append({"type": "ORPHAN_PAYMENT", "key": p["txn"], "difference": p["amount"], "first_seen": p["day"]})
    for c in shop.orphan_credits:
        if c["day"] <= day:
            out.append({"type": "ORPHAN_CREDIT", "key": c["credit_id"], "difference": -c["amount"], "first_seen": c["day"]})
    for f in shop.fee_breaks:
        if f["day"] <= day:
            out.append({"type": "FEE_MISMATCH", "key": f["order_id"], "difference": f["difference"], "first_seen": f["day"]})
    return out


def resolved_today(shop: Shop) -> list[dict]:
    """Breaks reported resolved on the report day: late credits of its own orders (reported once),
    missing credits of yesterday whose credit came (as LATE_CREDIT), the ops resolution."""
    out = []
    for o in shop.orders:
        if o.kind == "late" and o.day == REPORT_DAY:
            out.append({"type": "LATE_CREDIT", "key": o.order_id, "difference": Decimal(0), "first_seen": o.day})
        if o.kind == "missing_then_late" and o.credited_at is not None and \
                cutoff(REPORT_DAY - timedelta(days=1)) <= o.credited_at < cutoff(REPORT_DAY):
            out.append({"type": "LATE_CREDIT", "key": o.order_id, "difference": Decimal(0), "first_seen": o.day})
        if o.order_id == shop.manual.get("order_id"):
            out.append({"type": "CREDIT_WITHOUT_PAYMENT", "key": o.order_id, "difference": -o.face, "first_seen": o.day})
    return out


def age_bucket(days: int) -> str:
    return "0-1" if days <= 1 else "2-3" if days <= 3 else "4-7" if days <= 7 else "8-30" if days <= 30 else ">30"


def surveys_frame(shop: Shop) -> pd.DataFrame:
    seen, rows = set(), []
    for s in shop.surveys:  # the re-sent copy was never in shop.surveys: each response once
        assert s["response_id"] not in seen
        seen.add(s["response_id"])
        rows.append(s)
    return pd.DataFrame(rows)


def csat_nps(frame: pd.DataFrame) -> tuple[float | None, float | None]:
    csat = frame["csat"].dropna()
    nps = frame["nps"].dropna()
    csat_mean = float(csat.mean()) if len(csat) else None
    nps_score = float(100.0 * ((nps >= 9).sum() - (nps <= 6).sum()) / len(nps)) if len(nps) else None
    return csat_mean, nps_score


def percentiles(values: list[float]) -> tuple[float, float, float]:
    return tuple(float(np.percentile(values, q)) for q in (50, 95, 99))


def complaint_counts(shop: Shop, first: date, last: date) -> Counter:
    return Counter(k["category"] for k in shop.complaints if first <= k["landing"] <= last)

