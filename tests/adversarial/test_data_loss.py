"""Data loss: no command ever destroys an input or a file it was not asked to replace (issue #13).

Every case runs the command line as a user would (in-process ``main`` for
speed, a subprocess where a resource limit is needed) on real GeoTIFFs, a
real bundle and real GeoPackages, and checks the contract: exit status, one
``glnet: error:`` line, no part file left, and every file that was there
before unchanged (bytes compared). The classes of the issue's "Data loss"
section, each with several cases:

1. an output that resolves to an input (same path, ``..``, a symbolic or
   hard link, a file inside the bundle folder, a folder holding the input)
   is refused with or without ``--overwrite``;
2. every file a command writes (``--profile``, ``--json``, sidecars) obeys
   ``--overwrite`` and is checked before any work;
3. the outputs of one command are pairwise distinct, checked up front, and a
   run commits all of them or none;
4. a target that is not a regular file (FIFO, device, a link to one) is
   refused even with ``--overwrite``;
5. ``--overwrite --layer X`` into a GeoPackage replaces layer X only;
   reserved layer names are refused; a failed write leaves the file as it was;
6. ``synth --overwrite`` removes only files synth wrote.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.cli.main import main
from tests.adversarial.conftest import assert_no_parts, assert_refused, snapshot

# -- helpers -------------------------------------------------------------------------


def glnet(capsys, *args) -> subprocess.CompletedProcess:
    """Run ``glnet ARGS`` in-process; returns what a subprocess would (status, stdout, stderr)."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, out.out, out.err)


def _raster(path: Path, size: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bands = [np.sin(xx / 11 + k) * np.cos(yy / 7 - k) * 100 + 128 + rng.normal(0, 5, xx.shape) for k in range(3)]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
        ds.write(np.clip(np.stack(bands), 0, 255).astype(np.uint8))
    return path


def _zones(path: Path, layer: str = "zones") -> Path:
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame({"name": ["west", "east"]},
                           geometry=[box(500000, 4999952, 500024, 5000000), box(500024, 4999952, 500048, 5000000)],
                           crs="EPSG:32633")
    gdf.to_file(path, layer=layer, driver="GPKG")
    return path


def _layers(path: Path) -> Dict[str, int]:
    import pyogrio

    return {str(name): len(pyogrio.read_dataframe(path, layer=str(name))) for name, _ in pyogrio.list_layers(path)}


def _unchanged(before: Dict[str, str], folder: Path) -> None:
    after = snapshot(folder)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, changed
    assert_no_parts(folder)


@pytest.fixture(scope="module")
def made(tmp_path_factory, demo_bundle) -> Dict[str, Path]:
    """One real segmentation (mask, its .aux.xml, confidence) and zones, made once; tests copy them."""
    base = tmp_path_factory.mktemp("made")
    src = _raster(base / "scene.tif")
    assert main(["segment", str(src), "--model", str(demo_bundle), "--out-mask", str(base / "mask.tif"),
                 "--out-confidence", str(base / "conf.tif"), "--quiet"]) == 0
    _zones(base / "zones.gpkg")
    return {"scene": src, "mask": base / "mask.tif", "conf": base / "conf.tif", "zones": base / "zones.gpkg"}


@pytest.fixture
def work(tmp_path, made) -> Path:
    """A folder with in.tif (a raster), mask.tif (+ .aux.xml), conf.tif and zones.gpkg."""
    shutil.copyfile(made["scene"], tmp_path / "in.tif")
    for name in ("mask.tif", "mask.tif.aux.xml", "conf.tif"):
        src = made["mask"].parent / name
        if src.exists():
            shutil.copyfile(src, tmp_path / name)
    shutil.copyfile(made["zones"], tmp_path / "zones.gpkg")
    return tmp_path


def _segment(capsys, bundle: Path, work: Path, *more) -> subprocess.CompletedProcess:
    return glnet(capsys, "segment", work / "in.tif", "--model", bundle, "--quiet", *more)


# -- 1. an output that resolves to an input ----------------------------------------------


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_segment_mask_onto_its_input_is_refused(capsys, demo_bundle, work, overwrite):
    before = snapshot(work)
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "in.tif", *overwrite)
    line = assert_refused(proc, contains="is the input raster")
    assert line.startswith("glnet: error: --out-mask: ")
    _unchanged(before, work)


def test_output_reaching_the_input_through_dotdot_a_symlink_or_a_hard_link(capsys, demo_bundle, work):
    (work / "sub").mkdir()
    os.symlink(work / "in.tif", work / "link.tif")
    os.link(work / "in.tif", work / "hard.tif")
    before = snapshot(work)
    for option, target in (("--out-confidence", work / "sub" / ".." / "in.tif"), ("--out-mask", work / "link.tif"),
                           ("--out-mask", work / "hard.tif")):
        args = ["--out-mask", work / "m.tif", option, target] if option != "--out-mask" else [option, target]
        proc = _segment(capsys, demo_bundle, work, *args, "--overwrite")
        assert assert_refused(proc, contains="is the input raster").startswith(f"glnet: error: {option}: ")
    _unchanged(before, work)
    assert not (work / "m.tif").exists()


def test_profile_onto_the_input_or_into_the_bundle_is_refused(capsys, demo_bundle, work):
    bundle_before = snapshot(demo_bundle)
    before = snapshot(work)
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--profile", work / "in.tif", "--overwrite")
    assert_refused(proc, contains="--profile: ")
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--profile", demo_bundle / "manifest.json",
                    "--overwrite")
    assert_refused(proc, contains="inside the model bundle")
    proc = _segment(capsys, demo_bundle, work, "--out-mask", demo_bundle / "local.onnx", "--overwrite")
    assert_refused(proc, contains="--out-mask: ")
    _unchanged(before, work)
    _unchanged(bundle_before, demo_bundle)


def test_vectorize_onto_the_mask_or_its_class_names_is_refused(capsys, work):
    before = snapshot(work)
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", work / "mask.tif", "--format", "GPKG", "--overwrite")
    assert_refused(proc, contains="--out: ")
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", work / "mask.tif.aux.xml", "--format", "GeoJSON",
                 "--overwrite")
    assert_refused(proc, contains="is the mask")
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--confidence", work / "conf.tif", "--out", work / "conf.tif",
                 "--format", "FlatGeobuf", "--overwrite")
    assert_refused(proc, contains="is the confidence raster")
    _unchanged(before, work)


def test_stats_and_evaluate_never_write_onto_what_they_read(capsys, work):
    before = snapshot(work)
    proc = glnet(capsys, "stats", work / "mask.tif", "--zones", work / "zones.gpkg", "--zone-field", "name",
                 "--out", work / "zones.gpkg", "--overwrite")
    assert_refused(proc, contains="is the zones")
    shutil.copyfile(work / "mask.tif", work / "ref.tif")
    shutil.copyfile(work / "mask.tif.aux.xml", work / "ref.tif.aux.xml")
    before = snapshot(work)
    for target, role in (("mask.tif", "the prediction"), ("ref.tif", "the reference"), ("mask.tif.aux.xml", "prediction")):
        proc = glnet(capsys, "evaluate", work / "mask.tif", work / "ref.tif", "--json", work / target, "--quiet")
        assert_refused(proc, contains=role)
    table = work / "table.json"
    table.write_text(json.dumps({"name": "t", "classes": [{"id": i, "name": f"c{i}"} for i in range(7)]}))
    before = snapshot(work)
    proc = glnet(capsys, "evaluate", work / "mask.tif", work / "ref.tif", "--classes", table, "--json", table, "--quiet")
    assert_refused(proc, contains="class table")
    _unchanged(before, work)


def test_demo_outputs_never_replace_its_scene(capsys, demo_bundle, work):
    out = work / "demo"
    out.mkdir()
    shutil.copyfile(work / "in.tif", out / "landcover.tif")  # the scene is where the mask would go
    before = snapshot(work)
    proc = glnet(capsys, "demo", "--out", out, "--scene", out / "landcover.tif", "--model", demo_bundle, "--overwrite",
                 "--quiet")
    assert_refused(proc, contains="is the scene")
    _unchanged(before, work)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    ckpt = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    assert main(["init-model", "--config", "tiny", "--out", str(ckpt)]) == 0
    return ckpt


def test_export_never_replaces_its_checkpoint(capsys, tmp_path, checkpoint):
    ckpt = tmp_path / "c.ckpt"
    shutil.copyfile(checkpoint, ckpt)
    (tmp_path / "b.glnet").mkdir()
    shutil.copyfile(checkpoint, tmp_path / "b.glnet" / "kept.ckpt")
    before = snapshot(tmp_path)
    proc = glnet(capsys, "export", ckpt, "--out", ckpt, "--overwrite", "--quiet")
    assert_refused(proc, contains="is the checkpoint")
    proc = glnet(capsys, "export", tmp_path / "b.glnet" / "kept.ckpt", "--out", tmp_path / "b.glnet", "--overwrite", "--quiet")
    assert_refused(proc, contains="holds the checkpoint")
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"name": "t", "classes": [{"id": i, "name": f"c{i}"} for i in range(3)]}))
    before = snapshot(tmp_path)
    proc = glnet(capsys, "init-model", "--config", "tiny", "--classes", table, "--out", table, "--overwrite")
    assert_refused(proc, contains="is the class table")
    _unchanged(before, tmp_path)


def test_train_never_writes_its_checkpoint_onto_what_it_reads(capsys, tmp_path, checkpoint):
    data = tmp_path / "data"
    assert glnet(capsys, "synth", "--out", data, "--n", 2, "--size", 64, "--quiet").returncode == 0
    init = tmp_path / "init.ckpt"
    shutil.copyfile(checkpoint, init)
    before = snapshot(tmp_path)
    proc = glnet(capsys, "train", "--data", data, "--config", "tiny", "--out", data / "images" / "synth_00000.tif",
                 "--overwrite")
    assert_refused(proc, contains="is a training image")
    proc = glnet(capsys, "train", "--data", data, "--config", "tiny", "--out", data / "masks" / "synth_00001.tif.aux.xml",
                 "--overwrite")
    assert_refused(proc, contains="training mask")
    proc = glnet(capsys, "train", "--data", data, "--init", init, "--out", init, "--overwrite")
    assert_refused(proc, contains="is the --init checkpoint")
    _unchanged(before, tmp_path)


# -- 2. every file obeys --overwrite and is checked before any work ---------------------------


def test_profile_obeys_overwrite_and_is_checked_before_the_mask_is_written(capsys, demo_bundle, work):
    (work / "p.json").write_text("{\"mine\": 1}\n")
    (work / "folder").mkdir()
    before = snapshot(work)
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--profile", work / "p.json")
    assert_refused(proc, contains="--profile: ")
    for profile in (work / "folder", work / "missing" / "p.json"):
        proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--profile", profile, "--overwrite")
        assert_refused(proc, contains="--profile: ")
    _unchanged(before, work)
    assert not (work / "m.tif").exists() and not (work / "m.tif.aux.xml").exists()
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--profile", work / "p.json", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert "total_s" in json.loads((work / "p.json").read_text())


def test_a_resumed_run_still_checks_its_profile_and_its_inputs(tmp_path):
    """--resume skips the rasters' target checks (their parts are reopened), never the others."""
    from glnet.glnet_core.engine.options import OutputOptions
    from glnet.glnet_core.errors import OutputPathError
    from glnet.glnet_core.formats.output_plan import InputSource, OutputTarget

    (tmp_path / "p.json").write_text("{}")
    out = OutputOptions(tmp_path / "m.tif", resume=True, side_outputs=[OutputTarget(tmp_path / "p.json", "--profile")])
    with pytest.raises(OutputPathError, match=r"^--profile: .* already exists"):
        out.check()
    with pytest.raises(OutputPathError, match=r"^--out-mask: .* is the input raster"):
        OutputOptions(tmp_path / "in.tif", resume=True).check(inputs=[InputSource(tmp_path / "in.tif", "the input raster")])


def test_an_existing_sidecar_obeys_overwrite(capsys, demo_bundle, work):
    (work / "new.tif.aux.xml").write_text("<PAMDataset><!-- the user's --></PAMDataset>\n")
    (work / "poly.dbf").write_bytes(b"the user's table")
    before = snapshot(work)
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "new.tif")
    assert_refused(proc, contains="new.tif.aux.xml")
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", work / "poly.shp")
    assert_refused(proc, contains="poly.dbf")
    _unchanged(before, work)
    assert not (work / "new.tif").exists() and not (work / "poly.shp").exists()


def test_evaluate_json_is_not_replaced_without_overwrite(capsys, work):
    shutil.copyfile(work / "mask.tif", work / "ref.tif")
    shutil.copyfile(work / "mask.tif.aux.xml", work / "ref.tif.aux.xml")
    (work / "r.json").write_text("my notes\n")
    before = snapshot(work)
    proc = glnet(capsys, "evaluate", work / "mask.tif", work / "ref.tif", "--json", work / "r.json", "--quiet")
    assert_refused(proc, contains="already exists")
    _unchanged(before, work)
    proc = glnet(capsys, "evaluate", work / "mask.tif", work / "ref.tif", "--json", work / "new.json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((work / "new.json").read_text())["miou"] == pytest.approx(1.0)


# -- 3. outputs are pairwise distinct; all or none ----------------------------------------


@pytest.mark.parametrize(
    "pair",
    [
        ("--out-confidence", "a.gpkg", "--out-vector", "a.gpkg"),
        ("--out-confidence", "./m.tif", None, None),
        ("--profile", "m.tif.aux.xml", None, None),
        ("--out-confidence", "c.tif", "--profile", "c.tif"),
        ("--out-confidence", "linked/c.tif", "--profile", "c.tif"),
    ],
    ids=["confidence-vector", "mask-confidence", "mask-sidecar-profile", "confidence-profile", "through-a-linked-folder"],
)
def test_two_outputs_naming_one_file_are_refused_up_front(capsys, demo_bundle, work, pair):
    os.symlink(work, work / "linked")
    before = snapshot(work)
    a, pa, b, pb = pair
    args: List[object] = ["--out-mask", work / "m.tif", a, work / pa]
    if b is not None:
        args += [b, work / pb]
    proc = _segment(capsys, demo_bundle, work, *args, "--overwrite")
    line = assert_refused(proc, contains="both name")
    assert "--out-mask" in line or (a in line and b in line)
    _unchanged(before, work)
    assert sorted(p.name for p in work.iterdir()) == sorted([*before, "linked"])  # nothing written at all


def test_a_target_appearing_during_the_run_stops_it_before_anything_is_committed(demo_bundle, work):
    """All or none: the mask's target appears while the network runs; no output (polygons included) is committed."""
    from glnet.glnet_core.callbacks import Callbacks
    from glnet.glnet_core.engine.options import OutputOptions
    from glnet.glnet_core.errors import OutputPathError
    from glnet.glnet_core.products.pipeline import PolygonOptions, run_pipeline

    def appear(line: str) -> None:
        if "providers" in line:
            (work / "m.tif").write_bytes(b"someone else's file")

    with pytest.raises(OutputPathError, match="already exists"):
        run_pipeline(work / "in.tif", demo_bundle, OutputOptions(work / "m.tif", work / "c.tif"),
                     polygons=PolygonOptions(work / "p.gpkg"), callbacks=Callbacks(log=appear))
    assert (work / "m.tif").read_bytes() == b"someone else's file"
    assert not (work / "p.gpkg").exists() and not (work / "c.tif").exists()
    assert_no_parts(work)


# -- 4. targets that are not regular files ------------------------------------------------


def test_fifo_device_and_links_to_them_are_refused_even_with_overwrite(capsys, demo_bundle, work):
    os.mkfifo(work / "pipe.tif")
    os.symlink(work / "pipe.tif", work / "to-pipe.tif")
    os.symlink("/dev/null", work / "to-null.json")
    for option, target in (("--out-confidence", work / "pipe.tif"), ("--out-confidence", work / "to-pipe.tif"),
                           ("--profile", Path("/dev/null")), ("--profile", work / "to-null.json")):
        proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", option, target, "--overwrite")
        assert assert_refused(proc, contains="not a regular file").startswith(f"glnet: error: {option}: ")
    assert Path("/dev/null").is_char_device() and (work / "pipe.tif").is_fifo()
    assert not (work / "m.tif").exists()
    assert_no_parts(work)


def test_fifo_targets_of_vectorize_stats_and_evaluate(capsys, work):
    os.mkfifo(work / "p.gpkg")
    os.mkfifo(work / "s.csv")
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", work / "p.gpkg", "--overwrite")
    assert_refused(proc, contains="not a regular file")
    proc = glnet(capsys, "stats", work / "mask.tif", "--zones", work / "zones.gpkg", "--zone-field", "name",
                 "--out", work / "s.csv", "--overwrite")
    assert_refused(proc, contains="not a regular file")
    proc = glnet(capsys, "evaluate", work / "mask.tif", work / "mask.tif", "--json", "/dev/null", "--quiet")
    assert_refused(proc, contains="--json: ")
    assert (work / "p.gpkg").is_fifo() and (work / "s.csv").is_fifo()


def test_a_sidecar_that_is_a_fifo_is_refused_even_with_overwrite(capsys, demo_bundle, work):
    os.mkfifo(work / "m.tif.aux.xml")
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--overwrite")
    assert_refused(proc, contains="m.tif.aux.xml")
    assert (work / "m.tif.aux.xml").is_fifo() and not (work / "m.tif").exists()


def test_fifo_entries_of_demo_and_synth_folders_are_refused_even_with_overwrite(capsys, demo_bundle, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    os.mkfifo(demo / "summary.json")
    proc = glnet(capsys, "demo", "--out", demo, "--model", demo_bundle, "--overwrite", "--quiet")
    assert_refused(proc, contains="not a regular file")
    assert (demo / "summary.json").is_fifo() and sorted(p.name for p in demo.iterdir()) == ["summary.json"]
    data = tmp_path / "set"
    (data / "images").mkdir(parents=True)
    os.mkfifo(data / "images" / "synth_00000.tif")
    proc = glnet(capsys, "synth", "--out", data, "--n", 1, "--size", 64, "--quiet", "--overwrite")
    assert_refused(proc, contains="not a regular file")
    assert (data / "images" / "synth_00000.tif").is_fifo() and sorted(p.name for p in data.iterdir()) == ["images"]
    assert_no_parts(tmp_path)


# -- 5. GeoPackage layers ------------------------------------------------------------------


def test_vectorize_overwrite_layer_replaces_that_layer_only(capsys, work):
    gpkg = _zones(work / "mine.gpkg", layer="districts")
    assert glnet(capsys, "vectorize", work / "mask.tif", "--out", gpkg, "--layer", "landcover", "--overwrite").returncode == 0
    layers = _layers(gpkg)
    assert layers["districts"] == 2 and layers["landcover"] > 0
    # Again, replacing the layer (also when the name differs only in case): the districts stay.
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", gpkg, "--layer", "LandCover", "--overwrite",
                 "--min-area", "5")
    assert proc.returncode == 0, proc.stderr
    again = _layers(gpkg)
    assert again["districts"] == 2 and "landcover" not in again and 0 < again["LandCover"] <= layers["landcover"]
    import sqlite3

    with sqlite3.connect(gpkg) as con:
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1")}
    assert "LandCover" in styled
    assert_no_parts(work)


def test_segment_out_vector_layer_keeps_the_other_layers(capsys, demo_bundle, work):
    gpkg = _zones(work / "project.gpkg", layer="parcels")
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--out-vector", gpkg, "--layer", "lc",
                    "--overwrite")
    assert proc.returncode == 0, proc.stderr
    layers = _layers(gpkg)
    assert layers["parcels"] == 2 and layers["lc"] > 0


def test_stats_into_an_existing_geopackage_keeps_its_layers(capsys, work):
    gpkg = _zones(work / "report.gpkg", layer="districts")
    proc = glnet(capsys, "stats", work / "mask.tif", "--zones", work / "zones.gpkg", "--zone-field", "name",
                 "--out", gpkg, "--layer", "stats", "--overwrite", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert _layers(gpkg) == {"districts": 2, "stats": 2}


@pytest.mark.parametrize("name", ["layer_styles", "GPKG_contents", "gpkg_spatial_ref_sys", "sqlite_master", "rtree_x_geom",
                                  "Layer_Styles", "qgis_projects"])
def test_reserved_layer_names_are_refused(capsys, demo_bundle, work, name):
    gpkg = _zones(work / "mine.gpkg", layer="districts")
    before = snapshot(work)
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", gpkg, "--layer", name, "--overwrite")
    assert_refused(proc, contains="--layer: ")
    proc = glnet(capsys, "stats", work / "mask.tif", "--zones", work / "zones.gpkg", "--zone-field", "name",
                 "--out", gpkg, "--layer", name, "--overwrite")
    assert_refused(proc, contains="keeps for itself")
    proc = _segment(capsys, demo_bundle, work, "--out-mask", work / "m.tif", "--out-vector", gpkg, "--layer", name,
                    "--overwrite")
    assert_refused(proc, contains="keeps for itself")
    _unchanged(before, work)


def test_a_reserved_name_taken_from_the_file_name_is_refused(capsys, work):
    before = snapshot(work)
    proc = glnet(capsys, "vectorize", work / "mask.tif", "--out", work / "layer_styles.gpkg")
    assert_refused(proc, contains="taken from the file name")
    _unchanged(before, work)
    assert not (work / "layer_styles.gpkg").exists()


def _limited(limit: int):
    def set_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def test_a_failed_layer_write_leaves_the_geopackage_as_it_was(glnet_executable, work):
    """Writing the layer into the copy fails (a file-size limit, as a full disk would): exit 1, the GeoPackage intact."""
    gpkg = _zones(work / "mine.gpkg", layer="districts")
    before = snapshot(work)
    limit = gpkg.stat().st_size + 4096  # the copy fits; the new layer does not
    proc = subprocess.run([str(glnet_executable), "vectorize", str(work / "mask.tif"), "--out", str(gpkg), "--layer",
                           "landcover", "--overwrite"], capture_output=True, text=True, preexec_fn=_limited(limit),
                          timeout=300)
    assert_refused(proc, status=1, contains="cannot write")
    _unchanged(before, work)
    assert _layers(gpkg) == {"districts": 2}


# -- 6. synth --overwrite removes only its own files -------------------------------------------


def _synth(capsys, out: Path, n: int, *more) -> subprocess.CompletedProcess:
    return glnet(capsys, "synth", "--out", out, "--n", n, "--size", 64, "--quiet", *more)


def test_synth_overwrite_keeps_the_users_files_in_its_folders(capsys, tmp_path):
    out = tmp_path / "set"
    assert _synth(capsys, out, 2, "--lookalike").returncode == 0
    (out / "images" / "my-photo.tif").write_bytes(b"mine")
    (out / "masks" / "notes.txt").write_text("mine")
    (out / "README.txt").write_text("mine")
    proc = _synth(capsys, out, 1, "--overwrite", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert (out / "images" / "my-photo.tif").read_bytes() == b"mine"
    assert (out / "masks" / "notes.txt").read_text() == "mine" and (out / "README.txt").read_text() == "mine"
    # The earlier run's second scene and its look-alike maps went with it; the folder it emptied too.
    assert sorted(p.name for p in (out / "images").iterdir()) == ["my-photo.tif", "synth_00000.tif"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["notes.txt", "synth_00000.qml", "synth_00000.tif", "synth_00000.tif.aux.xml"]
    assert not (out / "lookalike").exists()
    assert json.loads((out / "scenes.json").read_text())["seed"] == 3
    assert_no_parts(tmp_path)


def test_synth_overwrite_into_a_folder_it_did_not_write(capsys, tmp_path):
    out = tmp_path / "photos"
    (out / "images").mkdir(parents=True)
    (out / "images" / "holiday.tif").write_bytes(b"mine")
    (out / "masks").mkdir()
    (out / "masks" / "holiday.tif").write_bytes(b"mine too")
    before = snapshot(out)
    proc = _synth(capsys, out, 1, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    after = snapshot(out)
    assert all(after[k] == v for k, v in before.items())  # every file of the user's is still there, unchanged


def test_a_forged_scenes_json_cannot_make_synth_delete_other_files(capsys, tmp_path):
    out = tmp_path / "set"
    assert _synth(capsys, out, 1).returncode == 0
    (tmp_path / "outside.txt").write_text("mine")
    (out / "images" / "keep.tif").write_bytes(b"mine")
    meta = json.loads((out / "scenes.json").read_text())
    meta["scenes"].append({"image": "../outside.txt", "mask": "images/keep.tif", "lookalike": "/etc/hostname"})
    (out / "scenes.json").write_text(json.dumps(meta))
    assert _synth(capsys, out, 1, "--overwrite").returncode == 0
    assert (tmp_path / "outside.txt").read_text() == "mine" and (out / "images" / "keep.tif").read_bytes() == b"mine"


def test_synth_refuses_a_file_where_its_folder_goes(capsys, tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    (out / "images").write_text("a file of the user's")
    before = snapshot(tmp_path)
    proc = _synth(capsys, out, 1, "--overwrite")
    assert_refused(proc, contains="is not a folder")
    _unchanged(before, tmp_path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
