"""Ground areas in square metres, for polygons and for raster pixels.

One rule for the whole project (polygon attributes, zone statistics):

* geographic CRSs (degrees) and Mercator projections (whose "metres" are
  stretched by 1 / cos(latitude)): areas on the CRS's ellipsoid, with
  ``pyproj.Geod``;
* other projected CRSs: planar areas times the square of the linear unit
  (metres, feet...), as GIS users expect from a projected layer;
* no CRS: planar areas in pixel units squared (there is nothing better).

Which CRSs are Mercator, and their units, are :mod:`glnet_core.geo.crs`'s rules.
Works with shapely 1.8 and 2.x.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .crs import linear_unit_m, to_pyproj, uses_ellipsoid

__all__ = ["polygon_areas_m2", "pixel_area_rows_m2"]


def _planar_unit_m(crs) -> float:
    """Metres per CRS unit for planar areas: 1.0 without a CRS or with an unknown unit (pixel units)."""
    return linear_unit_m(crs) or 1.0


def _geod(c):
    import pyproj

    ell = c.ellipsoid
    if ell is None:
        return pyproj.Geod(ellps="WGS84")
    if ell.inverse_flattening:
        return pyproj.Geod(a=ell.semi_major_metre, rf=ell.inverse_flattening)
    return pyproj.Geod(a=ell.semi_major_metre, b=ell.semi_minor_metre)


def polygon_areas_m2(geoms: Sequence, crs) -> np.ndarray:
    """Ground area of each (multi)polygon in square metres (see module doc for the rule)."""
    if not uses_ellipsoid(crs):
        f = _planar_unit_m(crs) ** 2
        return np.array([g.area * f for g in geoms], dtype=np.float64)
    import pyproj
    from shapely.ops import transform

    c = to_pyproj(crs)
    geod = _geod(c)
    # Geometries from GDAL rasters are x = longitude even where the CRS
    # defines latitude first (EPSG:4326), so geographic ones need no swap.
    to_lonlat = None
    if not c.is_geographic:
        to_lonlat = pyproj.Transformer.from_crs(c, c.geodetic_crs, always_xy=True).transform
    out = np.empty(len(geoms), dtype=np.float64)
    for i, g in enumerate(geoms):
        gg = transform(to_lonlat, g) if to_lonlat else g
        area, _ = geod.geometry_area_perimeter(gg)
        out[i] = abs(area)
    return out


def pixel_area_rows_m2(crs, transform, row0: int, row1: int, col: float = 0.0) -> np.ndarray:
    """Ground area of one pixel for each row in ``[row0, row1)`` (square metres).

    In a projected CRS (not Mercator) every pixel has the same area; on the
    ellipsoid the area depends on the row's latitude (column ``col`` is used).
    """
    n = max(0, row1 - row0)
    if not uses_ellipsoid(crs):
        a = abs(transform.a * transform.e - transform.b * transform.d) * _planar_unit_m(crs) ** 2
        return np.full(n, a, dtype=np.float64)
    from shapely.geometry import Polygon

    polys = []
    for r in range(row0, row1):
        corners = [(col, r), (col + 1, r), (col + 1, r + 1), (col, r + 1)]
        pts = [(transform.c + transform.a * x + transform.b * y, transform.f + transform.d * x + transform.e * y) for x, y in corners]
        polys.append(Polygon(pts))
    return polygon_areas_m2(polys, crs)
