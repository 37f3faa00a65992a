"""The streaming window loop: for each window of a raster, read it, classify it, write its core.

The one loop that streams a raster through a per-window classifier, so that
memory does not grow with the raster: :func:`glnet_core.engine.segment.segment`
runs it with the ONNX predictor, and ``benchmarks/demo_model.py`` with a
PyTorch single-branch baseline. Windows and their cores come from
:mod:`glnet_core.engine.windows` on the model grid (:mod:`glnet_core.engine.grid`);
each core is sampled onto the raster's grid and written, and ``on_window``
is told, before the next window is read. Writers are not flushed here: the
caller decides when its work is made durable
(:class:`glnet_core.engine.resume.Checkpoints`).

A window without a valid pixel costs almost nothing: the raster is asked
whether the window may hold one (:meth:`ModelGrid.may_hold_valid`, which reads
at most its storage blocks, once, and not the blocks a sparse GeoTIFF does
not store), and a window that holds none is neither read, classified nor
written (the writers' unwritten areas are nodata).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from ..formats.class_mask_writer import MaskWriter
from ..formats.raster_input import RasterInput
from .grid import ModelGrid
from .runtime import release_free_memory
from .timings import StepTimes
from .windows import RasterWindow

__all__ = ["WindowClassifier", "WindowCounts", "run_windows"]

#: ``classify(window, image, valid)`` -> one ``uint8`` array per writer, of
#: the window's core shape on the model grid (``window.core_in_window`` of
#: ``image``), 255 where there is no class. ``image`` is ``(rows, cols,
#: bands)`` and ``valid`` ``(rows, cols)`` bool, as the raster input reads them.
WindowClassifier = Callable[[RasterWindow, np.ndarray, np.ndarray], Sequence[np.ndarray]]


@dataclass
class WindowCounts:
    """What :func:`run_windows` did with its windows (an accumulator).

    Attributes
    ----------
    read:
        Windows read (the others had no valid pixel by the raster's own account).
    classified:
        Windows classified and written (read with at least one valid pixel).
    """

    read: int = 0
    classified: int = 0


def run_windows(
    raster: RasterInput,
    grid: ModelGrid,
    windows: Iterable[RasterWindow],
    classify: WindowClassifier,
    writers: Sequence[MaskWriter],
    times: Optional[StepTimes] = None,
    on_window: Optional[Callable[[RasterWindow], None]] = None,
    counts: Optional[WindowCounts] = None,
) -> WindowCounts:
    """Stream ``windows`` of ``raster`` through ``classify`` into ``writers``.

    Parameters
    ----------
    raster:
        The opened input.
    grid:
        The model grid the windows are laid out on.
    windows:
        The windows to run, in order (a resumed run leaves out the finished ones).
    classify:
        See :data:`WindowClassifier`.
    writers:
        Open writers on the raster's grid, one per array ``classify`` returns
        (extra arrays are not written).
    times:
        Read and write seconds are added to it.
    on_window:
        Called after each window's blocks are written (not flushed), and
        after each window skipped for holding no valid pixel (to record
        progress and the resume state).
    counts:
        Added to; a new one when None.

    Returns
    -------
    WindowCounts
        ``counts``.

    Raises
    ------
    Exception
        Whatever reading, ``classify``, writing or ``on_window`` raises; the
        caller aborts its writers.
    """
    times = times if times is not None else StepTimes()
    counts = counts if counts is not None else WindowCounts()
    for w in windows:
        t = time.perf_counter()
        valid: Optional[np.ndarray]
        if grid.may_hold_valid(raster, w):
            image, valid = grid.read(raster, w)
            counts.read += 1
            if not valid[w.core_in_window].any():
                del image  # nothing to classify or write: its core is nodata
                valid = None
        else:
            valid = None
        times.read_s += time.perf_counter() - t
        if valid is not None:
            core = classify(w, image, valid)
            del image
            t = time.perf_counter()
            (row, col), arrays = grid.to_raster(w, core)
            for writer, array in zip(writers, arrays):
                if array.size:
                    writer.write(row, col, array)
            times.write_s += time.perf_counter() - t
            counts.classified += 1
            release_free_memory()  # so that each window starts from the same footprint
        if on_window is not None:
            on_window(w)
    return counts
