"""``glnet vectorize``: a class mask to a polygon layer (GeoPackage, GeoJSON, FlatGeobuf, Shapefile)."""

from __future__ import annotations

import argparse
import sys

from ..option_rules import MIN_AREA, SIMPLIFY
from .input_options import input_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "turn a class mask into polygons (GeoPackage, GeoJSON, FlatGeobuf or Shapefile)"

DESCRIPTION = """\
Turn a class mask (as 'glnet segment' writes it: one band of class ids,
nodata 255) into polygons that follow the pixel edges exactly: one polygon
per connected region of a class (4-connectivity), holes kept, nodata left
out, in the mask's CRS. Attributes: class_id, class_name (the identifier,
urban_land), class_label (the display label, Urban land), area_m2 (on the
ellipsoid for geographic and Mercator CRSs) and, with --confidence,
confidence (the mean percent over the polygon).

Class names and labels come from the mask (MASK.tif.aux.xml) or from
--model; without either the classes are called class_<id> (with a warning).
A GeoPackage gets a default QGIS style (classes' colours and labels).

The mask is read in bands of rows, so masks larger than memory work; polygons
are held until they are written. --min-area reads the whole mask (one byte
per pixel).

Examples:
  glnet vectorize mask.tif --out landcover.gpkg
  glnet vectorize mask.tif --out landcover.shp --min-area 500 --simplify 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet vectorize``."""
    parser.add_argument("mask", type=input_path, metavar="MASK", help="class mask GeoTIFF (one band of class ids, nodata 255)")
    parser.add_argument("--out", required=True, metavar="FILE", help="vector file to write (.gpkg, .geojson, .fgb or .shp)")
    parser.add_argument(
        "--model", type=input_path, metavar="BUNDLE", help="take class names and colours from this model bundle instead of the mask"
    )
    parser.add_argument(
        "--min-area",
        type=MIN_AREA,
        default=0.0,
        metavar="M2",
        help="minimum mapping unit in square metres: smaller regions are merged into their largest neighbour "
        "before polygonizing (default 0: none)",
    )
    parser.add_argument(
        "--simplify",
        type=SIMPLIFY,
        default=0.0,
        metavar="M",
        help="simplify boundaries with this tolerance in metres, keeping neighbours' shared boundaries "
        "(no gaps or overlaps; default 0: exact pixel edges)",
    )
    parser.add_argument(
        "--format",
        metavar="FORMAT",
        help='GPKG, GeoJSON, FlatGeobuf or "ESRI Shapefile" (default: from the extension of --out)',
    )
    parser.add_argument("--layer", metavar="NAME", help="layer name in a GeoPackage (default: the file name without extension)")
    parser.add_argument("--confidence", type=input_path, metavar="CONF", help="confidence raster on the mask's grid: adds a mean 'confidence' per polygon")
    parser.add_argument("--overwrite", action="store_true", help="replace the output if it exists")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet vectorize``; returns the exit status."""
    from ..formats.output_plan import InputSource
    from ..products.vectorize import check_vector_output, vectorize
    from ..progress_bar import BarCallbacks

    # Before the bundle is read: a bad --out (an input among them) fails at once, naming the option.
    sources = [InputSource(args.mask, "the mask")]
    sources += [InputSource(args.confidence, "the confidence raster (--confidence)")] if args.confidence else []
    sources += [InputSource(args.model, "the model bundle (--model)")] if args.model else []
    check_vector_output(args.out, overwrite=args.overwrite, driver=args.format, layer=args.layer, inputs=sources,
                        option="--out")
    classes = None
    if args.model:
        from ..engine.bundle import load_bundle

        classes = load_bundle(args.model).classes
    with BarCallbacks("vectorize") as bar:
        result = vectorize(
            args.mask,
            args.out,
            classes=classes,
            min_area_m2=args.min_area,
            simplify=args.simplify,
            driver=args.format,
            layer=args.layer,
            overwrite=args.overwrite,
            confidence_path=args.confidence,
            callbacks=bar.callbacks(log=False),
            option="--out",
        )
    for w in result.warnings:
        print(f"glnet: warning: {w}", file=sys.stderr)
    total = sum(result.areas_m2.values())
    print(
        f"{result.path}: {result.count} polygons in {len(result.counts)} classes, {total / 1e6:.6g} km2 "
        f"({result.driver}, layer {result.layer})"
    )
    return 0
