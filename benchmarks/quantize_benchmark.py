"""Measure ``glnet quantize``: which nodes stay float, agreement with the source bundle, and speed.

For each quantization variant (the default: Conv/MatMul/Gemm quantized with
the first convolution and the classifiers in float; the same with every
Conv quantized; every operator quantized) the bundle is quantized on the
calibration rasters and verified on the held-out raster (the last one given),
and the agreement and network times of that verification are recorded. Then
the default int8 bundle and the source are timed with ``glnet segment
--profile`` on the test rasters, whole processes, in alternation (paired).

Usage::

    python benchmarks/quantize_benchmark.py --bundle glnet_core/samples/data/demo-lite.glnet \\
        --calibration cal/*.tif held_out.tif --test test/*.tif --work /tmp/qbench --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

VARIANTS: Dict[str, Dict[str, Any]] = {
    "conv-matmul, first conv + classifiers float (default)": {"operators": ("Conv", "MatMul", "Gemm"), "keep_float": True},
    "conv-matmul, every conv quantized": {"operators": ("Conv", "MatMul", "Gemm"), "keep_float": False},
    "every operator quantized": {"operators": (), "keep_float": False},
}


def _segment(bundle: Path, raster: Path, work: Path) -> Dict[str, Any]:
    prof = work / "profile.json"
    mask = work / "mask.tif"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "glnet.glnet_core.cli.main", "segment", str(raster), "--model", str(bundle),
                    "--out-mask", str(mask), "--profile", str(prof), "--overwrite", "--quiet"], check=True)
    wall = time.perf_counter() - t
    out = json.loads(prof.read_text())
    out["wall_s"] = wall
    return out


def main() -> int:
    from glnet.glnet_core.engine.quantize import quantize_bundle

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--calibration", required=True, nargs="+", type=Path)
    p.add_argument("--test", nargs="*", type=Path, default=[])
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--verify-windows", type=int, default=2)
    p.add_argument("--variants", default="all", help="'all' or 'default'")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "variants": {}, "segment": {}}
    names = list(VARIANTS) if a.variants == "all" else list(VARIANTS)[:1]
    default_out = a.work / "int8.glnet"
    for i, name in enumerate(names):
        out = default_out if i == 0 else a.work / f"variant{i}.glnet"
        t = time.perf_counter()
        r = quantize_bundle(a.bundle, a.calibration, out, windows=a.windows, verify_windows=a.verify_windows, overwrite=True,
                            **VARIANTS[name])
        report["variants"][name] = {"agreement": r.agreement, "modes": r.modes, "network_s": r.network_s,
                                    "quantize_s": time.perf_counter() - t, "pixels": r.pixels}
        print(name, json.dumps(report["variants"][name]), flush=True)
        if i:
            shutil.rmtree(out)
    for raster in a.test:
        runs: List[Dict[str, Any]] = []
        for _ in range(a.repeats):
            for label, bundle in (("source", a.bundle), ("int8", default_out)):
                prof = _segment(bundle, raster, a.work)
                runs.append({"bundle": label, "wall_s": prof["wall_s"], "network_s": prof["network_s"],
                             "total_s": prof["total_s"], "peak_rss_mb": prof["peak_rss_mb"]})
        report["segment"][raster.name] = runs
        print(raster.name, json.dumps(runs), flush=True)
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
