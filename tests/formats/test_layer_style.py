"""Tests of glnet_core.formats.layer_style (QGIS styles as QML text) and the NAME.qml sidecar of masks.

The QML is parsed back as XML here; that QGIS 3.22 reads it as intended
(paletted classes, opacity, categories) is checked in QGIS itself by
tests/qgis/test_layers.py. The sidecar's life cycle uses the real mask
writer on real GeoTIFFs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.engine.options import OutputOptions
from glnet.glnet_core.errors import OutputPathError, OutputWriteError
from glnet.glnet_core.formats.class_mask import table_styles
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import PRESETS
from glnet.glnet_core.formats.layer_style import (
    DARK_OUTLINE,
    confidence_qml,
    is_light,
    mask_qml,
    outline_colour,
    qml_document,
    qml_sidecar_path,
    relative_luminance,
)
from glnet.glnet_core.formats.output_plan import (
    InputSource,
    OutputTarget,
    check_outputs,
    qml_part_path,
    raster_sidecars,
    related_files,
)

DEEPGLOBE = PRESETS["deepglobe"]
CRS = rasterio.crs.CRS.from_epsg(32633)
TRANSFORM = Affine(0.5, 0.0, 640000.0, 0.0, -0.5, 5800000.0)
STYLES = [(0, "Unknown", (0, 0, 0)), (1, "Urban land", (0, 255, 255)), (6, "Barren land", (255, 255, 255))]


def _xml(qml: str) -> ET.Element:
    head, body = qml.split("\n", 1)
    assert head.startswith("<!DOCTYPE qgis")
    return ET.fromstring(body)


def _writer(path: Path, **kwargs) -> MaskWriter:
    options = dict(width=40, height=30, crs=CRS, transform=TRANSFORM, classes=DEEPGLOBE)
    options.update(kwargs)
    return MaskWriter(path, **options)


def _listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- light colours


def test_light_colours_are_the_ones_a_line_on_white_hides():
    assert relative_luminance((0, 0, 0)) == 0.0 and relative_luminance((255, 255, 255)) == pytest.approx(1.0)
    assert relative_luminance((0, 255, 0)) == pytest.approx(0.7152, abs=1e-4)
    # DeepGlobe: white barren land, yellow agriculture and cyan urban land are light.
    light = {name: is_light(colour) for _, name, colour in table_styles(DEEPGLOBE)}
    assert light == {"Unknown": False, "Urban land": True, "Agriculture land": True, "Rangeland": False,
                     "Forest land": False, "Water": False, "Barren land": True}
    assert not is_light((128, 128, 128)) and is_light((240, 240, 240))


def test_outline_is_the_class_colour_except_for_light_classes():
    assert outline_colour((0, 0, 255)) == (0, 0, 255)
    assert outline_colour((255, 255, 255)) == DARK_OUTLINE
    assert not is_light(DARK_OUTLINE)


# ----------------------------------------------------------------------------- QML documents


def test_mask_qml_lists_exactly_the_classes_semi_transparent():
    root = _xml(mask_qml(STYLES))
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    assert 0.6 <= float(renderer.get("opacity")) <= 0.7
    entries = [(e.get("value"), e.get("label"), e.get("color"), e.get("alpha"))
               for e in renderer.find("colorPalette")]
    assert entries == [("0", "Unknown", "#000000", "255"), ("1", "Urban land", "#00ffff", "255"),
                       ("6", "Barren land", "#ffffff", "255")]
    resampling = root.find("pipe/provider/resampling")
    assert resampling.get("zoomedInResamplingMethod") == resampling.get("zoomedOutResamplingMethod") == "nearestNeighbour"
    assert float(_xml(mask_qml(STYLES, opacity=1)).find("pipe/rasterrenderer").get("opacity")) == 1.0
    with pytest.raises(ValueError, match="opacity"):
        mask_qml(STYLES, opacity=1.5)


def test_mask_qml_escapes_labels():
    root = _xml(mask_qml([(3, 'Wald & "Wiese" <alt>', (1, 2, 3))]))
    assert root.find("pipe/rasterrenderer/colorPalette/paletteEntry").get("label") == 'Wald & "Wiese" <alt>'


def test_polygon_qml_semi_transparent_fills_with_class_outlines():
    root = _xml(qml_document(STYLES))
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "class_id"
    assert [(c.get("value"), c.get("label")) for c in renderer.iter("category")] == [
        ("0", "Unknown"), ("1", "Urban land"), ("6", "Barren land")]
    props = [{o.get("name"): o.get("value") for o in layer.find("Option")} for layer in renderer.iter("layer")]
    assert [p["color"] for p in props] == ["0,0,0,128", "0,255,255,128", "255,255,255,128"]
    assert [p["outline_color"] for p in props] == ["0,0,0,255", "35,35,35,255", "35,35,35,255"]
    # QGIS < 3.26 reads <prop>: the same values.
    legacy = [{p.get("k"): p.get("v") for p in layer.findall("prop")} for layer in renderer.iter("layer")]
    assert legacy == props
    opaque = _xml(qml_document(STYLES, fill_opacity=1.0)).find("renderer-v2")
    assert [o.get("value") for o in opaque.iter("Option") if o.get("name") == "color"][0] == "0,0,0,255"
    with pytest.raises(ValueError, match="fill_opacity"):
        qml_document(STYLES, fill_opacity=-0.1)


def test_confidence_qml_is_a_fixed_grey_stretch():
    renderer = _xml(confidence_qml()).find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandgray" and renderer.get("grayBand") == "1"
    stretch = renderer.find("contrastEnhancement")
    assert (stretch.findtext("minValue"), stretch.findtext("maxValue")) == ("0", "100")


def test_sidecar_names_follow_qgis():
    assert qml_sidecar_path("/d/mask.tif") == Path("/d/mask.qml")
    assert qml_sidecar_path("/d/scene.2024.tif") == Path("/d/scene.2024.qml")  # the last extension only
    assert qml_part_path("/d/mask.tif") == Path("/d/.mask.tif.part.qml")
    assert raster_sidecars("/d/mask.tif") == (Path("/d/mask.tif.aux.xml"), Path("/d/mask.qml"))


# ----------------------------------------------------------------------------- the mask's sidecar


def test_committed_mask_has_its_style_beside_it(tmp_path):
    out = tmp_path / "mask.tif"
    w = _writer(out)
    w.write(0, 0, np.ones((30, 40), np.uint8))
    assert not (tmp_path / "mask.qml").exists(), "nothing visible before the commit"
    w.commit()
    assert _listing(tmp_path) == ["mask.qml", "mask.tif", "mask.tif.aux.xml"]
    assert (tmp_path / "mask.qml").read_text(encoding="utf-8") == mask_qml(table_styles(DEEPGLOBE))
    entries = _xml((tmp_path / "mask.qml").read_text(encoding="utf-8")).find("pipe/rasterrenderer/colorPalette")
    assert len(entries) == len(DEEPGLOBE.classes) == 7


def test_confidence_gets_the_grey_style(tmp_path):
    out = tmp_path / "conf.tif"
    w = _writer(out, kind="confidence", classes=None)
    w.write(0, 0, np.full((30, 40), 80, np.uint8))
    w.commit()
    assert (tmp_path / "conf.qml").read_text(encoding="utf-8") == confidence_qml()


def test_abort_and_interruption_leave_no_style(tmp_path):
    out = tmp_path / "mask.tif"
    w = _writer(out)
    w.write(0, 0, np.ones((30, 40), np.uint8))
    w.abort()
    assert _listing(tmp_path) == []
    # A run left without committing (Ctrl-C) keeps only its hidden part, to resume.
    with _writer(out) as w:
        w.write(0, 0, np.ones((30, 40), np.uint8))
    assert all(name.startswith(".") for name in _listing(tmp_path))
    w = _writer(out, resume=True)
    w.commit()
    assert "mask.qml" in _listing(tmp_path)


def test_a_failed_style_write_commits_nothing(tmp_path):
    out = tmp_path / "mask.tif"
    w = _writer(out)
    w.write(0, 0, np.ones((30, 40), np.uint8))
    qml_part_path(out).mkdir()  # the style's part cannot be written
    with pytest.raises(OutputWriteError, match="mask.tif"):
        w.commit()
    assert not out.exists() and not (tmp_path / "mask.qml").exists()
    w.abort()
    assert _listing(tmp_path) == [], "no part, sidecar or style left"


def test_overwrite_replaces_the_style_and_a_mask_without_classes_drops_it(tmp_path):
    out = tmp_path / "mask.tif"
    (tmp_path / "mask.qml").write_text("old style")
    w = _writer(out, overwrite=True)
    w.commit()
    assert (tmp_path / "mask.qml").read_text(encoding="utf-8").startswith("<!DOCTYPE qgis")
    w = _writer(out, overwrite=True, classes=None)
    w.commit()
    # The old style would describe classes the new mask does not name.
    assert _listing(tmp_path) == ["mask.tif"]


# ----------------------------------------------------------------------------- the output plan


def test_an_existing_style_is_refused_without_overwrite(tmp_path):
    (tmp_path / "mask.qml").write_text("mine")
    with pytest.raises(OutputPathError, match=r"--out-mask: .*mask\.qml \(written beside .*mask\.tif\) already exists"):
        OutputOptions(tmp_path / "mask.tif").check()
    OutputOptions(tmp_path / "mask.tif", overwrite=True).check()
    assert (tmp_path / "mask.qml").read_text() == "mine", "a check writes nothing"


def test_two_outputs_sharing_a_style_name_are_refused(tmp_path):
    with pytest.raises(OutputPathError, match=r"--out-mask and --out-confidence both name .*run\.qml"):
        OutputOptions(tmp_path / "run.tif", tmp_path / "run.tiff").check()


def test_an_output_may_not_replace_an_inputs_style(tmp_path):
    scene = tmp_path / "scene.tiff"
    scene.write_bytes(b"raster")
    assert tmp_path / "scene.qml" in related_files(scene)
    target = OutputTarget(tmp_path / "scene.tif", "--out-mask", sidecars=raster_sidecars(tmp_path / "scene.tif"))
    with pytest.raises(OutputPathError, match=r"scene\.qml \(written beside .*\) is the input raster"):
        check_outputs([target], [InputSource(scene, "the input raster")], overwrite=True)
