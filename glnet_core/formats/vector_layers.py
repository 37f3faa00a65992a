"""Class polygon layers: formats, and writing them atomically (GeoPackage with its style, GeoJSON, ...).

:data:`DRIVERS` names the vector formats glnet writes and :func:`driver_for`
picks one from a file name. :class:`ClassPolygonWriter` writes the class
polygons of ``glnet vectorize`` (attributes ``class_id``, ``class_name``,
``area_m2`` and optionally ``confidence``) into the output's hidden part
folder (:func:`.outputs.part_path`, holding the layer under its own name so
that GDAL sees its extension, with its sidecars and journals) and renames
them at the end (:func:`.outputs.commit_file`), with the class style as the
GeoPackage's default layer style (:mod:`.layer_style`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import InputError
from ..geo.areas import polygon_areas_m2
from .outputs import commit_file, part_path, remove_part, write_failed

__all__ = ["DRIVERS", "driver_for", "ClassPolygonWriter"]

#: Output formats: GDAL driver name -> file extensions that select it.
DRIVERS: Dict[str, Tuple[str, ...]] = {
    "GPKG": (".gpkg",),
    "GeoJSON": (".geojson", ".json"),
    "FlatGeobuf": (".fgb",),
    "ESRI Shapefile": (".shp",),
}

_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")

PathLike = Union[str, "os.PathLike[str]"]


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


def _sidecars(path: Path, driver: str) -> List[Path]:
    """The files besides ``path`` that belong to a layer file (a Shapefile's .shx, .dbf, ...)."""
    if driver == "ESRI Shapefile":
        return [path.with_suffix(ext) for ext in _SHP_SIDECARS if ext != ".shp"]
    return []


def _write_layer(gdf, part: Path, driver: str, layer: str, append: bool = False) -> None:
    import warnings

    kwargs: Dict[str, Any] = {"driver": driver}
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
        Class id -> name (``class_<id>`` for the others).
    with_conf:
        Write the ``confidence`` attribute.
    overwrite:
        Allow :meth:`commit` to replace an existing ``out``.
    stream:
        Write in chunks where the driver can append.

    ``area_m2`` is each polygon's ground area in ``crs``
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
    ) -> None:
        self.out, self.drv, self.layer, self.crs, self.names = out, drv, layer, crs, names
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

    def _flush(self, final: bool = False) -> None:
        import geopandas as gpd

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
        crs = self.crs.to_wkt() if self.crs is not None else None  # type: ignore[attr-defined]
        gdf = gpd.GeoDataFrame(data, geometry=list(self.geoms), crs=crs)
        try:
            if not self.stage.is_dir():
                self.stage.mkdir()
            _write_layer(gdf, self.part, self.drv, self.layer, append=self.written)
        except Exception as exc:  # GDAL / pyogrio / fiona errors have no common base class
            raise write_failed(self.out, exc) from None
        self.written = True
        for i, a in zip(self.ids, areas):
            self.counts[i] = self.counts.get(i, 0) + 1
            self.areas[i] = self.areas.get(i, 0.0) + float(a)
        self.ids, self.geoms, self.conf = [], [], []

    def commit(self, styles: Sequence[Tuple[int, str, Tuple[int, int, int]]]) -> None:
        """Write what is held, the GeoPackage's default style (``styles``: class id, name, colour), and rename into place.

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
            write_gpkg_style(self.part, self.layer, qml_document(styles))
        # Stale sidecars of a replaced Shapefile would describe the wrong data:
        # commit_file deletes those the new layer does not have.
        companions = list(zip(_sidecars(self.part, self.drv), _sidecars(self.out, self.drv)))
        commit_file(self.part, self.out, overwrite=self.overwrite, companions=companions)
        self._cleanup()

    def abort(self) -> None:
        """Delete the part files; an existing ``out`` is never touched."""
        self._cleanup()
