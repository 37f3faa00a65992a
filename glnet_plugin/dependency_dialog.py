"""The desktop's opt-in installer for missing dependencies.

When the plugin starts in the QGIS desktop and :func:`dependencies.check`
finds problems, :func:`offer_install` shows them in the message bar. When
the only thing missing is what belongs in the plugin-private folder
(onnxruntime), the bar offers a button that, after a confirmation naming the
exact pip command, installs it in a background task; system packages
(rasterio, geopandas, ...) are only explained, because they must come from
the system's package manager. Dask, optional, is never offered at start-up:
:func:`offer_dask_install` offers it when ``glnet:segment``'s dialog is run
with a Dask scheduler and Dask is missing. Headless runs (``qgis_process``)
never reach this module: nothing is installed without a person asking for it.
"""

from __future__ import annotations

from typing import Any, Sequence

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt.QtWidgets import QMessageBox, QPushButton

from . import dependencies
from .i18n import tr

__all__ = ["offer_install", "offer_dask_install", "installable"]

# The running task, kept referenced so Python does not collect it mid-run.
_task = None
# The Dask offer shown in the message bar (None: none shown).
_dask_item = None


def installable(problems: Sequence[dependencies.Problem]) -> bool:
    """True when every problem is fixed by the private-folder pip install."""
    return bool(problems) and all(p.requirement.debian is None for p in problems)


def offer_install(iface: Any, problems: Sequence[dependencies.Problem]) -> None:
    """Tell the user what is missing; offer the private-folder install when that fixes it.

    Parameters
    ----------
    iface:
        The desktop's ``QgisInterface``.
    problems:
        From :func:`dependencies.check` (non-empty).
    """
    folder = dependencies.deps_dir()
    text = dependencies.explain(problems, folder)
    QgsMessageLog.logMessage(text, "glnet", Qgis.Warning)
    bar = iface.messageBar()
    item = bar.createMessage(tr("GLNet land cover"), tr("Python packages that glnet needs are missing."))

    details = QPushButton(tr("Details"))
    details.clicked.connect(lambda: QMessageBox.information(iface.mainWindow(), tr("GLNet land cover"), text))
    item.layout().addWidget(details)
    if installable(problems):
        button = QPushButton(tr("Install onnxruntime"))
        button.clicked.connect(lambda: _confirm_and_install(iface, folder, item, dependencies.PRIVATE_PACKAGES, "onnxruntime"))
        item.layout().addWidget(button)
    bar.pushWidget(item, Qgis.Warning)


def offer_dask_install(iface: Any, problems: Sequence[dependencies.Problem]) -> None:
    """Offer to install the optional Dask group (:data:`dependencies.DASK_PACKAGES`) in the message bar.

    Only when the private folder fixes every problem (system packages are
    explained by the run's message instead); one offer at a time.

    Parameters
    ----------
    iface:
        The desktop's ``QgisInterface``.
    problems:
        From :func:`dependencies.dask_problems` (non-empty).
    """
    global _dask_item
    if not installable(problems) or _task is not None or _dask_item is not None:
        return
    folder = dependencies.deps_dir()
    bar = iface.messageBar()
    item = bar.createMessage(tr("GLNet land cover"),
                             tr("Sending a run to a Dask scheduler needs Dask, which is not installed."))
    button = QPushButton(tr("Install Dask"))
    button.clicked.connect(lambda: _confirm_and_install(iface, folder, item, dependencies.DASK_PACKAGES, "Dask"))
    item.layout().addWidget(button)

    def closed() -> None:
        global _dask_item
        _dask_item = None

    item.destroyed.connect(closed)
    _dask_item = item
    bar.pushWidget(item, Qgis.Warning)


def _confirm_and_install(iface: Any, folder, item, packages: Sequence[str], what: str) -> None:
    command = " ".join(dependencies.install_command(folder, packages))
    answer = QMessageBox.question(
        iface.mainWindow(),
        tr("Install {what}").format(what=what),
        tr("glnet will run this command, which downloads {what} from PyPI into a folder used only by "
           "this plugin (QGIS's own packages, numpy included, are not touched):\n\n{command}\n\nContinue?").format(
            what=what, command=command),
    )
    if answer != QMessageBox.Yes:
        return
    iface.messageBar().popWidget(item)

    def work(_task: QgsTask):
        dependencies.install(folder, packages, log=lambda line: QgsMessageLog.logMessage(line, "glnet", Qgis.Info))
        return True

    def done(exception, _result=None):
        global _task
        _task = None
        if exception is None:
            iface.messageBar().pushSuccess(tr("GLNet land cover"), tr("{what} is installed; glnet is ready.").format(what=what))
        else:
            QgsMessageLog.logMessage(str(exception), "glnet", Qgis.Critical)
            iface.messageBar().pushCritical(
                tr("GLNet land cover"), tr("Installing {what} failed: {error}").format(what=what, error=str(exception)))

    global _task
    _task = QgsTask.fromFunction(tr("Installing {what} for glnet").format(what=what), work, on_finished=done)
    QgsApplication.taskManager().addTask(_task)
