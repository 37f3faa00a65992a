"""What the QGIS 3.22 desktop lists when a glnet GeoPackage is opened from a file (issue #17).

The desktop's Add Vector Layer, Open (``QgisApp::openFile``), drag and drop
and ``iface.addVectorLayer`` all ask the OGR provider for the file's sublayers
*with* system tables (``Qgis.SublayerQueryFlag.IncludeSystemTables``) and show
the "Select Items to Add" chooser when it returns more than one. A GeoPackage
that holds a default layer style (the ``layer_styles`` table, as QGIS's own
"Save as default" writes it) therefore always brings the chooser in 3.22;
what glnet can make sure of is that the chooser offers exactly the polygon
layers: ``layer_styles`` is flagged a system table, which the chooser hides
unless "Show system and internal tables" is ticked, and adding the polygons
applies their style. The desktop itself needs a display (Xvfb), which CI has
not: these tests check the query it makes, offscreen.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest


def _sublayers(path: Path) -> List[Tuple[str, bool]]:
    """(name, is a system table) of each entry of the desktop's sublayer query (QgisApp::addVectorLayersPrivate)."""
    from qgis.core import Qgis, QgsProviderRegistry

    ogr = QgsProviderRegistry.instance().providerMetadata("ogr")
    found = ogr.querySublayers(str(path), Qgis.SublayerQueryFlag.IncludeSystemTables)
    return [(d.name(), bool(d.flags() & Qgis.SublayerFlag.SystemTable)) for d in found]


@pytest.fixture(scope="module")
def mask(tmp_path_factory) -> Path:
    """A real 64 x 64 class mask (GeoTIFF, EPSG:32633, 2 m pixels) with three classes."""
    import rasterio
    from rasterio.transform import from_origin

    ids = np.full((64, 64), 2, dtype=np.uint8)
    ids[:32, :32] = 4
    ids[40:, 40:] = 5
    path = tmp_path_factory.mktemp("gpkg_mask") / "mask.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8", nodata=255,
                       crs="EPSG:32633", transform=from_origin(500000, 5000000, 2, 2)) as dst:
        dst.write(ids, 1)
    return path


def _vectorize(mask: Path, out: Path, **kwargs) -> Path:
    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.glnet_core.products.vectorize import vectorize

    vectorize(mask, out, classes=load_class_table("deepglobe"), **kwargs)
    return out


def test_the_chooser_offers_only_the_polygons_and_adding_them_applies_the_style(qgis_app, mask, tmp_path):
    from qgis.core import QgsVectorLayer

    gpkg = _vectorize(mask, tmp_path / "poly.gpkg")
    # Two entries, so the 3.22 desktop shows its chooser; the style table is a
    # system table there, hidden by default: the polygons are the one choice.
    assert _sublayers(gpkg) == [("poly", False), ("layer_styles", True)]
    # What the chooser adds (and what opening the file directly gives): the styled polygons.
    for uri in (f"{gpkg}|layername=poly", str(gpkg)):
        layer = QgsVectorLayer(uri, "poly", "ogr")
        assert layer.isValid() and layer.featureCount() == 3, uri
        renderer = layer.renderer()
        assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "class_id", uri
        # One category per class of the table (DeepGlobe's 0..6), present in the mask or not.
        assert sorted(int(c.value()) for c in renderer.categories()) == list(range(7)), uri


def test_every_glnet_layer_of_a_geopackage_is_offered_and_styled_and_nothing_else(qgis_app, mask, tmp_path):
    from qgis.core import QgsVectorLayer

    gpkg = _vectorize(mask, tmp_path / "land.gpkg", layer="first")
    _vectorize(mask, gpkg, layer="second", overwrite=True)  # added to the file: the first layer stays
    entries = _sublayers(gpkg)
    assert sorted(name for name, system in entries if not system) == ["first", "second"]
    assert [name for name, system in entries if system] == ["layer_styles"]
    for name in ("first", "second"):
        layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        assert layer.renderer().type() == "categorizedSymbol", name


def test_a_style_qgis_itself_saves_as_default_lists_the_same_way(qgis_app, mask, tmp_path):
    """Why glnet keeps ``layer_styles``: QGIS 3.22's own default style in a GeoPackage brings the same chooser.

    (Removing the table, or hiding it from GDAL, loses the style: QGIS reads
    it through GDAL, which opens only tables it lists.)
    """
    from qgis.core import QgsVectorLayer

    styled = _vectorize(mask, tmp_path / "glnet.gpkg")
    plain = tmp_path / "plain.gpkg"
    shutil.copyfile(styled, plain)
    con = sqlite3.connect(str(plain))
    with con:
        con.execute("DROP TABLE layer_styles")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
    con.close()
    assert _sublayers(plain) == [("glnet", False)]  # no style: a single entry, no chooser

    source = QgsVectorLayer(f"{styled}|layername=glnet", "source", "ogr")
    layer = QgsVectorLayer(f"{plain}|layername=glnet", "glnet", "ogr")
    layer.setRenderer(source.renderer().clone())
    error = layer.saveStyleToDatabase("qgis", "", True, "")
    assert not error, error
    assert QgsVectorLayer(str(plain), "reopened", "ogr").renderer().type() == "categorizedSymbol"
    assert _sublayers(plain) == _sublayers(styled) == [("glnet", False), ("layer_styles", True)]
