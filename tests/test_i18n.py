"""The language layer (etl/i18n.py): locales, catalogs, Jinja2 installation, the catalogs kept
in step with the sources, and the configuration that chooses the language."""
from datetime import date
from decimal import Decimal

import jinja2
import pytest
from typer.testing import CliRunner

from etl import i18n
from etl.config import load_settings
from reports import formatting as fmt


class TestNormalize:
    """What a user, a config file or a browser writes maps onto the two languages we speak."""

    @pytest.mark.parametrize("given, locale", [
        pytest.param("zh_CN", "zh_CN", id="zh_CN"),
        pytest.param("zh-CN", "zh_CN", id="bcp47"),
        pytest.param("zh", "zh_CN", id="language-only"),
        pytest.param("zh-Hans-CN", "zh_CN", id="script"),
        pytest.param("zh_CN.UTF-8", "zh_CN", id="posix-encoding"),
        pytest.param("en", "en", id="en"),
        pytest.param("en_US", "en", id="en_US"),
        pytest.param("en-GB", "en", id="en-GB"),
        pytest.param(None, "zh_CN", id="default"),
    ])
    def test_known(self, given, locale):
        assert i18n.normalize(given) == locale

    @pytest.mark.parametrize("given", ["fr", "zh-TW", "zh_Hant", "klingon"])
    def test_unknown_is_a_clear_error(self, given):
        with pytest.raises(ValueError, match=r"unknown locale .*zh_CN, en"):
            i18n.normalize(given)


class TestTranslations:
    def test_chinese_from_the_catalog(self):
        assert i18n.gettext_for("zh_CN")("Finance") == "财务"
        assert i18n.gettext_for("zh-CN")("Ops queue") == "运营待办队列"

    def test_english_is_the_msgid(self):
        assert i18n.gettext_for("en")("Finance") == "Finance"

    def test_plural_forms(self):
        # Chinese has one form; English picks by n
        assert i18n.translations("zh_CN").plural(5) == 0
        assert i18n.ngettext_for("en")("{n} break", "{n} breaks", 2) == "{n} breaks"
        assert i18n.ngettext_for("en")("{n} break", "{n} breaks", 1) == "{n} break"

    def test_cached(self):
        assert i18n.translations("zh_CN") is i18n.translations("zh-CN")


class TestInstall:
    def env(self, locale):
        env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
        i18n.install(env, locale)
        return env

    @pytest.mark.parametrize("locale, text", [
        pytest.param("zh_CN", "zh_CN zh-CN 财务 ¥1,234.56 2026-11-07 2026年11月7日 星期六", id="zh_CN"),
        pytest.param("en", "en en Finance ¥1,234.56 2026-11-07 7 November 2026 Saturday", id="en"),
    ])
    def test_gettext_globals_and_filters(self, locale, text):
        template = self.env(locale).from_string(
            "{{ locale }} {{ html_lang }} {{ _('Finance') }} {{ amount|money }} {{ d|day }} {{ d|day_heading }} "
            "{{ d|weekday }}")
        assert template.render(amount=Decimal("1234.555"), d=date(2026, 11, 7)) == text

    def test_newstyle_gettext_escapes_its_arguments(self):
        out = self.env("en").from_string("{{ _('%(name)s min', name=x) }}").render(x="<b>")
        assert out == "&lt;b&gt; min"

    def test_filters_take_arguments_as_before(self):
        out = self.env("zh_CN").from_string("{{ 0.2188|pct(2) }} {{ 12.345|minutes(1) }} {{ 5|count_signed }}").render()
        assert out == "21.88% 12.3 分钟 +5"

    def test_environment_without_the_extension_is_refused(self):
        with pytest.raises(ValueError, match="jinja2.ext.i18n"):
            i18n.install(jinja2.Environment(), "en")


class TestMoneyInBothLanguages:
    """Yuan, exact to the fen, the same figures in both languages (never Babel's CN¥)."""

    @pytest.mark.parametrize("locale", i18n.LOCALES)
    def test_money(self, locale):
        assert fmt.money(Decimal("12345678901234.565"), locale=locale) == "¥12,345,678,901,234.57"
        assert fmt.money_signed(Decimal("-0.01"), locale=locale) == "-¥0.01"


class TestCatalogs:
    """The committed catalogs are what `python -m etl.i18n update` makes of the sources now, and
    every msgid has its Chinese."""

    def test_template_is_up_to_date(self, tmp_path, monkeypatch):
        fresh = i18n.extract(i18n.LOCALE_DIR.parents[1])
        committed = i18n.POT.read_bytes()
        out = tmp_path / "messages.pot"
        i18n._write(out, fresh)
        assert out.read_bytes() == committed, "run `python -m etl.i18n update` and translate the new msgids"

    def test_every_msgid_has_chinese(self):
        assert i18n.untranslated("zh_CN") == []

    @pytest.mark.parametrize("locale", i18n.LOCALES)
    def test_catalog_files_have_no_source_locations(self, locale):
        # locations change with every edit of a source file: two branches would conflict on them
        assert "\n#: " not in i18n.catalog_path(locale).read_text("utf-8")
        assert "\n#: " not in i18n.POT.read_text("utf-8")


class TestChoosingTheLanguage:
    def test_default_is_chinese(self):
        assert load_settings({}).reports.locale == "zh_CN"

    def test_environment_variable(self):
        assert load_settings({"RECON_REPORTS__LOCALE": "en_US"}).reports.locale == "en"

    def test_unknown_locale_in_configuration_fails(self):
        with pytest.raises(ValueError, match="unknown locale 'fr'"):
            load_settings({"RECON_REPORTS__LOCALE": "fr"})

    def test_cli_refuses_an_unknown_locale(self):
        from etl.cli import app

        result = CliRunner().invoke(app, ["run", "--date", "2026-11-01", "--locale", "fr"])
        assert result.exit_code != 0
        assert "unknown locale" in result.output


class TestARunInEitherLanguage:
    """`recon run` writes Chinese by default, English with --locale en or the environment; the
    machine files are the same bytes in both."""

    def run(self, root, *args, **env):
        import os
        import subprocess
        import sys

        from tests.conftest import paths_env

        full = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
        full.update(paths_env(root, **env))
        done = subprocess.run([sys.executable, "-m", "etl.cli", "run", "--date", "2026-11-01", *args], env=full,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return root / "output" / "2026-11-01"

    def test_default_option_and_environment(self, small_landing, tmp_path):
        import shutil

        roots = {}
        for name in ("default", "option", "environment"):
            roots[name] = tmp_path / name
            shutil.copytree(small_landing, roots[name] / "landing")
        zh = self.run(roots["default"])
        en = self.run(roots["option"], "--locale", "en")
        en_env = self.run(roots["environment"], RECON_REPORTS__LOCALE="en-US")
        assert '<html lang="zh-CN">' in (zh / "index.html").read_text("utf-8")
        for folder in (en, en_env):
            assert '<html lang="en">' in (folder / "index.html").read_text("utf-8")
            assert (folder / "breaks.csv").read_bytes() == (zh / "breaks.csv").read_bytes()
        assert (zh / "ops_queue.csv").read_text("utf-8").startswith("序号,")
        assert (en / "ops_queue.csv").read_text("utf-8").startswith("queue_rank,")
