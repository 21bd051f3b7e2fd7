"""Reads what the nightly run published (``<output>/<date>/console/*.parquet``) with the
console's own in-memory DuckDB: never the warehouse, which the night may be writing.

Every query is fixed text with bound parameters; what a user chose (a filter, a sort) selects
among fixed fragments and binds values, never adds text. Filters, sort, LIMIT and OFFSET run in
DuckDB, so a page of a 500,000-row queue reads that page, not the queue.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import duckdb

from console.reasons import AGE_BUCKETS, SlaRule

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# sort key → ORDER BY text (fixed), each ending with the break key so pages never overlap
SORTS = {
    "age": "age_days {dir}, abs(difference) desc, break_key",
    "amount": "abs(difference) {dir}, age_days desc, break_key",
    "type": "break_type {dir}, age_days desc, break_key",
    "first_seen": "first_seen {dir}, break_key",
    "provider": "provider {dir} nulls last, break_key",
}
DIRECTIONS = ("desc", "asc")
# The order the breaks table is written in: the queue as it opens, oldest first
# (QueueFilter.in_table_order reads pages in it without sorting).
TABLE_ORDER = SORTS["age"].format(dir="desc")
# The breaks table in memory holds each row's place in every sort (its rank, numbered once when a
# night is loaded): a page then sorts one integer, not the sort's columns and the break key (at
# 455,000 open breaks, a random page of the queue took 31 ms of DuckDB instead of 10).
RANK_COLUMNS = {(sort, d): f"rank_{sort}_{d}" for sort in SORTS for d in DIRECTIONS}
RANK_LIST = ", ".join(RANK_COLUMNS.values())
SORT_COLUMNS = "break_key, age_days, difference, break_type, first_seen, provider"  # what SORTS reads
# The columns a break is looked up by (a story's other breaks, a search), each indexed in the
# numbered table; the name of each column, as the lookup's text.
LOOKUP_COLUMNS = {c: c for c in ("order_id", "provider_txn_id", "credit_id", "msisdn_hash")}
MOST_LOOKUPS = 8
# the breaks with any of several values in each lookup column (lists bound by the column's name)
BREAKS_OF_ANY = (" or ".join(f"{c} in (select unnest(${c}::varchar[]))" for c in LOOKUP_COLUMNS)
                 + " order by first_seen desc, break_key limit $n")
RANKS = ", ".join(f"row_number() over (order by {SORTS[sort].format(dir=d)}) as {column}"
                  for (sort, d), column in RANK_COLUMNS.items())


@dataclass
class QueueFilter:
    """The queue's filters, already checked (console.forms makes them from a query string)."""
    break_type: str | None = None
    provider: str | None = None
    bucket: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    status: str = "open"               # open | resolved | pending | awaiting_run | all
    first_seen_from: date | None = None
    first_seen_to: date | None = None
    channel: str | None = None
    sla: str | None = None             # on_track | warning | breached
    include_keys: list[str] | None = None   # from the store: assignee, console states
    exclude_keys: list[str] | None = None
    sort: str = "age"
    descending: bool = True

    def where(self, sla: SlaRule) -> tuple[str, dict[str, Any]]:
        parts, params = ["true"], {}
        if self.status in ("open", "resolved"):
            parts.append("status = $status")
            params["status"] = self.status
        if self.break_type:
            parts.append("break_type = $break_type")
            params["break_type"] = self.break_type
        if self.provider:
            parts.append("provider = $provider")
            params["provider"] = self.provider
        if self.channel:
            parts.append("channel = $channel")
            params["channel"] = self.channel
        if self.bucket:
            low, high = AGE_BUCKETS[self.bucket]
            parts.append("age_days >= $age_low")
            params["age_low"] = low
            if high is not None:
                parts.append("age_days <= $age_high")
                params["age_high"] = high
        if self.min_amount is not None:
            parts.append("abs(difference) >= $min_amount")
            params["min_amount"] = self.min_amount
        if self.max_amount is not None:
            parts.append("abs(difference) <= $max_amount")
            params["max_amount"] = self.max_amount
        if self.first_seen_from:
            parts.append("first_seen >= $first_from")
            params["first_from"] = self.first_seen_from
        if self.first_seen_to:
            parts.append("first_seen <= $first_to")
            params["first_to"] = self.first_seen_to
        if self.include_keys is not None:
            parts.append("break_key in (select unnest($include_keys::varchar[]))")
            params["include_keys"] = self.include_keys
        if self.exclude_keys:
            parts.append("break_key not in (select unnest($exclude_keys::varchar[]))")
            params["exclude_keys"] = self.exclude_keys
        if self.sla:
            parts.append("sla_state = $sla")
            params["sla"] = self.sla
        return " and ".join(parts), params

    def order_by(self, ranked: bool = False) -> str:
        """ORDER BY text over the breaks table in memory (Published.latest_breaks): the sort's
        rank once the table's rows are numbered, the sort's columns before."""
        direction = "desc" if self.descending else "asc"
        return RANK_COLUMNS[(self.sort, direction)] if ranked else SORTS[self.sort].format(dir=direction)

    def in_table_order(self) -> bool:
        """The queue as it opens (oldest first) is the order the table was written in, which a
        scan and plain filters keep (DuckDB keeps insertion order): a page is read, not sorted
        (3 ms instead of 11 at 455,000 breaks). A list of keys is a join, which may not keep it."""
        return self.sort == "age" and self.descending and self.include_keys is None and not self.exclude_keys


def _sla_select(sla: SlaRule, source: str = "read_parquet($breaks_file)") -> tuple[str, dict[str, Any]]:
    """The break rows with their SLA state, computed in SQL from the configured rule: one CASE
    branch per configured break type (the text follows the configuration, never a request; the
    values are bound)."""
    types = [t for t in sla.days if t != "default"]
    days = "case b.break_type " + " ".join(f"when $sla_t{i} then $sla_d{i}" for i in range(len(types))) + \
        " else $sla_default end" if types else "$sla_default"
    limit = f"greatest({days} - case when abs(b.difference) >= $sla_large then 1 else 0 end, 0)"
    sql = f"""
        select b.*, {limit} as sla_limit,
               case when b.status <> 'open' then null
                    when b.age_days > {limit} then 'breached'
                    when b.age_days >= {limit} - $sla_warn then 'warning'
                    else 'on_track' end as sla_state
        from {source} as b
    """
    params: dict[str, Any] = {"sla_default": sla.days["default"], "sla_large": sla.large_amount, "sla_warn": sla.warn_days}
    for i, t in enumerate(types):
        params[f"sla_t{i}"], params[f"sla_d{i}"] = t, sla.days[t]
    return sql, params


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    business_date: date | None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _newest_first(rows: Iterable[dict[str, Any]], column: str, *ties: str) -> list[dict[str, Any]]:
    """``rows`` by ``column`` descending, nulls last, then by ``ties``: the order the SQL gives
    each part of a merged result (a tuple compares its second item only when the first ties, so
    two nulls are never compared)."""
    ordered = sorted(rows, key=lambda r: tuple(r[c] for c in ties))
    ordered.sort(key=lambda r: (r[column] is not None, r[column]), reverse=True)
    return ordered


def _within(value: str | int, lowest: str, highest: str) -> bool:
    """Whether ``value`` lies in a footer's range, which states numbers as text."""
    if isinstance(value, int):
        try:
            return int(lowest) <= value <= int(highest)
        except ValueError:  # not a column of numbers: it may hold anything
            return True
    return lowest <= value <= highest


class Published:
    """The published outputs under ``root``: one in-memory DuckDB, a cursor per query."""

    def __init__(self, root: Path, sla: SlaRule, threads: int = 2, memory_limit: str = "1GB",
                 concurrent: int = 4):
        self.root = Path(root)
        self.sla = sla
        import tempfile

        # spills to disk rather than failing when many people page deep at once
        self._spill = tempfile.mkdtemp(prefix="recon-console-duckdb-")
        import atexit
        import shutil

        atexit.register(shutil.rmtree, self._spill, True)
        self._db = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit,
                                          "temp_directory": self._spill})
        self._lock = threading.Lock()
        # at most this many queries at once: memory stays bounded whatever the number of users
        self._running = threading.BoundedSemaphore(concurrent)
        self._options: tuple[tuple, dict[str, list[str]]] | None = None
        self._counts: dict[tuple, dict[str, Any]] = {}
        self._load_lock = threading.Lock()
        self._table: tuple[tuple, str] | None = None
        self._superseded: list[str] = []  # tables no page is sent to any more: dropped at the next load
        self._ranked: set[str] = set()  # tables whose rows carry their rank in every sort
        self._numbering: threading.Thread | None = None
        self._generation = 0
        # (file, column) → ((mtime_ns, size), each row group's lowest and highest value or None):
        # what a search index file's footer states, read once per version of the file
        self._ranges: dict[tuple[str, str], tuple[tuple[int, int], list[tuple[str, str]] | None]] = {}

    # ---- which dates ----------------------------------------------------------------------
    def dates(self) -> list[date]:
        if not self.root.is_dir():
            return []
        return sorted(date.fromisoformat(p.name) for p in self.root.iterdir()
                      if DATE_DIR.match(p.name) and (p / "console" / "breaks.parquet").exists())

    def latest(self) -> date | None:
        found = self.dates()
        return found[-1] if found else None

    def file(self, day: date, table: str) -> str:
        return str(self.root / day.isoformat() / "console" / f"{table}.parquet")

    def files(self, table: str, first: date | None = None, last: date | None = None) -> list[str]:
        return [self.file(d, table) for d in self.dates()
                if (first is None or d >= first) and (last is None or d <= last)]

    def holding(self, files: list[str], column: str, values: Iterable[str | int]) -> list[str]:
        """The ``files`` whose ``column`` may hold one of ``values``: those with a row group whose
        lowest and highest value, as its footer states, enclose one. A search index is sorted by
        the id it is searched by and ids carry their day (T20261124…), so a search opens the
        one or two dates that can hold the id, not every date published (DuckDB alone reads each
        file's footer to learn that, on every search). A file without those statistics, or
        unreadable, is always kept."""
        wanted = [v for v in values if v is not None]
        kept = []
        for path in files:
            ranges = self._row_group_ranges(path, column)
            if ranges is None or any(_within(v, lo, hi) for lo, hi in ranges for v in wanted):
                kept.append(path)
        return kept

    def _row_group_ranges(self, path: str, column: str) -> list[tuple[str, str]] | None:
        """(lowest, highest) of ``column`` in each row group of the Parquet file ``path``, read
        once per version of the file (a re-run date replaces it); None when not known."""
        try:
            stat = Path(path).stat()
        except OSError:
            return None
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._ranges.get((path, column))
        if cached is None or cached[0] != version:
            try:
                rows = self.query("select path_in_schema = $c as ours, stats_min_value as lo, stats_max_value as hi "
                                  "from parquet_metadata($f)", {"f": path, "c": column})
            except duckdb.Error:
                return None  # replaced while read, or not Parquet: searched as it is
            # no row group: nothing to find; row groups without the column: searched as it is
            known = not rows or any(r["ours"] for r in rows)
            rows = [r for r in rows if r["ours"]]
            known = known and all(r["lo"] is not None and r["hi"] is not None for r in rows)
            cached = (version, [(r["lo"], r["hi"]) for r in rows] if known else None)
            self._ranges[(path, column)] = cached
        return cached[1]

    # ---- the latest night's breaks, in memory -----------------------------------------------
    def latest_breaks(self) -> tuple[date, str] | None:
        """(date, table): the latest published night's breaks with their SLA state, loaded once
        into the console's in-memory DuckDB (sorted as the queue opens, an index on the break key,
        then each row's rank in every sort: ``_number``), and loaded again when a newer night is
        published or a date is re-run. The queue, its exports and the stories read this table
        instead of decoding the Parquet file on every page."""
        day = self.latest()
        if day is None:
            return None
        path = self.file(day, "breaks")
        try:
            stamp = (day, Path(path).stat().st_mtime_ns)
        except OSError:
            return None
        current = self._table
        if current is not None and current[0] == stamp:
            return day, current[1]
        # A newer night is loaded by one request; the others keep paging the night they had
        # meanwhile (~0.5 s at 455,000 breaks), and only the first night after a start is waited for.
        if current is not None and not self._load_lock.acquire(blocking=False):
            return current[0][0], current[1]
        if current is None:
            self._load_lock.acquire()
        try:
            if self._table is not None and self._table[0] == stamp:
                return day, self._table[1]
            self._generation += 1
            name = f"breaks_{self._generation}"
            base, params = _sla_select(self.sla)
            with self._running:
                cur = self._db.cursor()
                try:
                    cur.execute(f"create table {name} as select * from ({base}) order by {TABLE_ORDER}",
                                {**params, "breaks_file": path})
                    cur.execute(f"create index {name}_key on {name} (break_key)")
                    for old in self._superseded:  # superseded before the table pages read now
                        cur.execute(f"drop table if exists {old}")
                        self._ranked.discard(old)
                finally:
                    cur.close()
            self._superseded = [self._table[1]] if self._table else []
            self._table = (stamp, name)
            self._counts.clear()
            self._numbering = threading.Thread(target=self._number, args=(stamp, name), daemon=True)
            self._numbering.start()
            return day, name
        finally:
            self._load_lock.release()

    def _number(self, stamp: tuple, name: str) -> None:
        """Give the rows of the breaks table ``name`` their rank in every sort, as a copy that
        takes its place once written: pages meanwhile sort by the sort's columns, so the first
        pages after a start wait only for the table (~0.5 s at 455,000 breaks, ~1.6 s numbered).
        The ranks are numbered on the sort columns alone, then joined by the break key (unique in
        a night's file): windows over whole rows sorted every column ten times (3.7 s)."""
        ranked = f"{name}_ranked"
        with self._running:
            with self._lock:
                cur = self._db.cursor()
            try:
                cur.execute(f"create table {ranked} as select b.*, ranks.* exclude (break_key) from {name} as b "
                            f"join (select break_key, {RANKS} from (select {SORT_COLUMNS} from {name})) as ranks "
                            f"using (break_key) order by {TABLE_ORDER}")
                cur.execute(f"create index {ranked}_key on {ranked} (break_key)")
                # a story lists the order's other breaks, a search finds breaks by any of their ids
                # or the phone number: each by an index, not a scan of every break (0.7 ms, 4.4)
                for column in LOOKUP_COLUMNS:
                    cur.execute(f"create index {ranked}_{column} on {ranked} ({column})")
            finally:
                cur.close()
        with self._load_lock:
            if self._table == (stamp, name):
                self._ranked.add(ranked)
                self._superseded.append(name)
                self._table = (stamp, ranked)
                self._counts.clear()
            else:  # a newer night came meanwhile
                self._superseded.append(ranked)

    def _rows(self, table: str, *hidden: str) -> str:
        """The select list of a breaks table's rows without ``hidden`` columns (nor the ranks)."""
        columns = [*hidden, *(RANK_COLUMNS.values() if table in self._ranked else ())]
        return f"* exclude ({', '.join(columns)})" if columns else "*"

    # ---- running queries ----------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts. A date's folder is swapped into place by two renames: a read that
        falls between them finds no file and is tried again."""
        with self._lock:
            cur = self._db.cursor()
        try:
            with self._running:
                return self._fetch(cur, sql, params)
        finally:
            cur.close()

    @staticmethod
    def _fetch(cur, sql: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:  # noqa: ANN001
        for attempt in range(3):
            try:
                result = cur.execute(sql, params or {})
                names = [d[0] for d in result.description]
                return [dict(zip(names, row)) for row in result.fetchall()]
            except duckdb.IOException:
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return []

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    # ---- pages ----------------------------------------------------------------------------
    def queue(self, f: QueueFilter, page: int, page_size: int) -> Page:
        latest = self.latest_breaks()
        if latest is None:
            return Page([], 0, 1, page_size, None)
        day, table = latest
        base = f"select * from {table}"
        where, params = f.where(self.sla)
        total_row = self._totals(table, f"select count(*) as n, coalesce(sum(difference), 0) as amount "
                                        f"from ({base}) where {where}", params)
        page = max(1, page)
        # the page's keys first, sorting only the sort columns (a deep page of a 500,000-row queue
        # holds offset + 50 small rows, not whole ones), then those rows by key
        order = "" if f.in_table_order() else f" order by {f.order_by(table in self._ranked)}"
        keys = [r["break_key"] for r in self.query(
            f"select break_key from ({base}) where {where}{order} limit $limit offset $offset",
            {**params, "limit": page_size, "offset": (page - 1) * page_size})]
        found = {r["break_key"]: r for r in self.query(
            f"select {self._rows(table, 'msisdn_hash')} from {table} "
            "where break_key in (select unnest($keys::varchar[]))",
            {"keys": keys})} if keys else {}
        rows = [found[k] for k in keys if k in found]
        return Page(rows, int(total_row["n"]), page, page_size, day, {"amount": total_row["amount"]})

    def _totals(self, table: str, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """A filter's count and sum, kept while the table is the same: paging through a queue
        counts it once."""
        key = (table, sql, repr(sorted(params.items())))
        with self._lock:
            hit = self._counts.get(key)
        if hit is None:
            hit = self.query(sql, params)[0]
            with self._lock:
                if len(self._counts) > 512:
                    self._counts.clear()
                self._counts[key] = hit
        return hit

    def export_rows(self, f: QueueFilter, limit: int) -> tuple[list[str], list[tuple]]:
        latest = self.latest_breaks()
        if latest is None:
            return [], []
        base = f"select * from {latest[1]}"
        where, params = f.where(self.sla)
        params["limit"] = limit
        with self._lock:
            cur = self._db.cursor()
        try:
            with self._running:
                result = cur.execute(
                    f"select business_date, break_key, break_type, status, sla_state, order_id, provider, "
                    f"provider_txn_id, credit_id, msisdn_masked, order_amount, paid_amount, credited_amount, "
                    f"difference, paid_at, credited_at, first_seen, age_days, channel, product_type "
                    f"from ({base}) where {where} order by {f.order_by()} limit $limit", params)
                return [d[0] for d in result.description], result.fetchall()
        finally:
            cur.close()

    def break_row(self, break_key: str) -> dict[str, Any] | None:
        """The break as the latest night that lists it has it."""
        files = self.files("breaks")
        if not files:
            return None
        latest = self.latest_breaks()
        if latest is not None:  # the latest night first: it carries every open break
            rows = self.query(f"select {self._rows(latest[1])} from {latest[1]} where break_key = $key",
                              {"key": break_key})
            if rows:
                return rows[0]
        rows = self.query("select * exclude (msisdn_hash), null as sla_state from read_parquet($files) "
                          "where break_key = $key order by business_date desc limit 1",
                          {"files": files, "key": break_key})
        return rows[0] if rows else None

    def story(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        story_id = row.get("order_id") or row["break_key"]
        return self.query("select * from read_parquet($file) where story_id = $id "
                          "order by event_at, ledger, source_file, source_line",
                          {"file": self.file(row["business_date"], "story"), "id": story_id})

    def other_breaks(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        if not row.get("order_id"):
            return []
        latest = self.latest_breaks()
        if latest is not None and latest[0] == row["business_date"]:
            source, extra = latest[1], {}
        else:
            source, extra = "read_parquet($file)", {"file": self.file(row["business_date"], "breaks")}
        return self.query(f"select break_key, break_type, status, difference from {source} "
                          "where order_id = $id and break_key <> $key order by break_key",
                          {**extra, "id": row["order_id"], "key": row["break_key"]})

    def search(self, text: str, phone_hash: str | None) -> dict[str, list[dict[str, Any]]]:
        """Orders and breaks for an order id, a provider transaction or refund id, a credit id,
        or (``phone_hash``) a whole phone number."""
        days = self.dates()  # listed once: every file below is one of these dates'
        if not days:
            return {"orders": [], "breaks": []}
        latest = self.latest_breaks()
        source, extra = (latest[1], {}) if latest else ("read_parquet($file)", {"file": self.file(days[-1], "breaks")})
        if phone_hash:
            return {"orders": self._orders_of_phone(phone_hash, days),
                    "breaks": self._breaks_with(source, extra, [("msisdn_hash", phone_hash)])}
        ids_files = self.holding([self.file(d, "ids") for d in days], "id", [text])
        order_ids = {r["order_id"] for r in self.query(
            "select distinct order_id from read_parquet($files) where id = $q and order_id is not null",
            {"files": ids_files, "q": text})} if ids_files else set()
        order_ids.add(text)
        orders_files = self.holding([self.file(d, "orders") for d in days], "order_id", order_ids)
        orders = self._newest_orders(orders_files, "order_id in (select unnest($ids::varchar[]))",
                                     {"ids": sorted(order_ids)})
        wanted = [("order_id", i) for i in sorted(order_ids)] + [("provider_txn_id", text), ("credit_id", text)]
        return {"orders": orders, "breaks": self._breaks_with(source, extra, wanted)}

    def _newest_orders(self, files: list[str], condition: str, params: dict[str, Any],
                       limit: int = 200) -> list[dict[str, Any]]:
        """The orders of the index ``files`` that meet ``condition`` (fixed text), newest first."""
        if not files:
            return []
        return self.query(f"select * exclude (msisdn_hash) from read_parquet($files) where {condition} "
                          "order by created_at desc limit $n", {"files": files, "n": limit, **params})

    def _orders_of_phone(self, phone_hash: str, days: list[date], limit: int = 200) -> list[dict[str, Any]]:
        """The orders of a whole phone number (its keyed hash) on ``days``, newest first. Where a
        date has its phone index, the orders it lists under the hash's first 32 bits are read, by
        their ids, and their whole hash compared; a date published before the index had one scans
        its orders' hashes."""
        key = int(phone_hash[:8], 16)
        indexed, scanned = [], []
        for day in days:
            (indexed if Path(self.file(day, "phones")).exists() else scanned).append(day)
        phones = self.holding([self.file(d, "phones") for d in indexed], "msisdn_key", [key])
        order_ids = sorted({r["order_id"] for r in self.query(
            "select distinct order_id from read_parquet($files) where msisdn_key = $k",
            {"files": phones, "k": key})}) if phones else []
        files = self.holding([self.file(d, "orders") for d in indexed], "order_id", order_ids) if order_ids else []
        # each part's newest `limit` hold the newest `limit` of both
        found = (self._newest_orders(files, "order_id in (select unnest($ids::varchar[])) and msisdn_hash = $h",
                                     {"ids": order_ids, "h": phone_hash}, limit)
                 + self._newest_orders([self.file(d, "orders") for d in scanned], "msisdn_hash = $h",
                                       {"h": phone_hash}, limit))
        return _newest_first(found, "created_at", "business_date", "order_id")[:limit]

    def _breaks_with(self, source: str, extra: dict[str, Any], wanted: list[tuple[str, str]],
                     limit: int = 200) -> list[dict[str, Any]]:
        """The breaks of ``source`` with any of the (column, value) pairs ``wanted``, newest first:
        one lookup a pair, each by the numbered table's index on that column (a scan of every
        break for all of them at once took ~40 ms at 326,000 breaks), or that one scan for more
        pairs than MOST_LOOKUPS (an id on many orders)."""
        rows = self._rows(source, "msisdn_hash")
        if len(wanted) > MOST_LOOKUPS:
            values = {c: [v for column, v in wanted if column == c] for c in LOOKUP_COLUMNS}
            return self.query(f"select {rows} from {source} where {BREAKS_OF_ANY}", {**extra, **values, "n": limit})
        found: dict[str, dict[str, Any]] = {}
        for column, value in wanted:  # each lookup's newest `limit` hold the newest `limit` of all
            for row in self.query(f"select {rows} from {source} where {LOOKUP_COLUMNS[column]} = $v "
                                  "order by first_seen desc, break_key limit $n", {**extra, "v": value, "n": limit}):
                found[row["break_key"]] = row
        return _newest_first(found.values(), "first_seen", "break_key")[:limit]  # as the pages order them

    def today(self) -> dict[str, Any]:
        day = self.latest()
        if day is None:
            return {"day": None}
        by_type = self.query("select break_type, status, count(*) as n, sum(difference) as amount, "
                             "sum(difference) filter (where difference > 0) as long_amount, "
                             "sum(difference) filter (where difference < 0) as short_amount "
                             "from read_parquet($file) group by all order by break_type, status",
                             {"file": self.file(day, "breaks")})
        settlement = self.query("select * from read_parquet($file) order by provider", {"file": self.file(day, "settlement")})
        product = self.query("select sum(orders) as orders, sum(paid_orders) as paid_orders, sum(gmv) as gmv, "
                             "sum(credited_orders) as credited_orders, sum(late_orders) as late_orders "
                             "from read_parquet($file)", {"file": self.file(day, "product")})[0]
        return {"day": day, "by_type": by_type, "settlement": settlement, "product": product}

    def settlement(self, first: date, last: date) -> list[dict[str, Any]]:
        files = self.files("settlement", first, last)
        if not files:
            return []
        return self.query("select * from read_parquet($files) order by business_date, provider", {"files": files})

    def breaks_by_side(self, day: date) -> list[dict[str, Any]]:
        """Breaks of a night by type, 长款 (difference > 0) and 短款 (< 0)."""
        return self.query("select break_type, status, "
                          "count(*) filter (where difference > 0) as long_n, "
                          "coalesce(sum(difference) filter (where difference > 0), 0) as long_amount, "
                          "count(*) filter (where difference < 0) as short_n, "
                          "coalesce(sum(difference) filter (where difference < 0), 0) as short_amount, "
                          "count(*) as n from read_parquet($file) group by all order by break_type, status",
                          {"file": self.file(day, "breaks")})

    def product_options(self) -> dict[str, list[str]]:
        """The values each product filter offers, from every published date (cached until a
        date is published or replaced)."""
        files = self.files("product")
        if not files:
            return {}
        stamp = tuple((f, Path(f).stat().st_mtime_ns) for f in files if Path(f).exists())
        cached = self._options
        if cached is not None and cached[0] == stamp:
            return cached[1]
        out = {}
        for col in ("channel", "province", "product_type", "pay_method"):
            out[col] = [r["v"] for r in self.query(
                f"select distinct {col} as v from read_parquet($files) where {col} <> '' order by 1", {"files": files})]
        self._options = (stamp, out)
        return out

    def product_daily(self, first: date, last: date, dims: dict[str, str | None], split: str | None) -> list[dict[str, Any]]:
        """Per day (and per value of ``split``, a column name from a fixed list), over the
        filtered slice."""
        files = self.files("product", first, last)
        if not files:
            return []
        parts, params = ["order_date between $first and $last"], {"files": files, "first": first, "last": last}
        for col in ("channel", "province", "product_type", "pay_method"):
            if dims.get(col):
                parts.append(f"{col} = ${col}")
                params[col] = dims[col]
        group = f", {split} as series" if split in ("channel", "province", "product_type", "pay_method") else \
            ", 'all' as series"
        return self.query(
            f"select order_date{group}, sum(orders) as orders, sum(paid_orders) as paid_orders, sum(gmv) as gmv, "
            f"sum(credited_orders) as credited_orders, sum(late_orders) as late_orders, "
            f"sum(delay_minutes_sum) as delay_sum from read_parquet($files) where {' and '.join(parts)} "
            f"group by all order by all", params)
