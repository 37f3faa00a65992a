"""``glnet evaluate``: accuracy of a class mask against a reference (IoU, mIoU, F1, confusion matrix)."""

from __future__ import annotations

import argparse
import sys
from typing import List

from .input_options import class_table_spec, input_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "score a class mask against a reference (per-class IoU, mIoU, F1, confusion matrix)"

DESCRIPTION = """\
Compare PRED, a class mask (single band of class ids, 255 nodata, e.g. from
glnet segment), with REF, a reference: a class raster (its values decoded
through the class table), an RGB colour mask (DeepGlobe style, colours decoded
through the class table) or a vector layer (GeoPackage, GeoJSON, Shapefile)
whose attribute --ref-field holds class ids or names, rasterized onto PRED's
grid (pixel centres). When both rasters are georeferenced and their grids
differ, REF is resampled onto PRED's grid (nearest neighbour); rasters without
georeferencing must have the same size and are compared pixel by pixel. Any
size works: the rasters are read in blocks of rows.

Counted pixels: those that are not nodata (255, or the raster's nodata value)
in either raster. Ignored classes (flagged in the class table, like
DeepGlobe's unknown, and --ignore) are left out where they are the reference
class; a valid reference pixel predicted as an ignored class counts as an
error. Per class: IoU = TP / (TP + FP + FN), precision, recall, F1. mIoU is the
mean IoU over the classes that are not ignored and occur in REF or PRED among
the counted pixels (classes in neither get no IoU and are not averaged);
overall accuracy is correct pixels / counted pixels, ignored reference classes
excluded. The confusion matrix has the reference in rows and the prediction
in columns, and includes ignored classes.

The class table is --classes, or by default the class names stored with PRED
(glnet segment writes them to PRED.aux.xml; names equal to a preset's, such as
deepglobe, take the preset's ignore flags).
"""


def _names(text: str) -> List[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError("expected class names like unknown,water")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet evaluate``.

    Parameters
    ----------
    parser:
        The sub-command's parser.
    """
    parser.description = DESCRIPTION
    parser.add_argument("pred", type=input_path, metavar="PRED", help="predicted class mask (single band of class ids, 255 nodata)")
    parser.add_argument("ref", type=input_path, metavar="REF", help="reference: class raster, RGB colour mask, or vector layer")
    parser.add_argument("--classes", type=class_table_spec, metavar="TABLE",
                        help="class table: deepglobe, inria, a class count, or a JSON file (default: PRED's class names)")
    parser.add_argument("--ignore", type=_names, default=[], metavar="NAME,...",
                        help="classes (names such as urban_land) to leave out of the scores, besides those the table flags as ignored")
    parser.add_argument("--ref-field", metavar="NAME",
                        help="for a vector REF: the attribute holding class ids or class names")
    parser.add_argument("--ref-layer", metavar="NAME", help="for a vector REF: the layer to read (default: the first)")
    parser.add_argument("--json", metavar="OUT.json",
                        help="also write the results as JSON (an existing file is replaced only with --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json report")
    parser.add_argument("--quiet", action="store_true", help="do not print the report (use with --json)")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet evaluate``; returns the exit status."""
    from ..products.evaluate import evaluate
    from ..products.reports import check_json_output, evaluation_sources, format_report, write_json

    # Fail before the (possibly long) comparison when the report cannot be written or would
    # replace PRED, REF or the class table; an existing report is replaced only with --overwrite.
    overwrite = bool(args.overwrite)
    sources = evaluation_sources(args.pred, args.ref, args.classes)
    out = check_json_output(args.json, overwrite=overwrite, inputs=sources) if args.json else None
    result = evaluate(args.pred, args.ref, classes=args.classes, ignore=args.ignore,
                      ref_field=args.ref_field, ref_layer=args.ref_layer)
    if out is not None:
        write_json(result, out, overwrite=overwrite)
    if not args.quiet:
        print(format_report(result))
        if result.ref_unknown_pixels:
            print(f"warning: {result.ref_unknown_pixels} REF pixels hold a value or colour that is not in the class "
                  "table; they were counted as nodata", file=sys.stderr)
    return 0
