"""``glnet:train``: train a GLNet on orthophotos labelled by polygons, then export it as a model bundle.

QGIS's own Python has no torch, so the algorithm runs ``glnet train`` and
``glnet export`` as child processes in the Python environment the user names
in the provider's settings (:data:`TRAIN_PYTHON_SETTING`, or the
environment variable :data:`~glnet_plugin.training_process.PYTHON_ENV_VAR`
for qgis_process batch runs), through :mod:`glnet_plugin.training_process`.
The child's lines go to the log, its stage and epoch lines move the progress
bar, Cancel stops it with the checkpoint of its last finished epoch kept (the
algorithm's Resume continues it), and its ``glnet: error: ...`` line becomes
the algorithm's error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from qgis.core import (
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProviderRegistry,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ... import __version__
from ...glnet_core.engine.runtime import DEVICES as ENGINE_DEVICES
from ...glnet_core.errors import InputError
from ...glnet_core.option_rules import EPOCHS as EPOCHS_RULE
from ...glnet_core.option_rules import VAL_FRACTION as VAL_FRACTION_RULE
from .. import training_process
from ..i18n import tr
from .base import README_URL, GlnetAlgorithm, help_html, number_parameter, raster_file

__all__ = ["TRAIN_PYTHON_SETTING", "TrainAlgorithm", "configured_training_python", "environment_message", "glnet_requirement",
           "setup_instructions", "validate_training_python"]

#: The provider setting (Settings > Options > Processing > Providers > GLNet land cover) naming the training environment.
TRAIN_PYTHON_SETTING = "GLNET_TRAIN_PYTHON"

#: Values of CONFIG, STAGE, DEVICE and PRECISION as the command line spells them (static strings).
#: The configurations are glnet.models.config.CONFIGS, written here because the plugin zip carries no
#: models/ (the QGIS tests check they agree).
CONFIG_NAMES = ["tiny", "lite", "resnet18", "paper"]
STAGES = ["all", *training_process.STAGES]
DEVICES = list(ENGINE_DEVICES)
PRECISIONS = ["fp32", "fp16", "fp16-gpu"]

# Of the progress bar: training up to here, the export after it.
_TRAINING_SHARE = 90.0


def configured_training_python() -> str:
    """The training environment as set: the provider setting, else :data:`~glnet_plugin.training_process.PYTHON_ENV_VAR`; "" when neither is."""
    value = ""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        value = str(ProcessingConfig.getSetting(TRAIN_PYTHON_SETTING) or "").strip()
    except ImportError:  # Processing's Python part is missing: only the variable can name it
        pass
    return value or os.environ.get(training_process.PYTHON_ENV_VAR, "").strip()


def _settings_path() -> str:
    return tr("Settings > Options > Processing > Providers > {provider} > {setting}").format(
        provider=tr("GLNet land cover"), setting=tr("Python environment for training"))


def glnet_requirement() -> str:
    """What pip installs glnet's training parts from, quoted for a shell.

    This plugin's own folder when it is a glnet source checkout (it has
    ``pyproject.toml``; ``make qgis-setup`` links one), else a placeholder
    naming where the source is (the plugin zip carries no training code).
    The name alone would not do: ``glnet`` on PyPI is another project.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return f"'{root}[train]'"
    return f"'GLNET_SOURCE[train]' (GLNET_SOURCE: a glnet source folder, {README_URL})"


def setup_instructions() -> str:
    """One line saying how to create a training environment and where to name it."""
    torch = f"torch=={training_process.TORCH_VERSION}"
    if os.name == "nt":
        folder = r"%USERPROFILE%\glnet-train"
        create = rf"py -m venv {folder} && {folder}\Scripts\pip install {torch} {glnet_requirement()}"
    else:
        folder = "~/glnet-train"
        create = f"python3 -m venv {folder} && {folder}/bin/pip install {torch} {glnet_requirement()}"
    return tr("Training needs a Python environment with torch and glnet (QGIS's own Python has no torch). Create one "
              "with: {create} ; then enter its folder ({folder}) in {path}, or set the environment variable {variable} "
              "for qgis_process.").format(create=create, folder=folder, path=_settings_path(),
                                          variable=training_process.PYTHON_ENV_VAR)


def environment_message(exc: training_process.TrainingEnvironmentError) -> str:
    """The translated one-line message for a training environment that cannot be used."""
    if exc.kind == "unset":
        return setup_instructions()
    texts = {
        "missing": tr("The Python environment for training, {path}, does not exist."),
        "no-python": tr("The Python environment for training, {path}, is a folder without bin/python (not a virtual "
                        "environment)."),
        "not-executable": tr("The Python environment for training, {path}, is not an executable Python interpreter."),
        "cannot-run": tr("The Python environment for training, {path}, does not run: {detail}."),
        "no-torch": tr("The Python environment for training, {path}, cannot import torch ({detail}); install it there: "
                       "{pip} install torch=={torch} {glnet}."),
        "no-glnet": tr("The Python environment for training, {path}, cannot import glnet's training command ({detail}); "
                       "install it there: {pip} install {glnet}."),
    }
    pip = f"{exc.path} -m pip"
    text = texts[exc.kind].format(path=exc.path, detail=exc.detail, pip=pip, torch=training_process.TORCH_VERSION,
                                  glnet=glnet_requirement())
    return text + " " + tr("Set it in {path}.").format(path=_settings_path())


def validate_training_python(value: str) -> None:
    """The provider setting's validator (the Options dialog shows the message): the interpreter must be found.

    Importing torch takes seconds, so the dialog does not probe; each run does.

    Raises
    ------
    ValueError
        For a value that names no interpreter.
    """
    if not str(value or "").strip():
        return
    try:
        training_process.find_interpreter(str(value))
    except training_process.TrainingEnvironmentError as exc:
        raise ValueError(environment_message(exc)) from None


class TrainAlgorithm(GlnetAlgorithm):
    """Train a GLNet in the user's training environment (``glnet train --images ... --labels ...``), then export it."""

    ALG_ID = "train"
    GROUP_ID = "models"

    INPUT = "INPUT"
    LABELS = "LABELS"
    LABEL_FIELD = "LABEL_FIELD"
    CLASSES = "CLASSES"
    BACKGROUND = "BACKGROUND"
    CONFIG = "CONFIG"
    INIT = "INIT"
    EPOCHS = "EPOCHS"
    BACKBONE_WEIGHTS = "BACKBONE_WEIGHTS"
    FREEZE_BACKBONE = "FREEZE_BACKBONE"
    STAGE = "STAGE"
    VAL_FRACTION = "VAL_FRACTION"
    DEVICE = "DEVICE"
    PRECISION = "PRECISION"
    RESUME = "RESUME"
    CHECKPOINT = "CHECKPOINT"
    BUNDLE = "BUNDLE"
    MANIFEST = "MANIFEST"
    # The rule of glnet train's --val-fraction; CLASSES as --classes.
    NUMBER_RULES = {VAL_FRACTION: VAL_FRACTION_RULE}
    CLASS_TABLE_PARAMETERS = (CLASSES,)

    def displayName(self) -> str:  # noqa: N802
        return tr("Train a land-cover model (GLNet)")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Trains a GLNet on orthophotos labelled by polygons and exports it as a model bundle.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(self.INPUT, tr("Orthophotos"), QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.LABELS, tr("Label polygons"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL_FIELD, tr("Class field"), parentLayerParameterName=self.LABELS))
        self.addParameter(QgsProcessingParameterString(
            self.CLASSES, tr("Class table"),
            defaultValue="", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.BACKGROUND, tr("Background class"), defaultValue="",
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.CONFIG, tr("Network configuration"), options=CONFIG_NAMES,
            defaultValue="lite", optional=True, usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterFile(
            self.INIT, tr("Start checkpoint"),
            behavior=QgsProcessingParameterFile.File, optional=True,
            fileFilter=tr("GLNet checkpoints") + " (*.ckpt);;" + tr("All files") + " (*)"))
        self.addParameter(QgsProcessingParameterString(
            self.EPOCHS, tr("Epochs per stage"),
            defaultValue="", optional=True))
        advanced: List[QgsProcessingParameterDefinition] = [
            QgsProcessingParameterFile(
                self.BACKBONE_WEIGHTS, tr("Backbone weights"),
                behavior=QgsProcessingParameterFile.File, optional=True,
                fileFilter=tr("PyTorch weights") + " (*.pth *.pt);;" + tr("All files") + " (*)"),
            QgsProcessingParameterBoolean(self.FREEZE_BACKBONE, tr("Freeze the backbone"), defaultValue=False),
            QgsProcessingParameterEnum(self.STAGE, tr("Stages to train"), options=STAGES, defaultValue="all",
                                       usesStaticStrings=True),
            number_parameter(self.VAL_FRACTION, tr("Validation fraction"),
                             VAL_FRACTION_RULE, 0.1),
            QgsProcessingParameterEnum(self.DEVICE, tr("Device"), options=DEVICES, defaultValue="auto",
                                       usesStaticStrings=True),
            QgsProcessingParameterEnum(self.PRECISION, tr("Bundle precision"), options=PRECISIONS,
                                       defaultValue="fp32", usesStaticStrings=True),
            QgsProcessingParameterBoolean(
                self.RESUME, tr("Resume an interrupted run"), defaultValue=False),
        ]
        for param in advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.CHECKPOINT, tr("Output checkpoint"), fileFilter=tr("GLNet checkpoints") + " (*.ckpt)"))
        self.addParameter(QgsProcessingParameterFolderDestination(self.BUNDLE, tr("Output model bundle")))
        # Model Builder 3.22 chains only file outputs into glnet:segment's bundle (a file parameter).
        self.addOutput(QgsProcessingOutputFile(self.MANIFEST, tr("Model bundle manifest")))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Trains a GLNet land-cover model on orthophotos whose classes are drawn as polygons, as the command "
               "'glnet train --images ... --labels ...' does, then exports it as a model bundle for 'Segment land "
               "cover' ('glnet export'). QGIS's Python has no PyTorch, so training runs in the Python environment "
               "named in {path} (or the environment variable {variable}); without one, the algorithm says how to "
               "create it. The log shows each stage and epoch; Cancel stops the run and keeps the checkpoint of "
               "the last finished epoch, and 'Resume' continues it.")
            .format(path=_settings_path(), variable=training_process.PYTHON_ENV_VAR),
            [
                (tr("Orthophotos"), tr("One or more rasters GDAL reads (three bands, or three and alpha). Each is "
                                       "cut into areas of at most one window; the areas the polygons reach are "
                                       "trained on.")),
                (tr("Label polygons"), tr("A polygon layer of any CRS (reprojected to each raster). Pixels whose "
                                          "centre lies in a polygon get its class; where polygons overlap, the later "
                                          "feature wins. Layers that are not plain files (memory layers, filtered "
                                          "layers) are written to a GeoPackage beside the checkpoint first "
                                          "(CHECKPOINT.labels.gpkg); it is removed when training finishes.")),
                (tr("Class field"), tr("The field holding each polygon's class: class names of the class table, or "
                                       "class ids (whole numbers) when the field is an integer.")),
                (tr("Class table"), tr("deepglobe, inria, or a TABLE.json. Empty: one class per distinct value "
                                       "of the class field.")),
                (tr("Background class"), tr("The class of pixels outside every polygon: a class name or id given "
                                            "to unlabelled pixels; empty: the loss ignores them.")),
                (tr("Network configuration"), tr("tiny: tests; lite: CPU-sized; resnet18: torchvision's ResNet-18 "
                                                 "(can start from ImageNet weights); paper: the published "
                                                 "ResNet-50 network. Ignored when a start checkpoint is given.")),
                (tr("Start checkpoint"), tr("Continue training a model (its architecture and classes) instead of "
                                            "starting from random weights.")),
                (tr("Epochs per stage"), tr("One number for every stage, or three for global, g2l and l2g "
                                            "(N,N,N). Empty: the published 120, 50 and 120.")),
                (tr("Backbone weights"), tr("Advanced. torchvision's ImageNet weights for the backbone (resnet18: "
                                            "resnet18-f37072fd.pth; paper: resnet50).")),
                (tr("Freeze the backbone"), tr("Advanced. Train only the network after the backbone.")),
                (tr("Stages to train"), tr("Advanced. all (the default), or one of global, g2l (global to local), "
                                           "l2g (local to global).")),
                (tr("Validation fraction"), tr("Advanced. The fraction of the labelled areas held out to score "
                                               "each epoch (0: no validation).")),
                (tr("Device"), tr("Advanced. auto: CUDA when the training environment's PyTorch has a GPU, else "
                                  "the CPU.")),
                (tr("Bundle precision"), tr("Advanced. fp32; fp16 (half the size); fp16-gpu (for CUDA GPUs).")),
                (tr("Resume an interrupted run"), tr("Advanced. Continue the interrupted (cancelled) run saved in "
                                                     "the output checkpoint: its data and options come from the "
                                                     "checkpoint, so only the device is used of the parameters "
                                                     "above.")),
                (tr("Output checkpoint"), tr("The training checkpoint (.ckpt), rewritten after every epoch.")),
                (tr("Output model bundle"), tr("The exported NAME.glnet folder (a new or empty folder, or a bundle "
                                               "to replace).")),
            ],
            [(tr("Model bundle manifest"), tr("The bundle's manifest.json: connect it to 'Segment land cover' "
                                              "in a model."))],
        )

    # ------------------------------------------------------------------ values

    def _label(self, name: str) -> str:
        return f"{self.parameterDefinition(name).description()} ({name})"

    def epochs(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> Tuple[int, ...]:
        """The EPOCHS value as numbers (empty: the command's default).

        Raises
        ------
        InputError
            ``<label> (EPOCHS): expected a whole number, got 'x'`` (the rule of ``--epochs``).
        """
        text = self.parameterAsString(parameters, self.EPOCHS, context).strip()
        if not text:
            return ()
        try:
            return tuple(int(n) for n in EPOCHS_RULE.list_type((1, 3)).check([EPOCHS_RULE.from_text(p) for p in text.split(",")]))
        except InputError as exc:
            message = str(exc)
            if message.startswith(EPOCHS_RULE.option + ": "):
                message = message[len(EPOCHS_RULE.option) + 2:]
            raise InputError(f"{self._label(self.EPOCHS)}: {message}") from None

    def plan(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> List[Tuple[str, int]]:
        """The stages and their epochs (:func:`~glnet_plugin.training_process.planned_epochs`), for the progress bar."""
        stage = self.parameterAsEnumString(parameters, self.STAGE, context) or "all"
        return training_process.planned_epochs(stage, self.epochs(parameters, context))

    def check_values(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> None:
        """The checks of every glnet algorithm, then the epochs' (:meth:`epochs`)."""
        super().check_values(parameters, context)
        self.epochs(parameters, context)

    # -------------------------------------------------------------- the label layer

    def label_source(self, parameters: Dict[str, Any], context: QgsProcessingContext, field: str, target: Path,
                     feedback: QgsProcessingFeedback) -> Tuple[str, Optional[str], Optional[Path]]:
        """The polygon layer as ``glnet train`` reads it: (file, layer name or None, GeoPackage written or None).

        A layer of the OGR provider without a filter is read from its own
        file (``--label-layer`` naming its layer in a multi-layer file);
        any other (a memory layer, a filtered layer, another provider) is
        written first, its features and the class field only, to the
        GeoPackage ``target`` (:func:`labels_copy`).

        Raises
        ------
        QgsProcessingException
            The layer cannot be opened or written.
        """
        layer = self.parameterAsVectorLayer(parameters, self.LABELS, context)
        if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
            raise QgsProcessingException(tr("{what}: the vector layer cannot be opened").format(what=self._label(self.LABELS)))
        if layer.providerType() == "ogr" and not layer.subsetString():
            parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
            path = str(parts.get("path") or "")
            name = parts.get("layerName") or None
            layer_id = parts.get("layerId")
            if path and Path(path).is_file() and (name or layer_id in (None, "", 0, "0")):
                return path, (str(name) if name else None), None
        feedback.pushInfo(tr("Writing the label polygons of layer '{name}' to {path}").format(name=layer.name(), path=target))
        source = self.parameterAsSource(parameters, self.LABELS, context)
        index = source.fields().lookupField(field)
        if index < 0:
            raise QgsProcessingException(tr("{what}: layer '{name}' has no field '{field}'").format(
                what=self._label(self.LABEL_FIELD), name=layer.name(), field=field))
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = "labels"
        fields = source.fields()
        kept = type(fields)()
        kept.append(fields.at(index))
        writer = QgsVectorFileWriter.create(str(target), kept, source.wkbType(), source.sourceCrs(),
                                            context.transformContext(), options)
        if writer.hasError() != QgsVectorFileWriter.NoError:
            message = writer.errorMessage()
            del writer
            target.unlink(missing_ok=True)
            raise QgsProcessingException(tr("Cannot write {path}: {message}").format(path=target, message=message))
        request = QgsFeatureRequest().setSubsetOfAttributes([index])
        try:
            for feature in source.getFeatures(request):
                if feedback.isCanceled():
                    break
                feature.setAttributes([feature.attribute(index)])
                feature.setFields(kept, False)
                writer.addFeature(feature)
        finally:
            del writer  # closes the file
        if feedback.isCanceled():
            target.unlink(missing_ok=True)
            raise QgsProcessingException(tr("Cancelled; no output was written."))
        return str(target), "labels", target

    # -------------------------------------------------------------------- the run

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        try:
            python = training_process.find_interpreter(configured_training_python())
            probe = training_process.probe_environment(python)
        except training_process.TrainingEnvironmentError as exc:
            raise QgsProcessingException(environment_message(exc)) from None
        feedback.pushInfo(tr("Training environment: {python} (Python {version}, torch {torch}, glnet {glnet})").format(
            python=probe.python, version=probe.python_version, torch=probe.torch_version, glnet=probe.glnet_version))
        if probe.glnet_version != __version__:
            feedback.pushWarning(tr("The training environment has glnet {theirs}, this plugin is glnet {ours}; "
                                    "install the same version there if an option is refused.").format(
                theirs=probe.glnet_version, ours=__version__))

        checkpoint = self.parameterAsFileOutput(parameters, self.CHECKPOINT, context)
        bundle = self.parameterAsFileOutput(parameters, self.BUNDLE, context)
        if not checkpoint or not bundle:
            raise QgsProcessingException(tr("Give the output checkpoint and the output model bundle."))
        bundle_overwrite = _bundle_overwrite(Path(bundle), self._label(self.BUNDLE))
        resume = self.parameterAsBoolean(parameters, self.RESUME, context)
        device = self.parameterAsEnumString(parameters, self.DEVICE, context) or "auto"
        ckpt_path = Path(checkpoint)
        written: Optional[Path] = None
        if resume:
            feedback.pushInfo(tr("Resuming the run saved in {checkpoint}: its data and options come from it.").format(
                checkpoint=checkpoint))
            request = training_process.TrainRequest(out=checkpoint, device=device, resume=True)
            plan = self.plan(parameters, context)
        else:
            plan = self.plan(parameters, context)
            request, written = self._request(parameters, context, feedback, checkpoint, device)
        before = _mtime(ckpt_path)
        result: Optional[training_process.ChildResult] = None
        try:
            result = self._run_child(training_process.train_command(python, request), feedback,
                                     training_process.TrainingProgress(plan), 0.0, _TRAINING_SHARE)
        finally:
            # A copy of the labels stays only while the checkpoint holds a run to resume (which reads it again).
            copy = labels_copy(ckpt_path)
            if (written is not None or resume) and (not _changed(ckpt_path, before) or (result is not None and result.returncode == 0)):
                copy.unlink(missing_ok=True)
        if result.cancelled:
            if _changed(ckpt_path, before):
                raise QgsProcessingException(tr(
                    "Cancelled; {checkpoint} holds the last finished epoch: run again with 'Resume' (RESUME) and the "
                    "same output checkpoint to continue.").format(checkpoint=checkpoint))
            raise QgsProcessingException(tr("Cancelled before the first epoch finished; no output was written."))
        failure = result.failure()
        if failure:
            raise QgsProcessingException(failure)

        feedback.setProgressText(tr("Exporting the model bundle"))
        precision = self.parameterAsEnumString(parameters, self.PRECISION, context) or "fp32"
        export = training_process.export_command(python, checkpoint, bundle, precision, overwrite=bundle_overwrite)
        result = self._run_child(export, feedback, None, _TRAINING_SHARE, 100.0 - _TRAINING_SHARE)
        if result.cancelled:
            raise QgsProcessingException(tr("Cancelled during the export; {checkpoint} holds the trained model: "
                                            "export it with 'glnet export'.").format(checkpoint=checkpoint))
        failure = result.failure()
        if failure:
            raise QgsProcessingException(failure)
        feedback.setProgress(100.0)
        manifest = str(Path(bundle) / "manifest.json")
        return {self.CHECKPOINT: checkpoint, self.BUNDLE: bundle, self.MANIFEST: manifest}

    def _request(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback,
                 checkpoint: str, device: str) -> Tuple[training_process.TrainRequest, Optional[Path]]:
        """The ``glnet train`` options of a new run, and the label GeoPackage written for it (or None)."""
        layers = self.parameterAsLayerList(parameters, self.INPUT, context)
        if not layers:
            raise QgsProcessingException(tr("{what}: give at least one raster").format(what=self._label(self.INPUT)))
        images = [raster_file(layer, self._label(self.INPUT)) for layer in layers]
        fields = self.parameterAsFields(parameters, self.LABEL_FIELD, context)
        if not fields:
            raise QgsProcessingException(tr("{what}: name the field holding the classes").format(
                what=self._label(self.LABEL_FIELD)))
        field = fields[0]
        ckpt_path = Path(checkpoint)
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        labels, layer_name, written = self.label_source(parameters, context, field, labels_copy(ckpt_path), feedback)
        init = self.parameterAsFile(parameters, self.INIT, context) or None
        config = self.parameterAsEnumString(parameters, self.CONFIG, context) or None
        if init and config:
            feedback.pushInfo(tr("Starting from {init}: its architecture is used, the configuration '{config}' is "
                                 "ignored.").format(init=init, config=config))
        if not init and not config:
            raise QgsProcessingException(tr("Choose a network configuration or a start checkpoint."))
        request = training_process.TrainRequest(
            out=checkpoint,
            images=images,
            labels=labels,
            label_layer=layer_name,
            label_field=field,
            classes=self.parameterAsString(parameters, self.CLASSES, context).strip() or "from-field",
            background=self.parameterAsString(parameters, self.BACKGROUND, context).strip() or None,
            config=config,
            init=init,
            backbone_weights=self.parameterAsFile(parameters, self.BACKBONE_WEIGHTS, context) or None,
            freeze_backbone=self.parameterAsBoolean(parameters, self.FREEZE_BACKBONE, context),
            stage=self.parameterAsEnumString(parameters, self.STAGE, context) or None,
            epochs=self.epochs(parameters, context),
            val_fraction=self.parameterAsDouble(parameters, self.VAL_FRACTION, context),
            device=device,
            # QGIS's file dialog asked before replacing the checkpoint.
            overwrite=ckpt_path.exists(),
        )
        return request, written

    def _run_child(self, command: Sequence[str], feedback: QgsProcessingFeedback,
                   progress: Optional[training_process.TrainingProgress], start: float, share: float) -> training_process.ChildResult:
        """Run one child, its lines to the log and, with ``progress``, its epochs to the progress bar."""
        feedback.pushCommandInfo(" ".join(_quoted(part) for part in command))
        feedback.setProgress(start)

        def on_line(line: str) -> None:
            feedback.pushInfo(line)
            fraction = progress.feed(line) if progress is not None else None
            if fraction is not None:
                feedback.setProgress(start + share * fraction)

        if feedback.isCanceled():
            return training_process.ChildResult(returncode=-1, cancelled=True)
        try:
            return training_process.run_child(command, on_line, feedback.isCanceled)
        except OSError as exc:
            raise QgsProcessingException(tr("Cannot start {program}: {error}").format(program=command[0], error=exc)) from None


def labels_copy(checkpoint: Path) -> Path:
    """Where the label polygons of a layer that is not a plain file are written for the run of ``checkpoint``.

    Beside the checkpoint and named after it (``model.ckpt.labels.gpkg``): a
    resumed run reads the labels again from the path the checkpoint records.
    """
    return checkpoint.with_name(checkpoint.name + ".labels.gpkg")


def _quoted(part: str) -> str:
    return f"'{part}'" if not part or any(c in part for c in " '\"$\\") else part


def _mtime(path: Path) -> Optional[int]:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _changed(path: Path, before: Optional[int]) -> bool:
    """Whether ``path`` was written since its modification time was ``before`` (None: it did not exist)."""
    now = _mtime(path)
    return now is not None and now != before


def _bundle_overwrite(path: Path, label: str) -> bool:
    """Whether export may replace ``path``: it is an empty folder or a bundle (QGIS's own folder outputs exist already).

    Raises
    ------
    QgsProcessingException
        ``path`` is a file, or a folder holding other things than a bundle.
    """
    if not path.exists():
        return False
    if path.is_dir() and (not any(path.iterdir()) or (path / "manifest.json").is_file()):
        return True
    raise QgsProcessingException(tr("{what}: {path} exists and is not a model bundle; choose a new folder").format(
        what=label, path=path))
