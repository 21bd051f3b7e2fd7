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


def test_search_benchmark_runs_over_the_published_nights(site, tmp_path):
    """Over the two published nights of the console's sample site: every search it times finds
    what it should (its own order for an id that has one, nothing for an id that is nowhere)."""
    settings = site[1]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "search_bench.py"), "--output", str(settings.paths.output),
         "--warehouse", str(settings.paths.warehouse), "--repeat", "2", "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "search-2n.json").read_text("utf-8"))
    searches = result["searches"]
    assert set(searches) == {"order id", "transaction id", "credit id", "no such id", "phone number"}
    assert all(searches[k]["orders"] >= 1 for k in ("order id", "transaction id", "credit id", "phone number"))
    assert searches["no such id"]["orders"] == 0
    assert result["reference_classification_s"] > 0
