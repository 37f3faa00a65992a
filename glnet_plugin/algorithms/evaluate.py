"""``glnet:evaluate``: accuracy of a class mask against a reference, as ``glnet evaluate`` does."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProviderRegistry,
    QgsRasterLayer,
)

from ..i18n import tr
from .base import GlnetAlgorithm, core_callbacks, help_html, raster_file

__all__ = ["EvaluateAlgorithm", "class_table_parameter", "vector_file"]


def class_table_parameter(name: str) -> QgsProcessingParameterString:
    """The optional class table (evaluate, zonal_stats): ``--classes`` of the command line."""
    return QgsProcessingParameterString(
        name, tr("Class table"),
        optional=True)


def vector_file(layer: QgsMapLayer, what: str) -> Tuple[str, Optional[str]]:
    """The file and layer name behind an OGR vector layer, for glnet_core.

    Raises
    ------
    QgsProcessingException
        A layer that does not come from a file OGR reads (glnet_core reads vector files).
    """
    if layer.providerType() != "ogr":
        raise QgsProcessingException(
            tr("{what}: glnet reads vector files through OGR; layer '{name}' comes from the '{provider}' data "
               "provider. Save it as a GeoPackage first.").format(what=what, name=layer.name(), provider=layer.providerType()))
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    return parts.get("path") or layer.source(), parts.get("layerName") or None


class EvaluateAlgorithm(GlnetAlgorithm):
    """Score a class mask against a reference (``glnet_core.evaluate.evaluate``)."""

    ALG_ID = "evaluate"
    GROUP_ID = "analysis"

    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    REF_FIELD = "REF_FIELD"
    CLASSES = "CLASSES"
    CLASS_TABLE_PARAMETERS = (CLASSES,)
    IGNORE = "IGNORE"
    OUTPUT_JSON = "OUTPUT_JSON"
    MIOU = "MIOU"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    PIXELS = "PIXELS"

    def displayName(self) -> str:  # noqa: N802
        return tr("Evaluate a land-cover mask")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Per-class IoU, precision, recall, F1, mIoU and the confusion matrix against a reference.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Predicted mask")))
        self.addParameter(QgsProcessingParameterMapLayer(self.REFERENCE, tr("Reference layer")))
        self.addParameter(QgsProcessingParameterField(
            self.REF_FIELD, tr("Class field"),
            parentLayerParameterName=self.REFERENCE, optional=True))
        self.addParameter(class_table_parameter(self.CLASSES))
        self.addParameter(QgsProcessingParameterString(
            self.IGNORE, tr("Classes to ignore"), optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_JSON, tr("Scores (JSON)"), fileFilter=tr("JSON files") + " (*.json)",
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.MIOU, tr("mIoU")))
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, tr("Overall accuracy")))
        self.addOutput(QgsProcessingOutputNumber(self.PIXELS, tr("Pixels evaluated")))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Compares a predicted class mask with a reference, as the command 'glnet evaluate' does, and reports "
               "per class IoU = TP / (TP + FP + FN), precision, recall and F1, the mIoU (mean IoU over the classes "
               "that are not ignored and occur in either), the overall accuracy and the confusion matrix (rows: "
               "reference, columns: prediction) in the log. Pixels that are nodata in either are not counted."),
            [
                (tr("Predicted mask"), tr("A class mask (one band of class ids, 255 = nodata).")),
                (tr("Reference layer"), tr("A class raster (values decoded through the class table), an RGB colour mask "
                                     "(DeepGlobe style), or a polygon layer, rasterized at pixel centres. A reference "
                                     "on another grid is resampled onto the mask's (nearest neighbour).")),
                (tr("Class field"), tr("For a vector reference: the attribute holding class ids or class names.")),
                (tr("Class table"), tr("deepglobe, inria, a class count or a JSON class table; by default the class "
                                       "names glnet stored with the mask.")),
                (tr("Classes to ignore"), tr("Class names not scored, comma-separated, besides those the table marks "
                                             "as ignored.")),
                (tr("Scores (JSON)"), tr("Optional: every figure and the confusion matrix as JSON.")),
            ],
            [(tr("mIoU, overall accuracy, pixels evaluated"), tr("Numbers for use in models."))],
        )

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        from ...glnet_core.products.evaluate import evaluate
        from ...glnet_core.products.reports import check_json_output, evaluation_sources, format_report, write_json

        pred = raster_file(self.parameterAsRasterLayer(parameters, self.INPUT, context), tr("Predicted land-cover mask"))
        ref_layer = self.parameterAsLayer(parameters, self.REFERENCE, context)
        if ref_layer is None:
            raise QgsProcessingException(tr("Reference: the layer cannot be opened"))
        ref_name: Optional[str] = None
        if isinstance(ref_layer, QgsRasterLayer):
            ref = raster_file(ref_layer, tr("Reference"))
        else:
            ref, ref_name = vector_file(ref_layer, tr("Reference"))
        field = self.parameterAsString(parameters, self.REF_FIELD, context) or None
        classes = self.parameterAsString(parameters, self.CLASSES, context) or None
        ignore: List[str] = [t.strip() for t in self.parameterAsString(parameters, self.IGNORE, context).split(",") if t.strip()]
        out_json = self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context) or None
        if out_json:
            # Before the (possibly long) comparison, as the command line does; never onto PRED, REF or the table.
            check_json_output(out_json, inputs=evaluation_sources(pred, ref, classes))
        result = evaluate(pred, ref, classes=classes, ignore=ignore, ref_field=field, ref_layer=ref_name,
                          callbacks=core_callbacks(feedback))
        for line in format_report(result).splitlines():
            feedback.pushInfo(line)
        if result.ref_unknown_pixels:
            feedback.pushWarning(tr("{n} reference pixels hold a value or colour that is not in the class table; "
                                    "they were counted as nodata").format(n=result.ref_unknown_pixels))
        if out_json:
            write_json(result, out_json)
        metrics = result.metrics
        return {
            self.OUTPUT_JSON: out_json,
            self.MIOU: metrics["miou"],
            self.OVERALL_ACCURACY: metrics["overall_accuracy"],
            self.PIXELS: metrics["pixels_evaluated"],
        }
