"""Statement downloaders, one per provider, with the same shape:

``download_<provider>_…(business_date, landing, credentials, *, http=None, policy=RetryPolicy())``
returns a :class:`DownloadedFile` under ``<landing>/<date>/<provider>/``, written atomically.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from etl.extract.providers.alipay import download_alipay_bill
from etl.extract.providers.http import (
    DEFAULT_POLICY, DownloadedFile, DownloadError, Http, IntegrityError, RetryPolicy, SignatureError, TransientError,
)
from etl.extract.providers.unionpay import download_unionpay_file
from etl.extract.providers.wechatpay import download_wechatpay_bill

DOWNLOADERS = {
    "alipay": download_alipay_bill,
    "wechatpay": download_wechatpay_bill,
    "unionpay": download_unionpay_file,
}


def download_statement(provider: str, business_date: date | str, landing: Path | str, credentials: Any, *,
                       http: Http | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> DownloadedFile:
    """Download ``provider``'s statement of ``business_date`` (credentials from etl.extract.credentials)."""
    if provider not in DOWNLOADERS:
        raise DownloadError(f"no downloader for provider {provider!r}; expected one of {sorted(DOWNLOADERS)}")
    day = date.fromisoformat(business_date) if isinstance(business_date, str) else business_date
    return DOWNLOADERS[provider](day, Path(landing), credentials, http=http, policy=policy)


__all__ = [
    "DOWNLOADERS", "DownloadError", "DownloadedFile", "Http", "IntegrityError", "RetryPolicy",
    "SignatureError", "TransientError", "download_alipay_bill", "download_statement",
    "download_unionpay_file", "download_wechatpay_bill",
]
