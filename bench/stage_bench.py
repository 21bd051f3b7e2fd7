"""Benchmark the stage step alone (parse landing files to staging Parquet): wall time, seconds
per source and the process's peak RSS, in a fresh process each run.

    python bench/stage_bench.py --landing /tmp/bench10m/landing --work /tmp/stage-bench
    python bench/stage_bench.py --landing … --work … --sources orders      # one source alone

Peak RSS is the kernel's high-water mark for the child (wait4's ru_maxrss), so no short peak
between samples is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]


def child(day: date, sources: list[str]) -> None:
    from etl import pipeline
    from etl.config import Settings, load_settings

    settings = load_settings()
    started = time.perf_counter()
    every = Settings.source_dirs
    with mock.patch.object(Settings, "source_dirs", lambda self: tuple(sources) or every(self)):
        manifests = pipeline.stage_all(settings, day)
    print(json.dumps({"stage_s": round(time.perf_counter() - started, 2),
                      "per_source_s": {m.source: m.seconds for m in manifests},
                      "rows": {m.source: sum(f.rows for f in m.files) for m in manifests},
                      "quarantined": {m.source: len(m.quarantined) for m in manifests if m.quarantined}}))


def one_run(landing: Path, work: Path, day: date, sources: list[str]) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    env = dict(os.environ, RECON_LANDING=str(landing), RECON_STAGING=str(work / "staging"),
               RECON_OUTPUT=str(work / "out"), RECON_QUARANTINE=str(work / "quarantine"),
               RECON_WAREHOUSE=str(work / "wh.duckdb"))
    command = [sys.executable, __file__, "--child", "--day", day.isoformat(), "--sources", ",".join(sources)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"stage failed with exit status {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024)  # KiB on Linux
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)  # steadier than wall on a shared machine
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/topup-recon-stage-bench"))
    parser.add_argument("--day", default="2026-11-24")
    parser.add_argument("--sources", default="", help="comma-separated; default every source")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    day, sources = date.fromisoformat(args.day), [s for s in args.sources.split(",") if s]
    if args.child:
        child(day, sources)
        return
    if args.landing is None:
        parser.error("--landing is required")
    for _ in range(args.runs):
        print(json.dumps(one_run(args.landing, args.work, day, sources)), flush=True)


if __name__ == "__main__":
    main()
