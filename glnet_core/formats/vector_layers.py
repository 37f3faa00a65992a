"""Class polygon layers: formats, and writing them atomically (GeoPackage with its style, GeoJSON, ...).

:data:`DRIVERS` names the vector formats glnet writes and :func:`driver_for`
picks one from a file name. :class:`ClassPolygonWriter` writes the class
polygons of ``glnet vectorize`` (attributes ``class_id``, ``class_name`` (the
identifier), ``class_label`` (the display label), ``area_m2`` and optionally
``confidence``) into the output's hidden part
folder (:func:`.outputs.part_path`, holding the layer under its own name so
that GDAL sees its extension, with its sidecars and journals) and renames
them at the end (:func:`.outputs.commit_file`), with the class style as the
GeoPackage's default layer style (:mod:`.layer_style`).

GeoPackages hold several layers. Replacing one (``--overwrite --layer X``
into an existing file) works as ``ogr2ogr -overwrite`` does: the existing
file is copied into the part folder (:func:`seed_geopackage`), layer ``X`` is
replaced there and the copy renamed onto the file, so the other layers stay
and a failure leaves the file as it was. Names that GeoPackage and QGIS keep
for themselves (:func:`check_layer_name`) are refused.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import InputError, OutputWriteError
from ..geo.areas import polygon_areas_m2
from .classes import default_label
from .output_plan import SHAPEFILE_SIDECARS, OutputTarget
from .outputs import commit_file, part_path, remove_part, write_failed
from .part_lock import PartLock

__all__ = [
    "DRIVERS",
    "RESERVED_LAYER_NAMES",
    "RESERVED_LAYER_PREFIXES",
    "driver_for",
    "vector_sidecars",
    "vector_target",
    "check_layer_name",
    "seed_geopackage",
    "ClassPolygonWriter",
]

#: Output formats: GDAL driver name -> file extensions that select it.
DRIVERS: Dict[str, Tuple[str, ...]] = {
    "GPKG": (".gpkg",),
    "GeoJSON": (".geojson", ".json"),
    "FlatGeobuf": (".fgb",),
    "ESRI Shapefile": (".shp",),
}

#: Table names a GeoPackage, SQLite, GDAL or QGIS keep for themselves (compared case-insensitively).
RESERVED_LAYER_NAMES = ("layer_styles", "qgis_projects", "ogr_empty_table")
#: Prefixes of such names (``gpkg_contents``, ``sqlite_sequence``, ``rtree_LAYER_geom``...).
RESERVED_LAYER_PREFIXES = ("gpkg_", "gpkgext_", "sqlite_", "rtree_")

# The first bytes of every SQLite file, so of every GeoPackage.
_SQLITE_MAGIC = b"SQLite format 3\x00"

PathLike = Union[str, "os.PathLike[str]"]


def driver_for(path: PathLike, driver: Optional[str] = None, *, option: Optional[str] = None,
               format_option: str = "--format") -> str:
    """The GDAL driver for ``path``: ``driver`` when given (case-insensitive), else by extension.

    Parameters
    ----------
    path:
        The vector file to write.
    driver:
        The format the user named, or None (from the extension).
    option, format_option:
        The options that named the path (``--out-vector``) and the format
        (``--vector-format``), for messages.

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
        raise InputError(f"{format_option}: unknown vector format {driver!r}; use one of {names}")
    ext = Path(path).suffix.lower()
    for d, exts in DRIVERS.items():
        if ext in exts:
            return d
    prefix = f"{option}: " if option else ""
    raise InputError(f"{prefix}cannot tell the vector format of {Path(path).name} from its extension; "
                     f"use {format_option} ({names})")


def vector_sidecars(path: PathLike, driver: str) -> List[Path]:
    """The files beside ``path`` that belong to a layer file (a Shapefile's .shx, .dbf, ...): written, replaced or deleted with it."""
    if driver == "ESRI Shapefile":
        return [Path(path).with_suffix(ext) for ext in SHAPEFILE_SIDECARS]
    return []


def vector_target(path: PathLike, option: Optional[str], driver: str) -> OutputTarget:
    """The :class:`~.output_plan.OutputTarget` of a layer file written with ``driver`` (its sidecars included)."""
    return OutputTarget(Path(path), option, sidecars=tuple(vector_sidecars(path, driver)))


def check_layer_name(name: str, *, from_file: bool = False, option: Optional[str] = "--layer") -> str:
    """Refuse a GeoPackage layer name that GeoPackage, SQLite, GDAL or QGIS keep for themselves; returns it.

    Parameters
    ----------
    name:
        The layer name.
    from_file:
        The name was not given but taken from the file name (the message says so).
    option:
        The option that names layers, for the message.

    Raises
    ------
    InputError
        ``--layer: 'layer_styles' is a name GeoPackage keeps for itself
        (layer_styles, qgis_projects, ogr_empty_table, gpkg_*, gpkgext_*,
        sqlite_*, rtree_*); give another layer name``, or an empty name.
    """
    prefix = f"{option}: " if option else ""
    if not str(name).strip():
        raise InputError(f"{prefix}the layer name is empty; give a layer name")
    low = str(name).lower()
    if low in RESERVED_LAYER_NAMES or low.startswith(RESERVED_LAYER_PREFIXES):
        kept = ", ".join([*RESERVED_LAYER_NAMES, *(p + "*" for p in RESERVED_LAYER_PREFIXES)])
        given = " (taken from the file name)" if from_file else ""
        raise InputError(f"{prefix}{name!r}{given} is a name GeoPackage keeps for itself ({kept}); give another layer name")
    return str(name)


def seed_geopackage(out: PathLike, part: PathLike) -> bool:
    """Copy the existing GeoPackage ``out`` to ``part``, so that writing a layer into ``part`` replaces that layer only.

    Parameters
    ----------
    out:
        The output file; nothing is copied unless it is an SQLite file (a
        GeoPackage): a file of another kind is replaced whole.
    part:
        Where the layer is written (in the output's part folder).

    Returns
    -------
    bool
        Whether ``out`` was copied (the other layers, their styles and any
        other tables are then kept).

    Raises
    ------
    OutputWriteError
        If the copy fails (a full disk).
    """
    import shutil

    out, part = Path(out), Path(part)
    try:
        with open(out, "rb") as f:
            if f.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                return False
    except OSError:
        return False  # missing (a new file) or unreadable: nothing to keep
    try:
        shutil.copyfile(out, part)
    except OSError as exc:
        raise write_failed(out, exc) from None
    return True


def _write_layer(gdf, part: Path, driver: str, layer: str, append: bool = False) -> None:
    import warnings

    kwargs: Dict[str, Any] = {"driver": driver}
    if append:
        kwargs["mode"] = "a"
    if driver == "GPKG":
        kwargs["layer"] = layer
        if not append:
            # Into a copy of an existing GeoPackage: replace this layer only,
            # also when an existing one differs in case (SQLite's table names do not).
            kwargs["layer_options"] = {"OVERWRITE": "YES"}
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


class ClassPolygonWriter:
    """Collects class polygons and writes them to hidden part file(s) next to ``out``; :meth:`commit` renames them.

    With ``stream`` and a driver that can append (GeoPackage, Shapefile),
    polygons are written in chunks of :data:`CHUNK` as they come, so memory
    holds one chunk; otherwise (GeoJSON, FlatGeobuf, or a simplification
    that needs the whole set) they are held until :meth:`commit`.

    Parameters
    ----------
    out:
        The output file.
    drv, layer:
        Its driver (a key of :data:`DRIVERS`) and layer name.
    crs:
        The polygons' CRS (rasterio), or None.
    names:
        Class id -> name (``class_<id>`` for the others): the ``class_name`` attribute.
    with_conf:
        Write the ``confidence`` attribute.
    overwrite:
        Allow :meth:`commit` to replace an existing ``out``; an existing
        GeoPackage keeps its other layers (:func:`seed_geopackage`).
    stream:
        Write in chunks where the driver can append.
    labels:
        Class id -> display label: the ``class_label`` attribute; the others
        get :func:`..classes.default_label` of their name.

    A Shapefile's dBASE table keeps 10 characters of a field name, so there
    ``class_label`` reads ``class_labe``. ``area_m2`` is each polygon's ground area in ``crs``
    (:func:`..geo.areas.polygon_areas_m2`).
    """

    CHUNK = 5000

    def __init__(
        self,
        out: Path,
        drv: str,
        layer: str,
        crs: object,
        names: Dict[int, str],
        with_conf: bool,
        overwrite: bool,
        stream: bool,
        labels: Optional[Dict[int, str]] = None,
    ) -> None:
        self.out, self.drv, self.layer, self.crs, self.names = out, drv, layer, crs, names
        self.labels = dict(labels or {})
        self.with_conf, self.overwrite = with_conf, overwrite
        self.stream = stream and drv in ("GPKG", "ESRI Shapefile")
        # The part is a folder holding the layer under its own name: GDAL picks
        # names by extension (a Shapefile's sidecars), and journals land inside.
        self.stage = part_path(out)
        self.part = self.stage / out.name
        self.ids: List[int] = []
        self.geoms: list = []
        self.conf: List[float] = []
        self.counts: Dict[int, int] = {}
        self.areas: Dict[int, float] = {}
        self.written = False
        # Held until commit or abort, and taken before a stale part is removed: it may be another run's.
        self._lock = PartLock(out)
        self._cleanup()

    @property
    def count(self) -> int:
        """Polygons written so far (the sum of :attr:`counts`)."""
        return sum(self.counts.values())

    def _cleanup(self) -> None:
        remove_part(self.stage)

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

    def replace_geometries(self, geoms: Sequence[Optional[object]]) -> None:
        """Replace the polygons held (not yet written) one for one, e.g. simplified; None or empty ones are dropped."""
        simplified = list(geoms)
        if len(simplified) != len(self.geoms):
            raise ValueError(f"{len(simplified)} geometries for {len(self.geoms)} polygons")
        keep = [i for i, g in enumerate(simplified) if g is not None and not g.is_empty]  # type: ignore[attr-defined]
        self.ids = [self.ids[i] for i in keep]
        self.conf = [self.conf[i] for i in keep]
        self.geoms = [simplified[i] for i in keep]

    def _label(self, cid: int) -> str:
        label = self.labels.get(cid)
        return label if label is not None else default_label(self.names.get(cid, f"class_{cid}"))

    def _flush(self, final: bool = False) -> None:
        import geopandas as gpd

        if not self.ids and (self.written or not final):
            return
        areas = polygon_areas_m2(self.geoms, self.crs) if self.geoms else np.zeros(0)
        data = {
            "class_id": np.asarray(self.ids, dtype=np.int32),
            "class_name": [self.names.get(i, f"class_{i}") for i in self.ids],
            "class_label": [self._label(i) for i in self.ids],
            "area_m2": np.asarray(areas, dtype=np.float64),
        }
        if self.with_conf:
            data["confidence"] = np.asarray(self.conf, dtype=np.float64)
        crs = self.crs.to_wkt() if self.crs is not None else None  # type: ignore[attr-defined]
        gdf = gpd.GeoDataFrame(data, geometry=list(self.geoms), crs=crs)
        try:
            if not self.stage.is_dir():
                self.stage.mkdir()
            if not self.written and self.drv == "GPKG" and self.overwrite:
                seed_geopackage(self.out, self.part)  # the file's other layers stay
            _write_layer(gdf, self.part, self.drv, self.layer, append=self.written)
        except OutputWriteError:
            raise
        except Exception as exc:  # GDAL / pyogrio / fiona errors have no common base class
            raise write_failed(self.out, exc) from None
        self.written = True
        for i, a in zip(self.ids, areas):
            self.counts[i] = self.counts.get(i, 0) + 1
            self.areas[i] = self.areas.get(i, 0.0) + float(a)
        self.ids, self.geoms, self.conf = [], [], []

    def commit(self, styles: Sequence[Tuple[int, str, Tuple[int, int, int]]]) -> None:
        """Write what is held, the GeoPackage's default style (``styles``: class id, label, colour), and rename into place.

        Raises
        ------
        OutputPathError
            If ``out`` appeared meanwhile without ``overwrite``.
        OutputWriteError
            If writing fails. The part files are kept for :meth:`abort`.
        """
        from .layer_style import qml_document, write_gpkg_style

        self._flush(final=True)
        if self.drv == "GPKG":
            try:
                write_gpkg_style(self.part, self.layer, qml_document(styles))
            except sqlite3.Error as exc:  # a full disk while writing the style: the part goes, the file stays
                raise write_failed(self.out, exc) from None
        # Stale sidecars of a replaced Shapefile would describe the wrong data:
        # commit_file deletes those the new layer does not have.
        companions = list(zip(vector_sidecars(self.part, self.drv), vector_sidecars(self.out, self.drv)))
        commit_file(self.part, self.out, overwrite=self.overwrite, companions=companions)
        self._cleanup()
        self._lock.release()

    def abort(self) -> None:
        """Delete the part files; an existing ``out`` is never touched."""
        self._cleanup()
        self._lock.release()
