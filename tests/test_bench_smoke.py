"""The benchmark, at a small N: it completes and what it measured balances. Timing is never
asserted here (docs/PERFORMANCE.md records the figures at 1M and 10M)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_runs_end_to_end_at_small_n(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_bench.py"), "--orders", "3000", "--runs", "1",
         "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "results" / "n3000.json").read_text("utf-8"))
    [run] = result["runs"]
    assert run["balanced"]
    assert run["rows_in"]["orders"] == 3000
    assert {"stage", "load", "match", "export", "reports"} <= set(run["stages_s"])
    assert set(run["ingest_per_source_s"]) == {"orders", "billing", "alipay", "wechatpay", "unionpay",
                                               "surveys", "complaints"}
    parts = run["match_parts_s"]  # the match stage, split into classification and open items
    assert 0 < parts["open_items"] < run["stages_s"]["match"] and parts["classify"] > 0
    assert run["peak_rss_mb"] > 0 and result["median"]["wall_s"] > 0
    assert run["reference_classification_s"] > 0  # the yardstick, timed on the same warehouse
    assert run["cpu_s"] > 0
