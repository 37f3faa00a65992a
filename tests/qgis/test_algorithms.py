"""The glnet Processing algorithms in real QGIS 3.22: outputs, styles, cancellation, errors, qgis_process.

Every run is real: QGIS's own Python and Processing framework, the system's
rasterio/geopandas, onnxruntime from the plugin's private folder, the real
RGBA orthophoto and a tiny random-weights bundle. Algorithms run the way the
Toolbox runs them (``processing.run``; ``processing.runAndLoadResults``,
which loads the outputs into the project and applies the layer
post-processors exactly as the Toolbox dialog does) and headless through
``qgis_process.bin``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from conftest import recording_feedback

ALGORITHM_IDS = ["glnet:evaluate", "glnet:model_info", "glnet:segment", "glnet:train", "glnet:vectorize", "glnet:zonal_stats"]

# The parameters issue #7 names for glnet:segment, in dialog order.
SEGMENT_PARAMETERS = ["INPUT", "MODEL", "MODE", "DEVICE", "BANDS", "MIN_AREA", "SIMPLIFY", "DASK_SCHEDULER",
                      "OUTPUT_MASK", "OUTPUT_VECTOR", "OUTPUT_CONFIDENCE"]


# ----------------------------------------------------------------------------- helpers


def _run(alg_id: str, params: Dict[str, Any], feedback=None) -> Dict[str, Any]:
    import processing

    return processing.run(alg_id, params, feedback=feedback or recording_feedback())


def _core_message(func, *args, **kwargs) -> str:
    """The one-line message glnet_core itself raises for these arguments."""
    from glnet.glnet_core.errors import GlnetError

    with pytest.raises(GlnetError) as exc:
        func(*args, **kwargs)
    return str(exc.value)


def _bundle_styles(bundle: Path) -> List[Tuple[int, str, str]]:
    """(class id, display label, colour #rrggbb) of every class of the bundle, from its manifest: its legend."""
    from glnet.glnet_core.formats.classes import ClassTable

    table = ClassTable.from_dict(json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["classes"])
    return [(c.id, label, "#{:02x}{:02x}{:02x}".format(*c.colour)) for c, label in zip(table.classes, table.labels)]


def _bundle_names(bundle: Path) -> Dict[int, str]:
    """Class id -> name (identifier) of every class of the bundle, from its manifest."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    return {int(c["id"]): c["name"] for c in manifest["classes"]["classes"]}


def _grid(path: Path) -> Tuple[Any, ...]:
    import rasterio

    with rasterio.open(str(path)) as ds:
        return ds.width, ds.height, ds.crs.to_epsg(), tuple(round(v, 9) for v in ds.transform)[:6]


def _visible_files(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def project():
    """QGIS's project, emptied after the test (runAndLoadResults loads layers into it)."""
    from qgis.core import QgsProject

    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


@pytest.fixture(scope="module")
def segmented(qgis_app, tmp_path_factory, ortho, tiny_bundle) -> Dict[str, Any]:
    """One full glnet:segment run with every output, shared by the output checks."""
    out = tmp_path_factory.mktemp("segment")
    fb = recording_feedback()
    result = _run("glnet:segment", {
        "INPUT": str(ortho), "MODEL": str(tiny_bundle / "manifest.json"), "MODE": "full", "DEVICE": "cpu",
        "OUTPUT_MASK": str(out / "mask.tif"), "OUTPUT_VECTOR": str(out / "poly.gpkg"),
        "OUTPUT_CONFIDENCE": str(out / "conf.tif"),
    }, fb)
    return {"result": result, "feedback": fb, "out": out}


# ----------------------------------------------------------------------------- provider


def test_provider_lists_the_algorithms_with_stable_ids(qgis_app):
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("glnet")
    assert provider.name() and not provider.icon().isNull()
    algs = {a.id(): a for a in provider.algorithms()}
    assert sorted(algs) == ALGORITHM_IDS
    for alg_id, alg in algs.items():
        assert alg.name() == alg_id.split(":")[1] and alg.displayName() and alg.group() and alg.groupId().islower()
        copy = alg.create()
        assert type(copy) is type(alg) and copy.id() == alg_id
        help_text = alg.shortHelpString()
        assert "README" in help_text and alg.helpUrl() in help_text and alg.helpUrl().startswith(("https://", "file://"))
        for param in alg.parameterDefinitions():
            assert param.name().isupper() and param.description(), (alg_id, param.name())
    # Outputs are files glnet_core writes: GeoTIFF rasters, its vector formats.
    assert provider.supportedOutputRasterLayerExtensions() == ["tif"]
    assert {"gpkg", "shp", "geojson", "fgb", "csv"} <= set(provider.supportedOutputVectorLayerExtensions())
    assert not provider.supportsNonFileBasedOutput()


def test_segment_parameters_as_the_issue_names_them(qgis_app):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById("glnet:segment")
    params = {p.name(): p for p in alg.parameterDefinitions()}
    assert list(params) == SEGMENT_PARAMETERS
    assert params["MODE"].options() == ["full", "g2l"] and params["MODE"].usesStaticStrings()
    assert params["DEVICE"].options() == ["auto", "cpu", "cuda"] and params["DEVICE"].defaultValue() == "auto"
    assert params["BANDS"].allowMultiple() and params["BANDS"].parentLayerParameterName() == "INPUT"
    optional = {name for name, p in params.items() if p.flags() & p.FlagOptional}
    assert optional == {"BANDS", "DASK_SCHEDULER", "OUTPUT_VECTOR", "OUTPUT_CONFIDENCE"}
    assert params["OUTPUT_MASK"].type() == "rasterDestination"
    assert params["OUTPUT_VECTOR"].type() == "vectorDestination"
    assert params["OUTPUT_CONFIDENCE"].type() == "rasterDestination"


def test_every_plugin_text_is_a_translatable_literal():
    """The translation extractor finds every tr() text; a tr(variable) would make it raise."""
    import importlib.util
    import sys

    from glnet.glnet_plugin.i18n import I18N_DIR

    spec = importlib.util.spec_from_file_location("glnet_refresh_translations", I18N_DIR / "refresh_translations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    messages = module.collect_messages()
    for text in ("Segment land cover (GLNet)", "Land-cover mask", "Cancelled; no output was written.",
                 "Model bundle information", "Land-cover areas per zone"):
        assert text in messages


def test_dialogs_build_for_every_algorithm(qgis_app):
    """The Toolbox dialog (what the menu entry and toolbar button open) and the batch dialog, offscreen."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    for alg_id in ALGORITHM_IDS:
        dialog = AlgorithmDialog(registry.createAlgorithmById(alg_id))
        panel = dialog.mainWidget()
        visible = [p.name() for p in dialog.algorithm().parameterDefinitions()]
        assert set(visible) <= set(panel.wrappers), (alg_id, visible)
        batch = BatchAlgorithmDialog(registry.createAlgorithmById(alg_id))
        assert batch.mainWidget().tblParameters.columnCount() == len(visible)


def test_batch_mode_runs_each_row_and_styles_its_outputs(qgis_app, project, tmp_path, ortho, tiny_bundle):
    """Processing's own batch dialog: two rows (full and g2l), outputs loaded and styled."""
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from processing.tools import dataobjects
    from qgis.core import QgsApplication, QgsProject

    dialog = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("glnet:segment"))
    panel = dialog.mainWidget()
    context = dataobjects.createContext()
    while panel.batchRowCount() < 2:
        panel.addRow()
    for row, mode in enumerate(["full", "g2l"]):
        wrappers = panel.wrappers[row]
        wrappers[panel.parameter_to_column["INPUT"]].setParameterValue(str(ortho), context)
        wrappers[panel.parameter_to_column["MODEL"]].setParameterValue(str(tiny_bundle / "manifest.json"), context)
        wrappers[panel.parameter_to_column["MODE"]].setParameterValue(mode, context)
        # Row 0 of the table is the "fill down" row; batch row N is table row N + 1.
        panel.tblParameters.cellWidget(row + 1, panel.parameter_to_column["OUTPUT_MASK"]).setValue(str(tmp_path / f"{mode}.tif"))
    panel.checkLoadLayersOnCompletion.setChecked(True)
    dialog.runAlgorithm()
    assert _visible_files(tmp_path) == ["full.qml", "full.tif", "full.tif.aux.xml", "g2l.qml", "g2l.tif", "g2l.tif.aux.xml"]
    expected = _bundle_styles(tiny_bundle)
    layers = sorted(QgsProject.instance().mapLayers().values(), key=lambda layer: layer.source())
    assert [Path(layer.source()).name for layer in layers] == ["full.tif", "g2l.tif"]
    for layer in layers:
        assert [(int(c.value), c.label, c.color.name()) for c in layer.renderer().classes()] == expected


# ----------------------------------------------------------------------------- segment


def test_segment_outputs_on_the_input_grid(segmented, ortho, tiny_bundle):
    result, out = segmented["result"], segmented["out"]
    assert result["OUTPUT_MASK"] == str(out / "mask.tif")
    assert result["OUTPUT_CONFIDENCE"] == str(out / "conf.tif")
    assert result["OUTPUT_VECTOR"] == str(out / "poly.gpkg")
    grid = _grid(ortho)
    assert grid[2] == 32633
    assert _grid(out / "mask.tif") == grid
    assert _grid(out / "conf.tif") == grid

    import numpy as np
    import rasterio

    with rasterio.open(str(ortho)) as src, rasterio.open(str(out / "mask.tif")) as mask:
        alpha = src.read(4)
        classes = mask.read(1)
        assert mask.nodata == 255
    # Transparent pixels are nodata; every other pixel holds a class of the bundle.
    assert np.array_equal(classes == 255, alpha == 0)
    assert set(np.unique(classes[alpha > 0]).tolist()) <= set(range(len(_bundle_styles(tiny_bundle))))


def test_segment_polygons_carry_the_bundle_classes(segmented, tiny_bundle):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(segmented["result"]["OUTPUT_VECTOR"], "poly", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32633"
    assert {"class_id", "class_name", "area_m2", "confidence"} <= set(layer.fields().names())
    names = _bundle_names(tiny_bundle)
    features = list(layer.getFeatures())
    assert features
    total = 0.0
    for f in features:
        assert f["class_name"] == names[f["class_id"]]
        assert f["area_m2"] == pytest.approx(f.geometry().area(), rel=1e-6)  # UTM: planar areas
        assert 0 <= f["confidence"] <= 100
        total += f["area_m2"]
    import numpy as np
    import rasterio

    with rasterio.open(segmented["result"]["OUTPUT_MASK"]) as mask:
        valid = int(np.count_nonzero(mask.read(1) != 255))
        pixel_area = abs(mask.transform.a * mask.transform.e)
    assert total == pytest.approx(valid * pixel_area, rel=1e-6)


def test_segment_reports_progress_and_providers(segmented):
    fb, result = segmented["feedback"], segmented["result"]
    assert fb.progress and fb.progress == sorted(fb.progress) and fb.progress[-1] == pytest.approx(100.0)
    assert result["PROVIDERS"] == "CPUExecutionProvider"
    assert "onnxruntime providers: CPUExecutionProvider" in fb.infos
    assert any("CPUExecutionProvider" in line and line.startswith("Done:") for line in fb.infos)


def test_loaded_outputs_are_styled_by_class(qgis_app, project, tmp_path, ortho, tiny_bundle):
    """As the Toolbox loads them: the mask paletted with class names, the polygons categorised by class.

    The polygons go to a Shapefile, which (unlike a GeoPackage) carries no
    default style of its own: the categories come from the post-processor.
    """
    import processing
    from qgis.core import QgsProject

    result = processing.runAndLoadResults("glnet:segment", {
        "INPUT": str(ortho), "MODEL": str(tiny_bundle), "MODE": "g2l",
        "OUTPUT_MASK": str(tmp_path / "mask.tif"), "OUTPUT_VECTOR": str(tmp_path / "poly.shp"),
    }, feedback=recording_feedback())
    expected = _bundle_styles(tiny_bundle)
    layers = {Path(layer.source().split("|")[0]).name: layer for layer in QgsProject.instance().mapLayers().values()}
    assert set(layers) == {"mask.tif", "poly.shp"}, result

    mask = layers["mask.tif"].renderer()
    assert mask.type() == "paletted" and mask.band() == 1
    # Exactly the bundle's classes (QGIS's own reading of the colour table would list 256 entries).
    assert [(int(c.value), c.label, c.color.name()) for c in mask.classes()] == expected

    polygons = layers["poly.shp"].renderer()
    assert polygons.type() == "categorizedSymbol" and polygons.classAttribute() == "class_id"
    assert [(int(c.value()), c.label(), c.symbol().color().name()) for c in polygons.categories()] == expected


def test_model_outputs_are_styled_too(qgis_app, project, tmp_path, ortho, tiny_bundle):
    """glnet:segment as a child of a graphical model whose outputs are the model's: loaded styled."""
    import processing
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterRasterLayer,
        QgsProject,
    )
    from qgis.core import (
        QgsProcessingModelChildParameterSource as Source,
    )

    model = QgsProcessingModelAlgorithm("styled", "glnet tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("image", "Image"), QgsProcessingModelParameter("image"))
    child = QgsProcessingModelChildAlgorithm("glnet:segment")
    child.setChildId("segment")
    child.addParameterSources("INPUT", [Source.fromModelParameter("image")])
    child.addParameterSources("MODEL", [Source.fromStaticValue(str(tiny_bundle))])
    child.addParameterSources("MODE", [Source.fromStaticValue("g2l")])
    outputs = {}
    for name, child_output in (("mask", "OUTPUT_MASK"), ("polygons", "OUTPUT_VECTOR")):
        out = QgsProcessingModelOutput(name, name)
        out.setChildId("segment")
        out.setChildOutputName(child_output)
        outputs[name] = out
    child.setModelOutputs(outputs)
    model.addChildAlgorithm(child)
    model.updateDestinationParameters()

    processing.runAndLoadResults(model, {"image": str(ortho), "segment:mask": str(tmp_path / "mask.tif"),
                                         "segment:polygons": str(tmp_path / "poly.shp")}, feedback=recording_feedback())
    expected = _bundle_styles(tiny_bundle)
    layers = {Path(layer.source().split("|")[0]).name: layer for layer in QgsProject.instance().mapLayers().values()}
    assert set(layers) == {"mask.tif", "poly.shp"}
    assert [(int(c.value), c.label, c.color.name()) for c in layers["mask.tif"].renderer().classes()] == expected
    polygons = layers["poly.shp"].renderer()
    assert polygons.type() == "categorizedSymbol"
    assert [(int(c.value()), c.label(), c.symbol().color().name()) for c in polygons.categories()] == expected


def test_g2l_mode_bands_and_device(qgis_app, tmp_path, ortho, tiny_bundle):
    """MODE, BANDS and DEVICE reach glnet_core: explicit bands 1,2,3 give the default's mask."""
    import numpy as np
    import rasterio

    from glnet.glnet_core.engine.runtime import providers_for

    base = {"INPUT": str(ortho), "MODEL": str(tiny_bundle), "MODE": "g2l"}
    _run("glnet:segment", dict(base, OUTPUT_MASK=str(tmp_path / "a.tif")))
    _run("glnet:segment", dict(base, BANDS=[1, 2, 3], OUTPUT_MASK=str(tmp_path / "b.tif")))
    with rasterio.open(str(tmp_path / "a.tif")) as a, rasterio.open(str(tmp_path / "b.tif")) as b:
        assert np.array_equal(a.read(1), b.read(1))
    # Two bands for a three-band model: glnet_core's own message.
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as exc:
        _run("glnet:segment", dict(base, BANDS=[1, 2], OUTPUT_MASK=str(tmp_path / "c.tif")))
    assert "band" in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "c.tif").exists()

    # DEVICE=cuda: an error without CUDA (this machine's onnxruntime is the CPU build), else CUDA runs.
    try:
        providers_for("cuda")
        has_cuda = True
    except Exception as err:  # glnet_core's DeviceError
        has_cuda, message = False, str(err)
    if has_cuda:
        result = _run("glnet:segment", dict(base, DEVICE="cuda", OUTPUT_MASK=str(tmp_path / "d.tif")))
        assert "CUDAExecutionProvider" in result["PROVIDERS"]
    else:
        with pytest.raises(QgsProcessingException) as exc:
            _run("glnet:segment", dict(base, DEVICE="cuda", OUTPUT_MASK=str(tmp_path / "d.tif")))
        assert str(exc.value) == message
        assert not (tmp_path / "d.tif").exists()


def test_cancel_mid_run_leaves_nothing(qgis_app, tmp_path, ortho, tiny_bundle):
    from qgis.core import QgsProcessingException

    out = tmp_path / "out"
    out.mkdir()
    fb = recording_feedback(cancel_after_progress=True)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        _run("glnet:segment", {
            "INPUT": str(ortho), "MODEL": str(tiny_bundle), "OUTPUT_MASK": str(out / "mask.tif"),
            "OUTPUT_VECTOR": str(out / "poly.gpkg"), "OUTPUT_CONFIDENCE": str(out / "conf.tif"),
        }, fb)
    # It stopped promptly: at the first patch after the cancel, long before the end.
    assert fb.isCanceled() and max(fb.progress) < 50
    # Not even hidden part files or a resume state are left.
    assert _visible_files(out) == []


def test_bad_inputs_give_glnet_cores_one_line_message(qgis_app, tmp_path, ortho, tiny_bundle):
    from qgis.core import QgsProcessingException

    from glnet.glnet_core.engine.bundle import load_bundle
    from glnet.glnet_core.products.vectorize import vectorize

    not_a_bundle = tmp_path / "model.zip"
    not_a_bundle.write_text("not a zip", encoding="utf-8")
    with pytest.raises(QgsProcessingException) as exc:
        _run("glnet:segment", {"INPUT": str(ortho), "MODEL": str(not_a_bundle), "OUTPUT_MASK": str(tmp_path / "m.tif")})
    assert str(exc.value) == _core_message(load_bundle, str(not_a_bundle))
    assert "\n" not in str(exc.value)

    # A four-band photo is not a class mask.
    with pytest.raises(QgsProcessingException) as exc:
        _run("glnet:vectorize", {"INPUT": str(ortho), "OUTPUT": str(tmp_path / "p.gpkg")})
    assert str(exc.value) == _core_message(vectorize, str(ortho), tmp_path / "q.gpkg")
    assert _visible_files(tmp_path) == ["model.zip"]


# ----------------------------------------------------------------------------- bad values: the command line's rules


def _algorithm(alg_id: str):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    assert alg is not None, alg_id
    return alg


@pytest.mark.parametrize("alg_id", ["glnet:segment", "glnet:vectorize"])
@pytest.mark.parametrize(
    "name, value, message",
    [
        ("MIN_AREA", "nan", "must be a finite number, got nan"),
        ("MIN_AREA", "inf", "must be a finite number, got inf"),
        ("MIN_AREA", 1e300, "must be at most 5.1e+14, got 1e+300"),
        ("MIN_AREA", -1.0, "must be at least 0, got -1"),
        ("SIMPLIFY", "nan", "must be a finite number, got nan"),
        ("SIMPLIFY", -0.5, "must be at least 0, got -0.5"),
    ],
)
def test_bad_numbers_are_refused_by_the_command_lines_rule(qgis_app, tmp_path, ortho, tiny_bundle, alg_id, name, value, message):
    from qgis.core import QgsProcessingContext, QgsProcessingException

    from glnet.glnet_core.option_rules import MIN_AREA, SIMPLIFY

    rule = {"MIN_AREA": MIN_AREA, "SIMPLIFY": SIMPLIFY}[name]
    alg = _algorithm(alg_id)
    params = {"INPUT": str(ortho), "MODEL": str(tiny_bundle / "manifest.json"), name: value,
              "OUTPUT_MASK": str(tmp_path / "m.tif"), "OUTPUT": str(tmp_path / "p.gpkg")}
    label = f"{alg.parameterDefinition(name).description()} ({name})"
    # The dialog's check (and qgis_process's): one line, the rule's own message.
    ok, text = alg.checkParameterValues(params, QgsProcessingContext())
    assert not ok and text == f"{label}: {message}"
    with pytest.raises(Exception) as caught:
        rule.check(float(value), name=label)
    assert str(caught.value) == text
    # A run (processing.run, models, scripts) stops before any work, writing nothing.
    with pytest.raises(QgsProcessingException) as exc:
        _run(alg_id, params)
    assert text in str(exc.value)
    assert _visible_files(tmp_path) == []


def test_a_run_that_skips_the_dialogs_check_is_refused_too(qgis_app, tmp_path, ortho, tiny_bundle):
    # Scripts may call processAlgorithm without checkParameterValues: the same check runs first.
    from qgis.core import QgsProcessingContext, QgsProcessingException

    alg = _algorithm("glnet:segment").createInstance()
    alg.initAlgorithm()
    params = {"INPUT": str(ortho), "MODEL": str(tiny_bundle / "manifest.json"), "MIN_AREA": float("inf"),
              "OUTPUT_MASK": str(tmp_path / "m.tif")}
    with pytest.raises(QgsProcessingException) as exc:
        alg.processAlgorithm(params, QgsProcessingContext(), recording_feedback())
    assert str(exc.value).endswith("(MIN_AREA): must be a finite number, got inf")
    assert _visible_files(tmp_path) == []


def test_number_parameters_have_the_rules_bounds(qgis_app):
    from glnet.glnet_core.option_rules import MIN_AREA, SIMPLIFY

    for alg_id in ("glnet:segment", "glnet:vectorize"):
        alg = _algorithm(alg_id)
        for name, rule in (("MIN_AREA", MIN_AREA), ("SIMPLIFY", SIMPLIFY)):
            definition = alg.parameterDefinition(name)
            assert (definition.minimum(), definition.maximum()) == (rule.minimum, rule.maximum), (alg_id, name)
            assert alg.NUMBER_RULES[name] is rule


def test_good_numbers_pass_the_rules(qgis_app, tmp_path, ortho, tiny_bundle):
    from qgis.core import QgsProcessingContext

    alg = _algorithm("glnet:segment")
    params = {"INPUT": str(ortho), "MODEL": str(tiny_bundle / "manifest.json"), "MIN_AREA": 0.25, "SIMPLIFY": 1,
              "OUTPUT_MASK": str(tmp_path / "m.tif")}
    assert alg.checkParameterValues(params, QgsProcessingContext()) == (True, "")


@pytest.mark.parametrize("alg_id", ["glnet:evaluate", "glnet:zonal_stats"])
@pytest.mark.parametrize("count, message", [("100000000", "must be at most 255, got 100000000"), ("1", "must be at least 2, got 1")])
def test_a_class_count_is_bounded_before_a_table_is_built(qgis_app, tmp_path, ortho, alg_id, count, message):
    from qgis.core import QgsProcessingContext, QgsProcessingException

    alg = _algorithm(alg_id)
    params = {"INPUT": str(ortho), "REFERENCE": str(ortho), "ZONES": str(ortho), "ZONE_FIELD": "id",
              "CLASSES": count, "OUTPUT": str(tmp_path / "s.csv")}
    label = f"{alg.parameterDefinition('CLASSES').description()} (CLASSES)"
    ok, text = alg.checkParameterValues(params, QgsProcessingContext())
    assert not ok and text == f"{label}: a class count {message}"
    with pytest.raises(QgsProcessingException) as exc:
        _run(alg_id, params)
    assert text in str(exc.value) and _visible_files(tmp_path) == []


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_device_as_input_is_refused_at_once(qgis_app, tmp_path, ortho, tiny_bundle, kind):
    import os

    from qgis.core import QgsProcessingContext, QgsProcessingException

    if kind == "fifo":
        bad = tmp_path / "model.zip"
        os.mkfifo(bad)
        what = "a named pipe (FIFO)"
    else:
        bad = tmp_path / "zero.zip"
        os.symlink("/dev/zero", bad)  # through a link: /dev/zero itself
        what = "a character device"
    params = {"INPUT": str(ortho), "MODEL": str(bad), "OUTPUT_MASK": str(tmp_path / "m.tif")}
    ok, text = _algorithm("glnet:segment").checkParameterValues(params, QgsProcessingContext())
    assert not ok and text.endswith(f"(MODEL): {bad} is {what}, not a regular file"), text
    with pytest.raises(QgsProcessingException) as exc:
        _run("glnet:segment", params)
    assert f"{bad} is {what}, not a regular file" in str(exc.value)
    # The raster input too, before QGIS tries to load it as a layer.
    params = {"INPUT": str(bad), "MODEL": str(tiny_bundle / "manifest.json"), "OUTPUT_MASK": str(tmp_path / "m.tif")}
    ok, text = _algorithm("glnet:segment").checkParameterValues(params, QgsProcessingContext())
    assert not ok and f"(INPUT): {bad} is {what}" in text
    assert sorted(_visible_files(tmp_path)) == [bad.name]


# ----------------------------------------------------------------------------- vectorize, evaluate, zonal_stats


def test_vectorize_mask_with_minimum_mapping_unit(qgis_app, project, segmented, tmp_path, tiny_bundle):
    import processing
    from qgis.core import QgsProject, QgsVectorLayer

    mask = segmented["result"]["OUTPUT_MASK"]
    fb = recording_feedback()
    result = processing.runAndLoadResults("glnet:vectorize", {
        "INPUT": mask, "CONFIDENCE": segmented["result"]["OUTPUT_CONFIDENCE"], "MIN_AREA": 0.5,
        "OUTPUT": str(tmp_path / "poly.fgb"),
    }, feedback=fb)
    layer = QgsVectorLayer(str(tmp_path / "poly.fgb"), "poly", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32633"
    assert result["COUNT"] == layer.featureCount() > 0
    names = _bundle_names(tiny_bundle)
    # Names and colours from what glnet wrote into the mask (no bundle given).
    for f in layer.getFeatures():
        assert f["class_name"] == names[f["class_id"]] and f["area_m2"] >= 0.5
    loaded = [lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.source().startswith(str(tmp_path))]
    assert len(loaded) == 1
    renderer = loaded[0].renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "class_id"
    assert [(int(c.value()), c.label(), c.symbol().color().name()) for c in renderer.categories()] == _bundle_styles(tiny_bundle)
    assert fb.progress[-1] == pytest.approx(100.0)


def test_save_to_geopackage_with_a_layer_name(qgis_app, segmented, tmp_path):
    """The destination widget's "Save to GeoPackage" gives an ogr: URI naming the layer."""
    from qgis.core import QgsVectorLayer

    gpkg = tmp_path / "landcover.gpkg"
    destination = f"ogr:dbname='{gpkg}' table=\"polygons\" (geom)"
    result = _run("glnet:vectorize", {"INPUT": segmented["result"]["OUTPUT_MASK"], "OUTPUT": destination})
    assert result["OUTPUT"] == destination
    layer = QgsVectorLayer(f"{gpkg}|layername=polygons", "polygons", "ogr")
    assert layer.isValid() and layer.featureCount() == result["COUNT"] > 0
    # The GeoPackage's default style is stored for that layer name.
    assert layer.renderer().type() == "categorizedSymbol"


def test_evaluate_against_raster_and_vector_references(qgis_app, segmented, tmp_path):
    """Scores against a raster reference that differs on the left half, and against the mask's own polygons.

    The class table is given as "7" (seven plain classes): the tiny random
    model may predict DeepGlobe's ignored 'unknown' class everywhere.
    """
    import numpy as np
    import rasterio

    from glnet.glnet_core.products.evaluate import evaluate

    result = segmented["result"]
    with rasterio.open(result["OUTPUT_MASK"]) as src:
        profile, mask = src.profile, src.read(1)
    ref = mask.copy()
    half = ref.shape[1] // 2
    ref[:, :half] = np.where(ref[:, :half] == 255, 255, (ref[:, :half].astype(int) + 1) % 7)
    ref_path = tmp_path / "ref.tif"
    with rasterio.open(str(ref_path), "w", **profile) as dst:
        dst.write(ref, 1)
    valid = mask != 255

    fb = recording_feedback()
    scores = _run("glnet:evaluate", {"INPUT": result["OUTPUT_MASK"], "REFERENCE": str(ref_path), "CLASSES": "7",
                                     "OUTPUT_JSON": str(tmp_path / "scores.json")}, fb)
    expected_oa = np.count_nonzero((mask == ref) & valid) / np.count_nonzero(valid)
    assert 0.3 < expected_oa < 0.7 and scores["OVERALL_ACCURACY"] == pytest.approx(expected_oa)
    core = evaluate(result["OUTPUT_MASK"], ref_path, classes="7")
    assert scores["MIOU"] == pytest.approx(core.metrics["miou"])
    data = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(core.to_dict()))
    assert data["pixels_evaluated"] == scores["PIXELS"] == np.count_nonzero(valid)
    assert any(line.startswith("mIoU") for line in fb.infos)  # glnet_core's report in the log

    # A GeoPackage layer as QGIS names it (path|layername=...), classes by id.
    vector = f"{result['OUTPUT_VECTOR']}|layername=poly"
    by_vector = _run("glnet:evaluate", {"INPUT": result["OUTPUT_MASK"], "REFERENCE": vector, "REF_FIELD": "class_id",
                                        "CLASSES": "7"})
    assert by_vector["OVERALL_ACCURACY"] == pytest.approx(1.0)
    assert by_vector["PIXELS"] == scores["PIXELS"]


def test_zonal_stats_from_a_memory_layer(qgis_app, segmented, tmp_path):
    """Zones in a QGIS memory layer (no file) are handed to glnet_core as a GeoPackage."""
    import csv

    import numpy as np
    import rasterio
    from qgis.core import QgsFeature, QgsGeometry, QgsRectangle, QgsVectorLayer

    mask_path = segmented["result"]["OUTPUT_MASK"]
    with rasterio.open(mask_path) as mask:
        b = mask.bounds
        valid = mask.read(1) != 255
        pixel_area = abs(mask.transform.a * mask.transform.e)
    zones = QgsVectorLayer("Polygon?crs=EPSG:32633&field=zone:string", "zones", "memory")
    whole = QgsFeature(zones.fields())
    whole.setGeometry(QgsGeometry.fromRect(QgsRectangle(b.left, b.bottom, b.right, b.top)))
    whole["zone"] = "whole"
    outside = QgsFeature(zones.fields())
    outside.setGeometry(QgsGeometry.fromRect(QgsRectangle(b.right + 10, b.bottom, b.right + 20, b.top)))
    outside["zone"] = "outside"
    assert zones.dataProvider().addFeatures([whole, outside])[0]

    out = tmp_path / "stats.csv"
    result = _run("glnet:zonal_stats", {"INPUT": mask_path, "ZONES": zones, "ZONE_FIELD": "zone", "OUTPUT": str(out)})
    assert result["OUTPUT"] == str(out)
    rows = {r["zone"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"whole", "outside"}
    assert float(rows["whole"]["area_m2"]) == pytest.approx(np.count_nonzero(valid) * pixel_area, rel=1e-9)
    assert float(rows["outside"]["area_m2"]) == 0.0
    shares = [float(v) for k, v in rows["whole"].items() if k.endswith("_share")]
    assert sum(shares) == pytest.approx(1.0)

    gpkg = _run("glnet:zonal_stats", {"INPUT": mask_path, "ZONES": zones, "ZONE_FIELD": "zone",
                                      "OUTPUT": str(tmp_path / "stats.gpkg")})
    layer = QgsVectorLayer(gpkg["OUTPUT"], "stats", "ogr")
    assert layer.isValid() and layer.featureCount() == 2 and layer.crs().authid() == "EPSG:32633"


def test_cancelled_analysis_writes_nothing(qgis_app, segmented, tmp_path):
    from qgis.core import QgsProcessingException, QgsVectorLayer

    mask = segmented["result"]["OUTPUT_MASK"]
    zones = QgsVectorLayer(segmented["result"]["OUTPUT_VECTOR"], "zones", "ogr")
    runs = [
        ("glnet:vectorize", {"INPUT": mask, "OUTPUT": str(tmp_path / "p.gpkg")}),
        ("glnet:evaluate", {"INPUT": mask, "REFERENCE": mask, "OUTPUT_JSON": str(tmp_path / "s.json")}),
        ("glnet:zonal_stats", {"INPUT": mask, "ZONES": zones, "ZONE_FIELD": "class_name", "OUTPUT": str(tmp_path / "z.csv")}),
    ]
    for alg_id, params in runs:
        with pytest.raises(QgsProcessingException, match="Cancelled"):
            _run(alg_id, params, recording_feedback(cancelled=True))
    assert _visible_files(tmp_path) == []


# ----------------------------------------------------------------------------- model_info


def test_model_info_describes_the_bundle(qgis_app, tiny_bundle, tmp_path):
    from qgis.core import QgsProcessingException

    from glnet.glnet_core.engine.bundle import load_bundle

    fb = recording_feedback()
    info = _run("glnet:model_info", {"MODEL": str(tiny_bundle)}, fb)
    names = list(_bundle_names(tiny_bundle).values())
    assert info["CLASSES"] == ", ".join(names) and info["CLASS_COUNT"] == len(names)
    assert info["NAME"] == "tiny" and info["MODES"] == "full, g2l"
    summary = info["SUMMARY"].splitlines()
    assert fb.infos[: len(summary)] == summary
    assert any("checksum OK" in line for line in fb.infos)

    damaged = tmp_path / "damaged.glnet"
    damaged.mkdir()
    for f in tiny_bundle.iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    (damaged / "local.onnx").write_bytes(b"changed")
    with pytest.raises(QgsProcessingException) as exc:
        _run("glnet:model_info", {"MODEL": str(damaged / "manifest.json")})
    assert str(exc.value) == _core_message(load_bundle, damaged)


# ----------------------------------------------------------------------------- headless


def test_qgis_process_segment_end_to_end(qgis_app, qgis_process, tmp_path, ortho, tiny_bundle):
    mask, poly = tmp_path / "mask.tif", tmp_path / "poly.gpkg"
    proc = qgis_process("run", "glnet:segment", "--json", "--", f"INPUT={ortho}", f"MODEL={tiny_bundle}",
                        f"OUTPUT_MASK={mask}", f"OUTPUT_VECTOR={poly}", "MODE=g2l", "MIN_AREA=0.25")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert report["algorithm_details"]["id"] == "glnet:segment"
    results = report["results"]
    assert results["OUTPUT_MASK"] == str(mask) and results["OUTPUT_VECTOR"] == str(poly)
    assert results["PROVIDERS"] == "CPUExecutionProvider"
    assert "onnxruntime providers: CPUExecutionProvider" in report["log"]["info"]
    assert _grid(mask) == _grid(ortho)

    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(str(poly), "poly", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32633" and layer.featureCount() > 0
    # Headless runs load nothing; the GeoPackage's own default style still shows the classes.
    assert layer.renderer().type() == "categorizedSymbol"

    bad = qgis_process("run", "glnet:segment", "--", f"INPUT={ortho}", f"MODEL={tmp_path / 'missing.glnet'}",
                       f"OUTPUT_MASK={tmp_path / 'bad.tif'}")
    assert bad.returncode != 0
    assert f"bundle {tmp_path / 'missing.glnet'}: no such file or folder" in bad.stdout + bad.stderr
    assert not (tmp_path / "bad.tif").exists()
