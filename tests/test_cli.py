"""The command line as automation calls it (shared/spec/cli.md): exit codes, outputs, messages."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import paths_env


def recon(root, *args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    full.update(paths_env(root, RECON_REPORTS__ENABLED="false", **env))
    return subprocess.run([sys.executable, "-m", "etl.cli", *args], env=full, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def workspace(small_landing, tmp_path):
    shutil.copytree(small_landing, tmp_path / "landing")
    return tmp_path


class TestRun:
    def test_run_writes_breaks_and_summary_and_exits_0(self, workspace):
        done = recon(workspace, "run", "--date", "2026-11-01")
        assert done.returncode == 0, done.stderr
        out = workspace / "output" / "2026-11-01"
        header = (out / "breaks.csv").read_text("utf-8").splitlines()[0]
        assert header == ("business_date,break_type,order_id,provider,provider_txn_id,credit_id,msisdn_masked,"
                          "order_amount,paid_amount,credited_amount,difference,paid_at,credited_at,delay_minutes,"
                          "first_seen,age_days,status")
        summary = json.loads((out / "run_summary.json").read_text("utf-8"))
        assert summary["status"] == "ok" and all(t["balanced"] for t in summary["control_totals"])
        assert {f["source"] for f in summary["files_loaded"]} >= {"orders", "billing", "alipay", "wechatpay", "unionpay"}

    def test_range_runs_each_date_in_order(self, workspace):
        done = recon(workspace, "run", "--from", "2026-11-01", "--to", "2026-11-02")
        assert done.returncode == 0, done.stderr
        assert (workspace / "output" / "2026-11-02" / "breaks.csv").exists()

    def test_options_win_over_environment(self, workspace, tmp_path):
        elsewhere = tmp_path / "elsewhere"
        done = recon(workspace, "run", "--date", "2026-11-01", "--output", str(elsewhere))
        assert done.returncode == 0, done.stderr
        assert (elsewhere / "2026-11-01" / "breaks.csv").exists()
        assert not (workspace / "output").exists()

    def test_a_warehouse_file_name_with_a_dash_works(self, workspace):
        # DuckDB names the database after the file: "recon-prod" must be quoted wherever it is used
        warehouse = workspace / "warehouse" / "recon-prod.duckdb"
        done = recon(workspace, "run", "--date", "2026-11-01", RECON_WAREHOUSE=str(warehouse))
        assert done.returncode == 0, done.stderr
        assert (workspace / "output" / "2026-11-01" / "breaks.csv").exists() and warehouse.exists()

    def test_missing_orders_folder_fails_with_the_reason(self, workspace):
        shutil.rmtree(workspace / "landing" / "2026-11-01" / "orders")
        done = recon(workspace, "run", "--date", "2026-11-01")
        assert done.returncode == 1
        assert "no folder 2026-11-01/orders" in done.stderr

    def test_bad_date_is_a_usage_error(self, workspace):
        done = recon(workspace, "run", "--date", "2026-13-01")
        assert done.returncode == 2 and "is not a date" in done.stderr


class TestIngest:
    def test_ingest_loads_without_matching(self, workspace):
        done = recon(workspace, "ingest", "--date", "2026-11-01")
        assert done.returncode == 0, done.stderr
        assert "loaded 7 file(s)" in done.stderr
        assert not (workspace / "output").exists()


class TestResolve:
    def test_resolve_by_key_then_by_file(self, workspace, tmp_path):
        assert recon(workspace, "run", "--date", "2026-11-01").returncode == 0
        breaks = (workspace / "output" / "2026-11-01" / "breaks.csv").read_text("utf-8").splitlines()[1:]
        open_orders = [line.split(",") for line in breaks if line.endswith(",open")]
        dup = next(r for r in open_orders if r[1] == "DUPLICATE_CREDIT")
        done = recon(workspace, "resolve", f"DUPLICATE_CREDIT|{dup[2]}", "--by", "ops.li", "--why", "reversed in BOSS",
                     "--as-of", "2026-11-02")
        assert done.returncode == 0, done.stderr
        orphan = next(r for r in open_orders if r[1] == "ORPHAN_CREDIT")
        sheet = tmp_path / "resolutions.csv"
        sheet.write_text(f"key,why\nORPHAN_CREDIT|{orphan[5]},promotion credit\n", "utf-8")
        done = recon(workspace, "resolve", "--file", str(sheet), "--by", "fin.wang", "--as-of", "2026-11-02")
        assert done.returncode == 0, done.stderr
        assert recon(workspace, "run", "--date", "2026-11-02").returncode == 0
        rows = (workspace / "output" / "2026-11-02" / "breaks.csv").read_text("utf-8").splitlines()
        assert any(r.startswith(f"2026-11-02,DUPLICATE_CREDIT,{dup[2]},") and r.endswith(",resolved") for r in rows)
        assert any(f",{orphan[5]}," in r and r.endswith(",resolved") for r in rows if ",ORPHAN_CREDIT," in r)

    def test_resolving_nothing_open_fails(self, workspace):
        assert recon(workspace, "run", "--date", "2026-11-01").returncode == 0
        done = recon(workspace, "resolve", "NO-SUCH-ORDER", "--by", "ops.li", "--why", "x")
        assert done.returncode == 1 and "no open break" in done.stderr
