"""Class styles of glnet's output layers in QGIS.

The class names and colours come from glnet_core (the names and colour table
``glnet segment`` writes into the mask, or a bundle's class table, through
:func:`glnet_core.formats.class_mask.class_styles`); this module only turns that list
of ``(class id, name, (r, g, b))`` into QGIS renderers:

- the class mask: a paletted raster renderer, one entry per class with its
  colour and its name as label (nodata 255 stays transparent);
- the polygons: a categorized renderer on ``class_id`` with the same colours
  and labels, as the GeoPackage's default style (glnet_core.formats.layer_style).

Processing loads an algorithm's outputs after it finished, in the main
thread; :func:`style_on_completion` attaches a
``QgsProcessingLayerPostProcessorInterface`` to an output, so the style is
applied wherever QGIS loads the outputs of a run: the Toolbox dialog, batch
runs, and ``processing.runAndLoadResults``.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

__all__ = [
    "ClassStyle",
    "MASK",
    "POLYGONS",
    "CLASS_FIELD",
    "mask_renderer",
    "polygon_renderer",
    "apply_style",
    "ClassStylePostProcessor",
    "style_on_completion",
]

#: ``(class id, name, (r, g, b))``, as glnet_core.formats.class_mask.class_styles returns it.
ClassStyle = Tuple[int, str, Tuple[int, int, int]]

#: Kinds of layers :func:`apply_style` styles.
MASK = "mask"
POLYGONS = "polygons"

#: The polygons' class attribute (glnet_core.formats.vector_layers writes it).
CLASS_FIELD = "class_id"

# The outline of every polygon fill, as in glnet_core.formats.layer_style's QML.
_OUTLINE = "35,35,35,255"


def mask_renderer(layer: QgsRasterLayer, styles: Sequence[ClassStyle]) -> QgsPalettedRasterRenderer:
    """A paletted renderer of band 1: each class's colour, labelled with its name."""
    classes = [QgsPalettedRasterRenderer.Class(int(cid), QColor(*rgb), str(name)) for cid, name, rgb in styles]
    return QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)


def polygon_renderer(styles: Sequence[ClassStyle], field: str = CLASS_FIELD) -> QgsCategorizedSymbolRenderer:
    """A categorized renderer on ``field``: one solid fill per class, labelled with its name."""
    categories: List[QgsRendererCategory] = []
    for cid, name, rgb in styles:
        symbol = QgsFillSymbol.createSimple(
            {"color": ",".join(str(int(v)) for v in rgb) + ",255", "outline_color": _OUTLINE, "outline_width": "0.26"}
        )
        categories.append(QgsRendererCategory(int(cid), symbol, str(name)))
    return QgsCategorizedSymbolRenderer(field, categories)


def apply_style(layer: QgsMapLayer, kind: str, styles: Sequence[ClassStyle]) -> bool:
    """Style ``layer`` as a glnet ``kind`` (:data:`MASK` or :data:`POLYGONS`) layer.

    Returns
    -------
    bool
        False (and nothing changed) when the layer is not of the kind's type
        or is invalid, or there are no classes.
    """
    if layer is None or not layer.isValid() or not styles:
        return False
    if kind == MASK and isinstance(layer, QgsRasterLayer):
        layer.setRenderer(mask_renderer(layer, styles))
    elif kind == POLYGONS and isinstance(layer, QgsVectorLayer):
        layer.setRenderer(polygon_renderer(styles))
    else:
        return False
    layer.triggerRepaint()
    return True


class ClassStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies a class style to an output layer once Processing has loaded it."""

    def __init__(self, kind: str, styles: Sequence[ClassStyle]) -> None:
        super().__init__()
        self.kind = kind
        self.styles: List[ClassStyle] = [(int(c), str(n), (int(rgb[0]), int(rgb[1]), int(rgb[2]))) for c, n, rgb in styles]

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> None:  # noqa: N802
        apply_style(layer, self.kind, self.styles)


# QGIS keeps only a C++ pointer to a post-processor; without a Python
# reference the Python half would be collected before the layer is loaded
# (which happens after the algorithm object is gone). A run adds one or two
# small objects; the oldest are dropped once there are many.
_ALIVE: List[ClassStylePostProcessor] = []
_MAX_ALIVE = 256


def style_on_completion(context: QgsProcessingContext, destination: str, kind: str, styles: Sequence[ClassStyle]) -> bool:
    """Have ``destination`` styled when Processing loads it at the end of the run.

    Parameters
    ----------
    context:
        The run's context.
    destination:
        The output as the algorithm returns it (the key Processing loads it by).
    kind, styles:
        See :func:`apply_style`.

    Returns
    -------
    bool
        Whether the output is to be loaded (and so will be styled); False for
        runs that load nothing (``processing.run``, qgis_process), where the
        files' own styles (colour table, GeoPackage default style) apply.
    """
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return False
    processor = ClassStylePostProcessor(kind, styles)
    _ALIVE.append(processor)
    del _ALIVE[:-_MAX_ALIVE]
    context.layerToLoadOnCompletionDetails(destination).setPostProcessor(processor)
    return True
