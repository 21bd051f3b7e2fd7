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
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from etl import schema
from etl.config import Settings
from etl.ingest import ledgers
from etl.ingest.base import STAGED_COMPRESSION, ParsedFile, ParseError, parsing_connection
from etl.privacy import mask_text
from etl.quarantine import QuarantinedFile, known_bad, printable, quarantine

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
    # No key on two of its rows (a ledger's parse knows): the load need not look for repeats
    # among them. False where unknown (the statements), and in manifests written before.
    keys_unique: bool = False


@dataclass
class SourceManifest:
    landing_date: date
    source: str
    parquet: str | None
    files: list[StagedFile] = field(default_factory=list)
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    problem: str | None = None  # e.g. a missing source folder
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # about the source as a whole (per-file ones are in files)

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
            warnings=data.get("warnings", []),
        )


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def source_files(folder: Path, source: str) -> list[Path]:
    if source in LEDGER_SOURCES:
        return sorted(p for p in folder.iterdir()
                      if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".csv", ".parquet"))
    from etl.ingest.sources import provider_files

    return provider_files(folder, source)


# What parsing a byte costs, per source, relative (seconds per GB at 10M orders on one core,
# measured with bench/stage_bench.py): the ledgers type and check every value in DuckDB; WeChat's and
# Alipay's statements are split by pyarrow; UnionPay's fixed-width records are sliced. Scheduled
# by bytes alone, Alipay (fewer bytes than UnionPay, three times the work) started last and ran
# alone for its last ~4 s.
PARSE_COST_PER_BYTE = {"orders": 26, "billing": 30, "surveys": 25, "complaints": 35,
                       "wechatpay": 14, "alipay": 15, "unionpay": 5}


def parse_work(folder: Path, source: str) -> int:
    """The work a source's parse will do, to schedule the parses by: the bytes it reads (a zip
    archive's by its members' uncompressed sizes: Alipay's and UnionPay's statements come zipped,
    ~10× smaller than what they hold), weighted by PARSE_COST_PER_BYTE. An estimate: an
    unreadable file counts as its size."""
    return parse_bytes(folder, source) * PARSE_COST_PER_BYTE.get(source, max(PARSE_COST_PER_BYTE.values()))


def parse_bytes(folder: Path, source: str) -> int:
    """Bytes a source's parse will read (see parse_work)."""
    if not folder.is_dir():
        return 0
    total = 0
    for path in source_files(folder, source):
        try:
            if path.is_symlink():  # refused unread by stage_source: not followed here either
                continue
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    total += sum(member.file_size for member in archive.infolist())
            else:
                total += path.stat().st_size
        except Exception:  # noqa: BLE001 - a broken file is stage_source's to quarantine, never a crash here
            total += path.lstat().st_size if path.exists() else 0
    return total


def unexpected_files(folder: Path, source: str, accepted: list[Path]) -> list[Path]:
    """Files in a source folder that are not its statements/ledgers nor a ``.sha1`` beside one.
    They are quarantined, not ignored: nothing delivered disappears without a trace. Hidden
    files (a download in progress) and sub-folders are left alone."""
    names = {p.name for p in accepted}
    companions = {n + ".sha1" for n in names} | {n[:-3] + ".sha1" for n in names if n.lower().endswith(".gz")}
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() or p.is_symlink()) and not p.name.startswith(".")
                  and p.name not in names and p.name not in companions)


def expected_files(source: str) -> str:
    if source in LEDGER_SOURCES:
        return "*.csv or *.parquet"
    return {"alipay": "*.zip or *.csv", "wechatpay": "*.csv or *.csv.gz (with its .sha1)",
            "unionpay": "*.zip or INN…"}.get(source, "its statement files")


# The rows of a staged Parquet row group: DuckDB's own, as its COPY writes the ledgers. The load
# reads a file one row group per thread: pyarrow's default (1M rows) left a day of 1M orders'
# statements in one group each, loaded on one core.
PARQUET_ROW_GROUP = 122_880


def parse_file(path: Path, source: str) -> ParsedFile:
    if source in LEDGER_SOURCES:
        return ledgers.parse(path, source)
    from etl.ingest.sources import PROVIDER_PARSERS

    return PROVIDER_PARSERS[source](path)


def _with_lineage(parsed: ParsedFile, source: str, source_file: str, digest: str) -> pa.Table:
    rows = parsed.rows.select(schema.SOURCE_SCHEMAS[source].names)
    once = pa.dictionary(pa.int32(), pa.string())  # one copy of the string, not one per row
    return rows.append_column("source_file", pa.repeat(pa.scalar(source_file, once), rows.num_rows)) \
               .append_column("file_hash", pa.repeat(pa.scalar(digest, once), rows.num_rows))


def stage_file(path: Path, source: str, part: Path, source_file: str, digest: str) -> StagedFile:
    """Parse one delivered file into the Parquet ``part``, with its lineage. A ledger is written
    by DuckDB itself (a 10M-row ledger never becomes an Arrow table in Python)."""
    try:
        if source in LEDGER_SOURCES:
            rows, warnings, keys_unique = ledgers.stage(path, source, part, source_file, digest)
            return StagedFile(source_file, digest, rows, None, [mask_text(w) for w in warnings], keys_unique)
        parsed = parse_file(path, source)
        pq.write_table(_with_lineage(parsed, source, source_file, digest), part, compression=STAGED_COMPRESSION,
                       row_group_size=PARQUET_ROW_GROUP)
        return StagedFile(source_file, digest, parsed.rows.num_rows, _totals_json(parsed),
                          [mask_text(w) for w in parsed.warnings])
    except BaseException:
        part.unlink(missing_ok=True)  # a failed file leaves no part behind
        raise


def _combine(parts: list[Path], target: Path, empty: pa.Schema) -> None:
    """Write the parts, in order, as the one Parquet file ``target`` (streamed by DuckDB)."""
    if len(parts) == 1:
        os.replace(parts[0], target)
    elif not parts:
        pq.write_table(empty.empty_table(), target, compression=STAGED_COMPRESSION)
    else:
        with parsing_connection() as con:  # insertion order is kept: the parts' rows in file order
            con.execute(f"copy (select * from read_parquet($parts)) to $target (format parquet, compression {STAGED_COMPRESSION})",
                        {"parts": [str(p) for p in parts], "target": str(target)})


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
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write leaves nothing behind


def stage_source(settings: Settings, landing_date: date, source: str) -> SourceManifest:
    """Parse ``<landing>/<date>/<source>/`` into staging. Bad files go to quarantine."""
    started = time.perf_counter()
    landing = settings.paths.landing
    folder = landing / landing_date.isoformat() / source
    parquet_path, manifest_path = staging_paths(settings, landing_date, source)
    parquet_path.parent.mkdir(parents=True, exist_ok=True)
    # A run killed while staging this source (no finally ran) left its hidden parts and
    # temporary files: they are never read, and nothing else would remove them.
    for leftover in parquet_path.parent.glob(f".{parquet_path.name}.*"):
        leftover.unlink(missing_ok=True)
    manifest = SourceManifest(landing_date=landing_date, source=source, parquet=None)
    parts: list[Path] = []  # each accepted file's rows, hidden until combined into parquet_path
    try:
        if not folder.is_dir():
            manifest.problem = f"no folder {folder.relative_to(landing)} in the landing zone"
        else:
            def refuse(path: Path, error: ParseError, digest: str | None = None) -> None:
                manifest.quarantined.append(
                    quarantine(path, landing, settings.paths.quarantine, landing_date, source, error, digest))

            refused_before = known_bad(settings.paths.quarantine, landing_date, source)
            accepted = source_files(folder, source)
            for i, path in enumerate(accepted):
                rel = str(path.relative_to(landing))
                if path.is_symlink():  # landing files are written by our extract tasks: never links
                    refuse(path, ParseError(path, None, "a symbolic link, not a delivered file: refused"))
                    continue
                digest = file_hash(path)
                if (rel, digest) in refused_before:  # the landing zone keeps bad files: judged once
                    manifest.quarantined.append(refused_before[(rel, digest)])
                    log.info("%s: quarantined before, unchanged", mask_text(printable(rel)))
                    continue
                part = parquet_path.with_name(f".{parquet_path.name}.{os.getpid()}.{i}.part")
                try:
                    staged = stage_file(path, source, part, rel, digest)
                except ParseError as error:
                    refuse(path, error, digest)
                    continue
                except (MemoryError, OSError, duckdb.OutOfMemoryException, duckdb.IOException):
                    raise  # the machine's trouble (memory, disk), not the file's: fail the run, keep the file
                except Exception as error:  # a case no parser foresaw: this file only, loudly
                    log.exception("parser for %s failed on %s", source, mask_text(printable(rel)))
                    refuse(path, ParseError(path, None, f"could not be parsed: unexpected {type(error).__name__}: "
                                                        f"{str(error)[:200]} (an input the parser does not foresee)"),
                           digest)
                    continue
                parts.append(part)
                manifest.files.append(staged)
                log.info("parsed %s: %d rows", mask_text(printable(rel)), staged.rows)
            for path in unexpected_files(folder, source, accepted):
                refuse(path, ParseError(path, None, f"not a file the {source} source delivers "
                                                    f"(expected {expected_files(source)})"))
            if manifest.quarantined and not manifest.files:
                manifest.warnings.append(
                    f"{source}: every delivered file was quarantined ({len(manifest.quarantined)}); the run has "
                    f"no {source} rows, so what they would have matched shows as breaks: re-deliver and re-run "
                    "the date")
        target_schema = schema.SOURCE_SCHEMAS[source].append(pa.field("source_file", pa.string())) \
                                                      .append(pa.field("file_hash", pa.string()))
        _write_atomic(parquet_path, lambda tmp: _combine(parts, tmp, target_schema))
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    manifest.parquet = str(parquet_path)
    manifest.seconds = round(time.perf_counter() - started, 3)
    _write_atomic(manifest_path, lambda tmp: tmp.write_text(manifest.to_json(), "utf-8"))
    return manifest


def read_manifest(settings: Settings, landing_date: date, source: str) -> SourceManifest:
    _, manifest_path = staging_paths(settings, landing_date, source)
    return SourceManifest.from_json(manifest_path.read_text("utf-8"))
