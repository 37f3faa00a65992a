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

Two ways to run the same steps, giving the same pixels: one after the other
in the calling thread (``pipeline=False``), or pipelined
(:mod:`glnet_core.engine.window_pipeline`): window k+1 is read and prepared,
and window k-1 written, while the network runs on window k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from ..formats.class_mask_writer import MaskWriter
from ..formats.raster_input import RasterInput
from .grid import ModelGrid
from .runtime import release_free_memory
from .timings import StepTimes
from .windows import RasterWindow

__all__ = ["WindowClassifier", "StagedClassifier", "WindowCounts", "WindowStages", "run_windows",
           "read_window", "write_core"]

#: ``classify(window, image, valid)`` -> one ``uint8`` array per writer, of
#: the window's core shape on the model grid (``window.core_in_window`` of
#: ``image``), 255 where there is no class. ``image`` is ``(rows, cols,
#: bands)`` and ``valid`` ``(rows, cols)`` bool, as the raster input reads them.
WindowClassifier = Callable[[RasterWindow, np.ndarray, np.ndarray], Sequence[np.ndarray]]


class StagedClassifier:
    """A classifier in two steps, so that a pipelined run prepares a window while the network runs on another.

    Subclasses define :meth:`prepare` (called where the window is read: the
    reader thread of a pipelined run) and :meth:`classify` (the thread that
    runs the network).
    """

    def prepare(self, w: RasterWindow, image: np.ndarray, valid: np.ndarray) -> Any:
        """Whatever :meth:`classify` needs of window ``w`` (the network's inputs)."""
        raise NotImplementedError

    def classify(self, w: RasterWindow, prepared: Any) -> Sequence[np.ndarray]:
        """The core arrays of window ``w`` (as :data:`WindowClassifier` returns them) from :meth:`prepare`'s result."""
        raise NotImplementedError


class _PlainStages(StagedClassifier):
    """A :data:`WindowClassifier` as stages: nothing is prepared ahead."""

    def __init__(self, classify: WindowClassifier):
        self._classify = classify

    def prepare(self, w: RasterWindow, image: np.ndarray, valid: np.ndarray) -> Any:
        return image, valid

    def classify(self, w: RasterWindow, prepared: Any) -> Sequence[np.ndarray]:
        image, valid = prepared
        return self._classify(w, image, valid)


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


@dataclass
class WindowStages:
    """The steps of one window, shared by the sequential loop and the pipeline.

    Attributes
    ----------
    raster, grid:
        The opened input and its model grid (read by one thread only).
    stages:
        The classifier.
    writers:
        The open writers (written by one thread only).
    times, counts:
        Accumulators; each field is added to by one thread only.
    on_written:
        Called after a window's blocks are written, in the thread that
        writes them (the run's checkpoints: they flush the writers).
    """

    raster: RasterInput
    grid: ModelGrid
    stages: StagedClassifier
    writers: Sequence[MaskWriter]
    times: StepTimes
    counts: WindowCounts
    on_written: Optional[Callable[[RasterWindow], None]] = None

    def read(self, w: RasterWindow) -> Any:
        """Window ``w`` read and prepared, or None when its core holds no valid pixel (read and prepare times added)."""
        got = read_window(self.raster, self.grid, w, self.times, self.counts)
        if got is None:
            return None
        return self.stages.prepare(w, *got)

    def classify(self, w: RasterWindow, prepared: Any) -> Sequence[np.ndarray]:
        """The core arrays of a prepared window (counted as classified)."""
        core = self.stages.classify(w, prepared)
        self.counts.classified += 1
        return core

    def write(self, w: RasterWindow, core: Optional[Sequence[np.ndarray]]) -> None:
        """Write ``core`` (None: nothing to write) and call :attr:`on_written`."""
        if core is not None:
            write_core(self.grid, w, core, self.writers, self.times)
        if self.on_written is not None:
            self.on_written(w)


def read_window(raster: RasterInput, grid: ModelGrid, w: RasterWindow, times: StepTimes,
                counts: WindowCounts) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """``(image, valid)`` of window ``w``, or None when its core holds no valid pixel (read time added).

    Raises
    ------
    InputError
        If GDAL fails to read the raster (damaged file).
    """
    t = time.perf_counter()
    try:
        if not grid.may_hold_valid(raster, w):
            return None
        image, valid = grid.read(raster, w)
        counts.read += 1
        if not valid[w.core_in_window].any():
            return None  # nothing to classify or write: its core is nodata
        return image, valid
    finally:
        times.read_s += time.perf_counter() - t


def write_core(grid: ModelGrid, w: RasterWindow, core: Sequence[np.ndarray], writers: Sequence[MaskWriter],
               times: StepTimes) -> None:
    """Write a window's core arrays (model grid) onto the writers (raster grid); write time added.

    Raises
    ------
    OutputWriteError
        If a writer fails.
    """
    t = time.perf_counter()
    (row, col), arrays = grid.to_raster(w, core)
    for writer, array in zip(writers, arrays):
        if array.size:
            writer.write(row, col, array)
    times.write_s += time.perf_counter() - t


def run_windows(
    raster: RasterInput,
    grid: ModelGrid,
    windows: Iterable[RasterWindow],
    classify: Union[WindowClassifier, StagedClassifier],
    writers: Sequence[MaskWriter],
    times: Optional[StepTimes] = None,
    on_window: Optional[Callable[[RasterWindow], None]] = None,
    counts: Optional[WindowCounts] = None,
    on_written: Optional[Callable[[RasterWindow], None]] = None,
    pipeline: bool = False,
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
        See :data:`WindowClassifier`, or a :class:`StagedClassifier`.
    writers:
        Open writers on the raster's grid, one per array ``classify`` returns
        (extra arrays are not written).
    times:
        Read, prepare, write and waiting seconds are added to it.
    on_window:
        Called in the calling thread, in window order, after each window's
        blocks are written (not flushed) and ``on_written`` returned, and
        after each window skipped for holding no valid pixel (to record
        progress).
    counts:
        Added to; a new one when None.
    on_written:
        Called right after a window's blocks are written (or it was
        skipped), in the thread that writes, in window order (the resume
        state's checkpoints, which flush the writers).
    pipeline:
        Read and prepare the next window, and write the previous one, in
        threads of their own while ``classify`` runs
        (:func:`glnet_core.engine.window_pipeline.run_pipelined`); the same
        calls in the same order per thread, and the same pixels.

    Returns
    -------
    WindowCounts
        ``counts``.

    Raises
    ------
    Exception
        Whatever reading, ``classify``, writing or the hooks raise (from
        whichever thread: the same exception); the caller aborts its writers.
    """
    times = times if times is not None else StepTimes()
    counts = counts if counts is not None else WindowCounts()
    stages = classify if isinstance(classify, StagedClassifier) else _PlainStages(classify)
    steps = WindowStages(raster, grid, stages, writers, times, counts, on_written)
    if pipeline:
        from .window_pipeline import run_pipelined  # here: the module imports this one

        run_pipelined(steps, windows, on_window)
        return counts
    for w in windows:
        t = time.perf_counter()
        prepared = steps.read(w)
        times.input_wait_s += time.perf_counter() - t
        core = None
        if prepared is not None:
            core = steps.classify(w, prepared)
            del prepared
            release_free_memory()  # so that each window starts from the same footprint
        t = time.perf_counter()
        steps.write(w, core)
        times.output_wait_s += time.perf_counter() - t
        if on_window is not None:
            on_window(w)
    return counts
