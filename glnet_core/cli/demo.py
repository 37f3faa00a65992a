"""``glnet demo``: the shipped GLNet demo model on the shipped sample scene.

Imports neither onnxruntime nor Pillow at import time (see :mod:`glnet_core.cli`).
"""

from __future__ import annotations

import argparse

from ..engine.modes import DEFAULT_MODE, MODE_NAMES, MODES_HELP
from ..option_rules import THREADS
from .input_options import input_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "segment the shipped sample scene with the shipped demo model (mask, polygons, preview, summary)"

DESCRIPTION = """\
Run the demo: segment the sample scene that ships with glnet
(glnet_core/samples/data/sample-scene.tif, a synthetic scene from `glnet synth`) with the
demo model bundle (glnet_core/samples/data/demo-lite.glnet: GLNet 'lite' trained on
synthetic scenes, fp16), as `glnet segment --out-vector` does. Prints the
windows, time, peak memory, polygon count and area per class, and writes to
the output folder:

  landcover.tif    class mask on the scene's grid (colours and class names embedded)
  landcover.gpkg   polygons (QGIS style embedded)
  preview.png      the scene, the scene with the classes overlaid, and a legend
  summary.json     the figures printed

Drag landcover.tif and landcover.gpkg into QGIS to see them styled. The demo
model knows synthetic scenes only: for real imagery use the published
DeepGlobe checkpoints (glnet import-original, glnet export) or train your own
(glnet train). `make demo` runs this command after `make install`."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet demo``."""
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="output folder, created if missing (default demo-output)")
    parser.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier demo run in --out")
    parser.add_argument("--model", type=input_path, metavar="BUNDLE",
                        help="model bundle to run instead of the shipped glnet_core/samples/data/demo-lite.glnet")
    parser.add_argument("--scene", type=input_path, metavar="RASTER",
                        help="raster to segment instead of the shipped glnet_core/samples/data/sample-scene.tif")
    parser.add_argument("--mode", choices=MODE_NAMES, default=DEFAULT_MODE, help="GLNet inference mode: " + MODES_HELP)
    parser.add_argument("--threads", type=THREADS, metavar="N", help="onnxruntime threads (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar; the summary is still printed")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet demo``; returns the exit status."""
    from ..progress_bar import BarCallbacks
    from ..samples.demo import format_summary, qgis_instructions, run_demo

    with BarCallbacks("demo", quiet=bool(args.quiet)) as bar:
        result = run_demo(args.out, args.model, args.scene, overwrite=args.overwrite, mode=args.mode,
                          threads=args.threads, callbacks=bar.callbacks(log=False))
    print(format_summary(result))
    print(qgis_instructions(result))
    return 0
