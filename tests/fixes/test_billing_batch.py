"""The billing batch: the documented format, written atomically with its manifest, read back
only when the checksum holds."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from etl.fixes.billing_batch import COLUMNS, BatchError, BatchLine, read_batch, write_batch

AT = datetime(2026, 11, 25, 10, 0, 0)


def line(key="RC0000000000000000000000000000001", kind="recredit", amount="50.00", reverses=None, reason="补充值"):
    return BatchLine(key, kind, "T1", "13812341234", Decimal(amount), "call_credit", reverses, reason, AT)


def test_round_trip_with_manifest(tmp_path):
    written = write_batch([line(), line("RV0000000000000000000000000000002", "reversal", "30.00", "C9")], tmp_path, AT)
    manifest = json.loads(written.manifest.read_text("utf-8"))
    assert (manifest["lines"], manifest["credit_amount"], manifest["reversal_amount"]) == (2, "50.00", "30.00")
    rows = read_batch(written.path)
    assert tuple(rows[0]) == COLUMNS
    assert [(r["action"], r["amount"], r["reverses_credit_id"]) for r in rows] == [("CREDIT", "50.00", ""),
                                                                                  ("REVERSE", "30.00", "C9")]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_changed_file_fails_its_checksum(tmp_path):
    written = write_batch([line()], tmp_path, AT)
    written.path.write_bytes(written.path.read_bytes().replace(b"50.00", b"90.00"))
    with pytest.raises(BatchError, match="SHA-256"):
        read_batch(written.path)


def test_without_manifest_the_batch_is_not_complete(tmp_path):
    written = write_batch([line()], tmp_path, AT)
    written.manifest.unlink()
    with pytest.raises(BatchError, match="no manifest"):
        read_batch(written.path)


@pytest.mark.parametrize("bad, message", [
    pytest.param([line(amount="0.00")], "positive", id="zero"),
    pytest.param([line(amount="1.005")], "two decimals", id="sub-fen"),
    pytest.param([line(kind="reversal")], "names the credit", id="reversal-without-credit"),
    pytest.param([line(), line()], "once", id="same-key-twice"),
])
def test_refused_lines(tmp_path, bad, message):
    with pytest.raises(BatchError, match=message):
        write_batch(bad, tmp_path, AT)
    assert list(tmp_path.iterdir()) == []


def test_a_formula_in_the_reason_is_neutralised(tmp_path):
    written = write_batch([line(reason="=HYPERLINK(1)")], tmp_path, AT)
    assert read_batch(written.path)[0]["reason"] == "'=HYPERLINK(1)"


def test_only_its_owner_reads_the_batch(tmp_path):
    """The batch holds whole phone numbers (BOSS credits by number): no one else on the machine reads it."""
    written = write_batch([line()], tmp_path, AT)
    assert written.path.stat().st_mode & 0o777 == 0o600
