"""Parsers for the internal ledgers (orders, billing, surveys, complaints): UTF-8 CSV with a
header, or Parquet with the same columns (shared/spec/landing.md).

Parsing is set-based in an in-memory DuckDB: read every field as text, then type it with
``try_cast`` and report the first line whose value does not fit, naming the column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from etl import schema
from etl.ingest.base import ParsedFile, ParseError

MONEY_TEXT = r"^-?[0-9]+(\.[0-9]{1,2})?$"  # exact to the fen: three decimals are an error


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | ts | money | int
    required: bool = False  # a value must be present on every row
    non_negative: bool = False
    allowed: tuple[str, ...] = ()  # closed vocabulary, when the spec gives one


LEDGERS: dict[str, tuple[Column, ...]] = {
    "orders": (
        Column("order_id", "text", required=True),
        Column("created_at", "ts", required=True),
        Column("msisdn", "text", required=True),
        Column("province", "text"),
        Column("channel", "text"),
        Column("product_type", "text"),
        Column("product_code", "text"),
        Column("face_value", "money", required=True, non_negative=True),
        Column("pay_amount", "money", required=True, non_negative=True),
        Column("pay_method", "text"),
        Column("status", "text", allowed=("created", "paid", "credited", "failed", "refunded", "cancelled")),
        Column("updated_at", "ts"),
    ),
    "billing": (
        Column("credit_id", "text", required=True),
        Column("order_id", "text"),
        Column("msisdn", "text"),
        Column("amount", "money", required=True),
        Column("product_type", "text"),
        Column("credited_at", "ts", required=True),
        Column("result", "text", required=True, allowed=("success", "failed", "reversed")),
        Column("result_code", "text"),
        Column("reverses_credit_id", "text"),
    ),
    "surveys": (
        Column("response_id", "text", required=True),
        Column("order_id", "text"),
        Column("submitted_at", "ts"),
        Column("csat", "int"),
        Column("nps", "int"),
        Column("comment", "text"),
    ),
    "complaints": (
        Column("ticket_id", "text", required=True),
        Column("order_id", "text"),
        Column("msisdn", "text"),
        Column("opened_at", "ts"),
        Column("category", "text"),
        Column("closed_at", "ts"),
    ),
}
_RANGES = {"csat": (1, 5), "nps": (0, 10)}


def _typed(col: Column) -> str:
    raw = f'nullif(trim("{col.name}"), \'\')'
    if col.kind == "ts":
        # ISO 8601 with an offset is converted to Shanghai wall time; naive is taken as local.
        return f"(try_cast({raw} as timestamptz) at time zone 'Asia/Shanghai')"
    if col.kind == "money":
        return f"case when regexp_full_match({raw}, '{MONEY_TEXT}') then cast({raw} as decimal(18,2)) end"
    if col.kind == "int":
        return f"try_cast({raw} as tinyint)"
    return raw


def _problem(col: Column) -> str:
    """SQL condition true on a row whose raw value breaks the column's rule."""
    raw = f'nullif(trim("{col.name}"), \'\')'
    typed = _typed(col)
    checks = [f"({raw} is not null and {typed} is null)"]
    if col.required:
        checks.append(f"{raw} is null")
    if col.non_negative:
        checks.append(f"{typed} < 0")
    if col.allowed:
        values = ", ".join(f"'{v}'" for v in col.allowed)
        checks.append(f"({raw} is not null and {raw} not in ({values}))")
    if col.name in _RANGES:
        lo, hi = _RANGES[col.name]
        checks.append(f"({typed} not between {lo} and {hi})")
    return " or ".join(checks)


def _read_raw(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if path.suffix == ".parquet":
        con.execute("create temp table raw as select *, row_number() over () as source_line from read_parquet($p)",
                    {"p": str(path)})
        return
    head = path.read_bytes()[:4096]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the 4 KiB edge
            raise ParseError(path, None, f"not UTF-8 (byte {exc.start}: {head[exc.start:exc.start+2]!r}); "
                             "the internal ledgers are UTF-8") from exc
    try:
        con.execute(
            "create temp table raw as select *, row_number() over () + 1 as source_line "
            "from read_csv($p, header = true, all_varchar = true, delim = ',', quote = '\"', "
            "escape = '\"', strict_mode = true, null_padding = false, encoding = 'utf-8')",
            {"p": str(path)},
        )
    except duckdb.Error as exc:
        line = _line_of(str(exc))
        raise ParseError(path, line, f"malformed CSV: {str(exc).splitlines()[0]}") from exc


def _line_of(message: str) -> int | None:
    match = re.search(r"[Ll]ine:? (\d+)", message)
    return int(match.group(1)) if match else None


def parse(path: Path, source: str) -> ParsedFile:
    """Parse one ledger file of ``source`` into its etl.schema shape, or raise ParseError."""
    columns = LEDGERS[source]
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'Asia/Shanghai'")
        _read_raw(con, path)
        present = {name for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = 'raw'").fetchall()}
        missing = [c.name for c in columns if c.name not in present and (c.required or source in ("orders", "billing"))]
        if missing:
            raise ParseError(path, 1, f"missing column(s) {missing} in the header")
        for col in columns:
            if col.name not in present:
                con.execute(f'alter table raw add column "{col.name}" varchar')
            else:
                con.execute(f'alter table raw alter "{col.name}" type varchar')
        for col in columns:
            bad = con.execute(
                f'select source_line, "{col.name}" from raw where {_problem(col)} order by source_line limit 1'
            ).fetchone()
            if bad:
                shown = (bad[1] or "")[:40]
                raise ParseError(path, int(bad[0]), f"column {col.name}: bad value {shown!r} ({col.kind}"
                                 + (", required" if col.required else "") + ")")
        key = columns[0].name
        dup = con.execute(f'select min(source_line), "{key}" from raw group by "{key}" having count(*) > 1 limit 1').fetchone()
        if dup:
            raise ParseError(path, int(dup[0]), f"{key} {dup[1]!r} appears more than once in the file")
        select = ", ".join(f'{_typed(c)} as "{c.name}"' for c in columns)
        table = con.sql(
            f"select {select}, null::varchar as source_member, source_line::bigint as source_line "
            "from raw order by source_line"
        ).to_arrow_table()
    return ParsedFile(path=path, rows=table.cast(schema.SOURCE_SCHEMAS[source]))
