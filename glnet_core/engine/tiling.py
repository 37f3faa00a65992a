"""Patch layout inside one GLNet window, and the matching feature-map boxes.

Pure functions over small frozen value types; no torch, no raster I/O. The
PyTorch model (training, reference inference) and the onnxruntime engine both
import this module, so the two can never disagree about where a patch lies or
which part of a global feature map belongs to it.

Conventions
-----------
* Sizes and offsets are ``(rows, cols)``; a window is ``height x width`` pixels.
* Rounding follows the published GLNet implementation, which uses
  ``numpy.round`` (round half to even). :func:`round_half_even` is that rule.
* Where the published code crashes (a window equal to the patch size divides
  by zero; a rounded crop running past a feature map's edge makes tensors of
  different sizes), this module gives a defined answer; see each function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from ..errors import LayoutError

__all__ = [
    "PatchBox",
    "FeatureBox",
    "round_half_even",
    "axis_starts",
    "patch_layout",
    "feature_box",
    "padded_size",
    "WindowLayouts",
]


@dataclass(frozen=True)
class PatchBox:
    """A ``size x size`` patch at ``(top, left)`` inside a window, in pixels."""

    top: int
    left: int
    size_rows: int
    size_cols: int

    @property
    def bottom(self) -> int:
        return self.top + self.size_rows

    @property
    def right(self) -> int:
        return self.left + self.size_cols


@dataclass(frozen=True)
class FeatureBox:
    """A rectangle ``[row0, row1) x [col0, col1)`` of a feature map."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0

    @property
    def width(self) -> int:
        return self.col1 - self.col0


def round_half_even(value: float) -> int:
    """Round to the nearest integer, ties to even (``numpy.round`` semantics)."""
    return int(round(value))  # Python's round() is banker's rounding too.


def axis_starts(length: int, patch: int, min_overlap: int = 50) -> List[int]:
    """Start offsets of the patches along one axis of a window.

    The published rule: ``n = ceil(length / patch)``; while the overlap
    ``patch - (length - patch) / (n - 1)`` is below ``min_overlap`` pixels, add
    a patch; patch ``i`` starts at ``round(i * step)`` with
    ``step = (length - patch) / (n - 1)`` and the last one at
    ``length - patch``.

    Parameters
    ----------
    length:
        Window length along the axis, in pixels. Must be ``>= patch``; pad
        shorter windows first (see :func:`padded_size`).
    patch:
        Patch length in pixels (``size_p``).
    min_overlap:
        Minimum overlap of neighbouring patches in pixels.

    Returns
    -------
    list of int
        Ascending start offsets, the first 0 and the last ``length - patch``.
        A window exactly one patch long has one patch (the published code
        divides by zero there).

    Raises
    ------
    LayoutError
        If ``patch <= 0``, ``length < patch`` or ``min_overlap >= patch``.
    """
    if patch <= 0:
        raise LayoutError(f"patch size must be positive, got {patch}")
    if length < patch:
        raise LayoutError(f"window length {length} is shorter than the patch size {patch}; pad it first")
    if min_overlap >= patch:
        raise LayoutError(f"minimum overlap {min_overlap} must be smaller than the patch size {patch}")
    if length == patch:
        return [0]
    n = max(2, math.ceil(length / patch))
    while patch - (length - patch) / (n - 1) < min_overlap:
        n += 1
    step = (length - patch) / (n - 1)
    return [round_half_even(i * step) for i in range(n - 1)] + [length - patch]


def padded_size(height: int, width: int, patch: int) -> Tuple[int, int]:
    """The window size after padding each axis shorter than ``patch`` up to it.

    A window narrower than a patch is zero-padded at the bottom / right before
    inference and its outputs are cropped back; this gives the padded size.

    Raises
    ------
    LayoutError
        If a size is not positive.
    """
    if height <= 0 or width <= 0:
        raise LayoutError(f"window size must be positive, got {height} x {width}")
    return max(height, patch), max(width, patch)


def patch_layout(height: int, width: int, patch: int, min_overlap: int = 50) -> List[PatchBox]:
    """All patches of a ``height x width`` window, row-major (top to bottom, then left to right).

    Both sizes must be at least ``patch`` (see :func:`padded_size`).

    Raises
    ------
    LayoutError
        As :func:`axis_starts`.
    """
    rows = axis_starts(height, patch, min_overlap)
    cols = axis_starts(width, patch, min_overlap)
    return [PatchBox(top, left, patch, patch) for top in rows for left in cols]


def feature_box(patch: PatchBox, window: Tuple[int, int], feature: Tuple[int, int]) -> FeatureBox:
    """The part of a global feature map that corresponds to a patch.

    The published rule: for a patch at relative offset ``t = top / height``
    and relative size ``r = patch / height``, a feature map of ``H`` rows gives
    rows ``round(t * H)`` to ``round(t * H) + round(r * H)`` (likewise for
    columns). When rounding makes that box run past the feature map's edge
    (the published code then fails on mismatched tensor sizes), the box keeps
    its size and is shifted back inside the map. A box is never empty.

    Parameters
    ----------
    patch:
        The patch, in window pixels.
    window:
        ``(height, width)`` of the window in pixels (after padding).
    feature:
        ``(rows, cols)`` of the feature map.

    Returns
    -------
    FeatureBox
    """
    row0, row1 = _feature_span(patch.top, patch.size_rows, window[0], feature[0])
    col0, col1 = _feature_span(patch.left, patch.size_cols, window[1], feature[1])
    return FeatureBox(row0, row1, col0, col1)


def _feature_span(start: int, size: int, length: int, feature_length: int) -> Tuple[int, int]:
    extent = max(1, min(feature_length, round_half_even(size / length * feature_length)))
    begin = round_half_even(start / length * feature_length)
    begin = min(max(begin, 0), feature_length - extent)
    return begin, begin + extent


@dataclass
class WindowLayouts:
    """The patch layouts of a run's windows, each computed once.

    A run's windows have few distinct sizes (the window size, and shorter
    ones along the raster's edges), so layouts are kept per padded size:
    the progress total, the predictor and the patch counts of a window all
    use the same list.

    Parameters
    ----------
    patch:
        Patch size (``size_p``).
    min_overlap:
        Minimum overlap of neighbouring patches.
    """

    patch: int
    min_overlap: int
    _layouts: Dict[Tuple[int, int], List[PatchBox]] = field(default_factory=dict, repr=False)

    def for_window(self, height: int, width: int) -> List[PatchBox]:
        """The layout of a ``height x width`` window after padding (:func:`padded_size`, :func:`patch_layout`).

        Raises
        ------
        LayoutError
            As :func:`patch_layout`.
        """
        size = padded_size(height, width, self.patch)
        layout = self._layouts.get(size)
        if layout is None:
            layout = self._layouts[size] = patch_layout(size[0], size[1], self.patch, self.min_overlap)
        return layout
