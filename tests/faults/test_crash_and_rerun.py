"""Faults: a run killed at any stage, then run again, ends exactly where a clean run ends;
two runs at once never both write; a full disk fails clearly and publishes nothing."""
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from etl.config import load_settings
from etl.pipeline import run_lock

DAYS = [date(2026, 11, 1), date(2026, 11, 2)]


def recon(env_dir: Path, landing: Path, *args: str, crash_at: str | None = None,
          output: Path | None = None, reports: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(RECON_LANDING=str(landing), RECON_WAREHOUSE=str(env_dir / "wh.duckdb"),
               RECON_OUTPUT=str(output or env_dir / "out"), RECON_QUARANTINE=str(env_dir / "q"),
               RECON_STAGING=str(env_dir / "staging"), RECON_REPORTS__ENABLED=str(reports).lower())
    if crash_at:
        env["RECON_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "etl.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def run_range(env_dir, landing, **kw):
    return recon(env_dir, landing, "run", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), **kw)


def warehouse_fingerprint(path: Path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"select count(*), hash(list(x order by x)) from (select {t} as x from {t})").fetchone()
                for t in ("raw_orders", "raw_payments", "raw_billing", "break_log", "control_totals")}


@pytest.fixture(scope="module")
def clean_run(small_landing, tmp_path_factory):
    env_dir = tmp_path_factory.mktemp("clean")
    landing = env_dir / "landing"
    shutil.copytree(small_landing, landing)
    done = run_range(env_dir, landing)
    assert done.returncode == 0, done.stderr
    return env_dir


@pytest.mark.parametrize("stage", ["after_ingest", "mid_match", "mid_match_write", "mid_report", "before_publish"])
def test_killed_run_then_rerun_equals_clean_run(stage, small_landing, clean_run, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    crashed = run_range(tmp_path, landing, crash_at=stage, reports=stage in ("mid_report", "before_publish"))
    assert crashed.returncode == -9, crashed.stderr  # SIGKILL: no cleanup ran
    # never a partial report visible: the first date's folder is absent, or whole
    first = tmp_path / "out" / DAYS[0].isoformat()
    assert not first.exists() or (first / "run_summary.json").exists()
    again = run_range(tmp_path, landing)
    assert again.returncode == 0, again.stderr
    for day in DAYS:
        name = day.isoformat()
        assert (tmp_path / "out" / name / "breaks.csv").read_bytes() == \
               (clean_run / "out" / name / "breaks.csv").read_bytes()
    assert warehouse_fingerprint(tmp_path / "wh.duckdb") == warehouse_fingerprint(clean_run / "wh.duckdb")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_second_run_at_the_same_time_fails_clearly(small_landing, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    settings = load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb")})
    with run_lock(settings):  # this test process is the first run
        second = run_range(tmp_path, landing)
    assert second.returncode == 1
    assert "another recon run is using" in second.stderr
    assert not (tmp_path / "out").exists()
    third = run_range(tmp_path, landing)  # once the first is done, the next goes through
    assert third.returncode == 0, third.stderr


def test_full_output_disk_fails_clearly_and_publishes_nothing(small_landing, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    disk = tmp_path / "tiny"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)], check=True)
    try:
        done = run_range(tmp_path, landing, output=disk)
        assert done.returncode == 1
        assert "No space left on device" in done.stderr
        assert [p.name for p in disk.iterdir()] == []  # no partial folder, visible or hidden
    finally:
        subprocess.run(["umount", str(disk)], check=True)
