"""Adversarial inputs around fp16-gpu bundles: a wrong precision name, and quantizing a float16-arithmetic bundle.

Each is one line, exit 2, nothing written, inputs unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import assert_no_parts, assert_refused, snapshot


@pytest.mark.parametrize("precision", ["fp16gpu", "FP16-GPU", "fp16-gpu ", "gpu", "fp16_gpu", ""])
def test_export_refuses_an_unknown_precision(run_glnet, tmp_path, precision):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not read: the precision is refused first")
    before = snapshot(tmp_path)
    proc = run_glnet("export", str(ckpt), "--out", str(tmp_path / "m.glnet"), "--precision", precision)
    line = assert_refused(proc, 2, "--precision")
    assert "fp16-gpu" in line  # the message lists the valid choices
    assert snapshot(tmp_path) == before
    assert_no_parts(tmp_path)


@pytest.fixture
def fake_fp16_gpu(tmp_path_factory, demo_bundle) -> Path:
    """The demo bundle with its manifest saying fp16-gpu (graphs unchanged: their checksums still hold)."""
    dest = tmp_path_factory.mktemp("fp16gpu") / "gpu.glnet"
    shutil.copytree(demo_bundle, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["precision"] = "fp16-gpu"
    m.pop("verification", None)
    (dest / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    return dest


@pytest.mark.parametrize("extra", [[], ["--windows", "1"], ["--overwrite"]], ids=["plain", "windows", "overwrite"])
def test_quantize_refuses_an_fp16_gpu_bundle(run_glnet, tmp_path, make_raster, fake_fp16_gpu, extra):
    a, b = make_raster("a.tif", seed=1), make_raster("b.tif", seed=2)
    before_bundle, before_tmp = snapshot(fake_fp16_gpu.parent), snapshot(tmp_path)
    proc = run_glnet("quantize", str(fake_fp16_gpu), "--calibration", str(a), str(b), "--out", str(tmp_path / "q.glnet"), *extra)
    line = assert_refused(proc, 2, "fp16-gpu")
    assert "fp32 or fp16" in line
    assert not (tmp_path / "q.glnet").exists()
    assert snapshot(fake_fp16_gpu.parent) == before_bundle and snapshot(tmp_path) == before_tmp
    assert_no_parts(tmp_path)
    assert_no_parts(fake_fp16_gpu.parent)


def test_quantize_with_overwrite_keeps_the_existing_output(run_glnet, tmp_path, make_raster, fake_fp16_gpu):
    """Refused before any work: an existing --out survives even with --overwrite."""
    a, b = make_raster("a.tif", seed=1), make_raster("b.tif", seed=2)
    out = tmp_path / "q.glnet"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    proc = run_glnet("quantize", str(fake_fp16_gpu), "--calibration", str(a), str(b), "--out", str(out), "--overwrite")
    assert_refused(proc, 2, "fp16-gpu")
    assert snapshot(tmp_path) == before
    assert_no_parts(tmp_path)
