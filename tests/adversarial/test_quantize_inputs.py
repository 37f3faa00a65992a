"""Adversarial inputs of `glnet quantize`: every bad input is one line, exit 2, nothing written, inputs unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import assert_no_parts, assert_refused, snapshot


@pytest.fixture
def setup(tmp_path, demo_bundle, make_raster):
    """A folder with two small rasters, and the demo bundle's snapshot to compare after."""
    a = make_raster("a.tif", seed=1)
    b = make_raster("b.tif", seed=2)
    return tmp_path, a, b, snapshot(demo_bundle.parent), snapshot(tmp_path)


def _unchanged(demo_bundle: Path, tmp_path: Path, before_bundle, before_tmp) -> None:
    assert snapshot(demo_bundle.parent) == before_bundle
    assert snapshot(tmp_path) == before_tmp
    assert_no_parts(tmp_path)
    assert_no_parts(demo_bundle.parent)


@pytest.fixture
def fake_int8(tmp_path_factory, demo_bundle) -> Path:
    """The demo bundle with its manifest saying int8 (graphs unchanged: their checksums still hold)."""
    dest = tmp_path_factory.mktemp("int8") / "int8.glnet"
    shutil.copytree(demo_bundle, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["precision"] = "int8"
    (dest / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    return dest


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--windows", "0"], "--windows"),
        (["--windows", "-3"], "--windows"),
        (["--windows", "two"], "--windows"),
        (["--windows", "1e9"], "--windows"),
        (["--verify-windows", "0"], "--verify-windows"),
        (["--threads", "0"], "--threads"),
        (["--bands", "1,x"], "--bands"),
        (["--input-range", "5,1"], "--input-range"),
    ],
    ids=["windows-0", "windows-negative", "windows-word", "windows-huge", "verify-0", "threads-0", "bands", "range"],
)
def test_bad_numbers(run_glnet, setup, demo_bundle, extra, contains):
    tmp, a, b, before_bundle, before_tmp = setup
    proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(a), str(b), "--out", str(tmp / "q.glnet"), *extra)
    assert_refused(proc, 2, contains)
    assert not (tmp / "q.glnet").exists()
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_already_int8(run_glnet, setup, demo_bundle, fake_int8):
    tmp, a, b, before_bundle, before_tmp = setup
    proc = run_glnet("quantize", str(fake_int8), "--calibration", str(a), str(b), "--out", str(tmp / "q.glnet"))
    assert_refused(proc, 2, "already int8")
    assert not (tmp / "q.glnet").exists()
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_out_exists_without_overwrite(run_glnet, setup, demo_bundle):
    tmp, a, b, before_bundle, _ = setup
    out = tmp / "q.glnet"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before_tmp = snapshot(tmp)
    proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(a), str(b), "--out", str(out))
    assert_refused(proc, 2, "--out")
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


@pytest.mark.parametrize("where", ["bundle", "inside-bundle", "raster"])
def test_out_is_an_input(run_glnet, setup, demo_bundle, where):
    tmp, a, b, before_bundle, before_tmp = setup
    out = {"bundle": demo_bundle, "inside-bundle": demo_bundle / "sub.glnet", "raster": a}[where]
    proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(a), str(b), "--out", str(out), "--overwrite")
    assert_refused(proc, 2, "--out")
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_calibration_missing_or_not_a_raster(run_glnet, setup, demo_bundle):
    tmp, a, b, before_bundle, _ = setup
    text = tmp / "notes.tif"
    text.write_text("not a raster")
    before_tmp = snapshot(tmp)
    for cal in (tmp / "missing.tif", text):
        proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(a), str(cal), "--out", str(tmp / "q.glnet"))
        assert_refused(proc, 2)
        assert not (tmp / "q.glnet").exists()
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_calibration_wrong_band_count(run_glnet, setup, demo_bundle):
    import numpy as np
    import rasterio
    from affine import Affine

    tmp, a, _, before_bundle, _ = setup
    one = tmp / "one.tif"
    with rasterio.open(one, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
        ds.write(np.zeros((1, 64, 64), np.uint8))
    before_tmp = snapshot(tmp)
    proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(one), str(a), "--out", str(tmp / "q.glnet"))
    assert_refused(proc, 2, "band")
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_no_window_left_to_verify(run_glnet, setup, demo_bundle):
    # One small raster is one window: calibrating on it leaves nothing held out.
    tmp, a, _, before_bundle, before_tmp = setup
    proc = run_glnet("quantize", str(demo_bundle), "--calibration", str(a), "--out", str(tmp / "q.glnet"), "--windows", "1")
    assert_refused(proc, 2, "--calibration")
    assert not (tmp / "q.glnet").exists()
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_damaged_source_bundle(run_glnet, setup, tmp_path_factory, demo_bundle):
    tmp, a, b, before_bundle, before_tmp = setup
    bad = tmp_path_factory.mktemp("bad") / "bad.glnet"
    shutil.copytree(demo_bundle, bad)
    with open(bad / "aggregation_g2l.onnx", "ab") as f:
        f.write(b"x")
    proc = run_glnet("quantize", str(bad), "--calibration", str(a), str(b), "--out", str(tmp / "q.glnet"))
    assert_refused(proc, 2, "sha256")
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)


def test_without_onnx_one_line_hint(setup, demo_bundle):
    tmp, a, b, before_bundle, before_tmp = setup
    code = textwrap.dedent(
        """
        import sys
        sys.modules["onnx"] = None  # an install without glnet[quantize]
        from glnet.glnet_core.cli.main import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code, "quantize", str(demo_bundle), "--calibration", str(a), str(b),
                           "--out", str(tmp / "q.glnet")], capture_output=True, text=True, timeout=120)
    assert_refused(proc, 2, "glnet[quantize]")
    _unchanged(demo_bundle, tmp, before_bundle, before_tmp)
