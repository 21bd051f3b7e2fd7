"""Local stand-ins for the providers' servers, answering in their documented shapes.

Each fake checks our request signature with its own code written from the provider's rules
(not with ours), so a signing mistake in the downloader fails the test the way the real
provider would refuse it. Knobs on each fake make it busy, sign with the wrong key, or
deliver a damaged file.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


# ---------------------------------------------------------------------------- keys


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(subject_cn: str, key: rsa.RSAPrivateKey, issuer_cn: str | None = None,
                issuer_key: rsa.RSAPrivateKey | None = None, *, ca: bool = False, serial: int | None = None,
                valid_days: int = 365, start: datetime | None = None) -> x509.Certificate:
    start = start or datetime.now(timezone.utc) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or subject_cn)]))
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(obj) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    if isinstance(obj, rsa.RSAPrivateKey):
        return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return obj.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verifies(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


UNIONPAY_LEAF_CN = "041@Z20260101@中国银联股份有限公司@00000001"


@dataclass
class Keys:
    """Throwaway keys for every party, made once per test session."""

    alipay_app: rsa.RSAPrivateKey = field(default_factory=rsa_key)  # ours
    alipay: rsa.RSAPrivateKey = field(default_factory=rsa_key)  # Alipay's
    wechat_merchant: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    wechat_platform: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    unionpay_merchant: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    unionpay_root: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    unionpay_middle: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    unionpay_leaf: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    stranger: rsa.RSAPrivateKey = field(default_factory=rsa_key)  # signs what it should not

    def __post_init__(self) -> None:
        self.root_cert = certificate("UnionPay Test Root", self.unionpay_root, ca=True)
        self.middle_cert = certificate("UnionPay Test Middle", self.unionpay_middle, "UnionPay Test Root",
                                       self.unionpay_root, ca=True)
        self.leaf_cert = certificate(UNIONPAY_LEAF_CN, self.unionpay_leaf, "UnionPay Test Middle", self.unionpay_middle)
        self.merchant_cert = certificate("merchant 777290058110048", self.unionpay_merchant, serial=69629715588)


# ---------------------------------------------------------------------------- the server


@dataclass
class Request:
    method: str
    path: str
    path_url: str  # path and query exactly as received
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce the full length, send half, hang up


class FakeServer:
    """``http.server`` on 127.0.0.1, an ephemeral port, in a thread; routes by method and path."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Callable[[Request], Reply]] = {}
        self.requests: list[Request] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, self.path, dict(parse_qsl(parts.query)),
                                  {k: v for k, v in self.headers.items()}, body)
                fake.requests.append(request)
                handler = fake.routes.get((self.command, parts.path))
                reply = handler(request) if handler else Reply(404, b"no such route")
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.truncate:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply.body[: len(reply.body) // 2] if reply.truncate else reply.body)
                if reply.truncate:
                    self.close_connection = True

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def route(self, method: str, path: str, handler: Callable[[Request], Reply]) -> None:
        self.routes[(method, path)] = handler

    def calls(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------- files


def statement_zip(members: dict[str, bytes], stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def damaged_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose first member's bytes changed after its CRC was written (a cut or garbled transfer)."""
    data = bytearray(statement_zip(members, stored=True))
    first = next(iter(members.values()))
    at = bytes(data).index(first)
    data[at] ^= 0x01
    return bytes(data)


ALIPAY_MEMBERS = {
    "20881234123412340156_20261124_业务明细.csv": "#支付宝业务明细查询\r\n#账号：[20881234123412340156]\r\n".encode("gbk") * 20,
    "20881234123412340156_20261124_业务明细(汇总).csv": "#支付宝业务汇总查询\r\n".encode("gbk") * 20,
}
WECHAT_BILL = (
    "\ufeff交易时间,公众账号ID,商户号,商户订单号,交易状态,应结订单金额\r\n"
    "`2026-11-24 10:00:01,`wx8888888888888888,`1900000109,`T1,`SUCCESS,`49.80\r\n"
    "总交易单数,应结订单总金额\r\n`1,`49.80\r\n"
).encode("utf-8")
UNIONPAY_MEMBERS = {
    "INN26112488ZM_777290058110048": b"S22 00049992900 " + b"0" * 590 + b"\r\n",
    "RD26112401_777290058110048": b"summary\r\n",
}


# ---------------------------------------------------------------------------- Alipay


class FakeAlipay:
    """The OpenAPI gateway (``/gateway.do``) and the bill file server behind its download URL."""

    name = "20881234123412340156_20261124.csv.zip"

    def __init__(self, server: FakeServer, keys: Keys):
        self.server, self.keys = server, keys
        self.answer_key = keys.alipay  # what the gateway signs its answers with
        self.busy = 0  # answer HTTP 503 this many times first
        self.busy_code = 0  # answer code 20000 (service unavailable) this many times first
        self.cut_transfers = 0  # break off this many file transfers half way
        self.tamper: Callable[[str], str] | None = None  # changes the answer after it was signed
        self.file = statement_zip(ALIPAY_MEMBERS)
        self.last_form: dict[str, str] = {}
        server.route("POST", "/gateway.do", self.gateway)
        server.route("GET", "/downloadBillFile.resource", self.download)

    def gateway(self, request: Request) -> Reply:
        if self.busy:
            self.busy -= 1
            return Reply(503, b"busy")
        form = self.last_form = request.form()
        if self.busy_code:
            self.busy_code -= 1
            content_text = '{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"}'
            body = f'{{"error_response":{content_text},"sign":"{sign(self.answer_key, content_text.encode())}"}}'
            return Reply(200, body.encode())
        # Alipay's rule: every parameter but sign, empty ones left out, sorted, k=v joined by &.
        text = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k])
        key = "alipay_data_dataservice_bill_downloadurl_query_response"
        if not verifies(self.keys.alipay_app.public_key(), text.encode(), form.get("sign", "")):
            key = "error_response"
            content = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature",
                       "sub_msg": "验签出错"}
        else:
            biz = json.loads(form["biz_content"])
            url = (f"{self.server.url}/downloadBillFile.resource?bizType={biz['bill_type']}&userId=20881234123412340156"
                   f"&fileType=csv.zip&bizDates={biz['bill_date'].replace('-', '')}&downloadFileName={self.name}"
                   "&fileId=%2Ftrade%2F20881234123412340156%2F20261124&timestamp=1764000000&token=SECRET-TOKEN")
            content = {"code": "10000", "msg": "Success", "bill_download_url": url}
        content_text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{key}":{content_text},"sign":"{sign(self.answer_key, content_text.encode())}"}}'
        if self.tamper:
            body = self.tamper(body)
        return Reply(200, body.encode(), {"Content-Type": "text/html;charset=utf-8"})

    def download(self, request: Request) -> Reply:
        cut = self.cut_transfers > 0
        self.cut_transfers -= cut
        return Reply(200, self.file, {"Content-Type": "application/oct-stream"}, truncate=cut)


# ---------------------------------------------------------------------------- WeChat Pay


class FakeWeChatPay:
    """``/v3/bill/tradebill`` and ``/v3/billdownload/file``, checking the WECHATPAY2 header."""

    serial = "PUB_KEY_ID_0119000001492026112400382012000609"

    def __init__(self, server: FakeServer, keys: Keys):
        self.server, self.keys = server, keys
        self.answer_key = keys.wechat_platform
        self.busy = 0
        self.bill = WECHAT_BILL
        self.hash_value: str | None = None  # None: the bill's real SHA1
        self.timestamp_offset = 0
        self.gzip = False
        server.route("GET", "/v3/bill/tradebill", self.tradebill)
        server.route("GET", "/v3/billdownload/file", self.file)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        schema, _, params = header.partition(" ")
        fields = dict(part.split("=", 1) for part in params.split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        message = (f"{request.method}\n{request.path_url}\n{fields.get('timestamp')}\n"
                   f"{fields.get('nonce_str')}\n").encode() + request.body + b"\n"
        return (schema == "WECHATPAY2-SHA256-RSA2048" and fields.get("mchid") == "1900000109"
                and verifies(self.keys.wechat_merchant.public_key(), message, fields.get("signature", "")))

    def _signed(self, status: int, body: bytes) -> Reply:
        timestamp, nonce = str(int(time.time()) + self.timestamp_offset), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        signature = sign(self.answer_key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        return Reply(status, body, {"Content-Type": "application/json", "Wechatpay-Timestamp": timestamp,
                                    "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                                    "Wechatpay-Serial": self.serial,
                                    "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"})

    def tradebill(self, request: Request) -> Reply:
        if self.busy:
            self.busy -= 1
            return Reply(503, '{"code":"SYSTEM_ERROR","message":"系统繁忙"}'.encode())
        if not self._authorized(request):
            return self._signed(401, b'{"code":"SIGN_ERROR","message":"signature invalid"}')
        self.gzip = request.query.get("tar_type") == "GZIP"
        answer = {"download_url": f"{self.server.url}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2",
                  "hash_type": "SHA1",
                  "hash_value": self.hash_value or hashlib.sha1(self.bill).hexdigest()}
        return self._signed(200, json.dumps(answer).encode())

    def file(self, request: Request) -> Reply:
        if not self._authorized(request):
            return Reply(401, b'{"code":"SIGN_ERROR","message":"signature invalid"}')
        body = gzip.compress(self.bill) if self.gzip else self.bill
        return Reply(200, body, {"Content-Type": "application/octet-stream"})


# ---------------------------------------------------------------------------- UnionPay


class FakeUnionPay:
    """The file transfer endpoint: a signed form in, a signed ``k=v&…`` answer out."""

    file_name = "777290058110048_20261124.zip"

    def __init__(self, server: FakeServer, keys: Keys):
        self.server, self.keys = server, keys
        self.answer_key = keys.unionpay_leaf
        self.answer_cert = keys.leaf_cert
        self.busy = 0
        self.file = statement_zip(UNIONPAY_MEMBERS)
        self.last_form: dict[str, str] = {}
        server.route("POST", "/", self.transfer)

    @staticmethod
    def _digest(fields: dict[str, str]) -> bytes:
        text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "signature")
        return hashlib.sha256(text.encode()).hexdigest().encode()

    def transfer(self, request: Request) -> Reply:
        if self.busy:
            self.busy -= 1
            return Reply(503, b"")
        form = self.last_form = request.form()
        answer = {k: form.get(k, "") for k in ("version", "encoding", "bizType", "txnTime", "txnType",
                                               "txnSubType", "accessType", "merId", "settleDate", "fileType")}
        answer.update(signMethod="01", signPubKeyCert=pem(self.answer_cert))
        if not verifies(self.keys.unionpay_merchant.public_key(), self._digest(form), form.get("signature", "")) \
                or form.get("certId") != str(self.keys.merchant_cert.serial_number):
            answer.update(respCode="11", respMsg="验证签名失败")
        else:
            answer.update(respCode="00", respMsg="成功[0000000]", fileName=self.file_name,
                          fileContent=base64.b64encode(zlib.compress(self.file)).decode())
        answer["signature"] = sign(self.answer_key, self._digest(answer))
        return Reply(200, "&".join(f"{k}={v}" for k, v in answer.items()).encode(),
                     {"Content-Type": "text/plain;charset=UTF-8"})
