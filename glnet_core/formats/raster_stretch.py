"""The stretch of raster values to the 8 bits a model sees, and the sample its percentiles come from.

8-bit data are passed unchanged. Other types (16-bit, 32-bit, float) are
mapped per band linearly from a range ``(lo, hi)`` to 0..255 (clipped, rounded
half up). The range is the same for every window of a raster, so windows agree
where they meet: either a range the user gives for every band (``--input-range``,
applied to 8-bit data too: a contrast stretch the user asked for), or by
default the :data:`PERCENTILES` (2nd and 98th) of each band's valid pixels in a
sample read once (:func:`read_sample`).

:class:`glnet_core.formats.raster_input.RasterInput` applies it to every
window it reads, for ``glnet segment`` and for training alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from rasterio.windows import Window

__all__ = [
    "PERCENTILES",
    "SAMPLE_SIZE",
    "SAMPLE_FULL_READ_PIXELS",
    "SAMPLE_GRID",
    "Stretch",
    "read_sample",
    "percentile_ranges",
    "round_half_up",
    "to_uint8",
]

#: Percentiles of the valid pixels that map to 0 and 255 for non-8-bit data.
PERCENTILES = (2.0, 98.0)
#: Long side, in pixels, of the decimated whole-raster read the percentiles come from.
SAMPLE_SIZE = 1024
#: Rasters up to this many pixels (or with overviews) are sampled by one decimated
#: read; larger ones by SAMPLE_GRID x SAMPLE_GRID small windows (a decimated read
#: decodes every block of the file: minutes for a 100 000 x 100 000 raster).
SAMPLE_FULL_READ_PIXELS = 100_000_000
SAMPLE_GRID = 32

# Values per float64 strip when mapping to 8 bits (8 MB).
_MAP_CHUNK_VALUES = 1_000_000

#: ``read(window, out_shape)``: raw values ``(C, h, w)`` and validity ``(h, w)`` of an in-raster
#: window, decimated (nearest neighbour) to ``out_shape`` when it is given.
SourceReader = Callable[[Window, Optional[Tuple[int, int]]], Tuple[np.ndarray, np.ndarray]]


def round_half_up(value: float) -> int:
    """``value`` rounded to the nearest integer, halves up (0.5 -> 1, -0.5 -> 0), as the 8-bit mapping rounds."""
    return int(math.floor(value + 0.5))


@dataclass(frozen=True)
class Stretch:
    """Per band, the values ``(lo, hi)`` mapped linearly to 0 and 255.

    Attributes
    ----------
    ranges:
        One ``(lo, hi)`` per model band, ``lo < hi``.
    """

    ranges: Tuple[Tuple[float, float], ...]

    @classmethod
    def of(cls, ranges: Sequence[Tuple[float, float]]) -> "Stretch":
        """A stretch from any sequence of ``(lo, hi)`` pairs (as floats)."""
        return cls(tuple((float(lo), float(hi)) for lo, hi in ranges))

    # Computed once per stretch, not per window (to_uint8 runs for every window read).
    @cached_property
    def offsets(self) -> np.ndarray:
        """``lo`` per band (float64, read-only)."""
        return _read_only(np.array([lo for lo, _ in self.ranges], dtype=np.float64))

    @cached_property
    def scales(self) -> np.ndarray:
        """``255 / (hi - lo)`` per band (float64, read-only)."""
        return _read_only(np.array([255.0 / (hi - lo) for lo, hi in self.ranges], dtype=np.float64))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def read_sample(read: SourceReader, width: int, height: int, has_overviews: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Values ``(C, n)`` and validity ``(n,)`` of about SAMPLE_SIZE**2 pixels spread over a raster.

    A decimated whole-raster read (GDAL nearest neighbour) where that is
    cheap: the file has overviews, or it is at most SAMPLE_FULL_READ_PIXELS
    pixels. Otherwise a decimated read would decode every block of a huge
    file, so a regular grid of SAMPLE_GRID x SAMPLE_GRID small windows is read
    instead.

    Parameters
    ----------
    read:
        Reads an in-raster window (see :data:`SourceReader`).
    width, height:
        The raster's size in pixels.
    has_overviews:
        Whether the file has overviews (a decimated read then uses them).
    """
    if has_overviews or width * height <= SAMPLE_FULL_READ_PIXELS:
        f = min(1.0, SAMPLE_SIZE / max(width, height))
        shape = (max(1, round_half_up(height * f)), max(1, round_half_up(width * f)))
        # Never holds more than the small output array.
        data, valid = read(Window(0, 0, width, height), shape)
        return data.reshape(data.shape[0], -1), valid.reshape(-1)
    grid = SAMPLE_GRID
    side = max(1, SAMPLE_SIZE // grid)
    parts, oks = [], []
    for i in range(grid):
        for j in range(grid):
            # Window centres at (i + 0.5) / grid of the raster: spread evenly, away from the edges.
            r = min(max(0, int((i + 0.5) * height / grid) - side // 2), height - 1)
            c = min(max(0, int((j + 0.5) * width / grid) - side // 2), width - 1)
            data, ok = read(Window(c, r, min(side, width - c), min(side, height - r)), None)
            parts.append(data.reshape(data.shape[0], -1))
            oks.append(ok.reshape(-1))
    return np.concatenate(parts, axis=1), np.concatenate(oks)


def percentile_ranges(data: np.ndarray, valid: np.ndarray, dtype: str) -> List[Tuple[float, float]]:
    """Per band, the PERCENTILES of the valid values of a sample (:func:`read_sample`).

    A band with nothing valid in the sample gets its type's range (integers)
    or 0..1 (floats); a constant band ``(v, v + 1)``.
    """
    ranges = []
    for k in range(data.shape[0]):
        values = data[k][valid]
        if values.size == 0:
            dt = np.dtype(dtype)
            lo, hi = (float(np.iinfo(dt).min), float(np.iinfo(dt).max)) if dt.kind in "iu" else (0.0, 1.0)
        else:
            lo, hi = (float(v) for v in np.percentile(values.astype(np.float64), PERCENTILES))
            if not hi > lo:  # a constant band: anything above the constant is bright
                hi = lo + 1.0
        ranges.append((lo, hi))
    return ranges


def to_uint8(data: np.ndarray, stretch: Optional[Stretch]) -> np.ndarray:
    """``(C, h, w)`` source values (or resampled floats) to an ``(h, w, C)`` uint8 image.

    Without a stretch the values are rounded half up and clipped to 0..255
    (uint8 data are passed unchanged).
    """
    c, h, w = data.shape
    if stretch is None and data.dtype == np.uint8:
        return np.ascontiguousarray(data.transpose(1, 2, 0))
    lo = None if stretch is None else stretch.offsets
    scale = None if stretch is None else stretch.scales
    out = np.empty((h, w, c), dtype=np.uint8)
    step = max(1, _MAP_CHUNK_VALUES // max(w, 1))
    for k in range(c):
        # float64 (exact for every integer type), a strip of rows at a time to bound memory.
        for r in range(0, h, step):
            x = data[k, r : r + step].astype(np.float64)
            if lo is not None and scale is not None:
                x -= lo[k]
                x *= scale[k]
            x += 0.5
            np.floor(x, out=x)
            np.clip(x, 0, 255, out=x)
            out[r : r + step, :, k] = x
    return out
