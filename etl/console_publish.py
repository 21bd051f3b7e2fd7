"""What the night publishes for the console: ``<output>/<date>/console/*.parquet``, written into
the run's hidden output folder with the rest, so they appear with the date's reports in one
rename and the console never opens the warehouse (which the next night may be writing).

| file | one row per | the console's |
|---|---|---|
| ``breaks.parquet`` | break of the date (open, and resolved that night) | today, queue, story |
| ``story.parquet`` | ledger row behind those breaks, with its file and line (etl.console_story) | story |
| ``orders.parquet`` | order landing on the date | search |
| ``phones.parquet`` | such order with a phone number: its hash's first 32 bits, sorted | search by number |
| ``ids.parquet`` | transaction, refund or credit id landing on the date | search |
| ``settlement.parquet`` | provider of the date | finance |
| ``product.parquet`` | channel × province × product × pay method of the date's orders | product |

Phone numbers: masked for display, and a keyed SHA-256 of the whole number (the key is
``[console] search_key_file``, made on first use) so that a whole number typed in the console
finds its orders while no file holds a number.
"""
from __future__ import annotations

import errno
import logging
import os
import secrets
import time
from datetime import date
from pathlib import Path

import duckdb

from etl.config import Settings
from etl.console_story import published_before, story_select
from etl.export import sql_path
from etl.privacy import MASK_SQL
from etl.warehouse import Warehouse, read_sql

log = logging.getLogger(__name__)
TABLES = ("breaks", "story", "orders", "phones", "ids", "settlement", "product")


def search_key(settings: Settings) -> str:
    """The secret the phone-number hashes are keyed with: read from its file, made (0600) on
    first use. The night and the console must read the same file."""
    path = Path(settings.console.search_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by another process meanwhile
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    key = path.read_text("utf-8").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: the search key is too short; delete the file to make a new one "
                           "(then re-run the dates the console should search)")
    return key


def _derived(settings: Settings, purpose: bytes, length: int = 32) -> bytes:
    """A key for one purpose, derived from the secret file with HKDF (cryptography): the search
    hash and the sealed numbers never share a key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"topup-recon " + purpose).derive(
        bytes.fromhex(search_key(settings)))


def hash_key(settings: Settings) -> str:
    return _derived(settings, b"msisdn search").hex()


def msisdn_hash(settings: Settings, msisdn: str) -> str:
    """The keyed hash of a whole number, as the published files hold it."""
    import hashlib

    return hashlib.sha256((hash_key(settings) + msisdn.strip()).encode()).hexdigest()


class Sealer:
    """AES-SIV (cryptography's deterministic authenticated encryption) with the derived sealing
    key: a break's number is published sealed, and only the console's reveal action (ops, with
    a reason, audited) opens it. Deterministic, so a date run twice gives the same bytes."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        self._aead = AESSIV(key)

    def seal(self, msisdn: str) -> str:
        import base64

        return base64.urlsafe_b64encode(self._aead.encrypt(msisdn.encode(), None)).decode()

    def open(self, sealed: str) -> str:
        import base64

        return self._aead.decrypt(base64.urlsafe_b64decode(sealed.encode()), None).decode()


def sealer(settings: Settings) -> Sealer:
    return Sealer(_derived(settings, b"msisdn seal", 64))


def write_console_tables(settings: Settings, wh: Warehouse, business_date: date, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wh.con.execute("create or replace temp macro mask_msisdn(msisdn) as " + MASK_SQL.format(col="msisdn"))
    # Registered for this call only and removed after: a Python function lives in the database's
    # catalog, which every connection to it (the night's own and its readers) shares.
    wh.con.create_function("seal_msisdn", sealer(settings).seal, ["VARCHAR"], "VARCHAR")
    try:
        return _write(settings, wh, business_date, folder)
    finally:
        wh.con.remove_function("seal_msisdn")


def _told_seals(settings: Settings, wh: Warehouse, business_date: date) -> None:
    """Temp table seals_told: each number's hash and sealed copy from the latest earlier night's
    breaks.parquet (empty without one). Sealing is deterministic and the hash is keyed, so a hash
    found there seals to the same text: only tonight's new numbers go through AES-SIV."""
    wh.execute("create or replace temp table seals_told (msisdn_hash varchar, msisdn_sealed varchar)")
    night = published_before(settings, wh, business_date, "breaks.parquet")
    if night is None:
        return
    try:
        wh.execute("insert into seals_told select msisdn_hash, min(msisdn_sealed) from read_parquet($f) "
                   "where msisdn_hash is not null and msisdn_sealed is not null group by msisdn_hash "
                   "having count(distinct msisdn_sealed) = 1", {"f": str(night[2])})
    except duckdb.Error:  # a file of another shape (an older version's): seal every number
        wh.execute("delete from seals_told")


def _write(settings: Settings, wh: Warehouse, business_date: date, folder: Path) -> list[Path]:
    params = {"run_date": business_date, "search_key": hash_key(settings),
              "orders_file": str(folder / "orders.parquet")}  # the phones' index is read from it
    _told_seals(settings, wh, business_date)
    written = []
    for table in TABLES:
        sql, bound = (story_select(settings, wh, business_date, params) if table == "story"
                      else (read_sql(f"console/console_{table}"), params))
        path = folder / f"{table}.parquet"
        started = time.perf_counter()
        try:
            # zstd's level 1, as the archive: at 10M orders the orders' index took ~3 CPU-s less to
            # write than at the default level, and every file came out 4-10 % smaller, not larger.
            wh.execute(f"copy ({sql}) to {sql_path(path)} (format parquet, compression zstd, compression_level 1)",
                       bound)
        except duckdb.IOException as exc:  # a full or read-only disk: the CLI names the file and the cause
            full = "No space left on device" in str(exc)
            raise OSError(errno.ENOSPC if full else errno.EIO,
                          os.strerror(errno.ENOSPC) if full else str(exc).splitlines()[0], str(path)) from exc
        log.info("console %-10s %6.2fs", table, time.perf_counter() - started)
        written.append(path)
    return written
