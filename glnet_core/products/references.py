"""References for evaluation: class rasters, RGB colour masks and vector layers, read on PRED's grid.

:func:`open_reference` opens ``REF`` for a predicted class mask ``PRED`` and
returns a :class:`Reference` whose :meth:`Reference.read` gives REF's class
ids (uint8, 255 nodata) on PRED's rows, block by block:

- a single-band class raster: its pixel values are decoded through the class
  table (``ClassTable.decode_mask``: a class's ``value`` when set, else its
  id); values not in the table count as nodata (and are counted in
  :attr:`Reference.unknown_pixels`); 255 is nodata unless the table uses it as
  a class value (Inria buildings), and so is the file's nodata value;
- an RGB(A) colour mask (3 or 4 bands of uint8): colours decoded through the
  class table; an alpha of 0 is nodata;
- a vector layer (:data:`VECTOR_SUFFIXES`, or a folder) with a class
  attribute (class names or class ids), rasterized onto PRED's grid by the
  rules of :mod:`glnet_core.formats.polygon_labels` (pixel centres; where
  polygons overlap, the later feature wins).

Grids: when both rasters are georeferenced and their grids differ (CRS,
transform or size), REF is resampled onto PRED's grid with nearest neighbour
(class ids are decoded first, on REF's own grid; pixels outside REF are
nodata). Rasters without georeferencing are compared pixel by pixel, which
needs equal sizes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from ..errors import InputError
from ..formats.class_mask import block_rows, check_class_mask, open_dataset, row_block_grid
from ..formats.classes import NODATA, ClassTable
from ..formats.input_paths import check_input_path
from ..formats.polygon_labels import read_label_layer

__all__ = ["VECTOR_SUFFIXES", "Reference", "is_vector_path", "open_reference"]

# Files read as vector layers (everything else is opened as a raster).
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite")

PathLike = Union[str, Path]


def _is_georeferenced(ds) -> bool:
    return ds.crs is not None


def _same_grid(a, b) -> bool:
    if (a.width, a.height) != (b.width, b.height):
        return False
    if a.crs != b.crs:
        return False
    # A tolerance of a millionth of a pixel: GDAL round-trips of transforms are not bit-exact.
    ta, tb = tuple(a.transform)[:6], tuple(b.transform)[:6]
    scale = max(abs(a.transform.a), abs(a.transform.e), 1e-12)
    return all(abs(x - y) <= 1e-6 * scale for x, y in zip(ta, tb))


class _RasterRef:
    """A reference raster decoded to class ids, on its own grid."""

    def __init__(self, ds, path: PathLike, table: ClassTable) -> None:
        self.ds, self.path, self.table = ds, path, table
        if ds.count in (3, 4):
            if not all(np.dtype(t) == np.uint8 for t in ds.dtypes[:3]):
                raise InputError(f"REF {path} has {ds.count} bands but is not 8-bit; an RGB colour mask must be uint8")
            self.rgb = True
            from rasterio.enums import ColorInterp

            ci = list(ds.colorinterp)
            self.alpha = ci.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in ci else None
        elif ds.count == 1:
            check_class_mask(ds, path, "REF")
            self.rgb, self.alpha = False, None
        else:
            raise InputError(
                f"REF {path} has {ds.count} bands; expected a class mask (1 band) or an RGB colour mask (3 or 4 bands)"
            )
        self.unknown = 0  # valid reference pixels whose value / colour is not in the table

    def read(self, window) -> np.ndarray:
        """Class ids (uint8, 255 nodata) of REF in ``window`` (on REF's grid)."""
        ds = self.ds
        if self.rgb:
            rgb = np.moveaxis(ds.read((1, 2, 3), window=window), 0, -1)
            ids = self.table.decode_mask(rgb)
            invalid = np.zeros(ids.shape, dtype=bool)
            if self.alpha is not None:
                invalid |= ds.read(self.alpha, window=window) == 0
            elif ds.nodata is not None:
                invalid |= np.all(rgb == ds.nodata, axis=-1)
        else:
            raw = ds.read(1, window=window)
            ids = self.table.decode_mask(raw)
            invalid = np.zeros(ids.shape, dtype=bool)
            if ds.nodata is not None:
                invalid |= raw == ds.nodata
            # 255 is nodata unless the table uses it as a class value (Inria buildings).
            if not any(c.mask_value == NODATA for c in self.table.classes):
                invalid |= raw == NODATA
        self.unknown += int(np.count_nonzero((ids == NODATA) & ~invalid))
        ids[invalid] = NODATA
        return ids


def _aligned_reader(ref: _RasterRef, pred: Any) -> Callable[[int, int], np.ndarray]:
    """A function ``(r0, r1) -> REF class ids on PRED's rows [r0, r1)``."""
    from rasterio.windows import Window

    src = ref.ds
    if not (_is_georeferenced(src) and _is_georeferenced(pred)) or _same_grid(src, pred):
        if (src.width, src.height) != (pred.width, pred.height):
            raise InputError(
                f"REF is {src.width} x {src.height} px and PRED {pred.width} x {pred.height} px, and they cannot be "
                "aligned because they are not both georeferenced; give rasters of the same size or with CRS and transform"
            )
        return lambda r0, r1: ref.read(Window(0, r0, src.width, r1 - r0))

    from rasterio.warp import Resampling, reproject, transform_bounds
    from rasterio.windows import from_bounds

    def read(r0: int, r1: int) -> np.ndarray:
        dst = np.full((r1 - r0, pred.width), NODATA, dtype=np.uint8)
        dst_transform, block_bounds = row_block_grid(pred, r0, r1)
        left, bottom, right, top = transform_bounds(pred.crs, src.crs, *block_bounds, densify_pts=21)
        w = from_bounds(left, bottom, right, top, transform=src.transform)
        # Whole pixels, one more on each side (nearest samples at PRED's pixel centres).
        c0 = max(0, int(math.floor(min(w.col_off, w.col_off + w.width))) - 1)
        c1 = min(src.width, int(math.ceil(max(w.col_off, w.col_off + w.width))) + 1)
        q0 = max(0, int(math.floor(min(w.row_off, w.row_off + w.height))) - 1)
        q1 = min(src.height, int(math.ceil(max(w.row_off, w.row_off + w.height))) + 1)
        if c1 <= c0 or q1 <= q0:
            return dst  # this block lies outside REF
        win = Window(c0, q0, c1 - c0, q1 - q0)
        ids = ref.read(win)
        reproject(
            source=ids, destination=dst,
            src_transform=src.window_transform(win), src_crs=src.crs, src_nodata=NODATA,
            dst_transform=dst_transform, dst_crs=pred.crs, dst_nodata=NODATA,
            resampling=Resampling.nearest,
        )
        return dst

    return read


def _block_rows_for(pred, ref_ds) -> int:
    """Rows per block so that REF's part of a block stays bounded too (REF may be much finer than PRED)."""
    rows = block_rows(pred.width)
    if ref_ds is None or not (_is_georeferenced(ref_ds) and _is_georeferenced(pred)):
        return rows
    try:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds(pred.crs, ref_ds.crs, *pred.bounds, densify_pts=21)
        ref_px = ((right - left) / abs(ref_ds.transform.a)) * ((top - bottom) / abs(ref_ds.transform.e))
        ratio = ref_px / float(pred.width * pred.height)
    except Exception:  # a CRS pair that cannot be transformed is reported by the first read
        return rows
    if ratio > 1:
        rows = max(1, int(rows / ratio))
    return rows


class _VectorRef:
    """A reference vector layer, rasterized onto PRED's grid block by block (:mod:`glnet_core.formats.polygon_labels`)."""

    def __init__(self, path: PathLike, field: Optional[str], table: ClassTable, pred, layer: Optional[str] = None) -> None:
        if field is None:
            raise InputError(f"REF {path} is a vector layer; name its class attribute with --ref-field")
        labels = read_label_layer(path, field, table, layer, what="REF")
        if not _is_georeferenced(pred):
            raise InputError(f"REF {path} is a vector layer but PRED has no CRS, so the polygons cannot be placed on it")
        self.labels = labels.to_crs(pred.crs, "PRED")
        self.pred = pred

    def read(self, r0: int, r1: int) -> np.ndarray:
        transform, _ = row_block_grid(self.pred, r0, r1)
        return self.labels.rasterize(transform, (r1 - r0, self.pred.width))


def is_vector_path(path: PathLike) -> bool:
    """Whether a reference is read as a vector layer (by its extension, or a folder such as a shapefile folder)."""
    p = Path(path)
    return p.suffix.lower() in VECTOR_SUFFIXES or p.is_dir()


class Reference:
    """An open reference, read on PRED's grid (make one with :func:`open_reference`).

    Attributes
    ----------
    rows:
        Rows of PRED per block that keep REF's part of a block bounded too
        (REF may be much finer than PRED).
    """

    def __init__(self, read: Callable[[int, int], np.ndarray], rows: int, raster: Optional[_RasterRef] = None) -> None:
        self._read = read
        self.rows = int(rows)
        self._raster = raster

    def read(self, r0: int, r1: int) -> np.ndarray:
        """REF's class ids (uint8, 255 nodata) on PRED's rows ``[r0, r1)``."""
        return self._read(r0, r1)

    @property
    def unknown_pixels(self) -> int:
        """Valid REF pixels read so far whose value or colour is not in the class table (counted as nodata)."""
        return self._raster.unknown if self._raster is not None else 0

    def close(self) -> None:
        """Close REF's raster, if any."""
        if self._raster is not None:
            self._raster.ds.close()


def open_reference(
    path: PathLike, table: ClassTable, pred: Any, field: Optional[str] = None, layer: Optional[str] = None
) -> Reference:
    """Open ``REF`` for comparison with the open PRED mask ``pred`` (see the module docstring).

    Parameters
    ----------
    path:
        The reference: class raster, RGB colour mask, or vector layer.
    table:
        The class table decoding it.
    pred:
        PRED, open (rasterio); its grid is the one REF is read on.
    field, layer:
        For a vector reference: the class attribute, and the layer (default: the first).

    Returns
    -------
    Reference
        The caller closes it.

    Raises
    ------
    InputError
        A missing or unreadable reference, one that cannot be decoded or
        aligned with PRED, a vector layer without ``field``.
    """
    if not Path(path).exists():
        raise InputError(f"REF {path} does not exist")
    check_input_path(path, "REF")
    if is_vector_path(path):
        vref = _VectorRef(path, field, table, pred, layer)
        return Reference(vref.read, _block_rows_for(pred, None))
    ds = open_dataset(path, "REF")
    try:
        rref = _RasterRef(ds, path, table)
        return Reference(_aligned_reader(rref, pred), _block_rows_for(pred, ds), rref)
    except BaseException:
        ds.close()
        raise
