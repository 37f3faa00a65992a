"""CRS rules in one place: units, geographic and Mercator CRSs, pixel sizes in metres.

Everything in glnet that asks "how many metres is this?" asks here: the
raster input (pixel size, to match a model's resolution), training (the
resolution a model was trained at), areas (:mod:`glnet_core.geo.areas`) and
vectorize (simplification tolerances).

Rules
-----
- **Linear unit** (:func:`linear_unit_m`): metres per unit of a projected or
  local CRS's first axis, from PROJ (pyproj), else GDAL (rasterio's
  ``linear_units_factor``), else 1.0 for a unit named metre; None for a
  geographic CRS (degrees are no length) and for an unknown unit.
- **Mercator** (:func:`is_mercator`): the projection method's name contains
  "Mercator" but not "Transverse" (Web / Pseudo Mercator, Mercator variants A
  and B, oblique Mercator). Their "metres" stretch with 1 / cos(latitude). The
  method name comes from PROJ, else from the CRS's WKT, so that the rule is the
  same with and without pyproj.
- **Areas on the ellipsoid** (:func:`uses_ellipsoid`): geographic and
  Mercator CRSs.
- **Ground pixel size** (:func:`ground_pixel_size`): the geodesic length on
  the CRS's ellipsoid (pyproj) of one pixel step at the raster centre. It
  includes the projection's scale factor: a Web Mercator (EPSG:3857) pixel of
  1 "metre" at 60 degrees north is about 0.5 m on the ground; a UTM pixel
  differs from its nominal size by at most about 0.1 %.
- **Nominal pixel size** (:func:`nominal_pixel_size`): the transform's pixel
  steps times the linear unit (projected CRSs only).
- **Pixel size for a model** (:attr:`PixelSize.for_model`, the one compared
  with a model's resolution): the nominal size when it is within
  :data:`NOMINAL_TOLERANCE` (1 %) of the ground size (UTM, national grids: a
  "0.25 m" UTM raster is 0.25 m, exactly half of a 0.5 m model's pixel), the
  ground size otherwise (geographic CRSs, Web Mercator away from the equator).

Without pyproj (it comes with geopandas, a dependency) the ground size falls
back to the nominal size times the linear unit (projected CRSs; Mercator ones
times cos(latitude) of a spherical Web Mercator) or a spherical earth
(geographic CRSs).

``crs`` arguments may be a :class:`rasterio.crs.CRS`, a :class:`pyproj.CRS`,
or anything :meth:`pyproj.CRS.from_user_input` takes (WKT, ``"EPSG:4326"``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Tuple

__all__ = [
    "NOMINAL_TOLERANCE",
    "grid_bounds",
    "METRES_PER_DEGREE",
    "XY",
    "PixelSize",
    "to_pyproj",
    "is_geographic",
    "is_mercator",
    "uses_ellipsoid",
    "linear_unit_m",
    "metres_to_crs_units",
    "ground_pixel_size",
    "nominal_pixel_size",
    "pixel_size",
]

#: The nominal pixel size is used for a model when it is within this fraction of the ground size.
NOMINAL_TOLERANCE = 0.01
#: Metres per degree of latitude (and of longitude at the equator), for lengths given in metres
#: in a geographic CRS (simplification tolerances).
METRES_PER_DEGREE = 111320.0
# Mean earth radius (IUGG) and the Web Mercator sphere, for the fallbacks without pyproj.
_EARTH_RADIUS_M = 6371008.8
_WEB_MERCATOR_RADIUS_M = 6378137.0
_METRE_NAMES = ("metre", "meter", "m", "metres", "meters")
_METHOD = re.compile(r'(?:METHOD|PROJECTION)\["([^"]+)"', re.IGNORECASE)

#: A size or step (along a row, along a column), in metres.
XY = Tuple[float, float]


def to_pyproj(crs: Any):
    """``crs`` as a :class:`pyproj.CRS` (raises ImportError without pyproj, pyproj's CRSError for a bad CRS)."""
    import pyproj

    if isinstance(crs, pyproj.CRS):
        return crs
    return pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)


def is_geographic(crs: Any) -> bool:
    """Whether ``crs`` is geographic (coordinates in degrees); False for None."""
    if crs is None:
        return False
    flag = getattr(crs, "is_geographic", None)  # rasterio and pyproj CRSs both have it
    if isinstance(flag, bool):
        return flag
    return bool(to_pyproj(crs).is_geographic)


def _method_name(crs: Any) -> str:
    """The projection method's name, lower case ("" for none or unknown)."""
    try:
        op = to_pyproj(crs).coordinate_operation
        return (op.method_name or "").lower() if op is not None else ""
    except Exception:  # pyproj missing or failing: read the WKT ourselves
        pass
    try:
        text = crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs)
    except Exception:
        return ""
    match = _METHOD.search(text)
    return match.group(1).lower().replace("_", " ") if match else ""


def is_mercator(crs: Any) -> bool:
    """Whether ``crs`` is a Mercator projection other than Transverse Mercator (see the module docstring)."""
    if crs is None or is_geographic(crs):
        return False
    method = _method_name(crs)
    return "mercator" in method and "transverse" not in method


def uses_ellipsoid(crs: Any) -> bool:
    """Whether ground areas in ``crs`` are computed on its ellipsoid: geographic and Mercator CRSs."""
    if crs is None:
        return False
    return is_geographic(crs) or is_mercator(crs)


def linear_unit_m(crs: Any) -> Optional[float]:
    """Metres per unit of a projected or local CRS's first axis.

    Returns
    -------
    float or None
        None without a CRS, for a geographic CRS, or when the unit is unknown.
    """
    if crs is None or is_geographic(crs):
        return None
    try:
        axes = to_pyproj(crs).axis_info
        if axes and axes[0].unit_conversion_factor and axes[0].unit_name.lower() not in ("degree", "radian", "grad"):
            return float(axes[0].unit_conversion_factor)
    except Exception:  # pyproj missing or failing: ask GDAL
        pass
    try:
        return float(crs.linear_units_factor[1])  # rasterio >= 1.3; raises for local CRSs
    except Exception:
        pass
    if str(getattr(crs, "linear_units", "")).lower() in _METRE_NAMES:
        return 1.0
    return None


def metres_to_crs_units(metres: float, crs: Any) -> float:
    """A length in metres as CRS units: :data:`METRES_PER_DEGREE` per degree in a geographic CRS.

    In a projected CRS it is divided by the linear unit; without a CRS or with
    an unknown unit the length is taken as it is.
    """
    if is_geographic(crs):
        return metres / METRES_PER_DEGREE
    return metres / (linear_unit_m(crs) or 1.0)


def _steps(transform) -> Tuple[float, float, float, float, float, float]:
    # Written out rather than `transform * (x, y)`: affine 3 deprecates `*`, affine 2 lacks `@`.
    return (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f)


def grid_bounds(transform: Any, rows: int, cols: int) -> Tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of a grid of ``rows`` x ``cols`` pixels under ``transform`` (any rotation)."""
    a, b, c, d, e, f = _steps(transform)
    corners = ((0, 0), (cols, 0), (0, rows), (cols, rows))
    xs = [c + a * col + b * row for col, row in corners]
    ys = [f + d * col + e * row for col, row in corners]
    return (min(xs), min(ys), max(xs), max(ys))


def ground_pixel_size(crs: Any, transform, width: int, height: int) -> Optional[XY]:
    """Ground size in metres of one pixel (along a row, along a column) at the raster centre.

    Parameters
    ----------
    crs:
        The raster's CRS, or None.
    transform:
        Its pixel-to-CRS :class:`affine.Affine` transform.
    width, height:
        Its size in pixels (locates the centre).

    Returns
    -------
    (x, y) or None:
        Geodesic length on the CRS's ellipsoid of one pixel step along a row
        (x) and along a column (y), measured across the centre pixel; None
        without a CRS, or when the CRS has no known unit or ellipsoid.
    """
    if crs is None:
        return None
    a, b, c, d, e, f = _steps(transform)
    cx = a * width / 2.0 + b * height / 2.0 + c
    cy = d * width / 2.0 + e * height / 2.0 + f
    # Half a pixel either side of the centre, along a row and along a column.
    xs = [cx - a / 2, cx + a / 2, cx - b / 2, cx + b / 2]
    ys = [cy - d / 2, cy + d / 2, cy - e / 2, cy + e / 2]
    try:
        import pyproj

        pcrs = to_pyproj(crs)
        geodetic = pcrs.geodetic_crs
        if geodetic is None:
            raise ValueError("no geodetic CRS")
        lon, lat = pyproj.Transformer.from_crs(pcrs, geodetic, always_xy=True).transform(xs, ys)
        geod = pcrs.get_geod()
        if geod is None:
            raise ValueError("no ellipsoid")
        _, _, dist = geod.inv(lon[0::2], lat[0::2], lon[1::2], lat[1::2])
        size = (float(dist[0]), float(dist[1]))
        if all(math.isfinite(v) and v > 0 for v in size):
            return size
    except Exception:  # pyproj missing, or a CRS it cannot handle: fall back below
        pass
    if is_geographic(crs):
        # Spherical earth; degrees of longitude shrink with cos(latitude).
        k = math.pi / 180.0 * _EARTH_RADIUS_M
        coslat = math.cos(math.radians(cy))
        return (k * math.hypot(a * coslat, d), k * math.hypot(b * coslat, e))
    nominal = nominal_pixel_size(crs, transform)
    if nominal is None:
        return None
    scale = 1.0
    if is_mercator(crs):
        # As spherical Web Mercator: the ground size is the nominal size times cos(latitude).
        lat = 2.0 * math.atan(math.exp(cy / _WEB_MERCATOR_RADIUS_M)) - math.pi / 2.0
        scale = math.cos(lat)
    return (nominal[0] * scale, nominal[1] * scale)


def nominal_pixel_size(crs: Any, transform) -> Optional[XY]:
    """Pixel size (along a row, along a column) in metres from the transform and the CRS's linear unit.

    Returns None without a CRS, for a geographic CRS (degrees are no length),
    or when the CRS's unit is unknown.
    """
    unit = linear_unit_m(crs)
    if unit is None:
        return None
    a, b, _, d, e, _ = _steps(transform)
    return (math.hypot(a, d) * unit, math.hypot(b, e) * unit)


@dataclass(frozen=True)
class PixelSize:
    """The pixel size of a raster, in metres, as ground and nominal size.

    Attributes
    ----------
    ground:
        :func:`ground_pixel_size`, or None.
    nominal:
        :func:`nominal_pixel_size`, or None.
    """

    ground: Optional[XY]
    nominal: Optional[XY]

    @property
    def for_model(self) -> Optional[XY]:
        """The size to compare with a model's resolution: nominal when within :data:`NOMINAL_TOLERANCE` of ground."""
        if self.nominal is not None and (
            self.ground is None or all(abs(g / n - 1.0) <= NOMINAL_TOLERANCE for g, n in zip(self.ground, self.nominal))
        ):
            # The CRS's metres are ground metres to within NOMINAL_TOLERANCE: keep the
            # round nominal size, so that a 0.25 m raster is exactly half a 0.5 m model's.
            return self.nominal
        return self.ground


def pixel_size(crs: Any, transform, width: int, height: int) -> PixelSize:
    """Ground and nominal pixel size of a raster (see :class:`PixelSize`)."""
    return PixelSize(ground_pixel_size(crs, transform, width, height), nominal_pixel_size(crs, transform))
