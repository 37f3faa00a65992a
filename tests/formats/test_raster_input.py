"""Tests of glnet_core.formats.raster_input (with its stretch and the geo.crs pixel sizes): opening checks, band choice,
validity, 8-bit mapping, windows, pixel size.

Every raster is a real file written with rasterio in ``tmp_path``, plus the
project's sample orthophoto; no mocks.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning

from glnet.glnet_core.engine.resample import resize_float
from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats import raster_stretch
from glnet.glnet_core.formats.raster_input import RasterInput, open_raster
from glnet.glnet_core.formats.raster_stretch import PERCENTILES
from glnet.glnet_core.geo.crs import ground_pixel_size

# The project's sample orthophoto, in shared/ beside the checkout (as CI lays it out too).
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ortho_utm33n_rgba.tif"
UTM = "EPSG:32633"
UTM_TRANSFORM = Affine(0.5, 0.0, 640000.0, 0.0, -0.5, 5800000.0)

# WGS 84 ellipsoid, for hand computations of pixel sizes.
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)


def write_raster(path: Path, data: np.ndarray, *, crs=UTM, transform=UTM_TRANSFORM, **profile) -> Path:
    """Write ``data`` (bands, rows, cols) to ``path`` as a GeoTIFF (or the given driver)."""
    count, height, width = data.shape
    options = dict(driver="GTiff", width=width, height=height, count=count, dtype=data.dtype.name)
    if crs is not None:
        options.update(crs=crs, transform=transform)
    options.update(profile)
    colorinterp = options.pop("colorinterp", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **options) as ds:
            if colorinterp is not None:  # before the pixels: GDAL fixes a TIFF's extra samples at the first write
                ds.colorinterp = colorinterp
            ds.write(data)
    return path


def padded_window(data_hwc: np.ndarray, row: int, col: int, h: int, w: int) -> np.ndarray:
    """The (h, w) window of an (H, W, C) array at (row, col), zero outside."""
    H, W = data_hwc.shape[:2]
    out = np.zeros((h, w) + data_hwc.shape[2:], dtype=data_hwc.dtype)
    r0, r1, c0, c1 = max(row, 0), min(row + h, H), max(col, 0), min(col + w, W)
    if r0 < r1 and c0 < c1:
        out[r0 - row : r1 - row, c0 - col : c1 - col] = data_hwc[r0:r1, c0:c1]
    return out


@pytest.fixture
def rgb(rng) -> np.ndarray:
    """A 3-band uint8 (bands, rows, cols) image, 300 x 500, noise (compresses badly: real tiles)."""
    return rng.integers(0, 256, (3, 300, 500), dtype=np.uint8)


# -- formats -----------------------------------------------------------------


def _has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


LAYOUTS = {
    "striped": dict(tiled=False, blockysize=16, compress="deflate"),
    "tiled": dict(tiled=True, blockxsize=128, blockysize=128, compress="lzw"),
    "bigtiff": dict(tiled=True, blockxsize=256, blockysize=256, bigtiff="YES"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS) + ["cog"])
def test_geotiff_layouts_read_exactly(tmp_path, rgb, layout):
    path = tmp_path / f"{layout}.tif"
    if layout == "cog":
        if _has_driver("COG"):
            write_raster(path, rgb, driver="COG", blocksize=256, compress="deflate")
        else:  # older GDAL: a tiled GeoTIFF with overviews stands in
            write_raster(path, rgb, tiled=True, blockxsize=256, blockysize=256)
            with rasterio.open(path, "r+") as ds:
                ds.build_overviews([2, 4])
    else:
        write_raster(path, rgb, **LAYOUTS[layout])
    with rasterio.open(path) as ds:  # the file really has the layout under test
        if layout == "striped":
            assert ds.block_shapes[0] == (16, 500) and ds.profile["tiled"] is False
        elif layout == "bigtiff":
            assert path.read_bytes()[2:4] in (b"\x2b\x00", b"\x00\x2b")  # BigTIFF magic 43
        elif layout == "cog":
            assert ds.overviews(1)
        else:
            assert ds.block_shapes[0] == (128, 128) and ds.profile["tiled"] is True

    with open_raster(path, 3) as r:
        assert (r.width, r.height) == (500, 300)
        assert r.crs == rasterio.crs.CRS.from_string(UTM)
        assert r.transform == UTM_TRANSFORM
        assert r.georeferenced
        assert r.bands == (1, 2, 3) and r.band_count == 3
        assert r.dtype == "uint8" and r.input_range_per_band is None
        assert r.nodata_source == "none"
        assert r.pixel_size_m == (0.5, 0.5)  # nominal: UTM metres are ground metres within 0.1 %
        assert r.ground_pixel_size_m == pytest.approx((0.5, 0.5), rel=2e-3)
        assert r.ground_pixel_size_m != r.pixel_size_m  # the scale factor is there
        image, valid = r.read(37, 101, 150, 260)
        assert image.shape == (150, 260, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, rgb[:, 37:187, 101:361].transpose(1, 2, 0))
        assert valid.all()
        whole, valid = r.read(0, 0, 300, 500)
        np.testing.assert_array_equal(whole, rgb.transpose(1, 2, 0))


@pytest.mark.parametrize("driver,ext", [("PNG", "png"), ("JPEG", "jpg")])
def test_jpeg_and_png_without_georeferencing(tmp_path, rgb, driver, ext):
    path = write_raster(tmp_path / f"photo.{ext}", rgb[:, :120, :200], crs=None, driver=driver)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_raster(path, 3) as r:
            assert r.georeferenced is False
            assert r.crs is None
            assert r.transform == Affine.identity()
            assert r.pixel_size_m is None
            image, valid = r.read(0, 0, 120, 200)
    assert not [w for w in caught if issubclass(w.category, NotGeoreferencedWarning)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            decoded = ds.read().transpose(1, 2, 0)  # JPEG is lossy: compare with GDAL's own decoding
    np.testing.assert_array_equal(image, decoded)
    if driver == "PNG":
        np.testing.assert_array_equal(image, rgb[:, :120, :200].transpose(1, 2, 0))
    assert valid.all()


# -- boundless windows ---------------------------------------------------------


@pytest.mark.parametrize(
    "row,col,h,w",
    [
        (-20, -30, 64, 64),  # top-left corner
        (280, 480, 64, 64),  # bottom-right corner
        (100, -10, 20, 600),  # wider than the raster
        (-5, 200, 400, 10),  # taller than the raster
        (300, 0, 10, 10),  # just below
        (-50, 600, 20, 20),  # far outside
    ],
)
def test_boundless_reads(tmp_path, rgb, row, col, h, w):
    path = write_raster(tmp_path / "b.tif", rgb, tiled=True, blockxsize=64, blockysize=64)
    with open_raster(path, 3) as r:
        image, valid = r.read(row, col, h, w)
    data = rgb.transpose(1, 2, 0)
    np.testing.assert_array_equal(image, padded_window(data, row, col, h, w))
    inside = padded_window(np.ones(data.shape[:2], bool), row, col, h, w)
    np.testing.assert_array_equal(valid, inside)


# -- band choice and 8-bit mapping ----------------------------------------------


def test_uint16_bands_and_input_range(tmp_path, rng):
    data = rng.integers(0, 5000, (5, 40, 60), dtype=np.uint16)
    data[0, 0, :4] = [999, 1000, 3000, 3001]  # around both ends of the range
    path = write_raster(tmp_path / "u16.tif", data)
    with open_raster(path, 3, bands=[5, 1, 3], input_range=(1000, 3000)) as r:
        assert r.bands == (5, 1, 3) and r.dtype == "uint16"
        assert r.input_range_per_band == ((1000.0, 3000.0),) * 3
        image, valid = r.read(0, 0, 40, 60)
    chosen = data[[4, 0, 2]].astype(np.float64)
    expected = np.clip(np.floor((chosen - 1000) * 255 / 2000 + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(image, expected)
    assert list(image[0, :4, 1]) == [0, 0, 255, 255]
    assert valid.all()


def test_uint16_automatic_percentiles(tmp_path, rng):
    data = rng.integers(100, 60000, (3, 200, 300), dtype=np.uint16)
    data[:, :, :50] = 0  # nodata: must not pull the low percentile down
    path = write_raster(tmp_path / "u16.tif", data, nodata=0)
    with open_raster(path, 3) as r:  # small raster: the "decimated" sample is the whole raster
        ranges = r.input_range_per_band
        image, valid = r.read(0, 0, 200, 300)
    for k in range(3):
        lo, hi = np.percentile(data[k][:, 50:].astype(np.float64), PERCENTILES)
        assert ranges[k] == pytest.approx((lo, hi))
        assert ranges[k][0] > 1000
        expected = np.clip(np.floor((data[k].astype(np.float64) - lo) * 255 / (hi - lo) + 0.5), 0, 255)
        np.testing.assert_array_equal(image[:, 50:, k], expected[:, 50:])
    assert not valid[:, :50].any() and valid[:, 50:].all()


def test_percentiles_from_decimated_read_and_windows_agree(tmp_path):
    # A smooth ramp larger than the sample size: the decimated sample's percentiles
    # are close to the full raster's, and overlapping windows map identically.
    rows, cols = 600, 2600
    ramp = (np.arange(cols, dtype=np.float64)[None, :] * 10 + np.arange(rows)[:, None]).astype(np.uint16)
    data = np.stack([ramp, ramp // 2, 60000 - ramp])
    path = write_raster(tmp_path / "big16.tif", data, tiled=True, blockxsize=256, blockysize=256)
    with open_raster(path, 3) as r:
        for k in range(3):
            lo, hi = np.percentile(data[k].astype(np.float64), PERCENTILES)
            assert r.input_range_per_band[k] == pytest.approx((lo, hi), rel=0.01)
        a, _ = r.read(100, 1000, 256, 256)
        b, _ = r.read(228, 1128, 256, 256)
    np.testing.assert_array_equal(a[128:, 128:], b[:128, :128])


def test_percentiles_of_a_huge_raster_come_from_a_grid_of_windows(tmp_path, rng, monkeypatch):
    # Rasters above SAMPLE_FULL_READ_PIXELS (without overviews) are sampled by small
    # windows; lowering the threshold exercises that path on a small file.
    # Values rise across the raster: only a sample spread over all of it gets the percentiles right.
    r, c = np.mgrid[0:700, 0:900]
    data = (np.stack([10 * c + 20 * r, 30 * c, 40 * r])[:, :, :] + rng.normal(1000, 100, (3, 700, 900))).astype(np.uint16)
    data[:, :100, :] = 0  # nodata band at the top
    path = write_raster(tmp_path / "huge16.tif", data, nodata=0, tiled=True, blockxsize=256, blockysize=256)
    monkeypatch.setattr(raster_stretch, "SAMPLE_FULL_READ_PIXELS", 0)
    monkeypatch.setattr(raster_stretch, "SAMPLE_GRID", 8)
    with open_raster(path, 3) as r:
        ranges = r.input_range_per_band
    for k in range(3):
        lo, hi = np.percentile(data[k][100:].astype(np.float64), PERCENTILES)
        # 8 x 8 windows of 128 px: percentiles within 2 % of the range of the true ones
        assert ranges[k] == pytest.approx((lo, hi), abs=0.02 * (hi - lo))


def test_float32_with_nan_and_range(tmp_path, rng):
    data = rng.uniform(-1, 1, (3, 30, 40)).astype(np.float32)
    data[1, 5, 7] = np.nan
    data[:, 10, 10] = -9999.0
    path = write_raster(tmp_path / "f32.tif", data, nodata=-9999.0)
    with open_raster(path, 3, input_range=(-1.0, 1.0)) as r:
        assert r.dtype == "float32" and r.nodata_source == "nodata"
        image, valid = r.read(0, 0, 30, 40)
    expected = np.clip(np.floor((data.astype(np.float64) + 1) * 127.5 + 0.5), 0, 255)
    ok = np.isfinite(data).all(axis=0)
    np.testing.assert_array_equal(image[ok], expected.transpose(1, 2, 0)[ok])
    assert not valid[5, 7] and not valid[10, 10]
    assert valid.sum() == 30 * 40 - 2


def test_explicit_range_applies_to_8_bit_data(tmp_path, rgb):
    path = write_raster(tmp_path / "u8.tif", rgb)
    with open_raster(path, 3, input_range=(0, 127.5)) as r:
        image, _ = r.read(0, 0, 300, 500)
    expected = np.clip(np.floor(rgb.astype(np.float64) * 2 + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(image, expected.transpose(1, 2, 0))


# -- validity ------------------------------------------------------------------


def test_rgba_alpha_is_validity(tmp_path, rgb):
    alpha = np.full((1, 300, 500), 255, np.uint8)
    alpha[0, :40, :] = 0
    alpha[0, 100:110, 200:260] = 0
    data = np.concatenate([rgb, alpha])
    ci = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    path = write_raster(tmp_path / "rgba.tif", data, photometric="RGB", colorinterp=ci)
    with open_raster(path, 3) as r:
        assert r.bands == (1, 2, 3) and r.alpha_band == 4
        assert r.nodata_source == "alpha"
        image, valid = r.read(0, 0, 300, 500)
    np.testing.assert_array_equal(valid, alpha[0] != 0)
    np.testing.assert_array_equal(image, rgb.transpose(1, 2, 0))
    with open_raster(path, 3, bands=(3, 2, 1)) as r:  # alpha still rules when not chosen
        image, valid = r.read(30, 190, 100, 100)
    np.testing.assert_array_equal(valid, alpha[0, 30:130, 190:290] != 0)
    np.testing.assert_array_equal(image, rgb[::-1, 30:130, 190:290].transpose(1, 2, 0))


def test_nodata_value_needs_every_band(tmp_path, rgb):
    data = rgb.copy()
    data[:, 10, 10] = 0  # every band nodata: invalid
    data[0, 20, 20] = 0  # one band only: valid
    data[1:, 20, 20] = 7
    path = write_raster(tmp_path / "nd.tif", data, nodata=0)
    with open_raster(path, 3) as r:
        assert r.nodata_source == "nodata" and r.nodata_values == (0.0, 0.0, 0.0)
        _, valid = r.read(0, 0, 300, 500)
    np.testing.assert_array_equal(valid, (data != 0).any(axis=0))
    assert not valid[10, 10] and valid[20, 20]


def test_internal_mask(tmp_path, rgb):
    path = tmp_path / "masked.tif"
    mask = np.full((300, 500), 255, np.uint8)
    mask[50:80, 100:400] = 0
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(
            path, "w", driver="GTiff", width=500, height=300, count=3, dtype="uint8", crs=UTM, transform=UTM_TRANSFORM
        ) as ds:
            ds.write(rgb)
            ds.write_mask(mask)
    assert not Path(str(path) + ".msk").exists()  # really internal
    with open_raster(path, 3) as r:
        assert r.nodata_source == "mask"
        _, valid = r.read(40, 90, 60, 320)
    np.testing.assert_array_equal(valid, mask[40:100, 90:410] != 0)


def test_sample_orthophoto():
    with rasterio.open(SAMPLE) as ds:
        ref = ds.read(window=rasterio.windows.Window(1100, 700, 143, 141))  # the part inside the raster
    with open_raster(SAMPLE, 3) as r:
        assert (r.width, r.height) == (1243, 841)
        assert r.bands == (1, 2, 3) and r.alpha_band == 4 and r.nodata_source == "alpha"
        assert r.crs.to_epsg() == 32633
        assert r.pixel_size_m == pytest.approx((0.02, 0.02), rel=1e-3)
        image, valid = r.read(700, 1100, 200, 200)
    inside = (slice(0, 141), slice(0, 143))
    np.testing.assert_array_equal(image[inside], ref[:3].transpose(1, 2, 0))
    np.testing.assert_array_equal(valid[inside], ref[3] != 0)
    assert not image[141:].any() and not image[:, 143:].any()
    assert not valid[141:].any() and not valid[:, 143:].any()


# -- pixel size ------------------------------------------------------------------


def test_pixel_size_geographic(tmp_path, rng):
    # 100 x 80 pixels of 0.001 degrees centred on 47.3 N: metres on the WGS 84 ellipsoid.
    res, lat = 0.001, 47.3
    transform = Affine(res, 0, 8.5 - 50 * res, 0, -res, lat + 40 * res)
    path = write_raster(tmp_path / "geo.tif", rng.integers(0, 255, (3, 80, 100), dtype=np.uint8), crs="EPSG:4326", transform=transform)
    with open_raster(path, 3) as r:
        px, py = r.pixel_size_m
        assert r.ground_pixel_size_m == r.pixel_size_m  # degrees have no nominal size in metres
    phi = math.radians(lat)
    w = 1 - WGS84_E2 * math.sin(phi) ** 2
    along_parallel = math.radians(res) * WGS84_A * math.cos(phi) / math.sqrt(w)
    along_meridian = math.radians(res) * WGS84_A * (1 - WGS84_E2) / w**1.5
    assert px == pytest.approx(along_parallel, rel=1e-6)
    assert py == pytest.approx(along_meridian, rel=1e-6)
    assert px == pytest.approx(75.6, abs=0.1)  # sanity: ~75.6 m per 0.001 degree of longitude there


def test_pixel_size_web_mercator_is_ground_size(tmp_path, rng):
    # Web Mercator "metres" shrink by cos(latitude) on the ground: a 1 m EPSG:3857
    # pixel at 60 N is about 0.5 m. Exactly (spherical projection of ellipsoidal
    # coordinates): x scale a / (N cos phi), y scale a / (M cos phi).
    phi = math.radians(60.0)
    y = WGS84_A * math.log(math.tan(math.pi / 4 + phi / 2))
    transform = Affine(1.0, 0, 1_000_000.0 - 50, 0, -1.0, y + 40)
    path = write_raster(tmp_path / "wm.tif", rng.integers(0, 255, (3, 80, 100), dtype=np.uint8), crs="EPSG:3857", transform=transform)
    with open_raster(path, 3) as r:
        px, py = r.pixel_size_m
        assert r.ground_pixel_size_m == r.pixel_size_m  # 50 % off the nominal size: the ground size is used
    w = 1 - WGS84_E2 * math.sin(phi) ** 2
    assert px == pytest.approx(math.cos(phi) / math.sqrt(w), rel=1e-6)
    assert py == pytest.approx(math.cos(phi) * (1 - WGS84_E2) / w**1.5, rel=1e-6)
    assert px == pytest.approx(0.5, rel=0.01)
    # Near the equator Web Mercator metres are ground metres within 1 %: the nominal size is used.
    equator = write_raster(tmp_path / "wm0.tif", rng.integers(0, 255, (3, 80, 100), dtype=np.uint8), crs="EPSG:3857",
                           transform=Affine(1.0, 0, 1_000_000.0, 0, -1.0, 50_000.0))
    with open_raster(equator, 3) as r:
        assert r.pixel_size_m == (1.0, 1.0)
        assert r.ground_pixel_size_m[0] == pytest.approx(math.cos(math.radians(0.45)), rel=2e-3)


def test_pixel_size_of_local_and_unknown_crs():
    feet = rasterio.crs.CRS.from_wkt('LOCAL_CS["site grid",UNIT["foot",0.3048]]')
    assert ground_pixel_size(feet, Affine(2, 0, 0, 0, -2, 0), 100, 80) == pytest.approx((0.6096, 0.6096))
    assert ground_pixel_size(None, Affine(2, 0, 0, 0, -2, 0), 100, 80) is None
    # A rotated grid: the pixel's sides, not the transform's coefficients.
    rotated = Affine(0.3, -0.4, 640000, 0.4, 0.3, 5800000)
    assert ground_pixel_size(rasterio.crs.CRS.from_epsg(32633), rotated, 100, 80) == pytest.approx((0.5, 0.5), rel=2e-3)


# -- resampled reads ---------------------------------------------------------------


def ramp_raster(tmp_path: Path, rows: int = 100, cols: int = 80) -> Path:
    """Band 1 rises 3 per column, band 2 2 per row, band 3 constant (uint8): steep enough that a
    shift of half a pixel shows."""
    r, c = np.mgrid[0:rows, 0:cols]
    data = np.stack([3 * c + 10, 2 * r + 20, np.full_like(r, 90)]).astype(np.uint8)
    return write_raster(tmp_path / "ramp.tif", data)


@pytest.mark.parametrize(
    "window,out_shape",
    [
        ((10.25, 20.5, 30.5, 40.25), (61, 161)),  # upsampling a fractional window
        ((12.5, 10.75, 60.0, 60.5), (20, 30)),  # downsampling it (filter support stays inside the raster)
        ((20.0, 30.0, 33.3, 47.9), None),  # fractional size, default out shape
    ],
)
def test_out_shape_resampling_of_a_float_window(tmp_path, window, out_shape):
    # Both bilinear interpolation and the antialiasing triangle filter reproduce a
    # linear ramp exactly away from the edges: pixel j's centre sits at source
    # coordinate off + (j + 0.5) * size / n, and a pixel k's value is its centre k + 0.5.
    path = ramp_raster(tmp_path)
    row, col, height, width = window
    with open_raster(path, 3) as r:
        image, valid = r.read(row, col, height, width, out_shape=out_shape)
    oh, ow = out_shape or (round(height), round(width))
    assert image.shape == (oh, ow, 3) and valid.all()
    xc = col + (np.arange(ow) + 0.5) * width / ow - 0.5
    yc = row + (np.arange(oh) + 0.5) * height / oh - 0.5
    np.testing.assert_allclose(image[:, :, 0], np.broadcast_to(np.floor(3 * xc + 10 + 0.5), (oh, ow)), atol=1)
    np.testing.assert_allclose(image[:, :, 1], np.broadcast_to(np.floor(2 * yc[:, None] + 20 + 0.5), (oh, ow)), atol=1)
    assert (image[:, :, 2] == 90).all()


def test_out_shape_identity_and_whole_raster(tmp_path, rgb):
    path = write_raster(tmp_path / "n.tif", rgb)
    with open_raster(path, 3) as r:
        same, valid = r.read(10, 20, 100, 150, out_shape=(100, 150))
        small, small_valid = r.read(0, 0, 300, 500, out_shape=(90, 140))
    np.testing.assert_array_equal(same, rgb[:, 10:110, 20:170].transpose(1, 2, 0))
    assert valid.all() and small_valid.all()
    # On a whole raster the filter is Pillow's bilinear resize.
    reference = np.floor(resize_float(rgb.transpose(1, 2, 0).astype(np.float64), 90, 140) + 0.5)
    assert np.abs(small.astype(np.int64) - reference).max() <= 1


def test_resampled_validity_at_edges_and_nodata(tmp_path):
    data = np.full((3, 60, 80), 200, np.uint8)
    data[:, :, 40:] = 0  # right half nodata
    path = write_raster(tmp_path / "half.tif", data, nodata=0)
    with open_raster(path, 3) as r:
        image, valid = r.read(-10.5, 20.0, 80.0, 40.0, out_shape=(40, 20))  # 2x down, 10.5 rows above the top
    # Output row i covers source rows -10.5 + 2i .. + 2: rows with centre >= 0 are valid;
    # output columns cover source 20 + 2j: the first 10 are data, the rest nodata.
    centres = -10.5 + (np.arange(40) + 0.5) * 2
    rows_in = (centres >= 0) & (centres < 60)
    np.testing.assert_array_equal(valid, rows_in[:, None] & (np.arange(20) < 10)[None, :])
    # Nodata (0) does not bleed into valid pixels next to it.
    assert (image[valid] == 200).all()
    with open_raster(path, 3) as r:
        image, valid = r.read(500.0, 500.0, 10.0, 10.0, out_shape=(3, 3))
    assert not valid.any() and not image.any()


# -- errors --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.tif does not exist"):
        open_raster(tmp_path / "nothere.tif", 3)


def test_text_file(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("just some text\n" * 20)
    with pytest.raises(InputError, match=r"notes\.tif is not a raster GDAL can read$"):
        open_raster(path, 3)


def test_empty_and_zero_size(tmp_path):
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.tif is empty"):
        open_raster(empty, 3)
    header_only = tmp_path / "header.tif"
    header_only.write_bytes(b"II*\x00\x08\x00\x00\x00")  # a TIFF header pointing at a missing directory
    with pytest.raises(InputError, match=r"header\.tif") as info:
        open_raster(header_only, 3)
    assert "\n" not in str(info.value)
    # GDAL refuses to create or open a 0-pixel raster; a VRT asking for one is the closest.
    zero = tmp_path / "zero.vrt"
    zero.write_text('<VRTDataset rasterXSize="0" rasterYSize="5"><VRTRasterBand dataType="Byte" band="1"/></VRTDataset>')
    with pytest.raises(InputError, match=r"zero\.vrt.*0 x 5"):
        open_raster(zero, 3)


def test_truncated_tiff_is_found_at_open(tmp_path, rgb):
    path = write_raster(tmp_path / "whole.tif", rgb, tiled=True, blockxsize=128, blockysize=128, compress="deflate")
    with open_raster(path, 3):
        pass  # the intact file is fine
    data = path.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(InputError, match=r"cut\.tif is damaged or truncated") as info:
        open_raster(cut, 3)
    assert "\n" not in str(info.value)


def test_damaged_block_in_the_middle_fails_the_read(tmp_path, rgb):
    path = write_raster(tmp_path / "dmg.tif", rgb, tiled=True, blockxsize=128, blockysize=128, compress="deflate")
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=2))
        size = int(ds.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=2))
    raw = bytearray(path.read_bytes())
    raw[offset : offset + size] = b"\xff" * size  # not a deflate stream
    path.write_bytes(bytes(raw))
    with open_raster(path, 3) as r:  # first and last blocks are intact
        r.read(0, 0, 100, 100)
        with pytest.raises(InputError, match=r"dmg\.tif is damaged or truncated: reading rows 130 to 190, columns 140 to 200"):
            r.read(130, 140, 60, 60)


def test_wrong_band_count(tmp_path, rng):
    two = write_raster(tmp_path / "two.tif", rng.integers(0, 255, (2, 10, 10), dtype=np.uint8))
    with pytest.raises(InputError) as info:
        open_raster(two, 3)
    assert str(info.value) == (
        f"{two} has 2 band(s), the model expects 3 (red, green, blue): choose them with --bands, e.g. --bands 1,1,1"
    )
    # RGBN, no alpha (GDAL's default for 4 bytes bands is RGBA: say MINISBLACK)
    four = write_raster(tmp_path / "four.tif", rng.integers(0, 255, (4, 10, 10), dtype=np.uint8), photometric="MINISBLACK")
    with rasterio.open(four) as ds:
        assert ColorInterp.alpha not in ds.colorinterp
    with pytest.raises(InputError, match=r"has 4 band\(s\), the model expects 3 .*--bands 1,2,3$"):
        open_raster(four, 3)
    with open_raster(four, 3, bands=(4, 1, 2)) as r:
        assert r.bands == (4, 1, 2)
    with open_raster(two, 3, bands=(1, 1, 2)) as r:  # repeats are allowed
        image, _ = r.read(0, 0, 10, 10)
        np.testing.assert_array_equal(image[..., 0], image[..., 1])


@pytest.mark.parametrize(
    "bands,message",
    [
        ((1, 2), r"--bands lists 2 band\(s\), the model expects 3"),
        ((1, 2, 3, 4), r"--bands lists 4 band\(s\)"),
        ((1, 2, 5), r"--bands 1,2,5 names band\(s\) 5, but the raster has bands 1 to 3"),
        ((0, 1, 2), r"names band\(s\) 0,"),
    ],
)
def test_bad_bands(tmp_path, rgb, bands, message):
    path = write_raster(tmp_path / "rgb.tif", rgb)
    with pytest.raises(InputError, match=message):
        open_raster(path, 3, bands=bands)


def test_bad_input_range(tmp_path, rgb):
    path = write_raster(tmp_path / "rgb.tif", rgb)
    with pytest.raises(InputError, match="LOW < HIGH"):
        open_raster(path, 3, input_range=(10, 10))


def test_close_and_misuse(tmp_path, rgb):
    path = write_raster(tmp_path / "rgb.tif", rgb)
    r = open_raster(path, 3)
    assert isinstance(r, RasterInput)
    with pytest.raises(ValueError):
        r.read(0, 0, 0, 10)
    with pytest.raises(ValueError):
        r.read(0, 0, 10, 10, out_shape=(0, 5))
    r.close()
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.read(0, 0, 10, 10)
