"""Tests of glnet_core.formats.vrt_mosaic: the VRT over class masks, read back by GDAL through rasterio.

The masks are real GeoTIFFs written by the mask writer; the mosaic is opened
with rasterio (GDAL's VRT driver), whose pixels must be each mask's where it
lies and nodata where no mask does.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from glnet.glnet_core.errors import InputError, OutputPathError
from glnet.glnet_core.formats.class_mask import colour_table
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import NODATA, PRESETS
from glnet.glnet_core.formats.vrt_mosaic import mosaic_grid, read_grid, write_mosaic_vrt

CLASSES = PRESETS["deepglobe"]
UTM = "EPSG:32633"


def write_mask(path: Path, data: np.ndarray, x0: float, y0: float, px: float = 0.5, crs=UTM, transform=None) -> Path:
    """A class mask as glnet writes it (colour table, category names), top-left corner at (x0, y0)."""
    h, w = data.shape
    t = transform if transform is not None else Affine(px, 0, x0, 0, -px, y0)
    wr = MaskWriter(path, width=w, height=h, crs=crs, transform=t, classes=CLASSES)
    wr.write(0, 0, data)
    wr.commit()
    return path


def classes_block(rng, h: int, w: int) -> np.ndarray:
    data = rng.integers(0, len(CLASSES), size=(h, w), dtype=np.uint8)
    data[:3, :3] = NODATA  # a nodata corner: it must not hide an overlapping scene
    return data


def test_mosaic_holds_every_mask_where_it_lies(tmp_path, rng):
    # Three masks on one grid, around a hole (the bottom-right 40 x 30 px): the union is 100 x 70 px.
    a = write_mask(tmp_path / "a.tif", classes_block(rng, 40, 60), 1000.0, 2000.0)
    b = write_mask(tmp_path / "b.tif", classes_block(rng, 40, 40), 1030.0, 2000.0)  # 60 px right of a
    c = write_mask(tmp_path / "c.tif", classes_block(rng, 30, 60), 1000.0, 1980.0)  # 40 px below a
    vrt = tmp_path / "mosaic.vrt"
    grid = write_mosaic_vrt(vrt, [a, b, c], CLASSES, overwrite=False)
    assert (grid.width, grid.height) == (100, 70)
    assert grid.offsets == ((0, 0), (60, 0), (0, 40))
    with rasterio.open(vrt) as ds:
        assert ds.crs == rasterio.crs.CRS.from_string(UTM)
        assert ds.transform == Affine(0.5, 0, 1000.0, 0, -0.5, 2000.0)
        assert ds.nodata == NODATA and ds.dtypes[0] == "uint8" and ds.count == 1
        assert ds.colormap(1) == {k: tuple(v) for k, v in colour_table(CLASSES).items()}
        mosaic = ds.read(1)
    for path, (col, row) in zip((a, b, c), grid.offsets):
        with rasterio.open(path) as m:
            own = m.read(1)
        h, w = own.shape
        r, c0 = int(row), int(col)
        assert np.array_equal(mosaic[r:r + h, c0:c0 + w], own), path.name
    assert (mosaic[40:, 60:] == NODATA).all()  # no scene there
    # The names QGIS shows, and masks named relative to the VRT beside them.
    root = ET.parse(vrt).getroot()
    band = root.find("VRTRasterBand")
    assert [c.text for c in band.find("CategoryNames")] == CLASSES.names
    names = [(s.text, s.get("relativeToVRT")) for s in root.iter("SourceFilename")]
    assert names == [("a.tif", "1"), ("b.tif", "1"), ("c.tif", "1")]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_later_masks_are_drawn_over_earlier_ones_except_their_nodata(tmp_path):
    first = np.full((20, 20), 1, np.uint8)
    second = np.full((20, 20), 2, np.uint8)
    second[:5, :] = NODATA
    a = write_mask(tmp_path / "a.tif", first, 0.0, 100.0)
    b = write_mask(tmp_path / "b.tif", second, 5.0, 100.0)  # 10 px right: overlaps a's right half
    write_mosaic_vrt(tmp_path / "m.vrt", [a, b], CLASSES, overwrite=False)
    with rasterio.open(tmp_path / "m.vrt") as ds:
        out = ds.read(1)
    assert out.shape == (20, 30)
    assert (out[5:, 10:] == 2).all()          # b over a where b holds classes
    assert (out[:5, 10:20] == 1).all()        # a shows through b's nodata
    assert (out[:5, 20:] == NODATA).all()     # b's nodata where only b lies
    assert (out[:, :10] == 1).all()


def test_masks_in_another_folder_are_named_absolutely(tmp_path, rng):
    (tmp_path / "masks").mkdir()
    (tmp_path / "elsewhere").mkdir()
    a = write_mask(tmp_path / "masks" / "a.tif", classes_block(rng, 10, 10), 0.0, 10.0)
    sub = tmp_path / "masks" / "sub"
    sub.mkdir()
    b = write_mask(sub / "b.tif", classes_block(rng, 10, 10), 5.0, 10.0)
    vrt = tmp_path / "elsewhere" / "m.vrt"
    write_mosaic_vrt(vrt, [a, b], CLASSES, overwrite=False)
    names = [(s.text, s.get("relativeToVRT")) for s in ET.parse(vrt).getroot().iter("SourceFilename")]
    assert names == [(str(a.resolve()), "0"), (str(b.resolve()), "0")]
    inside = tmp_path / "masks" / "m.vrt"
    write_mosaic_vrt(inside, [a, b], CLASSES, overwrite=False)
    names = [(s.text, s.get("relativeToVRT")) for s in ET.parse(inside).getroot().iter("SourceFilename")]
    assert names == [("a.tif", "1"), ("sub/b.tif", "1")]
    with rasterio.open(a) as m:
        own = m.read(1)
    for v in (vrt, inside):
        with rasterio.open(v) as ds:
            assert (ds.read(1)[:, :10] == own).all()


def test_existing_mosaic_is_kept_without_overwrite(tmp_path, rng):
    a = write_mask(tmp_path / "a.tif", classes_block(rng, 10, 10), 0.0, 10.0)
    vrt = tmp_path / "m.vrt"
    vrt.write_text("precious")
    with pytest.raises(OutputPathError, match=r"--mosaic: .*m.vrt already exists; pass --overwrite"):
        write_mosaic_vrt(vrt, [a], CLASSES, overwrite=False)
    assert vrt.read_text() == "precious"
    assert not (tmp_path / "m.qml").exists()  # checked before anything is written: no style of its own either
    write_mosaic_vrt(vrt, [a], CLASSES, overwrite=True)
    with rasterio.open(vrt) as ds:
        assert ds.shape == (10, 10)
    # The mosaic's QGIS style beside it, the masks' own.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.qml", "a.tif", "a.tif.aux.xml", "m.qml", "m.vrt"]
    assert (tmp_path / "m.qml").read_text(encoding="utf-8") == (tmp_path / "a.qml").read_text(encoding="utf-8")
    # An existing style in its place is refused without overwrite, and nothing is written.
    vrt.unlink()
    with pytest.raises(OutputPathError, match=r"--mosaic: .*m.qml already exists; pass --overwrite"):
        write_mosaic_vrt(vrt, [a], CLASSES, overwrite=False)
    assert not vrt.exists()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("crs", r"--mosaic: .*b.tif is in EPSG:32632, not in EPSG:32633 as .*a.tif; a mosaic needs one CRS"),
        ("pixel", r"--mosaic: .*b.tif has pixels of 1 x 1, not 0.5 x 0.5 as .*a.tif; a mosaic needs one pixel size"),
        ("rotated", r"--mosaic: .*b.tif is not north-up"),
        ("flipped", r"--mosaic: .*b.tif is not north-up"),
    ],
)
def test_masks_that_do_not_share_a_grid_are_refused_naming_the_one_that_differs(tmp_path, rng, kind, message):
    a = write_mask(tmp_path / "a.tif", classes_block(rng, 10, 10), 0.0, 10.0)
    data = classes_block(rng, 10, 10)
    if kind == "crs":
        b = write_mask(tmp_path / "b.tif", data, 5.0, 10.0, crs="EPSG:32632")
    elif kind == "pixel":
        b = write_mask(tmp_path / "b.tif", data, 5.0, 10.0, px=1.0)
    elif kind == "rotated":
        b = write_mask(tmp_path / "b.tif", data, 0, 0, transform=Affine(0.5, 0.1, 5.0, 0.1, -0.5, 10.0))
    else:
        b = write_mask(tmp_path / "b.tif", data, 0, 0, transform=Affine(0.5, 0, 5.0, 0, 0.5, 10.0))
    with pytest.raises(InputError, match=message):
        write_mosaic_vrt(tmp_path / "m.vrt", [a, b], CLASSES, overwrite=False)
    assert not (tmp_path / "m.vrt").exists()


def test_what_is_not_a_georeferenced_class_mask_is_refused(tmp_path, rng):
    a = write_mask(tmp_path / "a.tif", classes_block(rng, 10, 10), 0.0, 10.0)
    rgb = tmp_path / "rgb.tif"
    with rasterio.open(rgb, "w", driver="GTiff", width=10, height=10, count=3, dtype="uint8", crs=UTM,
                       transform=Affine(0.5, 0, 5, 0, -0.5, 10)) as ds:
        ds.write(np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(InputError, match=r"--mosaic: .*rgb.tif is not a class mask \(one band of uint8\)"):
        write_mosaic_vrt(tmp_path / "m.vrt", [a, rgb], CLASSES, overwrite=False)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(a.read_bytes()[:100])
    with pytest.raises(InputError, match=r"--mosaic: cannot open mask .*broken.tif"):
        write_mosaic_vrt(tmp_path / "m.vrt", [a, broken], CLASSES, overwrite=False)
    plain = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(plain, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, 10, 10), np.uint8))
    with pytest.raises(InputError, match=r"plain.tif is not georeferenced"):
        mosaic_grid([read_grid(a), read_grid(plain)])
    with pytest.raises(InputError, match="no mask"):
        mosaic_grid([])
    assert not (tmp_path / "m.vrt").exists()


def test_a_large_mosaic_has_nearest_overviews_that_read_the_masks(tmp_path):
    # Two 700 x 600 px masks side by side: 1400 x 600 px, overviews down to at most 256 px a side.
    yy, xx = np.mgrid[0:600, 0:700]
    left = ((xx // 50 + yy // 50) % len(CLASSES)).astype(np.uint8)
    right = ((xx // 70 + 2 * (yy // 40)) % len(CLASSES)).astype(np.uint8)
    a = write_mask(tmp_path / "a.tif", left, 1000.0, 2000.0)
    b = write_mask(tmp_path / "b.tif", right, 1350.0, 2000.0)
    vrt = tmp_path / "mosaic.vrt"
    write_mosaic_vrt(vrt, [a, b], CLASSES, overwrite=False)
    overview = ET.parse(vrt).getroot().find("OverviewList")
    assert overview is not None and overview.get("resampling") == "nearest"
    assert overview.text.split() == ["2", "4", "8"]
    with rasterio.open(vrt) as ds:
        assert ds.overviews(1) == [2, 4, 8]
        small = ds.read(1, out_shape=(75, 175))  # what QGIS asks for at full extent: read from the overviews
    classes_seen = set(np.unique(small)) - {NODATA}
    assert classes_seen and classes_seen <= set(np.unique(left)) | set(np.unique(right)), "class ids, never averages"
    # QGIS's GDAL (Debian's 3.6) sees the same overviews.
    import subprocess

    code = ("from osgeo import gdal\nimport sys\nds = gdal.Open(sys.argv[1])\n"
            "b = ds.GetRasterBand(1)\nprint(b.GetOverviewCount(), b.GetOverview(0).XSize)\n")
    r = subprocess.run(["/usr/bin/python3", "-c", code, str(vrt)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3", "700"]
