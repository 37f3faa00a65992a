"""Time and peak memory of `glnet vectorize` on large synthetic masks.

A mask of ``side x side`` pixels is filled with blocky land-cover regions
(cells of about 27 px with random classes and ragged edges), which gives about
100,000 regions at 10,000 x 10,000 px. Each size runs in a fresh process;
peak RSS is that process's ``VmHWM``.

Usage::

    python benchmarks/vectorize_benchmark.py [--sizes 2500,5000,10000] [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import rasterio
from affine import Affine


def make_mask(path: Path, side: int, cell: int = 27, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n = side // cell + 2
    classes = rng.integers(0, 7, (n, n)).astype(np.uint8)
    profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint8", crs="EPSG:32633", nodata=255,
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True, blockxsize=512, blockysize=512,
                   compress="deflate", BIGTIFF="IF_SAFER")
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, side, 1024):
            r1 = min(side, r0 + 1024)
            rows = np.arange(r0, r1)[:, None]
            cols = np.arange(side)[None, :]
            # Ragged cell edges: shift each row's / column's cell boundary a little.
            jr = (rows + (np.sin(cols / 7.0) * 4).astype(int)) // cell
            jc = (cols + (np.cos(rows / 5.0) * 4).astype(int)) // cell
            block = classes[np.clip(jr, 0, n - 1), np.clip(jc, 0, n - 1)]
            dst.write(block[None], window=rasterio.windows.Window(0, r0, side, r1 - r0))
    return path


def run(mask: Path, out: Path, extra: dict) -> dict:
    code = textwrap.dedent(f"""
        import json, time
        from glnet.glnet_core.products.vectorize import vectorize
        from glnet.glnet_core.formats.classes import load_class_table
        t0 = time.perf_counter()
        res = vectorize({str(mask)!r}, {str(out)!r}, classes=load_class_table("deepglobe"), overwrite=True, **{extra!r})
        dt = time.perf_counter() - t0
        hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
        print(json.dumps({{"seconds": round(dt, 1), "polygons": res.count, "peak_rss_mb": round(hwm, 1)}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2500,5000,10000")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    report: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for side in [int(s) for s in args.sizes.split(",")]:
            mask = make_mask(work / f"mask_{side}.tif", side)
            res = run(mask, work / f"poly_{side}.gpkg", {})
            res.update({"side": side, "megapixels": side * side / 1e6})
            report["rows"].append(res)
            print(f"{side} x {side}: {res['polygons']} polygons, {res['seconds']} s, peak RSS {res['peak_rss_mb']} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
