"""Benchmark: GLNet in PyTorch on a CUDA GPU, one window in full mode (issue #14, "GPU measurements").

The machines these sessions may borrow have CUDA PyTorch but not
onnxruntime-gpu, so this measures the PyTorch model (the twin of the ONNX
chain, see ``models/inference.py``) rather than glnet's onnxruntime engine.
For each precision (fp32, fp16 autocast, bf16 autocast) and patch batch (1
and 6) it runs one ``--size`` x ``--size`` window (2448 px: the paper's
DeepGlobe image) through :meth:`GLNet.predict` in full mode and reports

- seconds per window (median of ``--runs`` after one warm-up run),
- megapixels per second,
- peak GPU memory (``torch.cuda.max_memory_allocated``; the paper reports
  1865 MB for GLNet on a 2448 x 2448 image),
- class agreement with the fp32 run of the same batch size.

Random weights (speed and memory do not depend on them); BatchNorm running
statistics are randomised so that classes are not near-ties. One JSON object
per line on stdout, a table on stderr.

Run on the GPU machine (about a minute for ``paper``)::

    python benchmarks/gpu_pytorch.py --json gpu.jsonl

A dry run on any CPU (small model, small window; checks the script itself)::

    python benchmarks/gpu_pytorch.py --device cpu --config tiny --size 512 --runs 1

Record the card (printed first), the date and the figures in
docs/benchmarks.md; never write a GPU figure this script did not measure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]
try:
    import glnet  # noqa: F401  (installed, as in the development .venv)
except ImportError:
    # A bare copy of the checkout (the GPU machine): the repository is the package
    # `glnet`, whatever its folder is called, so import it through a link of that name.
    import tempfile

    _link_dir = Path(tempfile.mkdtemp(prefix="glnet-import-"))
    (_link_dir / "glnet").symlink_to(REPO)
    sys.path.insert(0, str(_link_dir))

import torch  # noqa: E402

from glnet.models.config import get_config  # noqa: E402
from glnet.models.glnet import GLNet  # noqa: E402

PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def _model(config: str, device: torch.device) -> GLNet:
    torch.manual_seed(0)
    model = GLNet(get_config(config), 7)
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d) and m.running_mean is not None and m.running_var is not None:
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval().to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _run(model: GLNet, image_g: torch.Tensor, window: torch.Tensor, precision: str, batch: int,
         device: torch.device) -> torch.Tensor:
    dtype = PRECISIONS[precision]
    if dtype is None:
        return model.predict(image_g, window, mode="full", patch_batch=batch)
    with torch.autocast(device_type=device.type, dtype=dtype):
        return model.predict(image_g, window, mode="full", patch_batch=batch)


def measure(config: str, size: int, device: torch.device, runs: int, precisions: List[str],
            batches: List[int]) -> List[Dict[str, Any]]:
    """One record per (precision, batch): seconds, MP/s, peak memory, agreement with fp32."""
    model = _model(config, device)
    cfg = model.config
    gen = torch.Generator().manual_seed(2)
    window = torch.randn((1, 3, size, size), generator=gen).to(device)
    image_g = torch.nn.functional.interpolate(window, size=(cfg.size_g, cfg.size_g), mode="bilinear",
                                              align_corners=False)
    reference: Dict[int, torch.Tensor] = {}
    out: List[Dict[str, Any]] = []
    for batch in batches:
        for precision in precisions:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            _run(model, image_g, window, precision, batch, device)  # warm-up (cuDNN autotuning, allocations)
            _sync(device)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                scores = _run(model, image_g, window, precision, batch, device)
                _sync(device)
                times.append(time.perf_counter() - t0)
            classes = scores.float().argmax(dim=0)
            if precision == "fp32" or batch not in reference:
                reference.setdefault(batch, classes)
            agreement = float((classes == reference[batch]).float().mean())
            sec = statistics.median(times)
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
            out.append({"config": config, "size": size, "precision": precision, "patch_batch": batch,
                        "seconds": round(sec, 4), "mp_per_s": round(size * size / 1e6 / sec, 3),
                        "peak_gpu_mib": None if peak is None else round(peak, 1),
                        "agreement_with_fp32": round(agreement, 6), "runs": runs})
    return out


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="paper", help="model configuration (default paper)")
    p.add_argument("--size", type=int, default=2448, help="window side in pixels (default 2448)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    p.add_argument("--runs", type=int, default=3, help="timed runs per setting after one warm-up (default 3)")
    p.add_argument("--precisions", default="fp32,fp16,bf16", help="comma-separated (default fp32,fp16,bf16)")
    p.add_argument("--batches", default="1,6", help="patch batch sizes, comma-separated (default 1,6)")
    p.add_argument("--json", metavar="FILE", help="also write the records as JSON lines")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("gpu_pytorch: error: no CUDA device; use --device cpu for a dry run", file=sys.stderr)
            return 2
        props = torch.cuda.get_device_properties(device)
        print(f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}, {time.strftime('%Y-%m-%d', time.gmtime())}", file=sys.stderr)
    else:
        print(f"device: cpu (dry run), torch {torch.__version__}", file=sys.stderr)
    precisions = [s.strip() for s in args.precisions.split(",") if s.strip()]
    if device.type == "cpu":
        precisions = [q for q in precisions if q != "fp16"]  # CPU autocast has no fp16 convolutions
    records = measure(args.config, args.size, device, args.runs, precisions,
                      [int(b) for b in args.batches.split(",")])
    print(f"{'precision':>9} {'batch':>5} {'s/window':>9} {'MP/s':>7} {'peak GPU MiB':>12} {'agree':>7}", file=sys.stderr)
    for r in records:
        peak = "-" if r["peak_gpu_mib"] is None else f"{r['peak_gpu_mib']:.0f}"
        print(f"{r['precision']:>9} {r['patch_batch']:>5} {r['seconds']:>9.3f} {r['mp_per_s']:>7.2f} {peak:>12} "
              f"{r['agreement_with_fp32']:>7.4f}", file=sys.stderr)
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    sys.stdout.write(lines)
    if args.json:
        Path(args.json).write_text(lines, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
