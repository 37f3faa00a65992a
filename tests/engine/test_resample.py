"""Pillow-exact bilinear resampling (glnet_core/resample.py) against Pillow itself.

Pillow resizes in two passes, rounding 8-bit images to 8 bits in between.
Pillow up to 12 (and so the published GLNet) always ran the horizontal pass
first; Pillow 13 picks the order itself for some shapes (seen here for
1243 x 841 -> 508 x 508 and for shapes where one axis grows while the other
shrinks), which moves some pixels by one grey level. So two references are
used:

* ``pil_classic``: the horizontal-first order, built from two single-axis
  Pillow resizes (each runs exactly one pass). glnet must match it bit for
  bit for every shape.
* one ``Image.resize`` call, for the shapes the published model meets
  (square 2448 -> 508 and the like), where every Pillow version agrees.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from glnet.glnet_core.engine.resample import bilinear_taps, resize_float, resize_uint8


def pil_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``PIL.Image.resize((width, height), BILINEAR)`` of an array, band by band for floats."""
    if image.dtype == np.uint8:
        return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
    bands = image[..., None] if image.ndim == 2 else image
    out = []
    for b in range(bands.shape[2]):
        im = Image.fromarray(np.ascontiguousarray(bands[..., b], dtype=np.float32))
        assert im.mode == "F"
        out.append(np.asarray(im.resize((width, height), Image.Resampling.BILINEAR)))
    stacked = np.stack(out, axis=-1)
    return stacked[..., 0] if image.ndim == 2 else stacked


def pil_classic(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's bilinear resize in the classic order: horizontal pass, then vertical."""
    h = pil_resize(image, image.shape[0], width)  # columns only: one horizontal pass
    return pil_resize(h, height, width)  # rows only: one vertical pass


# ------------------------------------------------------------------- uint8
@pytest.mark.parametrize(
    "src, dst",
    [
        ((2448, 2448), (508, 508)),  # the published DeepGlobe global image
        ((841, 1243), (508, 508)),  # the shape of the test orthophoto
        ((1024, 1024), (256, 256)),  # lite
        ((2448, 2449), (508, 508)),
        ((300, 200), (508, 508)),  # both grow: a padded small window's global image
    ],
)
def test_uint8_rgb_matches_one_pillow_call(rng, src, dst):
    image = rng.integers(0, 256, size=src + (3,), dtype=np.uint8)
    ours = resize_uint8(image, *dst)
    assert ours.dtype == np.uint8 and ours.shape == dst + (3,)
    np.testing.assert_array_equal(ours, pil_resize(image, *dst))


@pytest.mark.parametrize(
    "src, dst",
    [
        ((2448, 2448), (508, 508)),  # the published DeepGlobe global image
        ((841, 1243), (508, 508)),  # the shape of the test orthophoto
        ((1243, 841), (508, 508)),
        ((1024, 1024), (256, 256)),
        ((509, 1000), (508, 508)),  # barely shrinking rows
        ((508, 1000), (508, 508)),  # one axis unchanged: a single pass
        ((1000, 508), (508, 508)),
        ((300, 200), (508, 508)),  # both grow: a padded small window's global image
        ((7, 3), (128, 128)),
        ((100, 50), (200, 25)),  # rows grow, columns shrink
        ((50, 100), (25, 200)),  # rows shrink, columns grow
    ],
)
def test_uint8_rgb_is_bit_exact(rng, src, dst):
    image = rng.integers(0, 256, size=src + (3,), dtype=np.uint8)
    ours = resize_uint8(image, *dst)
    assert ours.dtype == np.uint8 and ours.shape == dst + (3,)
    np.testing.assert_array_equal(ours, pil_classic(image, *dst))


def test_uint8_single_band_is_bit_exact(rng):
    image = rng.integers(0, 256, size=(777, 555), dtype=np.uint8)
    ours = resize_uint8(image, 254, 128)
    assert ours.shape == (254, 128)
    np.testing.assert_array_equal(ours, pil_classic(image, 254, 128))


def test_uint8_smooth_image_is_bit_exact():
    # Gradients and flat areas exercise the rounding at ties; random noise rarely does.
    y, x = np.mgrid[0:997, 0:1201]
    image = np.stack([(x * 255 // 1200), (y * 255 // 996), np.full_like(x, 128)], axis=-1).astype(np.uint8)
    np.testing.assert_array_equal(resize_uint8(image, 508, 508), pil_classic(image, 508, 508))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 300),
    st.integers(2, 300),
    st.floats(0.05, 0.99),
    st.floats(0.05, 0.99),
    st.integers(0, 2**32 - 1),
)
def test_uint8_random_shrinking_is_bit_exact(h, w, fy, fx, seed):
    out_h, out_w = max(1, int(h * fy)), max(1, int(w * fx))
    image = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_uint8(image, out_h, out_w), pil_classic(image, out_h, out_w))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 120),
    st.integers(1, 120),
    st.floats(1.01, 4.0),
    st.floats(1.01, 4.0),
    st.integers(0, 2**32 - 1),
)
def test_uint8_random_growing_is_bit_exact(h, w, fy, fx, seed):
    out_h, out_w = int(np.ceil(h * fy)), int(np.ceil(w * fx))
    image = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_uint8(image, out_h, out_w), pil_classic(image, out_h, out_w))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(1, 200), st.integers(1, 200), st.integers(1, 200), st.integers(0, 2**32 - 1))
def test_uint8_random_any_shape_is_bit_exact(h, w, out_h, out_w, seed):
    # Any mix of growing and shrinking axes, against the classic pass order.
    image = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_uint8(image, out_h, out_w), pil_classic(image, out_h, out_w))


def test_same_size_is_unchanged(rng):
    image = rng.integers(0, 256, size=(64, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_uint8(image, 64, 48), image)


def test_uint8_rejects_other_dtypes(rng):
    with pytest.raises(TypeError):
        resize_uint8(rng.random((10, 10, 3)), 5, 5)


# ------------------------------------------------------------------- float
@pytest.mark.parametrize(
    "src, dst", [((841, 1243), (508, 508)), ((300, 401), (123, 77)), ((40, 30), (128, 100)), ((257, 256), (128, 128))]
)
def test_float_matches_pillow_mode_f(rng, src, dst):
    image = rng.random(src + (3,)).astype(np.float32)
    ours = resize_float(image, *dst)
    assert ours.dtype == np.float32 and ours.shape == dst + (3,)
    np.testing.assert_allclose(ours, pil_resize(image, *dst), rtol=0, atol=1e-5)


def test_float_of_16_bit_data(rng):
    # 16-bit rasters take the float path; values of thousands keep 1e-5 relative accuracy.
    image = rng.integers(0, 65536, size=(300, 200), dtype=np.uint16)
    ours = resize_float(image, 100, 70)
    ref = pil_resize(image.astype(np.float32), 100, 70)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-2)


def test_float_of_uint8_is_close_to_uint8_path(rng):
    # The two paths differ only by the 8-bit rounding between the passes.
    image = rng.integers(0, 256, size=(600, 500, 3), dtype=np.uint8)
    diff = np.abs(resize_float(image, 128, 128) - resize_uint8(image, 128, 128).astype(np.float32))
    assert diff.max() <= 1.0


# -------------------------------------------------------------------- taps
@pytest.mark.parametrize("n_in, n_out", [(2448, 508), (508, 2448), (10, 10), (3, 1), (1, 7)])
def test_taps_are_a_partition_of_unity(n_in, n_out):
    index, weight = bilinear_taps(n_in, n_out)
    assert index.shape == weight.shape and index.shape[0] == n_out
    assert index.min() >= 0 and index.max() < n_in
    assert (weight >= 0).all()
    np.testing.assert_allclose(weight.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("n_in, n_out", [(0, 5), (5, 0), (-1, 5)])
def test_taps_reject_empty_sizes(n_in, n_out):
    with pytest.raises(ValueError):
        bilinear_taps(n_in, n_out)
