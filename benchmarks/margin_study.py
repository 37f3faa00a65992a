"""Benchmark: what the window margin costs and what it buys (issue #14, "Window overlap").

``glnet segment`` runs GLNet window by window and writes only each window's
core, at least ``--margin`` pixels from the window's edge, so that every
written pixel saw context on all sides. The margin costs work: interior
pixels are computed ``W**2 / (W - 2m)**2`` times (1.23 for the default
``m = W / 20``; 1.56 for ``W / 10``, the default before this study). This
study measures both sides.

**Cost** (exact, no network run): for each margin, the patches the engine
runs on a square raster of ``--cost-side`` pixels (8000: 64 MP) with the
bundle's patch layout, plus one global pass per window counted as one patch
(a global image is about one patch of work for the shipped configurations),
relative to the same work at one window's rate (the patches per pixel of a
single full window). Throughput relative to one window's rate is its inverse.

**Agreement** (real runs): each scene is segmented once with the largest
margin the window allows (45 % of it: every pixel is written from a window
in which it lies near the centre, the most context the engine can give; the
reference) and once per margin, all with the bundle's window; the share of
pixels with the reference's class is reported, over the whole scene and
over the pixels within 32 px of a core edge (where seams would show).

Why not one window over the whole scene: GLNet's global branch sees the
window shrunk to ``size_g``, so a bigger window is a different input scale,
not the same prediction without seams (on the demo model, a 2048 px window
agreed with 1024 px windows on only 82 to 93 % of the pixels, at every
margin alike). ``--single-window-reference`` measures against it anyway.

Scenes: ``--scenes`` rasters, or by default two synthetic scenes of 2048 px
written by ``glnet synth`` into a temporary folder (removed at the end).

Run::

    .venv/bin/python benchmarks/margin_study.py                       # demo bundle, ~5 min on 2 cores
    .venv/bin/python benchmarks/margin_study.py --model paper.glnet --scenes a.tif --margins 0,64,128,244

One JSON object on stdout, tables on stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import rasterio

from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.tiling import window_patch_count
from glnet.glnet_core.engine.windows import default_margin, raster_windows

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "glnet_core" / "samples" / "data" / "demo-lite.glnet"
GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def work_factor(side: int, window: int, margin: int, patch: int, overlap: int) -> Dict[str, float]:
    """Patch-equivalents run on a ``side`` x ``side`` raster, relative to one full window's rate."""
    wins = raster_windows(side, side, window, margin)
    patches = sum(window_patch_count(w.rows.size, w.cols.size, patch, overlap) for w in wins)
    work = patches + len(wins)  # one global pass per window ~ one patch
    per_pixel_one_window = (window_patch_count(window, window, patch, overlap) + 1) / window**2
    factor = work / (per_pixel_one_window * side * side)
    return {"margin": margin, "windows": len(wins), "patches": patches, "work_factor": round(factor, 4),
            "relative_throughput": round(1 / factor, 4)}


def _segment(scene: Path, bundle: Path, out: Path, window: int, margin: int) -> Dict[str, Any]:
    prof = out.with_suffix(".json")
    cmd = GLNET + ["segment", str(scene), "--model", str(bundle), "--out-mask", str(out), "--window", str(window),
                   "--margin", str(margin), "--profile", str(prof), "--overwrite", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"margin_study: segment failed: {r.stderr.strip()}")
    return json.loads(prof.read_text())


def reference_margin(window: int) -> int:
    """The largest margin the study uses as its reference: 45 % of the window (less than half, as the engine requires)."""
    return int(window * 0.45)


def _near_core_edges(shape: Sequence[int], window: int, margin: int, band: int = 32) -> np.ndarray:
    """Pixels within ``band`` px of an inner core edge (where a seam would be)."""
    near = np.zeros(shape, bool)
    for w in raster_windows(shape[0], shape[1], window, margin):
        for edge in (w.core_rows.start, w.core_rows.stop):
            if 0 < edge < shape[0]:
                near[max(0, edge - band):edge + band, w.core_cols.start:w.core_cols.stop] = True
        for edge in (w.core_cols.start, w.core_cols.stop):
            if 0 < edge < shape[1]:
                near[w.core_rows.start:w.core_rows.stop, max(0, edge - band):edge + band] = True
    return near


def agreement(scenes: Sequence[Path], bundle: Path, window: int, margins: Sequence[int], tmp: Path,
              single_window: bool = False) -> List[Dict[str, Any]]:
    """Per scene and margin: windows, patches, network time, and agreement with the reference run."""
    rows: List[Dict[str, Any]] = []
    for k, scene in enumerate(scenes):
        with rasterio.open(scene) as ds:
            side = max(ds.height, ds.width)
        ref_path = tmp / f"ref{k}.tif"
        if single_window:
            ref_prof = _segment(scene, bundle, ref_path, side, 0)
        else:
            ref_prof = _segment(scene, bundle, ref_path, window, reference_margin(window))
        with rasterio.open(ref_path) as ds:
            ref = ds.read(1)
        for m in margins:
            out = tmp / f"m{k}_{m}.tif"
            prof = _segment(scene, bundle, out, window, m)
            with rasterio.open(out) as ds:
                got = ds.read(1)
            near = _near_core_edges(ref.shape, window, m)
            rows.append({"scene": scene.name, "margin": m, "windows": prof["windows"], "patches": prof["patches"],
                         "network_s": prof["network_s"], "reference_patches": ref_prof["patches"],
                         "agreement": round(float((got == ref).mean()), 5),
                         "agreement_near_core_edges": round(float((got == ref)[near].mean()), 5) if near.any() else None})
    return rows


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEMO_BUNDLE, help="bundle (default: the shipped demo bundle)")
    p.add_argument("--scenes", type=Path, nargs="*", help="rasters to segment (default: two synthetic 2048 px scenes)")
    p.add_argument("--window", type=int, help="window (default: the bundle's)")
    p.add_argument("--margins", help="comma-separated margins in px (default: 0, 2, 4, 5, 7.5 and 10 %% of the window)")
    p.add_argument("--cost-side", type=int, default=8000, help="raster side for the cost table (default 8000: 64 MP)")
    p.add_argument("--no-runs", action="store_true", help="only the cost table")
    p.add_argument("--single-window-reference", action="store_true",
                   help="compare with one window over the whole scene instead of the largest margin")
    args = p.parse_args(argv)
    b = load_bundle(args.model)
    window = args.window or b.window
    margins = ([int(x) for x in args.margins.split(",")] if args.margins
               else sorted({0, window // 50, window // 25, window // 20, int(window * 0.075), default_margin(window)}))
    cost = [work_factor(args.cost_side, window, m, b.size_p, b.min_overlap) for m in margins]
    print(f"cost on {args.cost_side} x {args.cost_side} px, window {window}, patches {b.size_p} px:", file=sys.stderr)
    print(f"{'margin':>7} {'windows':>8} {'patches':>8} {'work x':>7} {'rel. throughput':>16}", file=sys.stderr)
    for c in cost:
        print(f"{c['margin']:>7} {c['windows']:>8} {c['patches']:>8} {c['work_factor']:>7.3f} {c['relative_throughput']:>16.3f}",
              file=sys.stderr)
    result: Dict[str, Any] = {"bundle": str(args.model), "window": window, "size_p": b.size_p, "cost": cost}
    if not args.no_runs:
        with tempfile.TemporaryDirectory(prefix="glnet-margins-") as tmp_s:
            tmp = Path(tmp_s)
            scenes = args.scenes
            if not scenes:
                r = subprocess.run(GLNET + ["synth", "--out", str(tmp / "scenes"), "--n", "2", "--size", "2048", "--seed", "7",
                                            "--quiet"], capture_output=True, text=True, timeout=600)
                if r.returncode != 0:
                    raise SystemExit(f"margin_study: synth failed: {r.stderr.strip()}")
                scenes = sorted((tmp / "scenes" / "images").glob("*.tif"))
            rows = agreement(scenes, args.model, window, margins, tmp, args.single_window_reference)
        ref = "one window over the whole scene" if args.single_window_reference else f"margin {reference_margin(window)}"
        print(f"\nagreement with the reference ({ref}), window {window}:", file=sys.stderr)
        print(f"{'scene':>18} {'margin':>7} {'windows':>8} {'agreement':>10} {'near edges':>11}", file=sys.stderr)
        for r_ in rows:
            near = "-" if r_["agreement_near_core_edges"] is None else f"{r_['agreement_near_core_edges']:.4f}"
            print(f"{r_['scene']:>18} {r_['margin']:>7} {r_['windows']:>8} {r_['agreement']:>10.4f} {near:>11}", file=sys.stderr)
        result["agreement"] = rows
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
