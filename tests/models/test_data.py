"""Training data: folder layouts, image / mask reading, labels, augmentation, samples.

Every test writes real files (rasterio GeoTIFFs, Pillow JPEG / PNG) to a
temporary folder. None of these tests needs torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from rasterio.crs import CRS

from glnet.glnet_core.engine.preprocess import Normalisation, prepare_window
from glnet.glnet_core.errors import GlnetError, InputError
from glnet.glnet_core.formats.classes import NODATA, load_class_table
from glnet.models.config import get_config
from glnet.models.data import (
    EpochSampler,
    TrainingDataset,
    augment,
    default_class_spec,
    find_pairs,
    load_pair,
    logits_size,
    make_sample,
    pair_size,
    pixel_size_m,
    read_image,
    resize_labels,
    split_validation,
    validation_tiles,
)

DEEPGLOBE = load_class_table("deepglobe")


def write_tif(path: Path, array: np.ndarray, nodata=None, crs: str | None = "EPSG:32633", pixel: float = 0.5) -> Path:
    """Write ``(H, W)`` or ``(H, W, C)`` as a GeoTIFF."""
    bands = array[..., None] if array.ndim == 2 else array
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=bands.shape[0],
        width=bands.shape[1],
        count=bands.shape[2],
        dtype=bands.dtype,
        crs=CRS.from_string(crs) if crs else None,
        transform=Affine(pixel, 0.0, 500000.0, 0.0, -pixel, 5000000.0),
        nodata=nodata,
    ) as dst:
        dst.write(bands.transpose(2, 0, 1))
    return path


def blocky_labels(rng: np.random.Generator, shape, n_classes: int, block: int = 16) -> np.ndarray:
    gh, gw = -(-shape[0] // block), -(-shape[1] // block)
    grid = rng.integers(0, n_classes, (gh, gw))
    return np.kron(grid, np.ones((block, block), dtype=np.int64))[: shape[0], : shape[1]].astype(np.uint8)


# ----------------------------------------------------------------- layouts
def test_deepglobe_layout_with_rgb_colour_masks(tmp_path, rng):
    colours = np.array([c.colour for c in DEEPGLOBE.classes], dtype=np.uint8)
    expected = {}
    for name in ("104", "207"):
        labels = blocky_labels(rng, (96, 80), len(DEEPGLOBE))
        image = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / f"{name}_sat.jpg", quality=95)
        mask = colours[labels]
        mask[0, 0] = (10, 20, 30)  # a colour no class has: nodata
        labels[0, 0] = NODATA
        Image.fromarray(mask).save(tmp_path / f"{name}_mask.png")
        expected[name] = labels
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "999_sat.jpg")  # no mask: skipped

    pairs = find_pairs(tmp_path)
    assert pairs.layout == "deepglobe" and default_class_spec(pairs.layout) == "deepglobe"
    assert [p.name for p in pairs] == ["104", "207"]
    assert [p.name for p in pairs.skipped] == ["999_sat.jpg"]
    for pair in pairs:
        image, labels = load_pair(pair, DEEPGLOBE)
        assert image.shape == (96, 80, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(labels, expected[pair.name])


def test_geotiff_images_with_index_masks(tmp_path, rng):
    table = load_class_table("4")
    labels = blocky_labels(rng, (70, 90), 4)
    raw = labels.copy()
    raw[5, 7] = 9  # not a class of the table: nodata
    image = rng.integers(0, 4000, (70, 90, 3), dtype=np.uint16)
    write_tif(tmp_path / "images" / "tile_a.tif", image)
    write_tif(tmp_path / "masks" / "tile_a.tif", raw)
    # A second pair with a PNG image, a PNG mask and an RGBA GeoTIFF-free name.
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "images" / "tile_b.png")
    Image.fromarray(blocky_labels(rng, (40, 50), 4)).save(tmp_path / "masks" / "tile_b.png")

    pairs = find_pairs(tmp_path, "auto")
    assert pairs.layout == "pairs" and default_class_spec(pairs.layout) is None
    assert [p.name for p in pairs] == ["tile_a", "tile_b"]
    img, lab = load_pair(pairs[0], table)
    # 16 bits are stretched to 8 as glnet segment reads them: each band's 2nd..98th percentile to 0..255.
    lo, hi = np.percentile(image.reshape(-1, 3).astype(np.float64), (2, 98), axis=0)
    stretched = np.clip(np.floor((image - lo) * (255.0 / (hi - lo)) + 0.5), 0, 255).astype(np.uint8)
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, stretched)  # bands last
    expected = labels.copy()
    expected[5, 7] = NODATA
    np.testing.assert_array_equal(lab, expected)
    assert pixel_size_m(pairs[0].image) == pytest.approx(0.5)
    assert pixel_size_m(pairs[1].image) is None
    assert pair_size(pairs[1]) == (40, 50)


def test_image_nodata_becomes_label_nodata(tmp_path, rng):
    table = load_class_table("2")
    image = rng.integers(1, 256, (30, 40, 4), dtype=np.uint8)
    image[..., 3] = 255
    image[:10, :5, 3] = 0  # transparent: no data
    write_tif(tmp_path / "images" / "a.tif", image)
    write_tif(tmp_path / "masks" / "a.tif", np.ones((30, 40), np.uint8))
    (pair,) = find_pairs(tmp_path, "pairs")
    img, lab = load_pair(pair, table)
    assert img.shape == (30, 40, 3)  # alpha is not an input band
    assert (lab[:10, :5] == NODATA).all() and (lab[10:] == 1).all() and (lab[:, 5:] == 1).all()
    # Same with a nodata value instead of alpha.
    rgb = rng.integers(1, 256, (30, 40, 3), dtype=np.uint8)
    rgb[3, 4] = 0
    write_tif(tmp_path / "images" / "a.tif", rgb, nodata=0)
    _, lab = load_pair(pair, table)
    assert lab[3, 4] == NODATA and (lab != NODATA).sum() == 30 * 40 - 1
    _, valid = read_image(pair.image)
    assert valid is not None and not valid[3, 4]


def test_inria_layout_with_0_255_masks(tmp_path, rng):
    table = load_class_table("inria")
    buildings = blocky_labels(rng, (64, 48), 2)
    write_tif(tmp_path / "images" / "austin1.tif", rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))
    write_tif(tmp_path / "gt" / "austin1.tif", (buildings * 255).astype(np.uint8))
    write_tif(tmp_path / "images" / "austin2.tif", rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))  # no gt
    pairs = find_pairs(tmp_path)
    assert pairs.layout == "inria" and [p.name for p in pairs] == ["austin1"]
    assert len(pairs.skipped) == 1
    _, labels = load_pair(pairs[0], table)
    np.testing.assert_array_equal(labels, buildings)
    assert set(np.unique(labels)) == {0, 1}


# ----------------------------------------------------------------- bad inputs
def test_bad_folders_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        find_pairs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image/mask pairs"):
        find_pairs(tmp_path / "empty")
    (tmp_path / "d" / "images").mkdir(parents=True)
    (tmp_path / "d" / "masks").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "d" / "images" / "x.png")
    with pytest.raises(InputError, match="no image/mask pairs"):
        find_pairs(tmp_path / "d")
    with pytest.raises(InputError, match="inria layout needs"):
        find_pairs(tmp_path / "d", "inria")
    with pytest.raises(InputError, match="unknown layout"):
        find_pairs(tmp_path / "d", "coco")


def test_size_mismatch_and_wrong_classes_raise(tmp_path, rng):
    table = load_class_table("3")
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "images.png")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    Image.fromarray(np.zeros((40, 51), np.uint8)).save(tmp_path / "masks" / "a.png")
    pairs = find_pairs(tmp_path)
    with pytest.raises(InputError, match="51 x 40 px but image .* 50 x 40 px"):
        pair_size(pairs[0])
    with pytest.raises(InputError, match="51 x 40"):
        TrainingDataset(pairs, table, get_config("tiny"), Normalisation())
    with pytest.raises(GlnetError):
        load_pair(pairs[0], table)

    # Right size, but every value is outside the table: almost surely the wrong --classes.
    Image.fromarray(np.full((40, 50), 200, np.uint8)).save(tmp_path / "masks" / "a.png")
    with pytest.raises(InputError, match=r"no pixel matches a class .*values found: 200.*--classes"):
        load_pair(pairs[0], table)
    # A two-band mask is neither class values nor colours.
    write_tif(tmp_path / "masks" / "a.tif", np.zeros((40, 50, 2), np.uint8))
    (tmp_path / "masks" / "a.png").unlink()
    with pytest.raises(InputError, match="2 bands"):
        load_pair(find_pairs(tmp_path)[0], table)
    # An unreadable image.
    (tmp_path / "images" / "a.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read"):
        load_pair(find_pairs(tmp_path)[0], table)


# ----------------------------------------------------------------- labels
@pytest.mark.parametrize("src,dst", [((2448, 2448), (127, 127)), ((300, 170), (32, 32)), ((128, 128), (32, 32)), ((7, 9), (20, 13))])
def test_resize_labels_matches_pil_nearest(rng, src, dst):
    labels = rng.integers(0, 7, src, dtype=np.uint8)
    ours = resize_labels(labels, *dst)
    pil = np.asarray(Image.fromarray(labels).resize((dst[1], dst[0]), Image.NEAREST))
    np.testing.assert_array_equal(ours, pil)


def test_logits_size():
    assert logits_size(508) == 127
    assert logits_size(128) == 32
    assert logits_size(130) == 33  # ceil(ceil(130 / 2) / 2)
    assert logits_size(1) == 1


def test_augment_moves_image_and_labels_together(rng):
    labels = rng.integers(0, 5, (6, 9), dtype=np.uint8)
    image = np.stack([labels * 10, labels * 10 + 1, np.arange(54, dtype=np.uint8).reshape(6, 9)], axis=-1)
    seen = set()
    for seed in range(64):
        img, lab = augment(image, labels, np.random.default_rng(seed))
        np.testing.assert_array_equal(img[..., 0], lab * 10)
        seen.add(img[..., 2].tobytes() + bytes(img.shape[:2]))
        # Deterministic in the generator.
        img2, _ = augment(image, labels, np.random.default_rng(seed))
        np.testing.assert_array_equal(img, img2)
    assert len(seen) == 8  # all symmetries of the rectangle / square occur


def test_split_validation_is_deterministic(tmp_path, rng):
    from glnet.models.data import SamplePair

    pairs = [SamplePair(f"n{i}", tmp_path / f"{i}.png", tmp_path / f"{i}_m.png") for i in range(20)]
    train, val = split_validation(pairs, 0.1)
    assert len(val) == 2 and len(train) == 18
    assert not {p.name for p in train} & {p.name for p in val}
    assert split_validation(list(reversed(pairs)), 0.1)[1] == list(reversed(val))
    assert split_validation(pairs, 0.0) == (pairs, [])
    assert split_validation(pairs[:1], 0.5) == (pairs[:1], [])
    assert len(split_validation(pairs[:2], 0.01)[1]) == 1
    with pytest.raises(InputError, match="val-fraction"):
        split_validation(pairs, 1.0)


def test_validation_tiles_cover_every_pixel_once():
    for size, window in [((100, 100), 512), ((1030, 700), 512), ((2448, 2448), 1024)]:
        count = np.zeros(size, np.int32)
        tiles = validation_tiles(size, window)
        for r, c, h, w in tiles:
            assert 0 < h <= window and 0 < w <= window
            count[r : r + h, c : c + w] += 1
        assert (count == 1).all()
    assert len(validation_tiles((1030, 700), 512)) == 3 * 2


# ----------------------------------------------------------------- samples
def test_make_sample_pads_small_windows(rng):
    cfg = get_config("tiny")  # size_g = size_p = 128
    image = rng.integers(0, 256, (100, 90, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (100, 90), dtype=np.uint8)
    s = make_sample(image, labels, cfg, Normalisation(), "x")
    prep = prepare_window(image, cfg.size_g, cfg.size_p, Normalisation())
    np.testing.assert_array_equal(s.image_g, prep.image_g)
    np.testing.assert_array_equal(s.window, prep.window)
    assert s.window.shape == (3, 128, 128)
    np.testing.assert_array_equal(s.labels[:100, :90], labels)
    assert (s.labels[100:] == NODATA).all() and (s.labels[:, 90:] == NODATA).all()
    np.testing.assert_array_equal(s.labels_g, resize_labels(s.labels, 32, 32))


def test_dataset_crops_large_images_deterministically(tmp_path, rng):
    cfg = get_config("tiny")  # window 512
    table = load_class_table("3")
    labels = blocky_labels(rng, (600, 700), 3)
    # Red encodes the label, so the crop of image and mask can be checked to agree.
    image = np.stack([labels * 80, rng.integers(0, 256, labels.shape), rng.integers(0, 256, labels.shape)], -1).astype(np.uint8)
    write_tif(tmp_path / "images" / "big.tif", image)
    write_tif(tmp_path / "masks" / "big.tif", labels)
    Image.fromarray(image[:200, :300]).save(tmp_path / "images" / "small.png")
    Image.fromarray(labels[:200, :300]).save(tmp_path / "masks" / "small.png")
    pairs = find_pairs(tmp_path)
    norm = Normalisation(scale=1.0)
    ds = TrainingDataset(pairs, table, cfg, norm, augment=True, seed=3)
    sampler = EpochSampler(len(ds), seed=3)
    keys = list(sampler)
    assert sorted(k[0] for k in keys) == [0, 1]

    crops = []
    for epoch in range(3):
        s = ds[(0, 0, epoch)]
        assert s.window.shape == (3, 512, 512)
        np.testing.assert_array_equal(s.window[0], s.labels.astype(np.float32) * 80)
        crops.append(s.window.tobytes())
        again = ds[(0, 0, epoch)]
        np.testing.assert_array_equal(again.window, s.window)
    assert len(set(crops)) == 3  # a new crop (and augmentation) every epoch
    small = ds[(1, 0, 0)]
    assert sorted(small.window.shape[1:]) == [200, 300]  # whole image, possibly rotated

    ds_plain = TrainingDataset(pairs, table, cfg, norm, augment=False, seed=3)
    s = ds_plain[(1, 2, 7)]
    np.testing.assert_array_equal(s.labels, labels[:200, :300])

    # Errors come back as values (a worker process must not wrap them).
    (tmp_path / "images" / "small.png").write_bytes(b"broken")
    assert isinstance(ds_plain[(1, 0, 0)], InputError)


def test_epoch_sampler_orders_are_fixed_by_seed():
    a = EpochSampler(10, seed=1)
    b = EpochSampler(10, seed=1)
    a.set_epoch(1, 4)
    b.set_epoch(1, 4)
    assert list(a) == list(b)
    assert sorted(a.order()) == list(range(10))
    b.set_epoch(1, 5)
    assert a.order() != b.order()
    assert len(a) == 10
