"""Quarantine: a file that cannot be loaded is moved aside with a reason file, never dropped."""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

from etl.ingest.base import ParseError

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


def safe_name(name: str) -> str:
    """A file name from input, made safe to use as a path component."""
    cleaned = "".join(ch if ch.isalnum() or ch in "._-()" or ord(ch) > 127 else "_" for ch in name)
    cleaned = cleaned.lstrip(".") or "unnamed"
    return cleaned[:200]


def quarantine(path: Path, landing: Path, quarantine_root: Path, landing_date: date, source: str,
               error: ParseError | str) -> QuarantinedFile:
    """Move ``path`` to ``<quarantine>/<date>/<source>/`` and write ``<name>.reason.json`` beside it."""
    reason = str(error)
    line = error.line if isinstance(error, ParseError) else None
    folder = quarantine_root / landing_date.isoformat() / source
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_name(path.name)
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
    tmp.write_text(json.dumps({**record.as_json(), "quarantined_at": datetime.now().isoformat(timespec="seconds")},
                              ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, reason_file)
    shutil.move(str(path), target)
    for companion in (path.with_name(path.name + ".sha1"),):  # keep a checksum with its file
        if companion.exists():
            shutil.move(str(companion), target.with_name(target.name + ".sha1"))
    log.warning("quarantined %s: %s", record.source_file, reason)
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
