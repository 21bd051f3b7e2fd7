"""WeChat Pay v3 trade bill download against a local server answering as WeChat Pay documents it."""
from __future__ import annotations

import gzip
import hashlib
from datetime import date

import pytest

from etl.extract.credentials import WeChatPayCredentials
from etl.extract.providers import (
    DownloadError, IntegrityError, RetryPolicy, SignatureError, download_wechatpay_bill,
)
from tests.extract.fakes import WECHAT_BILL, FakeWeChatPay

DAY = date(2026, 11, 24)
NAME = "1900000109_20261124_ALL.csv"


@pytest.fixture
def wechat(server, keys) -> FakeWeChatPay:
    return FakeWeChatPay(server, keys)


@pytest.fixture
def credentials(server, keys) -> WeChatPayCredentials:
    return WeChatPayCredentials(mchid="1900000109", serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                                private_key=keys.wechat_merchant, platform_key=keys.wechat_platform.public_key(),
                                platform_serial=FakeWeChatPay.serial, base_url=server.url)


@pytest.fixture
def policy(sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff=0.5, sleep=sleeps.append)


def landed_files(tmp_path):
    return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())


class TestDownload:
    """Signed query, verified answer, signed download, SHA1 checked, the hash kept beside the file."""

    def test_bill_lands_with_its_sha1(self, wechat, credentials, policy, tmp_path, server):
        result = download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)

        folder = tmp_path / "2026-11-24" / "wechatpay"
        assert result.path == folder / NAME
        assert result.path.read_bytes() == WECHAT_BILL
        assert (folder / f"{NAME}.sha1").read_text() == hashlib.sha1(WECHAT_BILL).hexdigest() + "\n"
        assert landed_files(tmp_path) == [f"2026-11-24/wechatpay/{NAME}", f"2026-11-24/wechatpay/{NAME}.sha1"]
        assert server.calls("/v3/bill/tradebill") == 1 and server.calls("/v3/billdownload/file") == 1

    def test_query_asks_for_the_day_and_type_all(self, wechat, credentials, policy, tmp_path, server):
        download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)
        query = next(r for r in server.requests if r.path == "/v3/bill/tradebill").query
        assert query == {"bill_date": "2026-11-24", "bill_type": "ALL"}

    def test_gzip_bill_is_checked_against_the_hash_of_its_content(self, wechat, credentials, policy, tmp_path):
        result = download_wechatpay_bill(DAY, tmp_path, credentials, tar_type="GZIP", policy=policy)
        assert result.path.name == f"{NAME}.gz"
        assert gzip.decompress(result.path.read_bytes()) == WECHAT_BILL
        assert (result.path.parent / f"{NAME}.gz.sha1").read_text().strip() == hashlib.sha1(WECHAT_BILL).hexdigest()

    def test_request_signed_with_another_key_is_refused_by_wechat(self, wechat, credentials, policy, tmp_path, keys):
        wrong = WeChatPayCredentials(credentials.mchid, credentials.serial_no, keys.stranger, credentials.platform_key,
                                     credentials.platform_serial, credentials.base_url)
        with pytest.raises(DownloadError, match="HTTP 401 SIGN_ERROR"):
            download_wechatpay_bill(DAY, tmp_path, wrong, policy=policy)


class TestBadSignature:
    """An answer not signed by the configured WeChat Pay key is not followed, nor retried."""

    def test_answer_signed_with_another_key(self, wechat, credentials, policy, tmp_path, server, keys):
        wechat.answer_key = keys.stranger
        with pytest.raises(SignatureError, match="does not verify with the WeChat Pay platform key"):
            download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/v3/bill/tradebill") == 1 and server.calls("/v3/billdownload/file") == 0
        assert landed_files(tmp_path) == []

    def test_answer_signed_with_an_unknown_serial(self, wechat, credentials, policy, tmp_path):
        wechat.serial = "PUB_KEY_ID_SOMEONE_ELSE"
        with pytest.raises(SignatureError, match="not the configured"):
            download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)

    def test_replayed_answer_is_refused(self, wechat, credentials, policy, tmp_path):
        wechat.timestamp_offset = -3600
        with pytest.raises(SignatureError, match="more than 300 s off"):
            download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)


class TestHashMismatch:
    """A bill whose SHA1 is not the one WeChat Pay stated never lands."""

    def test_wrong_hash_is_fetched_again_then_refused(self, wechat, credentials, policy, tmp_path, server):
        wechat.hash_value = "0" * 40
        with pytest.raises(IntegrityError, match=r"SHA1 .* WeChat Pay states 0{40} .*gave up after 3 attempts"):
            download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/v3/billdownload/file") == 3
        assert landed_files(tmp_path) == []  # neither the bill, its .sha1, nor a temp file


class TestRetry:
    def test_busy_api_is_retried_with_backoff(self, wechat, credentials, policy, tmp_path, server, sleeps):
        wechat.busy = 2
        result = download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)
        assert result.path.read_bytes() == WECHAT_BILL
        assert server.calls("/v3/bill/tradebill") == 3
        assert sleeps == [0.5, 1.0]

    def test_authorization_is_never_logged(self, wechat, credentials, policy, tmp_path, caplog):
        caplog.set_level("DEBUG", logger="etl")
        wechat.busy = 1
        download_wechatpay_bill(DAY, tmp_path, credentials, policy=policy)
        assert "HTTP 503" in caplog.text
        assert "WECHATPAY2" not in caplog.text and "token=" not in caplog.text
