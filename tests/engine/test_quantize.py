"""`glnet quantize`: a real tiny bundle, real GeoTIFFs, real onnxruntime quantization and sessions."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio

from glnet.export.onnx_export import export_bundle
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.quantize import INT8, FeedRecorder, float_nodes, unshare_constant_identities, weights_to_fp32
from glnet.glnet_core.engine.runtime import create_sessions
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import Checkpoint

GLNET = [sys.executable, "-m", "glnet.glnet_core.cli.main"]


def _glnet(*args) -> subprocess.CompletedProcess:
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def work(tmp_path_factory, trained_like_model, wavy_scene):
    """fp32 and fp16 tiny bundles, two calibration scenes and a held-out one (512 px: one window each)."""
    d = tmp_path_factory.mktemp("quantize")
    ckpt = Checkpoint(trained_like_model(strong_heads=False), load_class_table("deepglobe"), resolution_m=0.5, provenance={"source": "test"})
    export_bundle(ckpt, d / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    export_bundle(ckpt, d / "tiny16.glnet", precision="fp16", log=lambda *_: None, verify_windows=1)
    rasters = [wavy_scene(d / f"scene{i}.tif", 512, i) for i in range(3)]
    return d, rasters


@pytest.fixture(scope="module")
def quantized(work):
    d, rasters = work
    out = d / "tiny-int8.glnet"
    proc = _glnet("quantize", d / "tiny.glnet", "--calibration", *rasters, "--out", out, "--windows", "2", "--quiet")
    return proc, out


def test_round_trip_manifest_and_checksums(work, quantized):
    d, rasters = work
    proc, out = quantized
    assert proc.returncode == 0, proc.stderr
    assert "class agreement with the source" in proc.stdout
    b = load_bundle(out)  # schema, semantics and every graph's checksum
    assert b.precision == INT8
    q = b.quantization
    assert q is not None and 0.0 <= q["agreement"] <= 1.0
    assert set(q["modes"]) == set(b.modes)
    assert q["windows"] == 1 and q["calibration_windows"] == 2  # the last raster verifies
    assert q["source"]["sha256"] == _sha(d / "tiny.glnet" / "manifest.json")
    assert q["source"]["precision"] == "fp32"
    assert [c["name"] for c in q["calibration"]] == [r.name for r in rasters]
    assert all(c["sha256"] == _sha(r) for c, r in zip(q["calibration"], rasters))
    manifest = json.loads((out / "manifest.json").read_text())
    for name, g in manifest["graphs"].items():
        assert _sha(out / g["file"]) == g["sha256"], name
    assert "verification" not in manifest  # the source's figures (against PyTorch) are not the int8 bundle's
    assert not [p.name for p in d.iterdir() if p.name.startswith(".")]  # no part folder left


def test_warns_exactly_when_agreement_is_under_99_percent(quantized):
    proc, out = quantized
    agreement = load_bundle(out).quantization["agreement"]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == (1 if agreement < 0.99 else 0), (agreement, proc.stderr)
    assert f"{100 * agreement:.2f} %" in proc.stdout


def test_graphs_are_int8_with_float_first_conv_and_classifiers(quantized):
    _, out = quantized
    local = onnx.load(str(out / "local.onnx"))
    ops = [n.op_type for n in local.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert any(i.data_type == onnx.TensorProto.INT8 for i in local.graph.initializer)
    first = [n for n in local.graph.node if n.op_type == "Conv" and n.input[0] == "patches"]
    assert first, "the first convolution reads the patches directly (stays float)"
    meta = {p.key: p.value for p in local.metadata_props}
    assert meta["glnet.precision"] == INT8


def test_info_shows_precision_and_agreement(quantized):
    _, out = quantized
    proc = _glnet("info", out)
    assert proc.returncode == 0, proc.stderr
    assert "precision     int8" in proc.stdout
    assert "agreement" in proc.stdout


def test_segment_takes_the_int8_bundle(work, quantized, tmp_path):
    d, rasters = work
    _, out = quantized
    for bundle, mask in ((out, tmp_path / "q.tif"), (d / "tiny.glnet", tmp_path / "f.tif")):
        proc = _glnet("segment", rasters[2], "--model", bundle, "--out-mask", mask, "--quiet")
        assert proc.returncode == 0, proc.stderr
    with rasterio.open(tmp_path / "q.tif") as a, rasterio.open(tmp_path / "f.tif") as b:
        qa, fa = a.read(1), b.read(1)
    assert qa.shape == (512, 512) and qa.max() < 7
    assert (qa == fa).mean() > 0.5  # random weights agree less than trained ones; still mostly the same classes


def test_refuses_a_bundle_already_int8(work, quantized):
    d, rasters = work
    _, out = quantized
    again = d / "twice.glnet"
    proc = _glnet("quantize", out, "--calibration", *rasters, "--out", again, "--windows", "1")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("glnet: error:"), proc.stderr
    assert "already int8" in lines[0]
    assert not again.exists()


def test_existing_out_needs_overwrite(work, quantized):
    d, rasters = work
    _, out = quantized
    before = {p.name: _sha(p) for p in out.iterdir()}
    proc = _glnet("quantize", d / "tiny.glnet", "--calibration", *rasters, "--out", out, "--windows", "1")
    assert proc.returncode == 2 and proc.stderr.startswith("glnet: error: --out"), proc.stderr
    assert {p.name: _sha(p) for p in out.iterdir()} == before


def test_fp16_source(work, tmp_path):
    d, rasters = work
    out = tmp_path / "from16.glnet"
    proc = _glnet("quantize", d / "tiny16.glnet", "--calibration", rasters[0], rasters[2], "--out", out, "--windows", "1",
                  "--quiet")
    assert proc.returncode == 0, proc.stderr
    b = load_bundle(out)
    assert b.precision == INT8 and b.quantization["source"]["precision"] == "fp16"
    local = onnx.load(str(out / "local.onnx"))
    assert not any(i.data_type == onnx.TensorProto.FLOAT16 for i in local.graph.initializer)


def test_weights_to_fp32_gives_the_fp16_graphs_results(work, rng):
    d, _ = work
    path = d / "tiny16.glnet" / "global.onnx"
    proto = onnx.load(str(path))
    assert weights_to_fp32(proto) > 0
    assert not any(i.data_type == onnx.TensorProto.FLOAT16 for i in proto.graph.initializer)
    assert weights_to_fp32(proto) == 0  # nothing left to convert
    sessions, _ = create_sessions({"fp16": str(path), "fp32": proto.SerializeToString()}, "cpu")
    x = rng.random((1, 3, 128, 128), dtype=np.float32)
    a = sessions["fp16"].run(None, {"image_g": x})
    b = sessions["fp32"].run(None, {"image_g": x})
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_unshared_identities_give_the_same_results(work, rng):
    d, _ = work
    path = d / "tiny.glnet" / "local.onnx"
    proto = onnx.load(str(path))
    inits = {i.name for i in proto.graph.initializer}
    shared = sum(1 for n in proto.graph.node if n.op_type == "Identity" and n.input[0] in inits)
    assert shared > 0, "the exporter shares equal biases through Identity nodes (what this undoes)"
    assert unshare_constant_identities(proto) == shared
    assert unshare_constant_identities(proto) == 0
    onnx.checker.check_model(proto)
    assert not any(n.op_type == "Identity" and n.input[0] in {i.name for i in proto.graph.initializer}
                   for n in proto.graph.node)
    sessions, _ = create_sessions({"shared": str(path), "unshared": proto.SerializeToString()}, "cpu")
    feeds = {}
    for i in sessions["shared"].get_inputs():
        shape = [v if isinstance(v, int) else (2 if k == 0 else 8) for k, v in enumerate(i.shape)]
        feeds[i.name] = rng.random(shape, dtype=np.float32)
    for u, v in zip(sessions["shared"].run(None, feeds), sessions["unshared"].run(None, feeds)):
        np.testing.assert_array_equal(u, v)


def test_every_quantized_convolution_runs_as_an_int8_kernel(quantized, tmp_path):
    # onnxruntime fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv only where the
    # conv's bias is its own: before unshare_constant_identities most convolutions of the local
    # graph stayed float Conv on dequantized weights.
    import onnxruntime as ort

    _, out = quantized
    for graph in ("global", "local", "l2g"):
        proto = onnx.load(str(out / f"{graph}.onnx"))
        n_float = sum(1 for n in proto.graph.node if n.op_type == "Conv" and n.input[0] in {"image_g", "patches"}
                      or n.op_type == "Conv" and not any(p.op_type == "DequantizeLinear" and p.output[0] == n.input[1]
                                                         for p in proto.graph.node))
        n_convs = sum(1 for n in proto.graph.node if n.op_type == "Conv")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(tmp_path / f"{graph}.opt.onnx")
        ort.InferenceSession(str(out / f"{graph}.onnx"), opts, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(str(tmp_path / f"{graph}.opt.onnx")).graph.node]
        assert ops.count("QLinearConv") == n_convs - n_float, (graph, ops.count("QLinearConv"), n_convs, n_float)
        assert n_convs - n_float > n_float, graph


def test_float_nodes_are_first_conv_and_classifiers(work):
    d, _ = work
    proto = onnx.load(str(d / "tiny.glnet" / "global.onnx"))
    for i, n in enumerate(proto.graph.node):
        n.name = n.name or f"n{i}"
    names = set(float_nodes(proto, 7))
    weights = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    expected = {n.name for n in convs if n.input[0] == "image_g" or weights[n.input[1]][0] == 7}
    assert names == expected and any(n.input[0] == "image_g" for n in convs if n.name in names)
    assert len(names) < len(convs)


def test_feed_recorder_caps_and_passes_results(work, rng):
    d, _ = work
    sessions, _ = create_sessions({"agg": str(d / "tiny.glnet" / "aggregation_g2l.onnx")}, "cpu")
    rec = FeedRecorder(sessions["agg"], cap=4)
    for _ in range(21):
        feeds = {i.name: rng.random([1 if isinstance(s, str) and s == "N" else (s if isinstance(s, int) else 8)
                                     for s in i.shape], dtype=np.float32) for i in sessions["agg"].get_inputs()}
        out = rec.run(None, feeds)
        np.testing.assert_array_equal(out[0], sessions["agg"].run(None, feeds)[0])
    assert 2 <= len(rec.feeds) <= 4
    assert rec.get_inputs() == sessions["agg"].get_inputs() or len(rec.get_inputs()) == len(sessions["agg"].get_inputs())
