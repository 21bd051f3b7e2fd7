"""Re-credits (补充值) and reversals (冲正) go to the billing system (BOSS) as a batch file,
since BOSS is reached by file, as its exports are. docs/REMEDIATION.md documents the format.

``<dir>/recon_fixes_<yyyymmddHHMMSS>_<first key>.csv``: UTF-8, header, one line per fix,
columns :data:`COLUMNS`; ``action`` is ``CREDIT`` or ``REVERSE``, ``amount`` a positive
decimal with two places (a reversal cancels ``reverses_credit_id`` whole). ``request_key`` is
the fix's idempotency key: BOSS posts each key once, and states it as the ``credit_id`` of the
credit or reversal it posts, which is how the night's run confirms it.

Beside it, ``<name>.manifest.json``: the file's SHA-256, line count and totals. Both are
written under hidden temporary names and renamed into place, the manifest last: BOSS takes a
batch only once its manifest is there and the checksum matches.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from etl.extract.providers.http import publish, temp_path

COLUMNS = ("request_key", "action", "order_id", "msisdn", "amount", "product_type", "reverses_credit_id",
           "reason", "requested_at")
ACTIONS = {"recredit": "CREDIT", "reversal": "REVERSE"}
FORMAT = "topup-recon billing fixes v1"


class BatchError(ValueError):
    """A batch that cannot be written or read as documented."""


@dataclass(frozen=True)
class BatchLine:
    request_key: str
    kind: str  # recredit | reversal
    order_id: str | None
    msisdn: str | None
    amount: Decimal
    product_type: str | None
    reverses_credit_id: str | None
    reason: str
    requested_at: datetime  # Asia/Shanghai wall time

    def row(self) -> list[str]:
        if self.kind not in ACTIONS:
            raise BatchError(f"{self.request_key}: {self.kind!r} is not a billing fix")
        if self.amount <= 0 or self.amount != self.amount.quantize(Decimal("0.01")):
            raise BatchError(f"{self.request_key}: amount {self.amount} must be positive with at most two decimals")
        if self.kind == "reversal" and not self.reverses_credit_id:
            raise BatchError(f"{self.request_key}: a reversal names the credit it cancels")
        # text that a spreadsheet would run as a formula never reaches BOSS's operators' tools as one
        reason = ("'" + self.reason) if self.reason[:1] in ("=", "+", "-", "@", "\t", "\r") else self.reason
        return [self.request_key, ACTIONS[self.kind], self.order_id or "", self.msisdn or "",
                f"{self.amount:.2f}", self.product_type or "", self.reverses_credit_id or "",
                reason.replace("\n", " ")[:200], self.requested_at.strftime("%Y-%m-%dT%H:%M:%S+08:00")]


@dataclass(frozen=True)
class WrittenBatch:
    path: Path
    manifest: Path
    sha256: str
    lines: int


def write_batch(lines: list[BatchLine], folder: Path, created_at: datetime) -> WrittenBatch:
    """Write ``lines`` as one batch and its manifest into ``folder``, atomically."""
    if not lines:
        raise BatchError("an empty batch is not written")
    keys = [line.request_key for line in lines]
    if len(set(keys)) != len(keys):
        raise BatchError("a batch holds each request_key once")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(line.row())
    data = buffer.getvalue().encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    name = f"recon_fixes_{created_at:%Y%m%d%H%M%S}_{keys[0]}.csv"
    manifest = {
        "format": FORMAT,
        "file": name,
        "sha256": digest,
        "lines": len(lines),
        "credit_amount": f"{sum((l.amount for l in lines if l.kind == 'recredit'), Decimal('0')):.2f}",
        "reversal_amount": f"{sum((l.amount for l in lines if l.kind == 'reversal'), Decimal('0')):.2f}",
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
    }
    folder = Path(folder)
    temp, temp_manifest = temp_path(folder, name), temp_path(folder, name + ".manifest.json")
    try:
        temp.touch(mode=0o600)  # it holds whole phone numbers (BOSS credits by number): its owner reads it
        temp.write_bytes(data)
        temp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        target = publish(temp, folder / name)
        target_manifest = publish(temp_manifest, folder / (name + ".manifest.json"))
    finally:
        temp.unlink(missing_ok=True)
        temp_manifest.unlink(missing_ok=True)
    return WrittenBatch(target, target_manifest, digest, len(lines))


def read_batch(path: Path) -> list[dict[str, str]]:
    """The lines of a batch, after its manifest's checksum and count are checked (what BOSS does)."""
    path = Path(path)
    manifest_path = path.with_name(path.name + ".manifest.json")
    if not manifest_path.is_file():
        raise BatchError(f"{path.name}: no manifest: the batch is not complete")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise BatchError(f"{path.name}: SHA-256 does not match its manifest")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    if len(rows) != manifest.get("lines") or (rows and tuple(rows[0]) != COLUMNS):
        raise BatchError(f"{path.name}: {len(rows)} lines or its columns do not match the manifest")
    return rows
