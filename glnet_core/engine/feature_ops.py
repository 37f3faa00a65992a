"""The tensor operations the engine performs between ONNX subgraphs, in numpy.

Everything a GLNet layer computes runs inside ONNX; between the subgraphs the
engine only crops, resizes, merges and sums feature maps. Those operations are
specified in docs/subgraphs.md and implemented here, once, with the same
rounding and interpolation rules as the PyTorch model (models/glnet.py), so the
export verification can compare the two chains directly.

Tensors are numpy arrays laid out ``(N, C, H, W)``.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from .modes import UPSAMPLING
from .tiling import PatchBox, feature_box

__all__ = ["bilinear_resize", "crop_boxes", "patch_count", "LocalMerger", "UPSAMPLING", "accumulate_patches"]


def _bilinear_axis(in_size: int, out_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    # PyTorch's upsample_bilinear2d with align_corners=False, computed in float32
    # as its CPU kernel does: src = max((dst + 0.5) * in / out - 0.5, 0).
    scale = np.float32(in_size) / np.float32(out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    i0 = src.astype(np.int64)
    lam1 = np.clip(src - i0.astype(np.float32), 0.0, 1.0).astype(np.float32)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, lam1


def bilinear_resize(x: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes, ``align_corners=False``, no antialiasing.

    Matches ``torch.nn.functional.interpolate(x, size, mode="bilinear",
    align_corners=False)`` to float32 rounding. Returns ``x`` itself when the
    size already matches.
    """
    h, w = int(size[0]), int(size[1])
    if x.shape[-2:] == (h, w):
        return x
    r0, r1, rl = _bilinear_axis(x.shape[-2], h)
    c0, c1, cl = _bilinear_axis(x.shape[-1], w)
    x = x.astype(np.float32, copy=False)
    rows = x[..., r0, :] * (1 - rl)[:, None] + x[..., r1, :] * rl[:, None]
    return rows[..., c0] * (1 - cl) + rows[..., c1] * cl


def crop_boxes(x: np.ndarray, boxes: Sequence[PatchBox], window: Tuple[int, int]) -> np.ndarray:
    """Crops of a ``(1, C, H, W)`` global tensor for each patch, stacked to ``(N, C, h, w)``.

    The box of each patch is :func:`glnet_core.tiling.feature_box`; all boxes
    of one tensor have the same size.
    """
    fb = [feature_box(b, window, x.shape[-2:]) for b in boxes]
    return np.concatenate([x[:, :, f.row0 : f.row1, f.col0 : f.col1] for f in fb], axis=0)


def patch_count(window: Tuple[int, int], boxes: Sequence[PatchBox]) -> np.ndarray:
    """``(1, 1, H, W)`` float32: how many of ``boxes`` cover each pixel of a ``window = (H, W)``.

    The divisor of the merged local tensors (:class:`LocalMerger`; the device
    chain's ``divide`` graph), resized to each tensor's size with
    :func:`bilinear_resize`.
    """
    count = np.zeros((1, 1) + (int(window[0]), int(window[1])), dtype=np.float32)
    for b in boxes:
        count[..., b.top : b.bottom, b.left : b.right] += 1
    return count


class LocalMerger:
    """Merges local tensors into global-map coordinates for the stage-3 pass.

    Each patch's tensor is resized (bilinear) to its footprint on the global
    tensor of the same name and added there; :meth:`result` divides by the
    patch count map, counted at window resolution and resized (bilinear) to
    each tensor's size. Memory: one sum per shared tensor, at global size.

    Parameters
    ----------
    shapes:
        ``(C, H, W)`` of each global tensor to merge into, in order.
    window:
        ``(height, width)`` of the (padded) window.
    boxes:
        All patches of the window.
    """

    def __init__(self, shapes: Sequence[Tuple[int, int, int]], window: Tuple[int, int], boxes: Sequence[PatchBox]):
        self.window = (int(window[0]), int(window[1]))
        self.sums: List[np.ndarray] = [np.zeros((1,) + tuple(s), dtype=np.float32) for s in shapes]
        self._count = patch_count(self.window, boxes)

    def add(self, local: Sequence[np.ndarray], boxes: Sequence[PatchBox]) -> None:
        """Add a batch: ``local[i]`` is ``(N, C_i, h_i, w_i)`` for the ``N`` patches in ``boxes``."""
        for acc, t in zip(self.sums, local):
            for i, b in enumerate(boxes):
                f = feature_box(b, self.window, acc.shape[-2:])
                acc[:, :, f.row0 : f.row1, f.col0 : f.col1] += bilinear_resize(t[i : i + 1], (f.height, f.width))

    def result(self) -> List[np.ndarray]:
        """The merged tensors (the sums are divided in place: call once)."""
        counts: Dict[Tuple[int, int], np.ndarray] = {}
        for acc in self.sums:
            key = acc.shape[-2:]
            if key not in counts:
                counts[key] = bilinear_resize(self._count, key)
            acc /= counts[key]
        return self.sums



def accumulate_patches(scores: np.ndarray, logits: np.ndarray, boxes: Sequence[PatchBox], upsample: str = "nearest") -> None:
    """Add patch logits, upsampled to the patch size, into window scores.

    ``scores`` is ``(n_classes, H, W)``; ``logits`` is ``(N, n_classes, h, w)``.
    ``"nearest"`` is the published rule (PyTorch's legacy ``nearest``: source
    index ``floor(dst * h / p)``); ``"bilinear"`` is :func:`bilinear_resize`,
    which gives smoother class boundaries.
    """
    p_rows, p_cols = boxes[0].size_rows, boxes[0].size_cols
    h, w = logits.shape[-2:]
    if upsample == "bilinear":
        up = bilinear_resize(logits, (p_rows, p_cols))
        for b, x in zip(boxes, up):
            scores[:, b.top : b.bottom, b.left : b.right] += x
        return
    if upsample != "nearest":
        raise ValueError(f"unknown upsampling {upsample!r}; choose one of {', '.join(UPSAMPLING)}")
    ri = np.minimum(np.floor(np.arange(p_rows, dtype=np.float32) * np.float32(h / p_rows)).astype(np.int64), h - 1)
    ci = np.minimum(np.floor(np.arange(p_cols, dtype=np.float32) * np.float32(w / p_cols)).astype(np.int64), w - 1)
    for b, x in zip(boxes, logits):
        scores[:, b.top : b.bottom, b.left : b.right] += x[:, ri][:, :, ci]
