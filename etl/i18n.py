"""The language people read topup-recon in: zh_CN by default, English on request.

Every text a person reads (reports, chart labels, XLSX sheets and headers, the human-facing
CSVs, alert mails, the run summary's messages, the console) comes from the gettext catalogs in
``etl/locale/<locale>/LC_MESSAGES/messages.po``; the msgids are the English text, so the ``en``
catalog may stay empty. Files meant for machines (``breaks.csv``, JSON keys, Parquet columns)
keep their English identifiers and never pass through here.

    python -m etl.i18n update    # extract every msgid into etl/locale/messages.pot, merge into each .po
    python -m etl.i18n check     # list msgids without a zh_CN translation (exit 1 if any)

docs/I18N.md says how to add a string, translate it and switch language.
"""
from __future__ import annotations

import io
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

if TYPE_CHECKING:
    import jinja2

LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).with_name("locale")
POT = LOCALE_DIR / f"{DOMAIN}.pot"

# What a locale's pages declare in <html lang> and what Babel formats numbers and dates with.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
BABEL_LOCALE = {"zh_CN": "zh_Hans_CN", "en": "en"}

# Where msgids live: Python under these folders, Jinja2 templates under any templates/ folder.
SOURCE_DIRS = ("etl", "reports", "console", "dags")
_METHOD_MAP = [("**/templates/**.j2", "jinja2.ext:babel_extract"), ("**.py", "python")]
# The extractor reads templates as the runtime does (trimmed {% trans %} blocks, see install()).
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true", "newstyle_gettext": "true", "trim_blocks": "true",
                  "lstrip_blocks": "true", "silent": "false"}
_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "pgettext": ((1, "c"), 2),
             "C_": ((1, "c"), 2)}
# A fixed creation date keeps the .pot byte-identical when no msgid changed, so two branches
# that each add strings merge as two sorted insertions, never as a header conflict.
_STABLE_DATE = datetime(2026, 1, 1)


def normalize(locale: str | None) -> str:
    """One of LOCALES for what a user, a config file or a browser may write: "zh_CN", "zh-CN",
    "zh", "zh-Hans-CN", "zh_CN.UTF-8"; "en", "en_US", "en-GB". None → DEFAULT_LOCALE."""
    if locale is None or not str(locale).strip():
        return DEFAULT_LOCALE
    text = str(locale).strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    parts = [p.lower() for p in text.split("_") if p]
    if parts and parts[0] == "zh" and set(parts[1:]) <= {"cn", "hans", "sg"}:
        return "zh_CN"
    if parts and parts[0] == "en":
        return "en"
    raise ValueError(f"unknown locale {locale!r}: topup-recon speaks {', '.join(LOCALES)} "
                     f"(write zh_CN or en; zh-CN, zh, en_US … are read as these)")


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / normalize(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    path = catalog_path(locale)
    with path.open("rb") as f:
        return read_po(f, locale=BABEL_LOCALE[normalize(locale)], domain=DOMAIN)


@cache
def _translations(locale: str) -> Translations:
    # Compiled in memory from the .po at first use (a few ms): the .po in the package is the only
    # form of a catalog, so an editable and a wheel install, `bin/demo` and `pip install .`, all
    # have them with no build step, and a compiled .mo can never go stale beside its .po.
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(locale), use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def translations(locale: str) -> Translations:
    """The compiled catalog of ``locale`` (cached)."""
    return _translations(normalize(locale))


def gettext_for(locale: str) -> Callable[[str], str]:
    """``_`` for Python code: XLSX and CSV headers, chart labels, alert mails, run messages."""
    return translations(locale).gettext


def ngettext_for(locale: str) -> Callable[[str, str, int], str]:
    return translations(locale).ngettext


def pgettext_for(locale: str) -> Callable[[str, str], str]:
    """``pgettext(context, message)``: a code's word in its context (reports/labels.py)."""
    return translations(locale).pgettext


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is defined (a module-level table of headers);
    it is translated later, where the locale is known, with ``gettext_for(locale)(message)``."""
    return message


def html_lang(locale: str) -> str:
    return HTML_LANG[normalize(locale)]


def install(env: "jinja2.Environment", locale: str) -> None:
    """Make ``env`` speak ``locale``: gettext/ngettext (newstyle: ``_("%(n)s rows", n=n)``
    autoescapes its arguments), ``locale`` and ``html_lang`` globals, and the locale-aware
    format filters (money, money_signed, fee, count, count_signed, pct, number, minutes, nps,
    change, day, timestamp, seconds, day_heading, weekday). One Environment per locale: the
    filters and translations are bound to it."""
    from reports.formatting import filters_for  # reports builds on etl; imported late, no cycle

    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        raise ValueError('create the Environment with extensions=["jinja2.ext.i18n"] before install()')
    loc = normalize(locale)
    env.policies["ext.i18n.trimmed"] = True  # as the extractor reads {% trans %} blocks
    env.install_gettext_translations(translations(loc), newstyle=True)
    env.globals["locale"] = loc
    env.globals["html_lang"] = HTML_LANG[loc]
    env.filters.update(filters_for(loc))


# ---- catalogs: extract and update ---------------------------------------------------------

def extract(root: Path) -> Catalog:
    """Every msgid of the project's sources under ``root`` (no locations: merges stay clean)."""
    template = Catalog(project="topup-recon", version="1", copyright_holder="topup-recon",
                       msgid_bugs_address="", creation_date=_STABLE_DATE, revision_date=_STABLE_DATE,
                       fuzzy=False)
    for folder in SOURCE_DIRS:
        if not (root / folder).is_dir():
            continue
        options = {pattern: (_JINJA_OPTIONS if "jinja2" in method else {}) for pattern, method in _METHOD_MAP}
        for _file, _line, message, comments, context in extract_from_dir(
                root / folder, _METHOD_MAP, options, keywords=_KEYWORDS, comment_tags=("Translators:",),
                strip_comment_tags=True):
            template.add(message, None, auto_comments=comments, context=context)
    return template


def _write(path: Path, catalog: Catalog) -> bool:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, sort_output=True, ignore_obsolete=True,
             omit_header=False)
    data = buffer.getvalue()
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def update(root: Path | None = None) -> list[Path]:
    """Write ``etl/locale/messages.pot`` from the sources and merge it into each locale's .po
    (new msgids untranslated, removed ones dropped); returns the files that changed."""
    root = root or Path(__file__).resolve().parents[1]
    template = extract(root)
    changed = [POT] if _write(POT, template) else []
    for loc in LOCALES:
        path = catalog_path(loc)
        if path.exists():
            catalog = read_catalog(loc)
        else:
            catalog = Catalog(locale=BABEL_LOCALE[loc], domain=DOMAIN, project="topup-recon", version="1",
                              creation_date=_STABLE_DATE, revision_date=_STABLE_DATE, fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = _STABLE_DATE
        if _write(path, catalog):
            changed.append(path)
    _translations.cache_clear()
    return changed


def untranslated(locale: str, template: Catalog | None = None) -> list[str]:
    """The msgids of ``template`` (default: the committed .pot) that ``locale``'s catalog does
    not translate (missing, empty or fuzzy), as "context|msgid" where there is a context.
    English needs none: its msgids are the text."""
    loc = normalize(locale)
    if template is None:
        with POT.open("rb") as f:
            template = read_po(f)
    if loc == "en":
        return []
    catalog = read_catalog(loc)
    missing = []
    for wanted in template:
        if not wanted.id:
            continue
        message = catalog.get(wanted.id, context=wanted.context)
        strings = message.string if message is not None else None
        done = all(strings) if isinstance(strings, (tuple, list)) else bool(strings)
        if message is None or message.fuzzy or not done:
            key = wanted.id[0] if isinstance(wanted.id, (tuple, list)) else wanted.id
            missing.append(f"{wanted.context}|{key}" if wanted.context else key)
    return missing


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["update"]:
        for path in update():
            print(f"updated {path}")
        return 0
    if args == ["check"]:
        root = Path(__file__).resolve().parents[1]
        missing = untranslated("zh_CN", extract(root))
        for msgid in missing:
            print(f"no zh_CN translation: {msgid!r}", file=sys.stderr)
        return 1 if missing else 0
    print("usage: python -m etl.i18n update | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
