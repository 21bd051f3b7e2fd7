"""Stage one landing source for one date: parse every delivered file, quarantine what fails,
and write the rows (with lineage) to ``<staging>/<date>/<source>.parquet`` plus a manifest.

Staging never touches the warehouse, so sources can be staged in parallel (threads here,
mapped Airflow tasks in production); ``etl.load`` is the one writer that loads them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from etl import schema
from etl.config import Settings
from etl.ingest import ledgers
from etl.ingest.base import ParsedFile, ParseError
from etl.quarantine import QuarantinedFile, quarantine

log = logging.getLogger(__name__)

LEDGER_SOURCES = ("orders", "billing", "surveys", "complaints")
REQUIRED_LEDGERS = ("orders", "billing")


@dataclass
class StagedFile:
    source_file: str
    file_hash: str
    rows: int
    totals: dict[str, str | int | None] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SourceManifest:
    landing_date: date
    source: str
    parquet: str | None
    files: list[StagedFile] = field(default_factory=list)
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    problem: str | None = None  # e.g. a missing source folder
    seconds: float = 0.0

    def to_json(self) -> str:
        data = asdict(self)
        data["landing_date"] = self.landing_date.isoformat()
        data["quarantined"] = [q.as_json() for q in self.quarantined]
        return json.dumps(data, ensure_ascii=False, indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> "SourceManifest":
        data = json.loads(text)
        return cls(
            landing_date=date.fromisoformat(data["landing_date"]),
            source=data["source"],
            parquet=data["parquet"],
            files=[StagedFile(**f) for f in data["files"]],
            quarantined=[QuarantinedFile(**{**q, "landing_date": date.fromisoformat(q["landing_date"])})
                         for q in data["quarantined"]],
            problem=data.get("problem"),
            seconds=data.get("seconds", 0.0),
        )


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def source_files(folder: Path, source: str) -> list[Path]:
    if source in LEDGER_SOURCES:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".csv", ".parquet"))
    from etl.ingest.sources import provider_files

    return provider_files(folder, source)


def parse_file(path: Path, source: str) -> ParsedFile:
    if source in LEDGER_SOURCES:
        return ledgers.parse(path, source)
    from etl.ingest.sources import PROVIDER_PARSERS

    return PROVIDER_PARSERS[source](path)


def _with_lineage(parsed: ParsedFile, source: str, source_file: str, digest: str) -> pa.Table:
    rows = parsed.rows.select(schema.SOURCE_SCHEMAS[source].names)
    n = rows.num_rows
    return rows.append_column("source_file", pa.repeat(pa.scalar(source_file, pa.string()), n)) \
               .append_column("file_hash", pa.repeat(pa.scalar(digest, pa.string()), n))


def _totals_json(parsed: ParsedFile) -> dict[str, str | int | None] | None:
    if parsed.totals is None:
        return None
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(parsed.totals).items()}


def staging_paths(settings: Settings, landing_date: date, source: str) -> tuple[Path, Path]:
    folder = settings.paths.staging / landing_date.isoformat()
    return folder / f"{source}.parquet", folder / f"{source}.manifest.json"


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def stage_source(settings: Settings, landing_date: date, source: str) -> SourceManifest:
    """Parse ``<landing>/<date>/<source>/`` into staging. Bad files go to quarantine."""
    started = time.perf_counter()
    landing = settings.paths.landing
    folder = landing / landing_date.isoformat() / source
    parquet_path, manifest_path = staging_paths(settings, landing_date, source)
    manifest = SourceManifest(landing_date=landing_date, source=source, parquet=None)
    tables: list[pa.Table] = []
    if not folder.is_dir():
        manifest.problem = f"no folder {folder.relative_to(landing)} in the landing zone"
    else:
        for path in source_files(folder, source):
            digest = file_hash(path)
            rel = str(path.relative_to(landing))
            try:
                parsed = parse_file(path, source)
            except ParseError as error:
                manifest.quarantined.append(
                    quarantine(path, landing, settings.paths.quarantine, landing_date, source, error))
                continue
            tables.append(_with_lineage(parsed, source, rel, digest))
            manifest.files.append(StagedFile(rel, digest, parsed.rows.num_rows, _totals_json(parsed),
                                             list(parsed.warnings)))
            log.info("parsed %s: %d rows", rel, parsed.rows.num_rows)
    target_schema = schema.SOURCE_SCHEMAS[source].append(pa.field("source_file", pa.string())) \
                                                  .append(pa.field("file_hash", pa.string()))
    table = pa.concat_tables(tables) if tables else target_schema.empty_table()
    _write_atomic(parquet_path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    manifest.parquet = str(parquet_path)
    manifest.seconds = round(time.perf_counter() - started, 3)
    _write_atomic(manifest_path, lambda tmp: tmp.write_text(manifest.to_json(), "utf-8"))
    return manifest


def read_manifest(settings: Settings, landing_date: date, source: str) -> SourceManifest:
    _, manifest_path = staging_paths(settings, landing_date, source)
    return SourceManifest.from_json(manifest_path.read_text("utf-8"))
