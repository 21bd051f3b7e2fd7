"""Benchmark: generate N orders a day in the real formats, run topup-recon on it, record wall
time per stage (ingest per source, load, match split into classification and open items,
reports, export) and peak memory. Medians of --runs runs, written to bench/results/.

    python bench/run_bench.py --orders 10000000 --runs 3
    python bench/run_bench.py --orders 10000000 --runs 1 --memory-limit 2GB

Each run is a fresh `recon run` process on a fresh warehouse, so peak RSS is the run's own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]



def cpu_model() -> str:
    """The CPU's model name: machines of one size differ in speed (two 2-core machines here ran
    the same code 1.4x apart), so results name the CPU they came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def generate(work: Path, orders: int, day: date, seed: int) -> float:
    landing = work / "landing"
    if (landing / day.isoformat()).exists():
        return 0.0
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "etl.cli", "generate", "--out", str(landing), "--start", day.isoformat(),
                    "--days", "1", "--orders-per-day", str(orders), "--seed", str(seed)], check=True, cwd=ROOT)
    return time.perf_counter() - started


def one_run(work: Path, day: date, memory_limit: str | None, threads: int) -> dict:
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    env = dict(os.environ,
               RECON_LANDING=str(work / "landing"), RECON_WAREHOUSE=str(run_dir / "wh.duckdb"),
               RECON_OUTPUT=str(run_dir / "out"), RECON_QUARANTINE=str(run_dir / "quarantine"),
               RECON_STAGING=str(run_dir / "staging"), RECON_DUCKDB__THREADS=str(threads))
    if memory_limit:
        env["RECON_DUCKDB__MEMORY_LIMIT"] = memory_limit
    started = time.perf_counter()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "etl.cli", "run", "--date", day.isoformat()], cwd=ROOT, env=env)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:  # sample the whole process tree's RSS
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run, reaped by poll()
    cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"recon run failed with exit status {proc.returncode}")
    summary = json.loads((run_dir / "out" / day.isoformat() / "run_summary.json").read_text("utf-8"))
    manifests = {p.name.split(".")[0]: json.loads(p.read_text("utf-8"))["seconds"]
                 for p in (run_dir / "staging" / day.isoformat()).glob("*.manifest.json")}
    steps = summary.get("match_steps", {})
    open_items = sum(v for k, v in steps.items() if k.startswith("breaks/") or k == "persist break_log")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 1),  # the run's CPU-seconds: steadier than wall time on a shared machine
        "peak_rss_mb": round(max(peak / 2**20, summary.get("peak_rss_mb", 0)), 0),
        "stages_s": summary["timings"],
        "ingest_per_source_s": manifests,
        # the match stage, split: classifying rows and orders, and carrying open items forward
        "match_parts_s": {"classify": round(summary["timings"]["match"] - open_items, 2),
                          "open_items": round(open_items, 2)},
        "balanced": all(t["balanced"] for t in summary["control_totals"]),
        "reference_classification_s": reference_seconds(run_dir / "wh.duckdb", threads, memory_limit),
        "rows_in": {t["source"]: t["rows_in"] for t in summary["control_totals"]},
    }


# The yardstick: "a single-query DuckDB three-way classification of 10M orders" (11 s on
# the machine it was measured on). Run on each run's own warehouse, it tells how fast this
# machine is in that hour, so figures of different machines and hours can be compared.
REFERENCE_CLASSIFICATION = """
select outcome, count(*) from (
    select case when o.order_id is null then 'orphan'
                when p.order_id is null and c.order_id is null then 'unpaid'
                when c.order_id is null then 'paid, not credited'
                when p.order_id is null then 'credited, not paid'
                when p.paid <> o.pay_amount or c.credited <> o.face_value then 'amounts differ'
                else 'matched' end as outcome
    from raw_orders as o
    full join (select order_id, sum(amount) as paid from raw_payments where kind = 'payment' group by 1) as p
        using (order_id)
    full join (select order_id, sum(amount) as credited from raw_billing group by 1) as c using (order_id)
) group by 1
"""


def reference_seconds(warehouse: Path, threads: int, memory_limit: str | None) -> float:
    """Median of 3 runs of REFERENCE_CLASSIFICATION on the run's warehouse, read only."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True,
                         config={"threads": threads, "memory_limit": memory_limit or "4GB"})
    try:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            con.execute(REFERENCE_CLASSIFICATION).fetchall()
            times.append(time.perf_counter() - started)
        return round(statistics.median(times), 4)  # a small day's takes milliseconds: never rounded to 0
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--day", default="2026-11-24")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 2GB")
    parser.add_argument("--work", type=Path, default=Path("/tmp/topup-recon-bench"))
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    day = date.fromisoformat(args.day)
    work = args.work / f"n{args.orders}"
    gen_s = generate(work, args.orders, day, args.seed)
    runs = [one_run(work, day, args.memory_limit, args.threads) for _ in range(args.runs)]
    stages = sorted({k for r in runs for k in r["stages_s"]})
    result = {
        "orders_per_day": args.orders,
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "cpu": cpu_model(), "platform": platform.platform(), "python": platform.python_version()},
        "memory_limit": args.memory_limit or "configured default",
        "threads": args.threads,
        "generate_s": round(gen_s, 1),
        "runs": runs,
        "median": {
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
            "reference_classification_s": statistics.median(r["reference_classification_s"] for r in runs),
            "stages_s": {s: statistics.median(r["stages_s"].get(s, 0) for r in runs) for s in stages},
            "match_parts_s": {p: statistics.median(r["match_parts_s"][p] for r in runs)
                              for p in ("classify", "open_items")},
            "ingest_per_source_s": {s: statistics.median(r["ingest_per_source_s"].get(s, 0) for r in runs)
                                    for s in sorted({k for r in runs for k in r["ingest_per_source_s"]})},
        },
    }
    out = args.results / f"n{args.orders}{'-mem' + args.memory_limit if args.memory_limit else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), "utf-8")
    print(json.dumps(result["median"], indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
