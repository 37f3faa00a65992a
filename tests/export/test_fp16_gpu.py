"""`glnet export --precision fp16-gpu`: float16 arithmetic inside the graphs, float32 at their boundary.

Real exports of a tiny checkpoint, real onnxruntime CPU sessions, real GeoTIFFs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import onnx
import pytest
import rasterio
from onnx import TensorProto, helper, numpy_helper

from glnet.export.fp16_arithmetic import float_initializer_types, fp16_rounding_emulation, to_fp16_arithmetic
from glnet.export.onnx_export import PRECISIONS, export_bundle
from glnet.export.verify import VERIFY_LIMITS, verification_failure
from glnet.glnet_core.engine.bundle import FP16_GPU, load_bundle
from glnet.glnet_core.engine.predictor import WindowPredictor
from glnet.glnet_core.engine.preprocess import prepare_window
from glnet.glnet_core.engine.runtime import create_sessions, open_bundle_sessions
from glnet.glnet_core.errors import ExportError
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

GLNET = [sys.executable, "-m", "glnet.glnet_core"]
LIMIT = VERIFY_LIMITS[FP16_GPU][1]


def _glnet(*args) -> subprocess.CompletedProcess:
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def _sha(folder: Path) -> Dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory, trained_like_model):
    """A tiny checkpoint with trained-looking statistics, its fp32 export, and its fp16-gpu export via the CLI."""
    d = tmp_path_factory.mktemp("fp16gpu")
    model = trained_like_model()
    ckpt_path = d / "tiny.ckpt"
    save_checkpoint(Checkpoint(model, load_class_table("deepglobe"), resolution_m=0.5,
                               provenance={"source": "test", "data": "none"}), ckpt_path)
    export_bundle(load_checkpoint(ckpt_path), d / "tiny32.glnet", checkpoint_path=ckpt_path, verify_windows=1,
                  log=lambda *_: None)
    proc = _glnet("export", ckpt_path, "--out", d / "tiny16gpu.glnet", "--precision", "fp16-gpu", "--verify-windows", "1")
    return d, ckpt_path, proc


def test_cli_export_writes_an_fp16_gpu_bundle(work):
    d, _, proc = work
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"wrote {d / 'tiny16gpu.glnet'} (tiny, fp16-gpu, modes full, g2l)"), last
    assert "emulated float16 arithmetic" in last
    manifest = json.loads((d / "tiny16gpu.glnet" / "manifest.json").read_text())
    assert manifest["precision"] == "fp16-gpu"
    v = manifest["verification"]["fp16-gpu"]
    assert set(v["modes"]) == {"full", "g2l"} and set(v["fp16_emulated"]["modes"]) == {"full", "g2l"}
    for figures in (v, v["fp16_emulated"]):
        assert LIMIT <= figures["argmax_agreement"] <= 1
        # float16 rounding is visible in the scores, and small.
        assert 1e-5 < figures["max_rel_error"] < 2e-2
    assert v["providers"] == ["CPUExecutionProvider"]
    assert "fp16-gpu" in PRECISIONS


def test_graphs_compute_in_float16_between_float32_boundaries(work):
    """Float16 everywhere but the classifiers (a Conv to the 7 classes) and what follows them."""
    d, _, _ = work
    manifest = json.loads((d / "tiny16gpu.glnet" / "manifest.json").read_text())
    half_convs = 0
    for name, entry in manifest["graphs"].items():
        proto = onnx.load(str(d / "tiny16gpu.glnet" / entry["file"]))
        assert {p.key: p.value for p in proto.metadata_props}["glnet.precision"] == "fp16-gpu"
        # Every input and output float32, in the graph and in the manifest.
        for arg in list(proto.graph.input) + list(proto.graph.output):
            assert arg.type.tensor_type.elem_type == TensorProto.FLOAT, (name, arg.name)
        assert {e["dtype"] for e in entry["inputs"] + entry["outputs"]} == {"float32"}
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
        types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        types.update({t.name: t.data_type for t in proto.graph.initializer})
        types.update({o.name: o.type.tensor_type.elem_type for o in list(proto.graph.input) + list(proto.graph.output)})
        dims = {t.name: tuple(t.dims) for t in proto.graph.initializer}
        classifier_weights = set()
        convs = [n for n in proto.graph.node if n.op_type == "Conv"]
        assert convs
        for node in convs:
            want = TensorProto.FLOAT if dims[node.input[1]][0] == 7 else TensorProto.FLOAT16
            assert {types[i] for i in node.input if i} == {want}, (name, node.name)
            assert types[node.output[0]] == want
            if want == TensorProto.FLOAT:
                classifier_weights.update(i for i in node.input[1:] if i)
            else:
                half_convs += 1
        # Every other float weight is stored as float16.
        floats = float_initializer_types(proto)
        assert floats and {k for k, v in floats.items() if v == TensorProto.FLOAT} == classifier_weights, name
        assert set(floats.values()) <= {TensorProto.FLOAT, TensorProto.FLOAT16}
        resizes = [n for n in proto.graph.node if n.op_type == "Resize"]
        assert resizes and all(types[n.input[0]] == TensorProto.FLOAT16 for n in resizes), name
    assert half_convs >= 70  # the backbones and FPNs of global, local and l2g


def test_onnxruntime_cpu_runs_it_and_agrees_with_fp32(work):
    d, _, _ = work
    b32, b16 = load_bundle(d / "tiny32.glnet"), load_bundle(d / "tiny16gpu.glnet")
    assert b16.precision == FP16_GPU
    predictors = []
    for b in (b32, b16):
        sessions, providers = open_bundle_sessions(b, device="cpu")
        assert providers == ["CPUExecutionProvider"]
        predictors.append(WindowPredictor(sessions, b.size_p, b.min_overlap, len(b.classes)))
    rng = np.random.default_rng(7)  # other windows than the export's verification
    agree, total, worst = 0, 0, 0.0
    for mode in ("full", "g2l"):
        for h, w in ((512, 512), (512, 512), (300, 417), (128, 200)):
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            prep = prepare_window(image, b32.size_g, b32.size_p, b32.normalisation)
            ref = predictors[0].predict(prep.image_g, prep.window, mode)
            got = predictors[1].predict(prep.image_g, prep.window, mode)
            assert got.dtype == np.float32 and got.shape == ref.shape
            worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
            agree += int((got.argmax(0) == ref.argmax(0)).sum())
            total += h * w
    assert agree / total >= LIMIT, agree / total
    assert 0 < worst < 2e-2, worst


def test_emulation_rounds_every_tensor_to_float16(work, rng):
    d, _, _ = work
    b = load_bundle(d / "tiny16gpu.glnet")
    proto = onnx.load(str(b.path / b.graph_file("global")))
    emulated = fp16_rounding_emulation(proto)
    assert set(float_initializer_types(emulated).values()) == {TensorProto.FLOAT}
    assert TensorProto.FLOAT16 in float_initializer_types(proto).values()
    sessions, _ = create_sessions({"e": emulated.SerializeToString(), "b": str(b.path / b.graph_file("global"))}, device="cpu")
    feed = {"image_g": rng.standard_normal((1, 3, 128, 128)).astype(np.float32)}
    got, plain = sessions["e"].run(None, feed), sessions["b"].run(None, feed)
    names = [o.name for o in sessions["e"].get_outputs()]
    assert len(got) == len(plain) == 18 and names[-1] == "logits"
    for name, a, p in zip(names, got, plain):
        if name != "logits":  # the classifier's output is float32 (see to_fp16_arithmetic)
            np.testing.assert_array_equal(a, a.astype(np.float16).astype(np.float32), err_msg=name)  # float16 values only
        assert np.abs(a - p).max() <= 2e-2 * np.abs(p).max()
    assert not np.array_equal(got[-1], got[-1].astype(np.float16).astype(np.float32))
    assert any(not np.array_equal(a, p) for a, p in zip(got, plain))  # it rounds more than the CPU run does


def _resize_graph(op: str = "Resize") -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 10, 10] if op == "Resize" else [1, 2, 4, 4])
    w = numpy_helper.from_array(np.full((2, 2, 1, 1), 0.3, np.float32), "w")
    scales = numpy_helper.from_array(np.array([1, 1, 2.5, 2.5], np.float32), "scales")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"])]
    if op == "Resize":
        nodes.append(helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="linear"))
    else:
        nodes.append(helper.make_node(op, ["c"], ["y"]))
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w, scales])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_resize_scales_stay_float32_and_results_match(rng):
    proto = to_fp16_arithmetic(_resize_graph(), n_classes=7)
    onnx.checker.check_model(proto, full_check=True)
    kinds = float_initializer_types(proto)
    assert kinds == {"w": TensorProto.FLOAT16, "scales": TensorProto.FLOAT}
    sessions, _ = create_sessions({"h": proto.SerializeToString(), "f": _resize_graph().SerializeToString()}, device="cpu")
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    half, full = sessions["h"].run(None, {"x": x})[0], sessions["f"].run(None, {"x": x})[0]
    assert half.shape == full.shape == (1, 2, 10, 10) and half.dtype == np.float32
    np.testing.assert_allclose(half, full, atol=5e-3)


def _classifier_graph() -> onnx.ModelProto:
    """x -> Conv(4) -> Relu -> Conv(7 classes) -> + bias: logits of about 80 000, past float16's 65 504."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7, 4, 4])
    feat = helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 4, 4, 4])
    inits = [numpy_helper.from_array(np.ones((4, 2, 1, 1), np.float32), "w1"),
             numpy_helper.from_array(np.full((7, 4, 1, 1), 100, np.float32), "w2"),
             numpy_helper.from_array(np.full((1, 7, 1, 1), 0.5, np.float32), "bias")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"]), helper.make_node("Relu", ["c1"], ["feat"]),
             helper.make_node("Conv", ["feat", "w2"], ["c2"]), helper.make_node("Add", ["c2", "bias"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y, feat], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_classifier_and_what_follows_stay_float32():
    proto = to_fp16_arithmetic(_classifier_graph(), n_classes=7)
    onnx.checker.check_model(proto, full_check=True)
    assert float_initializer_types(proto) == {"w1": TensorProto.FLOAT16, "w2": TensorProto.FLOAT, "bias": TensorProto.FLOAT}
    x = {"x": np.full((1, 2, 4, 4), 100, np.float32)}
    emulated = fp16_rounding_emulation(proto)
    # Without the rule (no conv to 3 classes here) the logits overflow float16.
    unguarded = fp16_rounding_emulation(to_fp16_arithmetic(_classifier_graph(), n_classes=3))
    sessions, _ = create_sessions({"b": proto.SerializeToString(), "e": emulated.SerializeToString(),
                                   "u": unguarded.SerializeToString()}, device="cpu")
    for key in ("b", "e"):
        y, feat = sessions[key].run(None, x)
        np.testing.assert_allclose(y, 80000.5, rtol=1e-3)
        np.testing.assert_array_equal(feat, 200)
    assert np.isinf(sessions["u"].run(None, x)[0]).all()


@pytest.mark.parametrize("op", ["Softmax", "Sigmoid"])
def test_conversion_refuses_ops_without_a_float16_rule(op):
    with pytest.raises(ValueError, match=op):
        to_fp16_arithmetic(_resize_graph(op), n_classes=7)


def test_verification_limits_per_precision():
    good = {"max_rel_error": 1e-3, "argmax_agreement": 0.995, "fp16_emulated": {"max_rel_error": 2e-3, "argmax_agreement": 0.993}}
    assert verification_failure(good, FP16_GPU) is None
    assert verification_failure(good, "fp16") is None  # fp16: figures reported, no limit
    assert "relative error" in verification_failure(good, "fp32")
    bad = dict(good, fp16_emulated={"max_rel_error": 2e-3, "argmax_agreement": 0.95})
    assert verification_failure(bad, FP16_GPU) == "emulated float16 arithmetic: argmax agreement 95.000 % (limit 99 %)"
    assert verification_failure(dict(good, argmax_agreement=0.98), FP16_GPU).startswith("argmax agreement 98.000 %")
    overflow = dict(good, fp16_emulated=dict(good["fp16_emulated"], nonfinite_scores=12))
    assert verification_failure(overflow, FP16_GPU).startswith("emulated float16 arithmetic: 12 scores are inf or nan")


def test_export_under_the_limit_is_refused_and_leaves_nothing(work, monkeypatch, tmp_path):
    _, ckpt_path, _ = work
    out = tmp_path / "refused.glnet"
    monkeypatch.setitem(VERIFY_LIMITS, FP16_GPU, (None, 1.01))  # no export reaches 101 %
    with pytest.raises(ExportError, match=r"verification failed: argmax agreement .* \(limit 101 %\)"):
        export_bundle(load_checkpoint(ckpt_path), out, precision=FP16_GPU, modes=("g2l",), verify_windows=1,
                      log=lambda *_: None)
    assert list(tmp_path.iterdir()) == []


def test_export_verify_reports_the_emulated_figure(work):
    d, ckpt_path, _ = work
    before = _sha(d / "tiny16gpu.glnet")
    proc = _glnet("export", ckpt_path, "--verify", d / "tiny16gpu.glnet", "--verify-windows", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("OK: fp16-gpu, relative error") and "emulated float16" in line, line
    assert _sha(d / "tiny16gpu.glnet") == before


def test_segment_takes_it(work, tmp_path, wavy_scene):
    d, _, _ = work
    scene = wavy_scene(tmp_path / "scene.tif", 700, 3)
    masks = {}
    for name in ("tiny32", "tiny16gpu"):
        mask = tmp_path / f"{name}.tif"
        proc = _glnet("segment", scene, "--model", d / f"{name}.glnet", "--out-mask", mask, "--quiet")
        assert proc.returncode == 0, proc.stderr
        with rasterio.open(mask) as ds:
            masks[name] = ds.read(1)
    assert masks["tiny16gpu"].shape == (700, 700) and masks["tiny16gpu"].max() < 7
    assert (masks["tiny16gpu"] == masks["tiny32"]).mean() >= LIMIT


def test_info_shows_the_precision_and_both_figures(work):
    d, _, _ = work
    proc = _glnet("info", d / "tiny16gpu.glnet")
    assert proc.returncode == 0, proc.stderr
    assert "precision     fp16-gpu (float16 arithmetic inside the graphs" in proc.stdout
    assert "  fp16-gpu: max relative error" in proc.stdout
    assert "    emulated float16 arithmetic: max relative error" in proc.stdout


def test_quantize_refuses_it(work, tmp_path, wavy_scene):
    d, _, _ = work
    rasters = [wavy_scene(tmp_path / f"cal{i}.tif", 600, i) for i in range(2)]
    before_bundle, before_tmp = _sha(d / "tiny16gpu.glnet"), _sha(tmp_path)
    out = tmp_path / "int8.glnet"
    proc = _glnet("quantize", d / "tiny16gpu.glnet", "--calibration", *rasters, "--out", out)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("glnet: error: ") and "Traceback" not in proc.stderr
    assert "fp16-gpu" in lines[0] and "fp32 or fp16" in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".*.part"))
    assert _sha(d / "tiny16gpu.glnet") == before_bundle and _sha(tmp_path) == before_tmp
