"""``glnet stats``: class areas and shares per zone (districts, parcels) of a class mask."""

from __future__ import annotations

import argparse
import sys

from .input_options import class_table_spec, input_path

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "class areas and shares per zone (districts, parcels) of a class mask"

DESCRIPTION = """\
For each zone polygon of ZONES, measure the ground area of every class of
MASK (a class mask: single band of class ids, 255 nodata, e.g. from glnet
segment) inside it, and write one row per zone: the zone's --zone-field value,
area_m2 (the zone's valid area: pixels that are not nodata), then for each
class <class>_m2 (square metres) and <class>_share (0-1 of area_m2; empty for
a zone without valid pixels).

A pixel belongs to a zone when its centre lies inside it. A pixel inside
several overlapping zones counts in each of them. Ground areas: planar in a
projected CRS (metres, or the CRS's unit converted to metres); on the
ellipsoid, row by row, for a geographic (degrees) or Mercator CRS. Zones in
another CRS than the mask's are reprojected to it. The mask is read in blocks
of rows, so any size works.

--out ending in .csv writes a table; .gpkg writes a GeoPackage with the zones'
geometries (in their own CRS) and the same columns. The output appears only
when complete and replaces an existing file only with --overwrite.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet stats``.

    Parameters
    ----------
    parser:
        The sub-command's parser.
    """
    parser.description = DESCRIPTION
    parser.add_argument("mask", type=input_path, metavar="MASK", help="class mask GeoTIFF (single band of class ids, 255 nodata)")
    parser.add_argument("--zones", required=True, type=input_path, metavar="ZONES", help="zone polygons (GeoPackage, GeoJSON, Shapefile...)")
    parser.add_argument("--zone-field", required=True, metavar="NAME", help="zone attribute that identifies each zone")
    parser.add_argument("--zones-layer", metavar="NAME", help="layer of ZONES to read (default: the first)")
    parser.add_argument("--out", required=True, metavar="STATS.csv|.gpkg", help="output table (.csv) or GeoPackage (.gpkg)")
    parser.add_argument("--layer", metavar="NAME", help="layer name in the output GeoPackage (default: the file name's stem)")
    parser.add_argument("--classes", type=class_table_spec, metavar="TABLE",
                        help="class table: deepglobe, inria, a class count, or a JSON file (default: MASK's class names)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet stats``; returns the exit status."""
    from ..products.zonal_stats import check_output, stats_sources, write_stats, zonal_stats

    # Fail before the (possibly long) computation when the output cannot be written or is an input.
    check_output(args.out, args.overwrite, stats_sources(args.mask, args.zones, args.classes), args.layer)
    stats = zonal_stats(args.mask, args.zones, args.zone_field, classes=args.classes, zones_layer=args.zones_layer)
    path = write_stats(stats, args.out, overwrite=args.overwrite, layer=args.layer)
    if not args.quiet:
        print(f"wrote {path}: {len(stats.zones)} zones x {len(stats.classes)} classes", file=sys.stderr)
    return 0
