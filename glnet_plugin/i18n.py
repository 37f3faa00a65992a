"""Translation of the plugin's user-visible texts.

Every text the plugin shows goes through :func:`tr`, called with a plain
string literal (``tr("Input raster")``, ``tr("{n} windows").format(n=n)``;
never an f-string or a variable), because ``i18n/refresh_translations.py``
collects the texts to translate by reading the source for ``tr("...")``
calls. All texts share the one Qt translation context :data:`CONTEXT`.

:func:`install_translator` loads ``i18n/glnet_<locale>.qm`` for QGIS's user
interface locale (``locale/userLocale``, e.g. ``de_DE`` then ``de``) when
the plugin starts; without a matching file texts stay in English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.PyQt.QtCore import QCoreApplication, QLocale, QSettings, QTranslator

__all__ = ["CONTEXT", "I18N_DIR", "tr", "ui_locale", "install_translator", "remove_translator"]

#: The Qt translation context of every glnet text (also the <name> in the .ts files).
CONTEXT = "glnet"

#: Where the .ts sources and compiled .qm files live (the plugin's i18n/ folder).
I18N_DIR = Path(__file__).resolve().parent.parent / "i18n"

# The translator installed by install_translator; kept so unload can remove it
# and so Qt does not lose it to garbage collection.
_translator: Optional[QTranslator] = None


def tr(text: str) -> str:
    """``text`` translated into QGIS's interface language (or unchanged)."""
    return QCoreApplication.translate(CONTEXT, text)


def ui_locale() -> str:
    """QGIS's interface locale, e.g. ``"de_DE"``.

    QGIS stores it as ``locale/userLocale`` (honoured only when
    ``locale/overrideFlag`` is set; otherwise the system locale applies).
    """
    settings = QSettings()
    override = str(settings.value("locale/overrideFlag", False)).lower() in ("true", "1")
    value = settings.value("locale/userLocale", "") if override else ""
    return str(value or QLocale.system().name())


def install_translator(locale: Optional[str] = None) -> Optional[Path]:
    """Load the .qm file for ``locale`` (default :func:`ui_locale`) into Qt.

    Tries ``glnet_<ll_CC>.qm`` then ``glnet_<ll>.qm``.

    Returns
    -------
    pathlib.Path or None
        The file loaded, or ``None`` when there is none for that locale
        (texts then stay in English).
    """
    global _translator
    remove_translator()
    name = locale or ui_locale()
    for candidate in (name, name.split("_")[0]):
        path = I18N_DIR / f"glnet_{candidate}.qm"
        if path.is_file():
            translator = QTranslator()
            if translator.load(str(path)):
                QCoreApplication.installTranslator(translator)
                _translator = translator
                return path
    return None


def remove_translator() -> None:
    """Remove the translator :func:`install_translator` installed, if any."""
    global _translator
    if _translator is not None:
        QCoreApplication.removeTranslator(_translator)
        _translator = None
