"""Accuracy metrics from a confusion matrix: per-class IoU, precision, recall, F1; mIoU; overall accuracy.

The one definition, used by ``glnet evaluate`` (:mod:`glnet_core.products.evaluate`)
and by training's validation scores (:mod:`glnet.models.training`), so that a
validation mIoU printed during training is the number ``glnet evaluate`` gives
for the same pixels.

The confusion matrix has rows = reference class, columns = predicted class
(:func:`confusion_matrix`). The metrics leave out pixels whose *reference*
class is ignored (flagged ``ignore`` in the class table, like DeepGlobe's
``unknown``, or named with ``--ignore``); a valid reference pixel predicted as
an ignored class is an error (it lowers that reference class's recall and
IoU). For each class ``c`` not ignored, with ``TP`` the diagonal, ``FP`` the
other counted reference rows of column ``c`` and ``FN`` the other columns of
row ``c``::

    IoU = TP / (TP + FP + FN)    precision = TP / (TP + FP)
    recall = TP / (TP + FN)      F1 = 2 TP / (2 TP + FP + FN)

(``None`` where the denominator is 0). mIoU is the mean IoU over the classes
that are not ignored and occur in the reference or the prediction (among the
counted pixels); overall accuracy is the diagonal over all counted pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..formats.classes import NODATA

__all__ = ["ClassScores", "Metrics", "confusion_matrix", "scores_from_confusion", "metrics_from_confusion"]


def _ratio(num: float, den: float) -> Optional[float]:
    return float(num) / float(den) if den > 0 else None


@dataclass(frozen=True)
class ClassScores:
    """The scores of one class (``None`` where undefined, and for ignored classes)."""

    id: int
    name: str
    ignored: bool
    ref_pixels: int
    pred_pixels: int
    iou: Optional[float]
    precision: Optional[float]
    recall: Optional[float]
    f1: Optional[float]

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dictionary, keys in the order of the fields."""
        return {
            "id": self.id,
            "name": self.name,
            "ignored": self.ignored,
            "ref_pixels": self.ref_pixels,
            "pred_pixels": self.pred_pixels,
            "iou": self.iou,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Metrics:
    """Scores of one confusion matrix (see the module docstring for the definitions).

    Attributes
    ----------
    pixels_evaluated:
        Counted pixels (reference rows of classes not ignored).
    overall_accuracy:
        Diagonal over counted pixels; None when none was counted.
    miou:
        Mean IoU over the classes in ``miou_classes``; None when there are none.
    miou_classes:
        Names of the classes averaged.
    per_class:
        One :class:`ClassScores` per class, in id order.
    """

    pixels_evaluated: int
    overall_accuracy: Optional[float]
    miou: Optional[float]
    miou_classes: Tuple[str, ...]
    per_class: Tuple[ClassScores, ...]

    @property
    def iou(self) -> List[Optional[float]]:
        """Per-class IoU, in id order."""
        return [c.iou for c in self.per_class]

    def to_dict(self) -> Dict[str, Any]:
        """The dictionary ``glnet evaluate`` reports (``pixels_evaluated``, ``overall_accuracy``, ``miou``,
        ``miou_classes``, ``per_class``)."""
        return {
            "pixels_evaluated": self.pixels_evaluated,
            "overall_accuracy": self.overall_accuracy,
            "miou": self.miou,
            "miou_classes": list(self.miou_classes),
            "per_class": [c.to_dict() for c in self.per_class],
        }


def confusion_matrix(
    reference: np.ndarray,
    predicted: np.ndarray,
    n_classes: int,
    ignored: Sequence[int] = (),
    valid: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Counts of (reference, predicted) class pairs.

    Parameters
    ----------
    reference, predicted:
        Class ids of the same shape, below ``n_classes`` where counted.
    n_classes:
        The matrix's size.
    ignored:
        Reference classes whose pixels are not counted at all (training
        leaves them out here; ``glnet evaluate`` counts them and lets the
        metrics leave them out, which gives the same scores).
    valid:
        Pixels to count; default: those where neither array is nodata (255).

    Returns
    -------
    numpy.ndarray
        ``(n_classes, n_classes)`` int64, rows = reference, columns = prediction.
    """
    if valid is None:
        valid = (reference != NODATA) & (predicted != NODATA)
    if len(ignored):
        valid = valid.copy()
        for c in ignored:
            valid &= reference != c
    key = reference[valid].astype(np.int64) * n_classes + predicted[valid]
    return np.bincount(key, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores_from_confusion(
    confusion: np.ndarray, names: Optional[Sequence[str]] = None, ignored: Sequence[int] = ()
) -> Metrics:
    """IoU, mIoU, overall accuracy and per-class precision / recall / F1 from a confusion matrix.

    Parameters
    ----------
    confusion:
        ``(n, n)`` pixel counts, rows = reference, columns = prediction.
    names:
        The ``n`` class names (default ``class_<id>``).
    ignored:
        Class ids whose reference rows are left out and which get no scores.

    Returns
    -------
    Metrics
    """
    cm = np.asarray(confusion, dtype=np.int64)
    n = cm.shape[0]
    labels = list(names) if names is not None else [f"class_{i}" for i in range(n)]
    keep = np.ones(n, dtype=bool)
    keep[list(ignored)] = False
    used = cm[keep]  # reference rows that count
    total = int(used.sum())
    per_class = []
    ious: List[float] = []
    miou_names = []
    for c in range(n):
        ref_px = int(cm[c].sum())
        pred_px = int(used[:, c].sum())
        if keep[c]:
            tp = int(cm[c, c])
            fp = pred_px - tp
            fn = ref_px - tp
            iou = _ratio(tp, tp + fp + fn)
            scores = (iou, _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn))
            if iou is not None:  # the class occurs in the reference or the prediction
                ious.append(iou)
                miou_names.append(labels[c])
        else:
            scores = (None, None, None, None)
        per_class.append(ClassScores(c, labels[c], not bool(keep[c]), ref_px, pred_px, *scores))
    return Metrics(
        pixels_evaluated=total,
        overall_accuracy=_ratio(int(np.trace(cm[keep][:, keep])) if total else 0, total),
        miou=float(np.mean(ious)) if ious else None,
        miou_classes=tuple(miou_names),
        per_class=tuple(per_class),
    )


def metrics_from_confusion(confusion: np.ndarray, names: Sequence[str], ignored: Sequence[int]) -> Dict[str, Any]:
    """:func:`scores_from_confusion` as the dictionary ``glnet evaluate`` reports (:meth:`Metrics.to_dict`)."""
    return scores_from_confusion(confusion, names, ignored).to_dict()
