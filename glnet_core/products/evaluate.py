"""Accuracy of a class mask against a reference: confusion matrix, IoU, mIoU, F1.

:func:`evaluate` compares a predicted class mask ``PRED`` (a single-band
integer raster of class ids, 255 = nodata, as ``glnet segment`` writes it)
with a reference ``REF``, streaming over blocks of rows so that rasters of any
size are compared in bounded memory. ``REF`` may be

- a single-band class raster: its pixel values are decoded through the class
  table (``ClassTable.decode_mask``: a class's ``value`` when set, else its
  id); values not in the table count as nodata (and are reported);
- an RGB(A) colour mask (3 or 4 bands, DeepGlobe style): colours decoded
  through the class table; an alpha of 0 is nodata;
- a vector layer (GeoPackage, GeoJSON, Shapefile...) with a class attribute
  (class ids or class names), rasterized onto PRED's grid (pixel centres,
  ``all_touched=False``; where reference polygons overlap, the later feature
  wins).

Grids: when both rasters are georeferenced and their grids differ (CRS,
transform or size), REF is resampled onto PRED's grid with nearest neighbour
(class ids are decoded first, on REF's own grid; pixels outside REF are
nodata). Rasters without georeferencing are compared pixel by pixel, which
needs equal sizes.

What is counted: pixels where neither raster is nodata. The confusion matrix
(rows = reference class, columns = predicted class) holds all of them. The
metrics leave out pixels whose *reference* class is ignored (flagged
``ignore`` in the class table, like DeepGlobe's ``unknown``, or named with
``--ignore``); a valid reference pixel predicted as an ignored class is an
error (it lowers that reference class's recall and IoU). For each class ``c``
not ignored, with ``TP`` the diagonal, ``FP`` the other reference rows of
column ``c`` and ``FN`` the other columns of row ``c``::

    IoU = TP / (TP + FP + FN)    precision = TP / (TP + FP)
    recall = TP / (TP + FN)      F1 = 2 TP / (2 TP + FP + FN)

(``None`` where the denominator is 0). mIoU is the mean IoU over the classes
that are not ignored and occur in the reference or the prediction (among the
counted pixels); overall accuracy is the diagonal over all counted pixels.

Compatible with rasterio 1.3+, numpy 1.24+, shapely 1.8+, geopandas 0.12+.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..formats.classes import NODATA, PRESETS, ClassInfo, ClassTable, load_class_table
from ..errors import Cancelled, ClassTableError, InputError
from ..geo.spatial_index import BoundsIndex
from ..formats.gdal_env import with_bounded_gdal_cache

__all__ = [
    "VECTOR_SUFFIXES",
    "EvaluationResult",
    "read_category_names",
    "mask_class_table",
    "open_mask",
    "check_mask_dataset",
    "resolve_class_table",
    "row_blocks",
    "metrics_from_confusion",
    "evaluate",
    "format_report",
    "check_json_output",
    "write_json",
]

# Files read as vector layers (everything else is opened as a raster).
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite")

# Pixels per block: bounds the memory of every step (a few arrays of this size).
BLOCK_PIXELS = 1 << 22
MAX_BLOCK_ROWS = 1024

PathLike = Union[str, Path]


# ----------------------------------------------------------------- opening
@contextmanager
def _quiet_rasterio() -> Iterator[None]:
    # Opening a raster without georeferencing warns; we handle that case ourselves.
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def _open_raster(path: PathLike, role: str):
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{role} {p} does not exist")
    try:
        with _quiet_rasterio():
            return rasterio.open(str(p))
    except RasterioError as exc:
        raise InputError(f"cannot open {role} {p} as a raster: {' '.join(str(exc).split())}") from None


def check_mask_dataset(ds, path: PathLike, role: str = "mask") -> None:
    """Check that an open raster is a class mask: one band of integers.

    Raises
    ------
    InputError
        For several bands (an RGB image or colour mask) or a floating-point band.
    """
    if ds.count != 1:
        raise InputError(
            f"{role} {path} has {ds.count} bands; expected a single-band class mask of class ids (e.g. from glnet segment)"
        )
    if not np.issubdtype(np.dtype(ds.dtypes[0]), np.integer):
        raise InputError(
            f"{role} {path} holds {ds.dtypes[0]} values; expected a class mask of integer class ids (e.g. from glnet segment)"
        )


def open_mask(path: PathLike, role: str = "mask"):
    """Open a class mask with rasterio and check it (:func:`check_mask_dataset`).

    Returns
    -------
    rasterio.io.DatasetReader
        The open dataset (the caller closes it).

    Raises
    ------
    InputError
        If the file is missing, unreadable, or not a class mask.
    """
    ds = _open_raster(path, role)
    try:
        check_mask_dataset(ds, path, role)
    except InputError:
        ds.close()
        raise
    return ds


def read_category_names(path: PathLike) -> Optional[List[str]]:
    """Band 1's GDAL category names from the PAM sidecar ``PATH.aux.xml``.

    Returns
    -------
    list of str or None
        The names (value i -> i-th name), trailing empty names dropped;
        ``None`` when there is no sidecar or it has no category names.
    """
    aux = Path(str(path) + ".aux.xml")
    if not aux.is_file():
        return None
    try:
        root = ET.fromstring(aux.read_bytes())
    except (ET.ParseError, OSError):
        return None
    for band in root.iter("PAMRasterBand"):
        if band.get("band", "1") != "1":
            continue
        cats = band.find("CategoryNames")
        if cats is None:
            continue
        names = [(c.text or "").strip() for c in cats.findall("Category")]
        while names and not names[-1]:
            names.pop()
        return names or None
    return None


def mask_class_table(ds, path: PathLike) -> Optional[ClassTable]:
    """The class table a mask describes itself with (category names + colour table).

    When the names are exactly those of a preset (``deepglobe``...), the
    preset is returned, so that its ignore flags apply (glnet segment writes
    the model's class names).

    Returns
    -------
    ClassTable or None
        ``None`` when the mask has no category names (or fewer than 2).
    """
    names = read_category_names(path)
    if not names or len(names) < 2 or len(names) > NODATA:
        return None
    for preset in PRESETS.values():
        if preset.names == names:
            return preset
    try:
        cmap = ds.colormap(1)
    except ValueError:  # no colour table
        cmap = {}
    seen = set()
    classes = []
    for i, name in enumerate(names):
        # GDAL pads unnamed values with empty names; a table needs unique names.
        if not name or name in seen:
            name = f"class_{i}"
        seen.add(name)
        colour = tuple(int(v) for v in cmap.get(i, (0, 0, 0, 255))[:3])
        classes.append(ClassInfo(i, name, colour))  # type: ignore[arg-type]
    try:
        return ClassTable(tuple(classes), "from-mask")
    except ClassTableError:
        return None


def resolve_class_table(spec: Optional[str], ds, path: PathLike, role: str = "PRED") -> ClassTable:
    """``--classes`` when given, else the mask's own names (see :func:`mask_class_table`).

    Raises
    ------
    ClassTableError
        When neither is available, or ``spec`` is not a valid table.
    """
    if spec:
        return load_class_table(spec)
    table = mask_class_table(ds, path)
    if table is None:
        raise ClassTableError(
            f"{role} {path} has no class names (no <CategoryNames> in {Path(str(path) + '.aux.xml').name}); "
            "pass --classes deepglobe, a class count, or a JSON class table"
        )
    return table


def row_blocks(height: int, width: int, max_rows: int = MAX_BLOCK_ROWS, pixels: int = BLOCK_PIXELS) -> Iterator[Tuple[int, int]]:
    """Row ranges ``[r0, r1)`` covering a raster, each at most ``pixels`` pixels (at least one row)."""
    rows = max(1, min(max_rows, pixels // max(1, width)))
    for r0 in range(0, height, rows):
        yield r0, min(height, r0 + rows)


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


# -------------------------------------------------------- prediction blocks
def _read_pred(ds, path: PathLike, r0: int, r1: int, n_classes: int) -> np.ndarray:
    """PRED's rows ``[r0, r1)`` as uint8 class ids (255 nodata), checking the values."""
    from rasterio.windows import Window

    raw = ds.read(1, window=Window(0, r0, ds.width, r1 - r0))
    out = np.full(raw.shape, NODATA, dtype=np.uint8)
    valid = raw != NODATA
    if ds.nodata is not None:
        valid &= raw != ds.nodata
    vals = raw[valid]
    if vals.size:
        lo, hi = int(vals.min()), int(vals.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise InputError(
                f"{path} holds the value {bad}, which is not a class id of the class table "
                f"({n_classes} classes, ids 0-{n_classes - 1}, 255 nodata); pass the right --classes"
            )
    out[valid] = vals.astype(np.uint8)
    return out


# --------------------------------------------------------- reference sources
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
            check_mask_dataset(ds, path, "REF")
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


def _aligned_reader(ref: _RasterRef, pred) -> "callable":
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
        dst_transform = pred.window_transform(Window(0, r0, pred.width, r1 - r0))
        left, bottom, right, top = transform_bounds(
            pred.crs, src.crs, *_window_bounds(dst_transform, pred.width, r1 - r0), densify_pts=21
        )
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


def _window_bounds(transform, width: int, height: int) -> Tuple[float, float, float, float]:
    xs, ys = [], []
    for c, r in ((0, 0), (width, 0), (0, height), (width, height)):
        # Explicit arithmetic: `transform * point` is deprecated in new affine, `@` missing in old.
        xs.append(transform.c + transform.a * c + transform.b * r)
        ys.append(transform.f + transform.d * c + transform.e * r)
    return min(xs), min(ys), max(xs), max(ys)


def _block_rows_for(pred, ref_ds) -> int:
    """Rows per block so that REF's part of a block stays bounded too (REF may be much finer than PRED)."""
    rows = max(1, min(MAX_BLOCK_ROWS, BLOCK_PIXELS // max(1, pred.width)))
    if ref_ds is None or not (_is_georeferenced(ref_ds) and _is_georeferenced(pred)):
        return rows
    try:
        from rasterio.warp import transform_bounds

        l, b, r, t = transform_bounds(pred.crs, ref_ds.crs, *pred.bounds, densify_pts=21)
        ref_px = ((r - l) / abs(ref_ds.transform.a)) * ((t - b) / abs(ref_ds.transform.e))
        ratio = ref_px / float(pred.width * pred.height)
    except Exception:  # a CRS pair that cannot be transformed is reported by the first read
        return rows
    if ratio > 1:
        rows = max(1, int(rows / ratio))
    return rows


class _VectorRef:
    """A reference vector layer, rasterized onto PRED's grid block by block."""

    def __init__(self, path: PathLike, field: Optional[str], table: ClassTable, pred, layer: Optional[str] = None) -> None:
        import geopandas as gpd

        if field is None:
            raise InputError(f"REF {path} is a vector layer; name its class attribute with --ref-field")
        try:
            gdf = gpd.read_file(str(path), layer=layer) if layer else gpd.read_file(str(path))
        except Exception as exc:  # fiona / pyogrio raise their own types
            raise InputError(f"cannot read REF {path} as a vector layer: {' '.join(str(exc).split())}") from None
        if field not in gdf.columns:
            fields = [c for c in gdf.columns if c != gdf.geometry.name]
            raise InputError(f"REF {path} has no field {field!r}; its fields are: {', '.join(map(str, fields)) or '(none)'}")
        if not _is_georeferenced(pred):
            raise InputError(f"REF {path} is a vector layer but PRED has no CRS, so the polygons cannot be placed on it")
        if gdf.crs is None:
            raise InputError(f"REF {path} has no CRS; set one (e.g. in QGIS or with ogr2ogr -a_srs)")
        if gdf.crs != pred.crs:
            gdf = gdf.to_crs(pred.crs.to_wkt())
        ids = [self._class_id(v, table, path, field) for v in gdf[field]]
        keep = [i for i, (g, c) in enumerate(zip(gdf.geometry, ids)) if c is not None and g is not None and not g.is_empty]
        self.geoms = [gdf.geometry.iloc[i] for i in keep]
        self.ids = [ids[i] for i in keep]
        self.sindex = BoundsIndex(self.geoms) if self.geoms else None
        self.pred = pred

    @staticmethod
    def _class_id(value: Any, table: ClassTable, path: PathLike, field: str) -> Optional[int]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        text = str(value).strip()
        if text in table.names:
            return table.names.index(text)
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number == number and number.is_integer() and 0 <= int(number) < len(table):
            return int(number)
        raise InputError(
            f"REF {path}: field {field!r} holds {value!r}, neither a class id (0-{len(table) - 1}) nor a class name "
            f"({', '.join(table.names)})"
        )

    def read(self, r0: int, r1: int) -> np.ndarray:
        from rasterio.features import rasterize
        from rasterio.windows import Window
        from shapely.geometry import box

        pred = self.pred
        out_shape = (r1 - r0, pred.width)
        transform = pred.window_transform(Window(0, r0, pred.width, r1 - r0))
        if self.sindex is None:
            return np.full(out_shape, NODATA, dtype=np.uint8)
        hits = np.sort(np.asarray(self.sindex.query(box(*_window_bounds(transform, pred.width, r1 - r0)))))
        if hits.size == 0:
            return np.full(out_shape, NODATA, dtype=np.uint8)
        # Sorted feature order: where polygons overlap, the later feature wins, in every block.
        return rasterize(
            ((self.geoms[i], self.ids[i]) for i in hits), out_shape=out_shape, transform=transform,
            fill=NODATA, all_touched=False, dtype="uint8",
        )


# ------------------------------------------------------------------ metrics
@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured (see the module docstring for the definitions)."""

    classes: ClassTable
    ignored: List[int]
    confusion: np.ndarray  # (n, n) int64, rows = reference, columns = prediction
    metrics: Dict[str, Any]
    nodata_pixels: int
    ref_unknown_pixels: int
    pred_path: str = ""
    ref_path: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dictionary (``confusion_matrix``: rows = reference, columns = prediction)."""
        return {
            "pred": self.pred_path,
            "ref": self.ref_path,
            "classes": self.classes.names,
            "ignored_classes": [self.classes.names[i] for i in self.ignored],
            "pixels_nodata": self.nodata_pixels,
            "ref_pixels_unknown_value": self.ref_unknown_pixels,
            **self.metrics,
            "confusion_matrix": self.confusion.tolist(),
            "confusion_matrix_axes": "rows = reference, columns = prediction",
        }


def _ratio(num: float, den: float) -> Optional[float]:
    return float(num) / float(den) if den > 0 else None


def metrics_from_confusion(confusion: np.ndarray, names: Sequence[str], ignored: Sequence[int]) -> Dict[str, Any]:
    """IoU, mIoU, overall accuracy and per-class precision / recall / F1 from a confusion matrix.

    Parameters
    ----------
    confusion:
        ``(n, n)`` pixel counts, rows = reference, columns = prediction.
    names:
        The ``n`` class names.
    ignored:
        Class ids whose reference rows are left out and which get no scores.

    Returns
    -------
    dict
        ``pixels_evaluated``, ``overall_accuracy``, ``miou``,
        ``miou_classes`` (the names averaged) and ``per_class`` (one dict per
        class: ``name``, ``ignored``, ``ref_pixels``, ``pred_pixels``, ``iou``,
        ``precision``, ``recall``, ``f1``; ``None`` where undefined).
    """
    cm = np.asarray(confusion, dtype=np.int64)
    n = cm.shape[0]
    keep = np.ones(n, dtype=bool)
    keep[list(ignored)] = False
    used = cm[keep]  # reference rows that count
    total = int(used.sum())
    per_class = []
    ious = []
    miou_names = []
    for c in range(n):
        ref_px = int(cm[c].sum())
        pred_px = int(used[:, c].sum())
        entry: Dict[str, Any] = {"id": c, "name": names[c], "ignored": not keep[c], "ref_pixels": ref_px, "pred_pixels": pred_px}
        if keep[c]:
            tp = int(cm[c, c])
            fp = pred_px - tp
            fn = ref_px - tp
            iou = _ratio(tp, tp + fp + fn)
            entry.update(iou=iou, precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn), f1=_ratio(2 * tp, 2 * tp + fp + fn))
            if ref_px + pred_px > 0:
                ious.append(iou)
                miou_names.append(names[c])
        else:
            entry.update(iou=None, precision=None, recall=None, f1=None)
        per_class.append(entry)
    return {
        "pixels_evaluated": total,
        "overall_accuracy": _ratio(int(np.trace(cm[keep][:, keep])) if total else 0, total),
        "miou": float(np.mean(ious)) if ious else None,
        "miou_classes": miou_names,
        "per_class": per_class,
    }


def _is_vector(path: PathLike) -> bool:
    p = Path(path)
    return p.suffix.lower() in VECTOR_SUFFIXES or p.is_dir()


@with_bounded_gdal_cache
def evaluate(
    pred_path: PathLike,
    ref_path: PathLike,
    classes: Optional[str] = None,
    ignore: Sequence[str] = (),
    ref_field: Optional[str] = None,
    ref_layer: Optional[str] = None,
    progress: Optional["callable"] = None,
    block_rows: Optional[int] = None,
    is_cancelled: Optional[Callable[[], bool]] = None,
) -> EvaluationResult:
    """Compare a predicted class mask with a reference (see the module docstring).

    Parameters
    ----------
    pred_path:
        The predicted class mask (single band, integer class ids, 255 nodata).
    ref_path:
        The reference: class raster, RGB colour mask, or vector layer.
    classes:
        ``--classes``: a preset name, a class count or a JSON table; by
        default the class names stored with PRED.
    ignore:
        Class names to ignore, in addition to those the table flags.
    ref_field, ref_layer:
        For a vector reference: the class attribute, and the layer (default: the first).
    progress:
        Called as ``progress(rows_done, rows_total)`` after each block.
    block_rows:
        Rows of PRED per block (default: up to 1024, fewer for wide rasters
        or a much finer REF); the results do not depend on it.
    is_cancelled:
        Polled before each block; true stops with :class:`Cancelled`.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InputError
        Missing or unreadable files, a PRED that is not a class mask, a
        reference that cannot be decoded or aligned, unknown ``ignore`` names.
    ClassTableError
        No class table (PRED has no class names and ``classes`` is not given).
    """
    pred = open_mask(pred_path, "PRED")
    ref_ds = None
    try:
        table = resolve_class_table(classes, pred, pred_path)
        unknown = [name for name in ignore if name not in table.names]
        if unknown:
            raise InputError(f"--ignore: no class named {', '.join(map(repr, unknown))}; the classes are {', '.join(table.names)}")
        ignored = sorted(set(table.ignored_ids) | {table.names.index(name) for name in ignore})
        if not Path(ref_path).exists():
            raise InputError(f"REF {ref_path} does not exist")
        if _is_vector(ref_path):
            vref = _VectorRef(ref_path, ref_field, table, pred, ref_layer)
            read_ref = vref.read
            rref = None
            rows = _block_rows_for(pred, None)
        else:
            ref_ds = _open_raster(ref_path, "REF")
            rref = _RasterRef(ref_ds, ref_path, table)
            read_ref = _aligned_reader(rref, pred)
            rows = _block_rows_for(pred, ref_ds)

        n = len(table)
        confusion = np.zeros((n, n), dtype=np.int64)
        nodata = 0
        if block_rows is not None:
            rows = max(1, int(block_rows))
        for r0, r1 in row_blocks(pred.height, pred.width, max_rows=rows, pixels=rows * max(1, pred.width)):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled("cancelled")
            p = _read_pred(pred, pred_path, r0, r1, n)
            r = read_ref(r0, r1)
            valid = (p != NODATA) & (r != NODATA)
            nodata += int(valid.size - np.count_nonzero(valid))
            key = r[valid].astype(np.int64) * n + p[valid]
            confusion += np.bincount(key, minlength=n * n).reshape(n, n)
            if progress is not None:
                progress(r1, pred.height)
        metrics = metrics_from_confusion(confusion, table.names, ignored)
        return EvaluationResult(
            table, ignored, confusion, metrics, nodata, rref.unknown if rref is not None else 0, str(pred_path), str(ref_path)
        )
    finally:
        pred.close()
        if ref_ds is not None:
            ref_ds.close()


def _fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.4f}"


def format_report(result: EvaluationResult) -> str:
    """The readable report ``glnet evaluate`` prints: per-class scores, summary, confusion matrix."""
    m = result.metrics
    names = result.classes.names
    width = max(12, max(len(s) for s in names))
    lines = [f"{'class':<{width}}  {'IoU':>7}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'ref px':>12}  {'pred px':>12}"]
    for e in m["per_class"]:
        tag = "  (ignored)" if e["ignored"] else ""
        lines.append(
            f"{e['name']:<{width}}  {_fmt(e['iou']):>7}  {_fmt(e['precision']):>9}  {_fmt(e['recall']):>7}  "
            f"{_fmt(e['f1']):>7}  {e['ref_pixels']:>12}  {e['pred_pixels']:>12}{tag}"
        )
    lines.append("")
    lines.append(f"mIoU              {_fmt(m['miou'])}  (mean over {len(m['miou_classes'])} classes: {', '.join(m['miou_classes']) or 'none'})")
    lines.append(f"overall accuracy  {_fmt(m['overall_accuracy'])}")
    lines.append(f"pixels evaluated  {m['pixels_evaluated']}  (nodata in PRED or REF: {result.nodata_pixels})")
    if result.ref_unknown_pixels:
        lines.append(f"REF pixels with a value or colour not in the class table (counted as nodata): {result.ref_unknown_pixels}")
    lines.append("")
    lines.append("confusion matrix (rows = reference, columns = prediction; class ids as in the table above)")
    cm = result.confusion
    cw = max(8, len(str(int(cm.max()))) + 1 if cm.size else 8)
    lines.append(" " * (width + 2) + "".join(f"{i:>{cw}}" for i in range(len(names))))
    for i, row in enumerate(cm):
        lines.append(f"{str(i) + ' ' + names[i]:<{width + 2}}"[: width + 2] + "".join(f"{int(v):>{cw}}" for v in row))
    return "\n".join(lines)


def check_json_output(path: PathLike) -> Path:
    """Check, before any work, that a JSON report can be written at ``path``.

    Raises
    ------
    InputError
        The folder is missing, or ``path`` is a folder.
    """
    out = Path(path)
    if not out.parent.is_dir():
        raise InputError(f"the output folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name for --json")
    return out


def write_json(result: EvaluationResult, path: PathLike) -> Path:
    """Write ``result.to_dict()`` as JSON at ``path``, replacing it atomically.

    Written under a hidden temporary name and renamed, so a reader never
    sees a half-written report.

    Returns
    -------
    Path
        ``path``.
    """
    out = check_json_output(path)
    tmp = out.with_name("." + out.name + ".part")
    try:
        tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(str(tmp), str(out))
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
