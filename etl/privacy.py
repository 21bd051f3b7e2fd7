"""Personal data and spreadsheet safety: what leaves the warehouse goes through here."""
from __future__ import annotations

import logging
import re

_MSISDN = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The same masking in SQL, for exports built in DuckDB.
MASK_SQL = "case when {col} is null then null when length({col}) >= 7 " \
           "then left({col}, 3) || '****' || right({col}, 4) else '****' end"


def mask_msisdn(msisdn: str | None) -> str | None:
    """138****1234: the first 3 and last 4 digits, as breaks.md asks."""
    if msisdn is None:
        return None
    digits = str(msisdn).strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def mask_text(text: str) -> str:
    """Mask every phone number inside free text (log lines, error messages, comments)."""
    return _MSISDN.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def spreadsheet_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


SAFE_SQL = "case when left({col}, 1) in ('=', '+', '-', '@', chr(9), chr(13)) then '''' || {col} else {col} end"


class MaskingFilter(logging.Filter):
    """Masks phone numbers in every log record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_all_log_records() -> None:
    """Mask phone numbers in every log record of this process, whatever handler writes it
    (Airflow sets up its own task-log handlers, so a handler filter is not enough there)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_msisdn", False):
        return

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    factory.masks_msisdn = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
