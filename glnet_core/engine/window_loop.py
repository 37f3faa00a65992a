"""The streaming window loop: for each window of a raster, read it, classify it, write its core.

The one loop that streams a raster through a per-window classifier, so that
memory does not grow with the raster: :func:`glnet_core.engine.segment.segment`
runs it with the ONNX predictor, and ``benchmarks/demo_model.py`` with a
PyTorch single-branch baseline. Windows and their cores come from
:mod:`glnet_core.engine.windows` on the model grid (:mod:`glnet_core.engine.grid`);
each core is sampled onto the raster's grid and written, every writer is
flushed, and ``on_window`` is told, before the next window is read.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from ..formats.class_mask_writer import MaskWriter
from ..formats.raster_input import RasterInput
from .grid import ModelGrid
from .runtime import release_free_memory
from .timings import StepTimes
from .windows import RasterWindow

__all__ = ["WindowClassifier", "run_windows"]

#: ``classify(window, image, valid)`` -> one ``uint8`` array per writer, of
#: the window's core shape on the model grid (``window.core_in_window`` of
#: ``image``), 255 where there is no class. ``image`` is ``(rows, cols,
#: bands)`` and ``valid`` ``(rows, cols)`` bool, as the raster input reads them.
WindowClassifier = Callable[[RasterWindow, np.ndarray, np.ndarray], Sequence[np.ndarray]]


def run_windows(
    raster: RasterInput,
    grid: ModelGrid,
    windows: Iterable[RasterWindow],
    classify: WindowClassifier,
    writers: Sequence[MaskWriter],
    times: Optional[StepTimes] = None,
    on_window: Optional[Callable[[RasterWindow], None]] = None,
) -> None:
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
        Called after each window's blocks are flushed to the writers (to
        record progress and the resume state).

    Raises
    ------
    Exception
        Whatever reading, ``classify``, writing or ``on_window`` raises; the
        caller aborts its writers.
    """
    times = times if times is not None else StepTimes()
    for w in windows:
        t = time.perf_counter()
        image, valid = grid.read(raster, w)
        times.read_s += time.perf_counter() - t
        core = classify(w, image, valid)
        del image
        t = time.perf_counter()
        (row, col), arrays = grid.to_raster(w, core)
        for writer, array in zip(writers, arrays):
            if array.size:
                writer.write(row, col, array)
        for writer in writers:
            writer.flush()
        times.write_s += time.perf_counter() - t
        release_free_memory()  # so that each window starts from the same footprint
        if on_window is not None:
            on_window(w)
