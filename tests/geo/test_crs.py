"""The one CRS rule: linear units, geographic and Mercator CRSs, pixel sizes, lengths in CRS units.

Real CRSs from PROJ's database; "without pyproj" runs hide the pyproj module
(``sys.modules["pyproj"] = None`` makes ``import pyproj`` fail), which is what
a Python without it sees.
"""

from __future__ import annotations

import math
import sys

import pytest
from affine import Affine
from rasterio.crs import CRS

from glnet.glnet_core.geo import crs as crs_rules
from glnet.glnet_core.geo.areas import pixel_area_rows_m2
from glnet.glnet_core.geo.crs import (
    METRES_PER_DEGREE,
    NOMINAL_TOLERANCE,
    ground_pixel_size,
    is_geographic,
    is_mercator,
    linear_unit_m,
    metres_to_crs_units,
    nominal_pixel_size,
    pixel_size,
    uses_ellipsoid,
)

US_FOOT = 1200.0 / 3937.0
#: EPSG code -> (geographic, Mercator)
KINDS = {
    4326: (True, False),
    3857: (False, True),  # Web (pseudo) Mercator
    3395: (False, True),  # World Mercator (ellipsoidal, variant A)
    32633: (False, False),  # UTM: transverse Mercator
    27700: (False, False),  # British National Grid: transverse Mercator
    3035: (False, False),  # LAEA Europe
    2227: (False, False),  # California zone 3, US survey feet (Lambert conformal conic)
}


@pytest.fixture
def no_pyproj(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyproj", None)
    with pytest.raises(ImportError):
        import pyproj  # noqa: F401


@pytest.mark.parametrize("epsg", sorted(KINDS))
def test_geographic_and_mercator(epsg):
    geographic, mercator = KINDS[epsg]
    crs = CRS.from_epsg(epsg)
    assert is_geographic(crs) is geographic
    assert is_mercator(crs) is mercator
    assert uses_ellipsoid(crs) is (geographic or mercator)
    # Any form of the CRS gives the same answer.
    assert is_mercator(f"EPSG:{epsg}") is mercator and is_mercator(crs.to_wkt()) is mercator


@pytest.mark.parametrize("epsg", sorted(KINDS))
def test_mercator_is_detected_the_same_way_without_pyproj(epsg, no_pyproj):
    geographic, mercator = KINDS[epsg]
    crs = CRS.from_epsg(epsg)
    assert is_geographic(crs) is geographic
    assert is_mercator(crs) is mercator


def test_none_is_no_crs():
    assert not is_geographic(None) and not is_mercator(None) and not uses_ellipsoid(None)
    assert linear_unit_m(None) is None
    assert metres_to_crs_units(5.0, None) == 5.0
    assert ground_pixel_size(None, Affine(2, 0, 0, 0, -2, 0), 10, 10) is None
    assert pixel_size(None, Affine(2, 0, 0, 0, -2, 0), 10, 10).for_model is None


def test_linear_units():
    assert linear_unit_m(CRS.from_epsg(32633)) == 1.0
    assert linear_unit_m(CRS.from_epsg(2227)) == pytest.approx(US_FOOT, rel=1e-12)
    assert linear_unit_m(CRS.from_epsg(4326)) is None  # degrees are no length
    local = CRS.from_wkt('LOCAL_CS["site grid",UNIT["foot",0.3048]]')
    assert linear_unit_m(local) == pytest.approx(0.3048)


def test_linear_units_without_pyproj(no_pyproj):
    assert linear_unit_m(CRS.from_epsg(32633)) == 1.0
    assert linear_unit_m(CRS.from_epsg(2227)) == pytest.approx(US_FOOT, rel=1e-12)
    assert linear_unit_m(CRS.from_epsg(4326)) is None


def test_lengths_in_crs_units():
    assert metres_to_crs_units(METRES_PER_DEGREE, CRS.from_epsg(4326)) == 1.0
    assert metres_to_crs_units(3.0, CRS.from_epsg(32633)) == 3.0
    assert metres_to_crs_units(US_FOOT * 10, CRS.from_epsg(2227)) == pytest.approx(10.0, rel=1e-12)


def test_pixel_size_for_a_model():
    utm = CRS.from_epsg(32633)
    size = pixel_size(utm, Affine(0.5, 0, 640000, 0, -0.5, 5800000), 100, 80)
    assert size.nominal == (0.5, 0.5) and size.for_model == (0.5, 0.5)
    assert size.ground == pytest.approx((0.5, 0.5), rel=2e-3) and size.ground != size.nominal
    # Web Mercator at 60 degrees north: 1 "metre" is half a metre on the ground.
    y60 = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(60) / 2))
    wm = pixel_size(CRS.from_epsg(3857), Affine(1.0, 0, 1_000_000.0, 0, -1.0, y60), 100, 80)
    assert wm.nominal == (1.0, 1.0)
    assert wm.ground == pytest.approx((0.5, 0.5), rel=0.01)
    assert wm.for_model == wm.ground
    # Feet: nominal sizes are in metres.
    assert nominal_pixel_size(CRS.from_epsg(2227), Affine(2, 0, 6e6, 0, -2, 2e6)) == pytest.approx((2 * US_FOOT,) * 2)
    assert NOMINAL_TOLERANCE == 0.01


def test_ground_pixel_size_without_pyproj(no_pyproj):
    utm = CRS.from_epsg(32633)
    assert ground_pixel_size(utm, Affine(0.5, 0, 640000, 0, -0.5, 5800000), 100, 80) == (0.5, 0.5)
    y60 = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(60) / 2))
    wm = ground_pixel_size(CRS.from_epsg(3857), Affine(1.0, 0, 1_000_000.0, 0, -1.0, y60), 100, 80)
    assert wm == pytest.approx((0.5, 0.5), rel=1e-3)
    geographic = ground_pixel_size(CRS.from_epsg(4326), Affine(1e-5, 0, 10.0, 0, -1e-5, 60.0), 100, 100)
    assert geographic == pytest.approx((0.5 * 1.1119, 1.1119), rel=1e-3)


def test_areas_follow_the_same_rule():
    # Planar in feet: a 2 x 2 ft pixel.
    feet = pixel_area_rows_m2(CRS.from_epsg(2227), Affine(2, 0, 6e6, 0, -2, 2e6), 0, 1)
    assert feet[0] == pytest.approx((2 * US_FOOT) ** 2)
    # On the ellipsoid for Mercator: close to the ground pixel size squared.
    y60 = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(60) / 2))
    wm = pixel_area_rows_m2(CRS.from_epsg(3857), Affine(1.0, 0, 1_000_000.0, 0, -1.0, y60), 0, 1)
    assert wm[0] == pytest.approx(0.25, rel=0.01)
    assert crs_rules.uses_ellipsoid(CRS.from_epsg(3857))
