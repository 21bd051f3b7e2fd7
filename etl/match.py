"""Match one business date: run the SQL models in order, check the control totals, and
replace that date's results in the warehouse in one transaction."""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from datetime import date, datetime, time as dtime, timedelta

from etl import row_hashes
from etl.failpoints import failpoint
from etl.redelivery import flag_unmarked
from etl.warehouse import Warehouse, bind, read_sql

log = logging.getLogger(__name__)

# The models, in the order a day's data flows through them.
MODELS = (
    "staging/stg_orders_repeated",
    "staging/stg_orders_once",
    "staging/stg_orders",
    "staging/stg_payment_copies",
    "staging/stg_refund_orders",
    "staging/stg_payments",
    "staging/stg_credit_copies",
    "staging/stg_credit_reversals",
    "staging/stg_credits",
    "matching/int_scope_earlier",
    "matching/int_scope",
    "matching/int_history_payments",
    "matching/int_history_credits",
    "matching/int_order_eval",
    "outcomes/order_break_figures",
    "outcomes/order_breaks",
    "outcomes/row_outcomes",  # before the orphan checks: it lists the orphans they read
    "outcomes/orphan_payments",
    "outcomes/orphan_credits",
    "outcomes/fee_breaks",
    "outcomes/control_totals",
    "outcomes/outcome_totals",
    "outcomes/settlement",
    "breaks/breaks_found",
    "breaks/breaks_snapshot",
    "breaks/fallback_suggestions",
)

# Models built as temp views, not tables: read by few steps, they stream from the raw tables
# (compressed, on disk) instead of holding ~10M rows each in memory. A view cannot take
# parameters: they read the run's date from the one-row table cfg_run.
VIEWS = frozenset({"staging/stg_orders_once", "staging/stg_orders", "staging/stg_payments", "staging/stg_credits",
                   "matching/int_scope"})

# Models whose result is one row per order (10M a day at national scale): written once,
# straight into their persistent table, instead of into a temp table that is then copied.
# Later models read today's rows back through a temp view of the same name as the model.
DIRECT = {"matching/int_order_eval": "order_eval"}

# Models whose joins are written with the build side (today's rows, never the history) on the
# right: the planner must not flip them (Warehouse.joins_as_written).
JOINS_AS_WRITTEN = frozenset({"matching/int_scope_earlier", "matching/int_history_payments",
                              "matching/int_history_credits", "matching/int_order_eval"})

# The other per-date results kept in the warehouse, and the temp table each is filled from.
RESULTS = {
    "break_log": "breaks_snapshot",
    "fallback_suggestions": "fallback_suggestions",
    "control_totals": "control_totals",
    "outcome_totals": "outcome_totals",
    "settlement": "settlement",
}


class ControlTotalsError(RuntimeError):
    """Rows or money that the run cannot account for: the run must not publish."""


@dataclass
class MatchResult:
    business_date: date
    control_totals: list[dict]
    breaks_by_type: dict[str, int]
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)  # seconds per model and per persisted table


def _parameters(wh: Warehouse, run_date: date) -> dict:
    day_start = datetime.combine(run_date, dtime())
    # Whether any row landed before the run date: on a first day the models' history branches
    # fold away at planning (a constant false), instead of building hash tables nothing probes.
    has_earlier = wh.scalar(
        "select exists (select 1 from raw_orders where landing_date < $d) "
        "or exists (select 1 from raw_payments where landing_date < $d) "
        "or exists (select 1 from raw_billing where landing_date < $d)", {"d": run_date})
    return {
        "run_date": run_date,
        "has_earlier": bool(has_earlier),
        "day_start": day_start,
        "day_end": day_start + timedelta(days=1),
        "tolerance": wh.settings.matching.amount_tolerance,
        "window_minutes": wh.settings.matching.fallback_window_minutes,
    }


def _configuration_tables(wh: Warehouse, params: dict) -> None:
    settings = wh.settings
    wh.con.execute("create or replace temp table cfg_run (run_date date, day_start timestamp, day_end timestamp)")
    wh.con.execute("insert into cfg_run values ($run_date, $day_start, $day_end)",
                   {k: params[k] for k in ("run_date", "day_start", "day_end")})
    wh.con.execute("create or replace temp table cfg_sla (product_type varchar, sla_minutes integer)")
    wh.con.executemany("insert into cfg_sla values (?, ?)", list(settings.matching.sla_minutes.items()))
    wh.con.execute("create or replace temp table cfg_fee_rates (provider varchar, rate decimal(9, 6))")
    wh.con.executemany("insert into cfg_fee_rates values (?, ?)", list(settings.providers.fee_rates.items()))


def check_control_totals(wh: Warehouse, run_date: date) -> list[dict]:
    rows = wh.con.execute("select * from control_totals order by source").fetchall()
    names = [d[0] for d in wh.con.description]
    totals = [dict(zip(names, r)) for r in rows]
    broken = [t for t in totals if not t["balanced"]]
    if broken:
        lines = [
            f"  {t['source']}: rows in {t['rows_in']}, classified {t['rows_classified']} "
            f"({t['rows_unclassified']} unclassified, difference {t['rows_in'] - t['rows_classified']}); "
            f"amount in {t['amount_in']}, classified {t['amount_classified']} "
            f"(difference {t['amount_in'] - t['amount_classified']})"
            for t in broken
        ]
        raise ControlTotalsError(f"control totals do not balance for {run_date}:\n" + "\n".join(lines))
    return totals


def _columns(wh: Warehouse, database: str, table: str) -> list[str]:
    return [c for (c,) in wh.con.execute(
        "select column_name from duckdb_columns() where table_name = $t and schema_name = 'main' "
        "and database_name = $db order by column_index", {"t": table, "db": database}).fetchall()]


def _persistent(database: str, table: str) -> str:
    """The persistent ``table``, qualified: temp tables share the results' names. The database
    is named after the warehouse file, which may hold any character (recon-prod.duckdb)."""
    return '"' + database.replace('"', '""') + f'".main.{table}'


def _replace_date(wh: Warehouse, database: str, table: str, select_sql: str, params: dict) -> None:
    """Replace ``table``'s rows of the run's date with the rows of ``select_sql`` (its columns
    by name; the persistent tables have a business_date the models do not)."""
    target = _persistent(database, table)
    columns = _columns(wh, database, table)
    select = ", ".join("$run_date::date as business_date" if c == "business_date" else c for c in columns)
    wh.execute(f"delete from {target} where business_date = $run_date", params)
    wh.execute(f"insert into {target} ({', '.join(columns)}) select {select} from ({select_sql})", params)


def _write_direct(wh: Warehouse, database: str, name: str, params: dict) -> None:
    table, model = DIRECT[name], Path(name).name
    sql = read_sql(name)
    with wh.joins_as_written() if name in JOINS_AS_WRITTEN else nullcontext():
        _replace_date(wh, database, table, sql, {**bind(sql, params), "run_date": params["run_date"]})
    target = _persistent(database, table)
    wh.con.execute(f"create or replace temp view {model} as select * from {target} "
                   "where business_date = (select run_date from cfg_run)")


def match_date(wh: Warehouse, run_date: date) -> MatchResult:
    """Match ``run_date`` in one transaction: a crash or unbalanced control totals leave the
    results as they were (the day's raw rows were loaded, and committed, in the step before)."""
    started = time.perf_counter()
    params = _parameters(wh, run_date)
    _configuration_tables(wh, params)
    database = wh.scalar("select current_database()")
    steps: dict[str, float] = {}
    with wh.transaction():
        row_hashes.fill_all(wh)  # the history models find rows by them
        flag_unmarked(wh)
        for name in MODELS:
            t0 = time.perf_counter()
            if name in DIRECT:
                _write_direct(wh, database, name, params)
                failpoint("mid_match")
            else:
                with wh.joins_as_written() if name in JOINS_AS_WRITTEN else nullcontext():
                    wh.model(name, params, view=name in VIEWS)
            steps[name] = time.perf_counter() - t0
            log.info("model %-36s %6.2fs", name, steps[name])
        totals = check_control_totals(wh, run_date)
        for table, source in RESULTS.items():
            t0 = time.perf_counter()
            _replace_date(wh, database, table, f"select * from temp.main.{source}", {"run_date": run_date})
            failpoint("mid_match_write")
            steps[f"persist {table}"] = time.perf_counter() - t0
            log.info("persist %-34s %6.2fs", table, steps[f"persist {table}"])
        # The date's evaluations are now its current orders': what its reloads took out of it
        # (etl.load) is no longer judged on it, and order_latest need not rank those orders.
        wh.execute("delete from withdrawn_orders where landing_date = $d", {"d": run_date})
    by_type = dict(wh.con.execute(
        "select break_type, count(*) from breaks_snapshot where exported group by 1 order by 1").fetchall())
    for name in MODELS:  # later readers (reports) must see the persistent tables, not today's temps
        kind = "view" if name in VIEWS or name in DIRECT else "table"
        wh.con.execute(f"drop {kind} if exists temp.main.{Path(name).name}")
    return MatchResult(run_date, totals, by_type, round(time.perf_counter() - started, 3), steps)
