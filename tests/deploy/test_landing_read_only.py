"""``recon run`` on a landing zone it cannot write: a read-only bind mount (``unshare -m``; the
tests run as root, which file permissions would not stop), holding bad, stray, linked and
re-sent files. The run completes, every such file is copied to quarantine and listed, and not
one file of the landing zone changes (name, size, mtime, sha256), run after run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import paths_env
from tests.deploy.conftest import read_only_mount_works, snapshot

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def run_read_only(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``recon run`` in a mount namespace where ``<root>/landing`` is mounted read-only."""
    landing = root / "landing"
    recon = Path(sys.executable).with_name("recon")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(paths_env(root))
    script = ('mount --bind "$L" "$L" && mount -o remount,bind,ro "$L" && '
              'if touch "$L/.probe" 2>/dev/null; then echo "landing still writable" >&2; exit 9; fi; '
              'exec "$@"')
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                           str(recon), *args], env={**env, "L": str(landing)}, capture_output=True, text=True)


@pytest.fixture
def hostile_landing(small_landing, tmp_path) -> Path:
    landing = Path(shutil.copytree(small_landing, tmp_path / "landing"))
    day = landing / D1.isoformat()
    (day / "alipay" / "readme.txt").write_text("not a bill")
    [bill] = [p for p in (day / "alipay").iterdir() if p.suffix == ".zip"]
    shutil.copy2(bill, bill.with_name("resent_" + bill.name))  # the same statement sent twice
    (day / "complaints" / "complaints_empty.csv").write_bytes(b"")
    outside = tmp_path / "outside.csv"
    outside.write_text("credit_id\n")
    os.symlink(outside, day / "billing" / "linked.csv")
    return landing


def test_recon_run_on_a_read_only_landing_zone_changes_nothing_in_it(hostile_landing, tmp_path):
    assert read_only_mount_works(), "unshare -m is needed for a read-only bind mount (the tests run as root)"
    before = snapshot(hostile_landing)
    for attempt in (1, 2):  # the second run finds the bad files in its quarantine records
        done = run_read_only(tmp_path, "run", "--from", D1.isoformat(), "--to", D2.isoformat())
        assert done.returncode == 0, done.stderr[-3000:]
        assert snapshot(hostile_landing) == before, f"run {attempt} changed the landing zone"
        summary = json.loads((tmp_path / "output" / D1.isoformat() / "run_summary.json").read_text("utf-8"))
        reasons = {Path(q["source_file"]).name: q["reason"] for q in summary["files_quarantined"]}
        assert set(reasons) >= {"readme.txt", "linked.csv", "complaints_empty.csv"}
        assert any(name.startswith("resent_") and "re-sent file" in reason for name, reason in reasons.items())
        for q in summary["files_quarantined"]:  # each a byte-for-byte copy beside its reason file
            held, source = Path(q["quarantine_path"]), hostile_landing / q["source_file"]
            if source.is_symlink():
                assert held.is_symlink() and os.readlink(held) == os.readlink(source)
            else:
                assert held.read_bytes() == source.read_bytes()
            assert held.with_name(held.name + ".reason.json").exists()
