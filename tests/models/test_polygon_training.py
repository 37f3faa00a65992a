"""Training from large labelled images: polygons burnt window by window, masks per image, held-out areas.

Real parts only: ``glnet synth`` scenes (GeoTIFFs), their masks turned into
polygons by ``glnet vectorize`` (a GeoPackage), the ``tiny`` GLNet trained by
``glnet train`` as users run it, exported and run by onnxruntime
(``glnet segment``) and scored by ``glnet evaluate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from glnet.glnet_core.engine.grid import ModelGrid
from glnet.glnet_core.formats.classes import NODATA, load_class_table
from glnet.glnet_core.formats.polygon_labels import class_table_from_values, field_values, read_label_layer
from glnet.models.data import LabelSpec, labelled_areas, read_labels, read_mask
from glnet.models.data.images import open_image
from glnet.models.data.label_sources import MaskLabels, PolygonLabelSource

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
DEEPGLOBE = load_class_table("deepglobe")
WINDOW = 512  # the tiny configuration's: a 1024 px scene has 2 x 2 areas


@pytest.fixture(scope="module")
def scene(tmp_path_factory, glnet_executable):
    """A 1024 px synth scene (0.5 m/px, UTM 33N), its mask, and the mask's polygons (glnet vectorize)."""
    import subprocess

    root = tmp_path_factory.mktemp("scene")
    for argv in (
        ["synth", "--out", str(root / "syn"), "--n", "1", "--size", "1024", "--seed", "3", "--quiet"],
        ["vectorize", str(root / "syn" / "masks" / "synth_00000.tif"), "--out", str(root / "polys.gpkg")],
    ):
        proc = subprocess.run([str(glnet_executable), *argv], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return {
        "root": root,
        "image": root / "syn" / "images" / "synth_00000.tif",
        "mask": root / "syn" / "masks" / "synth_00000.tif",
        "polygons": root / "polys.gpkg",
    }


def _weights(path: Path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def test_polygons_train_the_same_model_as_the_masks(scene, run_glnet, tmp_path):
    """Same seed, same areas and windows: the polygon path gives the mask path's model, step for step, in all three stages."""
    common = ["train", "--images", str(scene["image"]), "--classes", "deepglobe", "--config", "tiny", "--stage", "all",
              "--epochs", "1", "--batch-size", "2", "--val-fraction", "0.25", "--seed", "5"]
    from_masks = run_glnet(*common, "--labels", str(scene["mask"]), "--out", str(tmp_path / "m.ckpt"), env=ONE_THREAD)
    assert from_masks.returncode == 0, from_masks.stderr
    from_polygons = run_glnet(*common, "--labels", str(scene["polygons"]), "--label-field", "class_name",
                              "--out", str(tmp_path / "p.ckpt"), env=ONE_THREAD)
    assert from_polygons.returncode == 0, from_polygons.stderr
    assert "3 training and 1 validation areas (at most 512 px) on 1 image(s)" in from_polygons.stderr
    assert "More than one layer" not in from_polygons.stderr  # the GeoPackage's style table is not a data layer

    m, p = _weights(tmp_path / "m.ckpt"), _weights(tmp_path / "p.ckpt")
    import torch

    assert m["state_dict"].keys() == p["state_dict"].keys()
    assert all(torch.equal(m["state_dict"][k], p["state_dict"][k]) for k in m["state_dict"])
    assert m["provenance"]["val_miou"] == p["provenance"]["val_miou"]
    assert all(v is not None for vs in p["provenance"]["val_miou"].values() for v in vs)
    prov = p["provenance"]
    assert prov["label_kind"] == "polygons" and prov["label_field"] == "class_name"
    assert prov["train_areas"] == 3 and prov["val_areas"] == 1
    assert m["provenance"]["label_kind"] == "masks"


def test_held_out_areas_never_reach_the_loss(scene):
    """The split is by area, fixed by names and grid; training windows see no label of a held-out area."""
    spec = LabelSpec((scene["polygons"],), field="class_name")
    split = labelled_areas([scene["image"]], spec, DEEPGLOBE, WINDOW, 3, None, 0.25)
    again = labelled_areas([scene["image"]], spec, DEEPGLOBE, WINDOW, 3, None, 0.25)
    assert [a.name for a in split.train] == [a.name for a in again.train]
    assert len(split.train) == 3 and len(split.val) == 1 and split.labelled_areas == 4
    assert {a.region for a in split.train} | {a.region for a in split.val} == {
        (0, 0, 512, 512), (0, 512, 512, 512), (512, 0, 512, 512), (512, 512, 512, 512)}
    held = split.val[0].region
    mask = read_mask(scene["mask"], DEEPGLOBE)
    for area in split.train:
        assert area.masked == (held,)
        labels = read_labels(area, DEEPGLOBE, (0, 0, 1024, 1024))
        r, c, h, w = held
        assert (labels[r:r + h, c:c + w] == NODATA).all()
        outside = np.ones(labels.shape, bool)
        outside[r:r + h, c:c + w] = False
        np.testing.assert_array_equal(labels[outside], mask[outside])
    # The held-out area itself is scored on its own labels.
    np.testing.assert_array_equal(read_labels(split.val[0], DEEPGLOBE, held), mask[r:r + h, c:c + w])


def test_polygons_in_another_crs_are_reprojected_to_the_image(scene, tmp_path):
    import geopandas as gpd

    gdf = gpd.read_file(scene["polygons"], layer="polys")
    wgs = tmp_path / "wgs84.gpkg"
    gdf.to_crs(4326).to_file(wgs)
    labels = read_label_layer(wgs, "class_name", DEEPGLOBE)
    with rasterio.open(scene["image"]) as src:
        source = PolygonLabelSource(labels.to_crs(src.crs, "the image"), src.transform)
        grid = ModelGrid((src.height, src.width))
    got = source.read((100, 200, 400, 300), DEEPGLOBE, grid)
    want = read_mask(scene["mask"], DEEPGLOBE, (100, 200, 400, 300))
    # Reprojection moves edges by far less than a pixel: only pixel centres on an edge may change.
    assert (got == want).mean() > 0.99


def test_unlabelled_pixels_are_ignored_or_the_background_class(scene, tmp_path):
    import geopandas as gpd

    gdf = gpd.read_file(scene["polygons"], layer="polys")
    water = gdf[gdf["class_name"] == "water"]
    assert len(water) > 0
    path = tmp_path / "water.gpkg"
    water.to_file(path)
    with rasterio.open(scene["image"]) as src:
        grid = ModelGrid((src.height, src.width))
        polys = read_label_layer(path, "class_name", DEEPGLOBE)
        plain = PolygonLabelSource(polys, src.transform).read((0, 0, 1024, 1024), DEEPGLOBE, grid)
        filled = PolygonLabelSource(polys, src.transform, fill=0).read((0, 0, 1024, 1024), DEEPGLOBE, grid)
    mask = read_mask(scene["mask"], DEEPGLOBE)
    is_water = mask == DEEPGLOBE.names.index("water")
    np.testing.assert_array_equal(plain == 5, is_water)
    assert (plain[~is_water] == NODATA).all()
    assert (filled[~is_water] == 0).all() and (filled[is_water] == 5).all()
    # Only the areas the water reaches are labelled.
    split = labelled_areas([scene["image"]], LabelSpec((path,), field="class_name"), DEEPGLOBE, WINDOW, 3, None, 0.0)
    reached = {(r, c) for r in (0, 512) for c in (0, 512) if is_water[r:r + 512, c:c + 512].any()}
    assert {a.region[:2] for a in split.train} == reached


def test_images_of_another_resolution_are_read_on_the_models_grid(scene):
    """A 0.5 m image for a 1 m model: areas, image and labels on the 512 px model grid, as glnet segment reads it."""
    spec = LabelSpec((scene["polygons"],), field="class_name")
    split = labelled_areas([scene["image"]], spec, DEEPGLOBE, WINDOW, 3, 1.0, 0.0)
    assert len(split.train) == 1
    area = split.train[0]
    assert area.grid.size == (512, 512) and area.grid.scale == (0.5, 0.5) and area.region == (0, 0, 512, 512)
    from_polygons = read_labels(area, DEEPGLOBE, (0, 0, 512, 512))
    from_mask = MaskLabels(scene["mask"]).read((0, 0, 512, 512), DEEPGLOBE, area.grid)
    # Model pixel centres fall on raster pixel corners: only edge pixels may differ.
    assert (from_polygons == from_mask).mean() > 0.97
    with open_image(scene["image"]) as raster:
        image, _ = area.grid.read_box(raster, 0, 0, 512, 512)
        segment_grid = ModelGrid.for_raster(raster, 1.0, True)
    assert segment_grid == area.grid and image.shape == (512, 512, 3)


def test_class_table_from_the_fields_values(scene):
    values = field_values(scene["polygons"], "class_name")
    assert values == sorted(set(values)) and "water" in values and "unknown" not in values
    table = class_table_from_values(values, "polys.class_name", first="unknown")
    assert table.names[0] == "unknown" and table.names[1:] == values
    assert len({c.colour for c in table.classes}) == len(table)
    assert class_table_from_values(["3", "10", "7"], "codes").names == ["3", "10", "7"]


def test_trained_model_is_scored_on_the_held_out_area_with_glnet_evaluate(scene, run_glnet, tmp_path):
    """train (from-field classes) -> export -> segment -> evaluate against the held-out area's polygons only."""
    import geopandas as gpd
    from shapely.geometry import box

    ckpt, bundle, mask = tmp_path / "f.ckpt", tmp_path / "f.glnet", tmp_path / "pred.tif"
    proc = run_glnet("train", "--images", str(scene["image"]), "--labels", str(scene["polygons"]), "--label-field", "class_name",
                     "--classes", "from-field", "--config", "tiny", "--stage", "global", "--epochs", "2", "--lr", "1e-3",
                     "--batch-size", "2", "--val-fraction", "0.25", "--out", str(ckpt), env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    stored = _weights(ckpt)
    assert [c["name"] for c in stored["classes"]["classes"]] == field_values(scene["polygons"], "class_name")
    for argv in (["export", str(ckpt), "--out", str(bundle), "--quiet"],
                 ["segment", str(scene["image"]), "--model", str(bundle), "--out-mask", str(mask), "--mode", "g2l"]):
        proc = run_glnet(*argv, env=ONE_THREAD)
        assert proc.returncode == 0, proc.stderr
    split = labelled_areas([scene["image"]], LabelSpec((scene["polygons"],), field="class_name"), DEEPGLOBE, WINDOW, 3, None, 0.25)
    r, c, h, w = split.val[0].region
    with rasterio.open(scene["image"]) as src:
        xs, ys = rasterio.transform.xy(src.transform, [r, r + h], [c, c + w], offset="ul")
    left, right, top, bottom = xs[0], xs[1], ys[0], ys[1]
    gdf = gpd.read_file(scene["polygons"], layer="polys")
    held = gdf.clip(box(min(left, right), min(top, bottom), max(left, right), max(top, bottom)))
    held = held[~held.geometry.is_empty & (held.geometry.geom_type.isin(["Polygon", "MultiPolygon"]))]
    held_path = tmp_path / "held-out.gpkg"
    held.to_file(held_path)
    report = tmp_path / "scores.json"
    proc = run_glnet("evaluate", str(mask), str(held_path), "--ref-field", "class_name", "--json", str(report), "--quiet")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(report.read_text())
    counted = int(np.asarray(scores["confusion_matrix"]).sum())
    assert scores["miou"] is not None
    assert 0.95 * h * w <= counted <= h * w


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--label-field", "nope"], "--labels {polys} has no field 'nope'; its fields are: class_id, class_name, class_label, area_m2"),
        (["--label-field", "class_name", "--classes", "inria"],
         "--labels {polys}: field 'class_name' holds values that are neither a class name of table 'inria'"),
        (["--label-field", "class_name", "--background", "sky"], "--background 'sky' is not a class of table 'deepglobe'"),
        ([], "--labels {polys} is a polygon layer: name its class field with --label-field"),
    ],
)
def test_bad_label_options_are_one_line(scene, run_glnet, tmp_path, extra, message):
    classes = [] if "--classes" in extra else ["--classes", "deepglobe"]
    argv = ["train", "--images", str(scene["image"]), "--labels", str(scene["polygons"]), *classes,
            "--config", "tiny", "--out", str(tmp_path / "x.ckpt"), *extra]
    proc = run_glnet(*argv, env=ONE_THREAD)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("glnet: error: " + message.format(polys=scene["polygons"])), lines[0]
    assert not (tmp_path / "x.ckpt").exists()


def test_labels_off_the_images_and_an_image_without_crs_are_one_line(scene, run_glnet, tmp_path):
    import geopandas as gpd

    gdf = gpd.read_file(scene["polygons"], layer="polys")
    far = tmp_path / "far.gpkg"
    moved = gdf.copy()
    moved.geometry = gdf.geometry.translate(1e6, 0)
    moved.to_file(far)
    with rasterio.open(scene["image"]) as src:
        pixels, profile = src.read(), dict(src.profile)
    profile.pop("crs", None)
    profile.update(transform=rasterio.Affine.identity(), driver="GTiff")
    no_crs = tmp_path / "no-crs.tif"
    with rasterio.open(no_crs, "w", **profile) as dst:
        dst.write(pixels)
    cases = [
        ([str(scene["image"])], far, f"--labels {far}: no label reaches any of the 1 image(s)"),
        ([str(no_crs)], scene["polygons"], f"image {no_crs} has no CRS, so the polygons of --labels {scene['polygons']} (in EPSG:32633)"),
    ]
    for images, labels, message in cases:
        proc = run_glnet("train", "--images", *images, "--labels", str(labels), "--label-field", "class_name", "--classes", "deepglobe",
                         "--config", "tiny", "--out", str(tmp_path / "x.ckpt"), env=ONE_THREAD)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("glnet: error: " + message), lines[0]
    proc = run_glnet("train", "--labels", str(scene["polygons"]), "--classes", "deepglobe", "--config", "tiny",
                     "--out", str(tmp_path / "x.ckpt"), env=ONE_THREAD)
    assert proc.returncode == 2 and proc.stderr.strip() == "glnet: error: --labels labels the --images: give --images IMAGE ... too"
    assert not (tmp_path / "x.ckpt").exists()


def test_an_interrupted_run_resumes_on_the_same_areas(scene, glnet_executable, run_glnet, tmp_path):
    """Ctrl-C after the first epoch, then --resume alone (images, labels and field come from the checkpoint): the same model."""
    import os
    import signal
    import subprocess

    import torch

    argv = ["train", "--images", str(scene["image"]), "--labels", str(scene["polygons"]), "--label-field", "class_name",
            "--classes", "deepglobe", "--config", "tiny", "--stage", "global", "--epochs", "3", "--batch-size", "2",
            "--val-fraction", "0.25"]
    whole = run_glnet(*argv, "--out", str(tmp_path / "whole.ckpt"), env=ONE_THREAD)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "cut.ckpt"
    child = subprocess.Popen([str(glnet_executable), *argv, "--out", str(out)], stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **ONE_THREAD})
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("global epoch 1/3"):
            child.send_signal(signal.SIGINT)
            break
    rest = child.stderr.read()
    assert child.wait(timeout=120) == 130, rest
    assert _weights(out)["train_state"]["epochs_done"] in (1, 2)
    resumed = run_glnet("train", "--resume", "--out", str(out), env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    a, b = _weights(tmp_path / "whole.ckpt")["state_dict"], _weights(out)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_area_windows_are_uniform_over_the_positions_that_overlap_the_area():
    """No pile-up at the image's edges: for areas of one window each, every crop position is equally likely."""
    from glnet.models.data import window_around
    from glnet.models.data.sampling import sample_rng

    rng = sample_rng(0)
    tops = np.array([window_around((0, 0, 1024, 1024), (2048, 2048), 1024, rng)[0] for _ in range(20000)])
    assert tops.min() == 0 and tops.max() == 1023  # a window at 1024 would miss the area
    assert (tops == 0).mean() < 0.005 and (tops == 1023).mean() < 0.005
    counts = np.histogram(tops, bins=8, range=(0, 1024))[0]
    assert counts.min() > 0.8 * counts.mean()
    # An area inside a large image: windows overlap it and stay inside the image.
    for _ in range(200):
        top, left, h, w = window_around((3000, 500, 700, 300), (8000, 1200), 1024, rng)
        assert (h, w) == (1024, 1024) and 0 <= left <= 1200 - 1024 and 0 <= top <= 8000 - 1024
        assert top < 3700 and top + 1024 > 3000 and left < 800 and left + 1024 > 500
    # A side shorter than the window is kept whole.
    assert window_around((0, 0, 300, 300), (300, 5000), 1024, rng)[::2] == (0, 300)
