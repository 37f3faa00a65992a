"""``glnet synth``: write a synthetic, georeferenced land-cover data set (images and DeepGlobe masks)."""

from __future__ import annotations

import argparse
import sys
import time

from ..option_rules import EPSG_CODE, JOBS, JPEG_QUALITY, PIXEL_SIZE, SCENE_SIZE, SCENES, SEED

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "write synthetic georeferenced land-cover scenes (RGB GeoTIFFs + DeepGlobe class masks) for training and tests"

DESCRIPTION = """\
Write N synthetic land-cover scenes of PX x PX pixels into DIR, drawn
procedurally from a seed: farmland parcels with crop rows, forest, rangeland,
barren land, rivers and lakes, rural roads, towns with streets, buildings and
construction sites, terrain shading, clouds and sensor noise. The classes
are DeepGlobe's (0 unknown, 1 urban_land, 2 agriculture_land, 3 rangeland,
4 forest_land, 5 water, 6 barren_land).

The scenes are built so that local appearance is ambiguous and the layout
hundreds of pixels away decides the class: the same dark smooth surface is
water where it touches a river and forest_land elsewhere; the same bare soil
is urban_land (a construction site) inside a town and barren_land in the
countryside; the same grass is agriculture_land inside the parcel grid and
rangeland outside it. A model without global context cannot tell them apart.
Opaque cloud is labelled unknown (ignored by scoring); rural
roads take the class of the land they cross, as in DeepGlobe.

Output:
  DIR/images/synth_NNNNN.tif  RGB uint8 GeoTIFF, tiled, JPEG (YCbCr) or DEFLATE
  DIR/masks/synth_NNNNN.tif   uint8 class ids on the same grid, colour table and
                              class names (as glnet segment writes masks)
  DIR/scenes.json             arguments, generator version, class pixels per scene
  DIR/lookalike/synth_NNNNN.tif  with --lookalike: where the look-alike regions are

'glnet train --data DIR' reads the folder as it is, and each mask is a
reference for 'glnet evaluate'. The same arguments give byte-identical files;
scene i depends only on the seed and i, so a larger --n extends a data set.
Scenes are drawn for about 0.5 m/px; --pixel-size changes only the
georeferencing. Each scene has its own footprint (rows of ten scenes).

Nothing appears in DIR until every scene is written (a hidden folder next to
it is moved into place); an existing data set is replaced only with
--overwrite.

Examples:
  glnet synth --out synth/train --n 200 --size 2048 --seed 1
  glnet synth --out synth/val --n 20 --size 2048 --seed 2 --crs 25832
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet synth``."""
    from ..samples.dataset import COMPRESSIONS
    from ..samples.landscape import MAX_SIZE, MIN_SIZE

    parser.add_argument("--out", required=True, metavar="DIR", help="data set folder to write (new or empty; see --overwrite)")
    parser.add_argument("--n", required=True, type=SCENES, metavar="N", help="number of scenes")
    parser.add_argument(
        "--size", type=SCENE_SIZE, default=2048, metavar="PX", help=f"scene width and height in pixels, {MIN_SIZE}-{MAX_SIZE} (default 2048)"
    )
    parser.add_argument("--seed", type=SEED, default=0, metavar="S", help="data set seed, 0 or more (default 0)")
    parser.add_argument(
        "--crs", type=EPSG_CODE, default=32633, metavar="EPSG", help="EPSG code of a projected CRS in metres (default 32633, UTM 33N)"
    )
    parser.add_argument(
        "--pixel-size",
        type=PIXEL_SIZE,
        default=0.5,
        metavar="M",
        help="ground size of a pixel in metres, for the georeferencing only (default 0.5, as DeepGlobe)",
    )
    parser.add_argument(
        "--compress",
        choices=COMPRESSIONS,
        default="jpeg",
        help="image compression: jpeg (YCbCr JPEG in GeoTIFF, lossy, about 1 MB per 2048 px scene) "
        "or deflate (lossless, about 7 MB); masks are always DEFLATE (default jpeg)",
    )
    parser.add_argument("--jpeg-quality", type=JPEG_QUALITY, default=90, metavar="Q", help="JPEG quality 1-100 (default 90)")
    parser.add_argument(
        "--lookalike",
        action="store_true",
        help="also write DIR/lookalike/NAME.tif: where the look-alike regions are (1 lake, 2 dark forest, "
        "3 construction site, 4 bare patch, 5 grass parcel, 6 rangeland), to score models inside them",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR/images, DIR/masks, DIR/lookalike and DIR/scenes.json of an existing data set",
    )
    parser.add_argument(
        "--jobs",
        type=JOBS,
        default=1,
        metavar="N",
        help="draw and write scenes in N processes in parallel, each needing about 0.3 GB for a 2048 px scene "
        "(default 1); the files are the same whatever N",
    )
    parser.add_argument("--quiet", action="store_true", help="print no progress line per scene")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet synth``; returns the exit status."""
    from ..samples.dataset import SceneInfo, SynthOptions, write_dataset

    opts = SynthOptions(
        n=args.n,
        size=args.size,
        seed=args.seed,
        crs=args.crs,
        pixel_size=args.pixel_size,
        compress=args.compress,
        jpeg_quality=args.jpeg_quality,
        overwrite=args.overwrite,
        lookalike=args.lookalike,
        jobs=args.jobs,
    )
    width = len(str(opts.n))

    def progress(info: SceneInfo, total: int) -> None:
        if args.quiet:
            return
        counted = sum(info.class_pixels.values()) or 1
        top = sorted(info.class_pixels.items(), key=lambda kv: -kv[1])[:3]
        shares = ", ".join(f"{name} {100.0 * px / counted:.0f}%" for name, px in top if px)
        print(
            f"[{info.index + 1:{width}d}/{total}] {info.name}: {info.seconds:.1f} s, "
            f"image {info.image_bytes / 1e6:.1f} MB; {shares}",
            file=sys.stderr,
            flush=True,
        )

    t0 = time.perf_counter()
    infos = write_dataset(args.out, opts, progress=progress)
    seconds = time.perf_counter() - t0
    print(f"{args.out}: {len(infos)} scenes of {opts.size} x {opts.size} px (seed {opts.seed}, EPSG:{opts.crs}) in {seconds:.1f} s")
    return 0
