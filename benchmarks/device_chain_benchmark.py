"""Time per window of the host chain and the device-resident chain (glnet segment --chain), same sessions.

Both chains run the same onnxruntime sessions of a bundle on the same
windows; each figure is the median over ``--repeats`` runs of one window,
with the stage split of :class:`glnet_core.engine.predictor.WindowTimes`.
On a machine without a GPU the device chain binds its values on the CPU:
the figures then measure the glue graphs' cost against numpy's crops and
merge, not the transfers the chain is designed to avoid on CUDA.

Usage::

    python benchmarks/device_chain_benchmark.py [--bundle DIR] [--tiny] [--repeats 5] [--threads N] [--json OUT]

``--tiny`` exports a random-weight ``tiny`` bundle (needs torch) next to the
demo bundle (the default ``--bundle``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.device_chain import make_predictor
from glnet.glnet_core.engine.predictor import WindowTimes
from glnet.glnet_core.engine.runtime import open_bundle_sessions

HERE = Path(__file__).resolve().parent

DEMO = HERE.parent / "glnet_core" / "samples" / "data" / "demo-lite.glnet"


def _tiny_bundle(folder: Path) -> Path:
    import torch

    from glnet.export.onnx_export import export_bundle
    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.models.checkpoint import Checkpoint
    from glnet.models.config import get_config
    from glnet.models.glnet import GLNet

    torch.manual_seed(0)
    model = GLNet(get_config("tiny"), 7).eval()
    ckpt = Checkpoint(model, load_class_table("deepglobe"), resolution_m=None, provenance={"source": "benchmark"})
    export_bundle(ckpt, folder / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    return folder / "tiny.glnet"


def measure(bundle_path: Path, repeats: int, threads: Optional[int], batch: int) -> List[Dict[str, Any]]:
    """Median seconds per window (and per stage) of each chain, mode and window size of one bundle."""
    b = load_bundle(bundle_path)
    sessions, providers = open_bundle_sessions(b, device="cpu", threads=threads)
    predictors = {c: make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), c)[0]
                  for c in ("host", "device")}
    rng = np.random.default_rng(0)
    rows = []
    for size in (b.window, max(b.size_p, b.window // 2 - 10)):
        window = rng.normal(0, 1, (b.bands, size, size)).astype(np.float32)
        image_g = rng.normal(0, 1, (b.bands, b.size_g, b.size_g)).astype(np.float32)
        for mode in ("full", "g2l"):
            scores = {}
            for chain, p in predictors.items():
                p.predict(image_g, window, mode, batch)  # warm-up (first runs allocate)
                walls, stages = [], []
                for _ in range(repeats):
                    t = WindowTimes()
                    t0 = time.perf_counter()
                    scores[chain] = p.predict(image_g, window, mode, batch, t, upsample="bilinear")
                    walls.append(time.perf_counter() - t0)
                    stages.append(t)
                rows.append({
                    "bundle": b.name, "window": size, "mode": mode, "chain": chain, "batch": batch,
                    "window_s": round(statistics.median(walls), 4),
                    "global_s": round(statistics.median(s.global_s for s in stages), 4),
                    "local_s": round(statistics.median(s.local_s for s in stages), 4),
                    "aggregation_s": round(statistics.median(s.aggregation_s for s in stages), 4),
                })
            agree = float((scores["host"].argmax(0) == scores["device"].argmax(0)).mean())
            rows[-1]["agreement_with_host"] = rows[-2]["agreement_with_host"] = round(agree, 6)
    return rows


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEMO)
    ap.add_argument("--tiny", action="store_true", help="also a random-weight tiny bundle (exported to a temp dir)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bundles = [args.bundle] + ([_tiny_bundle(Path(tmp))] if args.tiny else [])
        for path in bundles:
            rows += measure(path, args.repeats, args.threads or None, args.batch)
    print(f"{'bundle':8} {'window':>6} {'mode':5} {'chain':7} {'window_s':>9} {'global':>8} {'local':>8} {'aggr':>8} agree")
    for r in rows:
        print(f"{r['bundle']:8} {r['window']:6d} {r['mode']:5} {r['chain']:7} {r['window_s']:9.3f} {r['global_s']:8.3f} "
              f"{r['local_s']:8.3f} {r['aggregation_s']:8.3f} {r['agreement_with_host']:.6f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
