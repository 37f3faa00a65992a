"""Accuracy of a class mask against a reference: confusion matrix, IoU, mIoU, F1.

:func:`evaluate` compares a predicted class mask ``PRED`` (a single-band
integer raster of class ids, 255 = nodata, as ``glnet segment`` writes it)
with a reference ``REF``, streaming over blocks of rows so that rasters of any
size are compared in bounded memory. ``REF`` may be
a single-band class raster, an RGB(A) colour mask (DeepGlobe style) or a
vector layer with a class attribute; :mod:`.references` reads it on PRED's
grid (decoding, reprojection, rasterization). PRED is read through
:mod:`..formats.class_mask` (255 and the file's nodata value are nodata;
other values must be class ids of the table). The reports are in
:mod:`.reports`.

What is counted: pixels where neither raster is nodata. The confusion matrix
(rows = reference class, columns = predicted class) holds all of them; the
metrics (IoU, precision, recall, F1, mIoU, overall accuracy) are
:mod:`.metrics`' definitions, the ones training's validation uses: they leave
out pixels whose *reference* class is ignored (flagged ``ignore`` in the class
table, like DeepGlobe's ``unknown``, or named with ``--ignore``).

Compatible with rasterio 1.3+, numpy 1.24+, shapely 1.8+, geopandas 0.12+.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ..callbacks import Callbacks
from ..errors import InputError
from ..formats.class_mask import open_class_mask, read_class_ids, resolve_class_table, row_blocks
from ..formats.classes import NODATA, ClassTable
from ..formats.gdal_env import with_bounded_gdal_cache
from .metrics import confusion_matrix, metrics_from_confusion
from .references import open_reference

__all__ = ["EvaluationResult", "metrics_from_confusion", "evaluate"]

PathLike = Union[str, Path]


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


@with_bounded_gdal_cache
def evaluate(
    pred_path: PathLike,
    ref_path: PathLike,
    classes: Optional[str] = None,
    ignore: Sequence[str] = (),
    ref_field: Optional[str] = None,
    ref_layer: Optional[str] = None,
    callbacks: Optional[Callbacks] = None,
    block_rows: Optional[int] = None,
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
    callbacks:
        Progress in rows of PRED (after each block); cancellation is polled
        before each block and stops with :class:`Cancelled`.
    block_rows:
        Rows of PRED per block (default: up to 1024, fewer for wide rasters
        or a much finer REF); the results do not depend on it.

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
    pred = open_class_mask(pred_path, "PRED")
    ref = None
    try:
        table = resolve_class_table(classes, pred, pred_path, "PRED")
        unknown = [name for name in ignore if name not in table.names]
        if unknown:
            raise InputError(f"--ignore: no class named {', '.join(map(repr, unknown))}; the classes are {', '.join(table.names)}")
        ignored = sorted(set(table.ignored_ids) | {table.names.index(name) for name in ignore})
        ref = open_reference(ref_path, table, pred, ref_field, ref_layer)
        rows = ref.rows

        n = len(table)
        confusion = np.zeros((n, n), dtype=np.int64)
        nodata = 0
        if block_rows is not None:
            rows = max(1, int(block_rows))
        cb = callbacks or Callbacks()
        counter = cb.counter(pred.height, "rows")
        for r0, r1 in row_blocks(pred.height, pred.width, rows=rows):
            cb.check_cancelled()
            p = read_class_ids(pred, pred_path, r0, r1, n, "PRED")
            r = ref.read(r0, r1)
            valid = (p != NODATA) & (r != NODATA)
            nodata += int(valid.size - np.count_nonzero(valid))
            confusion += confusion_matrix(r, p, n, valid=valid)
            counter.step(r1)
        metrics = metrics_from_confusion(confusion, table.names, ignored)
        return EvaluationResult(
            table, ignored, confusion, metrics, nodata, ref.unknown_pixels, str(pred_path), str(ref_path)
        )
    finally:
        pred.close()
        if ref is not None:
            ref.close()
