"""The one place that opens the DuckDB warehouse and runs the models in ``sql/``.

A model is a file ``sql/<stage>/<name>.sql`` holding one ``select``. ``Warehouse.model``
materialises it as a temporary table named after the file, binding the ``$parameters`` it
uses; nothing is ever formatted into SQL text.
"""
from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import duckdb

from etl.config import Settings, project_root, shanghai_now

log = logging.getLogger(__name__)

SQL_DIR = project_root() / "sql"
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def read_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` (``name`` like ``matching/int_order_money``)."""
    return (SQL_DIR / f"{name}.sql").read_text("utf-8")


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` that ``sql`` refers to; a missing one is an error."""
    code = _COMMENT.sub("", sql)
    wanted = set(_PARAM.findall(code))
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"SQL needs parameter(s) {sorted(missing)}")
    return {k: params[k] for k in wanted}


def sql_literal(text: str) -> str:
    """Text as a SQL string literal, for the few places that cannot bind a parameter (a COPY's
    target, a view's file and column names): every quote doubled."""
    return "'" + text.replace("'", "''") + "'"


class Warehouse:
    def __init__(self, settings: Settings, path: Path | None = None, read_only: bool = False):
        self.settings = settings
        self.path = Path(path or settings.paths.warehouse)
        self._reset_after_rollback = False
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(
                str(self.path),
                read_only=read_only,
                config={"threads": settings.duckdb.threads, "memory_limit": settings.duckdb.memory_limit},
            )
        except duckdb.IOException as exc:
            raise RuntimeError(
                f"cannot open the warehouse {self.path}: {exc}. Is another recon run using it? "
                "Only one process may write the warehouse at a time."
            ) from exc
        if not read_only:
            known = {t for (t,) in self.con.execute(
                "select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
            self.con.execute("begin transaction")
            self.con.execute(read_sql("warehouse/schema"))
            if "order_eval" in known and "withdrawn_orders" not in known:  # made before it: once
                at = shanghai_now()
                for (day,) in self.con.execute("select distinct business_date from order_eval").fetchall():
                    self.run_file("warehouse/record_withdrawn_orders", {"d": day, "at": at})
            self.con.execute("commit")

    def close(self) -> None:
        self.con.close()

    def reader(self) -> "Warehouse":
        """A second connection to this open database (DuckDB's cursor), for reading committed
        rows in another thread beside this one; close it when done. Not for writing."""
        other = object.__new__(Warehouse)
        other.settings, other.path, other._reset_after_rollback = self.settings, self.path, False
        other.con = self.con.cursor()
        return other

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, bind(sql, params or {}))

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def model(self, name: str, params: dict[str, Any], view: bool = False) -> None:
        """Materialise ``sql/<name>.sql`` as temp table ``<basename>``, or with ``view`` define
        it as a temp view (a view takes no parameters: it reads them from a table)."""
        sql = read_sql(name)
        table = Path(name).name
        started = time.perf_counter()
        if view:
            if bind(sql, {k: None for k in _PARAM.findall(_COMMENT.sub("", sql))}):
                raise ValueError(f"{name} is a view and cannot take $parameters")
            self.con.execute(f"create or replace temp view {table} as\n{sql}")
        else:
            self.con.execute(f"create or replace temp table {table} as\n{sql}", bind(sql, params))
        log.debug("model %s built in %.2fs", name, time.perf_counter() - started)

    def run_file(self, name: str, params: dict[str, Any]) -> None:
        """Run every statement of ``sql/<name>.sql`` (DDL/DML scripts, not models)."""
        sql = read_sql(name)
        for statement in (s.strip() for s in sql.split(";")):
            if statement and not all(line.strip().startswith("--") for line in statement.splitlines()):
                self.con.execute(statement, bind(statement, params))

    @contextmanager
    def joins_as_written(self) -> Iterator[None]:
        """Build each hash join on the side the SQL puts on the right. DuckDB picks the build
        side from estimated row counts, and a filter such as ``landing_date < $run_date`` is
        estimated at a fifth of the table however much history it keeps: it would build a hash
        table of every earlier row instead of today's ids. For models written with that in mind."""
        self.con.execute("set disabled_optimizers = 'build_side_probe_side'")
        try:
            yield
        except BaseException:
            try:
                self.con.execute("reset disabled_optimizers")
            except duckdb.Error:
                # the failed statement aborted the transaction: nothing runs until the rollback,
                # so transaction() resets the setting after it; the first error stays the cause
                self._reset_after_rollback = True
            raise
        self.con.execute("reset disabled_optimizers")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            if self._reset_after_rollback:
                self.con.execute("reset disabled_optimizers")
                self._reset_after_rollback = False
            raise
        else:
            self.con.execute("commit")
