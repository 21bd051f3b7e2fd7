"""RSA keys and SHA256withRSA (PKCS#1 v1.5) signatures, as all three providers use them.

Keys arrive in the shapes the providers' consoles hand out: PEM (PKCS#1 or PKCS#8), an X.509
certificate, a PKCS#12 bundle (UnionPay's ``.pfx``), or Alipay's bare base64 without PEM lines.
"""
from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12


class KeyFormatError(ValueError):
    """A key or certificate that cannot be loaded. The message never holds the key itself."""


def _text(value: str | bytes) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


def _bare_der(value: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(b"".join(value.split()), validate=True)
    except binascii.Error as exc:
        raise KeyFormatError(f"{what}: neither PEM nor base64 DER") from exc


def load_private_key(value: str | bytes, password: bytes | None = None, what: str = "private key") -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text or bare base64 PKCS#8/PKCS#1 DER."""
    data = _text(value).strip()
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(_bare_der(data, what), password=password)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"{what}: not a readable private key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError(f"{what}: not an RSA key")
    return key


def load_certificate(value: str | bytes, what: str = "certificate") -> x509.Certificate:
    data = _text(value).strip()
    try:
        if data.startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(_bare_der(data, what))
    except ValueError:
        raise KeyFormatError(f"{what}: not a readable X.509 certificate") from None


def load_public_key(value: str | bytes, what: str = "public key") -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key, a PEM certificate, or bare base64 SPKI DER."""
    data = _text(value).strip()
    try:
        if b"CERTIFICATE-----" in data:
            key = load_certificate(data, what).public_key()
        elif data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(_bare_der(data, what))
    except ValueError:
        raise KeyFormatError(f"{what}: not a readable public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError(f"{what}: not an RSA key")
    return key


def load_pkcs12(data: bytes, password: bytes | None, what: str = "PKCS#12 bundle") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The private key and certificate of a ``.pfx`` (UnionPay's signing certificate)."""
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise KeyFormatError(f"{what}: cannot be opened (wrong password or not PKCS#12)") from None
    if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
        raise KeyFormatError(f"{what}: holds no RSA key with its certificate")
    return key, cert


def sign_sha256(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 of the SHA256withRSA (PKCS#1 v1.5) signature of ``message``."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify_sha256(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid SHA256withRSA signature of ``message``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
