"""Benchmark: ``glnet segment`` on a huge sparse raster, where almost every window is empty.

Issue #13 ("Scale of the bookkeeping"): a 60,000 x 60,000 sparse BigTIFF with
one valid block took 150 to 240 s and wrote 1.5 GB to disk for a 4 MB mask,
because the resume state was rewritten and the part file flushed after each
of its 21,609 windows. The target is under 30 s with a tiny model and disk
traffic within 2x the output's size.

This script builds such a raster in a temporary folder (a BigTIFF, tiled 512,
DEFLATE, nodata 0, of which only one 512 x 512 block is written, so the file
stores only that block), runs ``glnet segment`` on it in a child process with
the shipped demo bundle (``demo-lite``) and ``--window 512`` (the issue's
21,609 windows), and reports:

- wall time of the child (the whole command: start-up, bundle, run, commit);
- bytes the child wrote (``write_bytes`` of ``/proc/self/io``: what reached
  the storage layer, part files, state and the final mask together), against
  the mask's size;
- writes of the resume state and windows read / classified (from
  ``--profile``).

``--checkpoint-seconds 1`` shows what checkpoints cost (each flushes the
mask's tile index and syncs; the first also writes its empty tiles).

Run::

    .venv/bin/python benchmarks/sparse_raster.py            # 60,000 px, ~1 min with set-up
    .venv/bin/python benchmarks/sparse_raster.py --size 20000 --json out.json

Nothing is left behind (the temporary folder is removed).
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

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
BLOCK = 512


def build_sparse_raster(path: Path, size: int) -> None:
    """A ``size`` x ``size`` 3-band uint8 BigTIFF with one valid block near the centre (nodata 0)."""
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    at = (size // 2) // BLOCK * BLOCK
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:BLOCK, 0:BLOCK].astype(np.float32)
    block = np.stack([np.sin(xx / 17 + k) * np.cos(yy / 11 - k) * 100 + 128 + rng.normal(0, 5, xx.shape)
                      for k in range(3)])
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", nodata=0,
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True,
                       blockxsize=BLOCK, blockysize=BLOCK, compress="deflate", bigtiff="YES", sparse_ok=True) as ds:
        ds.write(np.clip(block, 1, 255).astype(np.uint8), window=Window(at, at, BLOCK, BLOCK))


# The child: glnet segment through its own entry point, then its own I/O counters.
_CHILD = textwrap.dedent("""
    import json, sys
    from glnet.glnet_core.engine import resume
    resume.CHECKPOINT_SECONDS = float(sys.argv[2])
    from glnet.glnet_core.cli.main import main
    status = main(sys.argv[3:])
    io = {}
    try:
        with open("/proc/self/io") as f:
            io = {k: int(v) for k, v in (line.split(":") for line in f)}
    except OSError:
        pass
    with open(sys.argv[1], "w") as f:
        json.dump({"status": status, "io": io}, f)
    sys.exit(status)
""")


def run(size: int, window: int, bundle: Path, checkpoint_s: float) -> dict:
    """Build the raster, segment it in a child process, and return the measurements."""
    with tempfile.TemporaryDirectory(prefix="glnet-sparse-") as tmp:
        folder = Path(tmp)
        src, mask, prof, io_json = folder / "sparse.tif", folder / "mask.tif", folder / "profile.json", folder / "io.json"
        t = time.perf_counter()
        build_sparse_raster(src, size)
        build_s = time.perf_counter() - t
        cmd = [sys.executable, "-c", _CHILD, str(io_json), str(checkpoint_s), "segment", str(src), "--model", str(bundle),
               "--out-mask", str(mask), "--window", str(window), "--profile", str(prof), "--quiet"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"glnet segment failed ({proc.returncode}): {proc.stderr.strip()}")
        profile = json.loads(prof.read_text())
        child = json.loads(io_json.read_text())
        out_bytes = mask.stat().st_size + sum(p.stat().st_size for p in folder.glob("mask.tif.*"))
        written = child["io"].get("write_bytes")
        return {
            "raster": f"{size} x {size}",
            "input_bytes": src.stat().st_size,
            "build_s": round(build_s, 1),
            "window": window,
            "checkpoint_s": checkpoint_s,
            "windows": profile["windows"],
            "windows_read": profile.get("windows_read"),
            "windows_classified": profile.get("windows_classified"),
            "state_writes": profile.get("state_writes"),
            "wall_s": round(wall, 1),
            "segment_total_s": profile["total_s"],
            "output_bytes": out_bytes,
            "write_bytes": written,
            "write_ratio": None if written is None else round(written / out_bytes, 2),
            "peak_rss_mb": profile.get("peak_rss_mb"),
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=60000, help="raster side in pixels (default 60000)")
    parser.add_argument("--window", type=int, default=512, help="GLNet window (default 512: the issue's 21,609 windows)")
    parser.add_argument("--model", type=Path, default=DEMO_BUNDLE, help="bundle (default: the shipped demo-lite)")
    parser.add_argument("--checkpoint-seconds", type=float, default=None,
                        help="seconds between checkpoints (default: glnet's own, CHECKPOINT_SECONDS)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    from glnet.glnet_core.engine.resume import CHECKPOINT_SECONDS

    every = CHECKPOINT_SECONDS if args.checkpoint_seconds is None else args.checkpoint_seconds
    result = run(args.size, args.window, args.model, every)
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
