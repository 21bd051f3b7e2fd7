"""Pull the order ledger and the billing records from the platform's database into the landing zone.

For business date D a pull writes, under ``<landing>/<D>/<kind>/`` (kind: ``orders`` | ``billing``):

- ``<kind>_<D>.parquet``: the rows placed on D, as they stand at the pull. Orders by
  ``created_at`` in [D 00:00, D+1 00:00); billing by ``credited_at`` in [D + cutoff, D+1 + cutoff)
  (the billing cutoff of docs/MATCHING.md, 02:00 with the default grace). Always written, empty
  when the day had no rows, so that "no rows" and "not pulled" differ.
- ``<kind>_<D>_delta_<n>.parquet``: rows of earlier dates whose ``updated_at`` moved since the
  previous pull (late status changes, late credits, back-dated inserts); n = 1, 2, … for each
  pull of D that found some. Not written when there are none.

A small JSON state file per kind (``<state_dir>/<kind>.json``) keeps the watermark: the highest
``updated_at`` the previous pull saw. The next pull takes rows with ``updated_at`` in
(watermark − overlap, now's highest]; the overlap catches transactions that committed late with
an earlier timestamp, so a row may come twice: the one with the latest ``updated_at`` wins.
Pulling a date earlier than the last one pulled (a backfill) rewrites its base file and leaves
the watermark alone.

Rows are streamed in chunks straight into Parquet, Arrow end to end: PostgreSQL through ADBC
(a server-side cursor fetched in chunks), MySQL/MariaDB through connectorx (``arrow_stream``).
Each file is then checked against a separate ``count(*)``/``sum(amount)`` query on the source;
a difference fails the pull (ChecksumMismatch) before anything lands or the watermark moves.
On PostgreSQL the watermark, the rows and the check read one REPEATABLE READ snapshot; MySQL has
no way to share a snapshot with connectorx's own connections, so a row changed during the pull
can fail the check there, and the task's retry pulls again.

Amounts stay exact decimals throughout (a floating-point money column is refused). Values are
bound as parameters; table and column names come from configuration and must be plain
identifiers. Logs name the source as ``scheme://user@host:port/db`` and never show row values.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl import schema
from etl.extract.credentials import redact_uri

log = logging.getLogger(__name__)

Kind = Literal["orders", "billing"]
LOCAL_TZ = "Asia/Shanghai"
DEFAULT_OVERLAP = timedelta(minutes=5)
DEFAULT_CHUNK_ROWS = 50_000


class ExtractError(Exception):
    """A pull that cannot complete. Nothing was landed and the watermark did not move."""


class ChecksumMismatch(ExtractError):
    """The file written disagrees with the source's own count or amount sum."""


def _landing_schema(canonical: pa.Schema) -> pa.Schema:
    lineage = {f.name for f in schema.PARSER_LINEAGE}
    return pa.schema([f for f in canonical if f.name not in lineage])


# The landing columns of shared/spec/landing.md, typed as etl.schema (without parser lineage).
LANDING_SCHEMAS: dict[str, pa.Schema] = {
    "orders": _landing_schema(schema.ORDERS),
    "billing": _landing_schema(schema.BILLING),
}
AMOUNT_COLUMNS = {"orders": "pay_amount", "billing": "amount"}


# ---------------------------------------------------------------------------- configuration

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def identifier(name: str, what: str, *, dotted: bool = False) -> tuple[str, ...]:
    """The parts of a plain SQL identifier (``schema.table`` when ``dotted``), or ExtractError."""
    parts = tuple(name.split(".")) if dotted and isinstance(name, str) else (name,)
    if not parts or len(parts) > 2 or not all(isinstance(p, str) and _IDENTIFIER.fullmatch(p) for p in parts):
        raise ExtractError(f"{what} {name!r} is not a plain identifier "
                           f"(letters, digits and _, not starting with a digit{', optionally schema.table' if dotted else ''})")
    return parts


@dataclass(frozen=True)
class SourceTable:
    """Where one ledger lives in the source database. All names are the source's own."""

    table: str  # "orders" or "schema.orders"
    date_column: str | tuple[str, ...]  # places a row on a business date; several → coalesce(a, b, …)
    updated_column: str | None = "updated_at"  # last change of a row; None: no delta pulls
    columns: Mapping[str, str | None] = field(default_factory=dict)  # landing column → source column (None: absent)

    def source_column(self, landing_column: str) -> str | None:
        return self.columns.get(landing_column, landing_column)


ORDERS_TABLE = SourceTable(table="orders", date_column="created_at")
BILLING_TABLE = SourceTable(table="billing", date_column="credited_at")
DEFAULT_TABLES: dict[str, SourceTable] = {"orders": ORDERS_TABLE, "billing": BILLING_TABLE}


@dataclass(frozen=True)
class _Plan:
    """The validated SQL pieces of one pull, quoted for one dialect."""

    kind: str
    schema: pa.Schema
    select: str  # select … from …
    from_table: str
    date_expr: str
    updated_expr: str | None
    amount_expr: str
    date_label: str
    updated_label: str | None


def _plan(kind: str, table: SourceTable, quote: str) -> _Plan:
    q = lambda parts: ".".join(f"{quote}{p}{quote}" for p in parts)  # noqa: E731 (validated parts only)
    landing = LANDING_SCHEMAS[kind]
    unknown = set(table.columns) - set(landing.names)
    if unknown:
        raise ExtractError(f"{kind}: column mapping names {sorted(unknown)}, which are not landing columns "
                           f"({', '.join(landing.names)})")
    from_table = q(identifier(table.table, f"{kind} table", dotted=True))
    items = []
    for name in landing.names:
        source = table.source_column(name)
        if source is not None:
            items.append(f"{q(identifier(source, f'{kind} column'))} as {q((name,))}")
    date_columns = (table.date_column,) if isinstance(table.date_column, str) else tuple(table.date_column)
    if not date_columns:
        raise ExtractError(f"{kind}: no date column")
    quoted_dates = [q(identifier(c, f"{kind} date column")) for c in date_columns]
    date_expr = quoted_dates[0] if len(quoted_dates) == 1 else f"coalesce({', '.join(quoted_dates)})"
    updated_expr = (q(identifier(table.updated_column, f"{kind} updated column"))
                    if table.updated_column else None)
    amount_source = table.source_column(AMOUNT_COLUMNS[kind])
    if amount_source is None:
        raise ExtractError(f"{kind}: {AMOUNT_COLUMNS[kind]} cannot be absent: the pull is checked by its sum")
    return _Plan(
        kind=kind,
        schema=landing,
        select=f"select {', '.join(items)} from {from_table}",
        from_table=from_table,
        date_expr=date_expr,
        updated_expr=updated_expr,
        amount_expr=q(identifier(amount_source, f"{kind} column")),
        date_label="coalesce(" + ", ".join(date_columns) + ")" if len(date_columns) > 1 else date_columns[0],
        updated_label=table.updated_column,
    )


@dataclass(frozen=True)
class Condition:
    expr: str  # a quoted column or coalesce() of quoted columns, from _Plan
    op: Literal[">=", "<", ">", "<="]
    value: datetime
    label: str  # the same in words, for messages

    def describe(self) -> str:
        return f"{self.label} {self.op} {self.value:%Y-%m-%d %H:%M:%S.%f}".removesuffix(".000000")


def _describe(where: list[Condition]) -> str:
    return " and ".join(c.describe() for c in where)


# ---------------------------------------------------------------------------- sources


def _local_naive(value: object) -> datetime | None:
    """A timestamp the database returned, as Asia/Shanghai wall time without a zone."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime.combine(value, time())
    raise ExtractError(f"the updated column holds {type(value).__name__} values, not timestamps")


def _scrub(text: str, uri: str) -> str:
    """An error text with the URI's password taken out (drivers may echo their connection string)."""
    password = urlsplit(uri).password
    for secret in filter(None, {password, unquote(password or "")}):
        text = text.replace(secret, "***")
    return text


class _Source:
    """One open connection to the source database, for one pull."""

    quote = '"'
    name = "?"

    def __init__(self, uri: str):
        self.uri = uri

    def __enter__(self) -> "_Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def latest(self, plan: _Plan) -> datetime | None:
        raise NotImplementedError

    def batches(self, plan: _Plan, where: list[Condition], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def totals(self, plan: _Plan, where: list[Condition]) -> tuple[int, Decimal]:
        raise NotImplementedError


class _Postgres(_Source):
    """ADBC: the pull declares a server-side cursor with bound parameters and fetches it in
    chunks, each chunk decoded to Arrow by the driver. (ADBC's COPY path streams faster but takes
    no parameters; a parameterised query without a cursor is buffered whole by libpq.)"""

    name = "PostgreSQL"

    def __init__(self, uri: str):
        super().__init__(uri)
        import adbc_driver_postgresql.dbapi as adbc

        scheme, rest = uri.split("://", 1)
        try:
            self.conn = adbc.connect(f"{scheme.split('+')[0]}://{rest}")
        except Exception as exc:
            raise ExtractError(f"cannot connect to {redact_uri(uri)}: {_scrub(str(exc), uri)}") from None
        with self.conn.cursor() as cur:
            # One snapshot for the watermark, the rows and the totals that check them.
            cur.execute("set transaction isolation level repeatable read, read only")
            cur.execute(f"set time zone '{LOCAL_TZ}'")

    def close(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self.conn.close()

    def _where(self, where: list[Condition]) -> tuple[str, tuple[datetime, ...]]:
        sql = " and ".join(f"{c.expr} {c.op} ${i}" for i, c in enumerate(where, 1))
        return sql, tuple(c.value for c in where)

    def latest(self, plan: _Plan) -> datetime | None:
        with self.conn.cursor() as cur:
            cur.execute(f"select max({plan.updated_expr}) as latest from {plan.from_table}")
            return _local_naive(cur.fetchone()[0])

    def batches(self, plan: _Plan, where: list[Condition], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        condition, params = self._where(where)
        with self.conn.cursor() as cur, \
                self.conn.cursor(adbc_stmt_kwargs={"adbc.postgresql.use_copy": "false"}) as fetch:
            cur.execute(f"declare recon_pull no scroll cursor for {plan.select} where {condition}", parameters=params)
            while True:
                # FETCH takes no parameter for its count: an int we checked, not a value from outside.
                fetch.execute(f"fetch forward {int(chunk_rows)} from recon_pull")
                chunk = fetch.fetch_arrow_table()
                if chunk.num_rows == 0:
                    break
                yield from chunk.to_batches()
            cur.execute("close recon_pull")

    def totals(self, plan: _Plan, where: list[Condition]) -> tuple[int, Decimal]:
        condition, params = self._where(where)
        with self.conn.cursor() as cur:
            cur.execute(f"select count(*) as n, sum({plan.amount_expr})::text as amount "
                        f"from {plan.from_table} where {condition}", parameters=params)
            count, amount = cur.fetchone()
        return int(count), Decimal(amount or 0)


class _MySQL(_Source):
    """connectorx streams the rows as Arrow (``arrow_stream``); pymysql, with bound parameters,
    reads the watermark and the totals."""

    quote = "`"
    name = "MySQL/MariaDB"
    SESSION_ZONE = "SET time_zone = '+08:00'"  # TIMESTAMP columns as Shanghai wall time (no DST in China)

    def __init__(self, uri: str):
        super().__init__(uri)
        import pymysql

        parts = urlsplit(uri)
        self.cx_uri = urlunsplit(("mysql", parts.netloc, parts.path, parts.query, ""))
        try:
            self.conn = pymysql.connect(
                host=parts.hostname or "localhost", port=parts.port or 3306,
                user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                database=unquote(parts.path.lstrip("/")) or None, charset="utf8mb4",
                init_command=self.SESSION_ZONE, autocommit=True,
            )
        except Exception as exc:
            raise ExtractError(f"cannot connect to {redact_uri(uri)}: {_scrub(str(exc), uri)}") from None

    def close(self) -> None:
        self.conn.close()

    def latest(self, plan: _Plan) -> datetime | None:
        with self.conn.cursor() as cur:
            cur.execute(f"select max({plan.updated_expr}) from {plan.from_table}")
            return _local_naive(cur.fetchone()[0])

    @staticmethod
    def _literal(value: datetime) -> str:
        # connectorx has no parameter binding. The only values a pull puts into SQL are the
        # window's bounds, which are datetime objects we computed; rendering one through a fixed
        # format cannot inject anything. Anything else is refused.
        if type(value) is not datetime or value.tzinfo is not None:
            raise TypeError(f"only naive datetime bounds are rendered, not {type(value).__name__}")
        return f"TIMESTAMP'{value:%Y-%m-%d %H:%M:%S.%f}'"

    def batches(self, plan: _Plan, where: list[Condition], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        import connectorx

        condition = " and ".join(f"{c.expr} {c.op} {self._literal(c.value)}" for c in where)
        try:
            reader = connectorx.read_sql(self.cx_uri, f"{plan.select} where {condition}",
                                         return_type="arrow_stream", batch_size=int(chunk_rows),
                                         pre_execution_query=[self.SESSION_ZONE])
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except (RuntimeError, OSError, pa.ArrowException) as exc:
            raise ExtractError(f"{plan.kind}: reading {redact_uri(self.uri)} failed: {_scrub(str(exc), self.uri)}") from None

    def totals(self, plan: _Plan, where: list[Condition]) -> tuple[int, Decimal]:
        condition = " and ".join(f"{c.expr} {c.op} %s" for c in where)
        with self.conn.cursor() as cur:
            cur.execute(f"select count(*), sum({plan.amount_expr}) from {plan.from_table} where {condition}",
                        tuple(c.value for c in where))
            count, amount = cur.fetchone()
        return int(count), Decimal(amount or 0)


_DIALECTS: dict[str, type[_Source]] = {
    "postgresql": _Postgres, "postgres": _Postgres, "mysql": _MySQL, "mariadb": _MySQL,
}


def _dialect(uri: str) -> type[_Source]:
    scheme = urlsplit(uri).scheme.split("+")[0].lower()
    if scheme not in _DIALECTS:
        raise ExtractError(f"unsupported database {redact_uri(uri)}: the URI must start with one of "
                           f"{', '.join(s + '://' for s in _DIALECTS)}")
    return _DIALECTS[scheme]


# ---------------------------------------------------------------------------- rows to Parquet


def _typed(column: pa.Array, target: pa.Field, label: str) -> pa.Array:
    if isinstance(column.type, pa.ExtensionType):
        # ADBC hands PostgreSQL NUMERIC over as its text in an opaque extension type: parse that
        # text exactly, rather than let anything round it through a float.
        column = column.storage
    kind = target.type
    try:
        if pa.types.is_decimal(kind) and pa.types.is_floating(column.type):
            raise ExtractError(f"{label}: {target.name} arrives as {column.type}; money must be DECIMAL/NUMERIC "
                               "in the source, never floating point")
        if pa.types.is_timestamp(kind) and pa.types.is_timestamp(column.type):
            if column.type.tz is not None:
                column = pc.local_timestamp(column.cast(pa.timestamp(column.type.unit, tz=LOCAL_TZ)))
            if column.type.unit != kind.unit:
                column = pc.floor_temporal(column, unit="second")  # the landing keeps whole seconds
        return pc.cast(column, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        detail = "" if target.name == "msisdn" else f": {exc}"  # the message may quote a value
        hint = " (amounts must fit DECIMAL(18,2): at most 2 decimal places)" if pa.types.is_decimal(kind) else ""
        raise ExtractError(f"{label}: column {target.name} ({column.type}) cannot be read as {kind}{hint}{detail}") from None


def _conform(batch: pa.RecordBatch, landing: pa.Schema, label: str) -> pa.RecordBatch:
    """One chunk from the driver in the landing schema: names, types, required values."""
    arrays = []
    for target in landing:
        index = batch.schema.get_field_index(target.name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, target.type)
        typed = _typed(column, target, label)
        if not target.nullable and typed.null_count:
            raise ExtractError(f"{label}: {target.name} is empty on {typed.null_count} row(s); the landing zone requires it")
        arrays.append(typed)
    return pa.RecordBatch.from_arrays(arrays, schema=landing)


def _file_totals(path: Path, amount_column: str) -> tuple[int, Decimal]:
    """Row count and amount sum of a written Parquet file, read back from disk."""
    parquet = pq.ParquetFile(path)
    total = Decimal(0)
    for chunk in parquet.iter_batches(columns=[amount_column]):
        value = pc.sum(chunk.column(0)).as_py()
        total += value if value is not None else 0
    return parquet.metadata.num_rows, total


@dataclass(frozen=True)
class LandedFile:
    path: Path
    rows: int
    amount: Decimal  # sum of pay_amount (orders) or amount (billing), checked against the source
    selection: str  # which rows, in words


@dataclass(frozen=True)
class PullResult:
    kind: str
    business_date: date
    files: tuple[LandedFile, ...]  # the base file first, then the delta when there was one
    watermark: datetime | None  # highest updated_at seen, where the next pull's delta starts
    previous_watermark: datetime | None


@dataclass
class _Staged:
    temp: Path
    rows: int
    amount: Decimal
    selection: str


def _extract(source: _Source, plan: _Plan, where: list[Condition], temp: Path,
             chunk_rows: int, label: str) -> _Staged:
    writer = pq.ParquetWriter(temp, plan.schema)
    try:
        for batch in source.batches(plan, where, chunk_rows):
            writer.write_batch(_conform(batch, plan.schema, label), row_group_size=chunk_rows)
    finally:
        writer.close()
    rows, amount = _file_totals(temp, AMOUNT_COLUMNS[plan.kind])
    want_rows, want_amount = source.totals(plan, where)
    if rows != want_rows or amount != want_amount:
        raise ChecksumMismatch(
            f"{label}: the source counts {want_rows} rows with {AMOUNT_COLUMNS[plan.kind]} summing to "
            f"{want_amount}, the file written holds {rows} rows summing to {amount} "
            f"(rows where {_describe(where)}). Nothing landed and the watermark is unchanged: pull again; "
            "a mismatch that repeats means rows are lost or altered between the database and the file"
        )
    log.info("%s: %d rows, %s %s, match the source", label, rows, AMOUNT_COLUMNS[plan.kind], amount)
    return _Staged(temp, rows, amount, _describe(where))


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _State:
    watermark: datetime | None = None
    last_date: date | None = None


def _read_state(path: Path, source: str) -> _State:
    if not path.exists():
        return _State()
    try:
        data = json.loads(path.read_text("utf-8"))
        watermark = datetime.fromisoformat(data["watermark"]) if data.get("watermark") else None
        last_date = date.fromisoformat(data["last_date"]) if data.get("last_date") else None
    except (ValueError, KeyError, TypeError) as exc:
        raise ExtractError(f"{path}: unreadable pull state ({exc}); fix or delete it (deleting restarts deltas)") from None
    if data.get("source") != source:
        raise ExtractError(f"{path}: this state belongs to {data.get('source')!r}, but the pull reads {source!r}; "
                           "use another state_dir, or delete the file to start over")
    return _State(watermark, last_date)


def _write_state(path: Path, source: str, state: _State, files: list[LandedFile]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    temp.write_text(json.dumps({
        "source": source,
        "watermark": state.watermark.isoformat() if state.watermark else None,
        "last_date": state.last_date.isoformat() if state.last_date else None,
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": [{"file": f.path.name, "rows": f.rows, "amount": str(f.amount)} for f in files],
    }, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


@contextmanager
def _exclusive(state_file: Path) -> Iterator[None]:
    """One pull per kind and state at a time: two would race for the watermark."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with open(state_file.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExtractError(f"another pull holds {lock.name}; pulls of one kind must run one at a time") from None
        yield


def _next_delta(folder: Path, stem: str) -> int:
    pattern = re.compile(re.escape(stem) + r"_delta_(\d+)\.parquet")
    numbers = [int(m.group(1)) for p in folder.glob(f"{stem}_delta_*.parquet") if (m := pattern.fullmatch(p.name))]
    return max(numbers, default=0) + 1


# ---------------------------------------------------------------------------- the pull


def pull(kind: Kind, uri: str, business_date: date | str, landing: Path | str, state_dir: Path | str, *,
         table: SourceTable | None = None, cutoff: timedelta = timedelta(0),
         chunk_rows: int = DEFAULT_CHUNK_ROWS, overlap: timedelta = DEFAULT_OVERLAP) -> PullResult:
    """Pull ``kind``'s rows of ``business_date`` (and the rows changed since the last pull) from
    the database at ``uri`` into ``<landing>/<date>/<kind>/``. See the module docstring."""
    if kind not in LANDING_SCHEMAS:
        raise ValueError(f"kind must be one of {sorted(LANDING_SCHEMAS)}, not {kind!r}")
    with _exclusive(Path(state_dir) / f"{kind}.json"):
        return _pull(kind, uri, business_date, landing, state_dir, table=table, cutoff=cutoff,
                     chunk_rows=chunk_rows, overlap=overlap)


def _pull(kind: Kind, uri: str, business_date: date | str, landing: Path | str, state_dir: Path | str, *,
          table: SourceTable | None, cutoff: timedelta, chunk_rows: int, overlap: timedelta) -> PullResult:
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    day = date.fromisoformat(business_date) if isinstance(business_date, str) else business_date
    table = table or DEFAULT_TABLES[kind]
    dialect = _dialect(uri)
    plan = _plan(kind, table, dialect.quote)  # configuration errors surface before any connection
    folder = Path(landing) / day.isoformat() / kind
    state_file = Path(state_dir) / f"{kind}.json"
    source_id = f"{redact_uri(uri)}#{table.table}"
    state = _read_state(state_file, source_id)
    start = datetime.combine(day, time()) + cutoff
    end = start + timedelta(days=1)
    stem = f"{kind}_{day.isoformat()}"
    fresh_folder = not folder.exists()  # removed again if the pull fails: no empty folder that looks pulled
    folder.mkdir(parents=True, exist_ok=True)
    base_temp = folder / f".{stem}.{os.getpid()}.part"
    delta_temp = folder / f".{stem}_delta.{os.getpid()}.part"
    backfill = state.last_date is not None and day < state.last_date
    delta: _Staged | None = None
    try:
        with dialect(uri) as source:
            log.info("%s %s: pulling from %s (%s)", kind, day, redact_uri(uri), source.name)
            latest = source.latest(plan) if plan.updated_expr else None
            on_day = [Condition(plan.date_expr, ">=", start, plan.date_label),
                      Condition(plan.date_expr, "<", end, plan.date_label)]
            base = _extract(source, plan, on_day, base_temp, chunk_rows, f"{kind} {day}")
            if plan.updated_expr and state.watermark and latest and not backfill:
                changed = [Condition(plan.updated_expr, ">", state.watermark - overlap, plan.updated_label or ""),
                           Condition(plan.updated_expr, "<=", latest, plan.updated_label or ""),
                           Condition(plan.date_expr, "<", start, plan.date_label)]
                delta = _extract(source, plan, changed, delta_temp, chunk_rows, f"{kind} {day} delta")
        os.replace(base_temp, folder / f"{stem}.parquet")
        landed = [LandedFile(folder / f"{stem}.parquet", base.rows, base.amount, base.selection)]
        if delta is not None and delta.rows:
            target = folder / f"{stem}_delta_{_next_delta(folder, stem)}.parquet"
            os.replace(delta_temp, target)
            landed.append(LandedFile(target, delta.rows, delta.amount, delta.selection))
    except BaseException as exc:
        base_temp.unlink(missing_ok=True)
        delta_temp.unlink(missing_ok=True)
        if fresh_folder and not any(folder.iterdir()):
            folder.rmdir()
        if isinstance(exc, Exception) and not isinstance(exc, ExtractError):  # a driver's own error
            raise ExtractError(f"{kind} {day}: reading {redact_uri(uri)} failed: "
                               f"{type(exc).__name__}: {_scrub(str(exc), uri)}") from None
        raise
    finally:
        delta_temp.unlink(missing_ok=True)  # an empty delta is not landed
    if backfill:
        new_state = state
    else:
        marks = [m for m in (state.watermark, latest) if m is not None]
        new_state = _State(max(marks) if marks else None, day)
    _write_state(state_file, source_id, new_state, landed)
    for item in landed:
        log.info("%s %s: landed %s (%d rows)", kind, day, item.path, item.rows)
    return PullResult(kind, day, tuple(landed), new_state.watermark, state.watermark)


def pull_orders(uri: str, business_date: date | str, landing: Path | str, state_dir: Path | str, *,
                table: SourceTable = ORDERS_TABLE, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                overlap: timedelta = DEFAULT_OVERLAP) -> PullResult:
    """The orders created on ``business_date``, plus earlier orders changed since the last pull."""
    return pull("orders", uri, business_date, landing, state_dir, table=table,
                chunk_rows=chunk_rows, overlap=overlap)


def pull_billing(uri: str, business_date: date | str, landing: Path | str, state_dir: Path | str, *,
                 cutoff: timedelta, table: SourceTable = BILLING_TABLE, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 overlap: timedelta = DEFAULT_OVERLAP) -> PullResult:
    """The credits of ``business_date``'s billing export, taken at the cutoff: ``credited_at`` in
    [D + cutoff, D+1 + cutoff). Pass ``cutoff=timedelta(minutes=settings.matching.grace_minutes)``."""
    return pull("billing", uri, business_date, landing, state_dir, table=table, cutoff=cutoff,
                chunk_rows=chunk_rows, overlap=overlap)
