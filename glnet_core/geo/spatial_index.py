"""A bounding-box index over geometries that needs neither rtree nor pygeos.

geopandas 0.12 (the version inside QGIS on Debian 12) builds ``sindex`` only
with rtree or pygeos installed, which QGIS does not guarantee. Queries here
are vectorised over the geometries' bounds: fast enough for the thousands of
zones or reference polygons a block query meets.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["BoundsIndex"]


class BoundsIndex:
    """Candidates whose bounding box intersects a query geometry's (like ``sindex.query``)."""

    def __init__(self, geoms: Sequence):
        self._bounds = np.array([g.bounds if g is not None and not g.is_empty else (np.inf, np.inf, -np.inf, -np.inf)
                                 for g in geoms], dtype=np.float64).reshape(-1, 4)

    def query(self, geom) -> np.ndarray:
        """Indices (ascending) of the geometries whose bounds intersect ``geom``'s bounds."""
        minx, miny, maxx, maxy = geom.bounds
        b = self._bounds
        hit = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        return np.nonzero(hit)[0]
