"""Alipay bill download against a local gateway that answers as Alipay documents it."""
from __future__ import annotations

import json
from datetime import date

import pytest

from etl.extract.credentials import AlipayCredentials
from etl.extract.providers import (
    DownloadError, IntegrityError, RetryPolicy, SignatureError, TransientError, download_alipay_bill,
    download_statement,
)
from tests.extract.fakes import ALIPAY_MEMBERS, FakeAlipay, damaged_zip

DAY = date(2026, 11, 24)


@pytest.fixture
def alipay(server, keys) -> FakeAlipay:
    return FakeAlipay(server, keys)


@pytest.fixture
def credentials(server, keys) -> AlipayCredentials:
    return AlipayCredentials(app_id="2021004100000001", private_key=keys.alipay_app,
                             alipay_public_key=keys.alipay.public_key(), gateway=f"{server.url}/gateway.do")


@pytest.fixture
def policy(sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff=0.5, sleep=sleeps.append)


def landed_files(tmp_path):
    return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())


class TestDownload:
    """A signed query for the day's URL, then the zip exactly as Alipay delivers it."""

    def test_zip_lands_as_delivered(self, alipay, credentials, policy, tmp_path, server):
        result = download_alipay_bill(DAY, tmp_path, credentials, policy=policy)

        assert result.path == tmp_path / "2026-11-24" / "alipay" / "20881234123412340156_20261124.csv.zip"
        assert result.path.read_bytes() == alipay.file
        assert set(result.members) == set(ALIPAY_MEMBERS)
        assert landed_files(tmp_path) == ["2026-11-24/alipay/20881234123412340156_20261124.csv.zip"]
        assert server.calls("/gateway.do") == 1 and server.calls("/downloadBillFile.resource") == 1

    def test_query_names_the_method_the_day_and_rsa2(self, alipay, credentials, policy, tmp_path):
        download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        form = alipay.last_form
        assert form["method"] == "alipay.data.dataservice.bill.downloadurl.query"
        assert form["sign_type"] == "RSA2" and form["app_id"] == "2021004100000001"
        assert json.loads(form["biz_content"]) == {"bill_type": "trade", "bill_date": "2026-11-24"}

    def test_the_dag_calls_it_by_provider_name_and_ds(self, alipay, credentials, policy, tmp_path):
        result = download_statement("alipay", "2026-11-24", str(tmp_path), credentials, policy=policy)
        assert result.path.read_bytes() == alipay.file
        with pytest.raises(DownloadError, match="no downloader for provider 'jdpay'"):
            download_statement("jdpay", "2026-11-24", tmp_path, credentials)

    def test_request_signed_with_another_key_is_refused_by_alipay(self, alipay, credentials, policy, tmp_path, keys):
        wrong = AlipayCredentials(credentials.app_id, keys.stranger, credentials.alipay_public_key, credentials.gateway)
        with pytest.raises(DownloadError, match="isv.invalid-signature"):
            download_alipay_bill(DAY, tmp_path, wrong, policy=policy)


class TestBadSignature:
    """An answer Alipay did not sign is never followed, and never retried."""

    def test_answer_signed_with_another_key(self, alipay, credentials, policy, tmp_path, server, keys):
        alipay.answer_key = keys.stranger
        with pytest.raises(SignatureError, match="does not verify with the Alipay public key"):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/gateway.do") == 1
        assert server.calls("/downloadBillFile.resource") == 0
        assert landed_files(tmp_path) == []

    def test_answer_changed_after_signing(self, alipay, credentials, policy, tmp_path, server):
        alipay.tamper = lambda body: body.replace("downloadFileName=", "downloadFileName=evil_")
        with pytest.raises(SignatureError):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/downloadBillFile.resource") == 0

    def test_unsigned_success(self, alipay, credentials, policy, tmp_path):
        alipay.tamper = lambda body: body[: body.index(',"sign"')] + "}"
        with pytest.raises(SignatureError, match="not signed"):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)


class TestHashMismatch:
    """The zip's member CRCs are the only checksum Alipay gives: a file failing them never lands."""

    def test_damaged_zip_is_fetched_again_then_refused(self, alipay, credentials, policy, tmp_path, server):
        alipay.file = damaged_zip(ALIPAY_MEMBERS)
        with pytest.raises(IntegrityError, match=r"fails its CRC check .*gave up after 3 attempts"):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/downloadBillFile.resource") == 3
        assert landed_files(tmp_path) == []  # no file, no temp file

    def test_a_page_instead_of_a_zip(self, alipay, credentials, policy, tmp_path):
        alipay.file = "<html>系统繁忙</html>".encode()
        with pytest.raises(IntegrityError, match="not an intact zip"):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)


class TestRetry:
    """Busy gateways and broken transfers are retried with a doubling wait."""

    def test_busy_gateway_is_retried_with_backoff(self, alipay, credentials, policy, tmp_path, server, sleeps):
        alipay.busy = 2
        result = download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert result.path.read_bytes() == alipay.file
        assert server.calls("/gateway.do") == 3
        assert sleeps == [0.5, 1.0]

    def test_alipay_service_unavailable_code_is_retried(self, alipay, credentials, policy, tmp_path, sleeps):
        alipay.busy_code = 1
        download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert sleeps == [0.5]

    def test_transfer_cut_short_is_fetched_again(self, alipay, credentials, policy, tmp_path, server):
        alipay.cut_transfers = 1
        result = download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert result.path.read_bytes() == alipay.file
        assert server.calls("/downloadBillFile.resource") == 2

    def test_gives_up_after_the_last_attempt(self, alipay, credentials, policy, tmp_path, caplog):
        alipay.busy = 5
        with pytest.raises(TransientError, match="HTTP 503 .*gave up after 3 attempts"):
            download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert caplog.text.count("retrying in") == 2

    def test_download_token_never_logged(self, alipay, credentials, policy, tmp_path, caplog):
        caplog.set_level("DEBUG", logger="etl")
        alipay.cut_transfers = 1
        download_alipay_bill(DAY, tmp_path, credentials, policy=policy)
        assert "the transfer broke off" in caplog.text
        assert "SECRET-TOKEN" not in caplog.text and "sign=" not in caplog.text
