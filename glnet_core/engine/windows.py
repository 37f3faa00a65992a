"""The first tiling level: a raster cut into overlapping GLNet windows.

Each window is what the global branch sees (``window`` pixels a side, 2448 for
the published model); its *core* is the part of it written to the output. The
cores tile the raster exactly, each pixel in one core, and every core lies at
least ``margin`` pixels inside its window except along the raster's own edges,
so no output pixel comes from a window edge: the mosaic has no seams.

Sizes are in the pixels of the grid the model runs on (the raster's own grid,
or the resampled one when the model's ground resolution differs; see
:mod:`glnet_core.engine.grid`). The second tiling level, patches inside a window,
is :mod:`glnet_core.engine.tiling`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

from ..errors import LayoutError

__all__ = ["Span", "RasterWindow", "default_margin", "axis_windows", "raster_windows"]


@dataclass(frozen=True)
class Span:
    """``[start, stop)`` along one axis."""

    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class RasterWindow:
    """A window to run (``rows`` x ``cols``) and the core of it to write (``core_rows`` x ``core_cols``).

    All spans are in raster (model-grid) pixels; the core lies inside the window.
    """

    index: int
    rows: Span
    cols: Span
    core_rows: Span
    core_cols: Span

    @property
    def core_in_window(self) -> Tuple[slice, slice]:
        """The core as ``(rows, cols)`` slices of the window's own pixels."""
        return (slice(self.core_rows.start - self.rows.start, self.core_rows.stop - self.rows.start),
                slice(self.core_cols.start - self.cols.start, self.core_cols.stop - self.cols.start))


def default_margin(window: int) -> int:
    """Margin between a core and its window's edge: a twentieth of the window (122 px for 2448, 51 for 1024).

    Chosen by measurement (``benchmarks/margin_study.py``, docs/benchmarks.md):
    against the most context the engine can give (a margin of 45 %), a
    twentieth agrees as well as a tenth did (within 0.05 % of the pixels, the
    same near core edges), while on large rasters it runs about a fifth less
    work (interior pixels are computed ``W**2 / (W - 2m)**2`` times: 1.23
    instead of 1.56). No margin at all leaves visible seams.
    """
    return max(1, window // 20)


def axis_windows(length: int, window: int, margin: int) -> List[Tuple[Span, Span]]:
    """Windows and cores along one axis.

    Parameters
    ----------
    length:
        Raster length in pixels (> 0).
    window:
        Window length in pixels.
    margin:
        Minimum distance from a core to the edge of its window (except at the
        raster's edges); ``0 <= margin``, ``2 * margin < window``.

    Returns
    -------
    list of (window span, core span)
        Cores are contiguous and cover ``[0, length)``; windows are ``window``
        long (or ``length`` when the raster is shorter) and lie inside the
        raster. As few windows as the margin allows: cores at the raster's
        edges may reach ``window - margin``, inner ones ``window - 2 * margin``.

    Raises
    ------
    LayoutError
        For non-positive sizes or a margin too large for the window.
    """
    if length <= 0 or window <= 0:
        raise LayoutError(f"sizes must be positive, got length {length}, window {window}")
    if margin < 0 or 2 * margin >= window:
        raise LayoutError(f"margin {margin} must be at least 0 and less than half the window {window}")
    if length <= window:
        return [(Span(0, length), Span(0, length))]
    # A core at the raster's edge needs a margin on its inner side only, so
    # edge cores may be `window - margin` long, inner ones `window - 2 * margin`.
    edge, inner = window - margin, window - 2 * margin
    n_inner = 0 if length <= 2 * edge else math.ceil((length - 2 * edge) / inner)
    caps = [edge] + [inner] * n_inner + [edge]
    # Shrink every core in proportion to its capacity, then hand out the
    # pixels lost to rounding down, so each core stays within its capacity.
    scale = length / sum(caps)
    sizes = [int(c * scale) for c in caps]
    i = 0
    while sum(sizes) < length:
        if sizes[i % len(sizes)] < caps[i % len(sizes)]:
            sizes[i % len(sizes)] += 1
        i += 1
    out = []
    a = 0
    for size in sizes:
        b = a + size
        centre_start = (a + b - window) // 2
        start = min(max(centre_start, 0), length - window)
        out.append((Span(start, start + window), Span(a, b)))
        a = b
    return out


def raster_windows(height: int, width: int, window: int, margin: int | None = None) -> List[RasterWindow]:
    """All windows of a ``height x width`` raster, row-major.

    See :func:`axis_windows`; ``margin`` defaults to :func:`default_margin`.
    """
    m = default_margin(window) if margin is None else margin
    rows = axis_windows(height, window, m)
    cols = axis_windows(width, window, m)
    out: List[RasterWindow] = []
    for r, rc in rows:
        for c, cc in cols:
            out.append(RasterWindow(len(out), r, c, rc, cc))
    return out
