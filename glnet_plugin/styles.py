"""Styles and names of glnet's output layers in QGIS.

The look of every glnet layer is defined once, in glnet_core, as QML text
(:mod:`glnet_core.formats.layer_style`): the class mask as a paletted raster
of exactly its classes, semi-transparent; the polygons as a categorized
renderer with semi-transparent fills and class-coloured outlines; the
confidence raster as a grey 0-100 % stretch. glnet_core saves the same
documents with the files (``NAME.qml`` beside a raster, the GeoPackage's
default style), so this module only imports them into layers
(``QgsMapLayer.importNamedStyle``): a layer Processing loads after a run and
the same file opened later from disk look the same.

The class list is ``(class id, legend text, (r, g, b))`` from
:func:`glnet_core.formats.class_mask.table_styles` / ``class_styles`` (the
run's result carries it).

Processing loads an algorithm's outputs after it finished, in the main
thread; :func:`style_on_completion` attaches a
``QgsProcessingLayerPostProcessorInterface`` to an output, so the style is
applied wherever QGIS loads the outputs of a run (the Toolbox dialog, batch
runs, models, ``processing.runAndLoadResults``), and names the layer (see
:func:`output_layer_name`).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtXml import QDomDocument

from ..glnet_core.formats.layer_style import confidence_qml, mask_qml, qml_document
from .i18n import tr

__all__ = [
    "ClassStyle",
    "MASK",
    "POLYGONS",
    "CONFIDENCE",
    "CLASS_FIELD",
    "style_document",
    "apply_style",
    "ClassStylePostProcessor",
    "style_on_completion",
    "output_layer_name",
    "name_on_completion",
    "bundle_model_name",
    "ZONE_TABLE",
]

#: ``(class id, legend text, (r, g, b))``, as glnet_core.formats.class_mask.class_styles returns it.
ClassStyle = Tuple[int, str, Tuple[int, int, int]]

#: Kinds of layers :func:`apply_style` styles.
MASK = "mask"
POLYGONS = "polygons"
CONFIDENCE = "confidence"
#: The table of class areas per zone (named only, not styled).
ZONE_TABLE = "zone_table"

#: The polygons' class attribute (glnet_core.formats.vector_layers writes it).
CLASS_FIELD = "class_id"

# Which layer type each kind styles.
_LAYER_TYPES = {MASK: QgsRasterLayer, CONFIDENCE: QgsRasterLayer, POLYGONS: QgsVectorLayer}


def style_document(kind: str, styles: Sequence[ClassStyle]) -> str:
    """The QML glnet_core writes for a ``kind`` layer of these classes.

    Parameters
    ----------
    kind:
        :data:`MASK`, :data:`POLYGONS` or :data:`CONFIDENCE`.
    styles:
        The classes (ignored for :data:`CONFIDENCE`).

    Returns
    -------
    str
        The QML document.

    Raises
    ------
    ValueError
        For another ``kind``.
    """
    if kind == MASK:
        return mask_qml(styles)
    if kind == POLYGONS:
        return qml_document(styles, field=CLASS_FIELD)
    if kind == CONFIDENCE:
        return confidence_qml()
    raise ValueError(f"unknown layer kind {kind!r}")


def apply_style(layer: QgsMapLayer, kind: str, styles: Sequence[ClassStyle]) -> bool:
    """Style ``layer`` as a glnet ``kind`` layer (:func:`style_document`).

    Returns
    -------
    bool
        False (and nothing changed) when the layer is invalid or not of the
        kind's type, there are no classes (mask, polygons), or QGIS refuses
        the document.
    """
    layer_type = _LAYER_TYPES.get(kind)
    if layer is None or layer_type is None or not isinstance(layer, layer_type) or not layer.isValid():
        return False
    if kind != CONFIDENCE and not styles:
        return False
    doc = QDomDocument()
    if not doc.setContent(style_document(kind, styles)):
        return False
    ok, _message = layer.importNamedStyle(doc)
    if not ok:
        return False
    layer.triggerRepaint()
    return True


def output_layer_name(kind: str, source: str) -> str:
    """The project name of a glnet output layer: what it is, and the model (or mask) it came from.

    Parameters
    ----------
    kind:
        :data:`MASK`, :data:`POLYGONS`, :data:`CONFIDENCE` or :data:`ZONE_TABLE`.
    source:
        The model's name (:func:`bundle_model_name`), or the input mask's
        layer name where no model is known.

    Returns
    -------
    str
        E.g. "Land-cover mask (deepglobe)", in QGIS's language.

    Raises
    ------
    ValueError
        For another ``kind``.
    """
    # One literal per kind: the translation extractor reads tr("...") calls.
    if kind == MASK:
        return tr("Land-cover mask ({source})").format(source=source)
    if kind == POLYGONS:
        return tr("Land-cover polygons ({source})").format(source=source)
    if kind == CONFIDENCE:
        return tr("Confidence ({source})").format(source=source)
    if kind == ZONE_TABLE:
        return tr("Land-cover areas per zone ({source})").format(source=source)
    raise ValueError(f"unknown layer kind {kind!r}")


def bundle_model_name(bundle: str) -> str:
    """The name a model goes by in layer names: its bundle's file name, without ``.glnet`` / ``.zip``.

    The user's own name for the model (``deepglobe-2026.glnet``) tells two
    trained models apart; the manifest's ``model.name`` is only the
    network configuration (``paper``), the same for every model of it.

    Parameters
    ----------
    bundle:
        A bundle folder, its ``manifest.json`` or a zipped bundle.

    Returns
    -------
    str
        E.g. ``"deepglobe-2026"``.
    """
    from pathlib import Path

    path = Path(bundle)
    if path.name == "manifest.json":
        path = path.parent
    return path.name[: -len(path.suffix)] if path.suffix in (".glnet", ".zip") else path.name


def name_on_completion(context: QgsProcessingContext, destination: Optional[str], name: str) -> bool:
    """Name ``destination``'s layer ``name`` when Processing loads it; returns whether it will be loaded.

    Processing's option "Use filename as layer name" still wins, as for any
    algorithm (QGIS applies the name before the post-processor runs).
    """
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return False
    context.layerToLoadOnCompletionDetails(destination).name = name
    return True


class ClassStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies a glnet style to an output layer once Processing has loaded it."""

    def __init__(self, kind: str, styles: Sequence[ClassStyle]) -> None:
        super().__init__()
        self.kind = kind
        self.styles: List[ClassStyle] = [(int(c), str(n), (int(rgb[0]), int(rgb[1]), int(rgb[2]))) for c, n, rgb in styles]

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> None:  # noqa: N802
        apply_style(layer, self.kind, self.styles)


# QGIS keeps only a C++ pointer to a post-processor; without a Python
# reference the Python half would be collected before the layer is loaded
# (which happens after the algorithm object is gone). A run adds one to three
# small objects; the oldest are dropped once there are many.
_ALIVE: List[ClassStylePostProcessor] = []
_MAX_ALIVE = 256


def style_on_completion(
    context: QgsProcessingContext,
    destination: Optional[str],
    kind: str,
    styles: Sequence[ClassStyle],
    name: Optional[str] = None,
) -> bool:
    """Have ``destination`` styled (and named) when Processing loads it at the end of the run.

    Parameters
    ----------
    context:
        The run's context.
    destination:
        The output as the algorithm returns it (the key Processing loads it by).
    kind, styles:
        See :func:`apply_style`.
    name:
        The layer's name in the project (:func:`output_layer_name`); None
        keeps the one Processing chose (:func:`name_on_completion`).

    Returns
    -------
    bool
        Whether the output is to be loaded (and so will be styled); False for
        runs that load nothing (``processing.run``, qgis_process), where the
        files' own styles (``NAME.qml``, the GeoPackage's default style) apply.
    """
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return False
    processor = ClassStylePostProcessor(kind, styles)
    _ALIVE.append(processor)
    del _ALIVE[:-_MAX_ALIVE]
    context.layerToLoadOnCompletionDetails(destination).setPostProcessor(processor)
    if name:
        name_on_completion(context, destination, name)
    return True
