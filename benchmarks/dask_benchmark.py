"""``glnet segment --dask local:N`` against one process at equal total threads, and the single writer's ceiling.

Usage::

    python benchmarks/dask_benchmark.py --size 2896 --runs 3 --json dask.json

Two measurements, on the shipped demo bundle (the ``lite`` GLNet, window 1024):

1. **Dask overhead.** A ``--size`` x ``--size`` scene is segmented by fresh
   ``glnet segment`` processes, one with ``--threads T`` (T = the machine's
   cores) and one with ``--dask local:T`` (T workers of 1 thread, whose
   onnxruntime sessions get 1 thread each), in pairs whose order alternates,
   ``--runs`` pairs after one warm-up pair. Reported: median wall times
   (the whole command, cluster start included) and the median of the pairs'
   ratios minus 1, the overhead (target: under 10 %); then the same on a
   one-window scene, whose difference is the fixed cost (cluster start and
   stop, the workers' imports and sessions), and the overhead without it.
2. **The writer's ceiling.** What one run's writer can take at most, in
   windows per second, for the demo's window core (922 px) and the paper
   model's (2204 px), with no network at all: (a) the writer alone (the
   cores written through :func:`glnet_core.engine.window_loop.write_core`
   into mask and confidence :class:`MaskWriter` parts, checkpointed as a
   run does), and (b) the cluster's round trip: tasks on a LocalCluster
   that return a window's two core arrays to the client, taken back in
   order by :func:`glnet_core.cluster.dispatch.run_on_cluster`'s scheme
   (submitted a bounded number ahead). The smaller of the two is where
   adding workers to one output stops helping (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

__all__ = ["main", "core_arrays"]

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _scene(path: Path, size: int) -> Path:
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True, blockxsize=512,
                       blockysize=512, compress="deflate") as ds:
        for row in range(0, size, 512):
            h = min(512, size - row)
            yy, xx = np.mgrid[row:row + h, 0:size].astype(np.float32)
            bands = [np.sin(xx / 37 + k) * np.cos(yy / 23 - k) * 90 + 128 + rng.normal(0, 6, xx.shape) for k in range(3)]
            ds.write(np.clip(np.stack(bands), 0, 255).astype(np.uint8), window=((row, row + h), (0, size)))
    return path


def _segment(src: Path, bundle: Path, out: Path, extra: List[str]) -> Tuple[float, Dict[str, Any]]:
    for p in (out, out.with_suffix(".json"), out.with_name(out.name + ".aux.xml")):
        p.unlink(missing_ok=True)
    t = time.perf_counter()
    r = subprocess.run(GLNET + ["segment", str(src), "--model", str(bundle), "--out-mask", str(out), "--quiet",
                                "--profile", str(out.with_suffix(".json")), *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"glnet segment failed: {r.stderr.strip()}")
    return wall, json.loads(out.with_suffix(".json").read_text())


def overhead(src: Path, bundle: Path, scratch: Path, threads: int, runs: int) -> Dict[str, Any]:
    """Median wall times of ``--threads T`` and ``--dask local:T`` over ``runs`` alternating pairs, and the overhead."""
    kinds = {"one process": ["--threads", str(threads)], "dask": ["--dask", f"local:{threads}"]}
    walls: Dict[str, List[float]] = {k: [] for k in kinds}
    ratios: List[float] = []
    outputs: Dict[str, Path] = {k: scratch / f"{i}.tif" for i, k in enumerate(kinds)}
    for i in range(runs + 1):
        order = list(kinds) if i % 2 == 0 else list(reversed(kinds))
        got = {k: _segment(src, bundle, outputs[k], kinds[k])[0] for k in order}
        if i == 0:
            continue  # warm-up: file caches, imports
        for k in kinds:
            walls[k].append(got[k])
        ratios.append(got["dask"] / got["one process"])
        print(f"  pair {i}: one process {got['one process']:.2f} s, dask {got['dask']:.2f} s", flush=True)
    same = outputs["dask"].read_bytes() == outputs["one process"].read_bytes()
    return {
        "threads": threads,
        "wall_s": {k: round(statistics.median(v), 3) for k, v in walls.items()},
        "overhead": round(statistics.median(ratios) - 1, 4),
        "pairs": len(ratios),
        "same_bytes": same,
    }


def core_arrays(side: int) -> Tuple[np.ndarray, np.ndarray]:
    """A window core's classes and confidence, as land cover looks: regions of tens of metres, a smooth confidence.

    (Random pixels would measure DEFLATE on incompressible data, several times slower than on a real mask.)
    """
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    field = np.sin(xx / 61) + np.cos(yy / 47) + 0.5 * np.sin((xx + yy) / 29)
    classes = np.clip((field + 2.5) * 1.4, 0, 6).astype(np.uint8)
    confidence = np.clip(60 + 35 * np.cos(field * 3), 0, 100).astype(np.uint8)
    return classes, confidence


def writer_ceiling(scratch: Path, core: int, windows: int) -> float:
    """Windows per second the writer alone takes: core arrays of side ``core`` into mask and confidence parts."""
    from affine import Affine

    from glnet.glnet_core.engine.grid import ModelGrid
    from glnet.glnet_core.engine.resume import Checkpoints, ResumeState
    from glnet.glnet_core.engine.timings import StepTimes
    from glnet.glnet_core.engine.window_loop import write_core
    from glnet.glnet_core.engine.windows import raster_windows
    from glnet.glnet_core.formats.class_mask_writer import MaskWriter
    from glnet.glnet_core.formats.classes import ClassTable

    margin = core // 20
    window = core + 2 * margin
    per_side = int(np.ceil(np.sqrt(windows)))
    size = per_side * core + 2 * margin
    layout = raster_windows(size, size, window, margin)[:windows]
    grid = ModelGrid((size, size))
    classes = ClassTable.from_dict({"classes": [{"id": i, "name": f"class {i}", "colour": [30 * i, 90, 200 - 20 * i]}
                                                for i in range(7)]})
    cores = core_arrays(core)
    mask = scratch / f"writer-{core}.tif"
    georef: Dict[str, Any] = dict(width=size, height=size, crs="EPSG:32633",
                                  transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000))
    writers = [MaskWriter(mask, classes=classes, kind="classes", **georef),
               MaskWriter(scratch / f"writer-{core}-conf.tif", classes=None, kind="confidence", **georef)]
    state = ResumeState(mask, {"benchmark": core})
    checkpoints = Checkpoints(state, writers)
    times = StepTimes()
    t = time.perf_counter()
    for w in layout:
        h, wd = w.core_in_window[0].stop - w.core_in_window[0].start, w.core_in_window[1].stop - w.core_in_window[1].start
        write_core(grid, w, [cores[0][:h, :wd], cores[1][:h, :wd]], writers, times)
        checkpoints.window_done(w.index)
    for wr in writers:
        wr.close()
    elapsed = time.perf_counter() - t
    for wr in writers:
        wr.abort()
    state.remove()
    return len(layout) / elapsed


def _core_task(side: int, index: int) -> Tuple[int, Tuple[np.ndarray, np.ndarray]]:
    return index, core_arrays(side)


def round_trip_ceiling(core: int, tasks: int, workers: int) -> float:
    """Tasks per second a LocalCluster returns a window core's arrays to the client, taken in order."""
    from glnet.glnet_core.cluster.connect import cluster_client
    from glnet.glnet_core.cluster.dispatch import tasks_ahead

    with cluster_client(f"local:{workers}") as client:
        client.submit(_core_task, core, -1, pure=False).result()  # workers warm
        ahead = tasks_ahead(workers)
        futures: Dict[int, Any] = {}
        t = time.perf_counter()
        for i in range(tasks):
            while len(futures) < ahead + 1 and i + len(futures) < tasks:
                j = i + len(futures)
                futures[j] = client.submit(_core_task, core, j, pure=False, priority=-j)
            index, _arrays = futures.pop(i).result()
            assert index == i
        return tasks / (time.perf_counter() - t)


def main(argv: List[str] = sys.argv[1:]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2896, help="scene side in pixels (default 2896: 8.4 MP)")
    p.add_argument("--runs", type=int, default=3, help="measured pairs (after one warm-up pair)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="total threads (default: all cores)")
    p.add_argument("--bundle", type=Path, help="model bundle (default: the shipped demo bundle)")
    p.add_argument("--skip-overhead", action="store_true", help="only the writer's ceiling")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    from glnet.glnet_core.samples.demo import DEMO_BUNDLE

    bundle = args.bundle or DEMO_BUNDLE
    results: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cpu_count": os.cpu_count(), "bundle": str(bundle)}
    with tempfile.TemporaryDirectory(prefix="glnet-dask-bench-") as tmp:
        scratch = Path(tmp)
        if not args.skip_overhead:
            src = _scene(scratch / "scene.tif", args.size)
            print(f"Dask overhead, {args.size} x {args.size} px, {args.threads} threads in all:", flush=True)
            results["overhead"] = {"megapixels": round(args.size ** 2 / 1e6, 2),
                                   **overhead(src, bundle, scratch, args.threads, args.runs)}
            print(json.dumps(results["overhead"]), flush=True)
            # What does not grow with the raster: the cluster's start and stop, the workers' imports and sessions.
            print("Fixed cost, one window (512 x 512 px):", flush=True)
            small = overhead(_scene(scratch / "small.tif", 512), bundle, scratch, args.threads, args.runs)
            fixed = small["wall_s"]["dask"] - small["wall_s"]["one process"]
            walls = results["overhead"]["wall_s"]
            results["overhead"]["fixed_s"] = round(fixed, 3)
            results["overhead"]["overhead_without_fixed"] = round(
                (walls["dask"] - fixed) / walls["one process"] - 1, 4)
            print(json.dumps(results["overhead"]), flush=True)
        results["writer"] = {}
        for name, core in (("demo (lite, window 1024)", 922), ("paper (window 2448)", 2204)):
            writer = writer_ceiling(scratch, core, 64 if core < 1000 else 16)
            trip = round_trip_ceiling(core, 200 if core < 1000 else 50, args.threads)
            results["writer"][name] = {"core_px": core, "writer_windows_per_s": round(writer, 1),
                                       "round_trip_windows_per_s": round(trip, 1),
                                       "ceiling_windows_per_s": round(min(writer, trip), 1),
                                       "ceiling_megapixels_per_s": round(min(writer, trip) * core * core / 1e6, 1)}
            print(name, json.dumps(results["writer"][name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
