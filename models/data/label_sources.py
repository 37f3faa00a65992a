"""Where a training image's labels come from: a class mask on its grid, or a polygon layer burnt on the fly.

A label source gives the class ids of any box of the image's *model grid*
(:class:`glnet.glnet_core.engine.grid.ModelGrid`: the image's pixels, or the
pixels of the model's resolution when the image's differs), the grid the
image side is read on too. So the same box of image and labels always covers
the same ground.

- :class:`MaskLabels`: a class-value (or RGB colour) mask with the image's
  size, decoded through the class table (:func:`.labels.read_mask`); on a
  resampled grid, each model pixel takes the mask pixel under its centre.
- :class:`PolygonLabels`: polygons reprojected to the image's CRS, burnt
  window by window onto the model grid
  (:meth:`glnet.glnet_core.formats.polygon_labels.PolygonLabels.rasterize`:
  pixel centres, later features win); pixels outside every polygon are
  nodata, or the ``--background`` class.

Neither holds pixels between reads: memory is one window's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Tuple, Union

import numpy as np

from ...glnet_core.engine.grid import ModelGrid
from ...glnet_core.formats.classes import NODATA, ClassTable
from ...glnet_core.formats.polygon_labels import PolygonLabels
from ...glnet_core.geo.crs import grid_bounds
from .images import Box
from .labels import read_mask

__all__ = ["MaskLabels", "PolygonLabelSource", "LabelSource"]


def _source_span(start: int, size: int, scale: float, length: int) -> np.ndarray:
    """Raster indices under the centres of model pixels ``start .. start + size - 1`` (nearest)."""
    idx = np.floor((np.arange(start, start + size) + 0.5) / scale).astype(np.int64)
    return np.clip(idx, 0, length - 1)


@dataclass(frozen=True)
class MaskLabels:
    """A class mask file on the image's pixel grid (same size)."""

    path: Path

    def read(self, box: Box, classes: ClassTable, grid: ModelGrid) -> np.ndarray:
        """Class ids (255 nodata) of model-grid box ``box``; see the module docstring."""
        r, c, h, w = box
        if not grid.resampled:
            return read_mask(self.path, classes, box)
        rows = _source_span(r, h, grid.scale[0], grid.raster_size[0])
        cols = _source_span(c, w, grid.scale[1], grid.raster_size[1])
        r0, c0 = int(rows[0]), int(cols[0])
        part = read_mask(self.path, classes, (r0, c0, int(rows[-1]) - r0 + 1, int(cols[-1]) - c0 + 1))
        return part[(rows - r0)[:, None], (cols - c0)[None, :]]

    def labelled(self, box: Box, classes: ClassTable, grid: ModelGrid) -> bool:
        """Whether any pixel of ``box`` has a class."""
        return bool((self.read(box, classes, grid) != NODATA).any())


@dataclass(frozen=True)
class PolygonLabelSource:
    """Polygons (in the image's CRS) burnt onto the image's model grid.

    Attributes
    ----------
    polygons:
        The labels, already in the image's CRS.
    transform:
        The image's affine transform (its own pixels).
    fill:
        The class of pixels outside every polygon (255: unlabelled).
    """

    polygons: PolygonLabels
    transform: Any
    fill: int = NODATA

    def _box_transform(self, box: Box, grid: ModelGrid) -> Any:
        from rasterio.windows import Window
        from rasterio.windows import transform as window_transform

        r, c, h, w = box
        return window_transform(Window(c, r, w, h), grid.transform(self.transform))

    def read(self, box: Box, classes: ClassTable, grid: ModelGrid) -> np.ndarray:
        """Class ids (255 nodata) of model-grid box ``box``; see the module docstring."""
        _, _, h, w = box
        return self.polygons.rasterize(self._box_transform(box, grid), (h, w), fill=self.fill)

    def labelled(self, box: Box, classes: ClassTable, grid: ModelGrid) -> bool:
        """Whether any polygon reaches into ``box`` (its pixels may still be nodata, e.g. a sliver)."""
        _, _, h, w = box
        return self.polygons.hits(grid_bounds(self._box_transform(box, grid), h, w)).size > 0


#: What a training image's labels may come from.
LabelSource = Union[MaskLabels, PolygonLabelSource]


def box_overlap(a: Box, b: Box) -> Tuple[int, int, int, int]:
    """The part of ``b`` inside ``a``, in ``a``'s coordinates: ``(row0, col0, row1, col1)`` (empty when row1 <= row0)."""
    r0, c0 = max(a[0], b[0]) - a[0], max(a[1], b[1]) - a[1]
    r1 = min(a[0] + a[2], b[0] + b[2]) - a[0]
    c1 = min(a[1] + a[3], b[1] + b[3]) - a[1]
    return r0, c0, r1, c1
