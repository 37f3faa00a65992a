"""Segment a raster of any size with a model bundle: the engine's one entry point.

:func:`segment` serves the pipeline (:mod:`glnet_core.products.pipeline`:
``glnet segment``, ``glnet demo``, the QGIS plugin) and any other caller. It
streams: the raster is cut into overlapping GLNet windows
(:mod:`glnet_core.engine.windows`) on the model grid
(:mod:`glnet_core.engine.grid`); the window loop
(:mod:`glnet_core.engine.window_loop`) reads each window, runs it through the
ONNX subgraphs (:mod:`glnet_core.engine.predictor`), merges the patch scores
of its core into classes and confidence (:mod:`glnet_core.engine.merge`) and
writes them at once, so memory does not grow with the raster.

Outputs are written to hidden part files next to their targets and renamed
when complete. A cancelled (callback or Ctrl-C) or failed run removes them,
so nothing is left behind; a run that was killed leaves them with a small
state file, and ``OutputOptions(resume=True)`` continues from the last
finished window, giving the same file as an uninterrupted run
(:mod:`glnet_core.engine.resume`). Work that needs the complete outputs
before they are committed (the pipeline's minimum mapping unit and polygons)
is a :class:`FinishStep`: the engine imports no product.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..callbacks import Callbacks
from ..formats.class_mask_writer import MaskWriter
from ..formats.classes import NODATA, ClassTable
from ..formats.gdal_env import bounded_gdal_cache
from ..formats.raster_input import RasterInput, open_raster
from .bundle import Bundle, load_bundle
from .grid import ModelGrid
from .merge import merge_core, patch_counts
from .options import EngineOptions, InputOptions, OutputOptions, check_margin
from .predictor import WindowPredictor
from .preprocess import pad_window, prepare_window
from .resume import ResumeState, fingerprint
from .runtime import open_bundle_sessions
from .tiling import PatchBox, WindowLayouts
from .timings import StepTimes, Timings, peak_rss_mb
from .window_loop import run_windows
from .windows import RasterWindow, default_margin, raster_windows

__all__ = ["CompleteOutputs", "FinishStep", "SegmentResult", "segment", "default_batch"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class CompleteOutputs:
    """A run's outputs when complete but not yet committed.

    Attributes
    ----------
    mask, confidence:
        The hidden part files (closed) that become the outputs; a
        :class:`FinishStep` may rewrite them in place.
    classes:
        The bundle's class table.
    """

    mask: Path
    confidence: Optional[Path]
    classes: ClassTable


@dataclass(frozen=True)
class FinishStep:
    """Work on the complete outputs before they are committed.

    Attributes
    ----------
    run:
        ``run(outputs, callbacks)``, called once with :class:`CompleteOutputs`
        and the run's callbacks. Anything it raises (``Cancelled`` included)
        removes every output of the run.
    settings:
        JSON value that a resumed run must share with the interrupted one
        (e.g. the polygon output and the minimum mapping unit).
    targets:
        ``(path, option)`` of the files ``run`` writes (the pipeline's
        polygons), checked with the run's outputs before any work
        (:meth:`OutputOptions.check`).
    """

    run: Callable[[CompleteOutputs, Callbacks], None]
    settings: Any = None
    targets: Sequence[Tuple[Path, str]] = ()


@dataclass(frozen=True)
class SegmentResult:
    """What :func:`segment` wrote and measured.

    Attributes
    ----------
    mask, confidence:
        The outputs written (``confidence`` None when not asked for).
    classes:
        The bundle's class table (the mask's colours and names).
    mode:
        The inference mode run.
    providers:
        onnxruntime execution providers really used.
    windows, window:
        Number of GLNet windows and their side (model-grid pixels).
    patches:
        Local patches computed (patches without a valid pixel are skipped).
    raster_size, model_grid:
        ``(width, height)`` of the raster and of the grid the model ran on.
    crs:
        The raster's CRS (a rasterio ``CRS``), or None.
    timings:
        Seconds per step.
    peak_rss_mb:
        Peak resident memory of the process after the run
        (:func:`glnet_core.engine.timings.peak_rss_mb`).
    """

    mask: Path
    confidence: Optional[Path]
    classes: ClassTable
    mode: str
    providers: Tuple[str, ...]
    windows: int
    window: int
    patches: int
    raster_size: Tuple[int, int]
    model_grid: Tuple[int, int]
    crs: Any
    timings: Timings
    peak_rss_mb: float

    @property
    def profile(self) -> Dict[str, Any]:
        """The figures ``glnet segment --profile`` writes: :attr:`timings` and the run's sizes."""
        out: Dict[str, Any] = self.timings.as_dict()
        out.update({
            "patches": self.patches,
            "peak_rss_mb": self.peak_rss_mb,
            "windows": self.windows,
            "mode": self.mode,
            "providers": list(self.providers),
            "window": self.window,
            "raster": list(self.raster_size),
            "model_grid": list(self.model_grid),
        })
        return out


def default_batch(size_p: int, providers: Sequence[str]) -> int:
    """Patches per local run when the caller does not say.

    On the CPU, batching large patches gains no speed (measured: 508 px
    patches, batch 1 and 6 within 1 %) but multiplies the activations' memory,
    so large patches go one at a time; small patches are batched to spread the
    per-run overhead. GPUs profit from batches.
    """
    if "CUDAExecutionProvider" in providers:
        return 6
    return 1 if size_p >= 256 else 6


def segment(
    input_path: PathLike,
    bundle: Union[PathLike, Bundle],
    output: Union[OutputOptions, PathLike],
    engine: Optional[EngineOptions] = None,
    input_options: Optional[InputOptions] = None,
    callbacks: Optional[Callbacks] = None,
    finish: Optional[FinishStep] = None,
) -> SegmentResult:
    """Segment ``input_path`` with ``bundle`` into a class-mask GeoTIFF (and a confidence raster).

    Parameters
    ----------
    input_path:
        Any raster GDAL reads.
    bundle:
        A bundle folder or zip (or a loaded :class:`Bundle`).
    output:
        The outputs (:class:`OutputOptions`), or just the mask's path. The
        mask holds class ids (uint8; 255 = nodata) on the input's grid, with
        the classes' colours and names; the optional confidence raster the
        top class probability, 0-100 (255 = nodata).
    engine:
        How the network runs (:class:`EngineOptions`).
    input_options:
        How the raster is read (:class:`InputOptions`).
    callbacks:
        Progress (in patches, with the window count), log lines and
        cancellation, polled after every patch batch.
    finish:
        Work on the complete outputs before they are committed.

    Returns
    -------
    SegmentResult

    Raises
    ------
    GlnetError
        Any bad input or output path (one-line message); nothing is written.
    Cancelled
        When ``callbacks.is_cancelled()`` turned true; outputs removed.
    """
    out = output if isinstance(output, OutputOptions) else OutputOptions(output)
    run = _Run(Path(input_path), out, engine or EngineOptions(), input_options or InputOptions(),
               callbacks or Callbacks(), finish)
    out.check(extra=() if finish is None else finish.targets)
    with bounded_gdal_cache():
        b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        graphs = b.graphs_for_mode(run.engine.mode)
        window = int(run.engine.window or b.window)
        margin = default_margin(window) if run.engine.margin is None else run.engine.margin
        check_margin(window, margin)
        raster = open_raster(run.input_path, b.bands, run.reading.bands, run.reading.input_range)
        try:
            return run.execute(b, graphs, raster, window, margin)
        finally:
            raster.close()


class _Progress:
    """A run's progress in patches, with the window count; polls cancellation at every report."""

    def __init__(self, cb: Callbacks, per_window: Sequence[int], done: Sequence[int]):
        self.cb = cb
        self.per_window = list(per_window)
        self.windows_done = len(done)
        self.patches_done = sum(self.per_window[i] for i in done)
        self.counter = cb.counter(sum(self.per_window), "patches", self.patches_done)

    def report(self, patches_done: Optional[int] = None) -> None:
        self.cb.check_cancelled()
        done = self.patches_done if patches_done is None else patches_done
        self.counter.step(done, self.windows_done, len(self.per_window))

    def patches(self, k: int) -> None:
        """``k`` patches of the current window are done."""
        self.report(self.patches_done + k)

    def window_done(self, w: RasterWindow) -> None:
        self.patches_done += self.per_window[w.index]
        self.windows_done += 1
        self.report()


class _WindowClassifier:
    """One window to the classes and confidence of its core (the segment's :data:`WindowClassifier`)."""

    def __init__(self, b: Bundle, predictor: WindowPredictor, engine: EngineOptions, batch: int,
                 layouts: WindowLayouts, times: StepTimes, on_patches: Callable[[int], None]):
        self.b, self.predictor, self.engine, self.batch = b, predictor, engine, batch
        self.layouts, self.times, self.on_patches = layouts, times, on_patches
        self.patches = 0

    def __call__(self, w: RasterWindow, image: np.ndarray, valid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        b, times = self.b, self.times
        core = w.core_in_window
        valid_core = valid[core]
        if not valid_core.any():
            empty = np.full(valid_core.shape, NODATA, np.uint8)
            return empty, empty.copy()
        t = time.perf_counter()
        prep = prepare_window(image, b.size_g, b.size_p, b.normalisation)
        valid_p = pad_window(valid[:, :, None], b.size_p)[:, :, 0]
        # The patches with a valid pixel, decided once: the predictor skips
        # the others, and the merge counts these.
        boxes = self.layouts.for_window(valid.shape[0], valid.shape[1])
        computed = [bx for bx in boxes if valid_p[bx.top : bx.bottom, bx.left : bx.right].any()]
        wanted = set(computed)
        times.prepare_s += time.perf_counter() - t

        def skip(box: PatchBox) -> bool:
            return box not in wanted

        scores = self.predictor.predict(prep.image_g, prep.window, self.engine.mode, self.batch, times.net,
                                        lambda k, _n: self.on_patches(k), skip, self.engine.upsample, boxes=boxes)
        t = time.perf_counter()
        self.patches += len(computed)
        count = patch_counts(prep.window.shape[1:], computed)
        del prep
        classes, confidence = merge_core(scores, count, core, valid_core)
        times.post_s += time.perf_counter() - t
        return classes, confidence


@dataclass
class _Run:
    """One call of :func:`segment`: its options, and the steps after the bundle and raster are open."""

    input_path: Path
    output: OutputOptions
    engine: EngineOptions
    reading: InputOptions
    cb: Callbacks
    finish: Optional[FinishStep]
    times: StepTimes = field(default_factory=StepTimes)

    def execute(self, b: Bundle, graphs: Sequence[str], raster: RasterInput, window: int,
                margin: int) -> SegmentResult:
        cb, engine, output = self.cb, self.engine, self.output
        grid = ModelGrid.for_raster(raster, b.resolution_m, self.reading.match_resolution)
        model_h, model_w = grid.size
        if grid.resampled:
            cb.message(f"resampling to the model's {b.resolution_m:g} m/px: raster {raster.width} x {raster.height} px "
                       f"runs as {model_w} x {model_h} px")
        windows = raster_windows(model_h, model_w, window, margin)
        state = ResumeState(output.mask, fingerprint(self.input_path, raster, b, engine, self.reading, output.confidence,
                                                     len(windows), None if self.finish is None else self.finish.settings))
        done: List[int] = []
        if output.resume:
            done = state.load()
            if done:
                cb.message(f"resuming: {len(done)} of {len(windows)} windows already done")
        sessions, providers = open_bundle_sessions(b, graphs, engine.device, engine.threads)
        cb.message("onnxruntime providers: " + ", ".join(providers))
        predictor = WindowPredictor(sessions, b.size_p, b.min_overlap, len(b.classes))
        layouts = WindowLayouts(b.size_p, b.min_overlap)
        per_window = [len(layouts.for_window(w.rows.size, w.cols.size)) for w in windows]

        writers: List[MaskWriter] = []
        owns_state = False
        try:
            resuming = bool(done)
            grid_kw = dict(width=raster.width, height=raster.height, crs=raster.crs, transform=raster.transform)
            mask_writer = MaskWriter(output.mask, classes=b.classes, kind="classes", resume=resuming,
                                     overwrite=output.overwrite, **grid_kw)
            writers.append(mask_writer)
            conf_writer = None
            if output.confidence is not None:
                conf_writer = MaskWriter(output.confidence, classes=None, kind="confidence", resume=resuming,
                                         overwrite=output.overwrite, **grid_kw)
                writers.append(conf_writer)
            owns_state = True
            if not resuming:
                state.save(done)
            progress = _Progress(cb, per_window, done)
            classify = _WindowClassifier(b, predictor, engine, engine.batch or default_batch(b.size_p, providers),
                                         layouts, self.times, progress.patches)

            def window_done(w: RasterWindow) -> None:
                done.append(w.index)
                state.save(done)
                progress.window_done(w)

            progress.report()
            finished = set(done)
            todo = [w for w in windows if w.index not in finished]
            run_windows(raster, grid, todo, classify, writers, self.times, window_done)
            for wr in writers:
                wr.close()
            if self.finish is not None:
                t = time.perf_counter()
                complete = CompleteOutputs(mask_writer.part_path, None if conf_writer is None else conf_writer.part_path,
                                           b.classes)
                self.finish.run(complete, cb)
                self.times.finish_s += time.perf_counter() - t
            for wr in writers:
                wr.commit()
        except BaseException:
            # Cancel, Ctrl-C and errors leave nothing behind; only a killed
            # process keeps its part files and state for --resume.
            for wr in writers:
                wr.abort()
            if owns_state:
                state.remove()
            raise
        state.remove()
        return SegmentResult(
            mask=output.mask, confidence=output.confidence, classes=b.classes, mode=engine.mode,
            providers=tuple(providers), windows=len(windows), window=window, patches=classify.patches,
            raster_size=(raster.width, raster.height), model_grid=(model_w, model_h), crs=raster.crs,
            timings=self.times.freeze(), peak_rss_mb=round(peak_rss_mb(), 1),
        )
