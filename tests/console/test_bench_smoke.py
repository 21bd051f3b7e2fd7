"""The console benchmark at a tiny N: it generates a day, serves it with `recon serve`, signs
users in and every page it times answers. Timing is never asserted (docs/PERFORMANCE.md)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_console_benchmark_runs_at_small_n(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "console_bench.py"), "--orders", "2000", "--users", "2",
         "--rounds", "2", "--inflate-queue", "3", "--work", str(tmp_path / "work"),
         "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "console-n2000-q3.json").read_text("utf-8"))
    assert set(result["pages"]) == {"queue", "queue_filtered", "story", "search"}
    assert all(p["n"] == 4 and p["p95_ms"] >= p["p50_ms"] > 0 for p in result["pages"].values())
    assert result["queue_rows"] > 0 and result["reference_classification_s"] >= 0
