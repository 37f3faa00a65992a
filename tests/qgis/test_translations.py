"""Translations: every tr() text translated, the .qm compiled from the .ts, and QGIS's locale picks it."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "i18n"))
import refresh_translations  # noqa: E402

LANGUAGES = refresh_translations.LANGUAGES


def _ts(lang: str) -> dict:
    return {src: text for src, (text, _kind) in refresh_translations.read_ts(REPO / "i18n" / f"glnet_{lang}.ts").items()}


def test_at_least_one_language_besides_english():
    assert LANGUAGES and all((REPO / "i18n" / f"glnet_{lang}.qm").is_file() for lang in LANGUAGES)


def test_every_text_is_translated():
    """No tr() text of the plugin is missing or unfinished (run `make translations`, then translate)."""
    assert refresh_translations.problems(refresh_translations.collect_messages()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_survive_translation(lang):
    for src, text in _ts(lang).items():
        assert sorted(re.findall(r"\{[^}]*\}", src)) == sorted(re.findall(r"\{[^}]*\}", text)), src


@pytest.mark.parametrize("lang", LANGUAGES)
def test_qm_is_compiled_from_the_ts(qgis_app, lang):
    """The committed .qm gives exactly the .ts translations (no stale compile)."""
    from qgis.PyQt.QtCore import QCoreApplication, QTranslator

    translator = QTranslator()
    assert translator.load(str(REPO / "i18n" / f"glnet_{lang}.qm"))
    # Through QCoreApplication: PyQt5's QTranslator.translate takes ASCII only.
    QCoreApplication.installTranslator(translator)
    try:
        for src in refresh_translations.collect_messages():
            assert QCoreApplication.translate("glnet", src) == _ts(lang)[src], src
    finally:
        QCoreApplication.removeTranslator(translator)


def test_translator_follows_the_locale(qgis_app):
    from qgis.core import QgsApplication

    from glnet.glnet_plugin.i18n import install_translator, remove_translator

    alg = QgsApplication.processingRegistry().algorithmById("glnet:segment")
    english = alg.displayName()
    try:
        assert install_translator("de_DE").name == "glnet_de.qm"
        assert alg.displayName() == _ts("de")[english] != english
        assert "<dt><b>" in alg.shortHelpString() and _ts("de")["Parameters"] in alg.shortHelpString()
    finally:
        remove_translator()
    assert alg.displayName() == english
    assert install_translator("xx_YY") is None


def test_qgis_process_in_german(fresh_profile, qgis_process):
    """A profile whose QGIS interface language is German lists the glnet algorithms in German."""
    profile = fresh_profile / "profiles" / "default"
    (profile / "python" / "plugins").mkdir(parents=True)
    (profile / "python" / "plugins" / "glnet").symlink_to(REPO, target_is_directory=True)
    (profile / "QGIS").mkdir()
    (profile / "QGIS" / "QGIS3.ini").write_text("[locale]\noverrideFlag=true\nuserLocale=de\n")
    assert qgis_process("plugins", "enable", "glnet", profile=fresh_profile).returncode == 0
    listing = qgis_process("list", profile=fresh_profile).stdout
    assert "glnet:segment\tLandbedeckung segmentieren (GLNet)" in listing
