"""The console's side of the published phone numbers: the keyed hash of a number typed into
search, and opening a sealed number for ops' reveal (etl.console_publish makes both)."""
from __future__ import annotations

from etl.config import Settings
from etl.console_publish import msisdn_hash, sealer


def phone_hash(settings: Settings, msisdn: str) -> str:
    return msisdn_hash(settings, msisdn)


def unseal(settings: Settings, sealed: str | None) -> str | None:
    if not sealed:
        return None
    return sealer(settings).open(sealed)
