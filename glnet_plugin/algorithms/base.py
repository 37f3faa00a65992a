"""What every glnet Processing algorithm shares: the bridge to glnet_core.

The algorithms adapt QGIS parameters to ``glnet_core`` calls and nothing
more. This module holds the two adapters every one of them needs, in one
place:

- :func:`core_callbacks`: a ``QgsProcessingFeedback`` as glnet_core's one
  :class:`~glnet_core.callbacks.Callbacks` (progress, log, cancellation),
  for segment, vectorize, evaluate and zonal stats alike;
- :meth:`GlnetAlgorithm.processAlgorithm`: a :class:`glnet_core.errors.GlnetError`
  (including :class:`~glnet_core.errors.Cancelled`) becomes a
  ``QgsProcessingException`` carrying the same one-line message;
- :meth:`GlnetAlgorithm.check_values`: the parameters' values by the command
  line's own rules (:mod:`glnet_core.option_rules`, declared per algorithm
  in :attr:`GlnetAlgorithm.NUMBER_RULES`; :func:`number_parameter` gives the
  spin boxes the same bounds) and every input path by
  :func:`glnet_core.formats.input_paths.check_input_path` (a pipe or device
  would hang QGIS), in the dialog (``checkParameterValues``) and again before
  every run, so qgis_process, models and scripts get the same one line.

glnet_core (and with it rasterio, geopandas, onnxruntime) is imported only
inside :meth:`GlnetAlgorithm.run_glnet`, never when the provider lists its
algorithms, so the Toolbox shows them even when a dependency is missing; the
run then stops first with :func:`glnet_plugin.dependencies.explain`'s
message, which says what to install and how.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from qgis.core import (
    QgsDataSourceUri,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsRasterLayer,
)
from qgis.PyQt.QtGui import QIcon

# Plain Python (errors.py and the stdlib only): importable when the provider
# lists its algorithms, even without glnet_core's dependencies.
from ...glnet_core.errors import InputError, MissingExtraError
from ...glnet_core.formats.input_paths import check_input_path
from ...glnet_core.option_rules import NumberRule, check_class_spec
from ..i18n import tr
from ..plugin_metadata import readme_url

__all__ = [
    "ICON_PATH",
    "README_URL",
    "GlnetAlgorithm",
    "core_callbacks",
    "help_html",
    "number_parameter",
    "raster_file",
    "vector_destination",
]

#: Parameters whose value may be the path of a file the algorithm reads.
_INPUT_PATH_PARAMETERS = (
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterVectorLayer,
)

#: The provider's and the plugin's icon.
ICON_PATH = Path(__file__).resolve().parents[1] / "icon.svg"

#: Where the help texts and the algorithms' Help button send users for the
#: whole story: the project's homepage once it has a public one; until then
#: the README inside the plugin folder (the plugin zip ships it), as a file:// URL.
README_URL = readme_url()


def help_html(summary: str, parameters: Sequence[Tuple[str, str]], outputs: Sequence[Tuple[str, str]] = ()) -> str:
    """An algorithm's help text: what it does, each parameter, a link to the README.

    Parameters
    ----------
    summary:
        One or more sentences (already translated).
    parameters, outputs:
        ``(label, explanation)`` pairs (already translated), in dialog order.

    Returns
    -------
    str
        HTML, as ``QgsProcessingAlgorithm.shortHelpString`` shows it.
    """
    parts = [f"<p>{summary}</p>"]
    for title, rows in ((tr("Parameters"), parameters), (tr("Outputs"), outputs)):
        if rows:
            parts.append(f"<h3>{title}</h3><dl>")
            parts.extend(f"<dt><b>{label}</b></dt><dd>{text}</dd>" for label, text in rows)
            parts.append("</dl>")
    parts.append("<p>" + tr("More in the README: {link}").format(link=f'<a href="{README_URL}">{README_URL}</a>') + "</p>")
    return "".join(parts)


def core_callbacks(feedback: QgsProcessingFeedback, text_step: float = 5.0) -> Any:
    """glnet_core's :class:`~glnet_core.callbacks.Callbacks` reporting to ``feedback``.

    Progress moves the progress bar at every report. For segment, the
    window being run also goes to the progress text, but only when the run
    has gone ``text_step`` percent further since the last text (and the
    window changed): ``qgis_process`` prints every progress text as a line,
    so a run of thousands of windows prints about 20, not one per window.
    Log lines go to the log in QGIS's language
    (:func:`~glnet_plugin.i18n.translate_line`), and
    ``feedback.isCanceled()`` is polled as the cancellation hook (glnet_core
    polls it after every patch batch or block of rows).
    """
    from ...glnet_core.callbacks import Callbacks
    from ..i18n import translate_line

    shown = {"window": -1, "step": -1}

    def progress(p: Any) -> None:
        feedback.setProgress(100.0 * p.fraction)
        if not p.windows_total:
            return
        # The window being run (1-based), as the command line's bar names it.
        window = min(p.windows_done + 1, p.windows_total)
        step = int(100.0 * p.fraction // text_step)
        if window != shown["window"] and (shown["step"] < 0 or step > shown["step"]):
            shown.update(window=window, step=step)
            feedback.setProgressText(tr("Window {window} of {total}").format(window=window, total=p.windows_total))

    def log(line: str) -> None:
        feedback.pushInfo(translate_line(line))

    return Callbacks(progress=progress, log=log, is_cancelled=feedback.isCanceled)


def raster_file(layer: Optional[QgsRasterLayer], what: str) -> str:
    """The file (GDAL dataset name) behind a raster layer parameter, for glnet_core.

    Raises
    ------
    QgsProcessingException
        No layer, or a layer that GDAL does not read (a WMS, a virtual raster
        of another provider): glnet_core reads rasters with GDAL.
    """
    if layer is None or not layer.isValid():
        raise QgsProcessingException(tr("{what}: the raster layer cannot be opened").format(what=what))
    if layer.providerType() != "gdal":
        raise QgsProcessingException(
            tr("{what}: glnet reads raster files through GDAL; layer '{name}' comes from the '{provider}' data "
               "provider. Save it as a GeoTIFF first.").format(what=what, name=layer.name(), provider=layer.providerType())
        )
    return layer.source()


def number_parameter(name: str, label: str, rule: NumberRule, default: float,
                     decimals: int = 2) -> QgsProcessingParameterNumber:
    """A number parameter whose spin box has the bounds of the command line's ``rule``.

    Bounds alone do not refuse NaN (QGIS compares it with them and lets it
    through): list the parameter in :attr:`GlnetAlgorithm.NUMBER_RULES` too.

    Parameters
    ----------
    name, label:
        The parameter's name (``MIN_AREA``) and its short, translated label.
    rule:
        The command-line option's rule: its bounds, and whether it takes
        whole numbers (an integer spin box) or not (a decimal one).
    default:
        The default value.
    decimals:
        Digits after the decimal point that a decimal spin box shows and
        steps by (ignored for whole numbers). QGIS 3.22's spin box shows six
        (``0.000000``) unless the metadata ``widget_wrapper/decimals`` says
        otherwise; values typed in the dialog are rounded to these digits,
        scripts and qgis_process pass theirs unrounded.

    Returns
    -------
    QgsProcessingParameterNumber
        An Integer or Double parameter.
    """
    kind = QgsProcessingParameterNumber.Integer if rule.whole else QgsProcessingParameterNumber.Double
    param = QgsProcessingParameterNumber(name, label, type=kind, defaultValue=default,
                                         minValue=float(rule.minimum), maxValue=float(rule.maximum))
    if not rule.whole:
        param.setMetadata({"widget_wrapper": {"decimals": decimals}})
    return param


def vector_destination(value: str) -> Tuple[str, Optional[str]]:
    """A vector destination as (file, layer name or None).

    QGIS gives a plain file path, or, for "Save to GeoPackage" with a layer
    name, an ``ogr:dbname='FILE' table="LAYER" (geom)`` data source URI.
    """
    if value.startswith("ogr:"):
        uri = QgsDataSourceUri(value[len("ogr:"):])
        return uri.database(), uri.table() or None
    return value, None


class GlnetAlgorithm(QgsProcessingAlgorithm):
    """Base of the glnet algorithms: ids, groups, icon, help, and the error bridge.

    Subclasses set :attr:`ALG_ID` and :attr:`GROUP_ID`, implement
    :meth:`displayName`, :meth:`initAlgorithm`, :meth:`helpParameters` and
    :meth:`run_glnet`.
    """

    #: Stable lower-case id (``glnet:<ALG_ID>``): models, scripts and qgis_process refer to it.
    ALG_ID = ""
    #: Stable group id.
    GROUP_ID = ""
    #: Number parameters checked by the rule of their command-line option
    #: (:mod:`glnet_core.option_rules`): parameter name -> rule.
    NUMBER_RULES: Dict[str, NumberRule] = {}
    #: String parameters holding a class table spec (``--classes``): a class
    #: count among them is checked by the command line's rule.
    CLASS_TABLE_PARAMETERS: Tuple[str, ...] = ()

    def name(self) -> str:
        return self.ALG_ID

    def groupId(self) -> str:  # noqa: N802 - QGIS API name
        return self.GROUP_ID

    def group(self) -> str:
        groups = {
            "segmentation": tr("Land-cover segmentation"),
            "analysis": tr("Land-cover analysis"),
            "models": tr("Models"),
        }
        return groups[self.GROUP_ID]

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API name
        return README_URL

    def createInstance(self) -> "GlnetAlgorithm":  # noqa: N802 - QGIS API name
        return type(self)()

    def check_values(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> None:
        """Check the values of :attr:`NUMBER_RULES` and every input path, as the command line does.

        Raises
        ------
        InputError
            ``<parameter label> (<NAME>): must be a finite number, got nan``,
            or ``<label> (<NAME>): /tmp/f is a named pipe (FIFO), not a regular file``.
        MissingExtraError
            From a subclass's own checks: a parameter's value needs an
            optional dependency that is missing (segment's Dask scheduler).
        """
        for definition in self.parameterDefinitions():
            name = definition.name()
            label = f"{definition.description()} ({name})"
            value = parameters.get(name)
            if name in self.NUMBER_RULES:
                if value is None and definition.defaultValue() is None:
                    continue
                self.NUMBER_RULES[name].check(self.parameterAsDouble(parameters, name, context), name=label)
            elif isinstance(value, str) and value and (name in self.CLASS_TABLE_PARAMETERS
                                                       or isinstance(definition, _INPUT_PATH_PARAMETERS)):
                if name in self.CLASS_TABLE_PARAMETERS:
                    check_class_spec(value, label)
                # A layer given as a path ("FILE|layername=X" for OGR): check the file before QGIS loads it.
                check_input_path(value.split("|", 1)[0], label)

    def checkParameterValues(  # noqa: N802 - QGIS API name
        self, parameters: Dict[str, Any], context: QgsProcessingContext
    ) -> Tuple[bool, str]:
        """QGIS's own checks, then :meth:`check_values` (the dialog shows the message before running)."""
        try:
            # First: QGIS's checks may load a layer, which a pipe would block.
            self.check_values(parameters, context)
        except (InputError, MissingExtraError) as exc:
            return False, str(exc)
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(  # noqa: N802 - QGIS API name
        self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Dict[str, Any]:
        """Check the dependencies, then run :meth:`run_glnet`.

        A glnet_core error becomes a ``QgsProcessingException`` with the same
        one-line message; a cancelled run (glnet_core removed its partial
        outputs) one saying that nothing was written.
        """
        # errors.py imports nothing else, so this works even when glnet_core's
        # dependencies are missing (the import error is then reported below).
        from ...glnet_core.errors import Cancelled, GlnetError

        # --- dependency check (glnet_plugin/dependencies.py, owned by the set-up work) ---
        # Stops with the full explanation of what is missing and how to install it.
        from .. import dependencies

        problems = dependencies.check()
        if problems:
            raise QgsProcessingException(dependencies.explain(problems))
        # --- end of the dependency check ---
        try:
            # Again here: scripts may run an algorithm without checkParameterValues.
            self.check_values(parameters, context)
            return self.run_glnet(parameters, context, feedback)
        except Cancelled:
            # glnet_core removed every partial output before raising.
            raise QgsProcessingException(tr("Cancelled; no output was written.")) from None
        except GlnetError as exc:
            raise QgsProcessingException(str(exc)) from None
        except ImportError as exc:
            # A glnet_core dependency (rasterio, geopandas, onnxruntime...) is missing from QGIS's Python.
            raise QgsProcessingException(
                tr("glnet cannot run: the Python module '{module}' is missing in QGIS's Python. "
                   "See the README for installing the plugin's dependencies.").format(module=exc.name or str(exc))
            ) from None

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """The algorithm itself: parameters to a glnet_core call, its results to outputs."""
        raise NotImplementedError
