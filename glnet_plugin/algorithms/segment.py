"""``glnet:segment``: a raster to a land-cover class mask (and polygons), as ``glnet segment`` does."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ...glnet_core.cluster.address import parse_cluster
from ...glnet_core.engine.modes import DEFAULT_MODE, MODE_NAMES
from ...glnet_core.engine.runtime import DEVICES as ENGINE_DEVICES
from ...glnet_core.errors import InputError, MissingExtraError
from ...glnet_core.option_rules import MIN_AREA as MIN_AREA_RULE
from ...glnet_core.option_rules import SIMPLIFY as SIMPLIFY_RULE
from .. import dependencies
from ..i18n import tr, tr_n
from ..styles import CONFIDENCE, MASK, POLYGONS, bundle_model_name, output_layer_name, style_on_completion
from .base import GlnetAlgorithm, core_callbacks, help_html, number_parameter, raster_file, vector_destination

__all__ = ["SegmentAlgorithm", "bundle_parameter"]

#: Values of MODE and DEVICE, as the command line spells them (static strings:
#: ``MODE=g2l`` works in qgis_process and in saved models, whatever the language).
#: Both tables are plain Python: importing them needs none of glnet_core's dependencies.
MODES = list(MODE_NAMES)
DEVICES = list(ENGINE_DEVICES)


def bundle_parameter(name: str, optional: bool = False) -> QgsProcessingParameterFile:
    """The model bundle parameter (segment, vectorize, model_info).

    A bundle is a folder or a zip; a file widget picks files only, so the
    filter offers a folder's ``manifest.json`` (glnet_core's load_bundle
    takes it for its folder) and zips. Typed paths may name the folder itself.
    """
    param = QgsProcessingParameterFile(
        name,
        tr("Model bundle"),
        behavior=QgsProcessingParameterFile.File,
        optional=optional,
        fileFilter=tr("GLNet model bundles") + " (manifest.json *.zip);;" + tr("All files") + " (*)",
    )
    return param


class SegmentAlgorithm(GlnetAlgorithm):
    """Segment a raster into land-cover classes with a GLNet model bundle (``glnet_core.products.pipeline.run_pipeline``)."""

    ALG_ID = "segment"
    GROUP_ID = "segmentation"

    INPUT = "INPUT"
    MODEL = "MODEL"
    MODE = "MODE"
    DEVICE = "DEVICE"
    BANDS = "BANDS"
    MIN_AREA = "MIN_AREA"
    SIMPLIFY = "SIMPLIFY"
    DASK_SCHEDULER = "DASK_SCHEDULER"
    OUTPUT_MASK = "OUTPUT_MASK"
    OUTPUT_VECTOR = "OUTPUT_VECTOR"
    OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
    PROVIDERS = "PROVIDERS"
    # The rules of glnet segment's --min-area and --simplify.
    NUMBER_RULES = {MIN_AREA: MIN_AREA_RULE, SIMPLIFY: SIMPLIFY_RULE}

    def displayName(self) -> str:  # noqa: N802
        return tr("Segment land cover (GLNet)")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Segments a raster of any size into land-cover classes with a GLNet model bundle.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Input raster")))
        self.addParameter(bundle_parameter(self.MODEL))
        self.addParameter(QgsProcessingParameterEnum(
            self.MODE, tr("Inference mode"), options=MODES, defaultValue=DEFAULT_MODE, usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.DEVICE, tr("Device"), options=DEVICES, defaultValue="auto", usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterBand(
            self.BANDS, tr("Bands (red, green, blue)"),
            parentLayerParameterName=self.INPUT, optional=True, allowMultiple=True))
        self.addParameter(number_parameter(
            self.MIN_AREA, tr("Minimum area (m²)"), MIN_AREA_RULE, 0.0))
        self.addParameter(number_parameter(
            self.SIMPLIFY, tr("Simplify tolerance (m)"), SIMPLIFY_RULE, 0.0))
        dask = QgsProcessingParameterString(
            self.DASK_SCHEDULER, tr("Dask scheduler"),
            defaultValue="", optional=True)
        dask.setFlags(dask.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(dask)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_MASK, tr("Land-cover mask")))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT_VECTOR, tr("Land-cover polygons"), type=QgsProcessing.TypeVectorPolygon,
            optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_CONFIDENCE, tr("Confidence raster"),
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString(self.PROVIDERS, tr("Execution providers")))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Segments a raster of any size into land-cover classes with a GLNet model bundle, as the "
               "command 'glnet segment' does. The raster is cut into overlapping GLNet windows; in each, the "
               "global branch sees the whole window downsampled and the local branch full-resolution patches. "
               "The mask is written on the input's grid (same CRS, extent and pixel size) with the classes' "
               "colours and names; nodata and transparent pixels stay nodata (255)."),
            [
                (tr("Input raster"), tr("Any raster GDAL reads, of any size: 8-bit, 16-bit or float bands. "
                                        "Three bands, or three and alpha, are used as red, green, blue.")),
                (tr("Model bundle"), tr("An exported GLNet model: the manifest.json inside a NAME.glnet "
                                        "folder, or a zip of such a folder (see 'glnet export').")),
                (tr("Inference mode"), tr("full: GLNet with its local-to-global pass (best); g2l: "
                                          "global-to-local only (faster).")),
                (tr("Device"), tr("auto: CUDA when onnxruntime-gpu and a GPU work, else the CPU; cpu; cuda "
                                  "(an error without a working CUDA). The log names the onnxruntime providers "
                                  "that ran.")),
                (tr("Bands (red, green, blue)"), tr("The raster bands (1-based) to feed the model's red, green and "
                                                    "blue inputs, in that order; needed when the raster has another "
                                                    "band count.")),
                (tr("Minimum area (m²)"), tr("Minimum mapping unit: regions smaller than this many square metres are "
                                             "merged into their neighbours, in the mask and the polygons alike. "
                                             "0: off.")),
                (tr("Simplify tolerance (m)"), tr("Douglas-Peucker tolerance in metres for the polygons' shared "
                                                  "boundaries (no gaps or overlaps appear). 0: the exact pixel "
                                                  "edges.")),
                (tr("Dask scheduler"), tr("Advanced. Empty: the windows run here, in QGIS. tcp://HOST:PORT or the "
                                          "path of a scheduler file (dask scheduler --scheduler-file): the windows "
                                          "run as tasks on that Dask cluster's workers, which must reach the input "
                                          "raster and the model bundle at the same paths and run glnet with Dask "
                                          "{version}; QGIS still writes the outputs, the same bytes as a run in "
                                          "QGIS. local:N is not offered inside QGIS (use the command line). Dask is "
                                          "installed on request: the desktop offers it when this is set.")
                 .format(version=dependencies.DASK_VERSION)),
                (tr("Land-cover mask"), tr("GeoTIFF of class ids (255 = nodata) with a style file NAME.qml "
                                           "beside it: the classes' colours and labels.")),
                (tr("Land-cover polygons"), tr("Optional: the mask as polygons with class_id, class_name, "
                                               "class_label, area_m2 (and confidence), styled by class.")),
                (tr("Confidence raster"), tr("Optional: GeoTIFF of the top class probability in percent "
                                             "(0-100, 255 = nodata).")),
            ],
            [(tr("Execution providers"), tr("The onnxruntime execution providers that ran, e.g. "
                                            "CPUExecutionProvider."))],
        )

    def check_values(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> None:
        """The checks of every glnet algorithm, then the Dask scheduler's (:meth:`dask_scheduler`)."""
        super().check_values(parameters, context)
        self.dask_scheduler(parameters, context)

    def dask_scheduler(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> Optional[str]:
        """The Dask scheduler to run the windows on, for ``EngineOptions(dask=...)``; None: in QGIS.

        Returns
        -------
        str or None
            ``SCHEME://HOST:PORT`` or a scheduler file, as given (stripped).

        Raises
        ------
        InputError
            For ``local:N`` (not offered inside QGIS, see below) and for a
            value that names no scheduler
            (:func:`glnet_core.cluster.address.parse_cluster`'s message).
        MissingExtraError
            When Dask is not installed in QGIS's Python (one line saying how
            to install it; the desktop's dialog check also offers the
            install in the message bar).
        """
        value = self.parameterAsString(parameters, self.DASK_SCHEDULER, context).strip()
        if not value:
            return None
        definition = self.parameterDefinition(self.DASK_SCHEDULER)
        label = f"{definition.description()} ({self.DASK_SCHEDULER})"
        if value.lower().startswith("local"):
            # A LocalCluster starts its workers from sys.executable, which
            # inside QGIS is not QGIS's Python (qgis_process: the first
            # python3 on PATH; the desktop: the QGIS program): its nannies
            # fail to start. Pointing multiprocessing elsewhere would change
            # it for every plugin of the session, and in QGIS the run already
            # uses all of this computer's cores.
            raise InputError(tr("{label}: local:N is not offered inside QGIS (it would start worker processes "
                                "from the QGIS program); start 'dask scheduler' and 'dask worker' and give the "
                                "scheduler's address, or leave it empty to run in QGIS").format(label=label))
        parse_cluster(value, option=label)
        problems = dependencies.dask_problems()
        if problems:
            _offer_dask_install(problems)
            raise MissingExtraError(dependencies.explain_dask(problems, label), command="segment", module="distributed")
        return value

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        from ...glnet_core.engine.options import EngineOptions, InputOptions, OutputOptions
        from ...glnet_core.products.pipeline import PolygonOptions, run_pipeline

        source = raster_file(self.parameterAsRasterLayer(parameters, self.INPUT, context), tr("Input raster"))
        model = self.parameterAsFile(parameters, self.MODEL, context)
        out_mask = self.parameterAsOutputLayer(parameters, self.OUTPUT_MASK, context)
        out_vector_value = self.parameterAsOutputLayer(parameters, self.OUTPUT_VECTOR, context)
        out_conf = self.parameterAsOutputLayer(parameters, self.OUTPUT_CONFIDENCE, context) or None
        out_vector, vector_layer = vector_destination(out_vector_value) if out_vector_value else (None, None)
        dask = self.dask_scheduler(parameters, context)
        engine = EngineOptions(mode=self.parameterAsEnumString(parameters, self.MODE, context),
                               device=self.parameterAsEnumString(parameters, self.DEVICE, context), dask=dask)
        reading = InputOptions(bands=tuple(self.parameterAsInts(parameters, self.BANDS, context)) or None)
        # QGIS's file dialogs have asked before replacing a file; glnet_core
        # still replaces it only once the new output is complete.
        output = OutputOptions(out_mask, out_conf, overwrite=True)
        polygons = PolygonOptions(out_vector, min_area_m2=self.parameterAsDouble(parameters, self.MIN_AREA, context),
                                  simplify=self.parameterAsDouble(parameters, self.SIMPLIFY, context),
                                  vector_layer=vector_layer)
        result = run_pipeline(source, model, output, engine, reading, polygons, core_callbacks(feedback))

        # The styles glnet_core wrote beside the files, and names that say what
        # each layer is and which model made it.
        source_name = bundle_model_name(model)
        style_on_completion(context, out_mask, MASK, result.styles, output_layer_name(MASK, source_name))
        if out_vector_value:
            style_on_completion(context, out_vector_value, POLYGONS, result.styles,
                                output_layer_name(POLYGONS, source_name))
        if out_conf:
            style_on_completion(context, out_conf, CONFIDENCE, result.styles, output_layer_name(CONFIDENCE, source_name))
        seg = result.segment
        providers = ", ".join(seg.providers)
        feedback.pushInfo(tr("Done: {windows}, {patches} in {seconds:.1f} s; onnxruntime providers: {providers}").format(
            windows=tr_n(seg.windows, "{n} window", "{n} windows"), patches=tr_n(seg.patches, "{n} patch", "{n} patches"),
            seconds=seg.timings.total_s, providers=providers))
        return {
            self.OUTPUT_MASK: out_mask,
            self.OUTPUT_VECTOR: out_vector_value or None,
            self.OUTPUT_CONFIDENCE: out_conf,
            self.PROVIDERS: providers,
        }


def _offer_dask_install(problems: Sequence[dependencies.Problem]) -> None:
    """In the desktop's own thread (its dialog check), offer the Dask install in the message bar."""
    from qgis.PyQt.QtCore import QCoreApplication, QThread
    from qgis.utils import iface  # None in qgis_process and scripts

    app = QCoreApplication.instance()
    if iface is None or app is None or QThread.currentThread() is not app.thread():
        return
    from ..dependency_dialog import offer_dask_install

    offer_dask_install(iface, problems)
