"""Benchmark: how the nightly run grows with the history the warehouse keeps. Generates
--days consecutive days of --orders orders each, runs them night after night on one fresh
warehouse (as production does), and records per night the stages' seconds, the match's
heaviest models, the run's peak RSS and CPU-seconds, the warehouse's size after the night, and
the yardstick (the three-way classification of run_bench.py, on the night's own rows) in
bench/results/history-n<N>-d<D>[-keep<K>].json.

    python bench/history_bench.py --orders 1000000 --days 6
    python bench/history_bench.py --orders 20000 --days 15 --keep-days 5   # with retention on

The one-day benchmark (run_bench.py) starts from an empty warehouse, so it cannot show this.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from run_bench import REFERENCE_CLASSIFICATION, ROOT, cpu_model

# the match models whose cost follows the history kept (docs/PERFORMANCE.md, "Where the time and
# memory go"), and row_outcomes, which finds the orphans
WATCHED = ("matching/int_scope_earlier", "matching/int_history_payments", "matching/int_history_credits",
           "matching/int_order_eval", "staging/stg_orders_repeated", "staging/stg_payment_copies",
           "staging/stg_credit_copies", "outcomes/order_breaks", "outcomes/orphan_payments",
           "outcomes/orphan_credits", "outcomes/row_outcomes")

# The yardstick on the night's own rows, so that every night measures the same amount of work
# however much history the warehouse keeps.
ONE_NIGHT_REFERENCE = (REFERENCE_CLASSIFICATION
                       .replace("from raw_orders as o", "from (select * from raw_orders where landing_date = $d) as o")
                       .replace("where kind = 'payment'", "where kind = 'payment' and landing_date = $d")
                       .replace("from raw_billing group by 1", "from raw_billing where landing_date = $d group by 1"))
TABLES = ("raw_orders", "raw_payments", "raw_billing", "order_eval", "break_log")


def warehouse_after(path: Path, day: date) -> dict:
    """The warehouse's size on disk and rows kept after a night, and the yardstick's seconds."""
    import duckdb

    with duckdb.connect(str(path), read_only=True, config={"threads": 2}) as con:
        used_blocks, block_size = con.execute("select used_blocks, block_size from pragma_database_size()").fetchone()
        rows = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
        times = []
        for _ in range(3):
            started = time.perf_counter()
            con.execute(ONE_NIGHT_REFERENCE, {"d": day}).fetchall()
            times.append(time.perf_counter() - started)
    return {"file_mb": round(path.stat().st_size / 2**20, 1), "used_mb": round(used_blocks * block_size / 2**20, 1),
            "rows": rows, "reference_classification_s": round(statistics.median(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/topup-recon-bench"))
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--note", default="", help="what the run is for, kept in the result file")
    parser.add_argument("--keep-days", type=int, default=None,
                        help="retention.keep_days for the run (default: the configured one)")
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    last = start + timedelta(days=args.days - 1)
    work = args.work / f"history-n{args.orders}-d{args.days}"
    landing = work / "landing"
    if not (landing / last.isoformat()).exists():
        subprocess.run([sys.executable, "-m", "etl.cli", "generate", "--out", str(landing), "--start", args.start,
                        "--days", str(args.days), "--orders-per-day", str(args.orders), "--seed", str(args.seed)],
                       check=True, cwd=ROOT)
    run_dir = work / ("run" if args.keep_days is None else f"run-keep{args.keep_days}")
    shutil.rmtree(run_dir, ignore_errors=True)
    env = dict(os.environ, RECON_LANDING=str(landing), RECON_WAREHOUSE=str(run_dir / "wh.duckdb"),
               RECON_OUTPUT=str(run_dir / "out"), RECON_QUARANTINE=str(run_dir / "quarantine"),
               RECON_STAGING=str(run_dir / "staging"), RECON_ARCHIVE=str(run_dir / "archive"))
    if args.keep_days is not None:  # the re-check window must stay inside what is kept
        env.update(RECON_RETENTION__KEEP_DAYS=str(args.keep_days),
                   RECON_MATCHING__RECHECK_DAYS=str(min(30, args.keep_days - 1)))
    nights = []
    for i in range(args.days):  # one process per night, as the scheduler runs it
        day = start + timedelta(days=i)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "etl.cli", "run", "--date", day.isoformat()],
                       check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        summary = json.loads((run_dir / "out" / day.isoformat() / "run_summary.json").read_text("utf-8"))
        steps = summary.get("match_steps", {})
        nights.append({
            "date": day.isoformat(),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 1),
            "stages_s": summary["timings"],
            "match_models_s": {m: steps.get(m) for m in WATCHED},
            "peak_rss_mb": summary.get("peak_rss_mb"),
            "balanced": all(t["balanced"] for t in summary["control_totals"]),
            "archived_rows": sum(a["rows"] for a in summary.get("archived", [])),
            "warehouse": warehouse_after(run_dir / "wh.duckdb", day),
        })
        n = nights[-1]
        print(f"{day}: wall {wall:6.2f}s  cpu {cpu:6.1f}s  match {summary['timings']['match']:6.2f}s  "
              f"reports {summary['timings'].get('reports', 0):5.2f}s  peak {summary.get('peak_rss_mb')} MB  "
              f"warehouse {n['warehouse']['used_mb']} MB used / {n['warehouse']['file_mb']} MB file  "
              f"yardstick {n['warehouse']['reference_classification_s']}s")
    result = {"orders_per_day": args.orders, "days": args.days, "keep_days": args.keep_days or "configured default",
              "note": args.note,
              "machine": {"cpus": os.cpu_count(), "cpu": cpu_model()}, "nights": nights}
    suffix = "" if args.keep_days is None else f"-keep{args.keep_days}"
    out = args.results / f"history-n{args.orders}-d{args.days}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), "utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
