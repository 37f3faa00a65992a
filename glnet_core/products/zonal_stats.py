"""Class areas per zone (districts, parcels) of a class mask, in bounded memory.

:func:`zonal_stats` measures, for every zone polygon, the ground area of each
class of a class mask (single band of class ids, 255 nodata, e.g. from
``glnet segment``) inside it, and the share of each class in the zone's valid
area.

- **Which pixels**: those whose centre lies inside the zone (rasterization
  with ``all_touched=False``); nodata pixels count nowhere (a zone's
  ``area_m2`` is its *valid* area, so shares add up to 1).
- **Areas**: each pixel weighs its ground area from
  :func:`glnet_core.areas.pixel_area_rows_m2`: constant in a projected CRS
  (times the linear unit squared), per row on the ellipsoid for geographic and
  Mercator CRSs; in pixel units squared without a CRS.
- **CRS**: zones in another CRS are reprojected to the mask's. Zones without
  a CRS are an error for a georeferenced mask (and are taken as the mask's
  coordinates when the mask has no CRS either).
- **Overlapping zones**: a pixel inside two zones counts in both. Zones are
  split up front into groups in which no two zones' interiors intersect
  (greedy colouring); each group is rasterized separately.
- **Streaming**: blocks of rows; per block and group, the zones that touch
  the block are rasterized into an int32 zone-index raster, and the pixel
  areas are summed per (zone, class) with one ``numpy.bincount``.

Compatible with rasterio 1.3+, numpy 1.24+, shapely 1.8+, geopandas 0.12+.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..callbacks import Callbacks
from ..errors import InputError
from ..formats.class_mask import open_class_mask, read_class_ids, resolve_class_table, row_block_grid, row_blocks
from ..formats.classes import NODATA, ClassTable
from ..formats.gdal_env import with_bounded_gdal_cache
from ..formats.output_plan import InputSource, OutputTarget, check_outputs, spec_sources
from ..formats.outputs import atomic_file, write_failed
from ..formats.vector_layers import check_layer_name, seed_geopackage
from ..geo.areas import pixel_area_rows_m2
from ..geo.spatial_index import BoundsIndex

__all__ = ["OUTPUT_FORMATS", "ZonalStats", "overlap_groups", "zonal_stats", "write_stats", "check_output", "stats_sources"]

OUTPUT_FORMATS = (".csv", ".gpkg")

PathLike = Union[str, Path]


@dataclass
class ZonalStats:
    """Per-zone class areas (see :func:`zonal_stats`).

    Attributes
    ----------
    zones:
        The zones as read (a GeoDataFrame, original CRS and attributes).
    field:
        The zone attribute that names each zone.
    classes:
        The class table.
    areas_m2:
        ``(n_zones, n_classes)`` ground areas in square metres.
    sources:
        The files the statistics were computed from (mask, zones):
        :func:`write_stats` never writes onto one of them.
    """

    zones: Any
    field: str
    classes: ClassTable
    areas_m2: np.ndarray
    sources: Tuple[InputSource, ...] = ()

    @property
    def total_m2(self) -> np.ndarray:
        """Valid (non-nodata) area of each zone."""
        return self.areas_m2.sum(axis=1)

    def columns(self) -> List[str]:
        """The statistics columns, in order: ``area_m2``, then ``<class>_m2`` and ``<class>_share`` per class."""
        out = ["area_m2"]
        for name in self.classes.names:
            out += [f"{name}_m2", f"{name}_share"]
        return out

    def rows(self) -> List[List[Any]]:
        """One list per zone: the zone's field value, then :meth:`columns` (shares ``None`` for zones without valid area)."""
        total = self.total_m2
        out = []
        for i, key in enumerate(self.zones[self.field]):
            row: List[Any] = [_plain(key), float(total[i])]
            for c in range(len(self.classes)):
                a = float(self.areas_m2[i, c])
                t = float(total[i])
                row += [a, a / t if t > 0 else None]
            out.append(row)
        return out


def _plain(value: Any) -> Any:
    # numpy scalars -> Python, for csv and JSON.
    return value.item() if hasattr(value, "item") else value


def overlap_groups(geoms: Sequence, sindex=None) -> List[List[int]]:
    """Split geometries into groups in which no two interiors intersect (greedy colouring).

    Touching zones (shared borders) do not overlap: with pixel-centre
    rasterization a pixel goes to at most one of them.

    Parameters
    ----------
    geoms:
        Shapely geometries (``None`` or empty ones go to the first group).
    sindex:
        An index of ``geoms`` with ``query(geometry)`` (:class:`BoundsIndex`); built when ``None``.

    Returns
    -------
    list of list of int
        Indices of ``geoms``, each group in increasing order.
    """
    if sindex is None:
        sindex = BoundsIndex(list(geoms))
    colour = [-1] * len(geoms)
    groups: List[List[int]] = []
    for i, g in enumerate(geoms):
        taken = set()
        if g is not None and not g.is_empty:
            for j in np.asarray(sindex.query(g)).tolist():
                if j < i and colour[j] >= 0 and colour[j] not in taken:
                    h = geoms[j]
                    # Interiors meet: 2-dimensional intersection, not a shared edge or corner.
                    if h is not None and not h.is_empty and g.relate_pattern(h, "T********"):
                        taken.add(colour[j])
        k = 0
        while k in taken:
            k += 1
        colour[i] = k
        if k == len(groups):
            groups.append([])
        groups[k].append(i)
    return groups


def _read_zones(path: PathLike, layer: Optional[str]):
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise InputError(f"zones {p} do not exist")
    try:
        return gpd.read_file(str(p), layer=layer) if layer else gpd.read_file(str(p))
    except Exception as exc:  # fiona / pyogrio raise their own types
        raise InputError(f"cannot read zones {p} as a vector layer: {' '.join(str(exc).split())}") from None


def stats_sources(mask: PathLike, zones: PathLike, classes: Optional[str] = None) -> List[InputSource]:
    """What ``glnet stats`` reads: the mask, the zones (with their sidecars) and a class-table file."""
    return [InputSource(Path(mask), "the mask"), InputSource(Path(zones), "the zones (--zones)"),
            *spec_sources(classes, "the class table (--classes)")]


def check_output(out: PathLike, overwrite: bool, inputs: Sequence[InputSource] = (), layer: Optional[str] = None) -> str:
    """Check the output path before any work; returns its format (``".csv"`` or ``".gpkg"``).

    Parameters
    ----------
    out:
        The table or GeoPackage to write.
    overwrite:
        An existing file may be replaced (in a GeoPackage: the layer only).
    inputs:
        What the statistics read (:func:`stats_sources`): ``out`` may be none of them.
    layer:
        The GeoPackage layer (default: the file name's stem); reserved names are refused.

    Raises
    ------
    InputError
        Unknown extension, a reserved layer name, or (an
        :class:`~glnet.glnet_core.errors.OutputPathError`, see
        :func:`~glnet.glnet_core.formats.output_plan.check_outputs`) an
        output that is an input, a missing folder, a folder, or an existing
        file without ``overwrite``.
    """
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"--out {p}: the output must end in .csv or .gpkg")
    if suffix == ".gpkg":
        check_layer_name(layer or p.stem, from_file=not layer)
    check_outputs([OutputTarget(p, "--out")], inputs, overwrite=overwrite)
    return suffix


@with_bounded_gdal_cache
def zonal_stats(
    mask_path: PathLike,
    zones_path: PathLike,
    field: str,
    classes: Optional[str] = None,
    zones_layer: Optional[str] = None,
    callbacks: Optional[Callbacks] = None,
    block_rows: Optional[int] = None,
) -> ZonalStats:
    """Ground area of each class in each zone (see the module docstring).

    Parameters
    ----------
    mask_path:
        Class mask (single band of class ids, 255 nodata).
    zones_path:
        Vector layer of zone polygons.
    field:
        Zone attribute naming each zone (kept as the first output column).
    classes:
        Class table spec (preset, class count or JSON); default: the mask's class names.
    zones_layer:
        Layer of ``zones_path`` to read (default: the first).
    callbacks:
        Progress in rows of the mask (after each block); cancellation is
        polled before each block and stops with :class:`Cancelled`.
    block_rows:
        Rows per block (default: up to 1024, fewer for wide masks); the
        results do not depend on it.

    Returns
    -------
    ZonalStats

    Raises
    ------
    InputError
        Missing files, a mask that is not a class mask or holds values outside
        the class table, a missing zone field, zones without a CRS for a
        georeferenced mask.
    ClassTableError
        No class table.
    """
    from rasterio.features import rasterize
    from shapely.geometry import box

    ds = open_class_mask(mask_path, "mask")
    try:
        table = resolve_class_table(classes, ds, mask_path, "mask")
        zones = _read_zones(zones_path, zones_layer)
        if field not in zones.columns or field == zones.geometry.name:
            fields = [str(c) for c in zones.columns if c != zones.geometry.name]
            raise InputError(f"zones {zones_path} have no field {field!r}; the fields are: {', '.join(fields) or '(none)'}")
        work = zones
        if ds.crs is not None:
            if zones.crs is None:
                raise InputError(
                    f"zones {zones_path} have no CRS but the mask has one; set the zones' CRS (e.g. in QGIS or with ogr2ogr -a_srs)"
                )
            if zones.crs != ds.crs:
                work = zones.to_crs(ds.crs.to_wkt())
        elif zones.crs is not None:
            raise InputError(f"mask {mask_path} has no CRS, so zones in {zones.crs} cannot be placed on it")

        geoms = list(work.geometry)
        n_zones, n_classes = len(geoms), len(table)
        areas = np.zeros((n_zones, n_classes), dtype=np.float64)
        if n_zones:
            sindex = BoundsIndex(geoms)
            groups = [np.asarray(g, dtype=np.int64) for g in overlap_groups(geoms, sindex)]
            group_of = np.empty(n_zones, dtype=np.int64)
            for k, g in enumerate(groups):
                group_of[g] = k
            blocks = row_blocks(ds.height, ds.width, rows=block_rows)
            cb = callbacks or Callbacks()
            counter = cb.counter(ds.height, "rows")
            for r0, r1 in blocks:
                cb.check_cancelled()
                transform, block_bounds = row_block_grid(ds, r0, r1)
                # BoundsIndex never returns None or empty zones (their bounds are +inf..-inf).
                hits = np.asarray(sindex.query(box(*block_bounds)), dtype=np.int64)
                if hits.size:
                    raw_ids = read_class_ids(ds, mask_path, r0, r1, n_classes, "mask")
                    valid = raw_ids != NODATA
                    ids = np.where(valid, raw_ids, 0).astype(np.int64)
                    # Pixel areas per row, broadcast over the block's columns.
                    weights = np.broadcast_to(pixel_area_rows_m2(ds.crs, ds.transform, r0, r1)[:, None], ids.shape)
                    for k in np.unique(group_of[hits]).tolist():
                        members = np.sort(hits[group_of[hits] == k])
                        zone_idx = rasterize(
                            ((geoms[i], j) for j, i in enumerate(members.tolist())),
                            out_shape=ids.shape, transform=transform, fill=-1, all_touched=False, dtype="int32",
                        )
                        sel = valid & (zone_idx >= 0)
                        if not sel.any():
                            continue
                        key = zone_idx[sel].astype(np.int64) * n_classes + ids[sel]
                        sums = np.bincount(key, weights=weights[sel], minlength=len(members) * n_classes)
                        areas[members] += sums.reshape(len(members), n_classes)
                counter.step(r1)
        sources = (InputSource(Path(mask_path), "the mask"), InputSource(Path(zones_path), "the zones (--zones)"))
        return ZonalStats(zones, field, table, areas, sources)
    finally:
        ds.close()


def write_stats(stats: ZonalStats, out: PathLike, overwrite: bool = False, layer: Optional[str] = None) -> Path:
    """Write the statistics as CSV or GeoPackage, atomically (temporary name, then rename).

    CSV: one row per zone; columns: the zone field, ``area_m2``, and per class
    ``<class>_m2`` and ``<class>_share`` (0-1; empty for a zone without valid
    pixels). GeoPackage: the same columns with the zones' geometries, in the
    zones' own CRS, in layer ``layer`` (default: the file name's stem); an
    existing GeoPackage (with ``overwrite``) keeps its other layers.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        Bad extension, or ``out`` exists and ``overwrite`` is false; a zone
        field whose name clashes with a statistics column.
    OutputWriteError
        If writing fails (a full disk); nothing is left behind.
    """
    p = Path(out)
    suffix = check_output(p, overwrite, stats.sources, layer)
    cols = stats.columns()
    if stats.field in cols:
        raise InputError(f"the zone field {stats.field!r} has the name of a statistics column; rename it in the zones")
    rows = stats.rows()
    # The GeoPackage inside a part folder, under its own name: GDAL wants the
    # .gpkg extension and puts its journal next to the file.
    with atomic_file(p, overwrite=overwrite, option="--out", in_folder=suffix == ".gpkg") as tmp:
        if suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([stats.field] + cols)
                for row in rows:
                    w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
        else:
            import geopandas as gpd
            import pandas as pd

            data = pd.DataFrame(rows, columns=[stats.field] + cols)
            for c in cols:
                data[c] = data[c].astype("float64")  # None shares -> NaN (NULL in the GeoPackage)
            gdf = gpd.GeoDataFrame(data, geometry=list(stats.zones.geometry), crs=stats.zones.crs)
            if overwrite:
                seed_geopackage(p, tmp)  # replace the layer only: the file's other layers stay
            try:
                gdf.to_file(str(tmp), driver="GPKG", layer=layer or p.stem, layer_options={"OVERWRITE": "YES"})
            except Exception as exc:  # pyogrio / fiona errors have no common base class
                raise write_failed(p, exc, "--out") from None
    return p
