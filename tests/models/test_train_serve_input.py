"""Training and ``glnet segment`` hand the network the same numbers for the same image.

A 16-bit GeoTIFF tile used to reach the network in its native range (times
1/255) in training, and stretched to 8 bits in ``glnet segment``; the pixel
size was decided by yet another rule. Here one real 16-bit tile, written with
rasterio, goes through the training dataset and through segment's path (the
raster input segment opens, the window it reads, the engine's
``prepare_window``), and the float arrays handed to the model must be equal:
bands, stretch, validity and resolution alike.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from glnet.glnet_core.engine.preprocess import Normalisation, prepare_window
from glnet.glnet_core.engine.windows import raster_windows
from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats import raster_input
from glnet.glnet_core.formats.classes import NODATA, load_class_table
from glnet.glnet_core.formats.raster_input import open_raster
from glnet.models.config import get_config
from glnet.models.data import ImageReading, TrainingDataset, augment, find_pairs, load_pair, make_sample, pixel_size_m, random_crop_box
from glnet.models.data.sampling import sample_rng

TABLE = load_class_table("3")
CONFIG = get_config("tiny")  # size_g = size_p = 128, window 512, 3 bands
# A normalisation with every term in play, as a bundle may carry it.
NORM = Normalisation(scale=1 / 255, mean=(0.40, 0.45, 0.50), std=(0.20, 0.25, 0.30))
UTM = Affine(0.5, 0.0, 640000.0, 0.0, -0.5, 5800000.0)


def write_tif(path: Path, bands: np.ndarray, crs: str = "EPSG:32633", transform: Affine = UTM, nodata=None) -> Path:
    """``(C, H, W)`` as a GeoTIFF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", height=bands.shape[1], width=bands.shape[2], count=bands.shape[0],
                       dtype=bands.dtype, crs=CRS.from_string(crs), transform=transform, nodata=nodata) as dst:
        dst.write(bands)
    return path


def sixteen_bit_tile(rng: np.random.Generator, shape=(200, 240)) -> np.ndarray:
    """Three 16-bit bands of different ranges (as a 12-bit sensor's), with a nodata corner (all bands 0)."""
    h, w = shape
    ramp = np.linspace(0, 1, w)[None, :] * np.linspace(0.5, 1, h)[:, None]
    bands = np.stack([300 + 3500 * ramp, 800 + 1200 * ramp[::-1], 50 + 4000 * ramp ** 2])
    bands = bands + rng.normal(0, 60, bands.shape)
    tile = np.clip(bands, 1, 65535).astype(np.uint16)
    tile[:, :20, :30] = 0  # no data
    return tile


def write_pair(folder: Path, tile: np.ndarray, **kwargs) -> Path:
    labels = (np.arange(tile.shape[2])[None, :] // 40 + np.arange(tile.shape[1])[:, None] // 50) % 3
    write_tif(folder / "images" / "tile.tif", tile, nodata=0, **kwargs)
    write_tif(folder / "masks" / "tile.tif", labels.astype(np.uint8)[None], **kwargs)
    return folder


def segment_inputs(path: Path, box, reading: Optional[ImageReading] = None):
    """What ``glnet segment`` hands the network for the window ``box`` = (row, col, h, w) of ``path``.

    The raster opened as segment opens it (the bundle's band count, --bands,
    --input-range), the window read at the model's resolution, then the
    engine's pre-processing.
    """
    reading = reading or ImageReading()
    with open_raster(path, CONFIG.in_channels, reading.bands, reading.input_range) as raster:
        image, valid = raster.read(*box)
    return prepare_window(image, CONFIG.size_g, CONFIG.size_p, NORM), valid


def test_a_16_bit_tile_gives_training_the_network_input_segment_gives(tmp_path, rng):
    tile = sixteen_bit_tile(rng)
    data = write_pair(tmp_path / "data", tile)
    pairs = find_pairs(data)
    sample = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=False).sample(0)

    # The tile is smaller than the window: segment reads it as one window.
    (window,) = raster_windows(tile.shape[1], tile.shape[2], CONFIG.window)
    box = (window.rows.start, window.cols.start, window.rows.size, window.cols.size)
    served, valid = segment_inputs(pairs[0].image, box)
    assert sample.image_g.dtype == np.float32 and sample.window.dtype == np.float32
    np.testing.assert_array_equal(sample.image_g, served.image_g)
    np.testing.assert_array_equal(sample.window, served.window)
    # Stretched, not native: normalised 8-bit values stay within (0 - mean) / std .. (1 - mean) / std.
    lo = (0 - np.array(NORM.mean)) / np.array(NORM.std)
    hi = (1 - np.array(NORM.mean)) / np.array(NORM.std)
    assert (sample.window.min(axis=(1, 2)) >= lo - 1e-6).all() and (sample.window.max(axis=(1, 2)) <= hi + 1e-6).all()
    # The pixels segment treats as no data are the ones training does not learn from.
    h, w = tile.shape[1:]
    np.testing.assert_array_equal(sample.labels[:h, :w] == NODATA, ~valid)
    assert not valid[:20, :30].any() and valid[20:, 30:].all()


def test_a_crop_of_a_large_tile_is_stretched_as_the_whole_tile(tmp_path, rng):
    # Training crops a 512 px window from a larger tile; its stretch is the whole tile's, as in segment.
    tile = sixteen_bit_tile(rng, (700, 600))
    data = write_pair(tmp_path / "data", tile)
    pairs = find_pairs(data)
    ds = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=False, seed=5)
    sample = ds.sample(0, stage=1, epoch=2)
    box = random_crop_box((700, 600), CONFIG.window, sample_rng(5, 1, 2, 0))
    assert box is not None and box[2:] == (512, 512)
    served, _ = segment_inputs(pairs[0].image, box)
    np.testing.assert_array_equal(sample.image_g, served.image_g)
    np.testing.assert_array_equal(sample.window, served.window)


def test_the_stretch_found_once_gives_every_sample_the_bytes_of_a_fresh_open(tmp_path, rng, monkeypatch):
    # The dataset opens each image once (truncation check, whole-file percentiles) and its samples reuse
    # that; a sample must still be what a fresh open of the file (as segment opens it) gives.
    tile = sixteen_bit_tile(rng, (700, 600))
    pairs = find_pairs(write_pair(tmp_path / "data", tile))
    with open_raster(pairs[0].image, CONFIG.in_channels) as raster:
        found = raster.input_range_per_band
        whole, valid = raster.read(0, 0, 700, 600)
    with open_raster(pairs[0].image, CONFIG.in_channels, ranges=found, probe=False) as raster:
        assert raster.input_range_per_band == found
        again, valid_again = raster.read(0, 0, 700, 600)
    np.testing.assert_array_equal(again, whole)
    np.testing.assert_array_equal(valid_again, valid)

    ds = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=True, seed=3)
    assert ds.opened == [True] and ds.ranges == [found]
    samples = {}
    with monkeypatch.context() as m:  # the samples do not sample the whole file again
        m.setattr(raster_input, "read_sample", lambda *a, **k: pytest.fail("percentiles computed again"))
        for key in ((0, 0), (2, 5)):
            samples[key] = ds.sample(0, *key)
    for (stage, epoch), sample in samples.items():
        rng_fresh = sample_rng(3, stage, epoch, 0)
        box = random_crop_box((700, 600), CONFIG.window, rng_fresh)
        image, labels = load_pair(pairs[0], TABLE, CONFIG.in_channels, box)  # opened afresh: probe and percentiles
        image, labels = augment(image, labels, rng_fresh)
        fresh = make_sample(image, labels, CONFIG, NORM, pairs[0].name)
        for name in ("image_g", "window", "labels", "labels_g"):
            np.testing.assert_array_equal(getattr(sample, name), getattr(fresh, name))


def test_an_image_that_does_not_open_fails_when_sampled_as_before(tmp_path, rng):
    data = write_pair(tmp_path / "data", sixteen_bit_tile(rng))
    image = data / "images" / "tile.tif"
    raw = image.read_bytes()
    image.write_bytes(raw[: len(raw) * 2 // 3])  # truncated: the header (and size) still read
    ds = TrainingDataset(find_pairs(data), TABLE, CONFIG, NORM, augment=False)
    assert ds.opened == [False]
    with pytest.raises(InputError, match=r"cannot read .*tile\.tif: .*damaged or truncated"):
        ds.sample(0)


def test_input_range_and_bands_are_the_same_options(tmp_path, rng):
    # A 4-band tile (band 4 unused): the same --bands and --input-range on both sides.
    tile = np.concatenate([sixteen_bit_tile(rng), np.full((1, 200, 240), 7, np.uint16)])
    data = write_pair(tmp_path / "data", tile)
    pairs = find_pairs(data)
    reading = ImageReading(bands=(3, 2, 1), input_range=(0.0, 4000.0))
    sample = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=False, reading=reading).sample(0)
    served, _ = segment_inputs(pairs[0].image, (0, 0, 200, 240), reading)
    np.testing.assert_array_equal(sample.window, served.window)
    np.testing.assert_array_equal(sample.image_g, served.image_g)
    # Band 3 first, mapped from 0..4000.
    expected = np.clip(np.floor(tile[2, 50, 60] * (255.0 / 4000.0) + 0.5), 0, 255)
    assert sample.window[0, 50, 60] == pytest.approx((expected / 255 - NORM.mean[0]) / NORM.std[0], abs=1e-6)
    # Four bands without --bands: training refuses as segment does, naming the option.
    plain = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=False)
    with pytest.raises(InputError, match="choose them with --bands"):
        plain.sample(0)


def test_8_bit_tiles_are_unchanged(tmp_path, rng):
    tile = rng.integers(0, 256, (3, 150, 170), dtype=np.uint8)
    data = write_pair(tmp_path / "data", tile)
    pairs = find_pairs(data)
    sample = TrainingDataset(pairs, TABLE, CONFIG, NORM, augment=False).sample(0)
    prepared = prepare_window(np.ascontiguousarray(tile.transpose(1, 2, 0)), CONFIG.size_g, CONFIG.size_p, NORM)
    # Values of 0 are this file's nodata: the image itself is passed as it is.
    np.testing.assert_array_equal(sample.window, prepared.window)
    np.testing.assert_array_equal(sample.image_g, prepared.image_g)
    served, _ = segment_inputs(pairs[0].image, (0, 0, 150, 170))
    np.testing.assert_array_equal(sample.window, served.window)


def test_the_training_resolution_is_the_one_segment_matches(tmp_path, rng):
    # Web Mercator at 60 degrees north: 1 "metre" pixels are about 0.5 m on the ground. Segment matches
    # a model's resolution with the ground size; the resolution training records must be that size too.
    y60 = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(60) / 2))
    transform = Affine(1.0, 0.0, 1_000_000.0, 0.0, -1.0, y60)
    data = write_pair(tmp_path / "data", sixteen_bit_tile(rng), crs="EPSG:3857", transform=transform)
    image = find_pairs(data)[0].image
    with open_raster(image, CONFIG.in_channels) as raster:
        served = raster.pixel_size_m
    assert served is not None and served[0] == pytest.approx(0.5, rel=0.01)
    assert pixel_size_m(image) == served[0]
    # A UTM tile: the nominal 0.5 m on both sides.
    utm = write_pair(tmp_path / "utm", sixteen_bit_tile(rng))
    assert pixel_size_m(find_pairs(utm)[0].image) == 0.5


def test_the_reading_options_are_stored_with_the_run():
    pytest.importorskip("torch")
    from glnet.models.training import TrainOptions

    options = TrainOptions(bands=(3, 2, 1), input_range=(0.0, 4000.0))
    again = TrainOptions.from_dict(options.to_dict())
    assert again == options and again.image_reading() == ImageReading((3, 2, 1), (0.0, 4000.0))
    assert TrainOptions.from_dict({}).image_reading() == ImageReading()  # checkpoints from before: the defaults
