"""The model grid: the pixels the network runs on, and the way to and from the raster's own.

When a bundle states the ground resolution its model was trained at and the
raster's differs by more than :data:`RESOLUTION_TOLERANCE`, windows are read
resampled to the model's resolution (the "model grid") and their class maps
are sampled back (nearest) onto the raster's grid; otherwise the two grids
are one. Windows (:mod:`glnet_core.engine.windows`) are laid out on the model
grid; outputs are always written on the raster's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..formats.raster_input import RasterInput
from .windows import RasterWindow

__all__ = ["RESOLUTION_TOLERANCE", "ModelGrid"]

#: Relative difference of ground resolutions below which no resampling happens.
RESOLUTION_TOLERANCE = 0.01


@dataclass(frozen=True)
class ModelGrid:
    """The model grid of one raster.

    Attributes
    ----------
    raster_size:
        ``(height, width)`` of the raster in its own pixels.
    scale:
        Model-grid pixels per raster pixel along ``(rows, cols)``; ``(1, 1)``
        when the grids are one.
    """

    raster_size: Tuple[int, int]
    scale: Tuple[float, float] = (1.0, 1.0)

    @classmethod
    def for_raster(cls, raster: RasterInput, model_resolution_m: Optional[float], match: bool) -> "ModelGrid":
        """The grid a model trained at ``model_resolution_m`` (None: unknown) runs on for ``raster``.

        ``match=False`` keeps the raster's grid whatever the resolutions.
        """
        size = (int(raster.height), int(raster.width))
        if not match or not model_resolution_m or raster.pixel_size_m is None:
            return cls(size)
        sx, sy = raster.pixel_size_m[0] / model_resolution_m, raster.pixel_size_m[1] / model_resolution_m
        sx = 1.0 if abs(sx - 1.0) <= RESOLUTION_TOLERANCE else sx
        sy = 1.0 if abs(sy - 1.0) <= RESOLUTION_TOLERANCE else sy
        return cls(size, (sy, sx))

    @property
    def resampled(self) -> bool:
        """Whether the model grid differs from the raster's."""
        return self.scale != (1.0, 1.0)

    @property
    def size(self) -> Tuple[int, int]:
        """``(height, width)`` of the model grid."""
        return (max(1, int(round(self.raster_size[0] * self.scale[0]))),
                max(1, int(round(self.raster_size[1] * self.scale[1]))))

    def read(self, raster: RasterInput, w: RasterWindow) -> Tuple[np.ndarray, np.ndarray]:
        """The pixels of window ``w`` (model-grid spans) and their validity, on the model grid.

        Returns
        -------
        (image, valid):
            As :meth:`glnet_core.formats.raster_input.RasterInput.read`:
            ``(rows, cols, bands)`` and ``(rows, cols)`` bool.
        """
        return self.read_box(raster, w.rows.start, w.cols.start, w.rows.size, w.cols.size)

    def read_box(self, raster: RasterInput, row: int, col: int, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
        """The model-grid pixels ``[row, row + height) x [col, col + width)`` and their validity (as :meth:`read`).

        The one way model-grid pixels are read: windows of ``glnet segment``
        and training windows of ``glnet train`` alike.
        """
        if not self.resampled:
            return raster.read(row, col, height, width)
        sr, sc = self.scale
        return raster.read(row / sr, col / sc, height / sr, width / sc, out_shape=(height, width))

    def transform(self, raster_transform: Any) -> Any:
        """The affine transform of the model grid, from the raster's (equal when the grids are one)."""
        from affine import Affine

        if not self.resampled:
            return raster_transform
        t, (sr, sc) = raster_transform, self.scale
        # Written out: Affine composition is `*` in old affine and `@` in new (where `*` warns).
        return Affine(t.a / sc, t.b / sr, t.c, t.d / sc, t.e / sr, t.f)

    def may_hold_valid(self, raster: RasterInput, w: RasterWindow) -> bool:
        """Whether window ``w`` may hold a valid pixel; False means :meth:`read` would give none.

        Asks the raster (:meth:`~glnet_core.formats.raster_input.RasterInput.any_valid`)
        about the raster pixels the window's read depends on: its span, and
        for a resampled grid also the reach of the resampling filter around it.
        """
        if not self.resampled:
            return raster.any_valid(w.rows.start, w.cols.start, w.rows.size, w.cols.size)
        sr, sc = self.scale
        # The bilinear filter reaches one output pixel (1/scale raster pixels) beyond the span.
        pad_r, pad_c = max(1.0, 1.0 / sr) + 1, max(1.0, 1.0 / sc) + 1
        return raster.any_valid(w.rows.start / sr - pad_r, w.cols.start / sc - pad_c,
                                w.rows.size / sr + 2 * pad_r, w.cols.size / sc + 2 * pad_c)

    def core_on_raster(self, w: RasterWindow) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        """The raster pixels ``([r0, r1), [c0, c1))`` whose centres fall in ``w``'s core.

        The cores of all windows tile the raster exactly, as they tile the
        model grid; a core may cover no raster pixel (then a span is empty).
        """
        model_h, model_w = self.size
        rows = _raster_span(w.core_rows.start, w.core_rows.stop, self.scale[0], model_h, self.raster_size[0])
        cols = _raster_span(w.core_cols.start, w.core_cols.stop, self.scale[1], model_w, self.raster_size[1])
        return rows, cols

    def to_raster(self, w: RasterWindow, core: Sequence[np.ndarray]) -> Tuple[Tuple[int, int], Sequence[np.ndarray]]:
        """Core arrays of window ``w`` (model grid) as raster pixels (nearest sampling).

        Parameters
        ----------
        w:
            The window.
        core:
            Arrays of the core's model-grid shape.

        Returns
        -------
        ((row, col), arrays):
            The raster offset of the arrays, and the arrays on the raster's
            grid (the inputs themselves when the grids are one); empty arrays
            when the core covers no raster pixel.
        """
        rows, cols = self.core_on_raster(w)
        if not self.resampled:
            return (rows[0], cols[0]), core
        origin = (w.core_rows.start, w.core_cols.start)
        return (rows[0], cols[0]), [_sample_back(a, rows, cols, self.scale, origin) for a in core]


def _raster_span(start: int, stop: int, scale: float, model_length: int, raster_length: int) -> Tuple[int, int]:
    """Raster pixels whose centres fall in model-grid pixels ``[start, stop)``."""
    if scale == 1.0:
        return start, stop
    a = 0 if start == 0 else int(np.ceil(start / scale - 0.5))
    b = raster_length if stop == model_length else int(np.ceil(stop / scale - 0.5))
    return max(0, a), min(raster_length, b)


def _sample_back(values: np.ndarray, r_span: Tuple[int, int], c_span: Tuple[int, int], scale: Tuple[float, float],
                 origin: Tuple[int, int]) -> np.ndarray:
    """Nearest sampling of a model-grid array (top-left at ``origin``) onto raster pixels."""
    if r_span[1] <= r_span[0] or c_span[1] <= c_span[0]:
        return values[:0, :0]
    rows = np.floor((np.arange(r_span[0], r_span[1]) + 0.5) * scale[0]).astype(np.int64) - origin[0]
    cols = np.floor((np.arange(c_span[0], c_span[1]) + 0.5) * scale[1]).astype(np.int64) - origin[1]
    rows = np.clip(rows, 0, values.shape[0] - 1)
    cols = np.clip(cols, 0, values.shape[1] - 1)
    return values[rows][:, cols]
