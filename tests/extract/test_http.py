"""The shared download machinery: backoff, what is retried, and names from servers."""
from __future__ import annotations

import pytest

from etl.extract.providers.http import (
    IntegrityError, RetryPolicy, SignatureError, TransientError, redact_url, safe_file_name, with_retries,
)


class TestBackoff:
    """Waits double from ``backoff``, stop at ``max_backoff``, and honour a server's Retry-After."""

    @pytest.mark.parametrize("attempt, retry_after, wait", [
        pytest.param(1, None, 2.0, id="first"),
        pytest.param(3, None, 8.0, id="doubling"),
        pytest.param(10, None, 60.0, id="capped"),
        pytest.param(1, 30.0, 30.0, id="retry-after-longer"),
        pytest.param(1, 600.0, 60.0, id="retry-after-capped"),
    ])
    def test_delay(self, attempt, retry_after, wait):
        assert RetryPolicy().delay(attempt, retry_after) == wait


class TestWhatIsRetried:
    def test_transient_errors_until_success(self, sleeps):
        outcomes = [TransientError("busy"), IntegrityError("cut"), "done"]

        def attempt():
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        assert with_retries("t", attempt, RetryPolicy(attempts=3, backoff=1, sleep=sleeps.append)) == "done"
        assert sleeps == [1, 2]

    def test_signature_errors_are_not(self, sleeps):
        calls = []

        def attempt():
            calls.append(1)
            raise SignatureError("forged")

        with pytest.raises(SignatureError):
            with_retries("t", attempt, RetryPolicy(attempts=3, sleep=sleeps.append))
        assert calls == [1] and sleeps == []


class TestNamesFromServers:
    """A file name chosen by a server never picks the folder it is written to."""

    @pytest.mark.parametrize("given, kept", [
        pytest.param("20881234123412340156_20261124.csv.zip", "20881234123412340156_20261124.csv.zip", id="alipay"),
        pytest.param("20881234_20261124_业务明细(汇总).csv", "20881234_20261124_业务明细(汇总).csv", id="chinese"),
        pytest.param("../../etc/cron.d/x", "x", id="traversal-keeps-basename"),
        pytest.param("..", "fallback.zip", id="dot-dot"),
        pytest.param(".hidden", "fallback.zip", id="hidden"),
        pytest.param("a b;c.zip", "fallback.zip", id="odd-characters"),
        pytest.param(None, "fallback.zip", id="none"),
    ])
    def test_safe_file_name(self, given, kept):
        assert safe_file_name(given, "fallback.zip") == kept

    def test_urls_lose_their_query(self):
        assert redact_url("https://api.mch.weixin.qq.com/v3/billdownload/file?token=abc") == \
            "https://api.mch.weixin.qq.com/v3/billdownload/file"
