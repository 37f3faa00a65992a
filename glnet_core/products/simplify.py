"""Topology-preserving simplification of a polygon coverage (class polygons that tile an area).

:func:`simplify_coverage` simplifies the boundary network of all polygons
once, so neighbouring polygons keep sharing their boundaries: no gaps or
overlaps appear between classes.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .polygonize import valid_polygonal

__all__ = ["simplify_coverage"]


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
        import warnings

        from shapely.strtree import STRtree

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
        result[i] = valid_polygonal(fs[0] if len(fs) == 1 else unary_union(fs))
    return result
