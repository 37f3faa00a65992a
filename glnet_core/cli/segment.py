"""``glnet segment``: a raster of any size to a land-cover class mask, with a model bundle."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "segment a raster of any size into a land-cover class mask GeoTIFF"

DESCRIPTION = """\
Segment INPUT (any raster GDAL reads: GeoTIFF striped or tiled, BigTIFF, COG,
JPEG, PNG; 8-bit, 16-bit or float bands) with a model bundle. The raster is cut
into overlapping GLNet windows (the bundle's default window, 2448 px for the
published model); inside each window GLNet runs as published: the global branch
on the downsampled window, the local branch on full-resolution patches. Only
each window's core is written, so the mosaic has no seams, and memory stays
flat however large the raster is.

The mask is a GeoTIFF on the input's grid (same CRS, transform and size) of
uint8 class ids, tiled and DEFLATE-compressed, nodata 255, with the classes'
colours and names so QGIS and GDAL show it styled. Nodata pixels of the input
(its nodata value, alpha band or mask) get 255; patches without a valid pixel
are not computed. When the bundle states the ground resolution the model was
trained at and the raster's differs, windows are resampled to it for inference
(the mask keeps the input's grid).

Outputs appear only when complete (they are written under hidden part names
and renamed); an existing output is replaced only with --overwrite. Ctrl-C
removes the partial outputs. A run that was killed can be continued with
--resume, which gives the same file as an uninterrupted run.
"""


def _bands(text: str) -> Tuple[int, ...]:
    try:
        out = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected band numbers like 1,2,3, got {text!r}") from None
    if not out or any(v < 1 for v in out):
        raise argparse.ArgumentTypeError("band numbers start at 1")
    return out


def _range(text: str) -> Tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX, got {text!r}") from None
    if not hi > lo:
        raise argparse.ArgumentTypeError("MAX must be larger than MIN")
    return lo, hi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("input", metavar="INPUT", help="raster to segment")
    parser.add_argument("--model", required=True, metavar="BUNDLE", help="model bundle (NAME.glnet folder or zip)")
    parser.add_argument("--out-mask", required=True, metavar="MASK.tif", help="class-mask GeoTIFF to write")
    parser.add_argument("--out-confidence", metavar="CONF.tif",
                        help="also write the top class probability, 0-100 (uint8, nodata 255)")
    parser.add_argument("--out-vector", metavar="POLY.gpkg",
                        help="also write the mask as polygons (class_id, class_name, area_m2, confidence), "
                             "as glnet vectorize does; format from the extension or --vector-format")
    parser.add_argument("--min-area", type=float, default=0.0, metavar="M2",
                        help="minimum mapping unit in square metres: smaller regions are merged into their neighbours "
                             "in the mask and the polygons alike (default 0: off)")
    parser.add_argument("--simplify", type=float, default=0.0, metavar="M",
                        help="simplify the polygons' shared boundaries with this tolerance in metres, without gaps "
                             "or overlaps (default 0: exact pixel edges)")
    parser.add_argument("--vector-format", metavar="FORMAT",
                        help='GPKG, GeoJSON, FlatGeobuf or "ESRI Shapefile" (default: from the extension)')
    parser.add_argument("--layer", metavar="NAME", help="layer name in the GeoPackage (default: the file name)")
    parser.add_argument("--mode", choices=["full", "g2l"], default="full",
                        help="full (default): GLNet with the local-to-global pass; g2l: global-to-local only (faster)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto (default): CUDA when onnxruntime-gpu and a GPU work, else the CPU; "
                             "cuda without a working CUDA is an error")
    parser.add_argument("--bands", type=_bands, metavar="1,2,3",
                        help="raster bands (1-based) to feed the model's inputs, in the model's order (red, green, blue); "
                             "needed when the band count does not match the model")
    parser.add_argument("--input-range", type=_range, metavar="MIN,MAX",
                        help="for 16-bit or float rasters: values mapped to 0..255 (default: the 2nd and 98th "
                             "percentiles of each band)")
    parser.add_argument("--window", type=int, metavar="PX",
                        help="GLNet window side in pixels of the model's resolution (default: the bundle's, 2448 for paper)")
    parser.add_argument("--margin", type=int, metavar="PX",
                        help="minimum distance from a written core to its window's edge (default: a tenth of the window)")
    parser.add_argument("--upsample", choices=["bilinear", "nearest"], default="bilinear",
                        help="how patch logits (1/4 of the patch size) are upsampled: bilinear (default, smoother) or "
                             "nearest (as published: gives the published implementation's pixels)")
    parser.add_argument("--no-resample", action="store_true",
                        help="run at the raster's own resolution even when the model was trained at another")
    parser.add_argument("--batch", type=int, metavar="N",
                        help="patches per onnxruntime run (default: 1 on the CPU for patches of 256 px or more, which keeps "
                             "memory low at no cost in speed; else 6)")
    parser.add_argument("--threads", type=int, metavar="N", help="onnxruntime threads (default: all cores)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted (killed) run of the same command")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--profile", metavar="FILE.json",
                        help="write times per step (read, global, local, aggregation, write; network total) and peak RSS")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines; errors only")


def run(args: argparse.Namespace) -> int:
    from .progress_bar import ProgressBar
    from ..engine.segment import Callbacks, Progress, SegmentOptions, segment

    quiet = bool(args.quiet)
    bar: Optional[ProgressBar] = None

    def log(message: str) -> None:
        if not quiet:
            if bar is not None:
                bar.close()
            print(message, file=sys.stderr, flush=True)

    def progress(p: Progress) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = ProgressBar(p.patches_total, "segment", sys.stderr)
        bar.set(p.patches_done, f"window {min(p.windows_done + 1, p.windows_total)}/{p.windows_total}")

    opts = SegmentOptions(
        mode=args.mode, device=args.device, bands=args.bands, window=args.window, margin=args.margin,
        upsample=args.upsample, batch=args.batch, threads=args.threads, resume=args.resume,
        overwrite=args.overwrite, input_range=args.input_range, match_resolution=not args.no_resample,
        min_area_m2=args.min_area, simplify=args.simplify, vector_format=args.vector_format, vector_layer=args.layer,
    )
    if args.profile:
        profile_path = Path(args.profile)
        if not profile_path.parent.is_dir():
            from ..errors import InputError

            raise InputError(f"output folder {profile_path.parent} does not exist")
    try:
        result = segment(args.input, args.model, args.out_mask, args.out_confidence, opts, Callbacks(progress, log),
                         out_vector=args.out_vector)
    finally:
        if bar is not None:
            bar.close()
    prof = result.profile
    if args.profile:
        Path(args.profile).write_text(json.dumps(prof, indent=2) + "\n", encoding="utf-8")
    if not quiet:
        outs: List[str] = [str(p) for p in (result.mask, result.confidence, result.vector) if p is not None]
        print(f"wrote {', '.join(outs)}: {result.windows} window(s), {prof['patches']} patches, "
              f"{prof['total_s']:.1f} s (network {prof['network_s']:.1f} s), peak RSS {prof['peak_rss_mb']:.0f} MB",
              file=sys.stderr)
    return 0
