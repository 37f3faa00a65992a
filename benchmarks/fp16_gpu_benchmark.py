"""Measure fp16-gpu bundles on a trained model: class agreement with fp32, size, and CPU time per window.

No checkpoint of the shipped demo model is at hand, so its fp16 bundle's
graphs are made float32 again (``weights_to_fp32``: exact, its weights are
float16 values) and converted to float16 arithmetic as ``glnet export
--precision fp16-gpu`` converts them (``to_fp16_arithmetic``). Both go into
bundle folders under ``--work``. Then, on windows of the sample scene (the
model was not trained on it):

* argmax agreement with the fp32 graphs of the fp16 bundle, of the fp16-gpu
  bundle as onnxruntime's CPU provider runs it, and of the emulated float16
  arithmetic (``fp16_rounding_emulation``), both modes;
* the largest score magnitude (how far from float16's 65 504);
* time per full-size window for fp32, fp16 and fp16-gpu, interleaved runs,
  min and median (``--threads 1`` is steadier on a shared machine).

This is a CPU measurement: fp16-gpu is designed for CUDA. Usage::

    python benchmarks/fp16_gpu_benchmark.py --work /tmp/fp16gpu --threads 1 --repeats 7 --json out.json
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import onnx
import rasterio

from glnet.export.fp16_arithmetic import fp16_rounding_emulation, to_fp16_arithmetic
from glnet.glnet_core.engine.bundle import FP16_GPU, load_bundle, write_manifest
from glnet.glnet_core.engine.bundle_files import sha256_file
from glnet.glnet_core.engine.graph_spec import graph_io_spec
from glnet.glnet_core.engine.predictor import WindowPredictor
from glnet.glnet_core.engine.preprocess import prepare_window
from glnet.glnet_core.engine.quantize import weights_to_fp32
from glnet.glnet_core.engine.runtime import create_sessions

DATA = Path(__file__).resolve().parents[1] / "glnet_core" / "samples" / "data"


def _write_bundle(source: Any, protos: Dict[str, onnx.ModelProto], precision: str, out: Path) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest = copy.deepcopy(source.manifest)
    manifest["precision"] = precision
    manifest.pop("verification", None)  # the fp16 bundle's figures are not these bundles'
    for name, proto in protos.items():
        onnx.save(proto, str(out / f"{name}.onnx"))
        manifest["graphs"][name].update(file=f"{name}.onnx", sha256=sha256_file(out / f"{name}.onnx"),
                                        inputs=graph_io_spec(proto.graph.input), outputs=graph_io_spec(proto.graph.output))
    write_manifest(manifest, out, str(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=DATA / "demo-lite.glnet", help="an fp16 (or fp32) bundle")
    ap.add_argument("--scene", type=Path, default=DATA / "sample-scene.tif")
    ap.add_argument("--work", type=Path, required=True, help="folder for the converted bundles")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    src = load_bundle(a.bundle)
    n_classes = len(src.classes)
    fp32: Dict[str, onnx.ModelProto] = {}
    half: Dict[str, onnx.ModelProto] = {}
    for name in src.graph_names:
        proto = onnx.load(str(src.path / src.graph_file(name)))
        weights_to_fp32(proto)
        fp32[name] = proto
        half[name] = to_fp16_arithmetic(copy.deepcopy(proto), n_classes)
    b32 = _write_bundle(src, fp32, "fp32", a.work / "fp32.glnet")
    b16 = _write_bundle(src, half, FP16_GPU, a.work / "fp16-gpu.glnet")
    threads = a.threads or None
    sources = {"fp32": {n: str(b32 / f"{n}.onnx") for n in fp32},
               "fp16": {n: str(src.path / src.graph_file(n)) for n in fp32},
               "fp16-gpu": {n: str(b16 / f"{n}.onnx") for n in half},
               "emulated": {n: fp16_rounding_emulation(p).SerializeToString() for n, p in half.items()}}
    predictors = {}
    for kind, graphs in sources.items():
        sessions, _ = create_sessions(graphs, device="cpu", threads=threads)
        predictors[kind] = WindowPredictor(sessions, src.size_p, src.min_overlap, n_classes)

    with rasterio.open(a.scene) as ds:
        image = ds.read().transpose(1, 2, 0)
    w = src.window
    boxes = [(0, 0, w, w), (w, w, w, w), (w // 2, w // 3, w, w), (w // 10, w + w // 6, (w * 7) // 10, (w * 8) // 10)]
    result: Dict[str, Any] = {"bundle": str(a.bundle), "scene": str(a.scene), "machine": platform.processor() or platform.machine(),
                              "threads": a.threads, "date": time.strftime("%Y-%m-%d"), "agreement": {}, "max_abs_score": {}}
    for mode in ("full", "g2l"):
        agree = dict.fromkeys(predictors, 0)
        total, peak = 0, 0.0
        for y, x, h, wd in boxes:
            prep = prepare_window(image[y:y + h, x:x + wd], src.size_g, src.size_p, src.normalisation)
            scores = {k: p.predict(prep.image_g, prep.window, mode) for k, p in predictors.items()}
            ref = scores["fp32"].argmax(0)
            total += ref.size
            peak = max(peak, float(np.abs(scores["fp32"]).max()))
            for k in predictors:
                agree[k] += int((scores[k].argmax(0) == ref).sum())
        result["agreement"][mode] = {k: v / total for k, v in agree.items() if k != "fp32"}
        result["max_abs_score"][mode] = peak
        print(mode, {k: f"{100 * v:.4f} %" for k, v in result["agreement"][mode].items()}, f"max |score| {peak:.1f}", flush=True)

    prep = prepare_window(image[:w, :w], src.size_g, src.size_p, src.normalisation)
    timed = ("fp32", "fp16", "fp16-gpu")
    result["seconds_per_window"] = {}
    for mode in ("full", "g2l"):
        times: Dict[str, list] = {k: [] for k in timed}
        for k in timed:
            predictors[k].predict(prep.image_g, prep.window, mode)  # warm-up
        for _ in range(a.repeats):
            for k in timed:  # interleaved: load changes hit all three alike
                t = time.perf_counter()
                predictors[k].predict(prep.image_g, prep.window, mode)
                times[k].append(time.perf_counter() - t)
        result["seconds_per_window"][mode] = {k: {"min": min(v), "median": float(np.median(v))} for k, v in times.items()}
        print(mode, {k: f"min {min(v):.3f} s, median {np.median(v):.3f} s" for k, v in times.items()}, flush=True)
    result["bundle_bytes"] = {k: sum(f.stat().st_size for f in d.iterdir())
                              for k, d in (("fp32", b32), ("fp16", src.path), ("fp16-gpu", b16))}
    print("bundle bytes", result["bundle_bytes"])
    if a.json:
        a.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
