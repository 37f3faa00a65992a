"""The device-resident chain (engine/device_chain.py, engine/glue_graphs.py) against the host chain.

Real onnxruntime sessions (CPU execution provider: the device chain then
binds its values on the CPU, through the same I/O-binding code as on CUDA) of
a tiny random-weight bundle and of the shipped demo bundle.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
from affine import Affine

from glnet.export.onnx_export import export_bundle
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.device_chain import NO_ONNX, DeviceChainPredictor, make_predictor
from glnet.glnet_core.engine.feature_ops import LocalMerger, crop_boxes
from glnet.glnet_core.engine.glue_graphs import crop_graph, divide_graph, merge_graph
from glnet.glnet_core.engine.options import EngineOptions
from glnet.glnet_core.engine.predictor import SHARED_NAMES, WindowPredictor, WindowTimes
from glnet.glnet_core.engine.runtime import cuda_provider_options, open_bundle_sessions, session_providers
from glnet.glnet_core.engine.tiling import patch_layout
from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import Checkpoint

DEMO = Path(__file__).resolve().parents[2] / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
GLNET = [sys.executable, "-m", "glnet.glnet_core"]


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory, trained_like_model) -> Path:
    d = tmp_path_factory.mktemp("dc_tiny")
    ckpt = Checkpoint(trained_like_model(), load_class_table("deepglobe"), resolution_m=None, provenance={"source": "test"})
    export_bundle(ckpt, d / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    return d / "tiny.glnet"


@pytest.fixture(scope="module")
def chains(tiny_bundle):
    """(bundle, host predictor, device predictor) over the same CPU sessions."""
    b = load_bundle(tiny_bundle)
    sessions, _ = open_bundle_sessions(b, device="cpu")
    host, h = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), "host")
    dev, d = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), "device")
    assert (h, d) == ("host", "device") and isinstance(dev, DeviceChainPredictor) and type(host) is WindowPredictor
    assert dev.device_type == "cpu"
    return b, host, dev


def _inputs(b, h: int, w: int, seed: int):
    rng = np.random.default_rng(seed)
    window = rng.normal(0, 1, (3, h, w)).astype(np.float32)
    # Smooth structure on top of the noise, so classes form regions (not near-ties everywhere).
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    window += np.sin(xx / 23)[None] * 2 + np.cos(yy / 17)[None] * 2
    image_g = rng.normal(0, 1, (3, b.size_g, b.size_g)).astype(np.float32)
    return image_g, window


def _compare(host_scores: np.ndarray, dev_scores: np.ndarray) -> None:
    assert host_scores.shape == dev_scores.shape
    agree = (host_scores.argmax(0) == dev_scores.argmax(0)).mean()
    assert agree >= 0.9999, agree
    scale = float(np.abs(host_scores).max())
    np.testing.assert_allclose(dev_scores, host_scores, rtol=0, atol=1e-4 * scale + 1e-5)


# 512 x 512 is the tiny model's full window (25 patches of 128 px: batch 6 leaves a batch of 1,
# batch 4 one of 1); 300 x 200 an edge window (9 patches... and crops of other sizes); 128 x 128
# a single patch.
@pytest.mark.parametrize("mode", ["full", "g2l"])
@pytest.mark.parametrize("size", [(512, 512), (300, 200), (128, 128)])
@pytest.mark.parametrize("batch", [1, 6, 4])
def test_device_chain_gives_the_host_chain_scores(chains, mode, size, batch):
    b, host, dev = chains
    image_g, window = _inputs(b, *size, seed=size[0] + batch)
    for upsample in ("bilinear", "nearest"):
        _compare(host.predict(image_g, window, mode, batch, upsample=upsample),
                 dev.predict(image_g, window, mode, batch, upsample=upsample))


@pytest.mark.parametrize("mode", ["full", "g2l"])
def test_skip_on_patches_boxes_and_times(chains, mode):
    b, host, dev = chains
    image_g, window = _inputs(b, 512, 400, seed=7)
    layout = patch_layout(512, 400, b.size_p, b.min_overlap)
    skipped = set(layout[::3])

    def skip(box):
        return box in skipped

    calls = {"host": [], "device": []}
    times = {"host": WindowTimes(), "device": WindowTimes()}
    got = {}
    for name, p in (("host", host), ("device", dev)):
        got[name] = p.predict(image_g, window, mode, 4, times[name], lambda k, n, name=name: calls[name].append((k, n)),
                              skip, "bilinear", boxes=layout)
    _compare(got["host"], got["device"])
    assert calls["device"] == calls["host"] and calls["device"][-1] == (len(layout) - len(skipped),) * 2
    # Skipped patches get no scores: the area only they cover stays zero in both chains.
    assert np.array_equal(got["host"] == 0, got["device"] == 0)
    t = times["device"]
    assert t.global_s > 0 and t.local_s > 0 and t.aggregation_s > 0
    assert t.network_s == pytest.approx(t.global_s + t.local_s + t.aggregation_s)


def test_everything_skipped_gives_zeros_without_running(chains):
    b, _, dev = chains
    image_g, window = _inputs(b, 256, 256, seed=1)
    t = WindowTimes()
    scores = dev.predict(image_g, window, "full", 6, t, skip=lambda _b: True)
    assert scores.shape == (7, 256, 256) and not scores.any() and t.network_s == 0


def test_demo_bundle_device_chain_equals_host_chain():
    """The shipped lite bundle: a full 1024 px window, in both modes."""
    b = load_bundle(DEMO)
    sessions, _ = open_bundle_sessions(b, device="cpu")
    host, _ = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), "host")
    dev, _ = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), "device")
    image_g, window = _inputs(b, 1024, 1024, seed=3)
    for mode in ("full", "g2l"):
        _compare(host.predict(image_g, window, mode, 6, upsample="bilinear"),
                 dev.predict(image_g, window, mode, 6, upsample="bilinear"))


# ------------------------------------------------------------------ the glue graphs alone


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_crop_graph_equals_crop_boxes(rng):
    shapes = [(4, 32, 32), (6, 16, 16), (3, 32, 32)]
    names = ["a", "b", "c"]
    sess = _session(crop_graph(names, shapes, [0, 1, 0]))
    size = (700, 500)
    boxes = patch_layout(*size, 128, 16)[3:9]
    xs = [rng.normal(size=(1,) + s).astype(np.float32) for s in shapes]
    feeds = {f"x_{n}": x for n, x in zip(names, xs)}
    for g, s in ((0, (32, 32)), (1, (16, 16))):
        from glnet.glnet_core.engine.tiling import feature_box

        fb = [feature_box(bx, size, s) for bx in boxes]
        feeds[f"idx_{g}"] = np.stack([np.arange(f.row0, f.row1)[:, None] * s[1] + np.arange(f.col0, f.col1)[None]
                                      for f in fb]).astype(np.int64)
    outs = sess.run(None, feeds)
    for x, got in zip(xs, outs):
        assert np.array_equal(got, crop_boxes(x, boxes, size))


def test_merge_and_divide_graphs_equal_the_local_merger(chains, rng):
    """The device merge over two batches (merge, then merge_add) and the division equal LocalMerger's result."""
    b, _, dev = chains
    size = (512, 384)
    layout = patch_layout(*size, b.size_p, b.min_overlap)
    merger = LocalMerger(dev.global_shapes, size, layout)
    sums = None
    for part in (layout[:5], layout[5:]):
        local = [rng.normal(size=(len(part),) + s).astype(np.float32) for s in dev.local_shapes]
        merger.add(local, part)
        feeds = {"l_" + n: dev._up(x) for n, x in zip(SHARED_NAMES, local)}
        feeds.update(dev._merge_weights(part, size))
        if sums is not None:
            feeds.update({"acc_" + n: x for n, x in zip(SHARED_NAMES, sums)})
        sums = dev._bound(dev.glue["merge" if sums is None else "merge_add"], feeds, ["s_" + n for n in SHARED_NAMES])
    feeds = {"s_" + n: x for n, x in zip(SHARED_NAMES, sums)}
    feeds.update(dev._count_feeds(size, layout))
    got = dev._bound(dev.glue["divide"], feeds, ["m_" + n for n in SHARED_NAMES], to_host=True)
    for want, have in zip(merger.result(), got):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)


def test_glue_graphs_have_symbolic_batch_and_crop_sizes():
    m = crop_graph(["x"], [(2, 8, 8)], [0])
    dims = [d.dim_param or d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["N", 2, "h0", "w0"]
    for acc in (False, True):
        mm = merge_graph(["x"], [(2, 4, 4)], [(2, 8, 8)], [0], accumulate=acc)
        assert [i.name for i in mm.graph.input] == ["a_0", "b_0", "l_x"] + (["acc_x"] if acc else [])
    assert [i.name for i in divide_graph(["x"], [(2, 8, 8)], [0]).graph.input] == ["count_0", "s_x"]


# ------------------------------------------------------------------ choice and CUDA options


def test_chain_choice(chains):
    b, _, _ = chains
    sessions, _ = open_bundle_sessions(b, graphs=b.graphs_for_mode("g2l"), device="cpu")
    # auto on the CPU: the host chain (tensors are on the host anyway).
    p, chain = make_predictor(sessions, b.size_p, b.min_overlap, 7, "auto")
    assert chain == "host" and type(p) is WindowPredictor
    # A g2l-only set of sessions builds no merge graphs.
    dev, chain = make_predictor(sessions, b.size_p, b.min_overlap, 7, "device")
    assert chain == "device" and set(dev.glue) == {"crop", "crop_ps3"}
    with pytest.raises(InputError, match="--chain: unknown chain 'gpu'"):
        make_predictor(sessions, b.size_p, b.min_overlap, 7, "gpu")
    with pytest.raises(InputError, match="--chain: unknown chain 'gpu'"):
        EngineOptions(chain="gpu")
    with pytest.raises(InputError, match="--gpu-memory: must be at least 1, got 0"):
        EngineOptions(gpu_memory=0)
    assert EngineOptions(gpu_memory=2048.0).gpu_memory == 2048


def test_cuda_provider_options():
    assert cuda_provider_options() == {"arena_extend_strategy": "kSameAsRequested"}
    assert cuda_provider_options(1536) == {"arena_extend_strategy": "kSameAsRequested",
                                           "gpu_mem_limit": str(1536 * 1024 * 1024)}
    assert session_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], 100) == [
        ("CUDAExecutionProvider", {"arena_extend_strategy": "kSameAsRequested", "gpu_mem_limit": str(100 << 20)}),
        "CPUExecutionProvider",
    ]
    assert session_providers(["CPUExecutionProvider"], 100) == ["CPUExecutionProvider"]


# ------------------------------------------------------------------ the command line


def _raster(path: Path, h: int, w: int) -> Path:
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    data = np.stack([np.sin(xx / 37 + k) * np.cos(yy / 23 - k) for k in range(3)]) * 115 + 128
    data = np.clip(data + rng.normal(0, 10, data.shape), 0, 255).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
        ds.write(data)
    return path


@pytest.mark.parametrize("mode", ["full", "g2l"])
def test_segment_chain_device_equals_chain_host(tiny_bundle, tmp_path, mode):
    src = _raster(tmp_path / "in.tif", 700, 600)  # several windows of 400 px, edge windows smaller
    masks, profiles = {}, {}
    for chain in ("host", "device", "auto"):
        r = subprocess.run(GLNET + ["segment", str(src), "--model", str(tiny_bundle), "--out-mask", str(tmp_path / f"{chain}.tif"),
                                    "--mode", mode, "--window", "400", "--margin", "40", "--chain", chain,
                                    "--profile", str(tmp_path / f"{chain}.json"), "--quiet"],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        with rasterio.open(tmp_path / f"{chain}.tif") as ds:
            masks[chain] = ds.read(1)
        profiles[chain] = json.loads((tmp_path / f"{chain}.json").read_text())
    assert (masks["device"] == masks["host"]).mean() >= 0.9999
    assert np.array_equal(masks["auto"], masks["host"])
    assert [profiles[c]["chain"] for c in ("host", "device", "auto")] == ["host", "device", "host"]


NO_ONNX_MAIN = textwrap.dedent(
    """
    import sys
    sys.modules["onnx"] = None  # an install without the onnx package
    from glnet.glnet_core.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_chain_device_without_onnx_is_one_line(tiny_bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 200, 200)
    out = tmp_path / "out"
    out.mkdir()
    args = ["segment", str(src), "--model", str(tiny_bundle), "--out-mask", str(out / "m.tif")]
    r = subprocess.run([sys.executable, "-c", NO_ONNX_MAIN, *args, "--chain", "device"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [f"glnet: error: {NO_ONNX}"]
    assert list(out.iterdir()) == []
    # auto on the CPU never needs onnx.
    r = subprocess.run([sys.executable, "-c", NO_ONNX_MAIN, *args, "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "m.tif" in names and not [n for n in names if n.startswith(".")], names


def test_gpu_memory_zero_is_a_usage_error(cli_error, tiny_bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 64, 64)
    line = cli_error(["segment", str(src), "--model", str(tiny_bundle), "--out-mask", str(tmp_path / "m.tif"),
                      "--gpu-memory", "0"])
    assert line.startswith("glnet: error: --gpu-memory: must be at least 1, got 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
