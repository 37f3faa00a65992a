"""``glnet:zonal_stats``: class areas and shares per zone, as ``glnet stats`` does."""

from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..i18n import tr
from ..styles import ZONE_TABLE, name_on_completion, output_layer_name
from .base import GlnetAlgorithm, core_callbacks, help_html, raster_file, vector_destination
from .evaluate import class_table_parameter

__all__ = ["ZonalStatsAlgorithm"]

#: Vector formats glnet_core reads zones from; QGIS converts any other source
#: (a memory layer, a database table, a selection) to a GeoPackage first.
_ZONE_FORMATS = ["gpkg", "shp", "geojson", "fgb"]


class ZonalStatsAlgorithm(GlnetAlgorithm):
    """Class areas per zone (``glnet_core.zonal_stats``)."""

    ALG_ID = "zonal_stats"
    GROUP_ID = "analysis"

    INPUT = "INPUT"
    ZONES = "ZONES"
    ZONE_FIELD = "ZONE_FIELD"
    CLASSES = "CLASSES"
    CLASS_TABLE_PARAMETERS = (CLASSES,)
    OUTPUT = "OUTPUT"

    def displayName(self) -> str:  # noqa: N802
        return tr("Land-cover areas per zone")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Ground area and share of every land-cover class inside each zone polygon.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Land-cover mask")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ZONES, tr("Zones"), types=[QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.ZONE_FIELD, tr("Zone field"), parentLayerParameterName=self.ZONES))
        self.addParameter(class_table_parameter(self.CLASSES))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT, tr("Class areas per zone"), type=QgsProcessing.TypeVectorPolygon))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Measures, for each zone polygon, the ground area of every class of a class mask inside it, as the "
               "command 'glnet stats' does. A pixel belongs to a zone when its centre lies inside it; a pixel in "
               "overlapping zones counts in each. Areas are planar in projected CRSs and on the ellipsoid for "
               "geographic and Mercator CRSs; zones in another CRS are reprojected to the mask's."),
            [
                (tr("Land-cover mask"), tr("A class mask (one band of class ids, 255 = nodata).")),
                (tr("Zones"), tr("Polygons (districts, parcels...).")),
                (tr("Zone field"), tr("The attribute that names each zone; it is the first output column.")),
                (tr("Class table"), tr("deepglobe, inria, a class count or a JSON class table; by default the class "
                                       "names glnet stored with the mask.")),
                (tr("Class areas per zone"), tr("One row per zone: the zone field, area_m2 (its valid area), and "
                                                "per class <class>_m2 and <class>_share (0-1). A .gpkg keeps the "
                                                "zones' geometries; a .csv is a table.")),
            ],
        )

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        from ...glnet_core.products.zonal_stats import check_output, stats_sources, write_stats, zonal_stats

        mask = raster_file(self.parameterAsRasterLayer(parameters, self.INPUT, context), tr("Land-cover mask"))
        field = self.parameterAsString(parameters, self.ZONE_FIELD, context)
        classes = self.parameterAsString(parameters, self.CLASSES, context) or None
        destination = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        out_path, layer = vector_destination(destination)
        # As the command line: fail before the computation when the output cannot be written.
        # QGIS's file dialogs have asked before replacing a file.
        zones, zones_layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, self.ZONES, context, _ZONE_FORMATS, "gpkg", feedback)
        check_output(out_path, overwrite=True, inputs=stats_sources(mask, zones, classes), layer=layer)
        stats = zonal_stats(mask, zones, field, classes=classes, zones_layer=zones_layer or None,
                            callbacks=core_callbacks(feedback))
        path = write_stats(stats, out_path, overwrite=True, layer=layer)
        name_on_completion(context, destination, output_layer_name(ZONE_TABLE, self.parameterAsRasterLayer(
            parameters, self.INPUT, context).name()))
        feedback.pushInfo(tr("{zones} zones x {classes} classes written to {path}")
                          .format(zones=len(stats.zones), classes=len(stats.classes), path=path))
        return {self.OUTPUT: destination}
