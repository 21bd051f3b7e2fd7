"""Time every report mart of one date on a warehouse, read only: where the reports' time goes, and
how it grows with the 30-day window (run it on the warehouse history_bench.py leaves).

    python bench/marts_bench.py --warehouse /tmp/topup-recon-bench/history-n1000000-d30/run/wh.duckdb \
        --date 2026-11-30 [--cpu] [--runs 3]

Prints seconds per mart (median of --runs; --cpu: CPU-seconds of this process, steadier on a
busy machine), their sum and the process's peak RSS. The marts are built as the reports build
them (reports.marts.Marts), as temp tables of a read-only connection.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.config import load_settings  # noqa: E402
from etl.warehouse import Warehouse  # noqa: E402
from reports.marts import Marts  # noqa: E402

MARTS = sorted(p.stem for p in (ROOT / "sql" / "marts").glob("mart_*.sql"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="CPU-seconds instead of wall seconds")
    args = parser.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    settings = load_settings({"RECON_WAREHOUSE": str(args.warehouse)})
    seconds: dict[str, list[float]] = {name: [] for name in MARTS}
    with Warehouse(settings, read_only=True) as wh:
        if not wh.scalar("select count(*) from duckdb_tables() where table_name = 'withdrawn_orders'"):
            sys.exit(f"{args.warehouse} was made by an older version: open it once for writing with this "
                     "one (e.g. `recon run` of any date, or etl.warehouse.Warehouse) to bring its schema up")
        for _ in range(args.runs):
            marts = Marts(wh, date.fromisoformat(args.date))
            for name in MARTS:
                started = clock()
                marts.build(name)
                seconds[name].append(clock() - started)
            marts.close()
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    for name, s in sorted(medians.items(), key=lambda kv: -kv[1]):
        print(f"{name:36s} {s:7.2f}s")
    print(f"{'all marts':36s} {sum(medians.values()):7.2f}{' CPU-' if args.cpu else ''}s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
