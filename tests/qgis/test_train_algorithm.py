"""glnet:train in real QGIS 3.22: training in a real Python environment (the checkout's .venv), cancel, resume, errors.

QGIS's Python has no torch; the algorithm runs ``glnet train`` and ``glnet
export`` in the environment named by the provider setting or
GLNET_TRAIN_PYTHON. Here that is the checkout's own ``.venv`` (torch on the
CPU), the data a small synthetic orthophoto and the polygons of its own
class mask (``glnet synth`` + ``glnet vectorize``), the network ``tiny``
with one epoch per stage. Every run is real: qgis_process.bin, Processing's
``processing.run`` and a graphical model chaining train -> segment.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import GLNET_CLI, REPO

#: The training environment the tests name: the checkout's own virtual environment.
VENV = REPO / ".venv"


def _glnet(*args: Any) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(GLNET_CLI), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def labelled_scene(tmp_path_factory) -> Dict[str, Path]:
    """A 384 px synthetic orthophoto (UTM 33N) and its class mask as polygons (class_name, class_id) in a GeoPackage.

    The GeoPackage holds two layers (the polygons and QGIS's layer_styles),
    so the algorithm must name the polygon layer to the command line.
    """
    assert GLNET_CLI.exists(), f"{GLNET_CLI} is missing; run make install"
    folder = tmp_path_factory.mktemp("scene")
    _glnet("synth", "--out", folder / "data", "--n", "1", "--size", "384", "--seed", "3", "--quiet")
    polygons = folder / "polygons.gpkg"
    _glnet("vectorize", folder / "data" / "masks" / "synth_00000.tif", "--out", polygons, "--layer", "landcover")
    return {"image": folder / "data" / "images" / "synth_00000.tif", "polygons": polygons}


class Recorder:
    """A real QgsProcessingFeedback recording the log, the commands run and the progress.

    ``cancel_on``: cancel (as the dialog's Cancel button does) when a log line contains it.
    """

    def __new__(cls, cancel_on: str = ""):
        from qgis.core import QgsProcessingFeedback

        class _Feedback(QgsProcessingFeedback):
            def __init__(self) -> None:
                super().__init__()
                self.infos: List[str] = []
                self.commands: List[str] = []
                self.progress: List[float] = []

            def pushCommandInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
                self.commands.append(info)
                super().pushCommandInfo(info)

            def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
                self.infos.append(info)
                super().pushInfo(info)
                if cancel_on and cancel_on in info:
                    self.cancel()

        feedback = _Feedback()
        # setProgress is not virtual: a model's step feedback reaches this one through C++, so record the signal.
        feedback.progressChanged.connect(feedback.progress.append)
        return feedback


@pytest.fixture
def training_python(qgis_app):
    """Set the provider setting to a value for one test (restored after); yields the setter."""
    from processing.core.ProcessingConfig import ProcessingConfig

    from glnet.glnet_plugin.algorithms.train import TRAIN_PYTHON_SETTING

    old_env = os.environ.pop("GLNET_TRAIN_PYTHON", None)
    old = ProcessingConfig.getSetting(TRAIN_PYTHON_SETTING)

    def set_value(value: str) -> None:
        ProcessingConfig.setSettingValue(TRAIN_PYTHON_SETTING, value)

    yield set_value
    ProcessingConfig.setSettingValue(TRAIN_PYTHON_SETTING, old or "")
    if old_env is not None:
        os.environ["GLNET_TRAIN_PYTHON"] = old_env


def _params(scene: Dict[str, Path], out: Path, **extra: Any) -> Dict[str, Any]:
    params: Dict[str, Any] = {
        "INPUT": [str(scene["image"])],
        "LABELS": f"{scene['polygons']}|layername=landcover",
        "LABEL_FIELD": "class_name",
        "CONFIG": "tiny",
        "EPOCHS": "1",
        "DEVICE": "cpu",
        "CHECKPOINT": str(out / "model.ckpt"),
        "BUNDLE": str(out / "model.glnet"),
    }
    params.update(extra)
    return params


def _error_of(params: Dict[str, Any], feedback=None) -> str:
    import processing
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as exc:
        processing.run("glnet:train", params, feedback=feedback or Recorder())
    message = str(exc.value)
    assert "\n" not in message.strip(), message
    return message


def _mask_classes(path: Path) -> List[int]:
    import numpy as np
    import rasterio

    with rasterio.open(str(path)) as ds:
        return sorted(int(v) for v in np.unique(ds.read(1)))


# ----------------------------------------------------------------------------- the child-process runner

_STUBBORN = ("import signal, sys, time\n"
             "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             "print('ready', flush=True)\n"
             "time.sleep(120)\n")


def test_a_child_that_ignores_sigint_is_killed_after_the_grace_period():
    import sys
    import time

    from glnet.glnet_plugin.training_process import run_child

    lines: List[str] = []
    start = time.monotonic()
    result = run_child([sys.executable, "-c", _STUBBORN, "glnet-stubborn-child"], lines.append, lambda: bool(lines), grace_s=1.0)
    assert lines == ["ready"] and result.cancelled and result.killed and result.returncode != 0
    assert time.monotonic() - start < 30 and not _running_with("glnet-stubborn-child")


def test_an_error_in_the_line_callback_leaves_no_child_running():
    import sys

    from glnet.glnet_plugin.training_process import run_child

    def fail(line: str) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        run_child([sys.executable, "-c", _STUBBORN, "glnet-orphan-child"], fail, lambda: False)
    assert not _running_with("glnet-orphan-child")


def test_progress_over_the_stages_from_the_lines_glnet_train_prints():
    from glnet.glnet_plugin.training_process import ChildResult, TrainingProgress

    progress = TrainingProgress([("global", 2), ("g2l", 1), ("l2g", 1)])
    assert progress.feed("2 training and 1 validation areas") is None
    assert progress.feed("stage global: 2 epochs from epoch 1, lr 5e-05, 3 training windows per epoch, device cpu") == 0
    assert progress.feed("global epoch 1/2: loss 0.1234, no validation, lr 5e-05, 3.2 s") == 0.25
    # A resumed run that starts in stage 3: the stages before it are done.
    resumed = TrainingProgress([("global", 2), ("g2l", 1), ("l2g", 1)])
    assert resumed.feed("stage l2g: 1 epoch from epoch 1, lr 5e-05, 3 training windows per epoch, device cpu") == 0.75
    assert resumed.feed("l2g epoch 1/1: loss 0.1, val mIoU 0.5, accuracy 0.9, lr 5e-05, 1.0 s") == 1.0
    # The child's last 'glnet: error:' line is the failure; without one, its last line and status.
    assert ChildResult(2, error="--labels x.gpkg does not exist").failure() == "--labels x.gpkg does not exist"
    assert ChildResult(1, tail=["Traceback ...", "MemoryError"]).failure() == "MemoryError (exit status 1)"
    assert ChildResult(0).failure() is None


# ----------------------------------------------------------------------------- the algorithm and its dialog

#: The parameters issue #16 names, in dialog order.
TRAIN_PARAMETERS = ["INPUT", "LABELS", "LABEL_FIELD", "CLASSES", "BACKGROUND", "CONFIG", "INIT", "EPOCHS", "BACKBONE_WEIGHTS",
                    "FREEZE_BACKBONE", "STAGE", "VAL_FRACTION", "DEVICE", "PRECISION", "RESUME", "CHECKPOINT", "BUNDLE"]


def test_the_plugins_copies_of_model_names_agree_with_the_models():
    """The plugin zip has no models/: the names the plugin writes down are those of the checkout's models."""
    from glnet.glnet_plugin import training_process
    from glnet.glnet_plugin.algorithms.train import CONFIG_NAMES
    from glnet.models.config import CONFIGS
    from glnet.models.training.options import PUBLISHED_EPOCHS, STAGES, TrainOptions

    assert sorted(CONFIG_NAMES) == sorted(CONFIGS)
    assert training_process.STAGES == STAGES and training_process.PUBLISHED_EPOCHS == PUBLISHED_EPOCHS
    for stage in ("all", "global", "l2g"):
        for epochs in ((), (4,), (1, 2, 3)):
            if len(epochs) == 3 and stage != "all":
                continue
            options = TrainOptions(stage=stage, epochs=epochs or None)
            expected = [(s, options.epochs_for(s)) for s in options.stages()]
            assert training_process.planned_epochs(stage, epochs) == expected, (stage, epochs)


def test_train_parameters_outputs_and_dialogs(qgis_app):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition

    registry = QgsApplication.processingRegistry()
    alg = registry.algorithmById("glnet:train")
    assert alg.name() == "train" and alg.groupId() == "models" and alg.displayName()
    assert "README" in alg.shortHelpString() and "GLNET_TRAIN_PYTHON" in alg.shortHelpString()
    params = {p.name(): p for p in alg.parameterDefinitions()}
    assert list(params) == TRAIN_PARAMETERS
    assert params["LABEL_FIELD"].parentLayerParameterName() == "LABELS"
    assert params["CONFIG"].options() == ["tiny", "lite", "resnet18", "paper"] and params["CONFIG"].usesStaticStrings()
    assert params["CHECKPOINT"].type() == "fileDestination" and params["BUNDLE"].type() == "folderDestination"
    advanced = {n for n, p in params.items() if p.flags() & QgsProcessingParameterDefinition.FlagAdvanced}
    assert advanced == {"BACKBONE_WEIGHTS", "FREEZE_BACKBONE", "STAGE", "VAL_FRACTION", "DEVICE", "PRECISION", "RESUME"}
    outputs = {o.name(): o.type() for o in alg.outputDefinitions()}
    assert outputs == {"CHECKPOINT": "outputFile", "BUNDLE": "outputFolder", "MANIFEST": "outputFile"}
    dialog = AlgorithmDialog(registry.createAlgorithmById("glnet:train"))
    assert set(params) <= set(dialog.mainWidget().wrappers)
    batch = BatchAlgorithmDialog(registry.createAlgorithmById("glnet:train"))
    assert batch.mainWidget().tblParameters.columnCount() == len(params)


# ----------------------------------------------------------------------------- qgis_process


def test_qgis_process_trains_and_the_bundle_segments(qgis_app, labelled_scene, tmp_path, qgis_process):
    """qgis_process.bin with GLNET_TRAIN_PYTHON=.venv: checkpoint and bundle, then glnet:segment runs the bundle folder."""
    out = tmp_path / "out"
    params = _params(labelled_scene, out, INPUT=str(labelled_scene["image"]))
    args = [f"--{name}={value}" for name, value in params.items()]
    proc = qgis_process("run", "glnet:train", "--json", *args, env={"GLNET_TRAIN_PYTHON": str(VENV)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]
    assert Path(result["CHECKPOINT"]) == out / "model.ckpt" and (out / "model.ckpt").is_file()
    assert Path(result["BUNDLE"]) == out / "model.glnet"
    assert Path(result["MANIFEST"]) == out / "model.glnet" / "manifest.json" and Path(result["MANIFEST"]).is_file()
    manifest = json.loads((out / "model.glnet" / "manifest.json").read_text(encoding="utf-8"))
    # --classes from-field: the classes are the field's values (synth's DeepGlobe names present in the scene).
    names = [c["name"] for c in manifest["classes"]["classes"]]
    assert set(names) <= {"unknown", "urban_land", "agriculture_land", "rangeland", "forest_land", "water", "barren_land"}
    assert len(names) >= 2
    # The log: the command line run, the three stages and their epochs.
    for text in ("-m glnet.glnet_core train", "--label-layer landcover", "stage global: 1 epoch", "l2g epoch 1/1",
                 "-m glnet.glnet_core export"):
        assert text in proc.stdout, text
    # Nothing but the outputs appears beside them (the file layer was read where it lies).
    assert sorted(p.name for p in out.iterdir()) == ["model.ckpt", "model.glnet"]

    mask = tmp_path / "mask.tif"
    proc = qgis_process("run", "glnet:segment", f"--INPUT={labelled_scene['image']}", f"--MODEL={out / 'model.glnet'}",
                        "--DEVICE=cpu", f"--OUTPUT_MASK={mask}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    classes = _mask_classes(mask)
    assert classes and set(classes) <= set(range(len(names))) | {255}


# ----------------------------------------------------------------------------- in QGIS's Python


def _train_then_segment_model(path: Path) -> Path:
    """ortho + polygons -> glnet:train -> (its MANIFEST output) -> glnet:segment's bundle -> mask."""
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterRasterLayer,
        QgsProcessingParameterVectorLayer,
    )
    from qgis.core import QgsProcessingModelChildParameterSource as Source

    model = QgsProcessingModelAlgorithm("train_then_segment", "glnet tests")
    model.addModelParameter(QgsProcessingParameterMultipleLayers("images", "Images", QgsProcessing.TypeRaster),
                            QgsProcessingModelParameter("images"))
    model.addModelParameter(QgsProcessingParameterRasterLayer("scene", "Scene to segment"), QgsProcessingModelParameter("scene"))
    model.addModelParameter(QgsProcessingParameterVectorLayer("labels", "Labels", [QgsProcessing.TypeVectorPolygon]),
                            QgsProcessingModelParameter("labels"))

    train = QgsProcessingModelChildAlgorithm("glnet:train")
    train.setChildId("train")
    train.addParameterSources("INPUT", [Source.fromModelParameter("images")])
    train.addParameterSources("LABELS", [Source.fromModelParameter("labels")])
    for name, value in (("LABEL_FIELD", "class_name"), ("CONFIG", "tiny"), ("EPOCHS", "1"), ("STAGE", "global"),
                        ("DEVICE", "cpu"), ("VAL_FRACTION", 0.0)):
        train.addParameterSources(name, [Source.fromStaticValue(value)])
    for name in ("CHECKPOINT", "BUNDLE"):
        output = QgsProcessingModelOutput(name.lower(), name.lower())
        output.setChildId("train")
        output.setChildOutputName(name)
        train.setModelOutputs({**train.modelOutputs(), name.lower(): output})
    model.addChildAlgorithm(train)

    segment = QgsProcessingModelChildAlgorithm("glnet:segment")
    segment.setChildId("segment")
    segment.addParameterSources("INPUT", [Source.fromModelParameter("scene")])
    segment.addParameterSources("MODEL", [Source.fromChildOutput("train", "MANIFEST")])
    segment.addParameterSources("DEVICE", [Source.fromStaticValue("cpu")])
    mask = QgsProcessingModelOutput("mask", "Land-cover mask")
    mask.setChildId("segment")
    mask.setChildOutputName("OUTPUT_MASK")
    segment.setModelOutputs({"mask": mask})
    model.addChildAlgorithm(segment)
    model.updateDestinationParameters()
    assert model.toFile(str(path))
    return path


def test_model_chains_train_into_segment_from_a_memory_layer(qgis_app, labelled_scene, tmp_path, training_python):
    """A graphical model: a memory layer of polygons (written to a GeoPackage for the child) -> train -> segment."""
    import processing
    from qgis.core import QgsFeatureRequest, QgsProcessingModelAlgorithm, QgsVectorLayer

    training_python(str(VENV))
    source = QgsVectorLayer(f"{labelled_scene['polygons']}|layername=landcover", "labels", "ogr")
    assert source.isValid()
    memory = source.materialize(QgsFeatureRequest())
    assert memory.providerType() == "memory" and memory.featureCount() == source.featureCount()

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(_train_then_segment_model(tmp_path / "train_then_segment.model3")))
    out = tmp_path / "out"
    out.mkdir()
    feedback = Recorder()
    result = processing.run(model, {
        "images": [str(labelled_scene["image"])], "scene": str(labelled_scene["image"]), "labels": memory,
        "train:checkpoint": str(out / "m.ckpt"), "train:bundle": str(out / "m.glnet"), "segment:mask": str(out / "mask.tif"),
    }, feedback=feedback)
    assert Path(result["segment:mask"]).is_file() and _mask_classes(out / "mask.tif")
    assert (out / "m.glnet" / "manifest.json").is_file()
    log = "\n".join(feedback.infos)
    assert "Writing the label polygons" in log and "m.ckpt.labels.gpkg" in log
    # The written GeoPackage is gone once training finished; only the outputs remain.
    assert not list(out.glob("*.labels.gpkg")) and {"m.ckpt", "m.glnet", "mask.tif"} <= {p.name for p in out.iterdir()}
    # Progress rose through the epochs to the end.
    assert feedback.progress and max(feedback.progress) == 100 and feedback.progress == sorted(feedback.progress)


def _running_with(text: str) -> List[int]:
    """Process ids whose command line mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def test_cancel_stops_the_child_keeps_the_checkpoint_and_resume_finishes(qgis_app, labelled_scene, tmp_path, training_python):
    """Cancel after the first epoch line, then RESUME; the labels come from a filtered layer (so a written copy)."""
    import processing
    from qgis.core import QgsVectorLayer

    training_python(str(VENV))
    layer = QgsVectorLayer(f"{labelled_scene['polygons']}|layername=landcover", "labels", "ogr")
    assert layer.setSubsetString('"class_id" >= 0') and layer.featureCount() > 0
    out = tmp_path / "out"
    params = _params(labelled_scene, out, LABELS=layer, STAGE="global", EPOCHS="3", VAL_FRACTION=0.0)
    feedback = Recorder(cancel_on="global epoch 1/3")
    message = _error_of(params, feedback)
    assert message.startswith("Cancelled; ") and str(out / "model.ckpt") in message and "RESUME" in message
    assert not _running_with(str(out / "model.ckpt")), "the training child is still running"
    assert (out / "model.ckpt").is_file() and not (out / "model.glnet").exists()
    # The copy of the labels stays for the resumed run.
    assert (out / "model.ckpt.labels.gpkg").is_file()
    log = "\n".join(feedback.infos)
    assert "global epoch 1/3" in log and "global epoch 3/3" not in log

    feedback = Recorder()
    result = processing.run("glnet:train", {**params, "RESUME": True}, feedback=feedback)
    log = "\n".join(feedback.infos)
    assert len(feedback.commands) == 2 and " train --resume --out " in feedback.commands[0]
    # The resumed run continues after the saved epoch and ends with the third.
    assert "stage global: 3 epochs from epoch 2" in log and "global epoch 3/3" in log and "global epoch 1/3" not in log
    assert Path(result["MANIFEST"]).is_file()
    assert not (out / "model.ckpt.labels.gpkg").exists()


# ----------------------------------------------------------------------------- errors, one line each


def test_without_an_environment_the_error_says_how_to_make_one(qgis_app, labelled_scene, tmp_path, training_python):
    from glnet.glnet_plugin.algorithms.train import setup_instructions

    training_python("")
    message = _error_of(_params(labelled_scene, tmp_path))
    assert message == setup_instructions()
    # The checkout's own folder: 'glnet' alone on PyPI is another project.
    assert f"python3 -m venv ~/glnet-train && ~/glnet-train/bin/pip install torch==2.13.0 '{REPO}[train]' ;" in message
    assert "Settings > Options > Processing > Providers > GLNet land cover > Python environment for training" in message
    assert "GLNET_TRAIN_PYTHON" in message
    assert not (tmp_path / "model.ckpt").exists()


def test_a_wrong_environment_is_one_line(qgis_app, labelled_scene, tmp_path, training_python):
    # A real Python without torch: QGIS's own.
    training_python("/usr/bin/python3")
    message = _error_of(_params(labelled_scene, tmp_path))
    assert "/usr/bin/python3" in message and "cannot import torch" in message and "No module named 'torch'" in message
    # A folder that is not a virtual environment; the variable is the fallback when the setting is empty.
    training_python("")
    os.environ["GLNET_TRAIN_PYTHON"] = str(tmp_path)
    try:
        message = _error_of(_params(labelled_scene, tmp_path / "out"))
    finally:
        del os.environ["GLNET_TRAIN_PYTHON"]
    assert str(tmp_path) in message and "not a virtual environment" in message


def test_the_setting_is_where_the_message_says_and_refuses_a_path_without_python(qgis_app, tmp_path, training_python):
    from processing.core.ProcessingConfig import ProcessingConfig
    from processing.gui.ConfigDialog import ConfigOptionsPage

    from glnet.glnet_plugin.algorithms.train import TRAIN_PYTHON_SETTING

    setting = ProcessingConfig.settings[TRAIN_PYTHON_SETTING]
    assert setting.group == "GLNet land cover" and setting.description == "Python environment for training"
    # The Processing page of Settings > Options, as the desktop builds it.
    tree = ConfigOptionsPage(None).config_widget.model
    paths: List[List[str]] = []

    def walk(item, path: List[str]) -> None:
        for row in range(item.rowCount()):
            child = item.child(row, 0)
            paths.append(path + [child.text()])
            walk(child, path + [child.text()])

    walk(tree.invisibleRootItem(), [])
    assert ["Providers", "GLNet land cover", "Python environment for training"] in paths
    with pytest.raises(ValueError, match="does not exist"):
        training_python(str(tmp_path / "nowhere"))
    # A virtual environment's folder, or its interpreter.
    for value in (VENV, VENV / "bin" / "python"):
        training_python(str(value))
        assert ProcessingConfig.getSetting(TRAIN_PYTHON_SETTING) == str(value)


def test_the_childs_error_line_surfaces(qgis_app, labelled_scene, tmp_path, training_python):
    """A class table the field's values are not in, and a field the child does not find: the command line's own line."""
    import processing
    from qgis.core import QgsField, QgsProcessingException, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    training_python(str(VENV))
    message = _error_of(_params(labelled_scene, tmp_path / "a", CLASSES="inria"))
    assert "class_name" in message and "neither a class name" in message and not message.startswith("glnet: error")
    assert not (tmp_path / "a" / "model.ckpt").exists()

    # A field QGIS sees (a virtual field of the project's layer) but the file does not hold.
    layer = QgsVectorLayer(f"{labelled_scene['polygons']}|layername=landcover", "labels", "ogr")
    layer.addExpressionField('"class_name"', QgsField("kind", QVariant.String))
    with pytest.raises(QgsProcessingException) as exc:
        processing.run("glnet:train", _params(labelled_scene, tmp_path / "b", LABELS=layer, LABEL_FIELD="kind"),
                       feedback=Recorder())
    message = str(exc.value)
    assert "\n" not in message and "'kind'" in message and "class_name" in message


def test_bad_parameter_values_are_one_line(qgis_app, labelled_scene, tmp_path, training_python):
    from qgis.core import QgsApplication, QgsProcessingContext

    training_python(str(VENV))
    alg = QgsApplication.processingRegistry().createAlgorithmById("glnet:train")
    # The dialog's check (checkParameterValues), by the rule of --epochs.
    ok, message = alg.checkParameterValues(_params(labelled_scene, tmp_path, EPOCHS="two"), QgsProcessingContext())
    assert not ok and message.startswith("Epochs") and "(EPOCHS): expected a whole number, got 'two'" in message
    ok, message = alg.checkParameterValues(_params(labelled_scene, tmp_path, EPOCHS="1,2"), QgsProcessingContext())
    assert not ok and "(EPOCHS): expected 1 or 3 values, got 2" in message and "\n" not in message
    # Three counts with one stage: the command line's own rule, before anything starts.
    message = _error_of(_params(labelled_scene, tmp_path, STAGE="global", EPOCHS="1,2,3"))
    assert "epochs" in message and not (tmp_path / "model.ckpt").exists()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine", encoding="utf-8")
    message = _error_of(_params(labelled_scene, tmp_path, BUNDLE=str(occupied)))
    assert str(occupied) in message and "not a model bundle" in message
    assert (occupied / "notes.txt").read_text(encoding="utf-8") == "mine" and not (tmp_path / "model.ckpt").exists()
