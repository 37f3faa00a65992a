"""The plugin object QGIS creates through :func:`glnet.classFactory`.

This is a placeholder that a later issue replaces with the real plugin, whose
``initProcessing`` registers the GLNet Processing provider. Until then every
hook is a no-op: QGIS (desktop or ``qgis_process``) can load and unload the
plugin without side effects, and without importing ``qgis`` at all, so the
class can also be exercised outside QGIS.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["GLNetPlugin"]


class GLNetPlugin:
    """The GLNet land cover plugin.

    Parameters
    ----------
    iface:
        The ``QgisInterface`` of the desktop application, or ``None`` when
        ``qgis_process`` loads the plugin.
    """

    def __init__(self, iface: Optional[Any]) -> None:
        self.iface = iface
        # The Processing provider once registered; None while there is none.
        self.provider: Optional[Any] = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS hook name
        """Register the Processing provider (called by QGIS, also without a GUI).

        Nothing to register yet: the provider comes in a later issue.
        """

    def initGui(self) -> None:  # noqa: N802 - QGIS hook name
        """Set up the plugin in the desktop application.

        The plugin adds no menus or toolbars; its tools live in the Processing
        toolbox, so this only makes sure Processing is initialised.
        """
        self.initProcessing()

    def unload(self) -> None:
        """Undo :meth:`initGui` / :meth:`initProcessing` when QGIS unloads the plugin."""
        if self.provider is not None:
            # Imported only when a provider exists, i.e. inside QGIS.
            from qgis.core import QgsApplication  # type: ignore[import-not-found]

            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
