"""``glnet segment``: a raster of any size to a land-cover class mask, with a model bundle."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, List

from ..engine.modes import DEFAULT_MODE, MODE_NAMES, MODES_HELP, UPSAMPLING
from ..engine.runtime import CHAINS, DEVICES
from ..option_rules import BATCH, GPU_MEMORY, MARGIN, MIN_AREA, SIMPLIFY, THREADS, WINDOW
from .input_options import BANDS_HELP, INPUT_RANGE_HELP, input_path, parse_bands, parse_input_range

if TYPE_CHECKING:
    from ..engine.options import EngineOptions, InputOptions

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "add_run_arguments", "engine_options", "input_options", "run"]

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("input", type=input_path, metavar="INPUT", help="raster to segment")
    parser.add_argument("--model", required=True, type=input_path, metavar="BUNDLE",
                        help="model bundle (NAME.glnet folder or zip)")
    parser.add_argument("--out-mask", required=True, metavar="MASK.tif", help="class-mask GeoTIFF to write")
    parser.add_argument("--out-confidence", metavar="CONF.tif",
                        help="also write the top class probability, 0-100 (uint8, nodata 255)")
    parser.add_argument("--out-vector", metavar="POLY.gpkg",
                        help="also write the mask as polygons (class_id, class_name, class_label, area_m2, confidence), "
                             "as glnet vectorize does; format from the extension or --vector-format")
    add_run_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted (killed) run of the same command")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--profile", metavar="FILE.json",
                        help="write times per step (read, global, local, aggregation, write; network total) and peak RSS")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines; errors only")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of how a raster is segmented (all but its input and outputs), shared with ``glnet batch``."""
    parser.add_argument("--min-area", type=MIN_AREA, default=0.0, metavar="M2",
                        help="minimum mapping unit in square metres: smaller regions are merged into their neighbours "
                             "in the mask and the polygons alike (default 0: off)")
    parser.add_argument("--simplify", type=SIMPLIFY, default=0.0, metavar="M",
                        help="simplify the polygons' shared boundaries with this tolerance in metres, without gaps "
                             "or overlaps (default 0: exact pixel edges)")
    parser.add_argument("--vector-format", metavar="FORMAT",
                        help='GPKG, GeoJSON, FlatGeobuf or "ESRI Shapefile" (default: from the extension)')
    parser.add_argument("--layer", metavar="NAME", help="layer name in the GeoPackage (default: the file name)")
    parser.add_argument("--mode", choices=MODE_NAMES, default=DEFAULT_MODE, help=MODES_HELP)
    parser.add_argument("--device", choices=DEVICES, default=DEVICES[0],
                        help="auto (default): CUDA when onnxruntime-gpu and a GPU work, else the CPU; "
                             "cuda without a working CUDA is an error")
    parser.add_argument("--bands", type=parse_bands, metavar="1,2,3", help=BANDS_HELP)
    parser.add_argument("--input-range", type=parse_input_range, metavar="MIN,MAX", help=INPUT_RANGE_HELP)
    parser.add_argument("--window", type=WINDOW, metavar="PX",
                        help="GLNet window side in pixels of the model's resolution (default: the bundle's, 2448 for paper)")
    parser.add_argument("--margin", type=MARGIN, metavar="PX",
                        help="minimum distance from a written core to its window's edge (default: a twentieth of the window, 122 px for 2448)")
    parser.add_argument("--upsample", choices=UPSAMPLING, default="bilinear",
                        help="how patch logits (1/4 of the patch size) are upsampled: bilinear (default, smoother) or "
                             "nearest (as published: gives the published implementation's pixels)")
    parser.add_argument("--no-resample", action="store_true",
                        help="run at the raster's own resolution even when the model was trained at another")
    parser.add_argument("--batch", type=BATCH, metavar="N",
                        help="patches per onnxruntime run (default: 1 on the CPU for patches of 256 px or more, which keeps "
                             "memory low at no cost in speed; else 6)")
    parser.add_argument("--threads", type=THREADS, metavar="N", help="onnxruntime threads (default: all cores)")
    parser.add_argument("--pipeline", choices=("on", "off"), default="on",
                        help="on (default): read the next window and write the previous one while the network runs "
                             "on the current one; off: one step after the other (the same pixels, for comparison)")
    parser.add_argument("--chain", choices=CHAINS, default=CHAINS[0],
                        help="auto (default): keep each window's feature tensors on the GPU between subgraphs when "
                             "running on CUDA (device), else copy them to the host (host); device on the CPU runs "
                             "the same chain there (for comparison)")
    parser.add_argument("--gpu-memory", type=GPU_MEMORY, metavar="MB",
                        help="limit of each onnxruntime session's CUDA memory arena, MiB (default: no limit; the "
                             "arena grows only by what a run needs)")
    parser.add_argument("--dask", metavar="SCHEDULER",
                        help="run the windows as tasks of a Dask cluster: local:N (N worker processes on this machine), "
                             "tcp://HOST:PORT (a running scheduler) or SCHEDULER.json (a scheduler file); every worker "
                             "must reach the input and the bundle at the same path. Needs pip install 'glnet[dask]'")


def engine_options(args: argparse.Namespace) -> "EngineOptions":
    """The :class:`EngineOptions` of :func:`add_run_arguments`' options."""
    from ..engine.options import EngineOptions

    return EngineOptions(mode=args.mode, device=args.device, window=args.window, margin=args.margin,
                         upsample=args.upsample, batch=args.batch, threads=args.threads,
                         pipeline=args.pipeline == "on", chain=args.chain, gpu_memory=args.gpu_memory,
                         dask=args.dask)


def input_options(args: argparse.Namespace) -> "InputOptions":
    """The :class:`InputOptions` of :func:`add_run_arguments`' options."""
    from ..engine.options import InputOptions

    return InputOptions(bands=args.bands, input_range=args.input_range, match_resolution=not args.no_resample)


def run(args: argparse.Namespace) -> int:
    from ..engine.options import OutputOptions
    from ..formats.output_plan import OutputTarget
    from ..formats.outputs import write_json
    from ..products.pipeline import PolygonOptions, run_pipeline
    from ..progress_bar import BarCallbacks

    engine = engine_options(args)
    reading = input_options(args)
    # --profile is checked with the run's outputs before any work (and obeys --overwrite like them).
    side = [OutputTarget(args.profile, "--profile")] if args.profile else []
    output = OutputOptions(args.out_mask, args.out_confidence, overwrite=args.overwrite, resume=args.resume,
                           side_outputs=side)
    polygons = PolygonOptions(args.out_vector, min_area_m2=args.min_area, simplify=args.simplify,
                              vector_format=args.vector_format, vector_layer=args.layer)
    with BarCallbacks("segment", quiet=bool(args.quiet)) as bar:
        result = run_pipeline(args.input, args.model, output, engine, reading, polygons, bar.callbacks())
    prof = result.profile
    if args.profile:
        write_json(args.profile, prof, overwrite=args.overwrite, option="--profile")
    if not args.quiet:
        seg = result.segment
        outs: List[str] = [str(p) for p in (seg.mask, seg.confidence, polygons.vector) if p is not None]
        print(f"wrote {', '.join(outs)}: {seg.windows} window(s), {seg.patches} patches, "
              f"{prof['total_s']:.1f} s (network {prof['network_s']:.1f} s), peak RSS {seg.peak_rss_mb:.0f} MB",
              file=sys.stderr)
    return 0
