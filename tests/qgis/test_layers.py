"""glnet's output layers in real QGIS 3.22: how they look and are named, however they are opened.

Files come from real runs: ``qgis_process.bin run glnet:segment`` (headless,
loads nothing) and ``processing.runAndLoadResults`` (loads and styles the
outputs, as the Toolbox does). They are then opened again from disk as a
user would (drag and drop, Add Layer): QgsRasterLayer / QgsVectorLayer with
their default style, which for a mask is the ``NAME.qml`` glnet writes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List

import pytest

#: The outline of light classes (glnet_core.formats.layer_style.DARK_OUTLINE).
LIGHT_OUTLINE = "#232323"


def _expected(bundle: Path) -> List[tuple]:
    """(class id, legend text, #rrggbb) of the bundle's classes, as glnet_core styles them."""
    from glnet.glnet_core.engine.bundle import load_bundle
    from glnet.glnet_core.formats.class_mask import table_styles

    return [(cid, label, "#{:02x}{:02x}{:02x}".format(*rgb)) for cid, label, rgb in table_styles(load_bundle(bundle).classes)]


def _symbology(layer) -> str:
    """The layer's symbology as QGIS writes it (what "Save style" would store)."""
    from qgis.core import QgsMapLayer
    from qgis.PyQt.QtXml import QDomDocument

    doc = QDomDocument()
    layer.exportNamedStyle(doc, categories=QgsMapLayer.Symbology)
    return doc.toString()


@pytest.fixture(scope="module")
def headless(qgis_app, qgis_process, tmp_path_factory, ortho, tiny_bundle) -> Dict[str, Path]:
    """Every output of one ``qgis_process.bin run glnet:segment`` (nothing loaded)."""
    out = tmp_path_factory.mktemp("headless")
    files = {"mask": out / "mask.tif", "poly": out / "poly.gpkg", "conf": out / "conf.tif"}
    proc = qgis_process("run", "glnet:segment", "--", f"INPUT={ortho}", f"MODEL={tiny_bundle}", "MODE=g2l",
                        f"OUTPUT_MASK={files['mask']}", f"OUTPUT_VECTOR={files['poly']}",
                        f"OUTPUT_CONFIDENCE={files['conf']}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return files


@pytest.fixture
def project():
    from qgis.core import QgsProject

    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


def test_a_mask_opened_from_a_file_shows_exactly_the_bundles_classes(headless, tiny_bundle):
    from qgis.core import QgsLayerTreeModel, QgsProject, QgsRasterLayer

    assert sorted(p.name for p in headless["mask"].parent.iterdir()) == [
        "conf.qml", "conf.tif", "mask.qml", "mask.tif", "mask.tif.aux.xml", "poly.gpkg"]
    layer = QgsRasterLayer(str(headless["mask"]), "mask")
    assert layer.isValid()
    renderer = layer.renderer()
    assert renderer.type() == "paletted" and renderer.band() == 1
    # QGIS's own reading of the colour table would list 256 entries.
    assert [(int(c.value), c.label, c.color.name()) for c in renderer.classes()] == _expected(tiny_bundle)
    assert 0.6 <= layer.opacity() <= 0.7
    provider = layer.dataProvider()
    assert provider.useSourceNoDataValue(1) and provider.sourceNoDataValue(1) == 255  # nodata stays transparent
    assert layer.resampleFilter().zoomedInResampler() is None  # nearest neighbour: class ids are never blended

    # The legend a user sees: one entry per class, with its label.
    QgsProject.instance().addMapLayer(layer)
    try:
        model = QgsLayerTreeModel(QgsProject.instance().layerTreeRoot())
        nodes = model.layerLegendNodes(QgsProject.instance().layerTreeRoot().findLayer(layer.id()))
        texts = [n.data(0) for n in nodes]
        # A title ("Band 1: land-cover class (Palette)"), then one entry per class.
        assert texts[0].startswith("Band 1") and texts[1:] == [label for _, label, _ in _expected(tiny_bundle)]
    finally:
        QgsProject.instance().removeMapLayer(layer.id())


def test_the_confidence_raster_opens_as_a_grey_percent_stretch(headless):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(headless["conf"]), "conf")
    renderer = layer.renderer()
    assert renderer.type() == "singlebandgray"
    enhancement = renderer.contrastEnhancement()
    assert (enhancement.minimumValue(), enhancement.maximumValue()) == (0, 100)


def test_polygons_opened_from_a_file_are_see_through_with_visible_outlines(headless, tiny_bundle):
    from qgis.core import Qgis, QgsProviderRegistry, QgsVectorLayer

    # Opened as a file, the GeoPackage's default style is applied. (The 3.22
    # desktop still shows its sublayer chooser first, because it counts the
    # layer_styles system table: tests/qgis/test_gpkg_sublayers.py.)
    sublayers = QgsProviderRegistry.instance().querySublayers(str(headless["poly"]))
    assert [(s.name(), s.providerKey()) for s in sublayers] == [("poly", "ogr")]
    assert sublayers[0].wkbType() == 3  # Polygon: complete details, nothing to resolve by asking
    layer = QgsVectorLayer(str(headless["poly"]), "poly", "ogr")
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "class_id"
    expected = _expected(tiny_bundle)
    # QGIS 3.22 reads a QML category's value as text ("0"); it matches the integer field all the same.
    rows = [(int(c.value()), c.label(), c.symbol().color().name()) for c in renderer.categories()]
    assert rows == expected
    for category, (_, label, colour) in zip(renderer.categories(), expected):
        fill = category.symbol().symbolLayer(0)
        assert fill.color().alpha() == 128, label  # half transparent: the imagery shows through
        outline = fill.strokeColor().name()
        light = label in ("Urban land", "Agriculture land", "Barren land")
        assert outline == (LIGHT_OUTLINE if light else colour), label
        assert fill.strokeColor().alpha() == 255
    assert Qgis.QGIS_VERSION_INT >= 32200


def test_outputs_loaded_by_processing_look_as_the_files_do_and_are_named(qgis_app, project, tmp_path, ortho, tiny_bundle):
    """runAndLoadResults: the post-processor's style equals the file's own; names say what and which model."""
    import processing
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    from glnet.glnet_plugin.styles import bundle_model_name

    # Named after the user's bundle (its file name), not the network configuration inside it ("tiny").
    bundle = tmp_path / "city-2026.glnet"
    shutil.copytree(tiny_bundle, bundle)
    files = {"mask": tmp_path / "mask.tif", "poly": tmp_path / "poly.shp", "conf": tmp_path / "conf.tif"}
    processing.runAndLoadResults("glnet:segment", {
        "INPUT": str(ortho), "MODEL": str(bundle / "manifest.json"), "MODE": "g2l",
        "OUTPUT_MASK": str(files["mask"]), "OUTPUT_VECTOR": str(files["poly"]),
        "OUTPUT_CONFIDENCE": str(files["conf"]),
    })
    assert bundle_model_name(str(bundle)) == bundle_model_name(str(bundle / "manifest.json")) == "city-2026"
    layers = {Path(layer.source().split("|")[0]).name: layer for layer in project.mapLayers().values()}
    assert {name: layer.name() for name, layer in layers.items()} == {
        "mask.tif": "Land-cover mask (city-2026)", "poly.shp": "Land-cover polygons (city-2026)",
        "conf.tif": "Confidence (city-2026)"}

    # The same files opened later (a Shapefile has no default style of its own:
    # the loaded layer's look comes from the post-processor, the same QML).
    assert _symbology(layers["mask.tif"]) == _symbology(QgsRasterLayer(str(files["mask"]), "m"))
    assert _symbology(layers["conf.tif"]) == _symbology(QgsRasterLayer(str(files["conf"]), "c"))
    reopened = QgsVectorLayer(str(files["poly"]), "p", "ogr")
    assert reopened.renderer().type() == "singleSymbol"
    from glnet.glnet_plugin.styles import POLYGONS, apply_style

    assert apply_style(reopened, POLYGONS, [(c, n, tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)))
                                            for c, n, h in _expected(tiny_bundle)])
    assert _symbology(layers["poly.shp"]) == _symbology(reopened)


def test_a_loaded_geopackage_looks_as_the_file_opened_later(qgis_app, project, tmp_path, ortho, tiny_bundle):
    import processing
    from qgis.core import QgsVectorLayer

    poly = tmp_path / "poly.gpkg"
    processing.runAndLoadResults("glnet:segment", {
        "INPUT": str(ortho), "MODEL": str(tiny_bundle), "MODE": "g2l",
        "OUTPUT_MASK": str(tmp_path / "mask.tif"), "OUTPUT_VECTOR": str(poly),
    })
    loaded = [layer for layer in project.mapLayers().values() if isinstance(layer, QgsVectorLayer)]
    assert len(loaded) == 1 and loaded[0].name() == "Land-cover polygons (tiny)"
    assert _symbology(loaded[0]) == _symbology(QgsVectorLayer(str(poly), "p", "ogr"))


def test_vectorize_and_zonal_stats_name_their_layers(qgis_app, project, tmp_path, headless, tiny_bundle):
    import processing
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    mask = QgsRasterLayer(str(headless["mask"]), "my mask")
    project.addMapLayer(mask)
    processing.runAndLoadResults("glnet:vectorize", {"INPUT": mask.id(), "OUTPUT": str(tmp_path / "v.gpkg")})
    processing.runAndLoadResults("glnet:vectorize", {"INPUT": mask.id(), "MODEL": str(tiny_bundle),
                                                     "OUTPUT": str(tmp_path / "w.gpkg")})
    names = sorted(layer.name() for layer in project.mapLayers().values() if isinstance(layer, QgsVectorLayer))
    assert names == ["Land-cover polygons (my mask)", "Land-cover polygons (tiny)"]
    zones = QgsVectorLayer(str(tmp_path / "v.gpkg"), "zones", "ogr")
    project.addMapLayer(zones)
    processing.runAndLoadResults("glnet:zonal_stats", {"INPUT": mask.id(), "ZONES": zones.id(), "ZONE_FIELD": "class_id",
                                                       "OUTPUT": str(tmp_path / "areas.csv")})
    assert "Land-cover areas per zone (my mask)" in [layer.name() for layer in project.mapLayers().values()]
