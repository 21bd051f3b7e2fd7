"""WeChat Pay v3 trade bill: ``GET /v3/bill/tradebill``, then the file, verified by its SHA1.

Every request carries ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
signature="…",timestamp="…",serial_no="…"``, the signature being SHA256withRSA with the
merchant key over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``.

The tradebill answer ``{download_url, hash_type: "SHA1", hash_value}`` is verified with the
WeChat Pay platform key over ``Wechatpay-Timestamp\\nWechatpay-Nonce\\nBODY\\n`` (headers
``Wechatpay-Signature``/``-Serial``). The file download is a signed GET too; WeChat does not sign
that answer, and its SHA1 (of the uncompressed CSV) is the check instead. The file lands with
``<name>.sha1`` beside it, holding that hash, for the parser to verify again.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import requests

from etl.extract.providers import signing
from etl.extract.providers.http import (
    DEFAULT_POLICY, DownloadedFile, DownloadError, Http, IntegrityError, RetryPolicy, SignatureError, TransientError,
    body_chunks, publish, temp_path, with_retries, write_stream,
)

if TYPE_CHECKING:
    from etl.extract.credentials import WeChatPayCredentials

log = logging.getLogger(__name__)

AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW = 300  # seconds: an answer signed longer ago than this is treated as replayed
NOT_READY_CODES = {"STATEMENT_CREATING"}  # 账单生成中


def authorization(credentials: "WeChatPayCredentials", method: str, path_url: str, body: bytes = b"", *,
                  timestamp: int | None = None, nonce: str | None = None) -> str:
    """The Authorization header value for one request (``path_url``: path and query as sent)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(16).upper()
    message = f"{method}\n{path_url}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
    signature = signing.sign_sha256(credentials.private_key, message)
    return (f'{AUTH_SCHEMA} mchid="{credentials.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{credentials.serial_no}"')


def signer(credentials: "WeChatPayCredentials"):
    """Signs a prepared request just before it is sent (etl.fixes.senders.wechatpay uses it too)."""
    def sign(request: requests.PreparedRequest) -> None:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        request.headers["Authorization"] = authorization(credentials, request.method or "GET", request.path_url, body)
    return sign


def verify_response(response: requests.Response, credentials: "WeChatPayCredentials", what: str,
                    now: float | None = None) -> None:
    """Raise SignatureError unless the answer is signed by the configured WeChat Pay key, recently."""
    headers = response.headers
    timestamp, nonce = headers.get("Wechatpay-Timestamp"), headers.get("Wechatpay-Nonce")
    signature, serial = headers.get("Wechatpay-Signature"), headers.get("Wechatpay-Serial")
    if not (timestamp and nonce and signature and serial):
        raise SignatureError(f"{what}: the answer carries no Wechatpay-Signature headers")
    if credentials.platform_serial and serial.upper() != credentials.platform_serial.upper():
        raise SignatureError(f"{what}: signed with key {serial!r}, not the configured {credentials.platform_serial!r}")
    now = time.time() if now is None else now
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        raise SignatureError(f"{what}: Wechatpay-Timestamp {timestamp!r} is more than {MAX_CLOCK_SKEW} s off")
    message = f"{timestamp}\n{nonce}\n".encode() + response.content + b"\n"
    if not signing.verify_sha256(credentials.platform_key, message, signature):
        raise SignatureError(f"{what}: the answer's signature does not verify with the WeChat Pay platform key")


def _error(response: requests.Response, what: str) -> DownloadError:
    try:
        detail = response.json()
        code, message = detail.get("code", "?"), detail.get("message", "")
    except ValueError:
        code, message = "?", ""
    text = f"{what}: HTTP {response.status_code} {code} {message}".rstrip()
    return TransientError(text) if code in NOT_READY_CODES else DownloadError(text)


def _gunzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in chunks:
        yield inflate.decompress(chunk)
    yield inflate.flush()


def download_wechatpay_bill(business_date: date, landing: Path, credentials: "WeChatPayCredentials", *,
                            bill_type: str = "ALL", tar_type: Literal["GZIP"] | None = None,
                            http: Http | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> DownloadedFile:
    """Download the trade bill of ``business_date`` into ``<landing>/<date>/wechatpay/``
    (``<mchid>_<yyyymmdd>_<bill_type>.csv``, ``.csv.gz`` with ``tar_type="GZIP"``) and its ``.sha1``."""
    http = http or Http()
    what = f"wechatpay tradebill {business_date}"
    folder = Path(landing) / business_date.isoformat() / "wechatpay"
    name = f"{credentials.mchid}_{business_date:%Y%m%d}_{bill_type}.csv" + (".gz" if tar_type else "")
    params = {"bill_date": business_date.isoformat(), "bill_type": bill_type}
    if tar_type:
        params["tar_type"] = tar_type
    sign = signer(credentials)

    def attempt() -> DownloadedFile:
        answer = http.send("GET", f"{credentials.base_url}/v3/bill/tradebill", what=what, params=params,
                           sign=sign, headers={"Accept": "application/json"})
        if answer.status_code != 200:
            raise _error(answer, what)
        verify_response(answer, credentials, what)
        bill = answer.json()
        if str(bill.get("hash_type", "")).upper() != "SHA1" or not bill.get("hash_value") or not bill.get("download_url"):
            raise DownloadError(f"{what}: unexpected answer: hash_type {bill.get('hash_type')!r}, "
                                f"download_url {'present' if bill.get('download_url') else 'missing'}")
        expected = str(bill["hash_value"]).lower()
        temp, temp_sha1 = temp_path(folder, name), temp_path(folder, name + ".sha1")
        try:
            with http.send("GET", bill["download_url"], what=what, sign=sign, stream=True) as fetched:
                if fetched.status_code != 200:
                    raise _error(fetched, what)
                plain = hashlib.sha1()

                def hashed(chunks: Iterable[bytes]) -> Iterator[bytes]:
                    for chunk in chunks:
                        yield chunk
                        if not tar_type:
                            plain.update(chunk)

                size, sha1 = write_stream(temp, hashed(body_chunks(fetched, what)))
            if tar_type:  # WeChat's hash is of the uncompressed bill
                with open(temp, "rb") as handle:
                    try:
                        for piece in _gunzipped(iter(lambda: handle.read(1 << 16), b"")):
                            plain.update(piece)
                    except zlib.error as exc:
                        raise IntegrityError(f"{what}: the gzip file is corrupt ({exc})") from None
            got = plain.hexdigest()
            if got != expected:
                raise IntegrityError(f"{what}: SHA1 of the downloaded bill is {got}, WeChat Pay states {expected}")
            temp_sha1.write_text(expected + "\n", encoding="ascii")
            publish(temp_sha1, folder / (name + ".sha1"))
            target = publish(temp, folder / name)
        finally:
            temp.unlink(missing_ok=True)
            temp_sha1.unlink(missing_ok=True)
        log.info("%s: landed %s (%d bytes, SHA1 verified)", what, target, size)
        return DownloadedFile("wechatpay", target, size, sha1)

    return with_retries(what, attempt, policy)
