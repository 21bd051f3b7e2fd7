"""What the three downloaders share: signed requests, retries with backoff, atomic landing.

A download is one *attempt* function (query, then fetch, then verify) run under
:func:`with_retries`. Each attempt signs its requests afresh, because every provider puts a
timestamp or a nonce into the signature. Transient trouble (connection errors, timeouts,
429 and 5xx answers, the provider's own "busy" codes, a file whose hash does not match) is
retried with exponential backoff; a bad signature or a refused request is not.

Logging names the provider, the date and the host and path of a URL, never a query string
(download URLs carry tokens), a header (Authorization) or a key.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "topup-recon/0.1 (statement download)"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(Exception):
    """A statement could not be downloaded. The message names provider, date and cause."""


class TransientError(DownloadError):
    """Worth another attempt: the network, the provider being busy, a file not ready yet."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityError(TransientError):
    """The file arrived but does not match its hash (or its zip CRCs): retried, as a cut transfer."""


class SignatureError(DownloadError):
    """A response whose signature does not verify. Never retried: someone else may be answering."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first one included
    backoff: float = 2.0  # seconds before the second attempt; doubles each time
    max_backoff: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, failed_attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.backoff * 2 ** (failed_attempt - 1), self.max_backoff)
        if retry_after is not None:  # the server's Retry-After, within our ceiling
            wait = min(max(wait, retry_after), self.max_backoff)
        return wait


DEFAULT_POLICY = RetryPolicy()


def with_retries(what: str, attempt: Callable[[], T], policy: RetryPolicy) -> T:
    """``attempt()`` until it returns, retrying TransientError up to ``policy.attempts`` times."""
    for number in range(1, policy.attempts + 1):
        try:
            return attempt()
        except TransientError as exc:
            if number == policy.attempts:
                raise type(exc)(f"{exc} (gave up after {number} attempts)") from exc
            wait = policy.delay(number, exc.retry_after)
            log.warning("%s: attempt %d of %d failed: %s; retrying in %.1f s", what, number, policy.attempts, exc, wait)
            policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def redact_url(url: str) -> str:
    """Scheme, host and path only: query strings of download URLs hold access tokens."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


class Http:
    """A ``requests`` session that signs each request just before it is sent and maps
    transport failures and retryable statuses to TransientError."""

    def __init__(self, timeout: tuple[float, float] = (10.0, 120.0), session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def send(self, method: str, url: str, *, what: str, sign: Callable[[requests.PreparedRequest], None] | None = None,
             stream: bool = False, allow_redirects: bool = False, **kwargs) -> requests.Response:
        request = self.session.prepare_request(requests.Request(method, url, **kwargs))
        if sign is not None:
            sign(request)  # sees the exact path, query and body that go on the wire
        try:
            # Signed calls never follow a redirect; a plain file download may (requests drops
            # Authorization when a redirect leaves the host).
            response = self.session.send(request, timeout=self.timeout, stream=stream, allow_redirects=allow_redirects)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{what}: {method} {redact_url(url)} failed: {type(exc).__name__}") from None
        if response.status_code in RETRY_STATUSES:
            response.close()
            raise TransientError(f"{what}: {method} {redact_url(url)} answered HTTP {response.status_code}",
                                 retry_after=_retry_after(response))
        return response


# ---------------------------------------------------------------------------- landing files

_SAFE_NAME = re.compile(r"[\w.()（）\-]+")  # \w includes CJK: Alipay names members in Chinese


def safe_file_name(name: str | None, fallback: str) -> str:
    """``name`` when it is a plain file name, else ``fallback``: a name from a server never
    chooses the folder it is written to."""
    if name:
        name = name.strip().replace("\\", "/").rsplit("/", 1)[-1]
        if _SAFE_NAME.fullmatch(name) and not name.startswith(".") and len(name.encode()) <= 200:
            return name
        log.warning("ignoring unsafe file name from the provider; using %s", fallback)
    return fallback


def temp_path(folder: Path, name: str) -> Path:
    """A hidden name beside the target, which no ingest glob (``*.zip``, ``*.csv``) matches."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".{name}.{os.getpid()}.part"


def publish(temp: Path, target: Path) -> Path:
    """Move a finished temp file onto its name in one step (same folder, so ``os.replace`` is atomic)."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    return target


def body_chunks(response: requests.Response, what: str, size: int = 1 << 16) -> Iterable[bytes]:
    """The body of a streamed response; a transfer cut short is a TransientError."""
    try:
        yield from response.iter_content(size)
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError) as exc:
        raise TransientError(f"{what}: the transfer broke off ({type(exc).__name__})") from None


def write_stream(temp: Path, chunks: Iterable[bytes]) -> tuple[int, str]:
    """Write ``chunks`` to ``temp``; the byte count and the SHA1 of what was written."""
    digest = hashlib.sha1()
    size = 0
    with open(temp, "wb") as out:
        for chunk in chunks:
            if chunk:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    return size, digest.hexdigest()


def check_zip(path: Path, what: str) -> list[str]:
    """Member names of an intact zip; IntegrityError when it is not a zip or a CRC fails
    (the CRC-32 of each member is the only checksum Alipay and UnionPay deliver)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise IntegrityError(f"{what}: the file is not an intact zip ({exc})") from None
    if bad is not None:
        raise IntegrityError(f"{what}: zip member {bad!r} fails its CRC check (truncated or corrupt transfer)")
    if not names:
        raise IntegrityError(f"{what}: the zip is empty")
    return names


@dataclass(frozen=True)
class DownloadedFile:
    provider: str
    path: Path  # <landing>/<date>/<provider>/<name>, as delivered
    size: int
    sha1: str  # of the bytes written (for WeChat also verified against the provider's hash)
    members: tuple[str, ...] = ()  # zip member names, for zips
