"""The runs ``benchmarks/bench.py`` sets beside ``glnet segment``, each a child process of its own.

``eager``
    glnet's PyTorch GLNet (:func:`glnet.models.inference.predict_window`, the
    reference the export verifies against) on the same windows ``glnet
    segment`` cuts (the engine's window loop, default margin), torch threads =
    cores, class mask written like segment's.
``tiled``
    What tile-based QGIS plugins do: one single-branch network applied tile by
    tile at full resolution. The network is the stage-1 global branch of the
    same checkpoint (its ResNet + FPN and classifier), exported to ONNX by
    :func:`export_tiled` at the patch size and run in onnxruntime on
    ``size_p`` tiles without overlap; each tile's logits (1/4 of the tile) are
    argmax'ed and repeated to the tile (nearest).

Run as ``python -m glnet.benchmarks.bench_baselines eager|tiled ...``; the
parent (:mod:`bench_runs`) measures wall time and peak RSS with ``os.wait4``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def export_tiled(ckpt_path: Path, out: Path) -> Path:
    """Write the checkpoint's stage-1 global branch as an ONNX graph for ``size_p`` tiles.

    Parameters
    ----------
    ckpt_path:
        A glnet checkpoint.
    out:
        The ``.onnx`` file to write (its folder must exist).

    Returns
    -------
    Path
        ``out``. Input ``tiles (N, C, size_p, size_p)``, output ``logits (N, n, size_p/4, size_p/4)``;
        ``out`` with suffix ``.json`` beside it holds the tile size and the normalisation, so that
        the tiled run needs no torch (and its memory is onnxruntime's alone, as in a plugin).
    """
    import torch

    from glnet.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    model = ckpt.model.eval()
    cfg = ckpt.config

    class Branch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model.forward_global(x).logits

    x = torch.zeros(1, cfg.in_channels, cfg.size_p, cfg.size_p)
    with torch.no_grad():
        torch.onnx.export(Branch(), (x,), str(out), input_names=["tiles"], output_names=["logits"],
                          dynamic_axes={"tiles": {0: "N"}, "logits": {0: "N"}}, opset_version=17, dynamo=False)
    out.with_suffix(".json").write_text(json.dumps({"size_p": cfg.size_p, "normalisation": ckpt.normalisation.to_dict()}))
    return out


def _write_mask(path: Path, like: Path):  # type: ignore[no-untyped-def]
    import rasterio

    with rasterio.open(like) as src:
        profile = dict(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint8", crs=src.crs,
                       transform=src.transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    return rasterio.open(path, "w", **profile)


def run_tiled(onnx_path: Path, raster: Path, out_mask: Path) -> None:
    """Segment ``raster`` tile by tile with the single-branch graph of :func:`export_tiled`.

    Parameters
    ----------
    onnx_path:
        The graph :func:`export_tiled` wrote (its ``.json`` beside it gives the tile size and normalisation).
    raster, out_mask:
        Input raster and the uint8 class mask to write.
    """
    import onnxruntime as ort
    import rasterio
    from rasterio.windows import Window

    from glnet.glnet_core.engine.preprocess import Normalisation

    meta = json.loads(onnx_path.with_suffix(".json").read_text())
    p, norm = int(meta["size_p"]), Normalisation.from_dict(meta["normalisation"])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _cores()
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    with rasterio.open(raster) as src, _write_mask(out_mask, raster) as dst:
        for top in range(0, src.height, p):
            for left in range(0, src.width, p):
                h, w = min(p, src.height - top), min(p, src.width - left)
                tile = np.zeros((p, p, src.count), np.uint8)
                tile[:h, :w] = src.read(window=Window(left, top, w, h)).transpose(1, 2, 0)
                logits = sess.run(None, {"tiles": norm.apply(tile)[None]})[0][0]
                r = -(-p // logits.shape[1])
                cls = np.repeat(np.repeat(logits.argmax(0).astype(np.uint8), r, 0), r, 1)[:h, :w]
                dst.write(cls, 1, window=Window(left, top, w, h))


def run_eager(ckpt_path: Path, raster: Path, mode: str, out_mask: Path) -> None:
    """Segment ``raster`` with glnet's PyTorch GLNet on the windows ``glnet segment`` cuts.

    Parameters
    ----------
    ckpt_path:
        The checkpoint the bundles were exported from.
    raster, mode, out_mask:
        Input raster, inference mode, and the uint8 class mask to write (only each window's core, as segment).
    """
    import torch

    from glnet.benchmarks.demo_model import write_window_classes
    from glnet.glnet_core.engine.segment import default_batch
    from glnet.models.checkpoint import load_checkpoint
    from glnet.models.inference import predict_window

    torch.set_num_threads(_cores())
    ckpt = load_checkpoint(ckpt_path)
    model, cfg = ckpt.model.eval(), ckpt.config
    # The patch batch glnet segment uses on the CPU, so the two differ in the implementation only.
    batch = default_batch(cfg.size_p, ["CPUExecutionProvider"])

    def classify(w, image, valid):  # type: ignore[no-untyped-def]
        classes, _ = predict_window(model, image, mode=mode, normalisation=ckpt.normalisation, patch_batch=batch)
        core = classes[w.core_in_window].copy()
        core[~valid[w.core_in_window]] = 255
        return [core]

    write_window_classes(raster, cfg.in_channels, cfg.window, ckpt.classes, classify, out_mask)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line of the child processes (see the module text)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    e = sub.add_parser("eager")
    e.add_argument("--ckpt", type=Path, required=True)
    e.add_argument("--raster", type=Path, required=True)
    e.add_argument("--mode", required=True)
    e.add_argument("--out-mask", type=Path, required=True)
    t = sub.add_parser("tiled")
    t.add_argument("--onnx", type=Path, required=True)
    t.add_argument("--raster", type=Path, required=True)
    t.add_argument("--out-mask", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.what == "eager":
        run_eager(a.ckpt, a.raster, a.mode, a.out_mask)
    else:
        run_tiled(a.onnx, a.raster, a.out_mask)
    return 0


if __name__ == "__main__":
    sys.exit(main())
