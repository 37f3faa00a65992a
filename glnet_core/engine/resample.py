"""Image resampling that reproduces PIL's bilinear ``Image.resize``.

The published GLNet makes its global image with ``PIL.Image.resize(...,
BILINEAR)``: a separable triangle filter whose support widens with the scale
factor when shrinking (so it is antialiased), applied horizontally first, with
8-bit images rounded to 8 bits after each pass in fixed-point arithmetic.
Matching it exactly matters because the global branch sees every pixel of the
resized image. This module implements that algorithm with numpy so that the
engine (no PIL, no torch) and the PyTorch reference give the same global input.

``resize_uint8`` is bit-exact with Pillow for 8-bit images; ``resize_float``
uses the same filter in double precision (Pillow's float-image path) for 16-bit
and floating-point rasters. The filter's taps come from
:mod:`glnet_core.formats.bilinear_filter`, which the raster input's resampled
reads use too.
"""

from __future__ import annotations

import numpy as np

from ..formats.bilinear_filter import bilinear_taps

__all__ = ["bilinear_taps", "resize_uint8", "resize_float"]

# Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2 bits.
_PRECISION_BITS = 22


def _fixed_point(weight: np.ndarray) -> np.ndarray:
    scaled = weight * (1 << _PRECISION_BITS)
    return np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5)).astype(np.int64)


def _pass_uint8(image: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    index, weight = bilinear_taps(image.shape[axis], out_size)
    fixed = _fixed_point(weight)
    acc = np.full(
        image.shape[:axis] + (out_size,) + image.shape[axis + 1 :], 1 << (_PRECISION_BITS - 1), dtype=np.int64
    )
    shape = [1] * image.ndim
    shape[axis] = out_size
    for k in range(index.shape[1]):
        acc += np.take(image, index[:, k], axis=axis).astype(np.int64) * fixed[:, k].reshape(shape)
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def _pass_float(image: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    index, weight = bilinear_taps(image.shape[axis], out_size)
    acc = np.zeros(image.shape[:axis] + (out_size,) + image.shape[axis + 1 :], dtype=np.float64)
    shape = [1] * image.ndim
    shape[axis] = out_size
    for k in range(index.shape[1]):
        acc += np.take(image, index[:, k], axis=axis).astype(np.float64) * weight[:, k].reshape(shape)
    return acc


def resize_uint8(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an 8-bit image exactly as ``PIL.Image.resize((width, height), BILINEAR)``.

    Parameters
    ----------
    image:
        ``(rows, cols)`` or ``(rows, cols, bands)`` array of dtype uint8.
    height, width:
        Output size.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape ``(height, width[, bands])``.
    """
    if image.dtype != np.uint8:
        raise TypeError(f"resize_uint8 needs uint8 input, got {image.dtype}")
    return _two_passes(image, height, width, _pass_uint8)


def resize_float(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize any numeric image with Pillow's bilinear filter, without rounding.

    Returns a float32 array of shape ``(height, width[, bands])``.
    """
    return np.asarray(_two_passes(image, height, width, _pass_float), dtype=np.float32)


def _two_passes(image: np.ndarray, height: int, width: int, one_pass) -> np.ndarray:
    # Classic Pillow (libImaging/Resample.c, as used by the published GLNet)
    # runs the horizontal pass first and rounds to 8 bits in between. Pillow 13
    # picks vertical-first for some shapes, which moves a share of pixels by one
    # grey level; tests/test_resample.py compares against the classic order.
    axes = [(1, width), (0, height)]
    out = image
    for axis, size in axes:
        if out.shape[axis] != size:
            out = one_pass(out, axis, size)
    return out
