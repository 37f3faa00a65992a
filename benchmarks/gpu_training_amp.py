"""GPU check of training with mixed precision (issue #16): stage-2 steps of GLNet with and without AMP.

For a lent CUDA machine (CUDA torch and numpy, no rasterio or GDAL: the
training steps import neither, see ``models/data/samples.py``). It builds a
GLNet with random weights and a batch of in-memory windows (random pixels,
blocky labels), then runs ``--steps`` optimiser steps of stage ``g2l`` (the
local branch and aggregation; the global branch frozen, as published) twice
from the same weights: in float32, and with AMP (``torch.autocast`` float16 and
a ``GradScaler``, glnet's ``--device cuda`` default). It reports

- the losses of every step, and whether all are finite;
- the first step's gradients of the trained parameters, AMP against float32:
  relative L2 error and cosine similarity (unscaled before comparing);
- the peak GPU memory of each run (``torch.cuda.max_memory_allocated``), at
  batch ``--batch`` x sub-batch ``--sub-batch`` (the published 6 x 6; the paper
  trained on one 11 GB GTX 1080 Ti).

Exit status 1 when a loss is not finite or the gradients disagree beyond
``--max-grad-error``. One JSON object on stdout; record the card (printed
first), the date and the figures in the issue and docs; never write a GPU
figure this script did not measure.

Run on the GPU machine (a few minutes for ``paper``); a bare copy of the
checkout is the package ``glnet`` under whatever folder name, so import it
through a link of that name::

    mkdir -p /tmp/pkg && ln -sfn "$PWD" /tmp/pkg/glnet
    PYTHONPATH=/tmp/pkg python benchmarks/gpu_training_amp.py --json "$OUT/amp.json"

A dry run on any CPU (autocast is CUDA-only in glnet, so both runs are float32)::

    python benchmarks/gpu_training_amp.py --device cpu --config tiny --batch 2 --sub-batch 2 --steps 2
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import torch

from glnet.glnet_core.engine.preprocess import Normalisation
from glnet.models.config import get_config
from glnet.models.data.samples import TrainSample, make_sample
from glnet.models.glnet import GLNet
from glnet.models.training import TrainOptions, batch_backward, set_trainable

STAGE = "g2l"


def make_batch(config, n_classes: int, batch: int, window: int, seed: int) -> List[TrainSample]:
    """``batch`` windows of random pixels with blocky labels (class blocks of 64 px), as training samples."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch):
        cells = rng.integers(0, n_classes, (window // 64 + 1, window // 64 + 1))
        labels = np.kron(cells, np.ones((64, 64), dtype=np.int64))[:window, :window].astype(np.uint8)
        image = rng.integers(0, 256, (window, window, config.in_channels), dtype=np.uint8)
        samples.append(make_sample(image, labels, config, Normalisation(), f"w{i}"))
    return samples


def run(model: GLNet, samples: List[TrainSample], options: TrainOptions, device: torch.device, amp: bool, steps: int) -> Dict[str, Any]:
    """``steps`` optimiser steps of stage g2l; the losses, the first step's gradients and the peak memory."""
    params = set_trainable(model, STAGE)
    optimizer = torch.optim.Adam(params, lr=options.lr_for(STAGE), weight_decay=options.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    losses, first_grads = [], None
    t0 = time.perf_counter()
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        losses.append(batch_backward(model, samples, STAGE, options, device, scaler))
        if scaler is not None:
            scaler.unscale_(optimizer)  # compare true gradients, not scaled ones
        if step == 0:
            first_grads = torch.cat([p.grad.detach().float().flatten() for p in params if p.grad is not None]).cpu()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return {"losses": losses, "finite": all(math.isfinite(v) for v in losses), "grads": first_grads,
            "seconds_per_step": seconds / steps, "peak_gpu_memory_mib": peak}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="paper", help="network configuration (default %(default)s)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--batch", type=int, default=6, help="windows per step (default 6, published)")
    p.add_argument("--sub-batch", type=int, default=6, help="patches per local pass (default 6, published)")
    p.add_argument("--window", type=int, help="window side (default: the configuration's, 2448 for paper)")
    p.add_argument("--steps", type=int, default=3, help="optimiser steps per run (default %(default)s)")
    p.add_argument("--classes", type=int, default=7, help="classes (default 7, DeepGlobe)")
    p.add_argument("--max-grad-error", type=float, default=0.05, help="largest relative L2 error of AMP's first gradients (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_training_amp: error: no CUDA device", file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    print(f"device: {card}, torch {torch.__version__}", file=sys.stderr, flush=True)
    config = get_config(args.config)
    window = args.window or config.window
    torch.manual_seed(args.seed)
    start = GLNet(config, args.classes)
    samples = make_batch(config, args.classes, args.batch, window, args.seed)
    options = TrainOptions(stage=STAGE, batch_size=args.batch, sub_batch=args.sub_batch, device=args.device)

    results = {}
    for name, amp in (("fp32", False), ("amp", True)):
        model = copy.deepcopy(start).to(device)
        results[name] = run(model, samples, options, device, amp, args.steps)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(f"{name}: losses {', '.join(f'{v:.5f}' for v in results[name]['losses'])}", file=sys.stderr, flush=True)
    g32, g16 = results["fp32"].pop("grads"), results["amp"].pop("grads")
    rel = float((g16 - g32).norm() / g32.norm().clamp_min(1e-30))
    cos = float(torch.nn.functional.cosine_similarity(g16, g32, dim=0))
    ok = results["fp32"]["finite"] and results["amp"]["finite"] and rel <= args.max_grad_error
    record = {
        "benchmark": "gpu_training_amp",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": card,
        "torch": str(torch.__version__),
        "config": config.name,
        "window": window,
        "batch": args.batch,
        "sub_batch": args.sub_batch,
        "steps": args.steps,
        "first_step_gradient": {"relative_l2_error": rel, "cosine": cos, "parameters": int(g32.numel())},
        "runs": results,
        "ok": ok,
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
