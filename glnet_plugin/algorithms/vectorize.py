"""``glnet:vectorize``: a class mask to land-cover polygons, as ``glnet vectorize`` does."""

from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ...glnet_core.option_rules import MIN_AREA as MIN_AREA_RULE
from ...glnet_core.option_rules import SIMPLIFY as SIMPLIFY_RULE
from ..i18n import tr, translate_line
from ..styles import POLYGONS, bundle_model_name, output_layer_name, style_on_completion
from .base import GlnetAlgorithm, core_callbacks, help_html, number_parameter, raster_file, vector_destination
from .segment import bundle_parameter

__all__ = ["VectorizeAlgorithm"]


class VectorizeAlgorithm(GlnetAlgorithm):
    """Polygonize a class mask (``glnet_core.vectorize.vectorize``)."""

    ALG_ID = "vectorize"
    GROUP_ID = "segmentation"

    INPUT = "INPUT"
    MODEL = "MODEL"
    CONFIDENCE = "CONFIDENCE"
    MIN_AREA = "MIN_AREA"
    SIMPLIFY = "SIMPLIFY"
    OUTPUT = "OUTPUT"
    COUNT = "COUNT"
    # The rules of glnet vectorize's --min-area and --simplify.
    NUMBER_RULES = {MIN_AREA: MIN_AREA_RULE, SIMPLIFY: SIMPLIFY_RULE}

    def displayName(self) -> str:  # noqa: N802
        return tr("Land-cover mask to polygons")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Turns a class mask into polygons, one per connected region of a class.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Land-cover mask")))
        self.addParameter(bundle_parameter(self.MODEL, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.CONFIDENCE, tr("Confidence raster"), optional=True))
        self.addParameter(number_parameter(
            self.MIN_AREA, tr("Minimum area (m²)"), MIN_AREA_RULE, 0.0))
        self.addParameter(number_parameter(
            self.SIMPLIFY, tr("Simplify tolerance (m)"), SIMPLIFY_RULE, 0.0))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT, tr("Land-cover polygons"), type=QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, tr("Number of polygons")))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Turns a class mask (one band of class ids, 255 = nodata, as 'Segment land cover' writes it) into "
               "polygons that follow the pixel edges exactly, as the command 'glnet vectorize' does: one polygon per "
               "connected region of a class, holes kept, nodata left out, in the mask's CRS. Attributes: class_id, "
               "class_name, class_label, area_m2 (on the ellipsoid for geographic and Mercator CRSs) and, with a "
               "confidence raster, confidence. The layer is styled by class."),
            [
                (tr("Land-cover mask"), tr("A class mask GeoTIFF; class names, labels and colours come from the mask "
                                           "(glnet writes them) unless a model bundle is given.")),
                (tr("Model bundle"), tr("Optional: take the class names, labels and colours from this bundle.")),
                (tr("Confidence raster"), tr("Optional: the confidence GeoTIFF of the same run; adds each "
                                             "polygon's mean confidence.")),
                (tr("Minimum area (m²)"), tr("Minimum mapping unit: regions smaller than this many square metres "
                                             "are merged into their largest neighbour first (no gaps appear). "
                                             "0: off.")),
                (tr("Simplify tolerance (m)"), tr("Douglas-Peucker tolerance in metres, applied to the shared "
                                                  "boundaries so neighbours keep meeting without gaps or overlaps. "
                                                  "0: the exact pixel edges.")),
                (tr("Land-cover polygons"), tr("GeoPackage (with its default style), GeoJSON, FlatGeobuf or "
                                               "Shapefile.")),
            ],
            [(tr("Number of polygons"), tr("The number of polygons written, for use in models."))],
        )

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        from ...glnet_core.engine.bundle import load_bundle
        from ...glnet_core.products.vectorize import vectorize

        mask = raster_file(self.parameterAsRasterLayer(parameters, self.INPUT, context), tr("Land-cover mask"))
        model = self.parameterAsFile(parameters, self.MODEL, context)
        conf_layer = self.parameterAsRasterLayer(parameters, self.CONFIDENCE, context)
        confidence = raster_file(conf_layer, tr("Confidence raster")) if conf_layer is not None else None
        destination = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        out_path, layer = vector_destination(destination)
        result = vectorize(
            mask,
            out_path,
            classes=load_bundle(model).classes if model else None,
            min_area_m2=self.parameterAsDouble(parameters, self.MIN_AREA, context),
            simplify=self.parameterAsDouble(parameters, self.SIMPLIFY, context),
            layer=layer,
            # QGIS's file dialogs have asked before replacing a file; glnet_core
            # still replaces it only once the new layer is complete.
            overwrite=True,
            confidence_path=confidence,
            callbacks=core_callbacks(feedback),
        )
        for warning in result.warnings:
            feedback.pushWarning(translate_line(warning))
        # Named after the bundle's model, else after the mask layer the polygons come from.
        if context.willLoadLayerOnCompletion(destination):
            source_name = bundle_model_name(model) if model else self.parameterAsRasterLayer(
                parameters, self.INPUT, context).name()
            style_on_completion(context, destination, POLYGONS, result.styles, output_layer_name(POLYGONS, source_name))
        feedback.pushInfo(tr("{count} polygons in {classes} classes written to {path}")
                          .format(count=result.count, classes=len(result.counts), path=result.path))
        return {self.OUTPUT: destination, self.COUNT: result.count}
