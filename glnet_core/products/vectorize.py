"""Class masks to polygon layers: ``glnet vectorize`` and ``segment --out-vector``.

The polygons follow the pixel edges exactly (GDAL's polygonizer as
``rasterio.features.shapes`` runs it, 4-connectivity): one polygon per
connected region of one class, holes kept, nodata (255) left out. They are in
the mask's CRS and carry ``class_id``, ``class_name``, ``area_m2``
(:func:`glnet_core.areas.polygon_areas_m2`: on the ellipsoid for geographic
and Mercator CRSs) and, when a confidence raster is given, ``confidence``
(its mean over the polygon's pixels, nodata pixels left out).

Streaming: the mask is read in bands of rows (:data:`BAND_ROWS`). Regions are
polygonized band by band in pixel coordinates (integers, so the pieces of a
region meet exactly along band lines); a piece that reaches the bottom of its
band stays *open* and is joined with the pieces of the same class that touch
it across the line in the next band (a union-find over the pixels on both
sides of the line). A region is emitted as soon as none of its pieces reaches
the band's bottom. The result equals polygonizing the whole mask at once.
Memory: one band of the mask (and of the confidence raster), the open
regions, and the finished polygons until they are written (the output layer
is written in one go, so the polygon set is held whole: roughly 100 bytes per
vertex).

``min_area_m2`` (minimum mapping unit): regions smaller than it are merged
into their largest neighbour in the mask, before polygonizing
(:func:`sieve_array`, GDAL's sieve filter), so no hole or gap appears.
Nodata is never filled and never absorbs a region; a region enclosed by
nodata alone has no neighbour and is kept. The sieve needs the whole mask in
memory (one byte per pixel).

``simplify`` (metres): the boundary network of all polygons is simplified
once (:func:`simplify_coverage`), so neighbouring polygons keep sharing
their boundaries: no gaps or overlaps appear between classes. It works on
the finished polygon set (held whole anyway).

Works with shapely 1.8 / 2.x, rasterio 1.3 / 1.4, numpy 1.24 / 2,
geopandas 0.12 (fiona) / 1.x (pyogrio). No torch, no QGIS.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..formats.classes import NODATA, ClassTable
from ..errors import Cancelled, InputError
from ..formats.gdal_env import with_bounded_gdal_cache

__all__ = [
    "BAND_ROWS",
    "DRIVERS",
    "Cancelled",
    "VectorizeResult",
    "driver_for",
    "mask_class_info",
    "class_styles",
    "min_area_pixels",
    "sieve_array",
    "sieve_mask",
    "polygonize_mask",
    "simplify_coverage",
    "vectorize",
]

#: Rows per band when streaming a mask.
BAND_ROWS = 1024
#: Pixels per streamed band (rows = BAND_PIXELS / width, within MIN_BAND_ROWS .. band_rows).
BAND_PIXELS = 2_000_000
MIN_BAND_ROWS = 64

#: Output formats: GDAL driver name -> file extensions that select it.
DRIVERS: Dict[str, Tuple[str, ...]] = {
    "GPKG": (".gpkg",),
    "GeoJSON": (".geojson", ".json"),
    "FlatGeobuf": (".fgb",),
    "ESRI Shapefile": (".shp",),
}

_MAX_SIEVE_PASSES = 64

_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")

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
    styles: ``(class id, name, (r, g, b))`` of the categories the layer's
        style shows (:func:`class_styles`), as stored in a GeoPackage's
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


# -- reading masks ----------------------------------------------------------


def _open_raster(path: PathLike, what: str):
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {p} does not exist")
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder; give a raster file")
    try:
        return rasterio.open(str(p))
    except (RasterioError, OSError) as exc:
        raise InputError(f"cannot open {what} {p}: {' '.join(str(exc).split())}") from None


def _check_mask(ds, path: PathLike) -> int:
    """Check that ``ds`` is a class mask; returns its nodata value."""
    if ds.count != 1:
        raise InputError(f"{path} is not a class mask: it has {ds.count} bands (a mask has one band of class ids)")
    dtype = np.dtype(ds.dtypes[0])
    if dtype.kind not in "ui" or dtype.itemsize > 2:
        raise InputError(
            f"{path} is not a class mask: its pixels are {dtype.name} (a mask holds class ids as uint8, as 'glnet segment' writes)"
        )
    nodata = ds.nodata
    return NODATA if nodata is None else int(nodata)


def _category_names(path: PathLike) -> List[str]:
    """Band 1's category names from the GDAL sidecar ``PATH.aux.xml`` ([] when none)."""
    aux = Path(str(path) + ".aux.xml")
    if not aux.is_file():
        return []
    try:
        root = ET.parse(str(aux)).getroot()
    except (ET.ParseError, OSError):
        return []
    for band in root.iter("PAMRasterBand"):
        if band.get("band", "1") == "1":
            cats = band.find("CategoryNames")
            if cats is not None:
                return [(c.text or "") for c in cats.findall("Category")]
    return []


def _generic_colour(cid: int) -> Tuple[int, int, int]:
    # Deterministic and well spread (golden-angle hue), so repeated runs match.
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((cid * 0.618033988749895) % 1.0, 0.65, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def mask_class_info(
    mask_path: PathLike, classes: Optional[ClassTable] = None
) -> Tuple[Dict[int, str], Dict[int, Tuple[int, int, int]], List[str]]:
    """Names and colours of a mask's classes.

    Names come from ``classes`` when given, else from the mask's category
    names (``MASK.tif.aux.xml``, as ``glnet segment`` writes them); colours
    from ``classes``, else the mask's colour table. Ids without a name are
    called ``class_<id>`` (with a warning, since the layer is then less
    useful); ids without a colour get a generated one.

    Parameters
    ----------
    mask_path:
        The mask GeoTIFF.
    classes:
        A class table (e.g. a bundle's ``classes``), or None.

    Returns
    -------
    (names, colours, warnings):
        Dicts keyed by class id for the ids 0..254 that have names or
        colours, and the warnings.

    Raises
    ------
    InputError
        If the mask cannot be opened or is not a class mask.
    """
    names: Dict[int, str] = {}
    colours: Dict[int, Tuple[int, int, int]] = {}
    warnings: List[str] = []
    with _open_raster(mask_path, "mask") as ds:
        nodata = _check_mask(ds, mask_path)
        try:
            cmap = ds.colormap(1)
        except ValueError:  # no colour table
            cmap = {}
    if classes is not None:
        for c in classes.classes:
            names[c.id] = c.name
            colours[c.id] = tuple(int(v) for v in c.colour)  # type: ignore[assignment]
    else:
        for i, n in enumerate(_category_names(mask_path)):
            if n.strip() and i != nodata:
                names[i] = n
        for i, rgba in cmap.items():
            if i != nodata and i not in colours and len(rgba) >= 4 and rgba[3] > 0:
                colours[int(i)] = (int(rgba[0]), int(rgba[1]), int(rgba[2]))
        if not names:
            warnings.append(
                f"{mask_path} has no class names (no category names in {Path(str(mask_path) + '.aux.xml').name}); "
                "using class_<id>; pass --model BUNDLE for the model's names"
            )
    return names, colours, warnings


def class_styles(
    names: Dict[int, str], colours: Dict[int, Tuple[int, int, int]], ids: Sequence[int] = ()
) -> List[Tuple[int, str, Tuple[int, int, int]]]:
    """The categories a styled class layer shows: ``(class id, name, (r, g, b))``.

    One entry per class id that has a name or occurs in ``ids``, sorted by
    id; ids without a name are called ``class_<id>``, ids without a colour
    get a generated one (deterministic). The same list styles the polygons'
    categorized renderer and the mask's palette.

    Parameters
    ----------
    names, colours:
        As :func:`mask_class_info` returns them.
    ids:
        Class ids that occur in the data (e.g. :attr:`VectorizeResult.counts`).

    Returns
    -------
    list of (int, str, (int, int, int))
    """
    present = sorted(set(int(i) for i in ids) | set(names))
    return [(i, names.get(i, f"class_{i}"), tuple(colours.get(i, _generic_colour(i)))) for i in present]  # type: ignore[misc]


# -- minimum mapping unit ---------------------------------------------------


def min_area_pixels(min_area_m2: float, crs, transform, height: int, width: int) -> int:
    """The sieve size (pixels) for a minimum mapping unit of ``min_area_m2``.

    ``ceil(min_area_m2 / pixel area)``; on the ellipsoid (geographic and
    Mercator CRSs) the pixel area of the raster's centre pixel is used.

    Returns
    -------
    int
        At least 1 (1 means: nothing to sieve).
    """
    from ..geo.areas import pixel_area_rows_m2

    if not min_area_m2 or min_area_m2 <= 0:
        return 1
    mid = max(0, int(height) // 2)
    px = float(pixel_area_rows_m2(crs, transform, mid, mid + 1, col=int(width) // 2)[0])
    if not px > 0:
        raise InputError("the mask's pixel area is zero; it has no usable transform")
    return max(1, int(math.ceil(min_area_m2 / px - 1e-9)))


def sieve_array(mask: np.ndarray, size: int, nodata: int = NODATA, connectivity: int = 4) -> np.ndarray:
    """Merge regions smaller than ``size`` pixels into their largest neighbour.

    Parameters
    ----------
    mask:
        2-D class ids (uint8, int16, uint16 or int32).
    size:
        Regions with fewer pixels are merged (GDAL's sieve filter);
        ``size <= 1`` returns a copy.
    nodata:
        Value that is never changed and never absorbs a region (it is
        masked out of the filter); a region surrounded by nodata alone stays.
    connectivity:
        4 (default, as the polygons) or 8.

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and type.
    """
    from rasterio.features import sieve

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {mask.shape}")
    if size <= 1 or mask.size == 0:
        return mask.copy()
    src = mask if mask.dtype in (np.uint8, np.int16, np.uint16, np.int32) else mask.astype(np.int32)
    valid = src != nodata
    out = np.ascontiguousarray(src)
    # One pass of GDAL's filter leaves a small region whose neighbours are
    # all small too (it merges only into regions that are big enough), so
    # repeat until nothing changes: each pass that changes something removes
    # regions, so this ends (in practice after 2-3 passes).
    for _ in range(_MAX_SIEVE_PASSES):
        new = np.asarray(sieve(out, int(size), mask=valid, connectivity=connectivity), dtype=src.dtype)
        if np.array_equal(new, out):
            break
        out = new
    out[~valid] = nodata  # belt and braces: nodata must stay exactly as it was
    return out.astype(mask.dtype, copy=False)


def sieve_mask(
    src_path: PathLike, dst_path: Optional[PathLike] = None, min_area_m2: float = 0.0, overwrite: bool = False
) -> Tuple[Path, int]:
    """Apply a minimum mapping unit to a mask file.

    Reads the whole mask (one byte per pixel), sieves it with
    :func:`sieve_array` and writes it to ``dst_path`` (or back to
    ``src_path`` when None), keeping the profile, colour table, tags and
    category-name sidecar. The new file is written next to the target and
    renamed over it.

    Parameters
    ----------
    src_path:
        The mask GeoTIFF.
    dst_path:
        Where to write; None replaces ``src_path`` (no ``overwrite`` needed).
    min_area_m2:
        Minimum region area in square metres.
    overwrite:
        Allow replacing an existing ``dst_path``.

    Returns
    -------
    (path, size):
        The written mask and the sieve size in pixels (1: nothing changed).

    Raises
    ------
    InputError
        Bad mask, or ``dst_path`` exists without ``overwrite``.
    """
    import shutil

    import rasterio

    src_path = Path(src_path)
    dst = Path(dst_path) if dst_path is not None else src_path
    if dst != src_path and dst.exists() and not overwrite:
        raise InputError(f"{dst} already exists; pass --overwrite to replace it")
    with _open_raster(src_path, "mask") as ds:
        nodata = _check_mask(ds, src_path)
        size = min_area_pixels(min_area_m2, ds.crs, ds.transform, ds.height, ds.width)
        data = ds.read(1)
        profile = ds.profile
        tags = ds.tags()
        try:
            cmap = ds.colormap(1)
        except ValueError:
            cmap = None
        desc = ds.descriptions[0]
    out = sieve_array(data, size, nodata)
    part = dst.with_name("." + dst.name + ".part")
    try:
        with rasterio.open(str(part), "w", **profile) as o:
            if cmap:
                o.write_colormap(1, cmap)
            o.write(out, 1)
            o.update_tags(**tags)
            if desc:
                o.set_band_description(1, desc)
        aux_src = Path(str(src_path) + ".aux.xml")
        if dst != src_path and aux_src.is_file():
            shutil.copyfile(str(aux_src), str(dst) + ".aux.xml")
        # GDAL may leave its own sidecar for the part file (statistics); the
        # category names are in the mask's sidecar, kept or copied above.
        os.replace(str(part), str(dst))
    finally:
        for p in (part, Path(str(part) + ".aux.xml")):
            if p.exists():
                p.unlink()
    return dst, size


# -- polygonizing -----------------------------------------------------------


class _UnionFind:
    def __init__(self) -> None:
        self.parent: Dict[int, int] = {}

    def find(self, a: int) -> int:
        p = self.parent.setdefault(a, a)
        while p != self.parent[p]:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        self.parent[a] = p
        return p

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _valid(geom):
    """``geom`` made valid and reduced to its polygonal part (shapely 1.8 and 2)."""
    if geom.is_valid:
        return geom
    try:
        from shapely.validation import make_valid

        fixed = make_valid(geom)
    except ImportError:  # shapely < 1.8
        fixed = geom.buffer(0)
    if fixed.geom_type == "GeometryCollection":
        from shapely.geometry import MultiPolygon

        polys = []
        for g in fixed.geoms:
            if g.geom_type == "Polygon":
                polys.append(g)
            elif g.geom_type == "MultiPolygon":
                polys.extend(g.geoms)
        fixed = MultiPolygon(polys) if len(polys) != 1 else polys[0]
    return fixed


def _merge(pieces: list):
    """One region from its band pieces (pixel coordinates)."""
    from shapely.ops import unary_union

    if len(pieces) == 1:
        return _valid(pieces[0])
    merged = unary_union(pieces)
    # The band lines leave collinear vertices behind; a zero-tolerance
    # simplification drops exactly those and nothing else.
    merged = merged.simplify(0, preserve_topology=True)
    return _valid(merged)


def polygonize_mask(
    read_rows: Callable[[int, int], np.ndarray],
    height: int,
    width: int,
    nodata: int = NODATA,
    band_rows: int = BAND_ROWS,
    read_confidence: Optional[Callable[[int, int], np.ndarray]] = None,
    confidence_nodata: Optional[float] = NODATA,
    progress: Optional[Callable[[int, int], None]] = None,
    is_cancelled: Optional[Callable[[], bool]] = None,
) -> Iterator[Tuple[int, object, float, int]]:
    """Polygonize a mask band by band, joining regions across band lines.

    Parameters
    ----------
    read_rows:
        ``read_rows(r0, r1)`` returns rows ``r0 .. r1-1`` as a 2-D array.
    height, width:
        Mask size in pixels.
    nodata:
        The value left out.
    band_rows:
        Rows per band (memory: one band plus the open regions).
    read_confidence:
        Like ``read_rows`` for a confidence raster on the same grid, or None.
    confidence_nodata:
        Confidence value left out of the means.
    progress:
        ``progress(rows_done, height)`` after each band.
    is_cancelled:
        Checked before each band; true raises :class:`Cancelled`.

    Yields
    ------
    (class_id, polygon, confidence_sum, confidence_count):
        One per connected region (4-connectivity), the polygon in *pixel*
        coordinates (x = column, y = row, integer corners), valid, holes
        kept. Regions are yielded as soon as they are complete, so the order
        is not the whole-mask order.

    Raises
    ------
    Cancelled
        When ``is_cancelled()`` turned true.
    """
    from affine import Affine
    from rasterio.features import rasterize, shapes
    from shapely.geometry import shape

    band_rows = max(1, int(band_rows))
    uf_next = 0
    # Open regions: id -> [class id, pieces, confidence sum, confidence count].
    open_regions: Dict[int, list] = {}
    prev_ids: Optional[np.ndarray] = None  # open region id per column of the previous band's last row (-1: none)
    prev_row: Optional[np.ndarray] = None
    for r0 in range(0, int(height), band_rows):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled("cancelled")
        r1 = min(r0 + band_rows, int(height))
        block = np.asarray(read_rows(r0, r1))
        if block.dtype not in (np.uint8, np.int16, np.uint16, np.int32):
            block = block.astype(np.int32)
        valid = block != nodata
        tr = Affine.translation(0, r0)
        pieces = [
            (shape(g), int(v))
            for g, v in shapes(np.ascontiguousarray(block), mask=valid, connectivity=4, transform=tr)
        ]
        n = len(pieces)
        sums = np.zeros(n + 1)
        counts = np.zeros(n + 1, dtype=np.int64)
        if read_confidence is not None and n:
            labels = rasterize(
                [(g, i + 1) for i, (g, _) in enumerate(pieces)], out_shape=block.shape, transform=tr, fill=0, dtype="int32"
            )
            conf = np.asarray(read_confidence(r0, r1), dtype=np.float64)
            ok = labels > 0
            if confidence_nodata is not None:
                ok &= conf != confidence_nodata
            ok &= np.isfinite(conf)
            sums = np.bincount(labels[ok], weights=conf[ok], minlength=n + 1)
            counts = np.bincount(labels[ok], minlength=n + 1)

        def edge_labels(row: int, which: int) -> np.ndarray:
            # Piece index + 1 per column of one edge row (0: nodata); only
            # pieces whose bounds reach that row are drawn.
            sel = [(g, i + 1) for i, (g, _) in enumerate(pieces) if g.bounds[which] == (row if which == 1 else row + 1)]
            if not sel:
                return np.zeros(int(width), dtype=np.int32)
            return rasterize(sel, out_shape=(1, int(width)), transform=Affine.translation(0, row), fill=0, dtype="int32")[0]

        uf = _UnionFind()
        base = uf_next
        uf_next += n
        for rid in open_regions:
            uf.find(rid)
        for i in range(n):
            uf.find(base + i)
        if prev_ids is not None and open_regions and n:
            top = edge_labels(r0, 1)
            link = (prev_ids >= 0) & (top > 0) & (prev_row == block[0])
            if link.any():
                pairs = np.unique(np.stack([prev_ids[link], top[link] - 1 + base], axis=1), axis=0)
                for a, b in pairs:
                    uf.union(int(a), int(b))
        # Regroup: open regions and new pieces by their root.
        groups: Dict[int, list] = {}
        for rid, reg in open_regions.items():
            root = uf.find(rid)
            g = groups.setdefault(root, [reg[0], [], 0.0, 0, False])
            g[1].extend(reg[1])
            g[2] += reg[2]
            g[3] += reg[3]
        last = r1 >= int(height)
        bottom = None if last else edge_labels(r1 - 1, 3)
        reaches = np.zeros(n, dtype=bool)
        if bottom is not None:
            reaches[np.unique(bottom[bottom > 0]) - 1] = True
        for i, (geom, cid) in enumerate(pieces):
            root = uf.find(base + i)
            g = groups.setdefault(root, [cid, [], 0.0, 0, False])
            g[1].append(geom)
            g[2] += float(sums[i + 1])
            g[3] += int(counts[i + 1])
            g[4] = g[4] or bool(reaches[i])
        open_regions = {}
        for root, (cid, geoms, s, c, still_open) in groups.items():
            if still_open:
                open_regions[root] = [cid, geoms, s, c]
            else:
                yield cid, _merge(geoms), s, c
        if bottom is not None:
            # Map piece labels to their (root) region ids for the next band's joins.
            root_of = np.full(n + 1, -1, dtype=np.int64)
            for i in range(n):
                root_of[i + 1] = uf.find(base + i)
            prev_ids = root_of[bottom]
            prev_row = block[-1].copy()
        if progress is not None:
            progress(r1, int(height))
    for cid, geoms, s, c in open_regions.values():  # nothing stays open after the last band; kept for safety
        yield cid, _merge(geoms), s, c


# -- topology-preserving simplification ------------------------------------


def _rings(geom) -> Iterator:
    from shapely.geometry import LineString

    parts = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for p in parts:
        yield LineString(p.exterior.coords)
        for r in p.interiors:
            yield LineString(r.coords)


def _split_at(line, points: set) -> list:
    """Split a LineString at any of its interior vertices in ``points``."""
    from shapely.geometry import LineString

    coords = list(line.coords)
    out, start = [], 0
    for k in range(1, len(coords) - 1):
        if coords[k] in points:
            out.append(LineString(coords[start : k + 1]))
            start = k
    out.append(LineString(coords[start:]))
    return out


class _Index:
    """Which of ``geoms`` covers a point; STRtree of shapely 1.8 (geometries) or 2 (indices)."""

    def __init__(self, geoms: Sequence) -> None:
        from shapely.strtree import STRtree

        import warnings

        self.geoms = list(geoms)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shapely 1.8 warns that STRtree changes in 2.0; both are handled
            self.tree = STRtree(self.geoms)
        self.ids = {id(g): i for i, g in enumerate(self.geoms)}

    def covering(self, point) -> Optional[int]:
        hits = self.tree.query(point)
        for h in hits:
            i = int(h) if isinstance(h, (int, np.integer)) else self.ids.get(id(h))
            if i is not None and self.geoms[i].covers(point):
                return i
        return None


def simplify_coverage(geoms: Sequence, tolerance: float, fixed_points: Sequence[Tuple[float, float]] = ()) -> List:
    """Simplify polygons that tile an area, keeping shared boundaries shared.

    The boundaries of all polygons are noded into one network, merged into
    arcs between junctions (and ``fixed_points``, e.g. the raster's
    corners), each arc simplified once (Douglas-Peucker, topology-preserving,
    end points kept), the network noded again (an arc that now crosses
    another gets a junction there) and polygonized. Each face goes to the
    input polygon that covers its representative point; faces in none
    (nodata) are dropped and each input's faces are joined.

    Parameters
    ----------
    geoms:
        Valid polygons with disjoint interiors (a coverage).
    tolerance:
        In the geometries' units; <= 0 returns them unchanged.
    fixed_points:
        Vertices that must stay where they are.

    Returns
    -------
    list
        One geometry per input, in order, or None where the polygon vanished.
    """
    from shapely.ops import linemerge, polygonize, unary_union

    geoms = list(geoms)
    if tolerance <= 0 or not geoms:
        return geoms
    lines = [ring for g in geoms for ring in _rings(g)]
    network = unary_union(lines)
    merged = linemerge(network) if network.geom_type == "MultiLineString" else network
    arcs = list(merged.geoms) if hasattr(merged, "geoms") else [merged]
    fixed = {tuple(map(float, p)) for p in fixed_points}
    out_arcs = []
    for arc in arcs:
        for part in _split_at(arc, fixed) if fixed else [arc]:
            s = part.simplify(tolerance, preserve_topology=True)
            out_arcs.append(s if not s.is_empty else part)
    faces = list(polygonize(unary_union(out_arcs)))
    index = _Index(geoms)
    owned: Dict[int, list] = {}
    for f in faces:
        if f.is_empty or f.area <= 0:
            continue  # degenerate face
        i = index.covering(f.representative_point())
        if i is not None:
            owned.setdefault(i, []).append(f)
    result: List = [None] * len(geoms)
    for i, fs in owned.items():
        result[i] = _valid(fs[0] if len(fs) == 1 else unary_union(fs))
    return result


# -- writing ----------------------------------------------------------------


def driver_for(path: PathLike, driver: Optional[str] = None) -> str:
    """The GDAL driver for ``path``: ``driver`` when given (case-insensitive), else by extension.

    Raises
    ------
    InputError
        For an unknown driver name or extension.
    """
    names = ", ".join(f'"{d}"' if " " in d else d for d in DRIVERS)
    if driver:
        for d in DRIVERS:
            if d.lower() == str(driver).strip().lower() or (d == "ESRI Shapefile" and str(driver).strip().lower() in ("shp", "shapefile")):
                return d
        raise InputError(f"unknown vector format {driver!r}; use one of {names}")
    ext = Path(path).suffix.lower()
    for d, exts in DRIVERS.items():
        if ext in exts:
            return d
    raise InputError(f"cannot tell the vector format of {Path(path).name} from its extension; use --format ({names})")


def _targets(path: Path, driver: str) -> List[Path]:
    if driver == "ESRI Shapefile":
        return [path.with_suffix(ext) for ext in _SHP_SIDECARS]
    return [path]


def _check_output(path: Path, driver: str, overwrite: bool) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"the output folder {folder} does not exist; create it first")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    if not os.access(str(folder), os.W_OK):
        raise InputError(f"the output folder {folder} is not writable")


def _write_layer(gdf, part: Path, driver: str, layer: str, append: bool = False) -> None:
    import warnings

    kwargs = {"driver": driver}
    if append:
        kwargs["mode"] = "a"
    if driver == "GPKG":
        kwargs["layer"] = layer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the Shapefile driver shortening nothing but warning anyway
        if len(gdf) == 0:
            # An empty frame has no geometry type to infer: declare one.
            try:
                gdf.to_file(str(part), geometry_type="Polygon", **kwargs)
                return
            except TypeError:
                kwargs["schema"] = _schema(gdf)
        gdf.to_file(str(part), **kwargs)


def _schema(gdf) -> dict:
    props = {}
    for col, dt in gdf.dtypes.items():
        if col == gdf.geometry.name:
            continue
        props[col] = "int" if dt.kind in "iu" else "float" if dt.kind == "f" else "str"
    return {"geometry": "Polygon", "properties": props}


# -- the whole job -----------------------------------------------------------


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
    progress: Optional[Callable[[int, int], None]] = None,
    is_cancelled: Optional[Callable[[], bool]] = None,
    band_rows: int = BAND_ROWS,
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
        Layer name (GeoPackage); default the file stem.
    overwrite:
        Replace an existing output.
    confidence_path:
        Confidence raster on the mask's grid (``glnet segment
        --confidence``); adds the ``confidence`` attribute.
    progress:
        ``progress(rows_done, rows_total)`` while polygonizing.
    is_cancelled:
        Polled once per band; true stops with :class:`Cancelled`, nothing written.
    band_rows:
        Rows per streamed band.

    Returns
    -------
    VectorizeResult

    Raises
    ------
    InputError
        Missing or unreadable mask / confidence raster, not a class mask,
        grids that differ, unknown format, output that exists without
        ``overwrite`` or whose folder is missing.
    Cancelled
        When cancelled.
    """
    from rasterio.windows import Window
    from shapely.affinity import affine_transform

    mask_path = Path(mask_path)
    out = Path(out_path)
    drv = driver_for(out, driver)
    _check_output(out, drv, overwrite)
    if min_area_m2 is None or min_area_m2 < 0 or not math.isfinite(min_area_m2):
        raise InputError(f"--min-area must be a non-negative number of square metres, got {min_area_m2}")
    if simplify is None or simplify < 0 or not math.isfinite(simplify):
        raise InputError(f"--simplify must be a non-negative number of metres, got {simplify}")
    layer_name = layer or out.stem
    names, colours, warns = mask_class_info(mask_path, classes)

    ds = _open_raster(mask_path, "mask")
    conf_ds = None
    try:
        nodata = _check_mask(ds, mask_path)
        crs, tr, h, w = ds.crs, ds.transform, ds.height, ds.width
        if confidence_path is not None:
            conf_ds = _open_raster(confidence_path, "confidence raster")
            if (conf_ds.width, conf_ds.height) != (w, h) or conf_ds.count != 1:
                raise InputError(
                    f"the confidence raster {confidence_path} ({conf_ds.width} x {conf_ds.height}, {conf_ds.count} band(s)) "
                    f"does not fit the mask ({w} x {h}, 1 band)"
                )
        size = min_area_pixels(min_area_m2, crs, tr, h, w)
        if size > 1:
            whole = sieve_array(ds.read(1), size, nodata)
            read_rows = lambda r0, r1: whole[r0:r1]  # noqa: E731
        else:
            read_rows = lambda r0, r1: ds.read(1, window=Window(0, r0, w, r1 - r0))  # noqa: E731
        read_conf = None
        conf_nodata = None
        if conf_ds is not None:
            read_conf = lambda r0, r1: conf_ds.read(1, window=Window(0, r0, w, r1 - r0))  # noqa: E731
            conf_nodata = conf_ds.nodata
        coeffs = [tr.a, tr.b, tr.d, tr.e, tr.c, tr.f]
        sink = _LayerSink(out, drv, layer_name, crs, names, confidence_path is not None, overwrite, stream=simplify <= 0)
        try:
            # Bands of about BAND_PIXELS pixels: a fixed row count would make a
            # band, and the regions open in it, grow with the mask's width.
            rows = min(int(band_rows), max(MIN_BAND_ROWS, BAND_PIXELS // max(1, w)))
            for cid, g, s, c in polygonize_mask(
                read_rows, h, w, nodata, rows, read_conf, conf_nodata, progress, is_cancelled
            ):
                sink.add(cid, affine_transform(g, coeffs), s / c if c else float("nan"))
            if simplify > 0 and sink.geoms:
                sink.simplify(_tolerance(simplify, crs), _corners(coeffs, w, h))
            if is_cancelled is not None and is_cancelled():
                raise Cancelled("cancelled")
            styles = class_styles(names, colours, list(sink.counts))
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
        warns.append(f"class id(s) {', '.join(map(str, missing))} have no name; using class_<id>")
    return VectorizeResult(out, layer_name, drv, sink.count, dict(sink.counts), dict(sink.areas), warns, styles)


def _tolerance(metres: float, crs) -> float:
    """A simplification tolerance in CRS units: 111 320 m per degree in a geographic CRS."""
    from ..geo.areas import linear_unit_m

    if crs is not None and _is_geographic(crs):
        return metres / 111320.0
    return metres / linear_unit_m(crs)


def _corners(coeffs: list, w: int, h: int) -> List[Tuple[float, float]]:
    # The raster's corners stay fixed when simplifying; transformed exactly as
    # the polygons were, so that they match their vertices bit for bit.
    from shapely.affinity import affine_transform
    from shapely.geometry import MultiPoint

    frame = affine_transform(MultiPoint([(0, 0), (w, 0), (w, h), (0, h)]), coeffs)
    return [(float(p.x), float(p.y)) for p in frame.geoms]


def _is_geographic(crs) -> bool:
    import pyproj

    return pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs).is_geographic


class _LayerSink:
    """Collects polygons and writes them to hidden part file(s) next to ``out``; :meth:`commit` renames them.

    With ``stream`` and a driver that can append (GeoPackage, Shapefile),
    polygons are written in chunks of :data:`CHUNK` as they come, so memory
    holds one chunk; otherwise (GeoJSON, FlatGeobuf, or a simplification
    that needs the whole set) they are held until :meth:`commit`.
    """

    CHUNK = 5000

    def __init__(self, out: Path, drv: str, layer: str, crs, names: Dict[int, str], with_conf: bool, overwrite: bool, stream: bool):
        self.out, self.drv, self.layer, self.crs, self.names = out, drv, layer, crs, names
        self.with_conf, self.overwrite = with_conf, overwrite
        self.stream = stream and drv in ("GPKG", "ESRI Shapefile")
        self.part = out.with_name("." + out.stem + ".part" + out.suffix)
        self.parts = _targets(self.part, drv)
        self.ids: List[int] = []
        self.geoms: list = []
        self.conf: List[float] = []
        self.count = 0
        self.counts: Dict[int, int] = {}
        self.areas: Dict[int, float] = {}
        self.written = False
        self._cleanup()

    def _cleanup(self) -> None:
        for p in self.parts + [Path(str(self.part) + suffix) for suffix in ("-journal", "-wal", "-shm")]:
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def add(self, cid: int, geom, conf: float) -> None:
        # A region is connected, so this is a Polygon; a MultiPolygon can only
        # come from repairing an invalid ring: its parts are written apart so
        # that appended chunks keep one geometry type.
        from shapely.geometry import MultiPolygon
        from shapely.geometry.polygon import orient

        parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" and self.stream else [geom]
        for g in parts:
            # Counter-clockwise shells, clockwise holes (OGC, GeoJSON): the
            # pixel grid's flipped y axis would otherwise leave them either way.
            if g.geom_type == "Polygon":
                g = orient(g, 1.0)
            elif g.geom_type == "MultiPolygon":
                g = MultiPolygon([orient(p, 1.0) for p in g.geoms])
            self.ids.append(int(cid))
            self.geoms.append(g)
            self.conf.append(conf)
        if self.stream and len(self.ids) >= self.CHUNK:
            self._flush()

    def simplify(self, tolerance: float, corners) -> None:
        simplified = simplify_coverage(self.geoms, tolerance, corners)
        keep = [i for i, g in enumerate(simplified) if g is not None and not g.is_empty]
        self.ids = [self.ids[i] for i in keep]
        self.conf = [self.conf[i] for i in keep]
        self.geoms = [simplified[i] for i in keep]

    def _flush(self, final: bool = False) -> None:
        import geopandas as gpd

        from ..geo.areas import polygon_areas_m2

        if not self.ids and (self.written or not final):
            return
        areas = polygon_areas_m2(self.geoms, self.crs) if self.geoms else np.zeros(0)
        data = {
            "class_id": np.asarray(self.ids, dtype=np.int32),
            "class_name": [self.names.get(i, f"class_{i}") for i in self.ids],
            "area_m2": np.asarray(areas, dtype=np.float64),
        }
        if self.with_conf:
            data["confidence"] = np.asarray(self.conf, dtype=np.float64)
        gdf = gpd.GeoDataFrame(data, geometry=list(self.geoms), crs=self.crs.to_wkt() if self.crs is not None else None)
        try:
            _write_layer(gdf, self.part, self.drv, self.layer, append=self.written)
        except Exception as exc:  # GDAL / pyogrio / fiona errors have no common base class
            raise InputError(f"cannot write {self.out}: {' '.join(str(exc).split())}") from None
        self.written = True
        for i, a in zip(self.ids, areas):
            self.counts[i] = self.counts.get(i, 0) + 1
            self.areas[i] = self.areas.get(i, 0.0) + float(a)
        self.count += len(self.ids)
        self.ids, self.geoms, self.conf = [], [], []

    def commit(self, styles) -> None:
        from ..formats.layer_style import qml_document, write_gpkg_style

        self._flush(final=True)
        if self.drv == "GPKG":
            write_gpkg_style(self.part, self.layer, qml_document(styles))
        if self.out.exists() and not self.overwrite:
            raise InputError(f"{self.out} already exists; pass --overwrite to replace it")
        written = [p for p in self.parts if p.exists()]
        if self.drv == "ESRI Shapefile":
            produced = {p.suffix for p in written}
            for t in _targets(self.out, self.drv):  # stale sidecars of a replaced shapefile would describe the wrong data
                if t.suffix not in produced and t.exists():
                    t.unlink()
        for p in written:
            os.replace(str(p), str(self.out.with_suffix(p.suffix)) if self.drv == "ESRI Shapefile" else str(self.out))
        self._cleanup()

    def abort(self) -> None:
        self._cleanup()
