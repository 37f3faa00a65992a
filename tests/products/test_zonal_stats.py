"""``glnet stats``: class areas per zone against hand-computed numbers, on real files.

Masks are written with rasterio and zones with geopandas into ``tmp_path``;
the command runs in-process through :func:`glnet.glnet_core.cli.main.main`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import rasterio
from affine import Affine

gpd = pytest.importorskip("geopandas")
from shapely.geometry import box  # noqa: E402

from glnet.glnet_core.callbacks import Callbacks  # noqa: E402
from glnet.glnet_core.cli.main import main  # noqa: E402
from glnet.glnet_core.errors import Cancelled  # noqa: E402
from glnet.glnet_core.formats.class_mask import category_names_xml  # noqa: E402
from glnet.glnet_core.formats.classes import NODATA  # noqa: E402
from glnet.glnet_core.products.zonal_stats import overlap_groups, zonal_stats  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

UTM = "EPSG:32633"
NAMES = ["bare", "crop", "tree"]
X0, Y0 = 500000.0, 5000060.0  # 6 x 6 px of 10 m (100 m2)
MASK = np.array(
    [
        [0, 0, 1, 1, 2, 2],
        [0, 0, 1, 1, 2, 2],
        [0, NODATA, 1, 1, 2, 2],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [2, 2, 2, 2, 2, 2],
    ],
    dtype=np.uint8,
)


def cells(c0: int, r0: int, c1: int, r1: int):
    """The box over pixel columns [c0, c1) and rows [r0, r1) of MASK's grid."""
    return box(X0 + 10 * c0, Y0 - 10 * r1, X0 + 10 * c1, Y0 - 10 * r0)


ZONE_A = cells(0, 0, 3, 3)  # bare 5 px, crop 3 px, 1 nodata
ZONE_B = cells(2, 3, 6, 6)  # bare 6, crop 2, tree 4
ZONE_D = cells(0, 0, 4, 2)  # overlaps A: bare 4, crop 4
ZONE_FAR = box(X0 + 1000, Y0 + 1000, X0 + 1010, Y0 + 1010)  # outside the mask


def write_mask(path: Path, data: np.ndarray, transform: Affine, crs: str, names=NAMES, dtype=None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=dtype or str(data.dtype), crs=crs, transform=transform, nodata=NODATA) as ds:
        ds.write(data.astype(dtype or data.dtype), 1)
    if names:
        Path(str(path) + ".aux.xml").write_bytes(category_names_xml(names))
    return path


def utm_mask(tmp_path: Path) -> Path:
    return write_mask(tmp_path / "mask.tif", MASK, Affine(10, 0, X0, 0, -10, Y0), UTM)


def write_zones(path: Path, names: List[str], geoms, crs=UTM) -> Path:
    gdf = gpd.GeoDataFrame({"name": names}, geometry=list(geoms), crs=UTM)
    if crs != UTM:
        gdf = gdf.to_crs(crs)
    gdf.to_file(path, driver="GPKG" if path.suffix == ".gpkg" else "GeoJSON")
    return path


def read_csv(path: Path) -> Dict[str, Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["name"]: row for row in csv.DictReader(f)}


def expect(row: Dict[str, str], areas: Dict[str, float]) -> None:
    total = sum(areas.values())
    assert float(row["area_m2"]) == pytest.approx(total)
    for name in NAMES:
        assert float(row[f"{name}_m2"]) == pytest.approx(areas.get(name, 0.0))
        assert float(row[f"{name}_share"]) == pytest.approx(areas.get(name, 0.0) / total)


def test_projected_areas_csv(tmp_path):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A", "B", "far"], [ZONE_A, ZONE_B, ZONE_FAR])
    out = tmp_path / "stats.csv"
    assert main(["stats", str(mask), "--zones", str(zones), "--zone-field", "name", "--out", str(out), "--quiet"]) == 0
    rows = read_csv(out)
    assert list(rows) == ["A", "B", "far"]
    assert list(rows["A"]) == ["name", "area_m2", "bare_m2", "bare_share", "crop_m2", "crop_share", "tree_m2", "tree_share"]
    expect(rows["A"], {"bare": 500.0, "crop": 300.0})
    expect(rows["B"], {"bare": 600.0, "crop": 200.0, "tree": 400.0})
    assert float(rows["far"]["area_m2"]) == 0.0 and rows["far"]["bare_share"] == ""
    assert not list(tmp_path.glob(".*part*"))


def test_cancel_stops_before_the_next_block(tmp_path):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A", "B"], [ZONE_A, ZONE_B])
    with pytest.raises(Cancelled):
        zonal_stats(mask, zones, "name", callbacks=Callbacks(is_cancelled=lambda: True))
    polls = []
    stats = zonal_stats(mask, zones, "name", block_rows=2, callbacks=Callbacks(is_cancelled=lambda: polls.append(1) and False))
    assert len(polls) >= 2 and stats.areas_m2.sum() > 0


def test_zones_in_another_crs_are_reprojected(tmp_path):
    mask = utm_mask(tmp_path)
    # Lon/lat zones; every pixel centre is 5 m from the zone edges, so the pixels are the same.
    zones = write_zones(tmp_path / "zones.geojson", ["A", "B"], [ZONE_A, ZONE_B], crs="EPSG:4326")
    st = zonal_stats(mask, zones, "name")
    assert st.areas_m2.tolist() == [[500.0, 300.0, 0.0], [600.0, 200.0, 400.0]]


def test_geodesic_pixel_areas_on_a_geographic_mask(tmp_path):
    # 4 x 4 px of 0.001 degrees at 60 N; one nodata pixel in the first row.
    data = np.ones((4, 4), dtype=np.uint8)
    data[0, 0] = NODATA
    lat_top, d = 60.004, 0.001
    mask = write_mask(tmp_path / "geo.tif", data, Affine(d, 0, 10.0, 0, -d, lat_top), "EPSG:4326")
    zones = tmp_path / "zones.gpkg"
    gpd.GeoDataFrame({"name": ["all"]}, geometry=[box(9.9, 59.9, 10.1, 60.1)], crs="EPSG:4326").to_file(zones, driver="GPKG")
    st = zonal_stats(mask, zones, "name")

    # The area of a cell bounded by meridians and parallels on the WGS84 ellipsoid (closed form).
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    b2 = a * a * (1 - e2)

    def q(lat: float) -> float:
        s = math.sin(math.radians(lat))
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    row_area = [b2 * math.radians(d) / 2 * (q(lat_top - r * d) - q(lat_top - (r + 1) * d)) for r in range(4)]
    expected = 3 * row_area[0] + 4 * sum(row_area[1:])
    assert st.areas_m2[0, 1] == pytest.approx(expected, rel=1e-6)
    assert st.areas_m2[0, 0] == 0.0 and st.areas_m2[0, 2] == 0.0
    assert row_area[0] < row_area[3]  # further north, smaller: the rows really differ
    # Streaming: one row per block gives the same areas (each block's rows get their own latitude).
    assert zonal_stats(mask, zones, "name", block_rows=1).areas_m2[0].tolist() == pytest.approx(st.areas_m2[0].tolist(), rel=1e-12)


def test_overlapping_zones_count_each_pixel_in_each_zone(tmp_path):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A", "D", "B"], [ZONE_A, ZONE_D, ZONE_B])
    for block_rows in (None, 1, 4):
        st = zonal_stats(mask, zones, "name", block_rows=block_rows)
        assert st.areas_m2.tolist() == [[500.0, 300.0, 0.0], [400.0, 400.0, 0.0], [600.0, 200.0, 400.0]]
    # A and D overlap; A and B only touch at a corner and B and D not at all.
    assert overlap_groups([ZONE_A, ZONE_D, ZONE_B]) == [[0, 2], [1]]


def test_gpkg_output(tmp_path):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.geojson", ["A", "B"], [ZONE_A, ZONE_B], crs="EPSG:4326")
    out = tmp_path / "stats.gpkg"
    assert main(["stats", str(mask), "--zones", str(zones), "--zone-field", "name", "--out", str(out),
                 "--layer", "landcover", "--quiet"]) == 0
    got = gpd.read_file(out, layer="landcover")
    assert list(got["name"]) == ["A", "B"]
    assert got["bare_m2"].tolist() == pytest.approx([500.0, 600.0])
    assert got["tree_share"].tolist() == pytest.approx([0.0, 400.0 / 1200.0])
    assert got.crs.to_epsg() == 4326  # the zones' own geometries and CRS
    assert got.geometry.iloc[0].equals_exact(gpd.read_file(zones).geometry.iloc[0], 1e-9)


def test_zone_field_absent_names_the_fields(tmp_path, cli_error):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A"], [ZONE_A])
    out = tmp_path / "stats.csv"
    msg = cli_error(["stats", str(mask), "--zones", str(zones), "--zone-field", "district", "--out", str(out)])
    assert "'district'" in msg and "name" in msg
    assert not out.exists()


def test_overwrite_refusal(tmp_path, cli_error):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A"], [ZONE_A])
    out = tmp_path / "stats.csv"
    out.write_text("keep me\n", encoding="utf-8")
    argv = ["stats", str(mask), "--zones", str(zones), "--zone-field", "name", "--out", str(out), "--quiet"]
    assert "--overwrite" in cli_error(argv)
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert main(argv + ["--overwrite"]) == 0
    expect(read_csv(out)["A"], {"bare": 500.0, "crop": 300.0})


def test_bad_inputs(tmp_path, cli_error):
    mask = utm_mask(tmp_path)
    zones = write_zones(tmp_path / "zones.gpkg", ["A"], [ZONE_A])
    out = tmp_path / "stats.csv"
    base = ["--zones", str(zones), "--zone-field", "name", "--out", str(out)]
    floats = write_mask(tmp_path / "float.tif", MASK, Affine(10, 0, X0, 0, -10, Y0), UTM, dtype="float32")
    assert "float32" in cli_error(["stats", str(floats)] + base)
    unnamed = write_mask(tmp_path / "unnamed.tif", MASK, Affine(10, 0, X0, 0, -10, Y0), UTM, names=None)
    assert "--classes" in cli_error(["stats", str(unnamed)] + base)
    assert main(["stats", str(unnamed), "--classes", "3"] + base + ["--quiet"]) == 0  # class_0 .. class_2
    out.unlink()
    no_crs = tmp_path / "nocrs.geojson"
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[ZONE_A]).to_file(no_crs, driver="GeoJSON")
    if gpd.read_file(no_crs).crs is None:  # GeoJSON without a crs member may be read as EPSG:4326
        assert "no CRS" in cli_error(["stats", str(mask), "--zones", str(no_crs), "--zone-field", "name", "--out", str(out)])
    no_crs_gpkg = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[ZONE_A]).to_file(no_crs_gpkg, driver="GPKG")
    assert "no CRS" in cli_error(["stats", str(mask), "--zones", str(no_crs_gpkg), "--zone-field", "name", "--out", str(out)])
    assert "does not exist" in cli_error(["stats", str(tmp_path / "nope.tif")] + base)
    assert "do not exist" in cli_error(["stats", str(mask), "--zones", str(tmp_path / "nope.gpkg"), "--zone-field", "name",
                                     "--out", str(out)])
    assert ".csv or .gpkg" in cli_error(["stats", str(mask), "--zones", str(zones), "--zone-field", "name",
                                      "--out", str(tmp_path / "stats.xlsx")])
    assert not out.exists()
