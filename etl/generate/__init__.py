"""Sample data: a landing zone of consecutive days with every break of breaks.md injected at
known rates, and the ground truth beside it.

``generate_landing(out, start, days, orders_per_day, seed)`` writes

- ``out/<YYYY-MM-DD>/<source>/…`` in the layout of ``shared/spec/landing.md``: ``orders`` and
  ``billing`` (``etl.generate.ledgers``; CSV, Parquet on some days, billing split in two on
  others), ``alipay``, ``wechatpay``, ``unionpay`` in the providers' own formats
  (``etl.generate.formats``; WeChat gzipped on odd days), ``surveys`` and ``complaints``;
- the ground truth in ``out.parent / "ground_truth"`` (:func:`truth_folder`): ``breaks.csv``,
  ``suggestions.csv``, ``orders_outcome.parquet``, ``summary.json`` and
  ``<YYYY-MM-DD>/<source>.parquet`` with the canonical rows of every file
  (``etl.generate.truth`` describes them).

Who orders what comes from ``population``, what goes wrong from ``scenarios`` (the rate table),
the expected breaks from ``truth``. Time follows docs/MATCHING.md: statements of D hold events
of D; billing of D holds credits posted in [D 02:00, D+1 02:00) (with the configured grace);
an order is in the orders file of the day it was paid (or created, if never paid), with its
status as of that export (taken at the same cutoff). Rows that would land after the last date
are not written, and the ground truth does not count them.

``extra`` (:class:`ExtraRows`) adds rows that no scenario drew to given days' files: a test's
provider sandbox writes the refunds it accepted into the next day's statement, its billing
double the credits a batch asked for into the next day's billing export. They are outside the
ground truth's breaks; without ``extra`` nothing changes, byte for byte.

Same arguments, same bytes: day ``i`` draws from ``numpy.random.default_rng([seed, 0, i])``,
surveys and complaints from their own streams, and every writer is deterministic.
Rows are drawn as whole-day arrays (no Python loop per order): 20,000 orders × 30 days take
about ten seconds, 10 million orders in one day about two minutes.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute in ExtraRows)
import pyarrow.parquet as pq

from etl.config import Settings, load_settings
from etl.generate import ledgers
from etl.generate.formats import alipay, unionpay, wechatpay
from etl.generate.population import (
    COMPLAINT_CATEGORIES,
    DAY,
    PRODUCT_TYPES,
    PROVIDERS,
    draw_complaints,
    draw_surveys,
)
from etl.generate.scenarios import CREDITED, SCENARIO_NAMES, SCENARIOS, Batch, build_day
from etl.generate.truth import Run, write_truth

__all__ = ["ExtraRows", "GenerationSummary", "generate_landing", "truth_folder"]

log = logging.getLogger(__name__)

def truth_folder(out: Path) -> Path:
    """Where :func:`generate_landing` puts the ground truth of the landing zone ``out``."""
    return Path(out).parent / "ground_truth"


@dataclass(frozen=True)
class ExtraRows:
    """Rows to add to a day's files: statement rows (``etl.schema.PAYMENTS`` columns, any
    providers: each goes to its provider's file) and billing rows (``BILLING`` columns), by the
    landing date whose files they join. Each file stays in time order."""
    statement: dict[date, pa.Table] = field(default_factory=dict)
    billing: dict[date, pa.Table] = field(default_factory=dict)

    def statement_rows(self, day: date, provider: str, schema: pa.Schema) -> pa.Table | None:
        table = self.statement.get(day)
        if table is None:
            return None
        table = table.filter(pa.compute.equal(table["provider"], provider))
        return table.select(schema.names).cast(schema) if table.num_rows else None

    def billing_rows(self, day: date, schema: pa.Schema) -> pa.Table | None:
        table = self.billing.get(day)
        return table.select(schema.names).cast(schema) if table is not None and table.num_rows else None


def _joined(part: pa.Table, extra: pa.Table | None, time_column: str) -> pa.Table:
    """``part`` with ``extra`` merged in time order (a stable sort: same times keep file order)."""
    if extra is None:
        return part
    return pa.concat_tables([part, extra]).sort_by([(time_column, "ascending")])


@dataclass(frozen=True)
class GenerationSummary:
    landing: Path
    truth: Path
    start: date
    days: int
    orders_per_day: int
    seed: int
    rows: dict[str, dict[date, int]]  # source → date → canonical rows written
    files: dict[date, dict[str, list[Path]]]  # date → source → files
    scenarios: dict[str, int]  # orders per scenario over the run
    truth_files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def generate_landing(out: Path, start: date, days: int, orders_per_day: int, seed: int,
                     settings: Settings | None = None, extra: ExtraRows | None = None) -> GenerationSummary:
    """Write ``days`` consecutive days from ``start`` of landing files into ``out`` and their
    ground truth into :func:`truth_folder` (``out.parent / "ground_truth"``). Files this
    generator writes are replaced; start from an empty folder to avoid strays of other runs."""
    if days < 1 or orders_per_day < 1:
        raise ValueError(f"need at least one day and one order a day (got {days} days × {orders_per_day})")
    began = time.perf_counter()
    settings = settings or load_settings()
    out, truth = Path(out), truth_folder(out)

    run = _draw(start, days, orders_per_day, seed, settings)
    log.info("drew %d orders, %d statement rows, %d billing rows in %.1fs", run.orders["oi"].size,
             run.stmt["oi"].size, run.billing["oi"].size, time.perf_counter() - began)
    writer = _Writer(out, truth, start, days, settings, extra)
    writer.write_all(run, seed)
    log.info("landing files written at %.1fs", time.perf_counter() - began)
    truth_files = write_truth(truth, run, settings, np.datetime64(start, "D"))

    real = ~run.orders["ghost"]
    scenario_counts = np.bincount(run.orders["scenario"][real], minlength=len(SCENARIOS))
    summary = GenerationSummary(
        landing=out, truth=truth, start=start, days=days, orders_per_day=orders_per_day, seed=seed,
        rows=writer.rows, files=writer.files, scenarios=dict(zip(SCENARIO_NAMES, scenario_counts.tolist())),
        truth_files=truth_files, seconds=time.perf_counter() - began,
    )
    truth_files["summary"] = _write_summary(truth / "summary.json", summary)
    log.info("wrote %d day(s) to %s and the ground truth to %s in %.1fs", days, out, truth, summary.seconds)
    return summary


def _draw(start: date, days: int, orders_per_day: int, seed: int, settings: Settings) -> Run:
    """Every order of the range and every row it causes, with ids, cut to the rows that land
    in the range."""
    start0 = (start - date(1970, 1, 1)).days * DAY
    batches: list[Batch] = []
    first_oi = 0
    for i in range(days):
        batch = build_day(np.random.default_rng([seed, 0, i]), start0, i, orders_per_day, first_oi, settings)
        first_oi += batch.orders["oi"].size
        batches.append(batch)
    orders = _concat_rows([b.orders for b in batches])
    stmt = _concat_rows([b.stmt for b in batches], "pays")
    billing = _concat_rows([b.billing for b in batches], "reverses")
    del batches

    # ids first, for all rows: refunds and reversals may name rows from before the range
    order_id = ledgers.order_ids(orders["seq"], orders["created_at"])
    txn_id = ledgers.txn_ids(stmt["provider"], np.arange(1, stmt["oi"].size + 1), stmt["event_at"])
    txn_id = txn_id.take(pa.array(stmt["pays"]))  # a refund states the id of the payment it refunds
    credit_id = ledgers.credit_ids(np.arange(billing["oi"].size), billing["credited_at"])

    stmt_landing = (stmt["event_at"] - start0) // DAY
    billing_landing = (billing["credited_at"] - settings.matching.grace_minutes * 60 - start0) // DAY
    keep_s = (stmt_landing >= 0) & (stmt_landing < days)
    keep_b = (billing_landing >= 0) & (billing_landing < days)
    return Run(
        start0=start0, days=days, orders=orders,
        stmt=_cut(stmt, keep_s, "pays"), stmt_landing=stmt_landing[keep_s],
        billing=_cut(billing, keep_b, "reverses"), billing_landing=billing_landing[keep_b],
        order_id=order_id, txn_id=txn_id.filter(pa.array(keep_s)), credit_id=credit_id.filter(pa.array(keep_b)),
    )


class _Writer:
    """Writes one source at a time, rows in file order and each day a slice, so that the
    largest source is the only table in memory; records what it wrote."""

    def __init__(self, out: Path, truth: Path, start: date, days: int, settings: Settings,
                 extra: ExtraRows | None = None):
        self.out, self.truth, self.days = out, truth, days
        self.extra = extra
        self.dates = [date.fromordinal(start.toordinal() + i) for i in range(days)]
        self.active = settings.providers.active
        self.settings = settings
        self.files: dict[date, dict[str, list[Path]]] = {d: {} for d in self.dates}
        self.rows: dict[str, dict[date, int]] = {}
        for d in self.dates:
            for source in ("orders", *self.active, "billing", "surveys", "complaints"):
                _clear(self.folder(d, source))
            _clear(truth / d.isoformat())
            (truth / d.isoformat()).mkdir(parents=True, exist_ok=True)

    def folder(self, d: date, source: str) -> Path:
        return self.out / d.isoformat() / source

    def emit(self, source: str, i: int, part: pa.Table, written: list[Path]) -> None:
        d = self.dates[i]
        self.files[d][source] = written
        self.rows.setdefault(source, {})[d] = part.num_rows
        pq.write_table(part, self.truth / d.isoformat() / f"{source}.parquet")
        log.debug("%s %s: %d rows", d, source, part.num_rows)

    def write_all(self, run: Run, seed: int) -> None:
        days, dates = self.days, self.dates
        o, s, b = run.orders, run.stmt, run.billing

        order, bounds = _file_order(np.where(o["ghost"], -1, o["day"]), o["seq"], days)
        table = ledgers.orders_table(_take(o, order), run.order_id.take(pa.array(order)))
        for i, part in enumerate(_slices(table, bounds)):
            self.emit("orders", i, part, ledgers.write_orders(part, self.folder(dates[i], "orders"), dates[i],
                                                               parquet=i % 4 == 3))

        n = len(PROVIDERS)
        order, bounds = _file_order(run.stmt_landing * n + s["provider"], s["event_at"], days * n)
        table = ledgers.statement_table(_take(s, order), run.txn_id.take(pa.array(order)),
                                        run.order_id.take(pa.array(s["oi"][order])))
        for g, part in enumerate(_slices(table, bounds)):
            i, provider = divmod(g, n)
            if self.extra is not None:
                part = _joined(part, self.extra.statement_rows(dates[i], PROVIDERS[provider], table.schema), "event_at")
            if PROVIDERS[provider] in self.active:
                folder = self.folder(dates[i], PROVIDERS[provider])
                self.emit(PROVIDERS[provider], i, part, _write_statement(PROVIDERS[provider], part, folder, dates[i], i))

        order, bounds = _file_order(run.billing_landing, b["credited_at"], days)
        table = ledgers.billing_table(_take(b, order), run.credit_id.take(pa.array(order)),
                                      _optional(run.order_id, b["oi"][order]),
                                      _optional(run.credit_id, b["reverses"][order]))
        for i, part in enumerate(_slices(table, bounds)):
            if self.extra is not None:
                part = _joined(part, self.extra.billing_rows(dates[i], table.schema), "credited_at")
            split = 2 if i % 7 == 5 and part.num_rows > 1 else 1
            self.emit("billing", i, part, ledgers.write_billing(part, self.folder(dates[i], "billing"), dates[i],
                                                                 parquet=i % 5 == 4, parts=split))
        del table

        surveys, landing = _surveys(np.random.default_rng([seed, 1, 0]), run, self.settings)
        for i, part in enumerate(_slices(surveys, np.searchsorted(landing, np.arange(days + 1)))):
            self.emit("surveys", i, part, ledgers.write_surveys(part, self.folder(dates[i], "surveys"), dates[i]))
        complaints, landing = _complaints(np.random.default_rng([seed, 2, 0]), run)
        for i, part in enumerate(_slices(complaints, np.searchsorted(landing, np.arange(days + 1)))):
            self.emit("complaints", i, part,
                      ledgers.write_complaints(part, self.folder(dates[i], "complaints"), dates[i]))


# --- assembling the run -----------------------------------------------------------------------

def _concat_rows(parts: list[dict[str, np.ndarray]], ref: str | None = None) -> dict[str, np.ndarray]:
    """Concatenate batches' rows; ``ref`` holds positions within a batch, shifted to the whole."""
    if len(parts) == 1:
        return parts[0]
    sizes = [next(iter(p.values())).size for p in parts]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if ref:
        shift = np.repeat(np.cumsum([0] + sizes[:-1]), sizes)
        out[ref] = np.where(out[ref] >= 0, out[ref] + shift, -1)
    return out


def _cut(rows: dict[str, np.ndarray], keep: np.ndarray, ref: str) -> dict[str, np.ndarray]:
    """Keep rows; ``ref`` positions follow, -1 where the row named was cut."""
    new_position = np.cumsum(keep) - 1
    out = {k: v[keep] for k, v in rows.items()}
    old = out[ref]
    named_kept = (old >= 0) & keep[np.maximum(old, 0)]
    out[ref] = np.where(named_kept, new_position[np.maximum(old, 0)], -1)
    return out


def _optional(ids: pa.Array, rows: np.ndarray) -> pa.Array:
    """ids[rows], null where rows < 0."""
    return ids.take(pa.array(np.maximum(rows, 0), mask=rows < 0))


def _take(columns: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in columns.items()}


def _file_order(group: np.ndarray, time_: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of groups 0..n_groups-1 (a date, or a date and provider) in file order: by group,
    time, then as generated; and each group's bounds in that order."""
    inside = np.flatnonzero((group >= 0) & (group < n_groups))
    t = time_[inside]
    # one int64 key, group above time, sorted stably (lexsort is several times slower)
    key = group[inside] << 34 | (t - (t.min() if t.size else 0))
    order = inside[np.argsort(key, kind="stable")]
    return order, np.searchsorted(group[order], np.arange(n_groups + 1))


def _slices(table: pa.Table, bounds: np.ndarray) -> list[pa.Table]:
    return [table.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])]


def _clear(folder: Path) -> None:
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()


def _write_statement(provider: str, rows: pa.Table, folder: Path, d: date, day_index: int) -> list[Path]:
    if provider == "alipay":
        # every sixth day arrives split in two members, as large days do
        split = (rows.num_rows + 1) // 2 if day_index % 6 == 2 and rows.num_rows > 1 else None
        return alipay.write(rows, folder, d, max_rows_per_member=split)
    if provider == "wechatpay":
        return wechatpay.write(rows, folder, d, gzip=day_index % 2 == 1)
    return unionpay.write(rows, folder, d)


# --- what customers say -----------------------------------------------------------------------

def _first_credit(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Orders credited in the range and the time of their first successful credit."""
    b, o = run.billing, run.orders
    ok = (b["result"] == CREDITED) & (b["amount"] > 0) & (b["oi"] >= 0)
    ok[ok] = ~o["ghost"][b["oi"][ok]]
    first = np.full(o["oi"].size, np.iinfo(np.int64).max)
    np.minimum.at(first, b["oi"][ok], b["credited_at"][ok])
    oi = np.flatnonzero(first < np.iinfo(np.int64).max)
    return oi, first[oi]


def _surveys(rng: np.random.Generator, run: Run, settings: Settings) -> tuple[pa.Table, np.ndarray]:
    o = run.orders
    oi, credited_at = _first_credit(run)
    sla = np.array([settings.matching.sla_for(t) * 60 for t in PRODUCT_TYPES])[o["product_type"][oi]]
    paid_at = o["paid_at"][oi]
    late = (paid_at >= 0) & (credited_at - paid_at > sla)
    v = draw_surveys(rng, oi, credited_at, late)
    order = np.argsort(v["submitted_at"], kind="stable")
    v = {k: a[order] for k, a in v.items()}
    response_id = ledgers.dated_ids("S", v["submitted_at"], 8)
    table = ledgers.surveys_table(v, response_id, _optional(run.order_id, v["oi"]))
    return table, (v["submitted_at"] - run.start0) // DAY


def _complaints(rng: np.random.Generator, run: Run) -> tuple[pa.Table, np.ndarray]:
    o = run.orders
    real = np.flatnonzero(~o["ghost"])
    category = np.array([COMPLAINT_CATEGORIES.index(s.complaint[0]) if s.complaint else 0 for s in SCENARIOS])
    share = np.array([s.complaint[1] if s.complaint else 0.0 for s in SCENARIOS])
    scenario = o["scenario"][real]
    since = np.where(o["paid_at"][real] >= 0, o["paid_at"][real], o["created_at"][real])
    c = draw_complaints(rng, real, o["msisdn"][real], since, category[scenario], share[scenario])
    order = np.argsort(c["opened_at"], kind="stable")
    c = {k: a[order] for k, a in c.items()}
    ticket_id = ledgers.dated_ids("K", c["opened_at"], 7)
    table = ledgers.complaints_table(c, ticket_id, _optional(run.order_id, c["oi"]))
    return table, (c["opened_at"] - run.start0) // DAY


def _write_summary(path: Path, s: GenerationSummary) -> Path:
    data = {
        "start": s.start.isoformat(), "days": s.days,
        "orders_per_day": s.orders_per_day, "seed": s.seed, "scenarios": s.scenarios,
        "rows": {src: {d.isoformat(): n for d, n in per_day.items()} for src, per_day in s.rows.items()},
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
