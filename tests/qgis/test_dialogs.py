"""The algorithms' dialogs fit their default size: whole labels, reachable browse buttons, sensible numbers.

Each glnet algorithm's real Processing dialog (``processing.gui.AlgorithmDialog``,
what ``processing.createAlgorithmDialog`` builds for an algorithm without a
custom widget) is shown offscreen at the size a fresh profile gives it, in
English and with the German translator installed. QGIS 3.22 puts the
parameters into a scroll area beside the help panel; a label that does not
word-wrap makes that area as wide as the label, so one long label pushes every
widget's browse button out of view behind a horizontal scroll bar.

Offscreen, Qt draws the labels wider than the desktop does under X11 (the old
segment labels overflowed the panel by 235 px here, by 93 px in the real
desktop on Xvfb), so passing here leaves room on the desktop.
"""

from __future__ import annotations

from typing import Iterator, List

import pytest

ALGORITHM_IDS = ["glnet:segment", "glnet:vectorize", "glnet:evaluate", "glnet:zonal_stats", "glnet:model_info", "glnet:train"]

#: Digits after the decimal point of each Double parameter's spin box.
DECIMALS = {
    "glnet:segment": {"MIN_AREA": 2, "SIMPLIFY": 2},
    "glnet:vectorize": {"MIN_AREA": 2, "SIMPLIFY": 2},
    "glnet:train": {"VAL_FRACTION": 2},
}

#: glnet:segment's parameters as ``qgis_process help`` lists them: ``NAME: label``.
SEGMENT_LABELS = {
    "INPUT": "Input raster",
    "MODEL": "Model bundle",
    "MODE": "Inference mode",
    "DEVICE": "Device",
    "BANDS": "Bands (red, green, blue)",
    "MIN_AREA": "Minimum area (m²)",
    "SIMPLIFY": "Simplify tolerance (m)",
    "DASK_SCHEDULER": "Dask scheduler",
    "OUTPUT_MASK": "Land-cover mask",
    "OUTPUT_VECTOR": "Land-cover polygons",
    "OUTPUT_CONFIDENCE": "Confidence raster",
}


@pytest.fixture(params=["en", "de"])
def language(request, qgis_app) -> Iterator[str]:
    """The dialog language: English, or German through the plugin's translator (removed after)."""
    from glnet.glnet_plugin.i18n import install_translator, remove_translator

    if request.param == "de":
        assert install_translator("de") is not None
    try:
        yield request.param
    finally:
        remove_translator()


def _fresh_dialog(alg_id: str):
    """The algorithm's dialog, shown at the default size (no geometry saved by an earlier dialog)."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication, QgsSettings

    settings = QgsSettings()
    # What QGIS 3.22's dialog restores from the profile (QgsGui::enableAutoGeometryRestore, the splitter).
    for key in ("Windows/QgsProcessingDialogBase/geometry", "Windows/AlgorithmDialog/geometry",
                "Processing/dialogBaseSplitter"):
        settings.remove(key)
    # Created after the translator changed: initAlgorithm translates the labels.
    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    assert alg is not None
    # createAlgorithmDialog builds an AlgorithmDialog when there is no custom widget.
    assert alg.createCustomParametersWidget(None) is None
    dialog = AlgorithmDialog(alg)
    dialog.show()
    QgsApplication.processEvents()
    return dialog


def _expand_advanced(dialog) -> None:
    """Open the 'Advanced Parameters' group so its labels and buttons are measured too."""
    from qgis.core import QgsApplication
    from qgis.gui import QgsCollapsibleGroupBoxBasic

    for box in dialog.findChildren(QgsCollapsibleGroupBoxBasic):
        box.setCollapsed(False)
    QgsApplication.processEvents()


def _parameters_area(dialog):
    """The scroll area holding the parameter widgets (the Parameters tab)."""
    from qgis.PyQt.QtWidgets import QScrollArea

    areas = [a for a in dialog.findChildren(QScrollArea)
             if a.isVisible() and a.widget() is not None and dialog.mainWidget().isAncestorOf(a)]
    assert len(areas) == 1, [a.objectName() for a in areas]
    return areas[0]


def _visible(area, cls) -> List:
    return [w for w in area.widget().findChildren(cls) if w.isVisible()]


@pytest.mark.parametrize("alg_id", ALGORITHM_IDS)
def test_dialog_fits_its_default_size(alg_id, language):
    from qgis.PyQt.QtCore import QRect
    from qgis.PyQt.QtWidgets import QAbstractButton, QCheckBox, QLabel, QToolButton

    dialog = _fresh_dialog(alg_id)
    try:
        # The size of a fresh profile (about 690 x 520 in 3.22), not a larger one saved earlier.
        assert dialog.width() < 800 and dialog.height() < 600, dialog.size()
        _expand_advanced(dialog)
        area = _parameters_area(dialog)
        viewport = area.viewport()
        visible = QRect(0, 0, viewport.width(), viewport.height())

        def span(widget) -> QRect:
            return QRect(widget.mapTo(viewport, widget.rect().topLeft()), widget.size())

        labels = [w for w in _visible(area, QLabel) if w.text()]
        checkboxes = _visible(area, QCheckBox)
        assert labels, "no parameter labels found"
        cut = [f"{w.text()!r}: {w.width()} px shown of {w.sizeHint().width()}, "
               f"right edge {span(w).right()} of {visible.right()}"
               for w in labels + checkboxes
               if w.width() < w.sizeHint().width() or span(w).right() > visible.right()]
        assert not cut, f"{alg_id} [{language}] labels cut:\n" + "\n".join(cut)
        # Every browse button ("…") lies inside the viewport without scrolling sideways.
        buttons = [b for b in _visible(area, QToolButton) if b.text() == "…"]
        outside = [f"… at x {span(b).left()}-{span(b).right()} of {visible.right()}" for b in buttons
                   if span(b).left() < 0 or span(b).right() > visible.right()]
        assert not outside, f"{alg_id} [{language}] browse buttons out of view: {outside}"
        assert area.horizontalScrollBar().maximum() == 0, (
            f"{alg_id} [{language}] scrolls sideways by {area.horizontalScrollBar().maximum()} px")
        assert all(isinstance(b, QAbstractButton) for b in buttons)
    finally:
        dialog.close()
        dialog.deleteLater()


@pytest.mark.parametrize("alg_id", ALGORITHM_IDS)
def test_number_spin_boxes_show_sensible_decimals(alg_id, qgis_app):
    from qgis.core import QgsProcessingParameterNumber
    from qgis.gui import QgsDoubleSpinBox, QgsSpinBox

    dialog = _fresh_dialog(alg_id)
    try:
        numbers = [p for p in dialog.algorithm().parameterDefinitions() if isinstance(p, QgsProcessingParameterNumber)]
        doubles = {p.name() for p in numbers if p.dataType() == QgsProcessingParameterNumber.Double}
        assert doubles == set(DECIMALS.get(alg_id, {})), "every Double parameter has its decimals listed here"
        wrappers = dialog.mainWidget().wrappers
        for param in numbers:
            widget = wrappers[param.name()].wrappedWidget()
            if param.name() in doubles:
                assert isinstance(widget, QgsDoubleSpinBox), param.name()
                places = DECIMALS[alg_id][param.name()]
                assert widget.decimals() == places, param.name()
                # The default as the spin box shows it, e.g. 0.00 and 0.10, never 0.000000.
                assert widget.cleanText() == f"{param.defaultValue():.{places}f}", (param.name(), widget.cleanText())
                # One step changes the last digit shown.
                assert widget.singleStep() >= 10 ** -places, param.name()
            else:
                assert isinstance(widget, QgsSpinBox), param.name()
    finally:
        dialog.close()
        dialog.deleteLater()
    # The batch dialog's first row takes the same decimals (the same widget wrapper builds its cells).
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from qgis.core import QgsApplication

    batch = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(alg_id))
    try:
        cells = batch.mainWidget().tblParameters.findChildren(QgsDoubleSpinBox)
        assert sorted(box.decimals() for box in cells) == sorted(DECIMALS.get(alg_id, {}).values())
    finally:
        batch.close()
        batch.deleteLater()


def test_qgis_process_help_lists_the_short_labels(qgis_process):
    proc = qgis_process("help", "glnet:segment")
    assert proc.returncode == 0, proc.stderr
    lines = {line.strip() for line in proc.stdout.splitlines()}
    missing = [f"{name}: {label}" for name, label in SEGMENT_LABELS.items() if f"{name}: {label}" not in lines]
    assert not missing, f"not in `qgis_process help glnet:segment`: {missing}\n{proc.stdout}"


@pytest.mark.parametrize("alg_id", ALGORITHM_IDS)
def test_help_explains_every_parameter_under_its_label(alg_id, language):
    """The details left out of the short labels are in the help panel, under the label the dialog shows."""
    import re

    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    titles = re.findall(r"<dt><b>(.*?)</b></dt><dd>(.*?)</dd>", alg.shortHelpString())
    explained = {title: text for title, text in titles if text.strip()}
    missing = [p.description() for p in alg.parameterDefinitions() if p.description() not in explained]
    assert not missing, f"{alg_id} [{language}]: no help entry under {missing}; entries: {list(explained)}"
