"""Profile the match stage on a copy of a loaded warehouse.

    python bench/profile_match.py --n 10000000 --memory-limit 4GB
    python bench/profile_match.py --n 1000000 --explain matching/int_order_eval --compare

Copies ``/tmp/topup-recon-bench/n<N>/run/wh.duckdb`` (never touched) to ``--copy``, runs
``match_date`` for ``--date`` with the configured DuckDB settings (``--memory-limit``,
``--threads``), prints seconds per model and for persisting the results, the peak RSS of this
process, and optionally ``EXPLAIN ANALYZE`` of chosen models. ``--cpu`` times each step in CPU
seconds instead (steadier when the machine is shared). ``--compare`` checks that the persisted
results of the run equal those in the source warehouse (made by an earlier version).
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl import match as match_module  # noqa: E402
from etl.config import load_settings  # noqa: E402
from etl.warehouse import Warehouse, bind, read_sql  # noqa: E402

RESULT_TABLES = ("order_eval", "break_log", "control_totals", "outcome_totals", "settlement",
                 "fallback_suggestions")


def busiest_operators(profile: dict) -> list[tuple[float, int, str]]:
    """(seconds, rows out, operator and what it works on) of every operator in a JSON profile,
    busiest first: where a model's time goes, without reading the whole plan tree."""
    found = []

    def walk(node: dict) -> None:
        info = node.get("extra_info") or {}
        detail = info.get("Conditions") or info.get("Groups") or info.get("Table") or info.get("Aggregates") or ""
        if isinstance(detail, list):
            detail = ", ".join(detail)
        found.append((node.get("timing", 0.0), node.get("intermediate_rows", 0),
                      f"{node.get('name', '?')} {str(detail)[:90]}"))
        for child in node.get("children", []):
            walk(child)

    for root in profile.get("operator", []):
        walk(root)
    return sorted(found, reverse=True)


def compare(wh: Warehouse, reference: Path, run_date: date) -> bool:
    wh.con.execute(f"attach '{reference}' as ref (read_only)")
    ok = True
    for table in RESULT_TABLES:
        def columns(database: str) -> list[str]:
            return [c for (c,) in wh.con.execute(
                "select column_name from duckdb_columns() where database_name = ? and table_name = ? "
                "and schema_name = 'main' order by column_index", [database, table]).fetchall()]
        mine_cols = set(columns(wh.path.stem))
        cols = [c for c in columns("ref") if c in mine_cols]  # a column either version lacks is not compared
        if not cols:
            print(f"compare {table:22s} not in the reference warehouse: skipped")
            continue
        sel = ", ".join(cols)
        mine = f"select {sel} from \"{wh.path.stem}\".main.{table} where business_date = $d"
        theirs = f"select {sel} from ref.main.{table} where business_date = $d"
        a = wh.con.execute(f"select count(*) from ({mine} except all {theirs})", {"d": run_date}).fetchone()[0]
        b = wh.con.execute(f"select count(*) from ({theirs} except all {mine})", {"d": run_date}).fetchone()[0]
        n = wh.con.execute(f"select count(*) from ({theirs})", {"d": run_date}).fetchone()[0]
        print(f"compare {table:22s} rows {n:>10}  only-new {a:>6}  only-ref {b:>6}  {'OK' if a == b == 0 else 'DIFF'}")
        ok &= a == b == 0
    wh.con.execute("detach ref")
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="orders per day of the bench warehouse")
    p.add_argument("--source", type=Path, help="warehouse to copy (default: the bench's for --n)")
    p.add_argument("--copy", type=Path, help="where to copy it (default /tmp/profile_n<N>.duckdb)")
    p.add_argument("--no-copy", action="store_true", help="reuse an existing --copy")
    p.add_argument("--date", default="2026-11-24")
    p.add_argument("--memory-limit", default=None)
    p.add_argument("--threads", default=None)
    p.add_argument("--explain", action="append", default=[], help="model to EXPLAIN ANALYZE (repeatable)")
    p.add_argument("--cpu", action="store_true",
                   help="time each step in CPU seconds of this process (steadier on a busy machine)")
    p.add_argument("--compare", action="store_true", help="compare persisted results with --reference's")
    p.add_argument("--reference", type=Path, help="warehouse holding the expected results (default --source)")
    args = p.parse_args()
    source = args.source or Path(f"/tmp/topup-recon-bench/n{args.n}/run/wh.duckdb")
    copy = args.copy or Path(f"/tmp/profile_n{args.n}.duckdb")
    if not args.no_copy:
        shutil.copyfile(source, copy)
        Path(str(copy) + ".wal").unlink(missing_ok=True)
    env = {"RECON_WAREHOUSE": str(copy)}
    if args.memory_limit:
        env["RECON_DUCKDB__MEMORY_LIMIT"] = args.memory_limit
    if args.threads:
        env["RECON_DUCKDB__THREADS"] = args.threads
    settings = load_settings(env)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    run_date = date.fromisoformat(args.date)

    unknown = set(args.explain) - set(match_module.MODELS)
    if unknown:
        p.error(f"--explain: no such model {sorted(unknown)} (models: {', '.join(match_module.MODELS)})")
    original_model, original_direct = Warehouse.model, match_module._write_direct

    def explain(wh: Warehouse, name: str, params: dict | None) -> None:
        sql = read_sql(name)
        bound = bind(sql, params) if params is not None else None
        plan = wh.con.execute(f"explain analyze {sql}", bound).fetchall()
        print(f"---- EXPLAIN ANALYZE {name}\n{plan[0][1]}")
        profile = json.loads(wh.con.execute(f"explain (analyze, format json) {sql}", bound).fetchall()[0][1])
        print(f"---- busiest operators of {name} (CPU-seconds summed over threads)")
        for seconds, rows, label in busiest_operators(profile)[:15]:
            print(f"{seconds:7.2f}s {rows:>12,} rows  {label}")

    def model(self: Warehouse, name: str, params: dict, view: bool = False) -> None:
        if name in args.explain:
            explain(self, name, None if view else params)
        original_model(self, name, params, view)

    def write_direct(wh: Warehouse, database: str, name: str, params: dict) -> None:
        if name in args.explain:  # the query alone, without writing its rows
            explain(wh, name, params)
        original_direct(wh, database, name, params)

    Warehouse.model = model  # type: ignore[method-assign]
    match_module._write_direct = write_direct  # type: ignore[assignment]
    if args.cpu:  # match_date times its steps with time.perf_counter: give it the CPU clock
        match_module.time = SimpleNamespace(perf_counter=time.process_time)  # type: ignore[attr-defined]
    with Warehouse(settings) as wh:
        print("settings:", dict(wh.con.execute(
            "select name, value from duckdb_settings() where name in "
            "('memory_limit', 'threads', 'temp_directory', 'preserve_insertion_order')").fetchall()))
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = match_module.match_date(wh, run_date)
        total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        for name, s in result.steps.items():
            print(f"{'' if name.startswith('persist') else 'model '}{name:36s} {s:7.2f}s")
        print(f"{'other (checks, drops)':42s} {total - sum(result.steps.values()):7.2f}s")
        print(f"{'match total':42s} {total:7.2f}s  (cpu {cpu:.1f}s: less sensitive to a busy machine)")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
        print("breaks:", result.breaks_by_type)
        if args.compare:
            ok = compare(wh, args.reference or source, run_date)
            print("results identical to the reference warehouse" if ok else "RESULTS DIFFER")


if __name__ == "__main__":
    main()
