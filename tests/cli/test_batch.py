"""Tests of ``glnet batch``: many scenes, one mask each, failures reported and skipped, the VRT mosaic.

Real parts only: small GeoTIFF scenes written in ``tmp_path``, the shipped
demo bundle (a copy) run by onnxruntime, a truncated TIFF as the broken
scene, real processes interrupted with SIGINT and killed with SIGKILL. Most
runs are in-process (``main()``) to keep the suite fast; the ones that signal
a process, and the Dask one, run the ``glnet`` script.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.cli.main import main
from glnet.glnet_core.formats.scene_list import expand_scenes
from glnet.glnet_core.products.batch import BatchOutputs, SceneHooks, run_batch

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
GLNET = [sys.executable, "-m", "glnet.glnet_core"]
SIZE = 96  # px: smaller than one demo patch, one window per scene


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A private copy of the demo bundle (tests may not damage the package's own)."""
    dest = tmp_path_factory.mktemp("bundle") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


def scene(path: Path, col: int = 0, row: int = 0, size: int = SIZE, seed: int = 0, crs: str = "EPSG:32633") -> Path:
    """A 3-band uint8 scene whose top-left pixel is (col, row) on one 0.5 m grid."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    data = np.clip(np.stack([np.sin(xx / 9 + k + seed) * np.cos(yy / 7 - k) * 100 + 128 + rng.normal(0, 5, xx.shape)
                             for k in range(3)]), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=crs,
                       transform=Affine(0.5, 0, 500000 + 0.5 * col, 0, -0.5, 5000000 - 0.5 * row)) as ds:
        ds.write(data)
    return path


def three_scenes(folder: Path) -> List[Path]:
    """Three scenes around a hole: a, b to its right, c below a."""
    return [scene(folder / "a.tif", 0, 0, seed=1), scene(folder / "b.tif", SIZE, 0, seed=2),
            scene(folder / "c.tif", 0, SIZE, seed=3)]


def broken_scene(path: Path, like: Path) -> Path:
    path.write_bytes(like.read_bytes()[:4000])  # a truncated TIFF: its header opens, its pixels do not
    return path


def digests(folder: Path) -> Dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def hidden(folder: Path) -> List[str]:
    """Part, lock and state files (all hidden) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def batch(capsys, *args: str) -> Tuple[int, List[str]]:
    """``glnet batch ARGS`` in this process: (exit status, stderr lines)."""
    status = main(["batch", *args])
    return status, capsys.readouterr().err.splitlines()


def errors(lines: List[str]) -> List[str]:
    return [line for line in lines if line.startswith("glnet: error: ")]


def summary(lines: List[str]) -> Dict[str, str]:
    """scene name -> its status cell, from the summary table."""
    start = next(i for i, line in enumerate(lines) if line.startswith("scene ") and line.endswith("status"))
    column = lines[start].index("status")
    out = {}
    for line in lines[start + 1:]:
        if line[:1].isdigit():  # the totals line ends the table
            break
        out[line.split()[0]] = line[column:]
    return out


def test_failures_are_reported_the_others_done_then_skipped(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    scenes = three_scenes(src)
    broken = broken_scene(src / "broken.tif", scenes[0])
    out = tmp_path / "out" / "masks"  # created, with its parent
    args = [str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out)]

    status, lines = batch(capsys, *args)
    assert status == 1
    assert len(errors(lines)) == 1 and errors(lines)[0].startswith(f"glnet: error: {broken}: "), lines
    assert "damaged or truncated" in errors(lines)[0]
    table = summary(lines)
    assert [table[n] for n in ("a.tif", "b.tif", "c.tif")] == ["done"] * 3
    assert table["broken.tif"].startswith("failed: ") and "truncated" in table["broken.tif"]
    assert lines[-1] == "4 scenes: 3 done, 0 skipped, 1 failed"
    assert sorted(digests(out)) == ["a.qml", "a.tif", "a.tif.aux.xml", "b.qml", "b.tif", "b.tif.aux.xml", "c.qml", "c.tif", "c.tif.aux.xml"]
    assert hidden(out) == []

    # Each mask is the very file `glnet segment` writes for its scene.
    ref = tmp_path / "ref"
    ref.mkdir()
    for s in scenes:
        assert main(["segment", str(s), "--model", str(bundle), "--out-mask", str(ref / s.name), "--quiet"]) == 0
    capsys.readouterr()
    first = digests(out)
    assert first == digests(ref)

    # Again: the done scenes are skipped (untouched), the broken one fails again.
    status, lines = batch(capsys, *args)
    assert status == 1 and len(errors(lines)) == 1
    table = summary(lines)
    assert [table[n] for n in ("a.tif", "b.tif", "c.tif")] == ["skipped (complete)"] * 3
    assert lines[-1] == "4 scenes: 0 done, 3 skipped, 1 failed"
    assert digests(out) == first

    broken.unlink()
    status, lines = batch(capsys, *args)
    assert status == 0 and errors(lines) == []
    assert lines[-1] == "3 scenes: 0 done, 3 skipped, 0 failed"

    # --overwrite redoes them, to the same bytes.
    status, lines = batch(capsys, *args, "--overwrite", "--quiet")
    assert status == 0 and lines == []
    assert digests(out) == first and hidden(out) == []


def test_list_file_vector_and_confidence_outputs(tmp_path, capsys, bundle):
    import geopandas

    scenes = three_scenes(tmp_path / "data")
    lst = tmp_path / "data" / "scenes.txt"
    lst.write_text(f"# two scenes by relative path, one absolute\n\na.tif\nb.tif\n\n{scenes[2]}\n", encoding="utf-8")
    out = tmp_path / "out"
    status, lines = batch(capsys, str(lst), "--model", str(bundle), "--out-dir", str(out), "--out-vector",
                          "--out-confidence", "--min-area", "2")
    assert status == 0, lines
    for stem in ("a", "b", "c"):
        assert (out / f"{stem}.tif").is_file() and (out / f"{stem}.confidence.tif").is_file()
        polygons = geopandas.read_file(out / f"{stem}.gpkg", layer=stem)
        assert len(polygons) > 0 and {"class_id", "class_name", "area_m2", "confidence"} <= set(polygons.columns)
        with rasterio.open(out / f"{stem}.confidence.tif") as ds:
            conf = ds.read(1)
        assert conf.max() <= 100
    assert hidden(out) == []
    # The outputs are complete: a second run skips them all.
    status, lines = batch(capsys, str(lst), "--model", str(bundle), "--out-dir", str(out), "--out-vector",
                          "--out-confidence", "--min-area", "2")
    assert status == 0 and lines[-1] == "3 scenes: 0 done, 3 skipped, 0 failed"


def test_bad_arguments_are_refused_before_any_work(tmp_path, cli_error, bundle):
    scene(tmp_path / "a" / "x.tif")
    scene(tmp_path / "b" / "x.tif")
    scene(tmp_path / "a" / "y.tif")
    out = tmp_path / "out"
    line = cli_error(["batch", str(tmp_path / "a" / "*.tif"), str(tmp_path / "b" / "x.tif"), "--model", str(bundle),
                      "--out-dir", str(out)])
    assert "two scenes with the name x: their outputs would collide" in line
    line = cli_error(["batch", str(tmp_path / "none" / "*.tif"), "--model", str(bundle), "--out-dir", str(out)])
    assert line.endswith("none/*.tif matches no file")
    # A scene whose mask would be another scene's raster, and a folder of masks holding the scenes themselves.
    line = cli_error(["batch", str(tmp_path / "a" / "*.tif"), "--model", str(bundle), "--out-dir", str(tmp_path / "a")])
    assert line.startswith("glnet: error: --out-dir: ") and "is the scene" in line
    # Two scenes' outputs on one name: a.confidence's mask is a's confidence raster.
    scene(tmp_path / "c" / "p.tif")
    scene(tmp_path / "c" / "p.confidence.tif")
    line = cli_error(["batch", str(tmp_path / "c" / "*.tif"), "--model", str(bundle), "--out-dir", str(out),
                      "--out-confidence"])
    assert "two scenes' outputs would both be" in line and "p.confidence.tif" in line
    line = cli_error(["batch", str(tmp_path / "a" / "*.tif"), "--model", str(bundle), "--out-dir", str(out),
                      "--out-vector", "--vector-format", "KML"])
    assert "--vector-format: unknown vector format" in line
    assert not out.exists()


def test_mosaic_is_one_layer_over_every_mask(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    scenes = three_scenes(src)
    out = tmp_path / "out"
    vrt = out / "mosaic.vrt"
    args = [str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out), "--mosaic", str(vrt)]
    # The first run writes two scenes; the mosaic of the second holds skipped ones too.
    status, _ = batch(capsys, str(src / "a.tif"), str(src / "b.tif"), "--model", str(bundle), "--out-dir", str(out))
    assert status == 0
    status, lines = batch(capsys, *args)
    assert status == 0, lines
    assert lines[-1] == f"wrote {vrt}: 3 scene(s), {2 * SIZE} x {2 * SIZE} px"
    with rasterio.open(vrt) as ds:
        mosaic = ds.read(1)
        assert ds.nodata == 255 and ds.crs.to_epsg() == 32633
        assert ds.transform == Affine(0.5, 0, 500000, 0, -0.5, 5000000)
        colours = ds.colormap(1)
    for s, (col, row) in zip(scenes, ((0, 0), (SIZE, 0), (0, SIZE))):
        with rasterio.open(out / s.name) as m:
            assert np.array_equal(mosaic[row:row + SIZE, col:col + SIZE], m.read(1)), s.name
            # The classes' colours (a GeoTIFF palette keeps no alpha: only the VRT's unused entries are transparent).
            assert all(m.colormap(1)[i] == colours[i] for i in range(7))
    assert colours[255][3] == 0
    assert (mosaic[SIZE:, SIZE:] == 255).all()
    root = ET.parse(vrt).getroot()
    assert [c.text for c in root.find("VRTRasterBand").find("CategoryNames")][:2] == ["unknown", "urban_land"]
    assert [(e.text, e.get("relativeToVRT")) for e in root.iter("SourceFilename")] == \
        [("a.tif", "1"), ("b.tif", "1"), ("c.tif", "1")]
    assert hidden(out) == []
    # An existing mosaic is refused before any work without --overwrite, replaced with it.
    before = vrt.read_bytes()
    status, lines = batch(capsys, *args)
    assert status == 2 and lines == [f"glnet: error: --mosaic: {vrt} already exists; pass --overwrite to replace it"]
    status, lines = batch(capsys, *args, "--overwrite", "--quiet")
    assert status == 0 and vrt.read_bytes() == before


def test_mosaic_has_the_masks_style(tmp_path, capsys, bundle):
    """MOSAIC.qml beside MOSAIC.vrt lists exactly the classes, as each mask's NAME.qml does; it obeys --overwrite."""
    src = tmp_path / "scenes"
    three_scenes(src)
    out = tmp_path / "out"
    vrt = out / "mosaic.vrt"
    args = [str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out), "--mosaic", str(vrt), "--quiet"]
    status, lines = batch(capsys, *args)
    assert status == 0, lines
    style = out / "mosaic.qml"
    assert style.read_text(encoding="utf-8") == (out / "a.qml").read_text(encoding="utf-8")
    entries = ET.parse(style).getroot().find(".//colorPalette").findall("paletteEntry")
    assert [int(e.get("value")) for e in entries] == list(range(7))
    assert hidden(out) == []
    # A style in the mosaic's place is refused before any work without --overwrite; a mosaic named like a
    # scene's mask would share its NAME.qml, and is refused too.
    vrt.unlink()
    status, lines = batch(capsys, *args)
    assert status == 2 and lines == [f"glnet: error: --mosaic: {style} already exists; pass --overwrite to replace it"]
    assert not vrt.exists()
    status, lines = batch(capsys, *args[:-3], "--mosaic", str(out / "a.vrt"), "--overwrite", "--quiet")
    assert status == 2 and len(lines) == 1 and "a.qml" in lines[0] and "--mosaic" in lines[0], lines
    assert not (out / "a.vrt").exists()


def test_mosaic_of_scenes_in_two_crs_is_refused_before_any_work(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    scene(src / "a.tif")
    other = scene(src / "b.tif", crs="EPSG:32632")
    out = tmp_path / "out"
    status, lines = batch(capsys, str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out),
                          "--mosaic", str(tmp_path / "m.vrt"))
    assert status == 2
    assert lines == [f"glnet: error: --mosaic: {other} is in EPSG:32632, not in EPSG:32633 as {src / 'a.tif'}; "
                     "a mosaic needs one CRS"]
    assert not out.exists()


def test_library_results_and_hooks(tmp_path, bundle):
    src = tmp_path / "scenes"
    scenes = three_scenes(src)
    broken_scene(src / "d.tif", scenes[0])
    started: List[Tuple[int, int, str]] = []
    ended: List[str] = []
    progress: List[int] = []

    def on_start(k, n, s):
        started.append((k, n, s.stem))
        return Callbacks(progress=lambda p: progress.append(k))

    hooks = SceneHooks(started=on_start, finished=lambda r: ended.append(r.status))
    outputs = BatchOutputs(tmp_path / "out")
    result = run_batch(expand_scenes([str(src / "*.tif")]), bundle, outputs, hooks=hooks)
    assert started == [(1, 4, "a"), (2, 4, "b"), (3, 4, "c"), (4, 4, "d")]
    assert ended == ["done", "done", "done", "failed"] == [r.status for r in result.scenes]
    assert set(progress) == {1, 2, 3}
    assert [r.windows for r in result.scenes] == [1, 1, 1, None]
    assert result.scenes[3].error is not None and "truncated" in result.scenes[3].error
    assert result.masks == [tmp_path / "out" / f"{s}.tif" for s in "abc"]
    assert result.classes.names[0] == "unknown" and result.failed


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t < timeout, f"{path} did not appear"
        time.sleep(0.01)


def test_ctrl_c_stops_the_batch_and_leaves_nothing_partial(tmp_path, bundle):
    src = tmp_path / "scenes"
    scene(src / "a.tif")
    scene(src / "b.tif", size=768, seed=4)  # 9 windows of 256 px: long enough to be interrupted
    scene(src / "c.tif")
    out = tmp_path / "out"
    proc = subprocess.Popen(GLNET + ["batch", str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out),
                                     "--window", "256", "--margin", "16"], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / ".b.tif.part", proc)
        # Mid-run, among b's windows (a signal while the mask writer creates its part is another case, the engine's).
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "glnet: error: interrupted" and "Traceback" not in err
    assert sorted(digests(out)) == ["a.qml", "a.tif", "a.tif.aux.xml"] and hidden(out) == []


def test_a_killed_scene_is_resumed_with_resume(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    scene(src / "a.tif")
    big = scene(src / "b.tif", size=400, seed=4)  # 4 windows of 256 px
    out = tmp_path / "out"
    args = [str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(out), "--window", "256", "--margin", "16"]
    proc = subprocess.Popen(GLNET + ["batch", *args], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / ".b.tif.glnet-resume.json", proc)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert (out / ".b.tif.part").is_file() and not (out / "b.tif").exists()

    status, lines = batch(capsys, *args)
    assert status == 1
    assert errors(lines) == [f"glnet: error: {big}: a killed run left its part files and resume state "
                             f"({out / '.b.tif.glnet-resume.json'}); pass --resume to continue it, or --overwrite "
                             "to start it over"]
    assert summary(lines)["a.tif"] == "skipped (complete)"
    assert (out / ".b.tif.part").is_file()  # the interrupted work is kept

    status, lines = batch(capsys, *args, "--resume")
    assert status == 0, lines
    assert summary(lines)["b.tif"] == "done (resumed)"
    assert hidden(out) == []
    ref = tmp_path / "ref.tif"
    assert main(["segment", str(big), "--model", str(bundle), "--out-mask", str(ref), "--window", "256",
                 "--margin", "16", "--quiet"]) == 0
    assert (out / "b.tif").read_bytes() == ref.read_bytes()


def test_dask_batch_writes_the_same_bytes(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    three_scenes(src)
    local, remote = tmp_path / "local", tmp_path / "dask"
    status, _ = batch(capsys, str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(local), "--quiet")
    assert status == 0
    proc = subprocess.run(GLNET + ["batch", str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(remote),
                                   "--dask", "local:2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "3 scenes: 3 done, 0 skipped, 0 failed" in proc.stderr
    assert digests(remote) == digests(local) and hidden(remote) == []


def test_scenes_at_once_on_a_cluster_give_the_same_bytes_and_still_report_failures(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    a, _b, _c = three_scenes(src)
    scene(src / "d.tif", 0, 2 * SIZE, seed=4)
    broken_scene(src / "broken.tif", a)
    local, remote = tmp_path / "local", tmp_path / "dask"
    status, _ = batch(capsys, str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(local), "--quiet")
    assert status == 1
    proc = subprocess.run(GLNET + ["batch", str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(remote),
                                   "--dask", "local:2", "--scenes-at-once", "3"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line for line in lines if line.startswith("glnet: error: ")] == [
        line for line in lines if line.startswith("glnet: error: ") and "broken.tif" in line] != []
    assert sum(line.endswith(": started") for line in lines) == 5
    assert "5 scenes: 4 done, 0 skipped, 1 failed" in proc.stderr
    table = summary(lines)
    assert list(table) == ["a.tif", "b.tif", "broken.tif", "c.tif", "d.tif"], "in scene order, whatever order they ended in"
    assert digests(remote) == digests(local) and hidden(remote) == []


def test_scenes_at_once_needs_a_cluster(tmp_path, capsys, bundle):
    src = tmp_path / "scenes"
    three_scenes(src)
    status, lines = batch(capsys, str(src / "*.tif"), "--model", str(bundle), "--out-dir", str(tmp_path / "out"),
                          "--scenes-at-once", "2")
    assert status == 2
    assert lines == ["glnet: error: --scenes-at-once needs --dask: in one process the scenes would share its cores"]
    assert not (tmp_path / "out").exists()
