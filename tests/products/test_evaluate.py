"""``glnet evaluate``: confusion matrix and scores against hand-computed numbers, on real files.

Masks are written with rasterio into ``tmp_path``; the command runs in-process
through :func:`glnet.glnet_core.cli.main.main` (the same parser and error handling
as the console script), and once as a subprocess for the error contract.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.cli.main import main
from glnet.glnet_core.errors import Cancelled, InputError
from glnet.glnet_core.formats.class_mask import category_names_xml, colour_table, read_category_names
from glnet.glnet_core.formats.classes import NODATA, PRESETS
from glnet.glnet_core.products.evaluate import evaluate
from glnet.glnet_core.products.metrics import metrics_from_confusion
from glnet.glnet_core.products.reports import write_json

UTM = "EPSG:32633"
# Rasters without georeferencing are part of the cases; rasterio warns about writing them.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

TABLE = {
    "name": "test3",
    "classes": [
        {"id": 0, "name": "bg", "colour": [0, 0, 0]},
        {"id": 1, "name": "water", "colour": [0, 0, 255]},
        {"id": 2, "name": "cloud", "colour": [255, 255, 255], "ignore": True},
    ],
}


def write_raster(path: Path, data: np.ndarray, transform: Optional[Affine] = None, crs: Optional[str] = None,
                 names: Optional[Sequence[str]] = None, nodata: Optional[float] = NODATA) -> Path:
    """A GeoTIFF of ``data`` ((rows, cols) or (bands, rows, cols)); ``names`` go to the PAM sidecar as category names."""
    bands = data[None] if data.ndim == 2 else data
    profile = dict(driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=bands.shape[0], dtype=str(bands.dtype))
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(bands)
    if names is not None:
        Path(str(path) + ".aux.xml").write_bytes(category_names_xml(names))
    return path


def write_table(tmp_path: Path) -> Path:
    p = tmp_path / "table.json"
    p.write_text(json.dumps(TABLE), encoding="utf-8")
    return p


def expected_confusion(ref: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """The confusion matrix by plain loops (independent of the bincount in the module)."""
    cm = np.zeros((n, n), dtype=np.int64)
    for r, p in zip(ref.ravel().tolist(), pred.ravel().tolist()):
        if r != NODATA and p != NODATA:
            cm[r, p] += 1
    return cm


# The hand-worked example: 3 x 4 pixels, nodata in both, an ignored class (cloud).
REF = np.array([[0, 0, 1, 1], [0, 2, 1, 255], [1, 1, 0, 0]], dtype=np.uint8)
PRED = np.array([[0, 1, 1, 1], [255, 0, 2, 1], [1, 0, 0, 0]], dtype=np.uint8)
HAND_CM = [[3, 1, 0], [1, 3, 1], [1, 0, 0]]


def test_hand_computed_confusion_and_scores(tmp_path, capsys):
    table = write_table(tmp_path)
    pred = write_raster(tmp_path / "pred.tif", PRED)
    ref = write_raster(tmp_path / "ref.tif", REF)
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(pred), str(ref), "--classes", str(table), "--json", str(out)]) == 0
    stdout = capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["confusion_matrix"] == HAND_CM
    assert data["pixels_nodata"] == 2
    assert data["ignored_classes"] == ["cloud"]
    # cloud reference rows are left out: 9 pixels, 6 right.
    assert data["pixels_evaluated"] == 9
    assert data["overall_accuracy"] == pytest.approx(6 / 9)
    bg, water, cloud = data["per_class"]
    assert (bg["iou"], bg["precision"], bg["recall"], bg["f1"]) == pytest.approx((3 / 5, 3 / 4, 3 / 4, 3 / 4))
    assert (water["iou"], water["precision"], water["recall"], water["f1"]) == pytest.approx((3 / 6, 3 / 4, 3 / 5, 2 / 3))
    assert cloud["iou"] is None and cloud["ignored"]
    assert data["miou"] == pytest.approx((0.6 + 0.5) / 2)
    assert data["miou_classes"] == ["bg", "water"]
    assert "mIoU" in stdout and "0.5500" in stdout and "confusion matrix" in stdout


def test_cancel_and_json_report(tmp_path):
    table = write_table(tmp_path)
    pred = write_raster(tmp_path / "pred.tif", PRED)
    ref = write_raster(tmp_path / "ref.tif", REF)
    with pytest.raises(Cancelled):
        evaluate(pred, ref, classes=str(table), callbacks=Callbacks(is_cancelled=lambda: True))
    polls = []
    result = evaluate(pred, ref, classes=str(table), block_rows=1, callbacks=Callbacks(is_cancelled=lambda: polls.append(1) and False))
    assert len(polls) == PRED.shape[0]  # once per block
    out = write_json(result, tmp_path / "r.json")
    assert json.loads(out.read_text(encoding="utf-8"))["confusion_matrix"] == HAND_CM
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(InputError, match="does not exist"):
        write_json(result, tmp_path / "missing" / "r.json")
    with pytest.raises(InputError, match="is a folder"):
        write_json(result, tmp_path)


def test_ignore_option_and_absent_classes():
    # --ignore water: only bg rows count; bg: TP 3, FP 0 (other counted rows: none), FN 1.
    m = metrics_from_confusion(np.array(HAND_CM), ["bg", "water", "cloud"], [1, 2])
    assert m["pixels_evaluated"] == 4
    assert m["overall_accuracy"] == pytest.approx(3 / 4)
    assert m["miou"] == pytest.approx(3 / 4)
    assert m["miou_classes"] == ["bg"]
    # A class in neither REF nor PRED gets no IoU and is not averaged.
    m = metrics_from_confusion(np.array([[5, 0, 0], [0, 0, 0], [0, 0, 0]]), ["a", "b", "c"], [])
    assert m["miou"] == 1.0 and m["miou_classes"] == ["a"]
    assert m["per_class"][1]["iou"] is None


def test_ignore_option_end_to_end(tmp_path):
    table = write_table(tmp_path)
    pred = write_raster(tmp_path / "pred.tif", PRED)
    ref = write_raster(tmp_path / "ref.tif", REF)
    res = evaluate(pred, ref, classes=str(table), ignore=["water"])
    assert res.confusion.tolist() == HAND_CM
    assert res.metrics["miou"] == pytest.approx(3 / 4)


def test_deepglobe_colour_reference_and_default_table(tmp_path, rng):
    dg = PRESETS["deepglobe"]
    pred_ids = rng.integers(0, 7, (37, 23)).astype(np.uint8)
    pred_ids[0, :5] = NODATA
    ref_ids = pred_ids.copy()
    flip = rng.random(ref_ids.shape) < 0.3
    ref_ids[flip] = rng.integers(0, 7, int(flip.sum()))
    colours = np.array([c.colour for c in dg.classes], dtype=np.uint8)
    rgb = colours[np.where(ref_ids == NODATA, 0, ref_ids)]
    rgb[5, 5] = (10, 20, 30)  # a colour outside the table: nodata, reported
    ref_ids[5, 5] = NODATA
    pred = tmp_path / "pred.tif"
    write_raster(pred, pred_ids, names=dg.names)
    with rasterio.open(pred, "r+") as ds:
        ds.write_colormap(1, colour_table(dg))
    ref = write_raster(tmp_path / "ref_rgb.tif", np.moveaxis(rgb, -1, 0), nodata=None)
    assert read_category_names(pred) == dg.names
    res = evaluate(pred, ref)  # no --classes: deepglobe from PRED's names, with unknown ignored
    assert res.classes.names == dg.names and res.ignored == [0]
    cm = expected_confusion(ref_ids, pred_ids, 7)
    assert res.confusion.tolist() == cm.tolist()
    assert res.ref_unknown_pixels == 1
    # Streaming: blocks of 4 rows give the same counts.
    assert evaluate(pred, ref, block_rows=4).confusion.tolist() == cm.tolist()
    used = cm[1:]
    assert res.metrics["overall_accuracy"] == pytest.approx(np.trace(cm[1:, 1:]) / used.sum())
    for c in range(1, 7):
        tp = cm[c, c]
        iou = tp / (cm[c].sum() + used[:, c].sum() - tp)
        assert res.metrics["per_class"][c]["iou"] == pytest.approx(iou)


def test_vector_reference(tmp_path):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    t = Affine(10, 0, 500000, 0, -10, 5000100)  # 10 x 10 px of 10 m
    truth = np.full((10, 10), NODATA, dtype=np.uint8)
    truth[:9, :5] = 1  # water, by name
    truth[:9, 5:] = 0  # bg, by id; the last row is not covered by any polygon
    pred_ids = truth.copy()
    pred_ids[9] = 0
    pred_ids[2, 1] = 0
    pred_ids[3:6, 7] = 1
    pred = write_raster(tmp_path / "pred.tif", pred_ids, t, UTM)
    polys = gpd.GeoDataFrame(
        {"cls": ["water", "0"]},
        geometry=[box(500000, 5000010, 500050, 5000100), box(500050, 5000010, 500100, 5000100)],
        crs=UTM,
    )
    # Given in EPSG:4326: reprojected onto PRED's grid; pixel centres are 5 m from every edge.
    ref = tmp_path / "ref.gpkg"
    polys.to_crs("EPSG:4326").to_file(ref, driver="GPKG")
    res = evaluate(pred, ref, classes=str(write_table(tmp_path)), ref_field="cls")
    assert res.confusion.tolist() == expected_confusion(truth, pred_ids, 3).tolist()
    assert res.nodata_pixels == 10
    assert res.metrics["pixels_evaluated"] == 90
    one_row = evaluate(pred, ref, classes=str(write_table(tmp_path)), ref_field="cls", block_rows=1)
    assert one_row.confusion.tolist() == res.confusion.tolist()


@pytest.mark.parametrize("case", ["finer_offset", "coarser"])
def test_misaligned_reference_is_resampled_nearest(tmp_path, rng, case):
    pred_t = Affine(2, 0, 500000, 0, -2, 5000016)  # 8 x 8 px of 2 m
    if case == "finer_offset":
        # REF: 1 m pixels, starting one PRED pixel to the east; each PRED pixel is 2 x 2 equal REF pixels.
        truth = rng.integers(0, 3, (8, 9)).astype(np.uint8)
        ref_arr = np.kron(truth[:, 1:], np.ones((2, 2), dtype=np.uint8))
        ref_t = Affine(1, 0, 500002, 0, -1, 5000016)
        on_pred = np.full((8, 8), NODATA, dtype=np.uint8)
        on_pred[:, 1:] = truth[:, 1:8]
    else:
        # REF: 4 m pixels on the same origin; each REF pixel covers 2 x 2 PRED pixels.
        coarse = rng.integers(0, 3, (4, 4)).astype(np.uint8)
        ref_arr, ref_t = coarse, Affine(4, 0, 500000, 0, -4, 5000016)
        on_pred = np.kron(coarse, np.ones((2, 2), dtype=np.uint8))
    pred_ids = rng.integers(0, 3, (8, 8)).astype(np.uint8)
    pred = write_raster(tmp_path / "pred.tif", pred_ids, pred_t, UTM)
    ref = write_raster(tmp_path / "ref.tif", ref_arr, ref_t, UTM)
    expected = expected_confusion(on_pred, pred_ids, 3).tolist()
    assert evaluate(pred, ref, classes="3").confusion.tolist() == expected
    assert evaluate(pred, ref, classes="3", block_rows=3).confusion.tolist() == expected  # 3 + 3 + 2 rows


def test_same_size_without_georeferencing_is_pixel_by_pixel(tmp_path):
    pred = write_raster(tmp_path / "pred.tif", PRED)
    ref = write_raster(tmp_path / "ref.tif", REF)
    res = evaluate(pred, ref, classes="3")
    assert res.confusion.tolist() == HAND_CM


def test_bad_inputs(tmp_path, cli_error):
    table = str(write_table(tmp_path))
    pred = write_raster(tmp_path / "pred.tif", PRED)
    ref = write_raster(tmp_path / "ref.tif", REF)
    out = tmp_path / "out.json"
    floats = write_raster(tmp_path / "float.tif", PRED.astype(np.float32))
    rgb = write_raster(tmp_path / "rgb.tif", np.stack([PRED] * 3))
    small = write_raster(tmp_path / "small.tif", PRED[:2])
    big_values = write_raster(tmp_path / "big.tif", np.full((3, 4), 7, dtype=np.uint8))
    assert "float32" in cli_error(["evaluate", str(floats), str(ref), "--classes", table, "--json", str(out)])
    assert "3 bands" in cli_error(["evaluate", str(rgb), str(ref), "--classes", table])
    assert "does not exist" in cli_error(["evaluate", str(tmp_path / "nope.tif"), str(ref), "--classes", table])
    assert "does not exist" in cli_error(["evaluate", str(pred), str(tmp_path / "nope.tif"), "--classes", table])
    assert "--classes" in cli_error(["evaluate", str(pred), str(ref)])  # no names stored with PRED
    assert "same size" in cli_error(["evaluate", str(pred), str(small), "--classes", table])
    assert "value 7" in cli_error(["evaluate", str(big_values), str(ref), "--classes", table])
    assert "snow" in cli_error(["evaluate", str(pred), str(ref), "--classes", table, "--ignore", "snow"])
    assert not out.exists()


def test_bad_vector_reference(tmp_path, cli_error):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    t = Affine(10, 0, 500000, 0, -10, 5000030)
    pred = write_raster(tmp_path / "pred.tif", PRED, t, UTM)
    ref = tmp_path / "ref.gpkg"
    gpd.GeoDataFrame({"cls": ["lava"]}, geometry=[box(500000, 5000000, 500040, 5000030)], crs=UTM).to_file(ref, driver="GPKG")
    table = str(write_table(tmp_path))
    assert "--ref-field" in cli_error(["evaluate", str(pred), str(ref), "--classes", table])
    assert "cls" in cli_error(["evaluate", str(pred), str(ref), "--classes", table, "--ref-field", "kind"])
    assert "lava" in cli_error(["evaluate", str(pred), str(ref), "--classes", table, "--ref-field", "cls"])


def test_error_contract_of_the_console_script(tmp_path, run_glnet):
    floats = write_raster(tmp_path / "float.tif", PRED.astype(np.float32))
    proc = run_glnet("evaluate", str(floats), str(floats), "--classes", "3")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("glnet: error: ") and "Traceback" not in proc.stderr


def test_reference_in_another_crs_is_reprojected(tmp_path):
    """REF is the PRED mask warped (nearest) to EPSG:3857: evaluation aligns it back."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    truth = np.kron(np.arange(16, dtype=np.uint8).reshape(4, 4) % 3, np.ones((25, 25), dtype=np.uint8))  # 100 x 100 blocks
    pred_t = Affine(2, 0, 500000, 0, -2, 5000200)
    pred = write_raster(tmp_path / "pred.tif", truth, pred_t, UTM)
    dst_t, w, h = calculate_default_transform(UTM, "EPSG:3857", 100, 100, *rasterio.transform.array_bounds(100, 100, pred_t))
    warped = np.full((h, w), NODATA, dtype=np.uint8)
    reproject(truth, warped, src_transform=pred_t, src_crs=UTM, dst_transform=dst_t, dst_crs="EPSG:3857",
              resampling=Resampling.nearest, src_nodata=NODATA, dst_nodata=NODATA)
    ref = write_raster(tmp_path / "ref.tif", warped, dst_t, "EPSG:3857")
    res = evaluate(pred, ref, classes="3")
    counted = res.confusion.sum()
    assert counted > 0.9 * 100 * 100  # nearly every PRED pixel found its reference pixel
    # Only pixels along block edges may disagree after two nearest resamplings.
    assert np.trace(res.confusion) / counted > 0.97, (np.trace(res.confusion) / counted, counted)
