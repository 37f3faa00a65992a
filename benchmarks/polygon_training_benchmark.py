"""Peak memory and time of `glnet train --images ... --labels POLYGONS` as the orthophoto grows.

Training from large labelled images reads one window of image and burnt
labels at a time, so peak memory should not grow with the image. Two series,
each size in a fresh `glnet train` process measured with ``/usr/bin/time -f %M``
(a small parent: the peak is the child's own):

``labelled``
    a ``glnet synth`` scene of ``side x side`` px (beyond 4096 px, the largest
    synth draws, a 4096 px scene repeated in a grid), labelled everywhere by
    the polygons of its own mask (``glnet vectorize``): areas and polygons
    grow with the image;
``corner``
    the same scenes with only the polygons of their top-left 2048 px kept
    (an orthophoto labelled in one place): the labelled areas stay four.

Each run is one epoch of stage ``global`` of the ``lite`` configuration,
batch 2, no validation, on one torch thread.

Usage::

    python benchmarks/polygon_training_benchmark.py [--sizes 2048,4096,8192] [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]


def glnet() -> List[str]:
    exe = Path(sys.executable).with_name("glnet")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "glnet.glnet_core"]


#: The largest scene `glnet synth` draws; larger images repeat one such scene in a grid.
SYNTH_MAX = 4096


def tile_scene(base: Dict[str, Path], side: int, work: Path) -> Dict[str, Path]:
    """An image of ``side`` px repeating ``base``'s scene in a grid, and its polygons moved along (a large orthophoto)."""
    import geopandas as gpd
    import pandas as pd
    import rasterio
    from rasterio.windows import Window

    image, polygons = work / f"tiled-{side}.tif", work / f"polygons-{side}.gpkg"
    with rasterio.open(base["image"]) as src:
        n, step = side // src.width, src.width
        profile = dict(src.profile, width=side, height=side, BIGTIFF="IF_SAFER")
        if not image.exists():
            with rasterio.open(image, "w", **profile) as dst:
                for r in range(n):
                    for c in range(n):
                        for win in (Window(0, r0, step, min(1024, step - r0)) for r0 in range(0, step, 1024)):
                            dst.write(src.read(window=win), window=Window(c * step, r * step + win.row_off, step, win.height))
        px, py = src.transform.a * step, src.transform.e * step
    if not polygons.exists():
        gdf = gpd.read_file(base["polygons"], layer=base["polygons"].stem)
        parts = []
        for r in range(n):
            for c in range(n):
                moved = gdf.copy()
                moved.geometry = gdf.geometry.translate(c * px, r * py)
                parts.append(moved)
        gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=gdf.crs).to_file(polygons)
    return {"image": image, "polygons": polygons}


def make_scene(work: Path, side: int) -> Dict[str, Path]:
    """A synth scene (repeated in a grid beyond 4096 px), its polygons, and the polygons of its top-left 2048 px."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    synth_side = min(side, SYNTH_MAX)
    folder = work / f"scene-{synth_side}"
    image, mask = folder / "images" / "synth_00000.tif", folder / "masks" / "synth_00000.tif"
    polygons, corner = work / f"polygons-{synth_side}.gpkg", work / f"corner-{side}.gpkg"
    if not image.exists():
        subprocess.run([*glnet(), "synth", "--out", str(folder), "--n", "1", "--size", str(synth_side), "--seed", "11", "--quiet",
                        "--overwrite"], check=True)
    if not polygons.exists():
        subprocess.run([*glnet(), "vectorize", str(mask), "--out", str(polygons)], check=True, capture_output=True)
    if side > synth_side:
        tiled = tile_scene({"image": image, "polygons": polygons}, side, work)
        image, polygons = tiled["image"], tiled["polygons"]
    if not corner.exists():
        with rasterio.open(image) as src:
            (x0, x1), (y0, y1) = rasterio.transform.xy(src.transform, [0, min(2048, side)], [0, min(2048, side)], offset="ul")
        gdf = gpd.read_file(polygons, layer=polygons.stem)
        part = gdf.clip(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        part[part.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].to_file(corner)
    return {"image": image, "polygons": polygons, "corner": corner}


def train_once(image: Path, labels: Path, out: Path) -> Dict[str, Any]:
    argv = ["/usr/bin/time", "-f", "%M %e", *glnet(), "train", "--images", str(image), "--labels", str(labels),
            "--label-field", "class_name", "--classes", "deepglobe", "--config", "lite", "--stage", "global", "--epochs", "1",
            "--batch-size", "2", "--val-fraction", "0", "--device", "cpu", "--out", str(out), "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb, _ = proc.stderr.strip().splitlines()[-1].split()
    areas = re.search(r"(\d+) training and (\d+) validation areas", proc.stderr)
    epoch = re.search(r"global epoch 1/1: .*, ([\d.]+) s", proc.stderr)
    return {
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
        "wall_s": round(wall, 1),
        "epoch_s": float(epoch.group(1)) if epoch else None,
        "training_areas": int(areas.group(1)) if areas else None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="2048,4096,8192", help="scene sides in px (default %(default)s)")
    p.add_argument("--workdir", type=Path, help="keep scenes here (default: a temporary folder)")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="glnet-polytrain-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for side in [int(s) for s in args.sizes.split(",")]:
        scene = make_scene(work, side)
        for series in ("labelled", "corner"):
            result = train_once(scene["image"], scene[series if series == "corner" else "polygons"], work / f"{series}-{side}.ckpt")
            row = {"side_px": side, "megapixels": round(side * side / 1e6, 1), "series": series, **result}
            print(json.dumps(row), flush=True)
            rows.append(row)
    record = {
        "benchmark": "polygon_training_benchmark",
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": os.uname().nodename,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
