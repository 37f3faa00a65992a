"""Class display labels in real QGIS 3.22: legends and the polygons' ``class_label``.

A bundle exported from a checkpoint whose class table labels ``urban_land``
"Siedlung" (``glnet init-model --classes TABLE.json``, then ``glnet export``,
in ``.venv``): the label reaches the legend of the mask (styled by the plugin
after a run, and opened later from the file), the polygons' categories and
their ``class_label`` attribute, read with QGIS and with geopandas, in QGIS's
own Python and through ``qgis_process``. ``class_name`` keeps the identifier.
The committed demo bundle (no labels in its manifest) still loads and shows
the default labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
#: What every legend of the labelled bundle shows: the DeepGlobe classes, urban_land as "Siedlung".
LABELS = ["Unknown", "Siedlung", "Agriculture land", "Rangeland", "Forest land", "Water", "Barren land"]
NAMES = ["unknown", "urban_land", "agriculture_land", "rangeland", "forest_land", "water", "barren_land"]


def _table() -> Dict:
    from glnet.glnet_core.formats.classes import PRESETS

    data = PRESETS["deepglobe"].to_dict()
    data["name"] = "siedlung"
    data["classes"][1]["label"] = "Siedlung"
    return data


@pytest.fixture(scope="module")
def labelled_bundle(make_bundle, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table") / "siedlung.json"
    path.write_text(json.dumps(_table()), encoding="utf-8")
    return make_bundle(classes=str(path), modes="g2l")


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """A small 3-band UTM 33N GeoTIFF."""
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path_factory.mktemp("scene") / "scene.tif"
    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 1.3) % 256, (yy * 1.7) % 256, (xx + yy) % 256]).astype(np.uint8)
    with rasterio.open(str(path), "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
        ds.write(img)
    return path


@pytest.fixture(scope="module")
def labelled_mask(qgis_app, tmp_path_factory) -> Path:
    """A mask holding every class (rows of 4 px per class), written by glnet_core with the labelled table."""
    import numpy as np
    from affine import Affine

    from glnet.glnet_core.formats.class_mask_writer import MaskWriter
    from glnet.glnet_core.formats.classes import ClassTable

    path = tmp_path_factory.mktemp("mask") / "mask.tif"
    ids = np.repeat(np.arange(7, dtype=np.uint8), 4)[:, None].repeat(12, axis=1)
    w = MaskWriter(path, width=12, height=ids.shape[0], crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=ClassTable.from_dict(_table()))
    w.write(0, 0, ids)
    w.commit()
    return path


@pytest.fixture
def project():
    from qgis.core import QgsProject

    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


def _palette(layer) -> List[Tuple[int, str]]:
    renderer = layer.renderer()
    assert renderer.type() == "paletted", renderer.type()
    return [(int(c.value), c.label) for c in renderer.classes()]


def _categories(layer) -> List[Tuple[int, str]]:
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "class_id"
    return [(int(c.value()), c.label()) for c in renderer.categories()]


def _attributes(layer) -> Dict[int, Tuple[str, str]]:
    """class_id -> (class_name, class_label) over a vector layer's features."""
    return {int(f["class_id"]): (f["class_name"], f["class_label"]) for f in layer.getFeatures()}


def test_segment_legends_show_the_label(qgis_app, project, tmp_path, scene, labelled_bundle):
    """As the Toolbox loads a run's outputs, and as the mask reads when opened later from its file."""
    import processing
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    mask, poly = tmp_path / "mask.tif", tmp_path / "poly.gpkg"
    processing.runAndLoadResults("glnet:segment", {
        "INPUT": str(scene), "MODEL": str(labelled_bundle), "MODE": "g2l",
        "OUTPUT_MASK": str(mask), "OUTPUT_VECTOR": str(poly),
    })
    layers = {Path(lyr.source().split("|")[0]).name: lyr for lyr in project.mapLayers().values()}
    assert set(layers) == {"mask.tif", "poly.gpkg"}
    expected = list(enumerate(LABELS))
    assert _palette(layers["mask.tif"]) == expected  # styled by the plugin
    assert _categories(layers["poly.gpkg"]) == expected
    # The same file opened anew: its own style says the same.
    reopened = QgsRasterLayer(str(mask), "again")
    assert reopened.isValid() and _palette(reopened) == expected
    polygons = QgsVectorLayer(f"{poly}|layername=poly", "poly", "ogr")
    assert polygons.isValid() and _categories(polygons) == expected
    names = polygons.fields().names()
    assert names.index("class_label") == names.index("class_name") + 1
    for cid, (name, label) in _attributes(polygons).items():
        assert (name, label) == (NAMES[cid], LABELS[cid])


def test_vectorize_in_qgis_writes_class_label(qgis_app, tmp_path, labelled_mask):
    """Without a model: names and labels from the mask's sidecar; read with QGIS and with geopandas."""
    import geopandas as gpd
    import processing
    from qgis.core import QgsVectorLayer

    out = tmp_path / "poly.gpkg"
    result = processing.run("glnet:vectorize", {"INPUT": str(labelled_mask), "OUTPUT": str(out)})
    layer = QgsVectorLayer(result["OUTPUT"], "poly", "ogr")
    assert layer.isValid()
    assert _attributes(layer) == {i: (NAMES[i], LABELS[i]) for i in range(7)}
    assert _categories(layer) == list(enumerate(LABELS))
    gdf = gpd.read_file(str(out), layer="poly")
    assert dict(zip(gdf["class_id"], gdf["class_label"]))[1] == "Siedlung"
    assert dict(zip(gdf["class_id"], gdf["class_name"]))[1] == "urban_land"


def test_qgis_process_carries_the_label(qgis_app, qgis_process, tmp_path, labelled_mask, labelled_bundle):
    import geopandas as gpd
    from qgis.core import QgsVectorLayer

    out = tmp_path / "poly.gpkg"
    proc = qgis_process("run", "glnet:vectorize", "--json", "--", f"INPUT={labelled_mask}", f"OUTPUT={out}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    layer = QgsVectorLayer(f"{out}|layername=poly", "poly", "ogr")
    assert layer.isValid() and _categories(layer) == list(enumerate(LABELS))  # the GeoPackage's default style
    assert _attributes(layer)[1] == ("urban_land", "Siedlung")
    gdf = gpd.read_file(str(out), layer="poly")
    assert sorted(set(gdf["class_label"])) == sorted(LABELS)

    proc = qgis_process("run", "glnet:model_info", "--json", "--", f"MODEL={labelled_bundle}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]
    assert results["CLASSES"] == ", ".join(NAMES)  # the identifiers, for models
    line = next(x for x in results["SUMMARY"].splitlines() if "urban_land" in x)
    assert "Siedlung" in line


def test_a_bundle_without_labels_shows_the_default_labels(qgis_app, qgis_process, tmp_path):
    from qgis.core import QgsVectorLayer

    assert all("label" not in c for c in json.loads((DEMO_BUNDLE / "manifest.json").read_text())["classes"]["classes"])
    proc = qgis_process("run", "glnet:model_info", "--json", "--", f"MODEL={DEMO_BUNDLE}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]["SUMMARY"]
    assert "Urban land" in next(x for x in summary.splitlines() if "urban_land" in x)

    # A mask the demo bundle's table writes (category names only) vectorizes with the default labels.
    import numpy as np

    from glnet.glnet_core.engine.bundle import load_bundle
    from glnet.glnet_core.formats.class_mask import sidecar_path
    from glnet.glnet_core.formats.class_mask_writer import MaskWriter

    mask = tmp_path / "old.tif"
    w = MaskWriter(mask, width=7, height=2, crs="EPSG:32633", transform=None, classes=load_bundle(DEMO_BUNDLE).classes)
    w.write(0, 0, np.arange(7, dtype=np.uint8)[None].repeat(2, axis=0))
    w.commit()
    assert b"glnet_class_label" not in sidecar_path(mask).read_bytes()
    out = tmp_path / "old.gpkg"
    proc = qgis_process("run", "glnet:vectorize", "--", f"INPUT={mask}", f"OUTPUT={out}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    layer = QgsVectorLayer(f"{out}|layername=old", "old", "ogr")
    assert _attributes(layer)[1] == ("urban_land", "Urban land")
    assert _categories(layer)[1] == (1, "Urban land")
