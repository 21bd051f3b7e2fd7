"""Benchmark: the load step alone, in CPU-seconds (steadier than wall time on a shared machine).

Loads already-staged days (a staging folder left by run_bench.py or history_bench.py) into a
fresh warehouse, night after night, and reports each night's load: wall and CPU-seconds of the
process (DuckDB's threads included), and how much of it the closing checkpoint took. After each
run, the yardstick (run_bench.py's three-way classification) on the warehouse it loaded.
Repeated --runs times; medians per night.

    python bench/load_bench.py --staging /tmp/topup-recon-bench/history-n200000-d5/run/staging --days 3 --runs 5
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from run_bench import REFERENCE_CLASSIFICATION, cpu_model  # noqa: E402
from etl.config import load_settings  # noqa: E402
from etl.ingest.stage import read_manifest  # noqa: E402
from etl.load import load_date  # noqa: E402
from etl.warehouse import Warehouse  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _TimedCheckpoint:
    """The warehouse's connection, with the CPU-seconds of its last checkpoint recorded."""

    def __init__(self, con):
        self._con, self.checkpoint_cpu_s = con, 0.0

    def execute(self, sql, *args):
        if sql.strip().lower() != "checkpoint":
            return self._con.execute(sql, *args)
        cpu = cpu_seconds()
        result = self._con.execute(sql, *args)
        self.checkpoint_cpu_s = cpu_seconds() - cpu
        return result

    def __getattr__(self, name):
        return getattr(self._con, name)


def one_run(staging: Path, work: Path, days: list[date]) -> tuple[list[dict], float]:
    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings({"RECON_STAGING": str(staging), "RECON_WAREHOUSE": str(work / "wh.duckdb"),
                              "RECON_LANDING": str(work / "landing"), "RECON_QUARANTINE": str(work / "q")})
    nights = []
    with Warehouse(settings) as wh:
        wh.con = con = _TimedCheckpoint(wh.con)
        for day in days:
            manifests = [read_manifest(settings, day, s) for s in settings.source_dirs()]
            cpu, started = cpu_seconds(), time.perf_counter()
            load_date(wh, settings, day, manifests)
            nights.append({"date": day.isoformat(), "wall_s": round(time.perf_counter() - started, 3),
                           "cpu_s": round(cpu_seconds() - cpu, 3), "checkpoint_cpu_s": round(con.checkpoint_cpu_s, 3)})
        times = []
        for _ in range(3):
            started = time.perf_counter()
            con.execute(REFERENCE_CLASSIFICATION).fetchall()
            times.append(time.perf_counter() - started)
    return nights, round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staging", type=Path, required=True)
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/topup-recon-load-bench"))
    parser.add_argument("--out", type=Path, help="write the runs and medians here (JSON)")
    args = parser.parse_args()
    days = [date.fromisoformat(args.start) + timedelta(days=i) for i in range(args.days)]
    done = [one_run(args.staging, args.work, days) for _ in range(args.runs)]
    shutil.rmtree(args.work, ignore_errors=True)
    runs = [nights for nights, _ in done]
    median = [{"date": d.isoformat(), **{k: statistics.median(r[i][k] for r in runs)
                                         for k in ("wall_s", "cpu_s", "checkpoint_cpu_s")}}
              for i, d in enumerate(days)]
    result = {"staging": str(args.staging), "machine": {"cpus": os.cpu_count(), "cpu": cpu_model()},
              "runs": runs, "median": median,
              "reference_classification_s": [yardstick for _, yardstick in done]}
    print(json.dumps({k: result[k] for k in ("median", "reference_classification_s")}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), "utf-8")


if __name__ == "__main__":
    main()
