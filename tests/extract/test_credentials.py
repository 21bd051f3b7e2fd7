"""Credentials from the environment or an Airflow connection; secrets never shown."""
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from etl.extract.credentials import (
    CredentialsError, alipay_credentials, database_uri, redact_uri, unionpay_credentials, wechatpay_credentials,
)
from tests.extract.fakes import certificate, pem


def bare_base64(key) -> str:
    """Alipay's console hands keys out as one base64 line, without PEM armour."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


class TestEnvironment:
    def test_alipay_from_pem_and_bare_base64(self, keys):
        found = alipay_credentials(environ={
            "RECON_ALIPAY_APP_ID": "2021004100000001",
            "RECON_ALIPAY_PRIVATE_KEY": bare_base64(keys.alipay_app),
            "RECON_ALIPAY_PUBLIC_KEY": pem(keys.alipay.public_key()),
        })
        assert found.app_id == "2021004100000001"
        assert found.private_key.private_numbers() == keys.alipay_app.private_numbers()
        assert found.gateway == "https://openapi.alipay.com/gateway.do"

    def test_values_from_files(self, keys, tmp_path):
        (tmp_path / "key.pem").write_text(pem(keys.wechat_merchant))
        (tmp_path / "platform.pem").write_text(pem(keys.wechat_platform.public_key()))
        found = wechatpay_credentials(environ={
            "RECON_WECHATPAY_MCHID": "1900000109", "RECON_WECHATPAY_SERIAL_NO": "5157F09E",
            "RECON_WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "key.pem"),
            "RECON_WECHATPAY_PLATFORM_KEY_FILE": str(tmp_path / "platform.pem"),
            "RECON_WECHATPAY_PLATFORM_SERIAL": "PUB_KEY_ID_01",
        })
        assert found.platform_serial == "PUB_KEY_ID_01" and found.base_url == "https://api.mch.weixin.qq.com"

    def test_platform_certificate_gives_its_serial(self, keys):
        cert = certificate("Tenpay.com Root CA", keys.wechat_platform, serial=0x5157F09EFDC096DE)
        found = wechatpay_credentials(environ={
            "RECON_WECHATPAY_MCHID": "1900000109", "RECON_WECHATPAY_SERIAL_NO": "1",
            "RECON_WECHATPAY_PRIVATE_KEY": pem(keys.wechat_merchant), "RECON_WECHATPAY_PLATFORM_KEY": pem(cert),
        })
        assert found.platform_serial == "5157F09EFDC096DE"

    def test_unionpay_from_its_pfx(self, keys, tmp_path):
        pfx = pkcs12.serialize_key_and_certificates(b"acp", keys.unionpay_merchant, keys.merchant_cert, None,
                                                    serialization.BestAvailableEncryption(b"000000"))
        (tmp_path / "acp_sign.pfx").write_bytes(pfx)
        found = unionpay_credentials(environ={
            "RECON_UNIONPAY_MER_ID": "777290058110048",
            "RECON_UNIONPAY_SIGN_CERT_FILE": str(tmp_path / "acp_sign.pfx"),
            "RECON_UNIONPAY_SIGN_CERT_PASSWORD": "000000",
            "RECON_UNIONPAY_ROOT_CERT": pem(keys.root_cert), "RECON_UNIONPAY_MIDDLE_CERT": pem(keys.middle_cert),
        })
        assert found.cert_id == "69629715588"
        assert found.private_key.private_numbers() == keys.unionpay_merchant.private_numbers()

    def test_wrong_pfx_password_is_named_without_the_password(self, keys, tmp_path):
        pfx = pkcs12.serialize_key_and_certificates(b"acp", keys.unionpay_merchant, keys.merchant_cert, None,
                                                    serialization.BestAvailableEncryption(b"000000"))
        (tmp_path / "acp_sign.pfx").write_bytes(pfx)
        with pytest.raises(CredentialsError, match="cannot be opened") as failure:
            unionpay_credentials(environ={
                "RECON_UNIONPAY_MER_ID": "1", "RECON_UNIONPAY_SIGN_CERT_FILE": str(tmp_path / "acp_sign.pfx"),
                "RECON_UNIONPAY_SIGN_CERT_PASSWORD": "guess-123",
                "RECON_UNIONPAY_ROOT_CERT": pem(keys.root_cert), "RECON_UNIONPAY_MIDDLE_CERT": pem(keys.middle_cert)})
        assert "guess-123" not in str(failure.value)

    def test_missing_values_are_named(self):
        with pytest.raises(CredentialsError, match="missing app_id, private_key, public_key"):
            alipay_credentials(environ={})

    def test_a_key_that_is_not_a_key(self):
        with pytest.raises(CredentialsError, match="Alipay app private key: not a readable private key"):
            alipay_credentials(environ={"RECON_ALIPAY_APP_ID": "1", "RECON_ALIPAY_PRIVATE_KEY": "-----BEGIN nonsense",
                                        "RECON_ALIPAY_PUBLIC_KEY": "x"})

    def test_database_uri(self):
        assert database_uri("orders_db", environ={"RECON_ORDERS_DB_URI": "mysql://u:p@db:3306/shop"}) == \
            "mysql://u:p@db:3306/shop"
        with pytest.raises(CredentialsError, match="set RECON_BILLING_DB_URI"):
            database_uri("billing_db", environ={})


class TestNeverShown:
    def test_repr_leaves_keys_out(self, keys):
        found = alipay_credentials(environ={"RECON_ALIPAY_APP_ID": "2021", "RECON_ALIPAY_PRIVATE_KEY": pem(keys.alipay_app),
                                            "RECON_ALIPAY_PUBLIC_KEY": pem(keys.alipay.public_key())})
        assert repr(found) == "AlipayCredentials(app_id='2021', gateway='https://openapi.alipay.com/gateway.do')"

    def test_redacted_uri(self):
        assert redact_uri("postgresql://recon:p%40ss@db.internal:5432/orders?sslmode=require") == \
            "postgresql://recon@db.internal:5432/orders"


class TestAirflowConnection:
    """In production the DAG names an Airflow connection; Airflow is imported only then."""

    @pytest.fixture(autouse=True)
    def _airflow(self):
        pytest.importorskip("airflow.sdk", reason="Airflow is an optional extra")

    def test_database_connection_becomes_a_uri(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_RECON_ORDERS_DB", json.dumps({
            "conn_type": "postgres", "host": "db.internal", "port": 5432, "login": "recon",
            "password": "p@ss/word", "schema": "orders"}))
        assert database_uri("orders_db", conn_id="recon_orders_db") == \
            "postgresql://recon:p%40ss%2Fword@db.internal:5432/orders"

    def test_provider_connection_with_extras(self, monkeypatch, keys):
        monkeypatch.setenv("AIRFLOW_CONN_RECON_WECHATPAY", json.dumps({
            "conn_type": "generic", "login": "1900000109", "password": pem(keys.wechat_merchant),
            "extra": {"serial_no": "5157F09E", "platform_key": pem(keys.wechat_platform.public_key()),
                      "platform_serial": "PUB_KEY_ID_01"}}))
        found = wechatpay_credentials(conn_id="recon_wechatpay")
        assert (found.mchid, found.serial_no, found.platform_serial) == ("1900000109", "5157F09E", "PUB_KEY_ID_01")

    def test_missing_connection_is_named(self):
        with pytest.raises(CredentialsError, match="'recon_nowhere' cannot be read"):
            alipay_credentials(conn_id="recon_nowhere")
