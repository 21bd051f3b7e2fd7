"""Where the pulls find their secrets: environment variables, or an Airflow connection.

Pass ``conn_id`` to read an Airflow connection (production: the DAG's pull tasks); leave it
out to read environment variables (the CLI, cron, tests). Every variable ``NAME`` can instead
be given as ``NAME_FILE``, the path of a file holding the value (mounted secrets).
Airflow is imported only when a connection is asked for, so it stays optional.

Secrets never reach a log line or an exception message: the credential classes hold keys as
loaded key objects that ``repr`` leaves out, and :func:`redact_uri` strips passwords.
See docs/SOURCES.md for every variable and connection field.
"""
from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from etl.extract.providers import signing

ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"
WECHATPAY_BASE_URL = "https://api.mch.weixin.qq.com"
UNIONPAY_FILE_URL = "https://filedownload.95516.com/"


class CredentialsError(Exception):
    """Credentials missing or unreadable. The message names variables and fields, never values."""


# ---------------------------------------------------------------------------- lookups


def _env_value(environ: Mapping[str, str], name: str, *, binary: bool = False) -> Any:
    if (value := environ.get(name)) not in (None, ""):
        return value.encode() if binary else value
    if path := environ.get(f"{name}_FILE"):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CredentialsError(f"{name}_FILE names {path!r}, which cannot be read ({exc.strerror})") from None
        return data if binary else data.decode("utf-8").strip()
    return None


def _require(values: Mapping[str, Any], names: list[str], where: str) -> None:
    missing = [n for n in names if values.get(n) in (None, "")]
    if missing:
        raise CredentialsError(f"{where}: missing {', '.join(missing)}")


def _airflow_connection(conn_id: str) -> Any:
    try:
        from airflow.sdk import BaseHook  # Airflow 3
    except ImportError:
        try:
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef]  # Airflow 2
        except ImportError:
            raise CredentialsError(
                f"Airflow connection {conn_id!r} asked for, but Airflow is not installed: "
                "set the environment variables instead (docs/SOURCES.md)"
            ) from None
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # the hook raises its own not-found type, which differs between versions
        raise CredentialsError(f"Airflow connection {conn_id!r} cannot be read ({type(exc).__name__})") from None


def _extra(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson
    return dict(extra) if isinstance(extra, Mapping) else {}


def _keys(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except signing.KeyFormatError as exc:
        raise CredentialsError(str(exc)) from None


# ---------------------------------------------------------------------------- databases


def redact_uri(uri: str) -> str:
    """``scheme://user@host:port/database``: what a log line may say about a connection."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


_DB_SCHEMES = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


def database_uri(name: str, *, conn_id: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The connection URI of the database ``name`` (e.g. ``orders_db``, ``billing_db``).

    Environment: ``RECON_<NAME>_URI`` (``postgresql://…`` or ``mysql://…``). Airflow: the
    connection's type (postgres, mysql), host, port, login, password and schema (the database).
    """
    if conn_id is not None:
        conn = _airflow_connection(conn_id)
        scheme = _DB_SCHEMES.get((conn.conn_type or "").lower())
        if scheme is None:
            raise CredentialsError(f"Airflow connection {conn_id!r} has type {conn.conn_type!r}; "
                                   f"expected one of {sorted(_DB_SCHEMES)}")
        _require({"host": conn.host, "schema": conn.schema}, ["host", "schema"], f"Airflow connection {conn_id!r}")
        user = quote(conn.login or "", safe="")
        password = f":{quote(conn.password, safe='')}" if conn.password else ""
        netloc = f"{user}{password}@" if user else ""
        netloc += conn.host + (f":{conn.port}" if conn.port else "")
        return urlunsplit((scheme, netloc, "/" + conn.schema, "", ""))
    environ = os.environ if environ is None else environ
    var = f"RECON_{name.upper()}_URI"
    uri = _env_value(environ, var)
    if not uri:
        raise CredentialsError(f"database {name!r}: set {var} (or {var}_FILE), or pass an Airflow conn_id")
    return uri


# ---------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class AlipayCredentials:
    app_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)  # the app's RSA2 key (应用私钥)
    alipay_public_key: rsa.RSAPublicKey = field(repr=False)  # 支付宝公钥, verifies responses
    gateway: str = ALIPAY_GATEWAY


@dataclass(frozen=True)
class WeChatPayCredentials:
    mchid: str
    serial_no: str  # serial number of the merchant API certificate (商户API证书序列号)
    private_key: rsa.RSAPrivateKey = field(repr=False)  # apiclient_key.pem
    platform_key: rsa.RSAPublicKey = field(repr=False)  # WeChat Pay public key or platform certificate
    platform_serial: str | None = None  # Wechatpay-Serial it signs with: PUB_KEY_ID_… or the certificate's serial
    base_url: str = WECHATPAY_BASE_URL


@dataclass(frozen=True)
class UnionPayCredentials:
    mer_id: str
    cert_id: str  # serial number (decimal) of the merchant signing certificate
    private_key: rsa.RSAPrivateKey = field(repr=False)
    root_cert: x509.Certificate = field(repr=False)  # UnionPay's root and middle certificates,
    middle_cert: x509.Certificate = field(repr=False)  # which sign the certificate in each response
    file_url: str = UNIONPAY_FILE_URL
    accept_test_certificates: bool = False  # also accept the test environment's "00040000:SIGN" certificates


def _fields(conn_id: str | None, environ: Mapping[str, str] | None, prefix: str,
            names: dict[str, str], binary: frozenset[str] = frozenset()) -> tuple[dict[str, Any], str]:
    """Raw values for ``names`` (field → how to find it) and where they came from."""
    if conn_id is not None:
        conn = _airflow_connection(conn_id)
        extra = _extra(conn)
        values: dict[str, Any] = {}
        for key, source in names.items():
            if source == "login":
                values[key] = conn.login
            elif source == "password":
                values[key] = conn.password
            else:
                values[key] = extra.get(source)
        return values, f"Airflow connection {conn_id!r}"
    environ = os.environ if environ is None else environ
    return ({key: _env_value(environ, f"{prefix}{key.upper()}", binary=key in binary) for key in names},
            f"environment ({prefix}*)")


def alipay_credentials(*, conn_id: str | None = None, environ: Mapping[str, str] | None = None) -> AlipayCredentials:
    """Environment ``RECON_ALIPAY_APP_ID``, ``…_PRIVATE_KEY``, ``…_PUBLIC_KEY``, ``…_GATEWAY``;
    Airflow: login = app id, password = private key, extra ``alipay_public_key``, ``gateway``."""
    values, where = _fields(conn_id, environ, "RECON_ALIPAY_", {
        "app_id": "login", "private_key": "password", "public_key": "alipay_public_key", "gateway": "gateway"})
    _require(values, ["app_id", "private_key", "public_key"], where)
    return AlipayCredentials(
        app_id=values["app_id"],
        private_key=_keys(signing.load_private_key, values["private_key"], what="Alipay app private key"),
        alipay_public_key=_keys(signing.load_public_key, values["public_key"], what="Alipay public key"),
        gateway=values["gateway"] or ALIPAY_GATEWAY,
    )


def wechatpay_credentials(*, conn_id: str | None = None,
                          environ: Mapping[str, str] | None = None) -> WeChatPayCredentials:
    """Environment ``RECON_WECHATPAY_MCHID``, ``…_SERIAL_NO``, ``…_PRIVATE_KEY``, ``…_PLATFORM_KEY``,
    ``…_PLATFORM_SERIAL``, ``…_BASE_URL``; Airflow: login = mchid, password = private key,
    extra ``serial_no``, ``platform_key``, ``platform_serial``, ``base_url``."""
    values, where = _fields(conn_id, environ, "RECON_WECHATPAY_", {
        "mchid": "login", "private_key": "password", "serial_no": "serial_no",
        "platform_key": "platform_key", "platform_serial": "platform_serial", "base_url": "base_url"})
    _require(values, ["mchid", "serial_no", "private_key", "platform_key"], where)
    serial = values["platform_serial"]
    if not serial and "CERTIFICATE" in str(values["platform_key"]):
        cert = _keys(signing.load_certificate, values["platform_key"], what="WeChat Pay platform certificate")
        serial = format(cert.serial_number, "X")
    return WeChatPayCredentials(
        mchid=values["mchid"],
        serial_no=values["serial_no"],
        private_key=_keys(signing.load_private_key, values["private_key"], what="WeChat Pay merchant private key"),
        platform_key=_keys(signing.load_public_key, values["platform_key"], what="WeChat Pay platform key"),
        platform_serial=serial or None,
        base_url=(values["base_url"] or WECHATPAY_BASE_URL).rstrip("/"),
    )


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


def unionpay_credentials(*, conn_id: str | None = None,
                         environ: Mapping[str, str] | None = None) -> UnionPayCredentials:
    """The signing key comes either as the ``.pfx`` UnionPay issues (``RECON_UNIONPAY_SIGN_CERT_FILE``
    + ``…_SIGN_CERT_PASSWORD``; the certId is read from it) or as a PEM key plus its certId
    (``…_PRIVATE_KEY``, ``…_CERT_ID``). Also ``…_MER_ID``, ``…_ROOT_CERT``, ``…_MIDDLE_CERT``,
    ``…_FILE_URL``, ``…_ACCEPT_TEST_CERTS``. Airflow: login = merId, password = PEM key, extra
    ``cert_id``, ``sign_cert_pfx`` (base64), ``sign_cert_password``, ``root_cert``,
    ``middle_cert``, ``file_url``, ``accept_test_certificates``."""
    values, where = _fields(conn_id, environ, "RECON_UNIONPAY_", {
        "mer_id": "login", "private_key": "password", "cert_id": "cert_id", "sign_cert": "sign_cert_pfx",
        "sign_cert_password": "sign_cert_password", "root_cert": "root_cert", "middle_cert": "middle_cert",
        "file_url": "file_url", "accept_test_certs": "accept_test_certificates"},
        binary=frozenset({"sign_cert"}))
    _require(values, ["mer_id", "root_cert", "middle_cert"], where)
    if values["sign_cert"]:
        pfx = values["sign_cert"]
        if conn_id is not None:  # a connection's extra is text: the .pfx travels as base64
            pfx = base64.b64decode(pfx)
        password = values["sign_cert_password"]
        password_bytes = password.encode() if isinstance(password, str) and password else password or None
        key, cert = _keys(signing.load_pkcs12, pfx, password_bytes, what="UnionPay signing certificate (.pfx)")
        cert_id = str(cert.serial_number)
    else:
        _require(values, ["private_key", "cert_id"], where + " (or a .pfx as sign_cert)")
        key = _keys(signing.load_private_key, values["private_key"], what="UnionPay signing key")
        cert_id = str(values["cert_id"])
    return UnionPayCredentials(
        mer_id=values["mer_id"],
        cert_id=cert_id,
        private_key=key,
        root_cert=_keys(signing.load_certificate, values["root_cert"], what="UnionPay root certificate"),
        middle_cert=_keys(signing.load_certificate, values["middle_cert"], what="UnionPay middle certificate"),
        file_url=values["file_url"] or UNIONPAY_FILE_URL,
        accept_test_certificates=_truthy(values["accept_test_certs"]),
    )


def provider_credentials(provider: str, *, conn_id: str | None = None,
                         environ: Mapping[str, str] | None = None) -> Any:
    """The credentials of ``provider`` (alipay | wechatpay | unionpay)."""
    loaders = {"alipay": alipay_credentials, "wechatpay": wechatpay_credentials, "unionpay": unionpay_credentials}
    if provider not in loaders:
        raise CredentialsError(f"no downloader for provider {provider!r}; expected one of {sorted(loaders)}")
    return loaders[provider](conn_id=conn_id, environ=environ)


__all__ = [
    "AlipayCredentials", "CredentialsError", "UnionPayCredentials", "WeChatPayCredentials",
    "alipay_credentials", "database_uri", "provider_credentials", "redact_uri",
    "unionpay_credentials", "wechatpay_credentials",
]
