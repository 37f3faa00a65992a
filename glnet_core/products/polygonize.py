"""Class masks to pixel-exact polygons, streamed in bands of rows.

:func:`polygonize_mask` runs GDAL's polygonizer (``rasterio.features.shapes``,
4-connectivity) band by band in pixel coordinates (integers, so the pieces of
a region meet exactly along band lines); a piece that reaches the bottom of
its band stays *open* and is joined with the pieces of the same class that
touch it across the line in the next band (a union-find over the pixels on
both sides of the line). A region is yielded as soon as none of its pieces
reaches the band's bottom. The result equals polygonizing the whole mask at
once. Memory: one band of the mask (and of the confidence raster) and the
open regions.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np

from ..callbacks import Callbacks
from ..formats.classes import NODATA

__all__ = ["BAND_ROWS", "polygonize_mask", "valid_polygonal"]

#: Rows per band when streaming a mask.
BAND_ROWS = 1024


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


def valid_polygonal(geom):
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
        return valid_polygonal(pieces[0])
    merged = unary_union(pieces)
    # The band lines leave collinear vertices behind; a zero-tolerance
    # simplification drops exactly those and nothing else.
    merged = merged.simplify(0, preserve_topology=True)
    return valid_polygonal(merged)


def _edge_labels(pieces: list, row: int, which: int, width: int) -> np.ndarray:
    """Piece index + 1 per column of one edge row (0: nodata) of a band.

    Only pieces whose bounds reach that row are drawn: ``which`` 1 is a
    band's top row (``miny == row``), 3 its bottom row (``maxy == row + 1``).
    """
    from affine import Affine
    from rasterio.features import rasterize

    sel = [(g, i + 1) for i, (g, _) in enumerate(pieces) if g.bounds[which] == (row if which == 1 else row + 1)]
    if not sel:
        return np.zeros(int(width), dtype=np.int32)
    return rasterize(sel, out_shape=(1, int(width)), transform=Affine.translation(0, row), fill=0, dtype="int32")[0]


def polygonize_mask(
    read_rows: Callable[[int, int], np.ndarray],
    height: int,
    width: int,
    nodata: int = NODATA,
    band_rows: int = BAND_ROWS,
    read_confidence: Optional[Callable[[int, int], np.ndarray]] = None,
    confidence_nodata: Optional[float] = NODATA,
    callbacks: Optional[Callbacks] = None,
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
    callbacks:
        Progress in rows (after each band); cancellation is polled before
        each band and raises :class:`Cancelled`.

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
        When ``callbacks.is_cancelled()`` turned true.
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
    cb = callbacks or Callbacks()
    counter = cb.counter(int(height), "rows")
    for r0 in range(0, int(height), band_rows):
        cb.check_cancelled()
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
        sums: np.ndarray = np.zeros(n + 1)
        counts: np.ndarray = np.zeros(n + 1, dtype=np.int64)
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

        uf = _UnionFind()
        base = uf_next
        uf_next += n
        for rid in open_regions:
            uf.find(rid)
        for i in range(n):
            uf.find(base + i)
        if prev_ids is not None and open_regions and n:
            top = _edge_labels(pieces, r0, 1, width)
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
        bottom = None if last else _edge_labels(pieces, r1 - 1, 3, width)
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
        counter.step(r1)
