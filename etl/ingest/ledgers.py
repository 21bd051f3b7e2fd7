"""Parsers for the internal ledgers (orders, billing, surveys, complaints): UTF-8 CSV with a
header, or Parquet with the same columns (shared/spec/landing.md).

Before DuckDB sees a CSV its bytes are checked (empty, NUL bytes, over-long lines, UTF-8) and
a file mixing CRLF and LF line ends is normalised to LF. Values are trimmed as they are typed,
unless the file holds no space and no non-ASCII byte (nothing to trim). The header is read
here, so DuckDB is told the columns instead of guessing: a sniffer that guesses may skip lines
it finds odd, and a row must never disappear that way. Every row then must have the header's
width.

Parsing is set-based in an in-memory DuckDB: read every field as text, then type it with
``try_cast`` and report the first line whose value does not fit, naming the column. Values
and patterns are bound as parameters; only this module's own column names are SQL text.

Data problems that are not corruption load with a warning: a value outside a known
vocabulary (a new channel or product), an msisdn that is not 11 digits, a row repeated
exactly (the matcher counts each copy as DUPLICATE_ROW). Two different rows under one key
are a contradiction the file cannot settle: the file is refused.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

from etl import schema
from etl.ingest.base import (STAGED_COMPRESSION, ParsedFile, ParseError, check_text_file, line_blocks,
                             parsing_connection, refuse_empty)
from etl.privacy import mask_msisdn, mask_text
from etl.warehouse import sql_literal

MONEY_TEXT = r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$"  # exact to the fen, within decimal(18, 2)


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

# Open vocabularies (shared/spec/landing.md): another value loads, with a warning naming it,
# so a new channel or product shows up in the run summary instead of silently in the marts.
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "channel": ("web", "app", "alipay_mini", "wechat_mini", "jd"),
        "product_type": ("call_credit", "data", "plan"),
        "pay_method": ("alipay", "wechatpay", "unionpay"),
    },
    "billing": {"product_type": ("call_credit", "data", "plan")},
    "complaints": {"category": ("not_credited", "late_credit", "wrong_amount", "refund", "payment", "other")},
}
MSISDN_TEXT = r"^1[0-9]{10}$"
WILDCARD = re.compile(r"[*?\[\]{}]")  # what DuckDB's readers expand in a path
NOT_UTF8 = "text is not UTF-8 (the internal ledgers are UTF-8; exported as GBK?)"


def _raw(col: Column) -> str:
    """A column's delivered value, trimmed, null when empty: a column of ``_trimmed`` (computed
    once per value; a time's typing reads it up to five times)."""
    return f'"{col.name}"'


def _trimmed(columns: tuple[Column, ...], trim: bool = True) -> str:
    """``raw`` with every value trimmed and an empty one null: what the typing reads. Without
    ``trim`` (the file holds no space and no non-ASCII byte, so trimming would change nothing)
    only an empty value is made null."""
    value = "nullif(trim({}), '')" if trim else "nullif({}, '')"
    return ("(select source_line, " + ", ".join(value.format(f'"{c.name}"') + f' as "{c.name}"' for c in columns)
            + " from raw)")


def _typed(col: Column) -> str:
    raw = _raw(col)
    if col.kind == "ts":
        # ISO 8601 with an offset is converted to Shanghai wall time; naive is taken as local.
        # The two forms the ledgers use (naive, or +08:00) skip the time-zone conversion: it is
        # the same wall time, three times faster.
        return (f"case when length({raw}) = 19 then try_cast({raw} as timestamp) "
                f"when length({raw}) = 25 and ends_with({raw}, '+08:00') then try_cast(left({raw}, 19) as timestamp) "
                f"else (try_cast({raw} as timestamptz) at time zone 'Asia/Shanghai') end")
    if col.kind == "money":
        return f"case when regexp_full_match({raw}, $money_text) then cast({raw} as decimal(18,2)) end"
    if col.kind == "int":
        return f"try_cast({raw} as tinyint)"
    return raw


def _typed_name(col: Column) -> str:
    return f'"typed_{col.name}"'


def _problem(col: Column) -> tuple[str, dict[str, object]]:
    """SQL condition true on a row whose raw value breaks the column's rule, and its parameters
    (run on the ``checked`` table, which holds each typed value beside the raw one)."""
    raw, typed = _raw(col), _typed_name(col)
    params: dict[str, object] = {}
    checks = [f"({raw} is not null and {typed} is null)"]
    if col.required:
        checks.append(f"{raw} is null")
    if col.non_negative:
        checks.append(f"{typed} < 0")
    if col.kind == "ts":  # staged times are whole seconds (etl.schema.TS): a fraction is not silently cut
        checks.append(f"{typed} <> date_trunc('second', {typed})")
    if col.allowed:
        checks.append(f"({raw} is not null and not list_contains($allowed_{col.name}, {raw}))")
        params[f"allowed_{col.name}"] = list(col.allowed)
    if col.name in _RANGES:
        checks.append(f"({typed} not between $lo_{col.name} and $hi_{col.name})")
        params[f"lo_{col.name}"], params[f"hi_{col.name}"] = _RANGES[col.name]
    return "(" + " or ".join(checks) + ")", params


def _shown(column: str, value: str | None) -> str:
    """A bad value as an error message may show it: phone numbers masked, long text cut."""
    if column == "msisdn":
        return repr(mask_msisdn(value))
    return repr(mask_text((value or "")[:40]))


def _header(path: Path, data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode("utf-8").lstrip("\ufeff").rstrip("\r")
    if "\r" in first:
        raise ParseError(path, 1, "lines end with a bare CR (accepted: LF, CRLF or a mix of both)")
    try:
        names = [n.strip() for n in next(csv.reader(io.StringIO(first)), [])]
    except csv.Error as error:
        raise ParseError(path, 1, f"unreadable header: {error}") from None
    if not any(names):
        raise ParseError(path, 1, "no header line (the ledgers' first line names their columns)")
    named = [n or f"column{i}" for i, n in enumerate(names, 1)]  # a blank name is column<N>
    folded = [n.casefold() for n in named]  # DuckDB's column names ignore case
    twice = sorted({n for n, f in zip(named, folded) if folded.count(f) > 1})
    if twice:
        raise ParseError(path, 1, f"column(s) {twice} appear twice in the header (names are compared "
                         "without case; a blank name is column<N>)")
    return named


def _kept(names: list[str], wanted: list[str]) -> str:
    """The select list of the file's columns we read: other columns (whatever their names,
    ``source_line`` included) are never brought in."""
    return "".join(f'"{name}", ' for name in wanted if name in names)


def _read_raw(con: duckdb.DuckDBPyConnection, path: Path, needed: list[str],
              wanted: list[str]) -> tuple[list[str] | None, Path | None, bool]:
    """``raw``: the file's columns we read, as delivered (text), and each row's ``source_line``.
    A CSV's ``raw`` is a view over the file: the one pass that types and checks every row reads
    it, and only an error message or a repeated key reads it again (materialising 10M rows of
    text cost seconds). Returns a CSV's header, the normalised copy of the file that ``raw``
    reads if one was made (the caller deletes it once ``raw`` is no longer read), and whether
    a value may need trimming."""
    if WILDCARD.search(path.name):
        raise ParseError(path, None, "the file name holds one of * ? [ ] { }: DuckDB reads such a name "
                         "as a pattern, and would read other files by it")
    if path.suffix.lower() == ".parquet":
        try:
            names = [n for (n,) in con.execute("select name from parquet_schema($p)", {"p": str(path)}).fetchall()]
            con.execute(f"create temp table raw as select {_kept(names, wanted)}row_number() over () as source_line "
                        "from read_parquet($p)", {"p": str(path)})
        except duckdb.OutOfMemoryException:
            raise  # the machine's limit, not the file's fault: the run fails, the file stays
        except duckdb.Error as exc:
            raise ParseError(path, None, f"unreadable Parquet: {str(exc).splitlines()[0]}") from exc
        return None, None, True
    shape, header = check_text_file(path, NOT_UTF8)  # in blocks: the file is never held in memory
    names = _header(path, header)
    _refuse_missing(path, needed, set(names))
    source, normalised = path, None
    if shape.mixed_line_ends:
        # Accepted: some exports append rows with another tool. Only the CR of CRLF goes, so
        # every line keeps its number (a CR inside a quoted comment goes too: harmless).
        fd, name = tempfile.mkstemp(prefix=".recon-lf-", suffix=".csv")
        source = normalised = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as fh:
                for block in line_blocks(fh):  # blocks end at a line break: no CRLF is split
                    out.write(block.replace(b"\r\n", b"\n"))
        except BaseException:
            normalised.unlink(missing_ok=True)
            raise
    # A view takes no parameters: the path and the column list are written into it as literals
    # (the path is ours, the names are the header's, quoted as DuckDB quotes them).
    columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in names) + "}"
    absent = "".join(f'null::varchar as "{n}", ' for n in wanted if n not in names)
    try:
        with _reading_csv(path):
            con.execute(
                f"create temp view raw as select {_kept(names, wanted)}{absent}row_number() over () + 1 as source_line "
                f"from read_csv({sql_literal(str(source))}, header = true, auto_detect = false, columns = {columns}, "
                "delim = ',', quote = '\"', escape = '\"', comment = '', strict_mode = true, null_padding = false, "
                "encoding = 'utf-8')")
    except BaseException:
        if normalised is not None:
            normalised.unlink(missing_ok=True)
        raise
    return names, normalised, not shape.nothing_to_trim


@contextmanager
def _reading_csv(path: Path) -> Iterator[None]:
    """A DuckDB error met while reading the file is the file's fault (ParseError, with its line),
    unless it is the machine's (memory, disk): then the run fails and the file stays."""
    try:
        yield
    except (duckdb.OutOfMemoryException, duckdb.IOException, duckdb.ConversionException):
        raise  # the machine's trouble, or a value the typing should have caught: not a CSV error
    except duckdb.Error as exc:
        if path.suffix.lower() == ".parquet":
            raise
        line, cause = _csv_error(str(exc))
        raise ParseError(path, line, f"malformed CSV: {mask_text(cause)}") from exc


def _refuse_missing(path: Path, needed: list[str], present: set[str]) -> None:
    missing = [name for name in needed if name not in present]
    if missing:
        raise ParseError(path, 1, f"missing column(s) {missing} in the header")


def _csv_error(message: str) -> tuple[int | None, str]:
    """(line, cause) from DuckDB's CSV error: its first line, plus the line saying what was wrong."""
    match = re.search(r"[Ll]ine:? (\d+)", message)
    lines = [m.strip() for m in message.splitlines() if m.strip()]
    detail = next((m for m in lines[1:] if m.startswith(("Expected Number of Columns", "Value with unterminated",
                                                           "Invalid unicode", "The CSV Parser state"))), None)
    cause = lines[0] if lines else message
    if detail:
        cause += f" ({detail})"
    return (int(match.group(1)) if match else None), cause


def _lines(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers[:10]) + (", …" if len(numbers) > 10 else "")


def _duplicates(con: duckdb.DuckDBPyConnection, path: Path, source: str, columns: tuple[Column, ...],
                warnings: list[str]) -> bool:
    """Copies of a row load (orders and billing copies are DUPLICATE_ROW to the matcher, the
    reports count a survey or ticket once); one key with two different rows is refused. Rows are
    compared as they load, typed and trimmed: " T1" and "T1" are one order to the matcher, so
    they are copies when the rest agrees and a contradiction when it does not. Returns whether
    every key is on one row only."""
    key, typed_key = columns[0].name, _typed_name(columns[0])
    repeated = f"select {typed_key} from checked group by 1 having count(*) > 1"
    if not con.execute(f"select exists ({repeated})").fetchall()[0][0]:
        return True
    every = ", ".join(_typed_name(c) for c in columns)
    copies = con.execute(
        f"with versions as (select {typed_key} as k, count(*) as n, list(source_line order by source_line) as seen "
        f"from checked where {typed_key} in ({repeated}) group by {every}) "
        "select k, count(*) as versions, flatten(list(seen order by seen[1])) as seen "
        "from versions group by k order by min(seen[1])").fetchall()
    for value, versions, seen in copies:
        if versions > 1:
            seen = sorted(seen)
            raise ParseError(path, int(seen[1]), f"{key} {_shown(key, value)} is on lines {_lines(seen)} "
                             "with different values: the file contradicts itself")
    extra = sorted(line for *_, seen in copies for line in sorted(seen)[1:])
    counted = ("the matcher counts each copy as DUPLICATE_ROW" if source in ("orders", "billing")
               else f"the reports count each {key} once")
    warnings.append(f"{path.name}: {len(extra)} row(s) repeat an earlier row exactly (line {_lines(extra)}): "
                    f"loaded as delivered; {counted}")
    return False


def _vocabulary(con: duckdb.DuckDBPyConnection, path: Path, source: str, present: set[str],
                warnings: list[str]) -> None:
    by_name = {c.name: c for c in LEDGERS[source]}
    for column, known in KNOWN.get(source, {}).items():
        if column not in present:
            continue
        typed = _typed_name(by_name[column])  # a text column's checked value: trimmed, null when empty
        found = con.execute(
            f"select {typed} as v, count(*), list(source_line order by source_line)[1:10] from checked "
            f"where {typed} is not null and not list_contains($known, {typed}) "
            "group by v order by min(source_line) limit 20", {"known": list(known)}).fetchall()
        for value, count, at in found:
            warnings.append(f"{path.name}: unknown {column} {_shown(column, value)} on {count} row(s) "
                            f"(line {_lines(at)}): loaded as is")
    if "msisdn" in present:
        typed = _typed_name(by_name["msisdn"])
        count, at = con.execute(
            f"select count(*), list(source_line order by source_line)[1:10] from checked "
            f"where {typed} is not null and not regexp_full_match({typed}, $pattern)",
            {"pattern": MSISDN_TEXT}).fetchall()[0]
        if count:
            warnings.append(f"{path.name}: msisdn is not 11 digits starting with 1 on {count} row(s) "
                            f"(line {_lines(at or [])}): loaded as is")


class _BrokenRow(Exception):
    """The one pass that stages a ledger met a row breaking a rule: the checking pass, which
    keeps every row to find the first broken one, names it."""


BROKEN_ROW = "recon: a row breaks a rule"  # the message of the guard's error(), to tell it apart


def _final_columns(columns: tuple[Column, ...], source_line: str = "source_line::bigint") -> str:
    """The select list of ``checked``'s rows in etl.schema's shape."""
    return (", ".join(f'{_typed_name(c)} as "{c.name}"' for c in columns)
            + f", null::varchar as source_member, {source_line} as source_line")


def _check(con: duckdb.DuckDBPyConnection, path: Path, source: str,
           staged: tuple[Path, str, str] | None = None) -> tuple[str, list[str], bool]:
    """Read ``path`` and check every row (ParseError at the first broken rule) into table
    ``checked``; return the select list of its rows in etl.schema's shape, the warnings, and
    whether every key (the ledger's first column) is on one row only.

    With ``staged`` (target, source_file, file_hash), the pass that types the rows writes them
    straight to the Parquet ``target`` with their lineage, and ``checked`` is a view over it:
    10M typed rows are never held (nor spilled) in memory, then read again to be written. A row
    breaking a rule stops that pass (``_BrokenRow``) and leaves ``target`` half written: the
    caller deletes it and checks without ``staged`` to name the first broken line."""
    refuse_empty(path)
    columns = LEDGERS[source]
    warnings: list[str] = []
    con.execute("set TimeZone = 'Asia/Shanghai'")
    needed = [c.name for c in columns if c.required or source in ("orders", "billing")]
    header, normalised, padded = _read_raw(con, path, needed, [c.name for c in columns])
    try:
        present = dict(con.execute(
            "select column_name, data_type from duckdb_columns() where table_name = 'raw'").fetchall())
        if header is None:  # Parquet: a table of the file's own columns and types
            _refuse_missing(path, needed, set(present))
            for col in columns:
                if col.name not in present:
                    con.execute(f'alter table raw add column "{col.name}" varchar')
                elif present[col.name] != "VARCHAR":  # a CSV's columns are text already: rewriting them costs seconds
                    con.execute(f'alter table raw alter "{col.name}" type varchar')
        else:  # a CSV: its view names every column (null where the header has none)
            present = {name: kind for name, kind in present.items() if name in header}
        # One pass reads the file, types each value and names the first rule (if any) the row
        # breaks; the delivered text stays readable through `raw` for error messages.
        problems = [_problem(col) for col in columns]
        params = {k: v for _, p in problems for k, v in p.items()}
        if any(c.kind == "money" for c in columns):
            params["money_text"] = MONEY_TEXT
        which = " ".join(f"when {sql} then {i}" for i, (sql, _) in enumerate(problems))
        typing = ("select source_line, " + ", ".join(f"{_typed(c)} as {_typed_name(c)}" for c in columns)
                  + f", case {which} end as broken_rule from {_trimmed(columns, padded)}")
        with _reading_csv(path):
            if staged is None:
                con.execute(f"create temp table checked as {typing}", params)
            else:
                _stage_typed(con, typing, params, columns, staged)
        first_bad = [] if staged is not None else con.execute(
            "select source_line, broken_rule from checked where broken_rule is not null "
            "order by source_line limit 1").fetchall()
        if first_bad:
            line, index = first_bad[0]
            col = columns[index]
            value = con.execute(f'select "{col.name}" from raw where source_line = $l', {"l": line}).fetchall()[0][0]
            raise ParseError(path, int(line), f"column {col.name}: bad value {_shown(col.name, value)} ({col.kind}"
                             + (", required" if col.required else "") + ")")
        keys_unique = _duplicates(con, path, source, columns, warnings)
        _vocabulary(con, path, source, set(present), warnings)
        if header is None:
            con.execute("drop table raw")  # free the Parquet's copy
        else:
            con.execute("drop view raw")
    finally:
        if normalised is not None:
            normalised.unlink(missing_ok=True)
    # No `order by`: `checked` holds the rows in file order (DuckDB keeps insertion order), and
    # sorting 10M rows again would cost memory and time.
    return _final_columns(columns), warnings, keys_unique


def _stage_typed(con: duckdb.DuckDBPyConnection, typing: str, params: dict[str, object],
                 columns: tuple[Column, ...], staged: tuple[Path, str, str]) -> None:
    """Write the rows ``typing`` selects to the Parquet ``target`` in etl.schema's shape with
    their lineage, and make ``checked`` a view over them. A broken row fails the write through
    error() in the expression that gives its ``source_line`` (an output column: the planner cannot
    drop the check)."""
    target, source_file, file_hash = staged
    guarded = f"(case when broken_rule is null then source_line else error('{BROKEN_ROW}') end)::bigint"
    try:
        con.execute(f"copy (select {_final_columns(columns, guarded)}, $source_file::varchar as source_file, "
                    f"$file_hash::varchar as file_hash from ({typing})) to $target (format parquet, compression {STAGED_COMPRESSION})",
                    {**params, "source_file": source_file, "file_hash": file_hash, "target": str(target)})
    except duckdb.Error as exc:
        if BROKEN_ROW in str(exc):
            raise _BrokenRow() from exc
        raise
    # A view takes no parameters: the path is ours, written in as a literal.
    con.execute("create temp view checked as select source_line, "
                + ", ".join(f'"{col.name}" as {_typed_name(col)}' for col in columns)
                + f" from read_parquet({sql_literal(str(target))})")


def parse(path: Path, source: str) -> ParsedFile:
    """Parse one ledger file of ``source`` into its etl.schema shape, or raise ParseError."""
    path = Path(path)
    with parsing_connection() as con:
        select, warnings, _ = _check(con, path, source)
        table = con.sql(f"select {select} from checked").to_arrow_table()
    return ParsedFile(path=path, rows=table.cast(schema.SOURCE_SCHEMAS[source]), warnings=warnings)


def stage(path: Path, source: str, target: Path, source_file: str, file_hash: str) -> tuple[int, list[str], bool]:
    """``parse``, but DuckDB writes the rows and their lineage (``source_file``, ``file_hash``)
    straight to Parquet at ``target``: the rows of a 10M-line ledger are never copied into
    Python, and the lineage is dictionary-encoded, not repeated per row. Returns (rows,
    warnings, whether every key is on one row only)."""
    path, target = Path(path), Path(target)
    try:
        with parsing_connection() as con:
            _, warnings, keys_unique = _check(con, path, source, staged=(target, source_file, file_hash))
            [(rows,)] = con.execute("select count(*) from checked").fetchall()  # the Parquet's metadata
        return rows, warnings, keys_unique
    except _BrokenRow:
        target.unlink(missing_ok=True)
    except BaseException:
        with suppress(OSError):  # the error that stopped the pass is the one to report
            target.unlink(missing_ok=True)
        raise
    # A row breaks a rule: check again, keeping the typed rows, to name the first broken line.
    with parsing_connection() as con:
        _check(con, path, source)
    raise RuntimeError(f"{path}: the staging pass met a broken row that the checking pass did not find")
