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
from typing import Dict, List, Optional, Tuple

from ..errors import InputError, LayoutError

__all__ = [
    "PatchBox",
    "FeatureBox",
    "round_half_even",
    "axis_starts",
    "patch_layout",
    "feature_box",
    "padded_size",
    "WindowLayouts",
    "MAX_PATCHES_PER_WINDOW",
    "axis_patch_count",
    "window_patch_count",
    "largest_window",
    "window_patch_problem",
    "check_window_patches",
]

#: The most patches one window may need. The published model needs 36 per
#: 2448 px window; the bound lets any sensible window run (7200 px for the
#: lite model, 14706 px for the paper one) and keeps one window's patch
#: logits (held until the stage-3 pass) and patch list in hundreds of MB at
#: most. Without it an overlap of 127 px on 128 px patches made 148,225
#: patches per 512 px window and ran out of memory.
MAX_PATCHES_PER_WINDOW = 1024


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
    n = axis_patch_count(length, patch, min_overlap)
    if n == 1:
        return [0]
    step = (length - patch) / (n - 1)
    return [round_half_even(i * step) for i in range(n - 1)] + [length - patch]


def axis_patch_count(length: int, patch: int, min_overlap: int) -> int:
    """How many patches :func:`axis_starts` places along an axis, in constant time.

    The published rule adds one patch at a time while the overlap is short;
    the overlap is at least ``min_overlap`` exactly when
    ``(n - 1) * (patch - min_overlap) >= length - patch``, so the count is
    the smallest such ``n`` not below ``max(2, ceil(length / patch))``.
    Integer arithmetic, so a huge ``length`` costs nothing (the loop ran
    once per patch).

    Parameters
    ----------
    length, patch, min_overlap:
        As :func:`axis_starts`.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    LayoutError
        As :func:`axis_starts`.
    """
    if patch <= 0:
        raise LayoutError(f"patch size must be positive, got {patch}")
    if length < patch:
        raise LayoutError(f"window length {length} is shorter than the patch size {patch}; pad it first")
    if min_overlap >= patch:
        raise LayoutError(f"minimum overlap {min_overlap} must be smaller than the patch size {patch}")
    if length == patch:
        return 1
    stride = patch - min_overlap
    return max(2, -(-length // patch), 1 + -(-(length - patch) // stride))


def window_patch_count(height: int, width: int, patch: int, min_overlap: int) -> int:
    """Patches in a ``height x width`` window after padding (:func:`padded_size`), without listing them.

    Raises
    ------
    LayoutError
        As :func:`axis_starts` and :func:`padded_size`.
    """
    rows, cols = padded_size(height, width, patch)
    return axis_patch_count(rows, patch, min_overlap) * axis_patch_count(cols, patch, min_overlap)


def largest_window(patch: int, min_overlap: int, max_patches: int = MAX_PATCHES_PER_WINDOW) -> int:
    """The side of the largest square window that needs at most ``max_patches`` patches.

    Raises
    ------
    LayoutError
        As :func:`axis_starts`.
    """
    if min_overlap >= patch or patch <= 0:
        axis_patch_count(patch, patch, min_overlap)  # raises the layout's own message
    per_axis = max(1, math.isqrt(max_patches))
    return patch + (per_axis - 1) * (patch - min_overlap)


def window_patch_problem(window: int, patch: int, min_overlap: int,
                         max_patches: int = MAX_PATCHES_PER_WINDOW) -> Optional[str]:
    """Why a ``window`` px square window cannot run with these patches, or ``None`` when it can.

    The one patch-count rule: the manifest's window (:mod:`.bundle`) and a
    run's ``--window`` (segment, the QGIS algorithms) are both held to it.
    Windows along a raster's edges are smaller and need no more patches
    (the count grows with the window).

    Parameters
    ----------
    window:
        Window side in pixels (before padding to the patch size).
    patch:
        Patch size (``size_p``), positive.
    min_overlap:
        Minimum overlap of neighbouring patches, ``0 <= min_overlap < patch``.
    max_patches:
        The bound, :data:`MAX_PATCHES_PER_WINDOW`.

    Returns
    -------
    str or None
        E.g. ``"a 512 px window needs 148225 patches of 128 px with 127 px
        overlap (at most 1024; at most 159 px with these patches)"``.
    """
    if patch <= 0:
        return f"patch size {patch} is not positive"
    if not 0 <= min_overlap < patch:
        return f"minimum overlap {min_overlap} must be at least 0 and smaller than the patch size {patch}"
    if window <= 0:
        return f"window {window} is not positive"
    n = window_patch_count(window, window, patch, min_overlap)
    if n <= max_patches:
        return None
    return (f"a {window} px window needs {n} patches of {patch} px with {min_overlap} px overlap "
            f"(at most {max_patches}; at most {largest_window(patch, min_overlap, max_patches)} px "
            "with these patches)")


def check_window_patches(window: int, patch: int, min_overlap: int, option: str = "--window") -> None:
    """Refuse a run's window that needs more than :data:`MAX_PATCHES_PER_WINDOW` patches.

    For callers that take a window from the user (``glnet segment
    --window``, the QGIS segment algorithm), after the bundle is loaded.

    Parameters
    ----------
    window:
        The run's window side, pixels.
    patch, min_overlap:
        The bundle's ``size_p`` and ``min_overlap``.
    option:
        The option that gave ``window``, named first in the message.

    Raises
    ------
    InputError
        ``--window 8192: a 8192 px window needs 1369 patches of 256 px ...``.
    """
    problem = window_patch_problem(window, patch, min_overlap)
    if problem:
        raise InputError(f"{option} {window}: {problem}")


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
        InputError
            If the window needs more than :data:`MAX_PATCHES_PER_WINDOW`
            patches (:func:`window_patch_problem`).
        """
        size = padded_size(height, width, self.patch)
        layout = self._layouts.get(size)
        if layout is None:
            # The root of the patch-count rule: no layout beyond the bound is
            # ever listed, whoever chose the window.
            n = window_patch_count(size[0], size[1], self.patch, self.min_overlap)
            if n > MAX_PATCHES_PER_WINDOW:
                raise InputError(
                    f"--window: a {size[0]} x {size[1]} px window needs {n} patches of {self.patch} px with "
                    f"{self.min_overlap} px overlap (at most {MAX_PATCHES_PER_WINDOW}; use --window "
                    f"{largest_window(self.patch, self.min_overlap)} or less)"
                )
            layout = self._layouts[size] = patch_layout(size[0], size[1], self.patch, self.min_overlap)
        return layout
