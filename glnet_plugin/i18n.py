"""Translation of the plugin's user-visible texts.

Every text the plugin shows goes through :func:`tr`, called with a plain
string literal (``tr("Input raster")``, ``tr("{n} windows").format(n=n)``;
never an f-string or a variable), because ``i18n/refresh_translations.py``
collects the texts to translate by reading the source for ``tr("...")``
calls. All texts share the one Qt translation context :data:`CONTEXT`.
A text with a count goes through :func:`tr_n` (``tr_n(n, "{n} window",
"{n} windows")``, both literals), which picks the form by the one plural
rule of :func:`glnet_core.messages.plural_form`.

The engine's log lines are entries of :mod:`glnet_core.messages`; a log hook
renders them in QGIS's language with :func:`translate_line` (the catalogue's
templates are in the same .ts files).

:func:`install_translator` loads ``i18n/glnet_<locale>.qm`` for the language
QGIS's own interface uses (:func:`ui_locale`, e.g. ``de_DE`` then ``de``)
when the plugin starts; without a matching file texts stay in English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication, QTranslator

# Plain Python (no glnet_core dependency): importable wherever the plugin is.
from ..glnet_core.messages import LogLine, plural_form

__all__ = ["CONTEXT", "I18N_DIR", "tr", "tr_n", "translate_line", "ui_locale", "install_translator",
           "remove_translator"]

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


def tr_n(count: int, singular: str, plural: str, **values: object) -> str:
    """The translation of ``singular`` (``count`` 1) or ``plural``, formatted.

    Parameters
    ----------
    count:
        Chooses the form (:func:`glnet_core.messages.plural_form`); it fills
        the placeholder ``{n}``.
    singular, plural:
        Plain string literals (``refresh_translations.py`` collects them).
    values:
        The other placeholders' values.

    Returns
    -------
    str
    """
    return tr(plural_form(count, singular, plural)).format(n=count, **values)


def translate_line(line: str) -> str:
    """A log line in QGIS's interface language.

    An engine line (:class:`glnet_core.messages.LogLine`) is rendered from
    the translation of its catalogue template; any other text is returned
    unchanged.
    """
    return line.render(tr) if isinstance(line, LogLine) else line


def ui_locale() -> str:
    """The language QGIS's own interface uses, e.g. ``"de"`` or ``"de_DE"``.

    The desktop (QGIS 3.22 ``src/app/main.cpp``) decides it from ``--lang``,
    then ``locale/userLocale`` when ``locale/overrideFlag`` is set, then the
    system locale, and hands it to ``QgsApplication.setTranslation()`` before
    the application exists; ``QgsApplication.translation()`` returns it.
    ``--lang`` sets neither the override flag nor, necessarily, what
    ``QgsApplication.locale()`` returns (that reads the settings only), so
    the translation comes first. ``qgis_process`` (3.22) and a bare
    ``QgsApplication`` set no translation: then QGIS's settings rule applies
    (``QgsApplication.locale()``: the override, else the default locale).
    """
    app = QgsApplication.instance()
    code = app.translation() if isinstance(app, QgsApplication) else ""
    return str(code or QgsApplication.locale())


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
