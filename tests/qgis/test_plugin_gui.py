"""The plugin's desktop entries: a Raster menu entry and a toolbar button that open glnet:segment.

There is no QgisInterface outside the running desktop application, so
:class:`_Desktop` stands in for the four calls initGui/unload make, with real
Qt widgets (a main window, its Raster menu, a plugin toolbar, a QGIS message
bar) doing what QGIS does with them: a sub-menu per plugin menu name.
"""

from __future__ import annotations

from typing import List


class _Desktop:
    """Real Qt widgets behind the parts of QgisInterface the plugin uses."""

    def __init__(self) -> None:
        from qgis.gui import QgsMapCanvas, QgsMessageBar
        from qgis.PyQt.QtWidgets import QMainWindow

        self.window = QMainWindow()
        self.canvas = QgsMapCanvas(self.window)
        self.raster_menu = self.window.menuBar().addMenu("Raster")
        self.toolbar = self.window.addToolBar("Plugins")
        self.bar = QgsMessageBar(self.window)

    def mainWindow(self):  # noqa: N802 - QgisInterface's names
        return self.window

    def messageBar(self):  # noqa: N802
        return self.bar

    def mapCanvas(self):  # noqa: N802
        return self.canvas

    def _submenu(self, name: str, create: bool):
        for action in self.raster_menu.actions():
            if action.menu() is not None and action.text() == name:
                return action.menu()
        return self.raster_menu.addMenu(name) if create else None

    def addPluginToRasterMenu(self, name: str, action) -> None:  # noqa: N802
        self._submenu(name, True).addAction(action)

    def removePluginRasterMenu(self, name: str, action) -> None:  # noqa: N802
        menu = self._submenu(name, False)
        if menu is not None:
            menu.removeAction(action)
            if not menu.actions():
                self.raster_menu.removeAction(menu.menuAction())

    def addToolBarIcon(self, action) -> None:  # noqa: N802
        self.toolbar.addAction(action)

    def removeToolBarIcon(self, action) -> None:  # noqa: N802
        self.toolbar.removeAction(action)

    def entries(self) -> List[str]:
        """'Menu > entry' for every plugin menu entry, and 'toolbar: entry' for every button."""
        out = []
        for top in self.raster_menu.actions():
            if top.menu() is not None:
                out += [f"{top.text()} > {a.text()}" for a in top.menu().actions()]
        return out + [f"toolbar: {a.text()}" for a in self.toolbar.actions()]


def test_menu_entry_and_toolbar_button_open_the_segment_dialog(qgis_app):
    from qgis.core import QgsApplication

    import glnet
    from glnet.glnet_plugin.plugin import SEGMENT_ID

    registry = QgsApplication.processingRegistry()
    session_provider = registry.providerById("glnet")
    desktop = _Desktop()
    plugin = glnet.classFactory(desktop)
    plugin.initGui()
    # The session's provider (the qgis_app fixture's plugin) stays the registered one.
    assert plugin.provider is None and registry.providerById("glnet") is session_provider
    assert desktop.entries() == ["GLNet land cover > Segment land cover…", "toolbar: Segment land cover…"]
    assert not plugin.action.icon().isNull()
    # Both entries are the one action; triggering it opens the segment dialog (modal:
    # a timer notes which dialog is up and closes it). processing's dialog helper
    # reads the desktop interface from its module, as qgis.utils.iface.
    import processing.tools.general as general
    from qgis.PyQt.QtCore import QTimer
    from qgis.PyQt.QtWidgets import QApplication

    shown = []

    def close_dialog() -> None:
        dialogs = [w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "algorithm")]
        for dialog in dialogs:
            shown.append(dialog.algorithm().id())
            dialog.reject()
        if not dialogs:  # not up yet: look again
            QTimer.singleShot(200, close_dialog)

    saved_iface = general.iface
    general.iface = desktop
    try:
        QTimer.singleShot(300, close_dialog)
        plugin.action.trigger()
    finally:
        general.iface = saved_iface
    assert shown == [SEGMENT_ID]
    # No dependency is missing here, so nothing was offered.
    assert desktop.bar.currentItem() is None

    plugin.unload()
    assert desktop.entries() == [] and plugin.action is None
    assert registry.providerById("glnet") is session_provider
