"""UnionPay online payments (全渠道) settlement file: the ``fileTransfer`` request (txnType 76).

The request is a form POST, version 5.1.0, ``signMethod=01``: the fields sorted by name as
``k=v&k=v`` (without ``signature``), its SHA-256 as lower-case hex, signed SHA256withRSA with
the merchant key, base64 in ``signature``; ``certId`` names the merchant certificate.

The answer is ``k=v&…`` too. It is verified the way UnionPay's SDKs do: ``signPubKeyCert`` must
chain to the configured middle and root certificates, be valid today and belong to UnionPay
(CN ``…@…@中国银联股份有限公司@…``), and its key must verify ``signature`` over the answer's
own sorted fields. ``fileContent`` is the zip, deflated (zlib) and base64-encoded; ``fileName``
names it. The zip lands as delivered once its member CRCs check out.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import zlib
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.x509.oid import NameOID

from etl.extract.providers import signing
from etl.extract.providers.http import (
    DEFAULT_POLICY, DownloadedFile, DownloadError, Http, IntegrityError, RetryPolicy, SignatureError, TransientError,
    check_zip, publish, safe_file_name, temp_path, with_retries, write_stream,
)

if TYPE_CHECKING:
    from etl.extract.credentials import UnionPayCredentials

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIONPAY_CN = "中国银联股份有限公司"
TEST_CN = "00040000:SIGN"  # the test environment's signing certificate
BUSY_CODES = {"03", "04", "05"}  # 交易通讯超时 / 交易状态未明 / 处理中: ask again


def sign_string(fields: dict[str, str]) -> str:
    """Fields sorted by name as ``k=v&k=v``, ``signature`` left out, empty values kept (as the SDK does)."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "signature")


def _digest(fields: dict[str, str]) -> bytes:
    return hashlib.sha256(sign_string(fields).encode("utf-8")).hexdigest().encode("ascii")


def signed_request(credentials: "UnionPayCredentials", business_date: date,
                   now: datetime | None = None) -> dict[str, str]:
    now = now or datetime.now(SHANGHAI)
    fields = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "txnType": "76",
        "txnSubType": "01",
        "bizType": "000000",
        "accessType": "0",
        "merId": credentials.mer_id,
        "settleDate": business_date.strftime("%m%d"),
        "txnTime": now.strftime("%Y%m%d%H%M%S"),
        "fileType": "00",
        "certId": credentials.cert_id,
    }
    return sign_fields(credentials, fields)


def sign_fields(credentials: "UnionPayCredentials", fields: dict[str, str]) -> dict[str, str]:
    """``fields`` with ``signature`` added (signMethod 01, version 5.1.0): any request to UnionPay,
    the refunds of etl.fixes.senders.unionpay included."""
    fields = dict(fields)
    fields["signature"] = signing.sign_sha256(credentials.private_key, _digest(fields))
    return fields


def parse_answer(text: str) -> dict[str, str]:
    """``k=v&k=v`` as UnionPay's SDKs read it: values are not URL-decoded, and ``&`` inside
    ``{…}`` or ``[…]`` belongs to the value."""
    fields: dict[str, str] = {}
    depth, start = 0, 0
    for i, ch in enumerate(text + "&"):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth = max(depth - 1, 0)
        elif ch == "&" and depth == 0:
            part = text[start:i]
            start = i + 1
            if "=" in part:
                key, value = part.split("=", 1)
                fields[key.strip()] = value
    return fields


def _cn_owner(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parts = str(names[0].value).split("@") if names else []
    return parts[2] if len(parts) > 2 else ""


def verify_answer(fields: dict[str, str], credentials: "UnionPayCredentials", what: str,
                  now: datetime | None = None) -> None:
    """Raise SignatureError unless the answer is signed by a UnionPay certificate from the configured chain."""
    if not fields.get("signature") or not fields.get("signPubKeyCert"):
        said = f"respCode {fields.get('respCode', '-')} {fields.get('respMsg', '')}".rstrip()
        raise SignatureError(f"{what}: the answer carries no signature or signPubKeyCert (unsigned: {said})")
    try:
        cert = signing.load_certificate(fields["signPubKeyCert"], what="signPubKeyCert")
        cert.verify_directly_issued_by(credentials.middle_cert)
        credentials.middle_cert.verify_directly_issued_by(credentials.root_cert)
    except Exception as exc:  # KeyFormatError, InvalidSignature, ValueError, TypeError
        raise SignatureError(f"{what}: signPubKeyCert does not chain to the configured UnionPay certificates "
                             f"({type(exc).__name__})") from None
    now = now or datetime.now(timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SignatureError(f"{what}: signPubKeyCert is not valid now (valid {cert.not_valid_before_utc:%Y-%m-%d} "
                             f"to {cert.not_valid_after_utc:%Y-%m-%d})")
    owners = {UNIONPAY_CN, TEST_CN} if credentials.accept_test_certificates else {UNIONPAY_CN}
    if _cn_owner(cert) not in owners:
        raise SignatureError(f"{what}: signPubKeyCert belongs to {_cn_owner(cert)!r}, not UnionPay")
    if not signing.verify_sha256(cert.public_key(), _digest(fields), fields["signature"]):
        raise SignatureError(f"{what}: the answer's signature does not verify with its signPubKeyCert")


def file_bytes(file_content: str, what: str) -> bytes:
    """The zip inside ``fileContent``: base64, then zlib-inflated (a raw zip is accepted too)."""
    try:
        packed = base64.b64decode(file_content, validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError(f"{what}: fileContent is not base64") from None
    try:
        return zlib.decompress(packed)
    except zlib.error:
        if packed.startswith(b"PK"):
            return packed
        raise IntegrityError(f"{what}: fileContent is neither deflated data nor a zip") from None


def download_unionpay_file(business_date: date, landing: Path, credentials: "UnionPayCredentials", *,
                           http: Http | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> DownloadedFile:
    """Download the settlement zip of ``business_date`` into ``<landing>/<date>/unionpay/`` as delivered."""
    http = http or Http()
    what = f"unionpay fileTransfer {business_date}"
    folder = Path(landing) / business_date.isoformat() / "unionpay"

    def attempt() -> DownloadedFile:
        response = http.send("POST", credentials.file_url, what=what,
                             data=signed_request(credentials, business_date),
                             headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        if response.status_code != 200:
            raise DownloadError(f"{what}: HTTP {response.status_code}")
        response.encoding = "utf-8"
        fields = parse_answer(response.text.strip())
        verify_answer(fields, credentials, what)
        code = fields.get("respCode")
        if code != "00":
            reason = f"respCode {code} {fields.get('respMsg', '')}".rstrip()
            raise (TransientError if code in BUSY_CODES else DownloadError)(f"{what}: {reason}")
        if not fields.get("fileContent"):
            raise DownloadError(f"{what}: respCode 00 but no fileContent")
        data = file_bytes(fields["fileContent"], what)
        name = safe_file_name(fields.get("fileName"), f"{credentials.mer_id}_{business_date:%Y%m%d}.zip")
        temp = temp_path(folder, name)
        try:
            size, sha1 = write_stream(temp, [data])
            members = check_zip(temp, f"{what} ({name})")
            target = publish(temp, folder / name)
        finally:
            temp.unlink(missing_ok=True)
        log.info("%s: landed %s (%d bytes, %d members)", what, target, size, len(members))
        return DownloadedFile("unionpay", target, size, sha1, tuple(members))

    return with_retries(what, attempt, policy)
