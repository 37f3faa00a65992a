"""From a window's summed patch scores to the class map and confidence of its core.

The predictor (:mod:`glnet_core.engine.predictor`) sums each computed patch's
logits into the window; here the sums of the window's *core* become

* the class: argmax of the sums (the published rule: overlapping patches
  vote with their summed logits);
* the confidence: the softmax of the patch-averaged logits (the sums divided
  by how many computed patches cover the pixel), top class, in percent;

and pixels that are not valid in the input get :data:`NODATA` in both.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from ..formats.classes import NODATA
from .tiling import PatchBox

__all__ = ["ROW_CHUNK", "patch_counts", "merge_core"]

#: Rows handled at once: whole-window temporaries would each be as large as
#: the score map (168 MB for the paper model).
ROW_CHUNK = 256


def patch_counts(shape: Tuple[int, int], boxes: Sequence[PatchBox]) -> np.ndarray:
    """How many of ``boxes`` cover each pixel of a ``shape`` window, float32."""
    count = np.zeros(shape, np.float32)
    for b in boxes:
        count[b.top : b.bottom, b.left : b.right] += 1
    return count


def merge_core(scores: np.ndarray, count: np.ndarray, core: Tuple[slice, slice],
               valid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Class map and confidence of a window's core.

    Parameters
    ----------
    scores:
        ``(n_classes, H, W)`` summed patch logits of the (padded) window.
    count:
        ``(H, W)`` computed patches per pixel (:func:`patch_counts`).
    core:
        ``(rows, cols)`` slices of the core in window pixels.
    valid:
        ``(h, w)`` validity of the core's pixels.

    Returns
    -------
    (classes, confidence):
        ``uint8`` arrays of the core's shape: class ids, and the top class
        probability in percent (0-100); :data:`NODATA` where not ``valid``.
    """
    rows, cols = core
    block = scores[:, rows, cols]
    n = np.maximum(count[rows, cols], 1)
    classes = np.empty(block.shape[1:], np.uint8)
    confidence = np.empty_like(classes)
    for r0 in range(0, block.shape[1], ROW_CHUNK):
        chunk = block[:, r0 : r0 + ROW_CHUNK]
        classes[r0 : r0 + ROW_CHUNK] = chunk.argmax(axis=0)
        mean = chunk / n[None, r0 : r0 + ROW_CHUNK]
        mean -= mean.max(axis=0, keepdims=True)
        np.exp(mean, out=mean)
        confidence[r0 : r0 + ROW_CHUNK] = np.rint(100.0 / mean.sum(axis=0))  # the top class's exp is 1
    invalid = ~valid
    classes[invalid] = NODATA
    confidence[invalid] = NODATA
    return classes, confidence
