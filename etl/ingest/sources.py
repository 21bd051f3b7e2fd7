"""Which parser reads each provider's statements, and which files of a landing folder are
statements (``shared/spec/landing.md``)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from etl.ingest import alipay, unionpay, wechatpay
from etl.ingest.base import ParsedFile

PROVIDER_PARSERS: dict[str, Callable[[Path], ParsedFile]] = {
    "alipay": alipay.parse,
    "wechatpay": wechatpay.parse,
    "unionpay": unionpay.parse,
}


def _is_delivered(path: Path, provider: str) -> bool:
    name = path.name.lower()
    if provider == "alipay":
        return name.endswith((".zip", ".csv"))
    if provider == "wechatpay":
        return name.endswith((".csv", ".csv.gz"))  # never the .sha1 beside them
    if provider == "unionpay":
        return name.endswith(".zip") or path.name.startswith("INN")
    raise KeyError(f"unknown provider {provider!r}; known: {', '.join(PROVIDER_PARSERS)}")


def provider_files(folder: Path, provider: str) -> list[Path]:
    """The statement files a provider's landing folder holds, sorted by name (hidden files,
    e.g. a download in progress, are not statements)."""
    return sorted((p for p in Path(folder).iterdir()
                   if p.is_file() and not p.name.startswith(".") and _is_delivered(p, provider)),
                  key=lambda p: p.name)
