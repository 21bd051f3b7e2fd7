"""Quarantine: a file that cannot be loaded is moved aside with a reason file, never dropped.

The file is moved as it arrived (byte for byte) under a name made safe from its own name; a
different file already quarantined under that name is never overwritten. Reasons go through
``etl.privacy.mask_text``: a reason quotes values from the file, and the reason files, the run
summary and the logs are outside the warehouse.
"""
from __future__ import annotations

import filecmp
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


def quarantine(path: Path, landing: Path, quarantine_root: Path, landing_date: date, source: str,
               error: ParseError | str) -> QuarantinedFile:
    """Move ``path`` to ``<quarantine>/<date>/<source>/`` and write ``<name>.reason.json`` beside it."""
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
    )
    reason_file = target.with_name(target.name + ".reason.json")
    tmp = reason_file.with_name(reason_file.name + ".tmp")
    tmp.write_text(json.dumps({**record.as_json(), "quarantined_at": shanghai_stamp()},
                              ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, reason_file)
    shutil.move(str(path), target)
    for companion in _companions(path):  # keep a checksum with its file
        shutil.move(str(companion), target.with_name(target.name + ".sha1"))
    log.warning("quarantined %s: %s", mask_text(printable(record.source_file)), reason)
    return record


def quarantined_for(quarantine_root: Path, landing_date: date) -> list[QuarantinedFile]:
    """Every file quarantined for a landing date, from the reason files (survives re-runs)."""
    folder = quarantine_root / landing_date.isoformat()
    found = []
    for reason_file in sorted(folder.glob("*/*.reason.json")):
        data = json.loads(reason_file.read_text("utf-8"))
        found.append(QuarantinedFile(
            landing_date=date.fromisoformat(data["landing_date"]), source=data["source"],
            source_file=data["source_file"], quarantine_path=data["quarantine_path"],
            reason=data["reason"], line=data.get("line"),
        ))
    return found
