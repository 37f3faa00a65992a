"""The plugin object QGIS creates through :func:`glnet.classFactory`.

- :meth:`GLNetPlugin.initProcessing` (desktop and ``qgis_process``) makes the
  plugin's private dependency folder importable, installs the translation
  and registers the Processing provider ``glnet``;
- :meth:`GLNetPlugin.initGui` (desktop only) adds the menu entry
  Raster > GLNet land cover > Segment land cover and a toolbar button, both
  opening the ``glnet:segment`` dialog;
- :meth:`GLNetPlugin.unload` removes all of it.

QGIS modules are imported inside the hooks, so the class itself can be
imported (and the package built) without QGIS.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["GLNetPlugin", "SEGMENT_ID"]

#: What the menu entry and the toolbar button open.
SEGMENT_ID = "glnet:segment"


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
        # The menu / toolbar action once added (desktop only).
        self.action: Optional[Any] = None
        self.menu_name: str = ""

    def initProcessing(self) -> None:  # noqa: N802 - QGIS hook name
        """Register the Processing provider (called by QGIS, also without a GUI); idempotent."""
        # (initGui calls this too; QGIS calls both on the desktop.)
        if self.provider is not None:
            return
        from qgis.core import QgsApplication

        from . import dependencies
        from .i18n import install_translator
        from .provider import GlnetProvider

        # --- dependency set-up (glnet_plugin/dependencies.py) ---
        # The private folder holding onnxruntime becomes importable before any
        # algorithm runs; missing packages are reported when an algorithm runs
        # (GlnetAlgorithm.processAlgorithm) and, on the desktop, in initGui.
        dependencies.activate()
        # --- end of the dependency set-up ---
        install_translator()
        provider = GlnetProvider()
        # False when a provider with the id "glnet" is registered already (a
        # second copy of the plugin): that one stays, and unload leaves it alone.
        if QgsApplication.processingRegistry().addProvider(provider):
            self.provider = provider

    def initGui(self) -> None:  # noqa: N802 - QGIS hook name
        """Set up the plugin in the desktop application: provider, menu entry, toolbar button."""
        self.initProcessing()
        if self.iface is None:
            return
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        from .algorithms.base import ICON_PATH
        from .i18n import tr

        self.menu_name = tr("GLNet land cover")
        self.action = QAction(QIcon(str(ICON_PATH)), tr("Segment land cover…"), self.iface.mainWindow())
        self.action.setObjectName("glnetSegmentAction")
        self.action.setToolTip(tr("Segment a raster into land-cover classes with a GLNet model"))
        self.action.triggered.connect(self.open_segment_dialog)
        self.iface.addPluginToRasterMenu(self.menu_name, self.action)
        self.iface.addToolBarIcon(self.action)

        # --- dependency check on the desktop (glnet_plugin/dependencies.py, dependency_dialog.py) ---
        from . import dependencies

        problems = dependencies.check()
        if problems:
            from .dependency_dialog import offer_install

            offer_install(self.iface, problems)
        # --- end of the dependency check ---

    def open_segment_dialog(self) -> None:
        """Open the Processing dialog of ``glnet:segment`` (menu entry and toolbar button)."""
        import processing

        processing.execAlgorithmDialog(SEGMENT_ID)

    def unload(self) -> None:
        """Undo :meth:`initGui` / :meth:`initProcessing` when QGIS unloads the plugin."""
        if self.action is not None and self.iface is not None:
            self.iface.removePluginRasterMenu(self.menu_name, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
        self.action = None
        if self.provider is not None:
            # Imported only when a provider exists, i.e. inside QGIS.
            from qgis.core import QgsApplication

            from .i18n import remove_translator

            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
            remove_translator()
