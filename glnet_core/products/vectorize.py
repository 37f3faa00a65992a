"""Class masks to polygon layers: ``glnet vectorize`` and ``segment --out-vector``.

The polygons follow the pixel edges exactly (GDAL's polygonizer as
``rasterio.features.shapes`` runs it, 4-connectivity): one polygon per
connected region of one class, holes kept, nodata (255) left out. They are in
the mask's CRS and carry ``class_id``, ``class_name`` (the identifier),
``class_label`` (the display label, :attr:`..formats.classes.ClassTable.labels`), ``area_m2``
(:func:`glnet_core.areas.polygon_areas_m2`: on the ellipsoid for geographic
and Mercator CRSs) and, when a confidence raster is given, ``confidence``
(its mean over the polygon's pixels, nodata pixels left out).

Streaming: the mask is read in bands of rows (:data:`BAND_ROWS`) and
polygonized band by band, regions joined across band lines
(:func:`.polygonize.polygonize_mask`); the result equals polygonizing the
whole mask at once. Memory: one band of the mask (and of the confidence raster), the open
regions, and the finished polygons until they are written (the output layer
is written in one go, so the polygon set is held whole: roughly 100 bytes per
vertex).

``min_area_m2`` (minimum mapping unit): regions smaller than it are merged
into their largest neighbour in the mask, before polygonizing
(:func:`.sieve.sieve_array`, GDAL's sieve filter), so no hole or gap appears.
Nodata is never filled and never absorbs a region; a region enclosed by
nodata alone has no neighbour and is kept. The sieve needs the whole mask in
memory (one byte per pixel).

``simplify`` (metres): the boundary network of all polygons is simplified
once (:func:`.simplify.simplify_coverage`), so neighbouring polygons keep sharing
their boundaries: no gaps or overlaps appear between classes. It works on
the finished polygon set (held whole anyway).

The mask is read through :mod:`..formats.class_mask` (one band of integer
class ids; 255 and the file's nodata value are nodata) and the layer written
by :class:`..formats.vector_layers.ClassPolygonWriter`.

Works with shapely 1.8 / 2.x, rasterio 1.3 / 1.4, numpy 1.24 / 2,
geopandas 0.12 (fiona) / 1.x (pyogrio). No torch, no QGIS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..callbacks import Callbacks
from ..errors import InputError
from ..formats.class_mask import class_styles, dataset_class_info, open_class_mask, open_dataset, read_class_ids
from ..formats.classes import NODATA, ClassTable
from ..formats.gdal_env import with_bounded_gdal_cache
from ..formats.output_plan import InputSource, check_outputs
from ..formats.vector_layers import ClassPolygonWriter, check_layer_name, driver_for, vector_target
from ..geo.crs import metres_to_crs_units
from ..messages import UNNAMED_CLASS_IDS
from .polygon_rules import checked_polygon_values
from .polygonize import BAND_ROWS, polygonize_mask
from .sieve import min_area_pixels, sieve_array
from .simplify import simplify_coverage

__all__ = ["BAND_ROWS", "VectorizeResult", "vectorize", "check_vector_output"]

#: Pixels per streamed band (rows = BAND_PIXELS / width, within MIN_BAND_ROWS .. band_rows).
BAND_PIXELS = 2_000_000
MIN_BAND_ROWS = 64

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class VectorizeResult:
    """What :func:`vectorize` wrote.

    Attributes
    ----------
    path: the output file.
    layer: its layer name (GeoPackage; the file stem otherwise).
    driver: the GDAL driver used.
    count: number of polygons written.
    counts: polygons per class id.
    areas_m2: total area per class id (square metres).
    warnings: one-line messages worth showing the user (e.g. no class names).
    styles: ``(class id, label, (r, g, b))`` of the categories the layer's
        style shows (:func:`..formats.class_mask.class_styles`), as stored in a GeoPackage's
        default style; for applying the same style elsewhere (the QGIS plugin).
    """

    path: Path
    layer: str
    driver: str
    count: int
    counts: Dict[int, int] = field(default_factory=dict)
    areas_m2: Dict[int, float] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    styles: List[Tuple[int, str, Tuple[int, int, int]]] = field(default_factory=list)


def check_vector_output(
    out_path: PathLike,
    *,
    overwrite: bool,
    driver: Optional[str] = None,
    layer: Optional[str] = None,
    inputs: Sequence[InputSource] = (),
    option: Optional[str] = None,
) -> Tuple[str, str]:
    """Check a polygon output before any work; returns its driver and layer name.

    Parameters
    ----------
    out_path:
        The vector file to write.
    overwrite:
        An existing file (or Shapefile sidecar) may be replaced; in an
        existing GeoPackage only the layer is replaced.
    driver, layer:
        As :func:`vectorize`.
    inputs:
        What the run reads (the mask, the confidence raster, a bundle): the
        output may be none of them (:func:`..formats.output_plan.check_outputs`).
    option:
        The option naming the output (``--out``), for messages.

    Returns
    -------
    (str, str)
        The GDAL driver and the layer name (the file's stem by default).

    Raises
    ------
    InputError
        An unknown format, a reserved or empty GeoPackage layer name, or (an
        :class:`~glnet.glnet_core.errors.OutputPathError`) an output that is
        an input or cannot be used.
    """
    out = Path(out_path)
    drv = driver_for(out, driver, option=option)
    layer_name = layer or out.stem
    if drv == "GPKG":
        check_layer_name(layer_name, from_file=not layer)
    check_outputs([vector_target(out, option, drv)], inputs, overwrite=overwrite)
    return drv, layer_name


@with_bounded_gdal_cache
def vectorize(
    mask_path: PathLike,
    out_path: PathLike,
    classes: Optional[ClassTable] = None,
    min_area_m2: float = 0.0,
    simplify: float = 0.0,
    driver: Optional[str] = None,
    layer: Optional[str] = None,
    overwrite: bool = False,
    confidence_path: Optional[PathLike] = None,
    callbacks: Optional[Callbacks] = None,
    band_rows: int = BAND_ROWS,
    option: Optional[str] = None,
) -> VectorizeResult:
    """Polygonize a class mask into a vector layer (see the module docstring).

    Parameters
    ----------
    mask_path:
        Single-band integer class mask (uint8, nodata 255), e.g. from
        ``glnet segment``.
    out_path:
        The vector file to write.
    classes:
        Class table for names and colours (e.g. ``load_bundle(b).classes``);
        None: the mask's category names and colour table.
    min_area_m2:
        Minimum mapping unit; smaller regions are merged into their
        neighbours in the mask first (whole mask in memory). 0: none.
    simplify:
        Douglas-Peucker tolerance in metres, applied to the shared boundary
        network (no gaps or overlaps). In a geographic CRS, metres are
        converted at 111 320 m per degree. 0: exact pixel edges.
    driver:
        ``GPKG``, ``GeoJSON``, ``FlatGeobuf`` or ``ESRI Shapefile``; None:
        from the extension.
    layer:
        Layer name (GeoPackage); default the file stem. Names GeoPackage
        keeps for itself (``layer_styles``, ``gpkg_*``...) are refused.
    overwrite:
        Replace an existing output; in an existing GeoPackage, replace the
        layer only (the others stay, as with ``ogr2ogr -overwrite``).
    confidence_path:
        Confidence raster on the mask's grid (``glnet segment
        --confidence``); adds the ``confidence`` attribute.
    callbacks:
        Progress in rows while polygonizing; cancellation is polled once per
        band and stops with :class:`Cancelled`, nothing written.
    band_rows:
        Rows per streamed band.
    option:
        The option that named ``out_path`` (``--out``), for messages.

    Returns
    -------
    VectorizeResult

    Raises
    ------
    InputError
        Missing or unreadable mask / confidence raster, not a class mask,
        grids that differ, unknown format, a reserved layer name, an output
        that is the mask or the confidence raster, exists without
        ``overwrite`` or whose folder is missing (:func:`check_vector_output`).
    Cancelled
        When cancelled.
    """
    from rasterio.windows import Window
    from shapely.affinity import affine_transform

    mask_path = Path(mask_path)
    out = Path(out_path)
    sources = [InputSource(mask_path, "the mask")]
    if confidence_path is not None:
        sources.append(InputSource(Path(confidence_path), "the confidence raster"))
    drv, layer_name = check_vector_output(out, overwrite=overwrite, driver=driver, layer=layer, inputs=sources, option=option)
    min_area_m2, simplify = checked_polygon_values(min_area_m2, simplify)

    ds = open_class_mask(mask_path, "mask")
    conf_ds = None
    try:
        names, labels, colours, warns = dataset_class_info(ds, mask_path, classes)
        crs, tr, h, w = ds.crs, ds.transform, ds.height, ds.width
        if confidence_path is not None:
            conf_ds = open_dataset(confidence_path, "confidence raster")
            if (conf_ds.width, conf_ds.height) != (w, h) or conf_ds.count != 1:
                raise InputError(
                    f"the confidence raster {confidence_path} ({conf_ds.width} x {conf_ds.height}, {conf_ds.count} band(s)) "
                    f"does not fit the mask ({w} x {h}, 1 band)"
                )
        size = min_area_pixels(min_area_m2, crs, tr, h, w)
        if size > 1:
            whole = sieve_array(read_class_ids(ds, mask_path, 0, h), size, NODATA)
            read_rows = lambda r0, r1: whole[r0:r1]  # noqa: E731
        else:
            read_rows = lambda r0, r1: read_class_ids(ds, mask_path, r0, r1)  # noqa: E731
        read_conf = None
        conf_nodata = None
        if conf_ds is not None:
            read_conf = lambda r0, r1: conf_ds.read(1, window=Window(0, r0, w, r1 - r0))  # noqa: E731
            conf_nodata = conf_ds.nodata
        coeffs = [tr.a, tr.b, tr.d, tr.e, tr.c, tr.f]
        sink = ClassPolygonWriter(
            out, drv, layer_name, crs, names, confidence_path is not None, overwrite, stream=simplify <= 0, labels=labels,
        )
        try:
            # Bands of about BAND_PIXELS pixels: a fixed row count would make a
            # band, and the regions open in it, grow with the mask's width.
            rows = min(int(band_rows), max(MIN_BAND_ROWS, BAND_PIXELS // max(1, w)))
            for cid, g, s, c in polygonize_mask(
                read_rows, h, w, NODATA, rows, read_conf, conf_nodata, callbacks
            ):
                sink.add(cid, affine_transform(g, coeffs), s / c if c else float("nan"))
            if simplify > 0 and sink.geoms:
                sink.replace_geometries(simplify_coverage(sink.geoms, metres_to_crs_units(simplify, crs), _corners(coeffs, w, h)))
            (callbacks or Callbacks()).check_cancelled()
            styles = class_styles(labels, colours, list(sink.counts))
            sink.commit(styles)
        except BaseException:
            sink.abort()
            raise
    finally:
        ds.close()
        if conf_ds is not None:
            conf_ds.close()

    missing = sorted(i for i in sink.counts if i not in names)
    if missing and names:
        warns.append(UNNAMED_CLASS_IDS(ids=", ".join(map(str, missing)), count=len(missing)))
    return VectorizeResult(out, layer_name, drv, sink.count, dict(sink.counts), dict(sink.areas), warns, styles)


def _corners(coeffs: list, w: int, h: int) -> List[Tuple[float, float]]:
    # The raster's corners stay fixed when simplifying; transformed exactly as
    # the polygons were, so that they match their vertices bit for bit.
    from shapely.affinity import affine_transform
    from shapely.geometry import MultiPoint

    frame = affine_transform(MultiPoint([(0, 0), (w, 0), (w, h), (0, h)]), coeffs)
    return [(float(p.x), float(p.y)) for p in frame.geoms]
