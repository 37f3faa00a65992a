"""The `paper` path end to end: published-layout files -> import-original -> export -> verify.

The real published DeepGlobe checkpoints cannot be downloaded here, so the
three stage files are written from a random `paper` GLNet in the published
key layout (``export_published``). The script then runs the same commands a
user runs on the real files and reports the time of each step, the bundle
size and the verification figures::

    python benchmarks/paper_bundle.py [--workdir DIR] [--precision fp32] [--windows 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from glnet.models.config import get_config
from glnet.models.glnet import GLNet
from glnet.models.published import STAGE_FILES, export_published


def _step(name: str, cmd) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "glnet.glnet_core", *map(str, cmd)], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{name} failed: {r.stderr.strip()}")
    print(f"{name}: {dt:.1f} s\n{r.stdout.strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    ap.add_argument("--windows", type=int, default=2, help="verification windows per mode")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = GLNet(get_config("paper"), 7).eval()
        paths = {}
        for stage, state in export_published(model).items():
            paths[stage] = work / STAGE_FILES[stage]
            torch.save(state, paths[stage])
        ckpt, bundle = work / "deepglobe.ckpt", work / f"deepglobe-{args.precision}.glnet"
        t_import = _step("import-original", ["import-original", "--global", paths["global"], "--g2l", paths["g2l"],
                                             "--l2g", paths["l2g"], "--classes", "deepglobe", "--out", ckpt, "--overwrite"])
        t_export = _step("export", ["export", ckpt, "--out", bundle, "--precision", args.precision,
                                    "--verify-windows", args.windows, "--overwrite"])
        manifest = json.loads((bundle / "manifest.json").read_text())
        size_mb = sum(p.stat().st_size for p in bundle.glob("*.onnx")) / 1e6
        report = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.processor() or 'cpu'}",
            "import_original_s": round(t_import, 1),
            "export_and_verify_s": round(t_export, 1),
            "bundle_mb": round(size_mb, 1),
            "verification": manifest["verification"],
        }
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
