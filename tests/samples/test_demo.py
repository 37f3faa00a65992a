"""``make demo`` / ``glnet demo``: the shipped demo model on the shipped sample scene.

The first test runs ``make demo`` as CI and a new user run it (from the
repository root, after ``make install``, which ``make test`` has already
done) and checks everything it promises: mask on the scene's grid, polygons
that agree with the mask, the preview PNG, the printed summary and the QGIS
hints, within a few minutes. The others check the shipped files'
provenance and limits, and that errors leave no output behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.samples.demo import (
    DEMO_BUNDLE,
    DEMO_DIR,
    DEMO_SCENE,
    OUTPUT_FILES,
    ClassArea,
    DemoResult,
    format_summary,
    qgis_instructions,
)

REPO = Path(__file__).resolve().parents[2]
MB = 1_000_000


def test_make_demo_from_the_repository(tmp_path):
    out = tmp_path / "demo out"  # a space in the path: the Makefile must quote it
    t0 = time.monotonic()
    proc = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_OUT={out}"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert seconds < 300, f"make demo took {seconds:.0f} s"
    text = proc.stdout

    # The outputs, and nothing half-written beside them.
    assert sorted(p.name for p in out.iterdir()) == sorted(list(OUTPUT_FILES) + ["landcover.tif.aux.xml", "landcover.qml"])
    summary = json.loads((out / "summary.json").read_text())

    # Mask: on the scene's grid, class ids of the bundle's table (or nodata), several classes found.
    bundle = load_bundle(DEMO_BUNDLE)
    with rasterio.open(DEMO_SCENE) as scene, rasterio.open(out / "landcover.tif") as mask:
        assert (mask.width, mask.height) == (scene.width, scene.height)
        assert mask.crs == scene.crs and mask.transform == scene.transform
        assert mask.count == 1 and mask.dtypes[0] == "uint8" and mask.nodata == 255
        labels = mask.read(1)
        colours = mask.colormap(1)
        pixel_m2 = abs(scene.transform.a * scene.transform.e)
    found = set(np.unique(labels).tolist()) - {255}
    assert found <= set(range(len(bundle.classes))) and len(found) >= 3
    assert colours[found.pop()][:3] in [tuple(c.colour) for c in bundle.classes.classes]

    # Polygons: the GeoPackage layer, one class per polygon, areas adding up to the mask's.
    import geopandas as gpd

    polys = gpd.read_file(out / "landcover.gpkg", layer="landcover")
    assert len(polys) == summary["polygons"] > 0
    assert polys.crs == rasterio.open(DEMO_SCENE).crs
    for cid, group in polys.groupby("class_id"):
        assert group["area_m2"].sum() == pytest.approx((labels == cid).sum() * pixel_m2, rel=1e-6)
    areas = {a["name"]: a for a in summary["areas"]}
    assert set(areas) == {bundle.classes.names[int(c)] for c in polys["class_id"].unique()}
    assert sum(a["share"] for a in areas.values()) == pytest.approx(1.0)

    # Preview: a PNG with both panels and a legend swatch in each found class's exact colour.
    from PIL import Image

    with Image.open(out / "preview.png") as im:
        assert im.format == "PNG" and im.width > 2 * 600 and im.height >= 600
        rgb = np.asarray(im.convert("RGB"))
    legend = rgb[:, -(300 + 12):].reshape(-1, 3)  # the legend column: 300 px and its left padding
    for name in areas:
        colour = bundle.classes.classes[bundle.classes.names.index(name)].colour
        assert (legend == np.array(colour)).all(axis=1).sum() > 100, name

    # The printed summary and the way to QGIS.
    for line in ("windows:", "time:", "peak memory:", "polygons:", "area per class:"):
        assert line in text, line
    assert f"windows:      {summary['windows']} " in text
    assert f"polygons:     {summary['polygons']:,}" in text
    for name in areas:
        assert f"    {name}" in text
    assert f"outputs in {out}/:" in text
    assert "open in QGIS: drag" in text and str(out / "landcover.gpkg") in text
    assert "synthetic scenes only" in text
    assert summary["windows"] >= 1 and 0 < summary["seconds"] < 300 and summary["peak_rss_mb"] > 0

    # A second run replaces the outputs (make demo passes --overwrite) with the same mask.
    proc = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_OUT={out}"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with rasterio.open(out / "landcover.tif") as mask:
        assert np.array_equal(mask.read(1), labels)


def test_shipped_files_limits_and_provenance():
    files = [p for p in DEMO_DIR.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_size <= 25 * MB for p in files)
    bundle_bytes = sum(p.stat().st_size for p in DEMO_BUNDLE.iterdir())
    assert bundle_bytes <= 25 * MB
    assert DEMO_SCENE.stat().st_size <= 5 * MB

    bundle = load_bundle(DEMO_BUNDLE)  # schema and checksums
    m = bundle.manifest
    assert m["model"]["name"] == "lite" and m["precision"] == "fp16" and set(m["modes"]) == {"full", "g2l"}
    prov = m["provenance"]
    assert prov["source"] == "train" and prov["stages"] == ["global", "g2l", "l2g"] and prov["completed"]
    assert "glnet synth" in prov["training_data"] and "glnet synth" in prov["data"]
    assert len(prov["demo"]["glnet_commit"]) == 40
    assert prov["demo"]["train_command"].startswith("glnet train ")
    assert {"GLNet (full)", "global-only", "local-only"} <= set(prov["metrics"])

    with rasterio.open(DEMO_SCENE) as scene:
        assert scene.count == 3 and scene.crs is not None and scene.compression.name.upper() == "JPEG"
    sample = json.loads((DEMO_DIR / "sample-scene.json").read_text())
    import hashlib

    assert sample["sha256"] == hashlib.sha256(DEMO_SCENE.read_bytes()).hexdigest()
    assert sample["command"].startswith("glnet synth ")


def run_demo_cli(run_glnet, *args: str):
    return run_glnet("demo", "--quiet", *args)


def test_errors_are_one_line_and_leave_nothing(tmp_path, run_glnet):
    # A missing scene: nothing created.
    out = tmp_path / "o1"
    proc = run_demo_cli(run_glnet, "--out", str(out), "--scene", str(tmp_path / "none.tif"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"glnet: error: demo scene {tmp_path / 'none.tif'} is missing; the demo files ship in the repository "
        "(glnet_core/samples/data/): run `make demo` in a clone, or pass --model BUNDLE and --scene RASTER"]
    assert not out.exists()

    # A scene that is not a raster: fails inside the segmentation, after the output
    # folder was made; the folder the run created is gone again.
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    proc = run_demo_cli(run_glnet, "--out", str(out), "--scene", str(bad))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("glnet: error: ")
    assert not out.exists()

    # A damaged bundle: refused before anything is written.
    broken = tmp_path / "broken.glnet"
    shutil.copytree(DEMO_BUNDLE, broken)
    onnx_file = next(broken.glob("local.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    proc = run_demo_cli(run_glnet, "--out", str(out), "--model", str(broken))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "local.onnx" in proc.stderr
    assert not out.exists()

    # Existing outputs are kept without --overwrite, and an existing folder with
    # other files keeps them even when a later run fails.
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "preview.png").write_bytes(b"old")
    proc = run_demo_cli(run_glnet, "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"glnet: error: {out / 'preview.png'} already exists; pass --overwrite to replace the demo outputs"
    proc = run_demo_cli(run_glnet, "--out", str(out), "--scene", str(bad), "--overwrite")
    assert proc.returncode == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "preview.png"]  # no staging folder left
    assert (out / "preview.png").read_bytes() == b"old"

    proc = run_demo_cli(run_glnet, "--out", str(tmp_path / "no" / "such"))
    assert proc.returncode == 2 and proc.stderr.strip() == f"glnet: error: output folder {tmp_path / 'no'} does not exist"


def test_summary_text():
    r = DemoResult(
        out_dir=Path("/x/demo-output"), mask=Path("/x/demo-output/landcover.tif"), vector=Path("/x/demo-output/landcover.gpkg"),
        preview=Path("/x/demo-output/preview.png"), summary=Path("/x/demo-output/summary.json"),
        scene=Path("/x/sample-scene.tif"), bundle=Path("/x/demo-lite.glnet"), model="lite (fp16, mode full)",
        raster_size=(2048, 1024), crs="EPSG:32633", windows=6, patches=150, seconds=12.34, network_seconds=10.0,
        peak_rss_mb=321.4, polygons=1234,
        areas=[ClassArea(2, "agriculture_land", (255, 255, 0), 250_000.0, 0.75, 1000),
               ClassArea(5, "water", (0, 0, 255), 900.0, 0.25, 1)],
    )
    text = format_summary(r)
    assert text.splitlines() == [
        "glnet demo: GLNet lite (fp16, mode full) on /x/sample-scene.tif (2048 x 1024 px, EPSG:32633)",
        "  windows:      6 (150 local patches)",
        "  time:         12.3 s (network 10.0 s)",
        "  peak memory:  321 MB",
        "  polygons:     1,234",
        "  area per class:",
        "    agriculture_land      25.00 ha   75.0 %  (1,000 polygons)",
        "    water                   900 m2   25.0 %  (1 polygon)",
    ]
    hints = qgis_instructions(r)
    assert hints.startswith("outputs in /x/demo-output/:")
    assert "drag /x/sample-scene.tif, then /x/demo-output/landcover.tif and /x/demo-output/landcover.gpkg" in hints
