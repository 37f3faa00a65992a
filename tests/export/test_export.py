"""`glnet export`: tiny checkpoints to verified bundles, through real onnx / onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from glnet.export.onnx_export import export_bundle
from glnet.export.verify import verify_bundle_dir
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.modes import MODES
from glnet.glnet_core.engine.predictor import WindowPredictor
from glnet.glnet_core.engine.preprocess import prepare_window
from glnet.glnet_core.engine.runtime import create_sessions
from glnet.glnet_core.errors import BundleError, ExportError
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from glnet.models.config import get_config
from glnet.models.glnet import GLNet

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _glnet(*args):
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, trained_like_model) -> Path:
    model = trained_like_model()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    save_checkpoint(
        Checkpoint(model, load_class_table("deepglobe"), resolution_m=0.5, provenance={"source": "test", "data": "none"}),
        path,
    )
    return path


@pytest.fixture(scope="module")
def bundle32(tiny_ckpt, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b32") / "tiny.glnet"
    export_bundle(load_checkpoint(tiny_ckpt), out, checkpoint_path=tiny_ckpt, log=lambda *_: None)
    return out


def test_fp32_bundle_verifies_both_modes(bundle32, tiny_ckpt):
    manifest = json.loads((bundle32 / "manifest.json").read_text())
    v = manifest["verification"]["fp32"]
    assert set(v["modes"]) == {"full", "g2l"}
    for mode, fig in v["modes"].items():
        assert fig["max_rel_error"] <= 1e-4, mode
        assert fig["argmax_agreement"] >= 0.999, mode
    assert manifest["precision"] == "fp32"
    assert set(manifest["graphs"]) == {"global", "local", "aggregation_g2l", "l2g", "aggregation_full"}
    assert manifest["provenance"]["checkpoint"]["name"] == "tiny.ckpt"
    assert manifest["resolution_m"] == 0.5
    assert [c["name"] for c in manifest["classes"]["classes"]][:2] == ["unknown", "urban_land"]
    # The local graph takes a dynamic patch batch and dynamic crop sizes.
    local_inputs = {i["name"]: i["shape"] for i in manifest["graphs"]["local"]["inputs"]}
    assert isinstance(local_inputs["patches"][0], str) and local_inputs["patches"][1:] == [3, 128, 128]
    assert all(isinstance(d, str) for d in local_inputs["g_c5"][2:])


def test_onnx_chain_matches_pytorch_on_an_odd_window(bundle32, tiny_ckpt):
    """The engine chain, checked here independently of export's own verification."""
    model = load_checkpoint(tiny_ckpt).model
    bundle = load_bundle(bundle32)
    sessions, providers = create_sessions({n: bundle.graph_source(n) for n in bundle.graph_names}, "cpu")
    assert providers == ["CPUExecutionProvider"]
    engine = WindowPredictor(sessions, bundle.size_p, bundle.min_overlap, len(bundle.classes))
    image = np.random.default_rng(5).integers(0, 256, (301, 77, 3), dtype=np.uint8)  # narrower than a patch
    prep = prepare_window(image, bundle.size_g, bundle.size_p, bundle.normalisation)
    for mode in ("full", "g2l"):
        with torch.no_grad():
            ref = model.predict(torch.from_numpy(prep.image_g)[None], torch.from_numpy(prep.window)[None], mode).numpy()
        got = engine.predict(prep.image_g, prep.window, mode, patch_batch=4)
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
        assert (got.argmax(0) == ref.argmax(0)).mean() >= 0.999


def test_metadata_in_every_onnx_file(bundle32):
    manifest = json.loads((bundle32 / "manifest.json").read_text())
    for name, spec in manifest["graphs"].items():
        meta = {p.key: p.value for p in onnx.load(str(bundle32 / spec["file"])).metadata_props}
        assert meta["glnet.graph"] == name
        assert meta["glnet.format"] == "glnet-bundle"
        assert meta["glnet.model"] == "tiny"
        assert int(meta["glnet.size_p"]) == manifest["size_p"] == 128
        assert json.loads(meta["glnet.classes"]) == manifest["classes"]
        assert json.loads(meta["glnet.normalisation"]) == manifest["normalisation"]
        assert meta["glnet.precision"] == "fp32"


def test_fp16_bundle_is_half_the_size_and_reports_figures(tiny_ckpt, bundle32, tmp_path):
    out = tmp_path / "tiny16.glnet"
    manifest = export_bundle(load_checkpoint(tiny_ckpt), out, precision="fp16", log=lambda *_: None)
    v = manifest["verification"]["fp16"]
    assert 0 < v["max_rel_error"] < 0.05 and v["argmax_agreement"] > 0.9
    size16 = sum(p.stat().st_size for p in out.glob("*.onnx"))
    size32 = sum(p.stat().st_size for p in bundle32.glob("*.onnx"))
    assert size16 < 0.6 * size32
    init_types = {i.data_type for i in onnx.load(str(out / "local.onnx")).graph.initializer if len(i.dims) == 4}
    assert init_types == {onnx.TensorProto.FLOAT16}


def test_g2l_only_bundle(tiny_ckpt, tmp_path):
    out = tmp_path / "g2l.glnet"
    manifest = export_bundle(load_checkpoint(tiny_ckpt), out, modes=["g2l"], log=lambda *_: None)
    assert set(manifest["graphs"]) == set(MODES["g2l"].graphs)
    assert tuple(load_bundle(out).modes) == ("g2l",)


def test_zipped_bundle_loads_and_verifies(bundle32, tiny_ckpt, tmp_path):
    z = tmp_path / "tiny.glnet.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in bundle32.iterdir():
            f.write(p, f"tiny.glnet/{p.name}")
    fig = verify_bundle_dir(z, load_checkpoint(tiny_ckpt).model, windows=1, log=lambda *_: None)
    assert fig["max_rel_error"] <= 1e-4


def test_tampered_and_truncated_files_are_refused(bundle32, tmp_path):
    import shutil

    for how in ("tamper", "truncate", "delete"):
        b = tmp_path / f"{how}.glnet"
        shutil.copytree(bundle32, b)
        f = b / "local.onnx"
        data = bytearray(f.read_bytes())
        if how == "tamper":
            data[len(data) // 2] ^= 0xFF
            f.write_bytes(bytes(data))
        elif how == "truncate":
            f.write_bytes(bytes(data[: len(data) // 2]))
        else:
            f.unlink()
        with pytest.raises(BundleError, match="local.onnx"):
            load_bundle(b)
        r = _glnet("info", b)
        assert r.returncode != 0
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("glnet: error: ") and "local.onnx" in r.stderr


def test_export_refuses_to_overwrite_and_leaves_nothing_on_failure(tiny_ckpt, bundle32, tmp_path):
    with pytest.raises(ExportError, match="already exists"):
        export_bundle(load_checkpoint(tiny_ckpt), bundle32, log=lambda *_: None)
    with pytest.raises(ExportError, match="does not exist"):
        export_bundle(load_checkpoint(tiny_ckpt), tmp_path / "missing" / "x.glnet", log=lambda *_: None)
    assert not list(tmp_path.glob(".*part*"))


def test_export_and_verify_commands(tiny_ckpt, tmp_path):
    out = tmp_path / "cli.glnet"
    r = _glnet("export", tiny_ckpt, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "relative error" in r.stdout and (out / "manifest.json").is_file()
    r = _glnet("export", "--verify", out, tiny_ckpt, "--verify-windows", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("OK: fp32")
    # A different model does not verify.
    other = tmp_path / "other.ckpt"
    torch.manual_seed(9)
    save_checkpoint(Checkpoint(GLNet(get_config("tiny"), 7), load_class_table("deepglobe")), other)
    r = _glnet("export", "--verify", out, other, "--verify-windows", "1", "--quiet")
    assert r.returncode != 0 and r.stderr.startswith("glnet: error: ")
    r = _glnet("info", out)
    assert r.returncode == 0, r.stderr
    assert "urban_land" in r.stdout and "tiny" in r.stdout
    r = _glnet("export", tiny_ckpt, "--out", out)
    assert r.returncode != 0 and "already exists" in r.stderr and "Traceback" not in r.stderr
