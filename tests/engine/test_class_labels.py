"""Display labels from a class table through checkpoint, bundle, mask, polygons and reports.

The real command line (``init-model --classes TABLE.json``, ``export``,
``info``, ``segment``, ``vectorize``, ``evaluate``, ``stats``), real GeoTIFFs
and GeoPackages read back with rasterio and geopandas. The table labels one
class "Siedlung" (its name stays ``urban_land``); every other class shows the
default label of its name.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.formats.class_mask import mask_class_info, read_category_names, sidecar_path
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import PRESETS, ClassTable

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
DEEPGLOBE = PRESETS["deepglobe"]
GRID = Affine(0.5, 0, 500000, 0, -0.5, 5000000)


def _labelled() -> dict:
    data = DEEPGLOBE.to_dict()
    data["name"] = "siedlung"
    data["classes"][1]["label"] = "Siedlung"
    return data


@pytest.fixture(scope="module")
def labelled_bundle(tmp_path_factory, run_glnet):
    """A tiny bundle exported from a checkpoint made with ``--classes labels.json``."""
    d = tmp_path_factory.mktemp("labels")
    table = d / "labels.json"
    table.write_text(json.dumps(_labelled()), encoding="utf-8")
    ckpt, bundle = d / "m.ckpt", d / "m.glnet"
    for args in (("init-model", "--config", "tiny", "--classes", str(table), "--seed", "1", "--out", str(ckpt)),
                 ("export", str(ckpt), "--out", str(bundle), "--modes", "g2l", "--verify-windows", "1")):
        proc = run_glnet(*args)
        assert proc.returncode == 0, proc.stderr
    return ckpt, bundle


def _scene(path: Path, h: int = 160, w: int = 200) -> Path:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 1.2) % 256, (yy * 1.5) % 256, rng.integers(0, 256, (h, w))]).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=GRID) as ds:
        ds.write(img)
    return path


def _mask(path: Path, table: ClassTable) -> Path:
    """A hand-made mask with every class in bands of rows, written as glnet segment writes masks."""
    ids = np.repeat(np.arange(7, dtype=np.uint8), 4)[:, None].repeat(12, axis=1)
    w = MaskWriter(path, width=12, height=ids.shape[0], crs="EPSG:32633", transform=GRID, classes=table)
    w.write(0, 0, ids)
    w.commit()
    return path


def test_checkpoint_and_bundle_carry_the_label(labelled_bundle, run_glnet):
    import torch

    ckpt, bundle = labelled_bundle
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert stored["classes"]["classes"][1]["label"] == "Siedlung"
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest["classes"]["classes"]
    assert entries[1]["name"] == "urban_land" and entries[1]["label"] == "Siedlung"
    assert all("label" not in e for i, e in enumerate(entries) if i != 1)
    classes = load_bundle(bundle).classes
    assert classes.names == DEEPGLOBE.names and classes.labels[1] == "Siedlung" and classes.labels[2] == "Agriculture land"
    # glnet info lists name and label.
    info = run_glnet("info", str(bundle))
    assert info.returncode == 0, info.stderr
    line = next(x for x in info.stdout.splitlines() if "urban_land" in x)
    assert "Siedlung" in line and "#00ffff" in line


def test_bundles_without_labels_still_load():
    """The committed demo bundle predates labels: it loads, with the default labels."""
    manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text(encoding="utf-8"))
    assert all("label" not in e for e in manifest["classes"]["classes"])
    bundle = load_bundle(DEMO_BUNDLE)
    assert bundle.classes == DEEPGLOBE and bundle.classes.labels[1] == "Urban land"


def test_segment_writes_the_label_into_mask_and_polygons(labelled_bundle, run_glnet, tmp_path):
    _, bundle = labelled_bundle
    src = _scene(tmp_path / "in.tif")
    mask, poly = tmp_path / "m.tif", tmp_path / "p.gpkg"
    proc = run_glnet("segment", str(src), "--model", str(bundle), "--out-mask", str(mask), "--out-vector", str(poly),
                     "--mode", "g2l", "--quiet")
    assert proc.returncode == 0, proc.stderr
    # The mask: identifiers as category names, the label beside them.
    assert read_category_names(mask) == DEEPGLOBE.names
    assert b'<MDI key="glnet_class_label_1">Siedlung</MDI>' in sidecar_path(mask).read_bytes()
    info = mask_class_info(mask)
    assert info.names[1] == "urban_land" and info.labels[1] == "Siedlung" and info.labels[5] == "Water"
    # The polygons: class_name the identifier, class_label the label, whatever classes the random model drew.
    gdf = gpd.read_file(poly, layer="p")
    assert list(gdf.columns[:3]) == ["class_id", "class_name", "class_label"] and len(gdf) > 0
    table = load_bundle(bundle).classes
    for cid, name, label in gdf[["class_id", "class_name", "class_label"]].drop_duplicates().itertuples(index=False):
        assert (name, label) == (table.names[cid], table.labels[cid])


def test_vectorize_reads_the_label_from_the_mask(tmp_path, run_glnet):
    table = ClassTable.from_dict(_labelled())
    mask = _mask(tmp_path / "m.tif", table)
    for out, label_field in ((tmp_path / "p.gpkg", "class_label"), (tmp_path / "p.geojson", "class_label"),
                             (tmp_path / "p.shp", "class_labe")):  # dBASE keeps 10 characters of a field name
        proc = run_glnet("vectorize", str(mask), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        gdf = gpd.read_file(out, layer=out.stem) if out.suffix == ".gpkg" else gpd.read_file(out)
        got = dict(zip(gdf["class_id"], zip(gdf["class_name"], gdf[label_field])))
        assert got[1] == ("urban_land", "Siedlung") and got[6] == ("barren_land", "Barren land"), out.name


def test_old_masks_vectorize_evaluate_and_stats_as_before(tmp_path, run_glnet):
    """A mask with category names only (written before labels): the same names, the default labels."""
    mask = _mask(tmp_path / "old.tif", DEEPGLOBE)
    assert b"glnet_class_label" not in sidecar_path(mask).read_bytes()
    proc = run_glnet("vectorize", str(mask), "--out", str(tmp_path / "p.gpkg"))
    assert proc.returncode == 0, proc.stderr
    gdf = gpd.read_file(tmp_path / "p.gpkg", layer="p")
    assert dict(zip(gdf["class_id"], gdf["class_name"])) == dict(enumerate(DEEPGLOBE.names))
    assert dict(zip(gdf["class_id"], gdf["class_label"])) == dict(enumerate(DEEPGLOBE.labels))
    out = tmp_path / "e.json"
    proc = run_glnet("evaluate", str(mask), str(mask), "--json", str(out), "--ignore", "water")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["classes"] == DEEPGLOBE.names and report["ignored_classes"] == ["unknown", "water"]
    proc = run_glnet("stats", str(mask), "--zones", str(tmp_path / "p.gpkg"), "--zone-field", "class_name",
                     "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 0, proc.stderr
    header = (tmp_path / "s.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "urban_land_m2" in header and "Urban" not in header  # columns are identifiers


def test_evaluate_report_shows_labels_and_json_keeps_names(tmp_path, run_glnet):
    mask = _mask(tmp_path / "m.tif", ClassTable.from_dict(_labelled()))
    out = tmp_path / "e.json"
    proc = run_glnet("evaluate", str(mask), str(mask), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("  ")[0].strip() for line in proc.stdout.splitlines()[1:8]}
    assert rows == set(ClassTable.from_dict(_labelled()).labels)
    assert "Siedlung" in next(line for line in proc.stdout.splitlines() if line.startswith("mIoU"))
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["classes"][1] == "urban_land" and "Siedlung" not in out.read_text(encoding="utf-8")
