"""Alipay trade bill: ask the OpenAPI gateway for the day's download URL, then fetch the zip.

1. ``alipay.data.dataservice.bill.downloadurl.query`` (biz_content ``{"bill_type": "trade",
   "bill_date": "yyyy-MM-dd"}``), signed RSA2: SHA256withRSA over the request parameters
   sorted by name as ``k=v&k=v`` (empty values and ``sign`` left out), base64 in ``sign``.
2. The answer is verified: Alipay signs the exact JSON text of the
   ``alipay_data_dataservice_bill_downloadurl_query_response`` object with its own key.
3. ``bill_download_url`` (valid for about 30 seconds, hence queried again on each attempt)
   is fetched without a signature; the zip's member CRCs are checked before it lands.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from etl.extract.providers import signing
from etl.extract.providers.http import (
    DEFAULT_POLICY, DownloadedFile, DownloadError, Http, RetryPolicy, SignatureError, TransientError,
    body_chunks, check_zip, publish, redact_url, safe_file_name, temp_path, with_retries, write_stream,
)

if TYPE_CHECKING:
    from etl.extract.credentials import AlipayCredentials

log = logging.getLogger(__name__)

METHOD = "alipay.data.dataservice.bill.downloadurl.query"
RESPONSE_KEY = METHOD.replace(".", "_") + "_response"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BUSY_CODES = {"20000"}  # 服务不可用: Alipay's own "try again"
NOT_READY = {"isp.bill_not_exist", "isv.bill_not_exist"}  # the bill is not generated yet (or the day had none)


def sign_string(params: dict[str, str]) -> str:
    """The text Alipay signs: parameters sorted by name, ``sign`` and empty values left out."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v not in (None, ""))


def signed_call(credentials: "AlipayCredentials", method: str, biz_content: dict,
                now: datetime | None = None) -> dict[str, str]:
    """The form fields of one OpenAPI call (``method`` with ``biz_content``), ``sign`` included.
    The refunds (etl.fixes.senders.alipay) sign their calls here too."""
    now = now or datetime.now(SHANGHAI)
    params = {
        "app_id": credentials.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
    }
    params["sign"] = signing.sign_sha256(credentials.private_key, sign_string(params).encode("utf-8"))
    return params


def signed_request(credentials: "AlipayCredentials", business_date: date, bill_type: str = "trade",
                   now: datetime | None = None) -> dict[str, str]:
    """The form fields of the bill download URL query, ``sign`` included."""
    return signed_call(credentials, METHOD, {"bill_type": bill_type, "bill_date": business_date.isoformat()}, now)


def _signed_part(body: str, key: str) -> str | None:
    """The exact text of the JSON object under ``key``: what Alipay's signature covers."""
    marker = f'"{key}"'
    start = body.find(marker)
    if start < 0:
        return None
    colon = body.index(":", start + len(marker))
    begin = colon + 1
    while body[begin] in " \t\r\n":
        begin += 1
    _, end = json.JSONDecoder().raw_decode(body, begin)
    return body[begin:end]


def verified_content(body: str, credentials: "AlipayCredentials", response_key: str,
                     what: str) -> tuple[dict, bool]:
    """The response object of a gateway answer (``response_key``, or ``error_response``) once its
    signature verifies, and whether it was signed. A success (code 10000) must be signed; an
    error may come unsigned (Alipay does not sign some gateway errors)."""
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        raise TransientError(f"{what}: the gateway did not answer JSON") from None
    key = response_key if response_key in answer else "error_response"
    content = answer.get(key)
    signature = answer.get("sign")
    if not isinstance(content, dict):
        raise DownloadError(f"{what}: unexpected answer (no {response_key})")
    if signature:
        signed = _signed_part(body, key) or ""
        if not signing.verify_sha256(credentials.alipay_public_key, signed.encode("utf-8"), signature):
            raise SignatureError(f"{what}: the gateway's answer does not verify with the Alipay public key")
    elif content.get("code") == "10000":
        raise SignatureError(f"{what}: the gateway's answer is not signed")
    return content, bool(signature)


def download_url(body: str, credentials: "AlipayCredentials", what: str) -> str:
    """The verified ``bill_download_url`` of a gateway answer, or the reason there is none."""
    content, signature = verified_content(body, credentials, RESPONSE_KEY, what)
    code = content.get("code")
    if code != "10000":
        reason = f"code {code} {content.get('msg', '')}, sub_code {content.get('sub_code', '-')} {content.get('sub_msg', '')}"
        reason += "" if signature else " (unsigned answer)"
        if code in BUSY_CODES:
            raise TransientError(f"{what}: Alipay busy: {reason}")
        if content.get("sub_code") in NOT_READY:
            raise DownloadError(f"{what}: no bill yet: {reason}")
        raise DownloadError(f"{what}: refused: {reason}")
    url = content.get("bill_download_url")
    if not url:
        raise DownloadError(f"{what}: the answer holds no bill_download_url")
    return url


def file_name(url: str, business_date: date) -> str:
    """Alipay's own name for the zip (``downloadFileName`` of the URL), when it is a plain name."""
    given = parse_qs(urlsplit(url).query).get("downloadFileName", [None])[0]
    return safe_file_name(given, f"alipay_trade_{business_date:%Y%m%d}.csv.zip")


def download_alipay_bill(business_date: date, landing: Path, credentials: "AlipayCredentials", *,
                         bill_type: str = "trade", http: Http | None = None,
                         policy: RetryPolicy = DEFAULT_POLICY) -> DownloadedFile:
    """Download the trade bill of ``business_date`` into ``<landing>/<date>/alipay/`` as delivered."""
    http = http or Http()
    what = f"alipay {bill_type} bill {business_date}"
    folder = Path(landing) / business_date.isoformat() / "alipay"

    def attempt() -> DownloadedFile:
        response = http.send("POST", credentials.gateway, what=what,
                             data=signed_request(credentials, business_date, bill_type))
        if response.status_code != 200:
            raise DownloadError(f"{what}: the gateway answered HTTP {response.status_code}")
        response.encoding = "utf-8"
        url = download_url(response.text, credentials, what)
        name = file_name(url, business_date)
        temp = temp_path(folder, name)
        try:
            with http.send("GET", url, what=what, stream=True, allow_redirects=True) as fetched:
                if fetched.status_code != 200:
                    raise DownloadError(f"{what}: {redact_url(url)} answered HTTP {fetched.status_code}")
                size, sha1 = write_stream(temp, body_chunks(fetched, what))
            members = check_zip(temp, f"{what} ({name})")
            target = publish(temp, folder / name)
        finally:
            temp.unlink(missing_ok=True)
        log.info("%s: landed %s (%d bytes, %d members)", what, target, size, len(members))
        return DownloadedFile("alipay", target, size, sha1, tuple(members))

    return with_retries(what, attempt, policy)
