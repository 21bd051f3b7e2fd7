"""The ground truth: what the matcher must report for each generated date, derived from the
generated rows by the rules of docs/MATCHING.md (never by the matcher, which never reads it).

The scenarios say what they *mean* (``Scenario.outcome``); this module says what the rows
*imply*, run by run, including everything that crosses days or falls off the end of the range.
The tests check that the two agree.

Files, in ``<truth>/`` (``etl.generate`` documents where that is):

``breaks.csv``
    The expected breaks export of every generated date: for business_date D, every break open
    as of D plus every break resolved on D. Columns ``business_date, break_type, order_id,
    provider, provider_txn_id, credit_id, status, first_seen, difference``. The key columns are
    those of breaks.md: ``order_id`` for order breaks (provider, provider_txn_id and credit_id
    are left empty: which payment or credit the matcher shows is its choice), ``provider,
    provider_txn_id`` for ORPHAN_PAYMENT and FEE_MISMATCH, ``credit_id`` for ORPHAN_CREDIT.
    ``order_id`` is also filled for FEE_MISMATCH (the payment's order) and for orphans (the order
    id the row states; empty for a credit without one). ``difference`` follows MATCHING.md as of
    the break's last evaluation; it is empty on ``resolved`` rows other than LATE_CREDIT (0.00),
    where the rules do not fix it.
``suggestions.csv``
    ``business_date, credit_id, order_id, confidence``: for each date, every open ORPHAN_CREDIT
    without an order id × every order open as MISSING_CREDIT that date with the same msisdn,
    face value = credit amount and first payment within the fallback window before the credit;
    confidence 1/n over the credit's n candidates, 4 decimals.
``orders_outcome.parquet``
    ``order_id, order_date, outcome, scenario``: every order of the orders files, its outcome in
    its own date's run (most severe break, else MATCHED / UNPAID / REFUNDED_CLEAN) and the
    scenario that made it.
``<YYYY-MM-DD>/<source>.parquet``
    The canonical rows (etl.schema shapes, no lineage columns) of each source and date, in file
    order, for round-trip tests of the parsers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.config import Settings
from etl.generate.ledgers import decimal_from_units
from etl.generate.population import DAY, PRODUCT_TYPES, PROVIDERS
from etl.generate.scenarios import CREDITED, KINDS, REVERSED, SCENARIO_NAMES, STATUS, SUCCESS, contracted_fee

# Most severe first (MATCHING.md). Codes are positions here.
ORDER_BREAKS = (
    "STATUS_MISMATCH", "AMOUNT_MISMATCH", "DUPLICATE_CREDIT", "DUPLICATE_PAYMENT",
    "REFUNDED_BUT_CREDITED", "CREDIT_WITHOUT_PAYMENT", "MISSING_CREDIT", "LATE_CREDIT",
)
OUTCOMES = ORDER_BREAKS + ("REFUNDED_CLEAN", "UNPAID", "MATCHED")
AUTO_RESOLVED = ("MISSING_CREDIT", "DUPLICATE_PAYMENT")
BREAK_COLUMNS = ("business_date", "break_type", "order_id", "provider", "provider_txn_id", "credit_id",
                 "status", "first_seen", "difference")

_PAYMENT, _REFUND = KINDS.index("payment"), KINDS.index("refund")


@dataclass
class Run:
    """Everything generated, numeric, restricted to rows landing in the range. Order index
    ``oi`` is the position in ``orders``; statement ``pays`` and billing ``reverses`` are
    positions in their own tables (-1 when the row they name is outside the range)."""

    start0: int  # seconds of the first date's 00:00
    days: int
    orders: dict[str, np.ndarray]
    stmt: dict[str, np.ndarray]
    stmt_landing: np.ndarray
    billing: dict[str, np.ndarray]
    billing_landing: np.ndarray
    order_id: pa.Array  # text per order
    txn_id: pa.Array  # text per statement row
    credit_id: pa.Array  # text per billing row


# --- small vectorised helpers -----------------------------------------------------------------

def _first_per_group(groups: np.ndarray, values: np.ndarray, n: int, fill: int) -> np.ndarray:
    """min(values) per group 0..n-1 (``fill`` where a group has none)."""
    none = np.iinfo(np.int64).max
    out = np.full(n, none, dtype=np.int64)
    np.minimum.at(out, groups, values)
    out[out == none] = fill
    return out


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's hash-based unique is slow on tens of millions of int64)."""
    values = np.sort(values)
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _sum(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    # float64 weights are exact for the integer fen sums at stake (far below 2**53)
    return np.rint(np.bincount(groups, weights=values, minlength=n)).astype(np.int64)


def _count(groups: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(groups if mask is None else groups[mask], minlength=n)


def _expand(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [starts[i], ends[i]): (i repeated, each value in its range)."""
    counts = np.maximum(ends - starts, 0)
    owner = np.repeat(np.arange(starts.size), counts)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offset


# --- per order, per evaluation ----------------------------------------------------------------

@dataclass
class _Evaluations:
    """One row per (order, evaluation date): the order's own date and each later date a row
    naming it lands on."""

    oi: np.ndarray
    date: np.ndarray
    own: np.ndarray  # the order's own run
    found: np.ndarray  # (pairs, len(ORDER_BREAKS)) bool
    differences: list  # per break type: fen per pair (an array) or for all (a scalar)
    first_paid_at: np.ndarray  # per order: first successful payment, -1 if none
    outcome: np.ndarray  # per pair: code into OUTCOMES

    def difference(self, pair: np.ndarray, type_: np.ndarray) -> np.ndarray:
        out = np.zeros(pair.size, dtype=np.int64)
        for t, values in enumerate(self.differences):
            rows = type_ == t
            out[rows] = values[pair[rows]] if np.ndim(values) else values
        return out


def _known(run: Run, oi: np.ndarray) -> np.ndarray:
    """Rows naming an order of some orders file (not a ghost)."""
    ok = oi >= 0
    ok[ok] = ~run.orders["ghost"][oi[ok]]
    return ok


def evaluate_orders(run: Run, settings: Settings) -> _Evaluations:
    o, s, b = run.orders, run.stmt, run.billing
    n_orders = o["day"].size
    m = run.days + 1
    stmt_known = _known(run, s["oi"])
    bill_known = _known(run, b["oi"])

    # evaluation pairs
    own = np.flatnonzero(~o["ghost"])
    later_s = stmt_known & (run.stmt_landing > o["day"][np.maximum(s["oi"], 0)])
    later_b = bill_known & (run.billing_landing > o["day"][np.maximum(b["oi"], 0)])
    own_keys = own * m + o["day"][own]  # sorted: orders come day by day
    later = unique_sorted(np.concatenate([
        s["oi"][later_s] * m + run.stmt_landing[later_s],
        b["oi"][later_b] * m + run.billing_landing[later_b],
    ]))  # few, and none equal to an order's own date
    keys = np.insert(own_keys, np.searchsorted(own_keys, later), later)
    pair_oi, pair_date = keys // m, keys % m
    n_pairs = keys.size

    def pairs_of(oi: np.ndarray, landing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, pair) for every evaluation of the row's order on or after its landing date."""
        first = np.searchsorted(keys, oi * m + landing)
        end = np.searchsorted(keys, oi * m + m)
        row, pair = _expand(first, end)
        return row, pair

    # payments and their refunds, per evaluation
    pay_rows = np.flatnonzero(stmt_known & (s["kind"] == _PAYMENT) & (s["status"] == SUCCESS))
    r, pp = pairs_of(s["oi"][pay_rows], run.stmt_landing[pay_rows])
    p_row, p_pair = pay_rows[r], pp
    ref_rows = np.flatnonzero(stmt_known & (s["kind"] == _REFUND) & (s["status"] == SUCCESS) & (s["pays"] >= 0))
    r, rp = pairs_of(s["oi"][ref_rows], run.stmt_landing[ref_rows])
    refund_key = s["pays"][ref_rows[r]] * n_pairs + rp
    uniq = unique_sorted(refund_key)
    refunded_by_key = _sum(np.searchsorted(uniq, refund_key), s["amount"][ref_rows[r]], uniq.size)
    pay_key = p_row * n_pairs + p_pair
    refunded = np.zeros(pay_key.size, dtype=np.int64)
    if uniq.size:
        at = np.minimum(np.searchsorted(uniq, pay_key), uniq.size - 1)
        refunded = np.where(uniq[at] == pay_key, refunded_by_key[at], 0)
    net = s["amount"][p_row] - refunded
    unrefunded = net > 0
    pay_fen = o["pay_fen"][s["oi"][p_row]]
    tolerance = int(settings.matching.amount_tolerance * 100)
    pay_mismatch = unrefunded & (np.abs(net - pay_fen) > tolerance)

    n_pay = _count(p_pair, n_pairs)
    net_paid = _sum(p_pair, net, n_pairs)
    n_unrefunded = _count(p_pair, n_pairs, unrefunded)
    first_unrefunded_at = _first_per_group(p_pair[unrefunded], s["event_at"][p_row][unrefunded], n_pairs, -1)
    pay_mismatch_n = _count(p_pair, n_pairs, pay_mismatch)
    pay_mismatch_sum = _sum(p_pair[pay_mismatch], (net - pay_fen)[pay_mismatch], n_pairs)

    # credits standing at each evaluation
    reversal = (b["reverses"] >= 0) & ((b["amount"] < 0) | (b["result"] == REVERSED))
    reversed_on = np.full(b["oi"].size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(reversed_on, b["reverses"][reversal], run.billing_landing[reversal])
    credit_rows = np.flatnonzero(bill_known & (b["result"] == CREDITED) & (b["amount"] > 0))
    r, cp = pairs_of(b["oi"][credit_rows], run.billing_landing[credit_rows])
    c_row = credit_rows[r]
    standing = pair_date[cp] < reversed_on[c_row]
    c_row, cp = c_row[standing], cp[standing]
    face_fen = o["face_fen"][b["oi"][c_row]]
    credit_mismatch = b["amount"][c_row] != face_fen

    n_std = _count(cp, n_pairs)
    credited = _sum(cp, b["amount"][c_row], n_pairs)
    first_credit_at = _first_per_group(cp, b["credited_at"][c_row], n_pairs, -1)
    credit_mismatch_n = _count(cp, n_pairs, credit_mismatch)
    credit_mismatch_sum = _sum(cp[credit_mismatch], (face_fen - b["amount"][c_row])[credit_mismatch], n_pairs)

    # the rules
    pay_amount = o["pay_fen"][pair_oi]
    face = o["face_fen"][pair_oi]
    sla_s = np.array([settings.matching.sla_for(t) * 60 for t in PRODUCT_TYPES], dtype=np.int64)
    sla = sla_s[o["product_type"][pair_oi]]
    is_own = pair_date == o["day"][pair_oi]
    status = o["status"][pair_oi]
    paid, has_credit = n_pay > 0, n_std > 0
    consistent = np.select(
        [has_credit & ~paid, ~paid, net_paid <= 0, has_credit],
        [True, np.isin(status, [STATUS["created"], STATUS["failed"], STATUS["cancelled"]]),
         status == STATUS["refunded"], status == STATUS["credited"]],
        default=status == STATUS["paid"],
    )
    rules = {
        "STATUS_MISMATCH": (is_own & ~consistent, 0),
        "AMOUNT_MISMATCH": ((pay_mismatch_n + credit_mismatch_n) > 0, pay_mismatch_sum + credit_mismatch_sum),
        "DUPLICATE_CREDIT": (n_std > 1, -(credited - face)),
        "DUPLICATE_PAYMENT": (n_unrefunded > 1, net_paid - pay_amount),
        "REFUNDED_BUT_CREDITED": (paid & (net_paid <= 0) & has_credit, -credited),
        "CREDIT_WITHOUT_PAYMENT": (has_credit & ~paid, -credited),
        "MISSING_CREDIT": ((net_paid > 0) & ~has_credit, net_paid),
        "LATE_CREDIT": ((net_paid > 0) & has_credit & (first_credit_at - first_unrefunded_at > sla), 0),
    }
    found = np.zeros((n_pairs, len(ORDER_BREAKS)), dtype=bool)
    for t, name in enumerate(ORDER_BREAKS):
        found[:, t] = rules[name][0]
    clean = np.where(paid & (net_paid <= 0) & ~has_credit, OUTCOMES.index("REFUNDED_CLEAN"),
                     np.where(~paid & ~has_credit, OUTCOMES.index("UNPAID"), OUTCOMES.index("MATCHED")))
    outcome = np.where(found.any(axis=1), np.argmax(found, axis=1), clean).astype(np.int8)

    first_paid_at = _first_per_group(s["oi"][pay_rows], s["event_at"][pay_rows], n_orders, -1)
    return _Evaluations(pair_oi, pair_date, is_own, found, [rules[t][1] for t in ORDER_BREAKS],
                        first_paid_at, outcome)


# --- open items across runs -------------------------------------------------------------------

def order_break_rows(ev: _Evaluations, days: int) -> pd.DataFrame:
    """The export rows of order breaks, date by date (open items and resolutions)."""
    found_pair, found_type = np.nonzero(ev.found)
    f = pd.DataFrame({
        "oi": ev.oi[found_pair], "date": ev.date[found_pair], "type": found_type,
        "diff": ev.difference(found_pair, found_type),
    }).sort_values(["oi", "type", "date"], kind="stable")
    episodes = f.groupby(["oi", "type"], sort=False, as_index=False).agg(first_seen=("date", "min"))

    # MISSING_CREDIT and DUPLICATE_PAYMENT resolve on the first later evaluation that no longer
    # finds them; a resolved key never reopens.
    auto = episodes[episodes["type"].isin([ORDER_BREAKS.index(t) for t in AUTO_RESOLVED])]
    evals = pd.DataFrame({"oi": ev.oi, "date": ev.date})
    later = auto.merge(evals, on="oi")
    later = later[later["date"] > later["first_seen"]]
    later = later.merge(f[["oi", "type", "date"]].assign(again=True), on=["oi", "type", "date"], how="left")
    resolved = (later[later["again"].isna()].groupby(["oi", "type"], as_index=False)["date"].min()
                .rename(columns={"date": "resolved_on"}))
    episodes = episodes.merge(resolved, on=["oi", "type"], how="left")

    late = ORDER_BREAKS.index("LATE_CREDIT")
    missing = ORDER_BREAKS.index("MISSING_CREDIT")
    # A missing credit that arrives is reported as the LATE_CREDIT, with the missing one's first_seen.
    mc = episodes[episodes["type"] == missing][["oi", "first_seen", "resolved_on"]]
    lc = episodes[episodes["type"] == late][["oi", "first_seen"]].merge(mc, on="oi", how="left", suffixes=("", "_mc"))
    handed = lc["resolved_on"] == lc["first_seen"]
    lc_rows = pd.DataFrame({
        "oi": lc["oi"], "type": late, "date": lc["first_seen"], "status": "resolved",
        "first_seen": np.where(handed, lc["first_seen_mc"], lc["first_seen"]).astype(np.int64), "diff": 0,
    })
    handed_oi = set(lc.loc[handed, "oi"].tolist())

    # open rows: each finding holds its difference until the next finding or the episode's end
    f = f[f["type"] != late].merge(episodes, on=["oi", "type"])
    f = f[f["resolved_on"].isna() | (f["date"] < f["resolved_on"])]
    next_date = f.groupby(["oi", "type"])["date"].shift(-1)
    end = next_date.fillna(f["resolved_on"]).fillna(days).astype(np.int64).to_numpy()
    owner, date = _expand(f["date"].to_numpy(np.int64), end)
    open_rows = pd.DataFrame({
        "oi": f["oi"].to_numpy()[owner], "type": f["type"].to_numpy()[owner], "date": date, "status": "open",
        "first_seen": f["first_seen"].to_numpy(np.int64)[owner], "diff": f["diff"].to_numpy()[owner],
    })

    res = episodes[episodes["resolved_on"].notna()]
    res = res[~((res["type"] == missing) & res["oi"].isin(handed_oi))]
    resolved_rows = pd.DataFrame({
        "oi": res["oi"], "type": res["type"], "date": res["resolved_on"].astype(np.int64), "status": "resolved",
        "first_seen": res["first_seen"].astype(np.int64), "diff": pd.NA,
    })
    rows = pd.concat([open_rows, resolved_rows, lc_rows], ignore_index=True)
    return rows[rows["date"] < days]


# --- rows no order explains, and fees ---------------------------------------------------------

def orphan_and_fee_rows(run: Run, settings: Settings) -> pd.DataFrame:
    """ORPHAN_PAYMENT, ORPHAN_CREDIT and FEE_MISMATCH export rows, date by date. None of them
    resolves by itself: each stays open from the date it is found to the end of the range."""
    o, s, b = run.orders, run.stmt, run.billing

    def known_by(oi: np.ndarray, date: np.ndarray) -> np.ndarray:
        """Is the order in an orders file of ``date`` or before?"""
        ok = _known(run, oi)
        ok[ok] = o["day"][oi[ok]] <= date[ok]
        return ok

    success = s["status"] == SUCCESS
    payment = np.flatnonzero(success & (s["kind"] == _PAYMENT) & ~known_by(s["oi"], run.stmt_landing))
    orphan_payments = pd.DataFrame({
        "type": "ORPHAN_PAYMENT", "first_seen": run.stmt_landing[payment], "stmt_row": payment,
        "credit_row": -1, "diff": s["amount"][payment],
    })

    # A credit posted after midnight whose order is unknown may be for an order paid after
    # midnight, in tomorrow's orders file: it is judged in tomorrow's run (MATCHING.md).
    credit = (b["result"] == CREDITED) & (b["amount"] > 0)
    landing = run.billing_landing
    after_midnight = b["credited_at"] >= run.start0 + (landing + 1) * DAY
    judged_on = np.where(after_midnight & (b["oi"] >= 0), landing + 1, landing)
    rows = np.flatnonzero(credit & (judged_on < run.days) & ~known_by(b["oi"], judged_on))
    orphan_credits = pd.DataFrame({
        "type": "ORPHAN_CREDIT", "first_seen": judged_on[rows], "stmt_row": -1, "credit_row": rows,
        "diff": -b["amount"][rows],
    })

    # fees: per (provider, the payment's txn id), the stated − contracted differences add up
    contracted = contracted_fee(s["amount"], s["provider"], settings) * np.where(s["kind"] == _REFUND, -1, 1)
    wrong = np.flatnonzero(success & (s["fee"] != contracted))
    fees = pd.DataFrame({
        "txn": run.txn_id.take(pa.array(wrong)).to_numpy(zero_copy_only=False), "provider": s["provider"][wrong], "date": run.stmt_landing[wrong],
        "stmt_row": wrong, "delta": (s["fee"] - contracted)[wrong],
    }).sort_values(["provider", "txn", "date"], kind="stable")
    per_date = fees.groupby(["provider", "txn", "date"], as_index=False, sort=False).agg(
        stmt_row=("stmt_row", "min"), delta=("delta", "sum"))
    per_date["diff"] = per_date.groupby(["provider", "txn"])["delta"].cumsum()
    per_date["first_seen"] = per_date.groupby(["provider", "txn"])["date"].transform("min")
    per_date["until"] = per_date.groupby(["provider", "txn"])["date"].shift(-1).fillna(run.days).astype(np.int64)

    out = []
    for frame, since, until in (
        (orphan_payments, orphan_payments["first_seen"], None),
        (orphan_credits, orphan_credits["first_seen"], None),
        (per_date.assign(type="FEE_MISMATCH", credit_row=-1), per_date["date"], per_date["until"]),
    ):
        starts = since.to_numpy(np.int64)
        ends = np.full(starts.size, run.days, np.int64) if until is None else until.to_numpy(np.int64)
        owner, date = _expand(starts, ends)
        part = frame.iloc[owner].reset_index(drop=True)
        part["date"] = date
        out.append(part[["type", "date", "first_seen", "stmt_row", "credit_row", "diff"]])
    rows = pd.concat(out, ignore_index=True)
    rows["status"] = "open"
    return rows


# --- the files --------------------------------------------------------------------------------

def _fen_text(fen: pd.Series) -> pa.Array:
    """Fen as plain two-decimal text (``-49.80``); missing → empty."""
    missing = fen.isna().to_numpy()
    text = decimal_from_units(fen.fillna(0).to_numpy(np.int64), pa.decimal128(18, 2)).cast(pa.string())
    return pc.if_else(pa.array(missing), "", text)


def _take_text(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """values[rows] as text, empty where rows < 0."""
    return pc.fill_null(values.take(pa.array(rows, mask=rows < 0)), "")


def all_breaks(run: Run, ev: _Evaluations, settings: Settings) -> pd.DataFrame:
    """Every export row of every date, numeric: type, date, status, first_seen, diff and the
    rows that name the key (oi, stmt_row, credit_row; -1 where none)."""
    b = run.billing
    orders = order_break_rows(ev, run.days)
    orders = orders.assign(type=np.asarray(ORDER_BREAKS, dtype=object)[orders["type"].to_numpy(np.int64)],
                           stmt_row=-1, credit_row=-1)
    other = orphan_and_fee_rows(run, settings)
    credit_row = other["credit_row"].to_numpy(np.int64)
    other["oi"] = np.where(credit_row >= 0, b["oi"][np.maximum(credit_row, 0)], -1)
    columns = ["type", "date", "status", "first_seen", "diff", "oi", "stmt_row", "credit_row"]
    return pd.concat([orders[columns], other[columns]], ignore_index=True)


def breaks_table(run: Run, rows: pd.DataFrame, dates: pa.Array) -> pa.Table:
    """The rows as the breaks export states them, sorted by date and key."""
    stmt_row = rows["stmt_row"].to_numpy(np.int64)
    oi = rows["oi"].to_numpy(np.int64)
    # the order a statement row names (for a refund, the order refunded), else the row's order
    stmt_oi = np.where(stmt_row >= 0, run.stmt["oi"][np.maximum(stmt_row, 0)], -1)
    order_id = _take_text(run.order_id, np.where(stmt_row >= 0, stmt_oi, oi))
    provider = run.stmt["provider"][np.maximum(stmt_row, 0)]
    table = pa.table({
        "business_date": dates.take(pa.array(rows["date"].to_numpy(np.int64))),
        "break_type": pa.array(rows["type"].to_numpy(object), pa.string()),
        "order_id": order_id,
        "provider": _take_text(pa.array(PROVIDERS), np.where(stmt_row >= 0, provider, -1)),
        "provider_txn_id": _take_text(run.txn_id, stmt_row),
        "credit_id": _take_text(run.credit_id, rows["credit_row"].to_numpy(np.int64)),
        "status": pa.array(rows["status"].to_numpy(object), pa.string()),
        "first_seen": dates.take(pa.array(rows["first_seen"].to_numpy(np.int64))),
        "difference": _fen_text(rows["diff"]),
    })
    return table.sort_by([(c, "ascending") for c in BREAK_COLUMNS[:6]])


def suggestions_table(run: Run, ev: _Evaluations, rows: pd.DataFrame, settings: Settings,
                      dates: pa.Array) -> pa.Table:
    """The fallback links (MATCHING.md) the matcher should list each date."""
    o, b = run.orders, run.billing
    open_ = rows[rows["status"] == "open"]
    orphan = open_[(open_["type"] == "ORPHAN_CREDIT") & (open_["oi"] < 0)]
    c = orphan["credit_row"].to_numpy(np.int64)
    credits = pd.DataFrame({"date": orphan["date"].to_numpy(), "credit_row": c, "msisdn": b["msisdn"][c],
                            "amount": b["amount"][c], "credited_at": b["credited_at"][c]})
    missing = open_[open_["type"] == "MISSING_CREDIT"]
    oi = missing["oi"].to_numpy(np.int64)
    orders = pd.DataFrame({"date": missing["date"].to_numpy(), "oi": oi, "msisdn": o["msisdn"][oi],
                           "amount": o["face_fen"][oi], "paid_at": ev.first_paid_at[oi]})
    window = settings.matching.fallback_window_minutes * 60
    pairs = credits.merge(orders, on=["date", "msisdn", "amount"])
    pairs = pairs[(pairs["credited_at"] >= pairs["paid_at"]) & (pairs["credited_at"] <= pairs["paid_at"] + window)]
    n = pairs.groupby(["date", "credit_row"])["oi"].transform("size").to_numpy()
    table = pa.table({
        "business_date": dates.take(pa.array(pairs["date"].to_numpy(np.int64))),
        "credit_id": run.credit_id.take(pa.array(pairs["credit_row"].to_numpy(np.int64))),
        "order_id": run.order_id.take(pa.array(pairs["oi"].to_numpy(np.int64))),
        "confidence": pa.array([f"{1 / k:.4f}" for k in n], pa.string()),
    })
    return table.sort_by([("business_date", "ascending"), ("credit_id", "ascending"), ("order_id", "ascending")])


def outcomes_table(run: Run, ev: _Evaluations, start: np.datetime64) -> pa.Table:
    own = np.flatnonzero(ev.own)
    oi = ev.oi[own]
    return pa.table({
        "order_id": run.order_id.take(pa.array(oi)),
        "order_date": pa.array(start + run.orders["day"][oi].astype("timedelta64[D]"), pa.date32()),
        "outcome": pa.array(OUTCOMES).take(pa.array(ev.outcome[own])),
        "scenario": pa.array(SCENARIO_NAMES).take(pa.array(run.orders["scenario"][oi])),
    })


def _write_csv(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
    return path


def write_truth(folder: Path, run: Run, settings: Settings, start: np.datetime64) -> dict[str, Path]:
    """breaks.csv, suggestions.csv and orders_outcome.parquet in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    dates = pa.array((start + np.arange(run.days).astype("timedelta64[D]")).astype(str), pa.string())
    ev = evaluate_orders(run, settings)
    rows = all_breaks(run, ev, settings)
    outcomes = folder / "orders_outcome.parquet"
    pq.write_table(outcomes_table(run, ev, start), outcomes)
    return {
        "breaks": _write_csv(breaks_table(run, rows, dates), folder / "breaks.csv"),
        "suggestions": _write_csv(suggestions_table(run, ev, rows, settings, dates), folder / "suggestions.csv"),
        "orders_outcome": outcomes,
    }
