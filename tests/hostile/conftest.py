"""One generated day (300 orders, every source in its real format), made once per session;
each test damages its own copy and, for end-to-end cases, runs the real pipeline on it."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from etl.config import Settings, load_settings
from etl.generate import generate_landing, truth_folder
from etl.pipeline import RunSummary, run_dates

DAY = date(2026, 11, 24)
SOURCES = ("orders", "alipay", "wechatpay", "unionpay", "billing", "surveys", "complaints")


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """The pristine landing zone (never damaged: tests work on copies)."""
    landing = tmp_path_factory.mktemp("generated") / "landing"
    generate_landing(landing, DAY, days=1, orders_per_day=300, seed=7)
    return landing


class Day:
    """A private copy of the generated day, its settings, and what a run made of it."""

    def __init__(self, root: Path, generated: Path):
        self.root = root
        self.landing = root / "landing"
        shutil.copytree(generated, self.landing)
        self.truth = truth_folder(generated) / DAY.isoformat()
        self.settings: Settings = load_settings({
            "RECON_LANDING": str(self.landing), "RECON_WAREHOUSE": str(root / "wh.duckdb"),
            "RECON_OUTPUT": str(root / "out"), "RECON_QUARANTINE": str(root / "quarantine"),
            "RECON_STAGING": str(root / "staging"), "RECON_REPORTS__ENABLED": "false",  # fast: breaks export only
        })

    def reports_on(self) -> "Day":
        """Render the reports too (for the cases whose proof is in them)."""
        self.settings = self.settings.model_copy(
            update={"reports": self.settings.reports.model_copy(update={"enabled": True})})
        return self

    def folder(self, source: str) -> Path:
        return self.landing / DAY.isoformat() / source

    def file(self, source: str) -> Path:
        """The one file the generator delivered for ``source`` (never a .sha1)."""
        [path] = [p for p in self.folder(source).iterdir() if not p.name.endswith(".sha1")]
        return path

    def truth_rows(self, source: str) -> int:
        return pq.read_metadata(self.truth / f"{source}.parquet").num_rows

    def run(self) -> RunSummary:
        [summary] = run_dates(self.settings, [DAY])
        return summary

    @property
    def output(self) -> Path:
        return self.root / "out" / DAY.isoformat()

    def quarantined(self, source: str) -> list[Path]:
        folder = self.root / "quarantine" / DAY.isoformat() / source
        return sorted(p for p in folder.iterdir() if not p.name.endswith((".reason.json", ".sha1"))) \
            if folder.is_dir() else []

    def reason(self, quarantined: Path) -> dict:
        return json.loads(quarantined.with_name(quarantined.name + ".reason.json").read_text("utf-8"))

    def warehouse(self, sql: str, params: dict | None = None) -> list[tuple]:
        with duckdb.connect(str(self.root / "wh.duckdb"), read_only=True) as con:
            return con.execute(sql, params or {}).fetchall()

    def outcomes(self, source: str) -> dict[str, int]:
        return dict(self.warehouse("select outcome, rows from outcome_totals where business_date = $d "
                                   "and source = $s", {"d": DAY, "s": source}))


@pytest.fixture
def day(generated, tmp_path) -> Day:
    return Day(tmp_path, generated)


def loaded_rows(summary: RunSummary, source: str) -> int:
    return sum(f["rows"] for f in summary.files_loaded if f["source"] == source)


def assert_nothing_lost(day: Day, summary: RunSummary, damaged: dict[str, bytes]) -> None:
    """Counts prove nothing was dropped: every source's rows are loaded or held, byte for byte,
    in quarantine; and every loaded row has an outcome (the control totals balance)."""
    quarantined = {q["source"] for q in summary.files_quarantined}
    for source in SOURCES:
        held = day.quarantined(source)
        if source in damaged:  # the damaged file is held exactly as it arrived
            assert any(p.read_bytes() == damaged[source] for p in held), f"{source}: damaged file not held as is"
        if source in quarantined and source in damaged:
            assert loaded_rows(summary, source) == 0
        elif source not in quarantined:
            assert loaded_rows(summary, source) == day.truth_rows(source), source
    assert summary.control_totals, "no control totals"
    for totals in summary.control_totals:
        assert totals["balanced"], totals
        assert totals["rows_in"] == loaded_rows(summary, totals["source"]), totals
