"""Class labels from a polygon layer: a class attribute mapped through a class table, burnt onto any pixel grid.

One reading of label polygons for every use: ``glnet evaluate`` rasterizes a
reference layer onto a predicted mask's grid, ``glnet train --labels`` onto
each training window (:mod:`glnet.models.data.label_sources`).

Rules
-----
- **Values to classes**: a field value is the class of that *name* when the
  table has one; otherwise a whole number ``0 .. n-1`` is the class of that
  *id* (an integer field of ids). Empty values (NULL) leave their polygon
  unlabelled. Any other value is an error that lists every such value.
- **Pixels**: a pixel gets a polygon's class when its centre lies inside the
  polygon (``all_touched=False``).
- **Overlaps**: where polygons overlap, the one that comes later in the layer
  (feature order) wins.
- **Unlabelled pixels** (outside every polygon): nodata (255), or the
  ``fill`` class the caller names (``glnet train --background``).
- **CRS**: polygons are reprojected to the grid's CRS (:meth:`PolygonLabels.to_crs`);
  a layer without a CRS is only placed on a grid without one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import InputError
from ..geo.crs import grid_bounds
from ..geo.spatial_index import BoundsIndex
from .classes import NODATA, ClassInfo, ClassTable, generic_colour

__all__ = ["PolygonLabels", "read_label_layer", "field_values", "class_table_from_values", "FROM_FIELD"]

PathLike = Union[str, Path]

#: The ``--classes`` value that builds the class table from the label field's values.
FROM_FIELD = "from-field"

# Distinct values named in one error line, at most.
_SHOWN_VALUES = 12


def data_layers(path: PathLike) -> List[str]:
    """The layers of a vector file, without the ``layer_styles`` table QGIS (and glnet) add to a GeoPackage."""
    try:
        import pyogrio

        names = [str(row[0]) for row in pyogrio.list_layers(str(path))]
    except ImportError:  # QGIS's geopandas 0.12 reads with fiona
        import fiona

        names = list(fiona.listlayers(str(path)))
    return [n for n in names if n != "layer_styles"]


def _read_frame(path: PathLike, layer: Optional[str], what: str):
    import geopandas as gpd

    if not Path(path).exists():
        raise InputError(f"{what} {path} does not exist")
    if layer is None and Path(path).suffix.lower() == ".gpkg":
        try:
            found = data_layers(path)
        except Exception:  # unreadable: read_file below says why
            found = []
        # The first data layer, not GDAL's warning about the style table.
        layer = found[0] if found else None
    try:
        return gpd.read_file(str(path), layer=layer) if layer else gpd.read_file(str(path))
    except Exception as exc:  # fiona / pyogrio raise their own types
        text = " ".join(str(exc).split())
        if layer and "layer" in text.lower():
            raise InputError(f"{what} {path} has no layer {layer!r} ({text})") from None
        raise InputError(f"cannot read {what} {path} as a vector layer: {text}") from None


def _checked_field(gdf, field: str, path: PathLike, what: str) -> None:
    if field not in gdf.columns or field == gdf.geometry.name:
        fields = [str(c) for c in gdf.columns if c != gdf.geometry.name]
        raise InputError(f"{what} {path} has no field {field!r}; its fields are: {', '.join(fields) or '(none)'}")


def _is_empty_value(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _value_text(value: Any) -> str:
    """A field value as the text class names are compared with (``3.0`` from a real field reads ``3``)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def class_of(value: Any, table: ClassTable) -> Optional[int]:
    """The class id a field value stands for (see the module docstring), or None when it stands for none."""
    text = _value_text(value)
    names = table.names
    if text in names:
        return names.index(text)
    try:
        number = float(text)
    except ValueError:
        return None
    if number.is_integer() and 0 <= int(number) < len(table):
        return int(number)
    return None


def _some_values(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN_VALUES])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _SHOWN_VALUES else "")


def field_values(path: PathLike, field: str, layer: Optional[str] = None, what: str = "--labels") -> List[str]:
    """The distinct non-empty values of a layer's field, as text, sorted (numbers by value).

    Raises
    ------
    InputError
        If the layer cannot be read or has no such field.
    """
    gdf = _read_frame(path, layer, what)
    _checked_field(gdf, field, path, what)
    texts = {_value_text(v) for v in gdf[field] if not _is_empty_value(v) and _value_text(v)}

    def key(t: str):
        try:
            return (0, float(t), t)
        except ValueError:
            return (1, 0.0, t)

    return sorted(texts, key=key)


def class_table_from_values(values: Sequence[str], name: str, first: Optional[str] = None) -> ClassTable:
    """A class table whose classes are ``values`` in order (``first`` before them when it is not one).

    Colours are :func:`~glnet_core.formats.classes.generic_colour`'s, the ones
    glnet gives classes without a colour anywhere.

    Raises
    ------
    InputError
        With fewer than two classes.
    """
    names = list(values)
    if first is not None and first not in names:
        names.insert(0, first)
    if len(names) < 2:
        raise InputError(f"{name}: a class table needs at least 2 classes, the field holds {len(names)} ({', '.join(names) or 'none'})")
    if len(names) >= NODATA:
        raise InputError(f"{name}: the field holds {len(names)} distinct values; at most {NODATA - 1} classes are supported")
    return ClassTable(tuple(ClassInfo(i, n, generic_colour(i)) for i, n in enumerate(names)), name)


@dataclass
class PolygonLabels:
    """Polygons with class ids, in one CRS, ready to be burnt onto pixel grids.

    Attributes
    ----------
    source:
        How messages name the layer (``--labels landuse.gpkg``).
    crs:
        The polygons' CRS (a rasterio / pyproj CRS, or None).
    geoms:
        The labelled polygons, in feature order (empty and NULL-class ones left out).
    ids:
        Their class ids.
    """

    source: str
    crs: Any
    geoms: List[Any]
    ids: List[int]

    def __post_init__(self) -> None:
        self._index: Optional[BoundsIndex] = None

    def __getstate__(self):
        # The bounds index is rebuilt where it is used (a DataLoader worker).
        state = dict(self.__dict__)
        state["_index"] = None
        return state

    @property
    def index(self) -> BoundsIndex:
        """A bounding-box index over :attr:`geoms` (built on first use)."""
        if self._index is None:
            self._index = BoundsIndex(self.geoms)
        return self._index

    def __len__(self) -> int:
        return len(self.geoms)

    def to_crs(self, crs: Any, target: str = "the raster") -> "PolygonLabels":
        """The same polygons in ``crs`` (itself when the CRS is the same).

        Raises
        ------
        InputError
            When one side has a CRS and the other has none (the polygons
            cannot be placed), or the reprojection fails.
        """
        if crs is None and self.crs is None:
            return self
        if crs is None:
            raise InputError(f"{target} has no CRS, so the polygons of {self.source} (in {_crs_name(self.crs)}) cannot be placed on it")
        if self.crs is None:
            raise InputError(f"{self.source} has no CRS; set one (in QGIS: Layer Properties > Source, or ogr2ogr -a_srs)")
        import geopandas as gpd
        from pyproj import CRS

        if CRS.from_user_input(_wkt(self.crs)) == CRS.from_user_input(_wkt(crs)):
            return self
        try:
            moved = gpd.GeoSeries(self.geoms, crs=self.crs).to_crs(_wkt(crs))
        except Exception as exc:
            raise InputError(f"cannot reproject {self.source} to the CRS of {target}: {' '.join(str(exc).split())}") from None
        return PolygonLabels(self.source, crs, list(moved), list(self.ids))

    def hits(self, bounds: Tuple[float, float, float, float]) -> np.ndarray:
        """Indices (ascending: feature order) of the polygons that reach into the rectangle ``bounds``.

        A polygon that only touches the rectangle's edge does not: it covers
        no pixel centre of a grid whose edge that is.
        """
        from shapely.geometry import box

        if not self.geoms:
            return np.zeros(0, dtype=np.int64)
        rect = box(*bounds)
        candidates = np.asarray(self.index.query(rect))
        return np.array([i for i in candidates if self.geoms[int(i)].intersects(rect) and not self.geoms[int(i)].touches(rect)],
                        dtype=np.int64)

    def rasterize(self, transform: Any, shape: Tuple[int, int], fill: int = NODATA) -> np.ndarray:
        """The class ids of a grid's pixels (see the module docstring's rules).

        Parameters
        ----------
        transform:
            The grid's affine transform (pixel to CRS coordinates), in the polygons' CRS.
        shape:
            ``(rows, cols)`` of the grid.
        fill:
            The class of pixels outside every polygon (default nodata, 255).

        Returns
        -------
        numpy.ndarray
            ``(rows, cols)`` uint8.
        """
        from rasterio.features import rasterize

        rows, cols = int(shape[0]), int(shape[1])
        hits = self.hits(grid_bounds(transform, rows, cols))
        if hits.size == 0:
            return np.full((rows, cols), fill, dtype=np.uint8)
        # Ascending feature order: where polygons overlap, the later feature wins, on every grid.
        return rasterize(
            ((self.geoms[int(i)], self.ids[int(i)]) for i in hits), out_shape=(rows, cols), transform=transform,
            fill=int(fill), all_touched=False, dtype="uint8",
        )


def _wkt(crs: Any) -> Any:
    return crs.to_wkt() if hasattr(crs, "to_wkt") else crs


def _crs_name(crs: Any) -> str:
    try:
        from pyproj import CRS

        c = CRS.from_user_input(_wkt(crs))
        epsg = c.to_epsg()
        return f"EPSG:{epsg}" if epsg else c.name
    except Exception:
        return str(crs)


def read_label_layer(
    path: PathLike, field: Optional[str], table: ClassTable, layer: Optional[str] = None, what: str = "--labels"
) -> PolygonLabels:
    """A polygon layer's labels: each feature's ``field`` value mapped to a class of ``table``.

    Parameters
    ----------
    path:
        Any vector file GDAL reads (GeoPackage, shapefile, GeoJSON, ...).
    field:
        The class attribute (class names, or class ids).
    table:
        The class table.
    layer:
        The layer of a multi-layer file (default: the first).
    what:
        How messages name the file (``--labels``, ``REF``).

    Returns
    -------
    PolygonLabels
        In the layer's own CRS.

    Raises
    ------
    InputError
        One line: no field given, the file missing or unreadable, no such
        layer or field, or values that stand for no class of the table
        (every such value listed).
    """
    if not field:
        raise InputError(f"{what} {path} is a vector layer; name its class attribute (the field)")
    gdf = _read_frame(path, layer, what)
    _checked_field(gdf, field, path, what)
    ids: List[Optional[int]] = []
    unknown: List[str] = []
    for value in gdf[field]:
        if _is_empty_value(value) or not _value_text(value):
            ids.append(None)
            continue
        cid = class_of(value, table)
        if cid is None and _value_text(value) not in unknown:
            unknown.append(_value_text(value))
        ids.append(cid)
    if unknown:
        raise InputError(
            f"{what} {path}: field {field!r} holds values that are neither a class name of table {table.name!r} "
            f"({', '.join(table.names)}) nor a class id (0-{len(table) - 1}): {_some_values(sorted(unknown))}"
        )
    geoms, kept = [], []
    for geom, cid in zip(gdf.geometry, ids):
        if cid is None or geom is None or geom.is_empty:
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
            raise InputError(f"{what} {path}: holds {geom.geom_type} features; class labels must be polygons")
        geoms.append(geom)
        kept.append(int(cid))
    return PolygonLabels(f"{what} {path}", gdf.crs, geoms, kept)
