"""UnionPay fileTransfer against a local server answering as UnionPay's 5.1.0 interface does."""
from __future__ import annotations

import base64
import zlib
from datetime import date

import pytest

from etl.extract.credentials import UnionPayCredentials
from etl.extract.providers import (
    DownloadError, IntegrityError, RetryPolicy, SignatureError, download_unionpay_file,
)
from etl.extract.providers.unionpay import file_bytes, parse_answer
from tests.extract.fakes import UNIONPAY_LEAF_CN, UNIONPAY_MEMBERS, FakeUnionPay, certificate, damaged_zip, statement_zip

DAY = date(2026, 11, 24)


@pytest.fixture
def unionpay(server, keys) -> FakeUnionPay:
    return FakeUnionPay(server, keys)


@pytest.fixture
def credentials(server, keys) -> UnionPayCredentials:
    return UnionPayCredentials(mer_id="777290058110048", cert_id=str(keys.merchant_cert.serial_number),
                               private_key=keys.unionpay_merchant, root_cert=keys.root_cert,
                               middle_cert=keys.middle_cert, file_url=f"{server.url}/")


@pytest.fixture
def policy(sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff=0.5, sleep=sleeps.append)


def landed_files(tmp_path):
    return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())


class TestDownload:
    """Signed fileTransfer request, verified answer, the zip inside landing as delivered."""

    def test_zip_lands_as_delivered(self, unionpay, credentials, policy, tmp_path):
        result = download_unionpay_file(DAY, tmp_path, credentials, policy=policy)
        assert result.path == tmp_path / "2026-11-24" / "unionpay" / "777290058110048_20261124.zip"
        assert result.path.read_bytes() == unionpay.file
        assert set(result.members) == set(UNIONPAY_MEMBERS)
        assert landed_files(tmp_path) == ["2026-11-24/unionpay/777290058110048_20261124.zip"]

    def test_request_is_a_5_1_0_file_transfer_for_the_settlement_day(self, unionpay, credentials, policy, tmp_path, keys):
        download_unionpay_file(DAY, tmp_path, credentials, policy=policy)
        form = unionpay.last_form
        assert {k: form[k] for k in ("version", "signMethod", "txnType", "txnSubType", "bizType", "fileType",
                                     "settleDate", "merId", "certId")} == {
            "version": "5.1.0", "signMethod": "01", "txnType": "76", "txnSubType": "01", "bizType": "000000",
            "fileType": "00", "settleDate": "1124", "merId": "777290058110048",
            "certId": str(keys.merchant_cert.serial_number)}

    def test_request_signed_with_another_key_is_refused_by_unionpay(self, unionpay, credentials, policy, tmp_path, keys):
        wrong = UnionPayCredentials(credentials.mer_id, credentials.cert_id, keys.stranger, credentials.root_cert,
                                    credentials.middle_cert, credentials.file_url)
        with pytest.raises(DownloadError, match="respCode 11 验证签名失败"):
            download_unionpay_file(DAY, tmp_path, wrong, policy=policy)


class TestBadSignature:
    """Only an answer signed by a UnionPay certificate of the configured chain is believed."""

    def test_answer_signed_with_another_key(self, unionpay, credentials, policy, tmp_path, server, keys):
        unionpay.answer_key = keys.stranger
        with pytest.raises(SignatureError, match="does not verify with its signPubKeyCert"):
            download_unionpay_file(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/") == 1
        assert landed_files(tmp_path) == []

    def test_certificate_outside_the_chain(self, unionpay, credentials, policy, tmp_path, keys):
        unionpay.answer_key = keys.stranger
        unionpay.answer_cert = certificate(UNIONPAY_LEAF_CN, keys.stranger)  # self-signed look-alike
        with pytest.raises(SignatureError, match="does not chain"):
            download_unionpay_file(DAY, tmp_path, credentials, policy=policy)

    def test_certificate_of_someone_else_in_the_chain(self, unionpay, credentials, policy, tmp_path, keys):
        unionpay.answer_key = keys.stranger
        unionpay.answer_cert = certificate("041@Z1@某某科技有限公司@00000002", keys.stranger,
                                           "UnionPay Test Middle", keys.unionpay_middle)
        with pytest.raises(SignatureError, match="not UnionPay"):
            download_unionpay_file(DAY, tmp_path, credentials, policy=policy)

    @pytest.mark.parametrize("accept, outcome", [pytest.param(True, None, id="accepted-when-asked"),
                                                 pytest.param(False, SignatureError, id="refused-by-default")])
    def test_test_environment_certificate(self, unionpay, credentials, policy, tmp_path, keys, accept, outcome):
        unionpay.answer_key = keys.stranger
        unionpay.answer_cert = certificate("041@Z1@00040000:SIGN@00000001", keys.stranger,
                                           "UnionPay Test Middle", keys.unionpay_middle)
        chosen = UnionPayCredentials(**{**credentials.__dict__, "accept_test_certificates": accept})
        if outcome is None:
            assert download_unionpay_file(DAY, tmp_path, chosen, policy=policy).path.exists()
        else:
            with pytest.raises(outcome):
                download_unionpay_file(DAY, tmp_path, chosen, policy=policy)


class TestHashMismatch:
    """The zip's member CRCs are its checksum: a damaged one never lands."""

    def test_damaged_zip_is_asked_for_again_then_refused(self, unionpay, credentials, policy, tmp_path, server):
        unionpay.file = damaged_zip(UNIONPAY_MEMBERS)
        with pytest.raises(IntegrityError, match=r"fails its CRC check .*gave up after 3 attempts"):
            download_unionpay_file(DAY, tmp_path, credentials, policy=policy)
        assert server.calls("/") == 3
        assert landed_files(tmp_path) == []


class TestRetry:
    def test_busy_server_is_retried_with_backoff(self, unionpay, credentials, policy, tmp_path, server, sleeps):
        unionpay.busy = 1
        result = download_unionpay_file(DAY, tmp_path, credentials, policy=policy)
        assert result.path.read_bytes() == unionpay.file
        assert server.calls("/") == 2 and sleeps == [0.5]


class TestAnswerFormat:
    """The answer's ``k=v&…`` and its fileContent, read as UnionPay's SDKs read them."""

    def test_values_keep_equals_signs_plus_and_braces(self):
        text = "a=1&fileContent=eJzLSM3JyQcABiwCFQ==&reqReserved={x=1&y=2}&b=+/="
        assert parse_answer(text) == {"a": "1", "fileContent": "eJzLSM3JyQcABiwCFQ==",
                                      "reqReserved": "{x=1&y=2}", "b": "+/="}

    @pytest.mark.parametrize("pack", [pytest.param(zlib.compress, id="deflated"),
                                      pytest.param(lambda b: b, id="plain-zip")])
    def test_file_content_deflated_or_plain(self, pack):
        data = statement_zip(UNIONPAY_MEMBERS)
        assert file_bytes(base64.b64encode(pack(data)).decode(), "t") == data

    def test_file_content_that_is_neither(self):
        with pytest.raises(IntegrityError, match="neither deflated data nor a zip"):
            file_bytes(base64.b64encode(b"garbage").decode(), "t")
