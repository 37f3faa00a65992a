"""Sequential vs pipelined ``glnet segment``: whole-process time and network time on slow and fast inputs.

Usage::

    python benchmarks/pipeline_benchmark.py --bundle /tmp/bench/tiny.glnet --raster /tmp/bench/img4000.tif \\
        --runs 3 --json pipeline.json

From ``--raster`` it writes three copies into a scratch folder: (a) plain
(uncompressed, tiled 512), (b) DEFLATE, (c) JPEG-in-TIFF (YCbCr); (d) is the
plain copy read through GDAL's ``/vsicurl/`` (by a local VRT) from an HTTP
server this script starts on 127.0.0.1 (a thread, with byte-range support, an optional delay
per request to stand for a slower network, stopped at the end). Each input
is segmented by a fresh ``glnet segment`` process with ``--pipeline off``
and ``--pipeline on``, in pairs whose order alternates, ``--runs`` pairs after
``--warmup`` pairs; it prints, and writes as JSON, the median wall time of each, the
median network time and waiting times from ``--profile``, and the ratio
pipelined / sequential pair by pair.
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
from typing import Any, Dict, List

from glnet.benchmarks.range_server import serve

__all__ = ["main"]

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _copies(raster: Path, folder: Path) -> Dict[str, Path]:
    import rasterio
    from rasterio.shutil import copy as rio_copy

    out = {"plain": folder / "plain.tif", "deflate": folder / "deflate.tif", "jpeg": folder / "jpeg.tif"}
    opts = {"plain": {}, "deflate": {"compress": "deflate"}, "jpeg": {"compress": "jpeg", "photometric": "ycbcr"}}
    for name, path in out.items():
        if not path.exists():
            rio_copy(str(raster), str(path), driver="GTiff", tiled=True, blockxsize=512, blockysize=512, **opts[name])
    with rasterio.open(out["plain"]) as ds:
        assert ds.count == 3
    return out


def _remote_vrt(local: Path, url: str, vrt: Path) -> Path:
    """A VRT whose bands are read from ``url`` (a GDAL ``/vsicurl/`` path).

    ``glnet segment`` takes a file path (it records the input's size and time
    for ``--resume``), so the remote raster is given to it through a local
    VRT; every pixel still comes over HTTP.
    """
    import rasterio

    with rasterio.open(local) as ds:
        w, h, bw, bh = ds.width, ds.height, ds.block_shapes[0][1], ds.block_shapes[0][0]
        crs, t = ds.crs.to_wkt() if ds.crs else "", ds.transform
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{url}</SourceFilename><SourceBand>{b}</SourceBand>'
        f'<SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="Byte" BlockXSize="{bw}" BlockYSize="{bh}"/>'
        f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/><DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        "</SimpleSource></VRTRasterBand>" for b in (1, 2, 3))
    vrt.write_text(f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}"><SRS>{crs}</SRS>'
                   f"<GeoTransform>{t.c}, {t.a}, {t.b}, {t.f}, {t.d}, {t.e}</GeoTransform>{bands}</VRTDataset>\n")
    return vrt


def _run(src: str, bundle: Path, work: Path, pipeline: str, extra: List[str], timeout: float) -> Dict[str, Any]:
    prof = work / f"profile-{pipeline}.json"
    argv = GLNET + ["segment", src, "--model", str(bundle), "--out-mask", str(work / f"mask-{pipeline}.tif"),
                    "--pipeline", pipeline, "--profile", str(prof), "--overwrite", "--quiet", *extra]
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"glnet segment failed: {r.stderr.strip()}")
    p = json.loads(prof.read_text())
    return {"wall_s": wall, **{k: p[k] for k in ("total_s", "network_s", "read_s", "prepare_s", "write_s",
                                                  "input_wait_s", "output_wait_s", "overlap_s", "peak_rss_mb")}}


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", type=Path, default=Path("/tmp/bench/tiny.glnet"))
    ap.add_argument("--raster", type=Path, default=Path("/tmp/bench/img4000.tif"))
    ap.add_argument("--runs", type=int, default=3, help="measured pairs per input (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="pairs per input run first and not counted (default 1)")
    ap.add_argument("--inputs", default="plain,deflate,jpeg,http", help="which inputs (default all four)")
    ap.add_argument("--http-delay-ms", type=float, default=0.0, help="delay per HTTP request (default 0)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run, and the server's life is bounded by them")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    ap.add_argument("extra", nargs="*", help="further glnet segment options (after --)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="glnet-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    files = _copies(args.raster, work)
    with serve(work, args.http_delay_ms / 1000.0) as server:
        sources = {k: str(v) for k, v in files.items()}
        url = f"/vsicurl/{server.url}/plain.tif"
        sources["http"] = str(_remote_vrt(files["plain"], url, work / "http.vrt"))
        results: Dict[str, Any] = {"machine": os.uname().machine, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                                   "bundle": str(args.bundle), "raster": str(args.raster), "runs": args.runs,
                                   "http_delay_ms": args.http_delay_ms, "inputs": {}}
        deadline = time.monotonic() + args.timeout * 2 * (args.runs + args.warmup) * len(args.inputs.split(","))
        for name in args.inputs.split(","):
            src = sources[name]
            runs: Dict[str, List[Dict[str, Any]]] = {"off": [], "on": []}
            for k in range(args.runs + args.warmup):
                order = ("off", "on") if k % 2 == 0 else ("on", "off")
                for mode in order:
                    if time.monotonic() > deadline:
                        raise SystemExit("the benchmark ran past its bounded time")
                    got = _run(src, args.bundle, work, mode, args.extra, args.timeout)
                    if k >= args.warmup:  # warm-up pairs fill the page cache
                        runs[mode].append(got)
            ratios = [on["wall_s"] / off["wall_s"] for on, off in zip(runs["on"], runs["off"])]
            med = {mode: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]}
                   for mode, rs in runs.items()}
            results["inputs"][name] = {"source": src, "sequential": med["off"], "pipelined": med["on"],
                                       "ratio_on_off": [round(x, 3) for x in ratios],
                                       "median_ratio": round(statistics.median(ratios), 3), "all": runs}
            s, p = med["off"], med["on"]
            print(f"{name:8s} sequential {s['wall_s']:7.1f} s (network {s['network_s']:6.1f}, in-wait "
                  f"{s['input_wait_s']:5.1f})  pipelined {p['wall_s']:7.1f} s (network {p['network_s']:6.1f}, in-wait "
                  f"{p['input_wait_s']:5.1f}, hidden {p['overlap_s']:5.1f})  on/off {statistics.median(ratios):.3f}",
                  flush=True)
    results["http_requests"] = server.requests
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
