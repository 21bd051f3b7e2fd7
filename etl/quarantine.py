"""Quarantine: a file that cannot be loaded is copied aside with a reason file, never dropped.

The landing zone is read-only to the pipeline (providers and the extractors write it): a bad
file stays where it landed, and a copy (byte for byte, a symbolic link as a link) goes to
``<quarantine>/<date>/<source>/`` under a name made safe from its own name; a different file
already quarantined under that name is never overwritten. The reason file records the file's
sha256, so a later staging of the date knows the file without parsing it again
(:func:`known_bad`). Reasons go through ``etl.privacy.mask_text``: a reason quotes values from
the file, and the reason files, the run summary and the logs are outside the warehouse.
"""
from __future__ import annotations

import filecmp
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from etl.config import shanghai_stamp
from etl.ingest.base import ParseError
from etl.privacy import mask_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuarantinedFile:
    landing_date: date
    source: str
    source_file: str  # relative to the landing zone, as it arrived
    quarantine_path: str
    reason: str
    line: int | None
    file_hash: str | None = None  # sha256 of the file as it landed (None: a link, or an older record)

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["landing_date"] = self.landing_date.isoformat()
        return out


MAX_NAME_BYTES = 150  # file systems allow 255 bytes; room is left for "~N" and ".reason.json"


def safe_name(name: str) -> str:
    """A file name from input, made safe to use as one path component: letters and digits of
    any script, ``._-()`` and full-width parentheses stay; separators, control and invisible
    characters (e.g. right-to-left overrides) become ``_``; no leading dot; at most
    MAX_NAME_BYTES of UTF-8, cut from the stem so the extension survives."""
    cleaned = "".join(ch if ch.isprintable() and (ch.isalnum() or ch in "._-()（）") else "_" for ch in name)
    cleaned = cleaned.lstrip(".") or "unnamed"
    if len(cleaned.encode("utf-8")) <= MAX_NAME_BYTES:
        return cleaned
    dot = cleaned.find(".", 1)
    suffix = cleaned[dot:] if 0 < dot and len(cleaned) - dot <= 20 else ""
    stem = cleaned[: len(cleaned) - len(suffix)]
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def printable(text: str) -> str:
    """Text from input made safe to print in a log line or a reason: control and invisible
    characters (a newline that would forge a log line, a right-to-left override) escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _free_target(folder: Path, name: str, incoming: Path) -> Path:
    """``folder/name``, unless a different file is already there: then ``stem~2.ext``, ``~3``…
    (the same bytes quarantined again may take the same place: nothing is lost)."""
    target = folder / name
    if not target.exists() or (target.is_file() and not incoming.is_symlink()
                                and filecmp.cmp(target, incoming, shallow=False)):
        return target
    dot = name.find(".", 1)
    stem, suffix = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    n = 2
    while (folder / f"{stem}~{n}{suffix}").exists():
        n += 1
    return folder / f"{stem}~{n}{suffix}"


def _companions(path: Path) -> list[Path]:
    """The ``.sha1`` delivered beside a bill: ``<name>.sha1``, or for ``X.csv.gz`` also
    ``X.csv.sha1`` when no plain ``X.csv`` claims it (etl.ingest.wechatpay reads both)."""
    found = [path.with_name(path.name + ".sha1")]
    if path.name.lower().endswith(".gz") and not path.with_name(path.name[:-3]).exists():
        found.append(path.with_name(path.name[:-3] + ".sha1"))
    return [c for c in found if c.is_file() and not c.is_symlink()][:1]


def _copy(path: Path, target: Path) -> None:
    """Copy ``path`` to ``target`` byte for byte (a link as a link, never followed), written
    under a temporary name and renamed, so a quarantined file is never half there."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        shutil.copy2(path, tmp, follow_symlinks=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def quarantine(path: Path, landing: Path, quarantine_root: Path, landing_date: date, source: str,
               error: ParseError | str, digest: str | None = None) -> QuarantinedFile:
    """Copy ``path`` to ``<quarantine>/<date>/<source>/`` and write ``<name>.reason.json`` beside
    it; the landing file is left as it is. ``digest``: the file's sha256 when already known."""
    reason = mask_text(printable(str(error)))
    line = error.line if isinstance(error, ParseError) else None
    folder = quarantine_root / landing_date.isoformat() / source
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(path.name)
    if name.endswith((".reason.json", ".tmp")):  # never mistaken for our own reason files
        name += "_"
    target = _free_target(folder, name, path)
    record = QuarantinedFile(
        landing_date=landing_date,
        source=source,
        source_file=str(path.relative_to(landing)) if path.is_relative_to(landing) else path.name,
        quarantine_path=str(target),
        reason=reason,
        line=line,
        file_hash=digest if digest is not None else _sha256(path),
    )
    _copy(path, target)
    for companion in _companions(path):  # keep a checksum with its file
        _copy(companion, target.with_name(target.name + ".sha1"))
    reason_file = target.with_name(target.name + ".reason.json")
    tmp = reason_file.with_name(reason_file.name + ".tmp")
    tmp.write_text(json.dumps({**record.as_json(), "quarantined_at": shanghai_stamp()},
                              ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, reason_file)  # last: a record always has its file
    log.warning("quarantined %s: %s", mask_text(printable(record.source_file)), reason)
    return record


def known_bad(quarantine_root: Path, landing_date: date, source: str) -> dict[tuple[str, str], QuarantinedFile]:
    """The files of a date and source quarantined before by staging, by (landing path, sha256):
    the same bytes under the same name are refused again with their recorded reason, not parsed
    again on every run (the landing zone keeps them). Delete a reason file to have its file
    parsed again."""
    return {(q.source_file, q.file_hash): q for q in quarantined_for(quarantine_root, landing_date)
            if q.source == source and q.file_hash and Path(q.quarantine_path).exists()
            and not q.reason.startswith(RESENT)}  # a re-sent copy is the load's to judge, each time


RESENT = "re-sent file:"  # how etl.load's reason for a copy of a file loaded before begins


def quarantined_for(quarantine_root: Path, landing_date: date) -> list[QuarantinedFile]:
    """Every file quarantined for a landing date, from the reason files (survives re-runs)."""
    folder = quarantine_root / landing_date.isoformat()
    found = []
    for reason_file in sorted(folder.glob("*/*.reason.json")):
        data = json.loads(reason_file.read_text("utf-8"))
        found.append(QuarantinedFile(
            landing_date=date.fromisoformat(data["landing_date"]), source=data["source"],
            source_file=data["source_file"], quarantine_path=data["quarantine_path"],
            reason=data["reason"], line=data.get("line"), file_hash=data.get("file_hash"),
        ))
    return found
