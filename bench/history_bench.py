"""Benchmark: how the nightly run grows with the history the warehouse keeps. Generates
--days consecutive days of --orders orders each, runs them night after night on one fresh
warehouse (as production does), and records per night the stages' seconds, the match's
heaviest models and the run's peak RSS, in bench/results/history-n<N>-d<D>.json.

    python bench/history_bench.py --orders 1000000 --days 6

The one-day benchmark (run_bench.py) starts from an empty warehouse, so it cannot show this.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from run_bench import ROOT, cpu_model

# the match models whose cost depended on the history before it was bounded (docs/PERFORMANCE.md),
# and row_outcomes, which finds the orphans since the sixth stop
WATCHED = ("matching/int_scope_earlier", "matching/int_history_payments", "matching/int_history_credits",
           "matching/int_order_eval", "staging/stg_orders_repeated", "staging/stg_payment_copies",
           "staging/stg_credit_copies", "outcomes/order_breaks", "outcomes/orphan_payments",
           "outcomes/orphan_credits", "outcomes/row_outcomes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/topup-recon-bench"))
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    last = start + timedelta(days=args.days - 1)
    work = args.work / f"history-n{args.orders}-d{args.days}"
    landing = work / "landing"
    if not (landing / last.isoformat()).exists():
        subprocess.run([sys.executable, "-m", "etl.cli", "generate", "--out", str(landing), "--start", args.start,
                        "--days", str(args.days), "--orders-per-day", str(args.orders), "--seed", str(args.seed)],
                       check=True, cwd=ROOT)
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    env = dict(os.environ, RECON_LANDING=str(landing), RECON_WAREHOUSE=str(run_dir / "wh.duckdb"),
               RECON_OUTPUT=str(run_dir / "out"), RECON_QUARANTINE=str(run_dir / "quarantine"),
               RECON_STAGING=str(run_dir / "staging"))
    nights = []
    for i in range(args.days):  # one process per night, as the scheduler runs it
        day = start + timedelta(days=i)
        subprocess.run([sys.executable, "-m", "etl.cli", "run", "--date", day.isoformat()],
                       check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        summary = json.loads((run_dir / "out" / day.isoformat() / "run_summary.json").read_text("utf-8"))
        steps = summary.get("match_steps", {})
        nights.append({
            "date": day.isoformat(),
            "stages_s": summary["timings"],
            "match_models_s": {m: steps.get(m) for m in WATCHED},
            "peak_rss_mb": summary.get("peak_rss_mb"),
            "balanced": all(t["balanced"] for t in summary["control_totals"]),
        })
        print(f"{day}: match {summary['timings']['match']:6.2f}s  "
              f"int_order_eval {steps.get('matching/int_order_eval', 0):5.2f}s  "
              f"peak {summary.get('peak_rss_mb')} MB")
    result = {"orders_per_day": args.orders, "days": args.days,
              "machine": {"cpus": os.cpu_count(), "cpu": cpu_model()}, "nights": nights}
    out = args.results / f"history-n{args.orders}-d{args.days}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), "utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
