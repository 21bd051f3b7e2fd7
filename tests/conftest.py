"""Fixtures shared by every test package."""
from __future__ import annotations

from pathlib import Path

import pytest

# shared/ sits beside the repository (here /work/main and /work/shared; in CI the clone and
# shared/ are checked out side by side the same way).
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "providers"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The providers' sample statements (shared/samples/providers). Missing means a broken
    checkout, so the tests that need it fail rather than skip."""
    if not SAMPLES.is_dir():
        pytest.fail(f"provider samples not found at {SAMPLES}: check out shared/ beside the repository")
    return SAMPLES


def paths_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment that points every configured path of topup-recon into ``root``."""
    return {
        "RECON_LANDING": str(root / "landing"),
        "RECON_WAREHOUSE": str(root / "warehouse" / "recon.duckdb"),
        "RECON_OUTPUT": str(root / "output"),
        "RECON_QUARANTINE": str(root / "quarantine"),
        "RECON_STAGING": str(root / "staging"),
        **extra,
    }


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """Two generated days (2026-11-01 and 02) in their real formats. Copy before damaging."""
    from datetime import date

    from etl.generate import generate_landing

    root = tmp_path_factory.mktemp("small")
    generate_landing(root / "landing", date(2026, 11, 1), 2, 600, seed=5)
    return root / "landing"


@pytest.fixture(scope="session")
def month_run(tmp_path_factory):
    """30 generated days reconciled in order (breaks exports only, no reports, for speed):
    (settings, ground-truth folder, dates)."""
    from datetime import date, timedelta

    from etl.config import load_settings
    from etl.generate import generate_landing
    from etl.pipeline import run_dates

    root = tmp_path_factory.mktemp("month")
    start, days = date(2026, 10, 1), 30
    generate_landing(root / "landing", start, days, 700, seed=30)
    settings = load_settings(paths_env(root, RECON_REPORTS__ENABLED="false"))
    dates = [start + timedelta(days=i) for i in range(days)]
    run_dates(settings, dates)
    return settings, root / "ground_truth", dates


# The deployment tests (tests/deploy) write their wall times here; shown at the end of the run.
DEPLOY_TIMINGS = Path(__file__).resolve().parents[1] / ".pytest_cache" / "deploy-timings.txt"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        DEPLOY_TIMINGS.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if DEPLOY_TIMINGS.exists() and not hasattr(terminalreporter.config, "workerinput"):
        terminalreporter.section("deployment timings")
        for line in DEPLOY_TIMINGS.read_text().splitlines():
            terminalreporter.write_line(line)
