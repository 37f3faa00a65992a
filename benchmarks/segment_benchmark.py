"""Memory and speed of `glnet segment`, and the published implementation for comparison.

Each measurement runs in a fresh process, so peak RSS (``ru_maxrss``) belongs
to that run alone.

``--memory``: a ``tiny`` bundle (random weights) on synthetic rasters of
growing size (default 1, 4, 9, 16 megapixels): peak RSS must not grow with the
raster.

``--paper``: the ``paper`` bundle on a 2448 x 2448 image (one DeepGlobe
window) and on a larger raster (several windows): time, the sum of the
onnxruntime runs (network time), overhead over it, peak RSS. With
``--published-repo DIR`` (a checkout of the published GLNet code) the
published evaluation runs on the same 2448 x 2448 image in its own process.

Usage::

    python benchmarks/segment_benchmark.py --memory --paper [--published-repo DIR] [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
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

HERE = Path(__file__).resolve().parent


def scene(path: Path, h: int, w: int, seed: int = 0) -> Path:
    """A structured synthetic RGB GeoTIFF, written in row blocks (any size)."""
    rng = np.random.default_rng(seed)
    profile = dict(driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True, blockxsize=512, blockysize=512,
                   compress="deflate", BIGTIFF="IF_SAFER")
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, h, 1024):
            r1 = min(h, r0 + 1024)
            yy, xx = np.mgrid[r0:r1, 0:w].astype(np.float32)
            img = np.stack([np.sin(xx / 37 + k) * np.cos(yy / 23 - k) for k in range(3)]) * 100 + 128
            img += rng.normal(0, 10, img.shape)
            dst.write(np.clip(img, 0, 255).astype(np.uint8), window=rasterio.windows.Window(0, r0, w, r1 - r0))
    return path


def make_bundle(config: str, out: Path) -> Path:
    if out.exists():
        return out
    code = textwrap.dedent(f"""
        import torch
        from pathlib import Path
        from glnet.export.onnx_export import export_bundle
        from glnet.glnet_core.formats.classes import load_class_table
        from glnet.models.checkpoint import Checkpoint
        from glnet.models.config import get_config
        from glnet.models.glnet import GLNet
        torch.manual_seed(0)
        model = GLNet(get_config({config!r}), 7).eval()
        export_bundle(Checkpoint(model, load_class_table("deepglobe")), Path({str(out)!r}), verify_windows=1, log=lambda *_: None)
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    return out


def run_segment(image: Path, bundle: Path, work: Path, *extra: str, mask: str = "mask.tif") -> dict:
    prof = work / "profile.json"
    cmd = [sys.executable, "-m", "glnet.glnet_core", "segment", str(image), "--model", str(bundle),
           "--out-mask", str(work / mask), "--overwrite", "--quiet", "--profile", str(prof), *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    p = json.loads(prof.read_text())
    p["wall_s"] = round(wall, 2)
    p["overhead_pct"] = round(100 * (p["total_s"] - p["network_s"]) / p["network_s"], 1)
    return p


def run_published(repo: Path, image: Path, classes_out: Path) -> dict:
    code = textwrap.dedent(f"""
        import json, resource, sys, time, tempfile
        from pathlib import Path
        sys.path.insert(0, {str(HERE)!r})
        import numpy as np, torch, rasterio
        from PIL import Image
        from fidelity_published import _install_stand_ins
        from glnet.models.config import get_config
        from glnet.models.glnet import GLNet
        from glnet.models.published import STAGE_FILES, export_published
        torch.manual_seed(0)
        states = export_published(GLNet(get_config("paper"), 7).eval())
        tmp = Path(tempfile.mkdtemp())
        paths = {{}}
        for stage, state in states.items():
            paths[stage] = tmp / STAGE_FILES[stage]
            torch.save(state, paths[stage])
        del states
        _install_stand_ins()
        sys.path.insert(0, {str(repo)!r})
        import helper
        with rasterio.open({str(image)!r}) as src:
            img = Image.fromarray(src.read().transpose(1, 2, 0))
        model, global_fixed = helper.create_model_load_weights(7, 3, evaluation=True, path_g=str(paths["global"]),
            path_g2l=str(paths["g2l"]), path_l2g=str(paths["l2g"]))
        model.eval()
        ev = helper.Evaluator(7, (508, 508), (508, 508), sub_batch_size=6, mode=3, test=False)
        t0 = time.perf_counter()
        with torch.no_grad():
            preds, _, _ = ev.eval_test({{"image": [img], "label": [Image.fromarray(np.zeros(img.size[::-1], np.uint8))]}}, model, global_fixed)
        np.save({str(classes_out)!r}, preds[0].astype(np.uint8))
        print(json.dumps({{"total_s": round(time.perf_counter() - t0, 2),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", action="store_true", help="tiny bundle on growing rasters")
    ap.add_argument("--sizes", default="1,4,9,16", help="megapixels for --memory")
    ap.add_argument("--paper", action="store_true", help="paper bundle on 2448 x 2448 and a larger raster")
    ap.add_argument("--large", type=int, default=4000, help="side of the larger paper raster (default 4000: 4 windows)")
    ap.add_argument("--published-repo", type=Path, help="checkout of the published GLNet code, for the comparison")
    ap.add_argument("--workdir", type=Path, help="keep bundles and rasters here")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    report: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {platform.processor()}".strip()}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.memory:
            bundle = make_bundle("tiny", work / "tiny.glnet")
            rows = []
            for mp in [float(s) for s in args.sizes.split(",")]:
                side = int(round((mp * 1e6) ** 0.5))
                image = scene(work / f"tiny_{side}.tif", side, side)
                p = run_segment(image, bundle, work)
                rows.append({"megapixels": mp, "side": side, "windows": p["windows"], "total_s": p["total_s"],
                             "peak_rss_mb": p["peak_rss_mb"]})
                print(f"tiny {mp:g} MP: {p['windows']} windows, {p['total_s']:.1f} s, peak RSS {p['peak_rss_mb']:.0f} MB", flush=True)
            growth = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"] - 1
            report["memory"] = {"rows": rows, "growth_pct": round(100 * growth, 1)}
            print(f"peak RSS growth {rows[0]['megapixels']:g} -> {rows[-1]['megapixels']:g} MP: {100 * growth:.1f} %")
        if args.paper:
            bundle = make_bundle("paper", work / "paper.glnet")
            image = scene(work / "paper_2448.tif", 2448, 2448)
            res = {}
            for mode in ("full", "g2l"):
                p = run_segment(image, bundle, work, "--mode", mode, "--upsample", "nearest", mask=f"paper_{mode}.tif")
                res[f"2448_{mode}"] = p
                print(f"paper 2448^2 {mode}: {p['total_s']:.1f} s (network {p['network_s']:.1f} s, overhead "
                      f"{p['overhead_pct']:.1f} %), peak RSS {p['peak_rss_mb']:.0f} MB", flush=True)
            big = scene(work / f"paper_{args.large}.tif", args.large, args.large)
            p = run_segment(big, bundle, work, "--mode", "full")
            res[f"{args.large}_full"] = p
            print(f"paper {args.large}^2 full: {p['windows']} windows, {p['total_s']:.1f} s, peak RSS {p['peak_rss_mb']:.0f} MB", flush=True)
            if args.published_repo:
                pub = run_published(args.published_repo, image, work / "published_classes.npy")
                with rasterio.open(work / "paper_full.tif") as m:
                    pub["pixels_equal_to_glnet_pct"] = round(
                        100 * float((np.load(work / "published_classes.npy") == m.read(1)).mean()), 4)
                res["published_2448_full"] = pub
                speedup = pub["total_s"] / res["2448_full"]["total_s"]
                res["speedup"] = round(speedup, 2)
                print(f"published 2448^2 full: {pub['total_s']:.1f} s, peak RSS {pub['peak_rss_mb']:.0f} MB; "
                      f"glnet is {speedup:.2f}x faster; identical pixels (glnet segment --upsample nearest): "
                      f"{pub['pixels_equal_to_glnet_pct']} %", flush=True)
            report["paper"] = res
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
