"""glnet_core inside QGIS's own Python, with the packages QGIS users have.

On Debian 12 these are rasterio 1.3, shapely 1.8, geopandas 0.12 (fiona),
numpy 1.24 from apt and onnxruntime from the plugin-private folder; the .venv
suite runs the same engine on current releases. Every command runs for real
on the sample orthophoto with a tiny bundle.
"""

from __future__ import annotations

import csv
from pathlib import Path

from glnet.glnet_plugin import dependencies


def _cli(args) -> int:
    from glnet.glnet_core.cli.main import main

    return main([str(a) for a in args])


def test_dependencies_met_with_private_onnxruntime():
    """The checked requirements import, and onnxruntime comes from the private folder, not the system."""
    folder = dependencies.activate()
    assert folder is not None and folder.is_dir(), "run make qgis-setup: the private folder is missing"
    assert dependencies.check() == []
    import numpy
    import onnxruntime

    assert Path(onnxruntime.__file__).resolve().is_relative_to(folder.resolve())
    # QGIS's numpy, never one pip brought along with onnxruntime.
    assert not Path(numpy.__file__).resolve().is_relative_to(folder.resolve())


def test_segment_vectorize_evaluate_stats(tmp_path, ortho, tiny_bundle, capsys):
    dependencies.activate()
    import geopandas
    import rasterio

    mask, conf, vec = tmp_path / "lc.tif", tmp_path / "conf.tif", tmp_path / "lc.gpkg"
    assert _cli(["segment", ortho, "--model", tiny_bundle, "--out-mask", mask, "--out-confidence", conf,
                 "--out-vector", vec, "--quiet"]) == 0
    with rasterio.open(ortho) as src, rasterio.open(mask) as out:
        assert (out.width, out.height, out.crs, out.transform) == (src.width, src.height, src.crs, src.transform)
        assert out.count == 1 and out.dtypes[0] == "uint8"
    polygons = geopandas.read_file(vec)
    assert len(polygons) > 0 and polygons.crs.to_epsg() == 32633
    assert {"class_id", "class_name"} <= set(polygons.columns)

    vec2 = tmp_path / "again.fgb"
    assert _cli(["vectorize", mask, "--out", vec2, "--min-area", "20"]) == 0
    assert len(geopandas.read_file(vec2)) <= len(polygons)

    capsys.readouterr()
    assert _cli(["evaluate", mask, mask, "--json", tmp_path / "scores.json"]) == 0
    assert "mIoU" in capsys.readouterr().out

    stats = tmp_path / "stats.csv"
    zones = polygons.assign(zone=range(len(polygons)))[["zone", "geometry"]]
    zones.to_file(tmp_path / "zones.gpkg", driver="GPKG")
    assert _cli(["stats", mask, "--zones", tmp_path / "zones.gpkg", "--zone-field", "zone", "--out", stats,
                 "--quiet"]) == 0
    rows = list(csv.DictReader(stats.open()))
    assert len(rows) == len(polygons)


def test_engine_error_is_one_line(tmp_path, tiny_bundle, capsys):
    bad = tmp_path / "not_a_raster.tif"
    bad.write_text("plain text")
    assert _cli(["segment", bad, "--model", tiny_bundle, "--out-mask", tmp_path / "m.tif"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("glnet: error:")
    assert not (tmp_path / "m.tif").exists()
