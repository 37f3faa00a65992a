"""``glnet vectorize``: class masks to polygons (real files, no mocks)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.features import rasterize, shapes

from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.class_mask import class_styles, mask_class_info
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import NODATA, ClassInfo, ClassTable
from glnet.glnet_core.geo.areas import pixel_area_rows_m2
from glnet.glnet_core.products.polygonize import polygonize_mask
from glnet.glnet_core.products.sieve import sieve_array, sieve_mask
from glnet.glnet_core.products.simplify import simplify_coverage
from glnet.glnet_core.products.vectorize import vectorize

gpd = pytest.importorskip("geopandas")

CLASSES = ClassTable(
    tuple(
        ClassInfo(i, n, c)
        for i, (n, c) in enumerate(
            [("unknown", (0, 0, 0)), ("urban", (0, 255, 255)), ("crops", (255, 255, 0)), ("forest", (0, 128, 0)), ("water", (0, 0, 255))]
        )
    ),
    "test",
)
UTM = "EPSG:32633"
UTM_TR = Affine(10.0, 0, 500000.0, 0, -10.0, 6000000.0)


def scene(nodata: bool = True) -> np.ndarray:
    """60 x 80: shapes crossing 7-row bands, a ring with a hole and an island, a stripe over all rows, diagonals, noise."""
    rng = np.random.default_rng(7)
    m = np.full((60, 80), 1, np.uint8)
    m[5:30, 5:30] = 2  # ring of crops ...
    m[10:25, 10:25] = 3  # ... around forest ...
    m[15:20, 15:20] = 1  # ... around an urban island
    m[:, 40:43] = 4  # water stripe over every band
    m[30:50, 50:70] = 2  # a U crossing bands: its arms join only at the bottom
    m[30:45, 56:64] = 1
    for k in range(8):  # diagonal pixels: separate polygons with 4-connectivity
        m[50 + k, 5 + k] = 3
    m[40:58, 20:35] = rng.integers(1, 5, (18, 15))
    if nodata:
        m[0:4, 60:80] = NODATA  # nodata on the edge
        m[52:56, 70:76] = NODATA  # nodata hole
        m[34:38, 8:12] = NODATA
    return m


def write_mask(path: Path, m: np.ndarray, crs=UTM, transform=UTM_TR, classes=CLASSES) -> Path:
    w = MaskWriter(path, width=m.shape[1], height=m.shape[0], crs=crs, transform=transform, classes=classes)
    w.write(0, 0, m)
    w.commit()
    return path


def read_layer(path: Path, **kw):
    if path.suffix == ".gpkg":
        kw.setdefault("layer", path.stem)
    return gpd.read_file(str(path), **kw)


def burn(gdf, shape, transform=UTM_TR) -> np.ndarray:
    return rasterize(
        [(g, int(c)) for g, c in zip(gdf.geometry, gdf["class_id"])], out_shape=shape, transform=transform, fill=NODATA, dtype="uint8"
    )


def check_coverage(geoms, footprint_area: float, exact: bool = True) -> None:
    from shapely.ops import unary_union

    geoms = list(geoms)
    assert all(g.is_valid for g in geoms)
    union = unary_union(geoms)
    total = sum(g.area for g in geoms)
    assert union.area == pytest.approx(total, rel=1e-9), "polygons overlap"
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            if a.intersects(b):
                assert a.intersection(b).area <= 1e-9 * footprint_area
    if exact:
        assert union.area == pytest.approx(footprint_area, rel=1e-6), "gaps or spill"
    return union


def test_polygons_reproduce_the_mask(tmp_path):
    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    res = vectorize(mask, tmp_path / "out.gpkg")
    gdf = read_layer(tmp_path / "out.gpkg")
    assert res.count == len(gdf) > 20
    assert np.array_equal(burn(gdf, m.shape), m)
    assert set(gdf.columns) >= {"class_id", "class_name", "area_m2", "geometry"}
    names = dict(zip(gdf["class_id"], gdf["class_name"]))
    assert names[1] == "urban" and names[4] == "water"
    assert gdf.crs.to_epsg() == 32633
    # holes kept: the forest polygon has the urban island as a hole
    forest = [g for g, c in zip(gdf.geometry, gdf["class_id"]) if c == 3 and g.area > 150 * 100]
    assert len(forest) == 1 and len(forest[0].interiors) == 1
    # 8 diagonal pixels are 8 polygons, not one
    assert sum(1 for g, c in zip(gdf.geometry, gdf["class_id"]) if c == 3 and g.area == pytest.approx(100.0)) >= 8
    # areas: projected CRS, 100 m2 per pixel
    valid = m != NODATA
    assert gdf["area_m2"].sum() == pytest.approx(valid.sum() * 100.0, rel=1e-9)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("tolerance", [0.0, 15.0])
def test_no_gaps_no_overlaps(tmp_path, tolerance):
    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    vectorize(mask, tmp_path / "out.gpkg", simplify=tolerance)
    gdf = read_layer(tmp_path / "out.gpkg")
    footprint = (m != NODATA).sum() * 100.0
    check_coverage(gdf.geometry, footprint, exact=tolerance == 0)
    if tolerance:
        plain = vectorize(mask, tmp_path / "plain.gpkg")
        plain_gdf = read_layer(tmp_path / "plain.gpkg")
        assert sum(len(g.exterior.coords) for g in gdf.geometry if g.geom_type == "Polygon") < sum(
            len(g.exterior.coords) for g in plain_gdf.geometry
        )
        assert __import__('shapely.ops', fromlist=['unary_union']).unary_union(list(gdf.geometry)).area == pytest.approx(footprint, rel=0.05)
        assert plain.count >= len(gdf) > 0


def test_simplify_full_coverage_keeps_the_extent(tmp_path):
    m = scene(nodata=False)
    mask = write_mask(tmp_path / "mask.tif", m)
    vectorize(mask, tmp_path / "out.gpkg", simplify=25.0)
    gdf = read_layer(tmp_path / "out.gpkg")
    union = check_coverage(gdf.geometry, m.size * 100.0, exact=True)
    assert len(union.interiors if union.geom_type == "Polygon" else [1]) == 0  # no holes: no gaps
    with rasterio.open(mask) as ds:
        assert union.equals(__import__("shapely.geometry", fromlist=["box"]).box(*ds.bounds))
    assert set(gdf["class_id"]) == {1, 2, 3, 4}


def test_simplify_coverage_shares_boundaries():
    from shapely.geometry import box

    # Two squares sharing a jagged boundary: both get the same simplified line.
    left = box(0, 0, 10, 10).difference(box(9, 2, 10, 3)).difference(box(9, 6, 10, 7))
    right = box(10, 0, 20, 10).union(box(9, 2, 10, 3)).union(box(9, 6, 10, 7))
    out = simplify_coverage([left, right], 2.0, [(0, 0), (20, 0), (20, 10), (0, 10)])
    assert out[0].intersection(out[1]).area == pytest.approx(0.0, abs=1e-12)
    assert out[0].union(out[1]).area == pytest.approx(200.0)
    assert len(out[1].exterior.coords) < len(right.exterior.coords)


def _regions(geoms_by_class):
    return sorted((c, round(g.area, 6), tuple(round(v, 6) for v in g.bounds)) for c, g in geoms_by_class)


def test_blockwise_equals_whole(tmp_path):
    m = scene()
    m[:, 75] = 2  # one region spanning all bands
    read = lambda r0, r1: m[r0:r1]  # noqa: E731
    whole = [(c, g) for c, g, _, _ in polygonize_mask(read, 60, 80, band_rows=1000)]
    bands = [(c, g) for c, g, _, _ in polygonize_mask(read, 60, 80, band_rows=7)]
    assert len(bands) == len(whole)
    assert _regions(bands) == _regions(whole)
    key = lambda cg: (cg[0], round(cg[1].area, 6), tuple(round(v, 6) for v in cg[1].bounds))  # noqa: E731
    for (c1, g1), (c2, g2) in zip(sorted(whole, key=key), sorted(bands, key=key)):
        assert c1 == c2 and g1.equals(g2) and g2.is_valid
    stripe = [g for c, g in bands if c == 2 and g.bounds[0] == 75]
    assert stripe and stripe[0].bounds[1] == 0 and stripe[0].bounds[3] == 60
    # and through the files: the written layer with 7-row bands rasterizes back to the mask
    mask = write_mask(tmp_path / "mask.tif", m)
    vectorize(mask, tmp_path / "b.gpkg", band_rows=7)
    vectorize(mask, tmp_path / "w.gpkg")
    b, w = read_layer(tmp_path / "b.gpkg"), read_layer(tmp_path / "w.gpkg")
    assert np.array_equal(burn(b, m.shape), m)
    assert len(b) == len(w)
    assert sorted(b["area_m2"].round(6)) == sorted(w["area_m2"].round(6))


def _small_regions(a: np.ndarray, size: int):
    out = []
    for g, v in shapes(a, mask=a != NODATA, connectivity=4):
        geom = __import__("shapely.geometry", fromlist=["shape"]).shape(g)
        if geom.area < size:
            out.append((int(v), geom))
    return out


def test_sieve_minimum_mapping_unit(tmp_path, rng):
    a = rng.integers(0, 4, (40, 50)).astype(np.uint8)
    a[10:20, 10:20] = NODATA
    a[0:3, 45:50] = NODATA
    size = 6
    out = sieve_array(a, size)
    assert np.array_equal(out == NODATA, a == NODATA), "nodata must stay nodata and nothing else become it"
    # (no region here is enclosed by nodata alone, the only kind that may stay small)
    assert _small_regions(a, size), "the test needs small regions to start with"
    assert _small_regions(out, size) == []
    # the file version with an area: 10 m pixels, 550 m2 -> 6 px
    mask = write_mask(tmp_path / "mask.tif", a)
    dst, px = sieve_mask(mask, tmp_path / "sieved.tif", min_area_m2=550.0)
    assert px == 6
    with rasterio.open(dst) as ds:
        assert np.array_equal(ds.read(1), out)
        assert ds.colormap(1)[2][:3] == (255, 255, 0)
    assert Path(str(dst) + ".aux.xml").is_file()
    # vectorize with --min-area: every polygon at least the unit, coverage intact
    vectorize(mask, tmp_path / "mmu.gpkg", min_area_m2=550.0)
    gdf = read_layer(tmp_path / "mmu.gpkg")
    assert gdf["area_m2"].min() >= 550.0
    assert np.array_equal(burn(gdf, a.shape), out)


def test_geodesic_areas_on_wgs84(tmp_path):
    m = scene()
    tr = Affine(0.001, 0, 10.0, 0, -0.001, 60.0)
    mask = write_mask(tmp_path / "geo.tif", m, crs="EPSG:4326", transform=tr)
    vectorize(mask, tmp_path / "geo.gpkg")
    gdf = read_layer(tmp_path / "geo.gpkg")
    rows = pixel_area_rows_m2("EPSG:4326", tr, 0, 60)
    expected = float(((m != NODATA).sum(axis=1) * rows).sum())
    # Polygon edges are geodesics, pixel rows follow parallels: ~5e-6 apart here.
    assert gdf["area_m2"].sum() == pytest.approx(expected, rel=1e-4)
    # ~55.6 m x 111 m per pixel at 60 deg N: far from the planar "area" in degrees
    assert 5000 < rows[30] < 7000
    assert np.array_equal(burn(gdf, m.shape, tr), m)


def test_geopackage_default_style(tmp_path):
    mask = write_mask(tmp_path / "mask.tif", scene())
    vectorize(mask, tmp_path / "out.gpkg", layer="landcover")
    gdf = read_layer(tmp_path / "out.gpkg", layer="landcover")
    assert len(gdf) > 0
    con = sqlite3.connect(str(tmp_path / "out.gpkg"))
    try:
        rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
        registered = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    finally:
        con.close()
    assert registered == ("attributes",)
    assert len(rows) == 1
    table, geom_col, default, qml = rows[0]
    assert table == "landcover" and default == 1 and geom_col
    import xml.etree.ElementTree as ET

    root = ET.fromstring(qml.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "class_id"
    cats = {c.get("value"): c.get("label") for c in renderer.iter("category")}
    assert cats["1"] == "Urban" and cats["4"] == "Water"  # the labels
    colours = [o.get("value") for o in renderer.iter("Option") if o.get("name") == "color"]
    assert "0,255,255,128" in colours and "0,0,255,128" in colours  # semi-transparent fills (layer_style)


@pytest.mark.parametrize("ext,driver", [(".geojson", "GeoJSON"), (".fgb", "FlatGeobuf"), (".shp", "ESRI Shapefile")])
def test_other_formats(tmp_path, ext, driver):
    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    out = tmp_path / ("out" + ext)
    res = vectorize(mask, out)
    assert res.driver == driver
    gdf = read_layer(out)
    assert len(gdf) == res.count
    assert np.array_equal(burn(gdf, m.shape), m)
    assert {"class_id", "class_name", "area_m2"} <= set(gdf.columns)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(InputError, match="already exists"):
        vectorize(mask, out)
    # --format overrides the extension; overwrite replaces
    res2 = vectorize(mask, out, driver=driver.lower(), overwrite=True, simplify=10.0)
    assert res2.count <= res.count


def test_confidence_attribute(tmp_path):
    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    conf = np.where(m == 2, 80, 40).astype(np.uint8)
    conf[m == NODATA] = NODATA
    conf[5, 5] = NODATA  # a crops pixel without confidence: left out of the mean
    cw = MaskWriter(tmp_path / "conf.tif", width=80, height=60, crs=UTM, transform=UTM_TR, classes=None, kind="confidence")
    cw.write(0, 0, conf)
    cw.commit()
    vectorize(mask, tmp_path / "out.gpkg", confidence_path=tmp_path / "conf.tif", band_rows=7)
    gdf = read_layer(tmp_path / "out.gpkg")
    assert np.allclose(gdf.loc[gdf["class_id"] == 2, "confidence"], 80.0)
    assert np.allclose(gdf.loc[gdf["class_id"] != 2, "confidence"], 40.0)
    assert all(g.exterior.is_ccw for g in gdf.geometry)
    small = MaskWriter(tmp_path / "small.tif", width=40, height=60, crs=UTM, transform=UTM_TR, classes=None, kind="confidence")
    small.write(0, 0, conf[:, :40])
    small.commit()
    with pytest.raises(InputError, match="does not fit"):
        vectorize(mask, tmp_path / "bad.gpkg", confidence_path=tmp_path / "small.tif")
    assert not (tmp_path / "bad.gpkg").exists()


def test_class_styles_match_the_stored_style(tmp_path):
    mask = write_mask(tmp_path / "mask.tif", scene())
    res = vectorize(mask, tmp_path / "out.gpkg")
    # Every class of the mask's table, with its label and colour, in id order.
    assert res.styles == [(c.id, label, c.colour) for c, label in zip(CLASSES.classes, CLASSES.labels)]
    names, labels, colours, warnings = mask_class_info(mask)
    assert not warnings and class_styles(labels, colours) == res.styles
    # Ids in the data without a label or colour get Class <id> and a fixed generated colour.
    extra = class_styles({1: "urban"}, {1: (0, 255, 255)}, ids=[7, 1])
    assert [e[:2] for e in extra] == [(1, "urban"), (7, "Class 7")]
    assert extra[0][2] == (0, 255, 255) and extra == class_styles({1: "urban"}, {1: (0, 255, 255)}, ids=[1, 7])
    assert all(0 <= v <= 255 for v in extra[1][2])


def test_names_from_bundle_classes_or_ids(tmp_path):
    m = scene()
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=80, height=60, count=1, dtype="uint8", crs=UTM, transform=UTM_TR, nodata=255) as ds:
        ds.write(m, 1)
    res = vectorize(plain, tmp_path / "a.gpkg")
    assert res.warnings and "class names" in res.warnings[0]
    assert set(read_layer(tmp_path / "a.gpkg")["class_name"]) == {"class_1", "class_2", "class_3", "class_4"}
    res = vectorize(plain, tmp_path / "b.gpkg", classes=CLASSES)
    assert not res.warnings
    assert "forest" in set(read_layer(tmp_path / "b.gpkg")["class_name"])


def test_bad_inputs_one_line_errors_and_no_output(tmp_path, run_glnet):
    m = scene()
    f = tmp_path / "float.tif"
    with rasterio.open(f, "w", driver="GTiff", width=80, height=60, count=1, dtype="float32", crs=UTM, transform=UTM_TR) as ds:
        ds.write(m.astype(np.float32), 1)
    rgb = tmp_path / "rgb.tif"
    with rasterio.open(rgb, "w", driver="GTiff", width=80, height=60, count=3, dtype="uint8", crs=UTM, transform=UTM_TR) as ds:
        ds.write(np.stack([m] * 3))
    good = write_mask(tmp_path / "mask.tif", m)
    cases = [
        ([str(f)], "float32"),
        ([str(rgb)], "3 bands"),
        ([str(tmp_path / "missing.tif")], "does not exist"),
        ([str(good), "--format", "KML"], "unknown vector format"),
        ([str(good), "--min-area", "-5"], "--min-area"),
    ]
    for args, needle in cases:
        out = tmp_path / "out.gpkg"
        proc = run_glnet("vectorize", *args, "--out", str(out))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("glnet: error:") and needle in lines[0], proc.stderr
        assert not out.exists()
    bad_ext = run_glnet("vectorize", str(good), "--out", str(tmp_path / "out.xyz"))
    assert bad_ext.returncode == 2 and "--format" in bad_ext.stderr
    existing = tmp_path / "keep.gpkg"
    existing.write_bytes(b"precious")
    proc = run_glnet("vectorize", str(good), "--out", str(existing))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert existing.read_bytes() == b"precious"
    proc = run_glnet("vectorize", str(good), "--out", str(existing), "--overwrite", "--simplify", "5")
    assert proc.returncode == 0, proc.stderr
    assert "polygons" in proc.stdout
    assert len(read_layer(existing)) > 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("ext", [".gpkg", ".shp"])
def test_streamed_chunks_append(tmp_path, monkeypatch, ext):
    from glnet.glnet_core.formats.vector_layers import ClassPolygonWriter

    monkeypatch.setattr(ClassPolygonWriter, "CHUNK", 5)  # many appended chunks on a small mask
    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    res = vectorize(mask, tmp_path / ("out" + ext), band_rows=7)
    gdf = read_layer(tmp_path / ("out" + ext))
    assert res.count == len(gdf) > 20
    assert np.array_equal(burn(gdf, m.shape), m)
    assert sum(res.counts.values()) == res.count
    whole = vectorize(mask, tmp_path / ("whole" + ext))
    assert whole.counts == res.counts
    assert sum(res.areas_m2.values()) == pytest.approx((m != NODATA).sum() * 100.0)


def test_cancel_and_empty(tmp_path):
    from glnet.glnet_core.callbacks import Callbacks
    from glnet.glnet_core.errors import Cancelled

    m = scene()
    mask = write_mask(tmp_path / "mask.tif", m)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        vectorize(mask, tmp_path / "out.gpkg", band_rows=7, callbacks=Callbacks(is_cancelled=cancel))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.qml", "mask.tif", "mask.tif.aux.xml"]
    empty = write_mask(tmp_path / "empty.tif", np.full((20, 30), NODATA, np.uint8))
    res = vectorize(empty, tmp_path / "empty.gpkg")
    assert res.count == 0 and len(read_layer(tmp_path / "empty.gpkg")) == 0


# -- outputs: inputs, GeoPackage layers, reserved names (the library entry point the plugin calls) ----


def test_vectorize_never_writes_onto_its_mask_or_confidence(tmp_path):
    from glnet.glnet_core.errors import OutputPathError

    mask = write_mask(tmp_path / "m.tif", scene())
    conf = write_mask(tmp_path / "c.tif", scene(), classes=None)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(OutputPathError, match=r"is the mask"):
        vectorize(mask, mask, driver="GPKG", overwrite=True)
    with pytest.raises(OutputPathError, match=r"is the mask"):
        vectorize(mask, Path(str(mask) + ".aux.xml"), driver="GeoJSON", overwrite=True)
    with pytest.raises(OutputPathError, match=r"^--out-vector: .* is the confidence raster"):
        vectorize(mask, conf, driver="GPKG", overwrite=True, confidence_path=conf, option="--out-vector")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_overwrite_replaces_one_layer_of_a_geopackage(tmp_path):
    import pyogrio

    mask = write_mask(tmp_path / "m.tif", scene())
    out = tmp_path / "project.gpkg"
    vectorize(mask, out, layer="first")
    vectorize(mask, out, layer="second", overwrite=True, min_area_m2=2000)
    first = read_layer(out, layer="first")
    second = read_layer(out, layer="second")
    assert sorted(str(n) for n, _ in pyogrio.list_layers(out)) == ["first", "layer_styles", "second"]
    assert 0 < len(second) < len(first)
    # Replacing "first" leaves "second" (and its default style) as it was.
    res = vectorize(mask, out, layer="first", overwrite=True, simplify=10.0)
    assert res.count == len(read_layer(out, layer="first"))
    assert read_layer(out, layer="second").equals(second)
    with sqlite3.connect(out) as con:
        defaults = sorted(r[0] for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1"))
    assert defaults == ["first", "second"]
    # Without overwrite an existing file is never touched.
    data = out.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        vectorize(mask, out, layer="third")
    assert out.read_bytes() == data


def test_a_file_that_is_no_geopackage_is_replaced_whole(tmp_path):
    mask = write_mask(tmp_path / "m.tif", scene())
    out = tmp_path / "old.gpkg"
    out.write_text("not a GeoPackage")
    res = vectorize(mask, out, overwrite=True)
    assert len(read_layer(out)) == res.count > 0


@pytest.mark.parametrize("layer", ["layer_styles", "gpkg_contents", "GPKG_OGR_CONTENTS", "sqlite_sequence", "rtree_a_geom", " "])
def test_reserved_or_empty_layer_names_are_refused(tmp_path, layer):
    mask = write_mask(tmp_path / "m.tif", scene())
    with pytest.raises(InputError, match=r"^--layer: "):
        vectorize(mask, tmp_path / "out.gpkg", layer=layer)
    assert not (tmp_path / "out.gpkg").exists()
    # Other formats have no layer names to reserve.
    vectorize(mask, tmp_path / "layer_styles.geojson")
