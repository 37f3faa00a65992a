"""Pillow's bilinear filter along one axis: the taps (source pixels and weights) of each output pixel.

The one definition of the filter, shared by the engine's Pillow-exact resize
(:mod:`glnet_core.engine.resample`, the global image) and the raster input's
resampled window reads (:mod:`glnet_core.formats.raster_input`, matching a
model's resolution).

Pillow's ``BILINEAR`` filter is a triangle whose support widens with the
reduction factor (so downsampling is antialiased): output pixel ``i`` of a
source span of ``length`` pixels starting at ``offset``, sampled onto ``n_out``
pixels, is centred at ``c = offset + (i + 0.5) * scale`` with ``scale = length
/ n_out``; source pixel ``j`` weighs ``max(0, 1 - |(j - c + 0.5) / s|)`` with
``s = max(scale, 1)``. The weights are computed in double precision in the
order Pillow's ``libImaging/Resample.c`` uses, so that the 8-bit resize built
on them is bit-exact.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

__all__ = ["triangle_taps", "bilinear_taps"]


def triangle_taps(offset: float, length: float, n_out: int) -> Tuple[np.ndarray, np.ndarray]:
    """Unnormalised filter taps of ``n_out`` output pixels over the source span ``[offset, offset + length)``.

    The span may be fractional and may extend past the source on either side:
    indexes are not clipped, so the caller decides what lies outside.

    Parameters
    ----------
    offset:
        Start of the span in source pixels (any real number).
    length:
        Length of the span in source pixels, positive.
    n_out:
        Number of output pixels, positive.

    Returns
    -------
    (index, weight):
        Two ``(n_out, taps)`` arrays: int64 source indexes (consecutive per
        row) and float64 triangle weights, not normalised, 0 for taps outside
        the triangle. Every tap with a non-zero weight is included.

    Raises
    ------
    ValueError
        If ``length`` or ``n_out`` is not positive.
    """
    if not (length > 0 and n_out > 0):
        raise ValueError(f"span and output size must be positive, got {length} -> {n_out}")
    scale = length / n_out
    filterscale = max(scale, 1.0)
    inv = 1.0 / filterscale
    centres = offset + (np.arange(n_out, dtype=np.float64) + 0.5) * scale
    taps = int(math.ceil(2 * filterscale)) + 2
    first = np.floor(centres - filterscale - 0.5).astype(np.int64)
    index = first[:, None] + np.arange(taps, dtype=np.int64)[None, :]
    weight = np.maximum(0.0, 1.0 - np.abs((index - centres[:, None] + 0.5) * inv))
    return index, weight


def bilinear_taps(in_size: int, out_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Source indices and weights of Pillow's bilinear filter resizing ``in_size`` pixels to ``out_size``.

    The taps of :func:`triangle_taps` over the whole source, restricted to the
    source pixels (Pillow's ``xmin`` to ``xmax``) and normalised per output
    pixel, exactly as Pillow does.

    Parameters
    ----------
    in_size, out_size:
        Source and destination lengths, both positive.

    Returns
    -------
    (index, weight):
        Two ``(out_size, taps)`` arrays: ``out[i] = sum_k in[index[i, k]] *
        weight[i, k]``. Unused taps have weight 0 and a valid index.

    Raises
    ------
    ValueError
        If a size is not positive.
    """
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    all_index, all_weight = triangle_taps(0.0, float(in_size), out_size)
    scale = in_size / out_size
    support = max(scale, 1.0)
    taps = int(math.ceil(support)) * 2 + 1
    index = np.zeros((out_size, taps), dtype=np.int64)
    weight = np.zeros((out_size, taps), dtype=np.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)  # int() truncates, as C's cast does
        hi = min(int(center + support + 0.5), in_size)
        start = lo - int(all_index[i, 0])
        # The same slice Pillow sums (zero-weight end taps included): the sum's
        # rounding, and so the fixed-point weights, stay Pillow's.
        w = all_weight[i, start : start + hi - lo]
        total = w.sum()
        if total != 0.0:
            w = w / total
        index[i, : hi - lo] = np.arange(lo, hi)
        index[i, hi - lo :] = lo
        weight[i, : hi - lo] = w
    return index, weight
