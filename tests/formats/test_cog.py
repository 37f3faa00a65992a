"""Masks and confidence rasters are Cloud Optimized GeoTIFFs, and the COG layout check that says so.

glnet_core/formats/cog_layout.py reads a TIFF's structure itself; here it is
shown to accept what GDAL's COG writer makes, to reject what breaks the
layout (strips, overviews written after the data or in a ``.ovr`` file, a COG
edited in place, damaged files), and to agree with GDAL's own validator where
QGIS's GDAL ships it. Then every raster glnet writes through
``MaskWriter`` (segment's mask and confidence, the pipeline's minimum mapping
unit, synthetic data sets) is checked with it: tiled, overviews down to one
tile, IFDs first, computed with MODE (classes) or NEAREST (confidence), never
an average, colour table and category names kept. Everything is real:
GeoTIFFs through rasterio, the shipped demo bundle through onnxruntime.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path
from typing import List

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.rpc import RPC

from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
from glnet.glnet_core.engine.segment import segment
from glnet.glnet_core.formats.class_mask import colour_table, read_category_names
from glnet.glnet_core.formats.class_mask_writer import OVERVIEW_RESAMPLING, MaskWriter
from glnet.glnet_core.formats.classes import PRESETS
from glnet.glnet_core.formats.cog_layout import CogLayoutError, check_cog, cog_problems, read_tiff_layout
from glnet.glnet_core.products.pipeline import PolygonOptions, run_pipeline
from glnet.glnet_core.samples.dataset import SynthOptions, write_dataset
from tests.adversarial.conftest import DEMO_BUNDLE, assert_no_parts

DEEPGLOBE = PRESETS["deepglobe"]
UTM = rasterio.crs.CRS.from_epsg(32633)
W, H = 1300, 1100  # two overview levels at 512 px tiles: 650 x 550, 325 x 275
GDAL_VALIDATOR = ["/usr/bin/python3", "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", "-q"]


def _plain(path: Path, width: int = W, height: int = H, **profile) -> Path:
    """A GeoTIFF as GDAL writes it by default (striped unless ``tiled``), holding class-like values."""
    kw = dict(driver="GTiff", width=width, height=height, count=1, dtype="uint8", nodata=255, crs=UTM,
              transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000))
    kw.update(profile)
    data = np.random.default_rng(0).integers(0, 7, (height, width), dtype=np.uint8)
    with rasterio.open(path, "w", **kw) as ds:
        ds.write(data, 1)
    return path


def _tiled(path: Path, **profile) -> Path:
    return _plain(path, tiled=True, blockxsize=512, blockysize=512, compress="deflate", **profile)


def _gdal_cog(src: Path, dst: Path, **options) -> Path:
    rasterio.shutil.copy(str(src), str(dst), driver="COG", compress="deflate", blocksize=512, resampling="MODE",
                         **options)
    return dst


def _has(problems: List[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in problems)


# ------------------------------------------------------------------ the layout check


def test_what_gdal_writes_as_a_cog_is_valid(tmp_path):
    src = _tiled(tmp_path / "src.tif")
    classic = _gdal_cog(src, tmp_path / "cog.tif")
    big = _gdal_cog(src, tmp_path / "big.tif", bigtiff="YES")
    # GTiff with COPY_SRC_OVERVIEWS from overviews in a .ovr: the same layout, here big-endian (MM).
    with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(src, "r+") as ds:
        ds.build_overviews([2, 4], Resampling.nearest)
    mm = tmp_path / "mm.tif"
    rasterio.shutil.copy(str(src), str(mm), driver="GTiff", tiled=True, blockxsize=512, blockysize=512,
                         compress="deflate", copy_src_overviews=True, endianness="BIG")
    for path in (classic, big, mm):
        assert cog_problems(path, ghost_header=True, require_overviews=True) == [], path
        check_cog(path, ghost_header=True, require_overviews=True)
    layouts = {p.name: read_tiff_layout(p) for p in (classic, big, mm)}
    assert (layouts["cog.tif"].bigtiff, layouts["big.tif"].bigtiff) == (False, True)
    assert layouts["mm.tif"].byte_order == ">" and layouts["cog.tif"].byte_order == "<"
    for layout in layouts.values():
        assert [(im.width, im.height) for im in layout.images] == [(W, H), (650, 550), (325, 275)]
        assert layout.ghost["LAYOUT"] == "IFDS_BEFORE_DATA"


def test_a_cog_with_an_internal_mask_is_valid(tmp_path):
    src = tmp_path / "masked.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(src, "w", driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs=UTM,
                           transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
            data = np.random.default_rng(1).integers(0, 7, (H, W), dtype=np.uint8)
            ds.write(data, 1)
            ds.write_mask(np.where(data > 3, 255, 0).astype(np.uint8))
        cog = _gdal_cog(src, tmp_path / "cog.tif")
    layout = read_tiff_layout(cog)
    assert sum(im.is_mask for im in layout.images) == 3  # one per level
    assert cog_problems(cog, ghost_header=True, require_overviews=True) == []


def test_a_striped_geotiff_is_rejected(tmp_path):
    striped = _plain(tmp_path / "striped.tif")
    problems = cog_problems(striped)
    assert _has(problems, "IFD 0", "strips"), problems
    with pytest.raises(CogLayoutError, match="not a cloud optimized GeoTIFF.*strips") as err:
        check_cog(striped)
    assert str(striped) in str(err.value) and "\n" not in str(err.value)
    # As GDAL's rule: one small level may keep strips (it is one read anyway), but has no ghost header.
    small = _plain(tmp_path / "small.tif", width=300, height=200)
    assert cog_problems(small, require_overviews=True) == []
    assert cog_problems(small, ghost_header=True) == ["no GDAL ghost header (LAYOUT=IFDS_BEFORE_DATA)"]


def test_overviews_written_after_the_data_are_rejected(tmp_path):
    path = _tiled(tmp_path / "after.tif")
    with rasterio.open(path, "r+") as ds:  # GDAL appends internal overviews after the main image's data
        ds.build_overviews([2, 4], Resampling.nearest)
    problems = cog_problems(path)
    assert _has(problems, "IFD 1 (overview 650 x 550)", "after image data", "IFDs must all come before"), problems
    assert _has(problems, "data of IFD 1", "lies after data of IFD 0", "smaller overviews must come first"), problems
    with pytest.raises(CogLayoutError):
        check_cog(path)


def test_external_overviews_are_rejected(tmp_path):
    path = _tiled(tmp_path / "ext.tif")
    assert cog_problems(path) == []  # tiled, no overviews: a COG of one level
    assert _has(cog_problems(path, require_overviews=True), "smallest level is 1300 x 1100", "overviews are missing")
    with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(path, "r+") as ds:
        ds.build_overviews([2, 4], Resampling.nearest)
    assert (tmp_path / "ext.tif.ovr").is_file()
    assert cog_problems(path) == ["overviews in the external file ext.tif.ovr: a COG holds its overviews itself"]


def test_a_cog_edited_in_place_is_rejected(tmp_path):
    cog = _gdal_cog(_tiled(tmp_path / "src.tif"), tmp_path / "cog.tif")
    noise = np.random.default_rng(2).integers(0, 255, (512, 512), dtype=np.uint8)
    with rasterio.open(cog, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.write(noise, 1, window=((0, 512), (0, 512)))  # a larger tile: GDAL appends it at the end
    problems = cog_problems(cog)
    assert _has(problems, "KNOWN_INCOMPATIBLE_EDITION=YES"), problems
    assert _has(problems, "IFD 0", "row-major order"), problems


def test_damaged_files_and_broken_tile_leaders(tmp_path):
    cog = _gdal_cog(_tiled(tmp_path / "src.tif"), tmp_path / "cog.tif")
    raw = cog.read_bytes()
    layout = read_tiff_layout(cog)

    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a TIFF file at all")
    assert _has(cog_problems(junk), "not a TIFF file")
    short = tmp_path / "short.tif"
    short.write_bytes(b"II*\x00")
    assert _has(cog_problems(short), "shorter than a TIFF header")
    assert _has(cog_problems(tmp_path / "missing.tif"), "cannot read")

    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(raw[: len(raw) // 2])
    assert _has(cog_problems(truncated), "IFD 0", "past the end of the file")

    # The last IFD's next-IFD pointer sent back to the first: a loop, not an endless read.
    last = layout.images[-1]
    looped = bytearray(raw)
    looped[last.end - 4:last.end] = layout.images[0].offset.to_bytes(4, "little")
    (tmp_path / "loop.tif").write_bytes(bytes(looped))
    assert _has(cog_problems(tmp_path / "loop.tif"), "loops back")

    # One tile's size leader overwritten: what the ghost header declares no longer holds.
    main = layout.images[0]
    at = int(main.offsets[3])
    bad = bytearray(raw)
    bad[at - 4:at] = b"\x00\x00\x00\x00"
    (tmp_path / "leader.tif").write_bytes(bytes(bad))
    assert cog_problems(tmp_path / "leader.tif") == [
        "IFD 0 (image 1300 x 1100): 1 tile(s) not preceded by their size (BLOCK_LEADER)"]


def _gdal_validator_installed() -> bool:
    if not Path(GDAL_VALIDATOR[0]).exists():
        return False
    probe = [GDAL_VALIDATOR[0], "-c", "import osgeo_utils.samples.validate_cloud_optimized_geotiff"]
    return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _gdal_validator_installed(),
                    reason="GDAL's validate_cloud_optimized_geotiff (it ships with QGIS's GDAL) is not installed")
def test_the_verdicts_agree_with_gdals_validator(tmp_path):
    src = _tiled(tmp_path / "src.tif")
    after = _tiled(tmp_path / "after.tif")
    with rasterio.open(after, "r+") as ds:
        ds.build_overviews([2, 4], Resampling.nearest)
    ext = _tiled(tmp_path / "ext.tif")
    with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(ext, "r+") as ds:
        ds.build_overviews([2, 4], Resampling.nearest)
    edited = _gdal_cog(src, tmp_path / "edited.tif")
    with rasterio.open(edited, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.write(np.random.default_rng(2).integers(0, 255, (512, 512), dtype=np.uint8), 1, window=((0, 512), (0, 512)))
    w = MaskWriter(tmp_path / "mask.tif", width=W, height=H, crs=UTM, transform=Affine(0.5, 0, 500000, 0, -0.5, 5e6),
                   classes=DEEPGLOBE)
    w.write(0, 0, np.random.default_rng(3).integers(0, 7, (H, W), dtype=np.uint8))
    w.commit()
    cases = {_gdal_cog(src, tmp_path / "cog.tif"): True, _gdal_cog(src, tmp_path / "big.tif", bigtiff="YES"): True,
             tmp_path / "mask.tif": True, _plain(tmp_path / "striped.tif"): False, after: False, ext: False,
             edited: False}
    for path, valid in cases.items():
        gdal = subprocess.run(GDAL_VALIDATOR + [str(path)], capture_output=True, text=True, timeout=60)
        assert (gdal.returncode == 0) is valid, (path.name, gdal.stdout, gdal.stderr)
        assert (cog_problems(path) == []) is valid, (path.name, cog_problems(path))


# ------------------------------------------------------------------ what MaskWriter commits


def _level(path: Path, k: int) -> np.ndarray:
    """Overview ``k`` (0: the first) as stored, not resampled."""
    with rasterio.open(path, overview_level=k) as ds:
        return ds.read(1)


def assert_overviews_hold_block_values(path: Path) -> int:
    """Every overview pixel is a value found in the block of full-resolution pixels it covers; returns the levels.

    An average (of class ids or of a palette's colours) would give values
    that are not there: a class that the block does not hold.
    """
    with rasterio.open(path) as ds:
        base, factors = ds.read(1), ds.overviews(1)
    bh, bw = base.shape
    for k in range(len(factors)):
        ov = _level(path, k)
        h, w = ov.shape
        # Rows and columns each overview pixel covers (widened by one pixel where the ratio is not whole).
        r0 = np.floor(np.arange(h) * bh / h).astype(int)
        r1 = np.minimum(np.ceil(np.arange(1, h + 1) * bh / h).astype(int), bh)
        c0 = np.floor(np.arange(w) * bw / w).astype(int)
        c1 = np.minimum(np.ceil(np.arange(1, w + 1) * bw / w).astype(int), bw)
        for value in np.unique(ov):
            hit = np.zeros((bh + 1, bw + 1), np.int64)
            hit[1:, 1:] = np.cumsum(np.cumsum(base == value, axis=0), axis=1)
            inside = (hit[np.ix_(r1, c1)] - hit[np.ix_(r0, c1)] - hit[np.ix_(r1, c0)] + hit[np.ix_(r0, c0)]) > 0
            where = ov == value
            assert inside[where].all(), f"{path.name}: overview {k} holds {value} where its block has none"
    return len(factors)


def _writer(path: Path, **kw) -> MaskWriter:
    options = dict(width=W, height=H, crs=UTM, transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=DEEPGLOBE)
    options.update(kw)
    return MaskWriter(path, **options)


def test_class_overviews_are_the_mode_and_confidence_overviews_a_pixel(tmp_path):
    # Three of four pixels are water (5): the mode says water where GDAL's nearest takes the
    # top-left urban (1) pixel; 4 and 5 in a checkerboard average (even through the palette) to 1.
    for name, pattern, expected in (("mode.tif", [[1, 5], [5, 5]], {5}), ("mix.tif", [[4, 5], [5, 4]], {4, 5})):
        w = _writer(tmp_path / name)
        w.write(0, 0, np.tile(np.array(pattern, np.uint8), (H // 2, W // 2)))
        w.commit()
        for k in (0, 1):
            assert set(np.unique(_level(tmp_path / name, k)).tolist()) <= expected, (name, k)
        assert assert_overviews_hold_block_values(tmp_path / name) == 2
    conf = _writer(tmp_path / "conf.tif", classes=None, kind="confidence")
    conf.write(0, 0, np.tile(np.array([[10, 20], [30, 40]], np.uint8), (H // 2, W // 2)))
    conf.commit()
    for k in (0, 1):
        assert set(np.unique(_level(tmp_path / "conf.tif", k)).tolist()) <= {10, 20, 30, 40}  # never 25
    assert assert_overviews_hold_block_values(tmp_path / "conf.tif") == 2
    for path in (tmp_path / "mode.tif", tmp_path / "mix.tif", tmp_path / "conf.tif"):
        assert cog_problems(path, ghost_header=True, require_overviews=True) == []
    assert_no_parts(tmp_path)
    assert OVERVIEW_RESAMPLING == {"classes": "MODE", "confidence": "NEAREST"}


def test_unwritten_areas_stay_nodata_in_the_overviews(tmp_path):
    w = _writer(tmp_path / "part.tif")
    w.write(0, 0, np.full((512, 512), 3, np.uint8))
    w.commit()
    ov = _level(tmp_path / "part.tif", 0)
    assert (ov[:256, :256] == 3).all()
    ov[:256, :256] = 255
    assert (ov == 255).all()


def test_the_cog_keeps_palette_names_tags_and_georeferencing(tmp_path):
    out = tmp_path / "mask.tif"
    w = _writer(out, tags={"glnet_model": "m", "glnet_version": "1"})
    w.write(0, 0, np.arange(7, dtype=np.uint8).repeat(W // 7 + 1)[:W][None].repeat(H, 0))
    w.commit()
    assert cog_problems(out, ghost_header=True, require_overviews=True) == []
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4]
        assert ds.crs == UTM and ds.transform == Affine(0.5, 0, 500000, 0, -0.5, 5000000)
        assert ds.nodata == 255 and ds.block_shapes == [(512, 512)]
        assert ds.compression == rasterio.enums.Compression.deflate
        assert ds.descriptions == ("land-cover class",)
        assert ds.tags()["glnet_kind"] == "classes" and ds.tags()["glnet_model"] == "m"
        cmap = ds.colormap(1)
    expected = colour_table(DEEPGLOBE)
    assert all(cmap[c.id] == expected[c.id] for c in DEEPGLOBE.classes)
    assert read_category_names(out)[:7] == list(DEEPGLOBE.names)

    # An input georeferenced by GCPs and RPCs: both kept, the file still a COG.
    gcps = [GroundControlPoint(0, 0, 16.45, 46.55), GroundControlPoint(H, 0, 16.45, 46.45),
            GroundControlPoint(0, W, 16.55, 46.55)]
    rpcs = RPC(height_off=100, height_scale=500, lat_off=46.5, lat_scale=0.05, line_den_coeff=[1] + [0] * 19,
               line_num_coeff=[0, -1] + [0] * 18, line_off=550, line_scale=550, long_off=16.5, long_scale=0.05,
               samp_den_coeff=[1] + [0] * 19, samp_num_coeff=[0, 0, 1] + [0] * 17, samp_off=650, samp_scale=650)
    geo = tmp_path / "gcps.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = _writer(geo, crs="EPSG:4326", transform=None, gcps=gcps, rpcs=rpcs, kind="confidence", classes=None)
        w.write(0, 0, np.full((H, W), 50, np.uint8))
        w.commit()
        with rasterio.open(geo) as ds:
            assert len(ds.gcps[0]) == 3 and ds.gcps[1] == rasterio.crs.CRS.from_epsg(4326)
            assert ds.rpcs is not None and ds.rpcs.line_off == 550 and ds.rpcs.samp_num_coeff[2] == 1
            assert ds.units == ("percent",) and ds.overviews(1) == [2, 4]
    assert cog_problems(geo, ghost_header=True, require_overviews=True) == []


def test_a_killed_commits_overview_file_is_removed(tmp_path):
    out = tmp_path / "mask.tif"
    # What a commit killed while GDAL's COG driver computed the overviews leaves behind.
    stale = tmp_path / ".mask.tif.part.compact.ovr.tmp"
    stale.write_bytes(b"half an overview")
    w = _writer(out)
    assert not stale.exists()
    stale.write_bytes(b"half an overview")
    w.abort()
    assert not stale.exists() and not out.exists()
    assert_no_parts(tmp_path)


# ------------------------------------------------------------------ every raster glnet writes


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("demo") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


def _scene(path: Path, size: int, pixel: float) -> Path:
    """Wavy RGB; at ``pixel`` metres (the demo bundle's model grid is 0.5 m: finer pixels, fewer windows)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.stack([np.sin(xx / (31 + 5 * k)) * np.cos(yy / 23 - k) for k in range(3)]) * 115 + 128
    data = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=UTM,
                       transform=Affine(pixel, 0, 500000, 0, -pixel, 5000000)) as ds:
        ds.write(data)
    return path


def _check_outputs(mask: Path, conf: Path, levels: int) -> None:
    for path in (mask, conf):
        assert cog_problems(path, ghost_header=True, require_overviews=True) == [], path
        assert assert_overviews_hold_block_values(path) == levels
    with rasterio.open(mask) as ds:
        cmap = ds.colormap(1)
        assert len(np.unique(ds.read(1))) >= 2  # classes to tell apart
    expected = colour_table(DEEPGLOBE)
    assert all(cmap[c.id] == expected[c.id] for c in DEEPGLOBE.classes)
    assert read_category_names(mask)[:7] == list(DEEPGLOBE.names)


@pytest.mark.parametrize("size, pixel, levels", [(300, 0.5, 0), (1100, 0.25, 2)], ids=["small", "two-levels"])
def test_segment_writes_cogs(bundle, tmp_path, size, pixel, levels):
    src = _scene(tmp_path / "in.tif", size, pixel)
    out = tmp_path / "out"
    out.mkdir()
    segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"), EngineOptions())
    _check_outputs(out / "mask.tif", out / "conf.tif", levels)
    assert_no_parts(tmp_path)


def test_the_minimum_mapping_unit_path_writes_cogs(bundle, tmp_path):
    src = _scene(tmp_path / "in.tif", 1100, 0.25)
    out = tmp_path / "out"
    out.mkdir()
    res = run_pipeline(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"), EngineOptions(),
                       polygons=PolygonOptions(min_area_m2=2.0))
    assert res.sieve_px > 1
    _check_outputs(out / "mask.tif", out / "conf.tif", 2)
    assert_no_parts(tmp_path)


def test_synthetic_data_set_masks_are_cogs(tmp_path):
    write_dataset(tmp_path / "ds", SynthOptions(n=1, size=1100))
    (mask,) = (tmp_path / "ds" / "masks").glob("*.tif")
    assert cog_problems(mask, ghost_header=True, require_overviews=True) == []
    assert assert_overviews_hold_block_values(mask) == 2
