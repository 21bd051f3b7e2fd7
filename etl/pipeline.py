"""One business date from landing to output: ingest → load → match → export → reports.

``run_date`` is what ``recon run`` and the Airflow DAG's tasks call. Outputs of a date are
written to a hidden folder and renamed into place at the end, so a crashed run never leaves
a half-written report visible; the warehouse's per-date results are replaced in one
transaction, so re-running a date gives the same result.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import resource
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

from etl.config import Settings, shanghai_now, shanghai_stamp, shanghai_wall
from etl.console_publish import write_console_tables
from etl.console_resolutions import confirm_resolutions, take_resolutions
from etl.export import write_breaks
from etl.failpoints import failpoint
from etl.fixes.confirm import confirm_fixes
from etl.ingest.base import configure_parsing
from etl.ingest.schedule import parse_side_by_side
from etl.ingest.stage import (LEDGER_SOURCES, REQUIRED_LEDGERS, SourceManifest, parse_work, read_manifest,
                             stage_source)
from etl.load import load_date
from etl.match import match_date
from etl.privacy import mask_text
from etl.quarantine import quarantined_for
from etl.retention import archive_expired, refuse_archived_date
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Progress = Callable[[str], None]


class RunError(RuntimeError):
    """The run could not complete: nothing for the date was published."""


@dataclass
class RunSummary:
    business_date: date
    status: str = "running"
    started_at: str = field(default_factory=shanghai_stamp)
    finished_at: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    files_loaded: list[dict] = field(default_factory=list)
    files_quarantined: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    control_totals: list[dict] = field(default_factory=list)
    breaks_by_type: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    match_steps: dict[str, float] = field(default_factory=dict)  # seconds per model and persisted table
    archived: list[dict] = field(default_factory=list)  # table, date, rows moved to the archive (etl/retention.py)

    @classmethod
    def from_json(cls, text: str) -> "RunSummary":
        data = json.loads(text)
        data["business_date"] = date.fromisoformat(data["business_date"])
        return cls(**data)

    def as_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["business_date"] = self.business_date.isoformat()
        # reasons and warnings may quote input lines: mask phone numbers in everything written
        return mask_text(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def timed(summary: RunSummary, stage: str, progress: Progress | None = None) -> Iterator[None]:
    if progress:
        progress(f"{stage} …")
    started = time.perf_counter()
    yield
    summary.timings[stage] = round(time.perf_counter() - started, 3)
    log.info("%s done in %.2fs", stage, summary.timings[stage])


_held_locks: dict[Path, int] = {}


@contextmanager
def run_lock(settings: Settings, wait: float = 0) -> Iterator[None]:
    """One run per warehouse at a time: a second process fails with a clear message, at once or
    (the Airflow tasks) after waiting up to ``wait`` seconds for the first to finish.
    Re-entrant within a process, so a CLI range run can hold it across its steps."""
    lock_path = settings.paths.warehouse.with_name(settings.paths.warehouse.name + ".lock")
    if _held_locks.get(lock_path):
        _held_locks[lock_path] += 1
        try:
            yield
        finally:
            _held_locks[lock_path] -= 1
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as fh:
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                if time.monotonic() < give_up:
                    log.info("waiting for the warehouse lock (%s)", holder)
                    time.sleep(min(5.0, max(0.1, give_up - time.monotonic())))
                    continue
            raise RunError(f"another recon run is using {settings.paths.warehouse} ({holder}); "
                           "wait for it to finish, then run again") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {shanghai_stamp()}")
        fh.flush()
        _held_locks[lock_path] = 1
        try:
            yield
        finally:
            _held_locks.pop(lock_path, None)
            fcntl.flock(fh, fcntl.LOCK_UN)


def landing_dates(settings: Settings) -> list[date]:
    root = settings.paths.landing
    if not root.is_dir():
        return []
    return sorted(date.fromisoformat(p.name) for p in root.iterdir() if p.is_dir() and DATE_DIR.match(p.name))


PARSE_MEMORY_FLOOR_MB = 1024


def _share(memory_limit: str, parts: int, floor_mb: int = 64) -> str:
    """``memory_limit`` ("4GB", "512MB") divided by ``parts``, in MB, at least ``floor_mb``."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?B)\s*", memory_limit, re.IGNORECASE)
    if not match:
        return memory_limit
    unit = match.group(2).upper().replace("I", "")
    mb = float(match.group(1)) * {"KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}[unit]
    return f"{max(floor_mb, int(mb / parts))}MB"


def _release_freed_memory() -> None:
    """Hand the memory the parses freed back to the system. Arrow's allocator (mimalloc) and
    glibc's keep freed blocks for reuse; the load and match that follow allocate through DuckDB,
    which cannot reuse them, so the process's peak would carry them (~1 GB at 10M orders)."""
    try:
        import ctypes

        import pyarrow as pa

        pa.default_memory_pool().release_unused()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except Exception:  # noqa: BLE001 - not glibc, or no ctypes: an optimisation only, nothing to do
        pass


def stage_all(settings: Settings, business_date: date, progress: Progress | None = None) -> list[SourceManifest]:
    """Parse every source of the date in parallel (threads: parsers release the GIL in
    DuckDB/pyarrow), each into its own staging Parquet."""
    sources = settings.source_dirs()
    # Sources are parsed side by side, one per configured thread, each on one DuckDB thread: with
    # every parse's DuckDB on all threads, two cores ran four busy threads, and the stage step at
    # 10M took 139 CPU-seconds instead of 109 (docs/PERFORMANCE.md). Each parse gets its share of
    # DuckDB's memory budget, but never less than PARSE_MEMORY_FLOOR_MB (a 10M-row ledger parses,
    # spilling, in 512 MB: a margin).
    workers = max(1, settings.duckdb.threads)
    configure_parsing(_share(settings.duckdb.memory_limit, workers, PARSE_MEMORY_FLOOR_MB), 1,
                      settings.paths.staging / business_date.isoformat() / ".spill")
    # Largest first, statements spread out (etl.ingest.schedule): in the configured order the
    # billing ledger started late and ran alone for its last ~19 s at 10M.
    day = settings.paths.landing / business_date.isoformat()
    largest_first = sorted(sources, key=lambda s: -parse_work(day / s, s))
    staged = parse_side_by_side(largest_first, lambda s: s not in LEDGER_SOURCES, workers,
                                lambda s: stage_source(settings, business_date, s))
    manifests = [staged[s] for s in sources]
    _release_freed_memory()
    for m in manifests:
        if progress:
            rows = sum(f.rows for f in m.files)
            progress(f"  {m.source:<10} {len(m.files)} file(s), {rows:,} rows, "
                     f"{len(m.quarantined)} quarantined ({m.seconds:.1f}s)")
    return manifests


def check_required(settings: Settings, manifests: list[SourceManifest], summary: RunSummary) -> None:
    required = set(REQUIRED_LEDGERS) | set(settings.providers.active)
    missing = [m.problem for m in manifests if m.problem and m.source in required]
    for m in manifests:
        if m.problem and m.source not in required:
            summary.warnings.append(m.problem)
    if missing:
        raise RunError("cannot reconcile without: " + "; ".join(missing))


def ingest(settings: Settings, business_date: date, wh: Warehouse, summary: RunSummary,
           progress: Progress | None = None, manifests: list[SourceManifest] | None = None) -> None:
    """Stage (unless the DAG already did) and load one landing date into the warehouse."""
    refuse_archived_date(wh, business_date)
    if manifests is None:
        with timed(summary, "stage", progress):
            manifests = stage_all(settings, business_date, progress)
    check_required(settings, manifests, summary)
    for m in manifests:
        summary.warnings.extend(m.warnings)  # e.g. a source whose every file was quarantined
        summary.warnings.extend(f"{f.source_file}: {w}" for f in m.files for w in f.warnings)
    with timed(summary, "load", progress):
        result = load_date(wh, settings, business_date, manifests)
    summary.files_loaded = [{"source": s, "file": f, "rows": n} for s, f, n in result.loaded]


def publish(staging_dir: Path, final_dir: Path) -> None:
    """Swap a fully written output folder into place with renames."""
    old = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
    if final_dir.exists():
        os.replace(final_dir, old)
    os.replace(staging_dir, final_dir)
    shutil.rmtree(old, ignore_errors=True)


def matched_dates(wh: Warehouse) -> set[date]:
    """Business dates whose run completed."""
    return {d for (d,) in wh.rows("select distinct business_date from run_log where status = 'ok'")}


def write_outputs(settings: Settings, wh: Warehouse, business_date: date, summary: RunSummary,
                  progress: Progress | None = None) -> Path:
    output_root = settings.paths.output
    output_root.mkdir(parents=True, exist_ok=True)
    for stale in output_root.glob(f".{business_date.isoformat()}.*"):  # left by a crashed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = output_root / f".{business_date.isoformat()}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        with timed(summary, "export", progress):
            write_breaks(wh, business_date, tmp)
        # The console's tables are written beside the reports, on a second connection: the
        # reports are much Python (charts, pages, workbooks) and leave a core to DuckDB's work.
        with ThreadPoolExecutor(max_workers=1) as beside, closing(wh.reader()) as console_wh:
            console = beside.submit(_console_tables, settings, console_wh, business_date, tmp, summary, progress)
            try:
                failpoint("mid_report")
                if settings.reports.enabled:
                    with timed(summary, "reports", progress):
                        from reports.render import render_all

                        render_all(wh, business_date, tmp, summary, locale=settings.reports.locale)
            finally:
                console_error = console.exception()  # waits: the folder is not removed under it
            if console_error is not None:
                raise console_error
        failpoint("before_publish")
        summary.status = "ok"
        summary.finished_at = shanghai_stamp()
        summary.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux
        summary.outputs = sorted(p.name for p in tmp.iterdir()) + ["run_summary.json"]
        (tmp / "run_summary.json").write_text(summary.as_json(), "utf-8")
        final = output_root / business_date.isoformat()
        publish(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _console_tables(settings: Settings, wh: Warehouse, business_date: date, tmp: Path, summary: RunSummary,
                    progress: Progress | None) -> None:
    with timed(summary, "console", progress):
        write_console_tables(settings, wh, business_date, tmp / "console")


def _summary_path(settings: Settings, business_date: date) -> Path:
    return settings.paths.staging / business_date.isoformat() / "run_summary.json"


def load_and_match(settings: Settings, business_date: date, progress: Progress | None = None,
                   manifests: list[SourceManifest] | None = None, wh: Warehouse | None = None) -> RunSummary:
    """The warehouse step: load the staged sources, match, update open items. The one writer."""
    summary = RunSummary(business_date)
    if progress:
        progress(f"business date {business_date}")
    with run_lock(settings), (Warehouse(settings) if wh is None else nullcontext(wh)) as wh:
        ingest(settings, business_date, wh, summary, progress, manifests)
        failpoint("after_ingest")
        _console_step(summary, "take the console's resolutions", take_resolutions, settings, wh, business_date)
        with timed(summary, "fixes", progress):
            # sent fixes that today's rows show done resolve their breaks in tonight's match
            _console_step(summary, "confirm the sent fixes",
                          lambda: summary.warnings.extend(confirm_fixes(settings, wh, business_date).warnings()))
        with timed(summary, "match", progress):
            result = match_date(wh, business_date)
        _console_step(summary, "confirm the console's resolutions", confirm_resolutions, settings, wh, business_date)
        with timed(summary, "archive", progress):
            summary.archived = [{"table": a.table, "date": a.day.isoformat(), "rows": a.rows}
                                for a in archive_expired(wh, settings, business_date)]
    summary.control_totals = result.control_totals
    summary.breaks_by_type = result.breaks_by_type
    summary.match_steps = {name: round(seconds, 3) for name, seconds in result.steps.items()}
    summary.files_quarantined = [q.as_json() for q in quarantined_for(settings.paths.quarantine, business_date)]
    path = _summary_path(settings, business_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(summary.as_json(), "utf-8")
    return summary


def _console_step(summary: RunSummary, what: str, step: Callable, *args) -> None:
    """A step that reads or writes the console's database: the night never fails or waits for
    the console; a problem is a warning of the run."""
    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - the console's database is not the night's: go on, say so
        log.warning("could not %s: %s", what, exc)
        summary.warnings.append(f"could not {what}: {exc}")


def render_and_publish(settings: Settings, business_date: date, progress: Progress | None = None,
                       summary: RunSummary | None = None, wh: Warehouse | None = None) -> Path:
    """The reports step: breaks export and reports into a hidden folder, then swapped into place."""
    if summary is None:
        summary = RunSummary.from_json(_summary_path(settings, business_date).read_text("utf-8"))
    with run_lock(settings), (Warehouse(settings) if wh is None else nullcontext(wh)) as wh:
        final = write_outputs(settings, wh, business_date, summary, progress)
        with wh.transaction():
            wh.execute("delete from run_log where business_date = $d", {"d": business_date})
            wh.execute("insert into run_log values ($d, $s::timestamp, $f::timestamp, 'ok', $j)",
                       {"d": business_date, "s": shanghai_wall(summary.started_at), "f": shanghai_now(),
                        "j": summary.as_json()})
    return final


def run_dates(settings: Settings, dates: list[date], progress: Progress | None = None) -> list[RunSummary]:
    """Run each date in order. Earlier landing dates never run are run first: a date's open
    items are carried from the run before it, so any order of requests gives the same result."""
    summaries = []
    with run_lock(settings), Warehouse(settings) as wh:
        done = matched_dates(wh)
        wanted = sorted(set(dates))
        earlier = [d for d in landing_dates(settings) if d < wanted[0] and d not in done]
        for business_date in earlier + wanted:
            summary = load_and_match(settings, business_date, progress, wh=wh)
            render_and_publish(settings, business_date, progress, summary, wh=wh)
            summaries.append(summary)
    return summaries


def ingest_only(settings: Settings, business_date: date, progress: Progress | None = None) -> RunSummary:
    """``recon ingest``: stage and load one date, without matching."""
    summary = RunSummary(business_date)
    with run_lock(settings), Warehouse(settings) as wh:
        ingest(settings, business_date, wh, summary, progress)
    summary.files_quarantined = [q.as_json() for q in quarantined_for(settings.paths.quarantine, business_date)]
    summary.status = "ingested"
    return summary
