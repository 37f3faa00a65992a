"""Segment a raster of any size with a model bundle: the engine's one entry point.

:func:`segment` serves the pipeline (:mod:`glnet_core.products.pipeline`:
``glnet segment``, ``glnet demo``, the QGIS plugin) and any other caller. It
streams: the raster is cut into overlapping GLNet windows
(:mod:`glnet_core.engine.windows`) on the model grid
(:mod:`glnet_core.engine.grid`); the window loop
(:mod:`glnet_core.engine.window_loop`) reads each window, runs it through the
ONNX subgraphs (:mod:`glnet_core.engine.predictor`), merges the patch scores
of its core into classes and confidence (:mod:`glnet_core.engine.merge`) and
writes them at once, so memory does not grow with the raster. By default the
loop is pipelined (:mod:`glnet_core.engine.window_pipeline`): the next window
is read and prepared, and the previous one written, while the network runs
(``EngineOptions(pipeline=False)``: one step after the other; the same pixels).

Outputs are written to hidden part files next to their targets and renamed
when complete; an exclusive lock per output (:mod:`glnet_core.formats.part_lock`)
makes a second run writing the same output refuse at once. A cancelled
(callback or Ctrl-C) or failed run removes them, so nothing is left behind; a
run that was killed leaves them with a small state file, and
``OutputOptions(resume=True)`` continues from the last checkpoint (every few
seconds of work), giving the same file as an uninterrupted run
(:mod:`glnet_core.engine.resume`). Windows without a valid pixel cost almost
nothing (no read beyond the raster's validity, no write, no state write), so a
large sparse raster runs in the time of its valid part. Work that needs the complete outputs
before they are committed (the pipeline's minimum mapping unit and polygons)
is a :class:`FinishStep`: the engine imports no product.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..callbacks import Callbacks
from ..errors import InputError, ResumableStop
from ..formats.class_mask_writer import MaskWriter
from ..formats.classes import ClassTable
from ..formats.gdal_env import bounded_gdal_cache, outside_gdal_capture
from ..formats.output_plan import InputSource, OutputTarget, raster_sources
from ..formats.part_lock import PartLocks
from ..formats.raster_input import RasterInput, open_raster
from ..messages import DASK_CLUSTER, GROUND_CONTROL_POINTS, HOSTS, NOT_GEOREFERENCED, PROVIDERS, RESAMPLING, RESUMING, WORKERS
from .bundle import Bundle, load_bundle
from .device_chain import make_predictor
from .grid import ModelGrid
from .options import EngineOptions, InputOptions, OutputOptions, check_margin
from .predictor import WindowPredictor
from .resume import Checkpoints, ResumeState, fingerprint
from .runtime import open_bundle_sessions
from .tiling import WindowLayouts, check_window_patches
from .timings import StepTimes, Timings, peak_rss_mb
from .window_classifier import GlnetClassifier
from .window_loop import WindowCounts, run_windows, write_core
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
        The files ``run`` writes (the pipeline's polygons), as
        :class:`~glnet_core.formats.output_plan.OutputTarget` or ``(path,
        option)``, checked with the run's outputs before any work
        (:meth:`OutputOptions.check`).
    """

    run: Callable[[CompleteOutputs, Callbacks], None]
    settings: Any = None
    targets: Sequence[Union[OutputTarget, Tuple[Path, str]]] = ()


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
    windows_read, windows_classified:
        Windows read from the raster, and classified and written; the others
        held no valid pixel (a resumed run counts only its own windows).
    state_writes:
        Writes of the resume state (one at the start, one per checkpoint).
    pipeline:
        Whether reading and writing ran in threads of their own, overlapping
        the network (:attr:`EngineOptions.pipeline`).
    chain:
        The window chain that ran: ``host`` or ``device``
        (:func:`glnet_core.engine.device_chain.make_predictor`).
    dask, workers:
        The Dask cluster the windows ran on (:attr:`EngineOptions.dask`)
        and its workers; None and 0 for a run in this process. In a Dask
        run the read, prepare, network and post-processing times are sums
        over the workers (they may exceed the total).
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
    windows_read: int = 0
    windows_classified: int = 0
    state_writes: int = 0
    pipeline: bool = False
    chain: str = "host"
    dask: Optional[str] = None
    workers: int = 0

    @property
    def profile(self) -> Dict[str, Any]:
        """The figures ``glnet segment --profile`` writes: :attr:`timings` and the run's sizes."""
        out: Dict[str, Any] = self.timings.as_dict()
        out.update({
            "patches": self.patches,
            "peak_rss_mb": self.peak_rss_mb,
            "windows": self.windows,
            "windows_read": self.windows_read,
            "windows_classified": self.windows_classified,
            "state_writes": self.state_writes,
            "mode": self.mode,
            "pipeline": self.pipeline,
            "chain": self.chain,
            "dask": self.dask,
            "workers": self.workers,
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
    OutputPathError
        Also when another run is writing one of the outputs (its lock is
        held); nothing of that run is touched.
    InputError
        With ``resume``: a state or part file that cannot be used (damaged,
        of another run); they are kept, for inspection.
    OutputWriteError
        A write the system refused (full disk, file-size limit), also one
        GDAL only printed; the part and state files are removed.
    Cancelled
        When ``callbacks.is_cancelled()`` turned true; outputs removed.
    """
    out = output if isinstance(output, OutputOptions) else OutputOptions(output)
    # The path's text as given: a /vsicurl/ path or URL is no file system path (Path() would fold its "//").
    run = _Run(os.fspath(input_path), out, engine or EngineOptions(), input_options or InputOptions(),
               callbacks or Callbacks(), finish)
    # Every output against the raster and the bundle (files inside a bundle folder included), before any work.
    sources = [*raster_sources(run.input_path, "the input raster"),
               InputSource(bundle.path if isinstance(bundle, Bundle) else Path(bundle), "the model bundle")]
    out.check(extra=() if finish is None else finish.targets, inputs=sources)
    # One run per output at a time, from here on (a second run refuses before touching anything).
    locked: List[Tuple[Path, Optional[str]]] = list(zip(out.paths, ("--out-mask", "--out-confidence")))
    locked += [(t.path, t.option) if isinstance(t, OutputTarget) else (Path(t[0]), t[1])
               for t in (() if finish is None else finish.targets)]
    with PartLocks(locked), bounded_gdal_cache():
        b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        graphs = b.graphs_for_mode(run.engine.mode)
        window = int(run.engine.window or b.window)
        margin = default_margin(window) if run.engine.margin is None else run.engine.margin
        check_margin(window, margin)
        check_window_patches(window, b.size_p, b.min_overlap)
        raster = open_raster(run.input_path, b.bands, run.reading.bands, run.reading.input_range)
        try:
            return run.execute(b, graphs, raster, window, margin)
        finally:
            raster.close()


class _Progress:
    """A run's progress in patches, with the window count; polls cancellation at every report.

    Windows go in order, so the patches before window ``k`` are a prefix sum.
    A pipelined run reports window ``k-1`` written while window ``k``'s patches
    are being computed: what is shown never goes back.
    """

    def __init__(self, cb: Callbacks, per_window: Sequence[int], done: int):
        self.cb = cb
        self.before = [0]
        for n in per_window:
            self.before.append(self.before[-1] + int(n))
        self.n_windows = len(per_window)
        self.windows_done = done
        self.shown = self.before[done]
        self.counter = cb.counter(self.before[-1], "patches", self.shown)

    def report(self, patches_done: Optional[int] = None) -> None:
        self.cb.check_cancelled()
        if patches_done is not None:
            self.shown = max(self.shown, patches_done)
        self.counter.step(self.shown, self.windows_done, self.n_windows)

    def patches(self, w: RasterWindow, k: int) -> None:
        """``k`` patches of window ``w`` are done."""
        self.report(self.before[w.index] + k)

    def window_done(self, w: RasterWindow) -> None:
        """Window ``w`` (the next in order) is written."""
        self.windows_done += 1
        self.report(self.before[w.index + 1])


@dataclass
class _Run:
    """One call of :func:`segment`: its options, and the steps after the bundle and raster are open."""

    input_path: str
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
            cb.message(RESAMPLING(resolution=b.resolution_m, width=raster.width, height=raster.height,
                                  model_width=model_w, model_height=model_h))
        windows = raster_windows(model_h, model_w, window, margin)
        state = ResumeState(output.mask, fingerprint(self.input_path, raster, b, engine, self.reading, output.confidence,
                                                     len(windows), None if self.finish is None else self.finish.settings))
        done = 0
        if output.resume:
            done = state.load()  # a state it cannot use is refused here, and kept with the part files
        georef = _georeferencing(raster)
        if georef["gcps"]:
            cb.message(GROUND_CONTROL_POINTS(path=self.input_path, count=len(georef["gcps"])))
        elif not raster.georeferenced:
            cb.message(NOT_GEOREFERENCED(path=self.input_path))
        layouts = WindowLayouts(b.size_p, b.min_overlap)
        per_window = [len(layouts.for_window(w.rows.size, w.cols.size)) for w in windows]
        writers: List[MaskWriter] = []
        resuming = done > 0
        grid_kw = dict(width=raster.width, height=raster.height, overwrite=output.overwrite, **georef)
        targets: List[Tuple[Path, Optional[ClassTable], str, str]] = [(output.mask, b.classes, "classes", "--out-mask")]
        if output.confidence is not None:
            targets.append((output.confidence, None, "confidence", "--out-confidence"))
        if resuming:
            # The interrupted run's part files; one that cannot be used is refused, and all are kept.
            try:
                for path, classes, kind, option in targets:
                    writers.append(MaskWriter(path, classes=classes, kind=kind, resume=True, option=option, **grid_kw))
            except InputError as exc:
                for wr in writers:
                    wr.close()
                raise InputError(f"{exc}; the part files and the resume state are kept for inspection") from None
            cb.message(RESUMING(done=done, total=len(windows)))
        stack = contextlib.ExitStack()  # the Dask client, when the windows run on a cluster
        try:
            if engine.dask is None:
                sessions, providers = open_bundle_sessions(b, graphs, engine.device, engine.threads,
                                                           gpu_memory_mb=engine.gpu_memory)
                predictor, chain = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), engine.chain,
                                                  engine.gpu_memory)
            else:
                cluster = _Cluster.connect(stack, self.input_path, b, engine, self.reading)
                providers, chain = list(cluster.providers), cluster.chain
                cb.message(DASK_CLUSTER(address=engine.dask, workers=WORKERS(count=cluster.workers),
                                        hosts=HOSTS(count=cluster.hosts)))
        except BaseException:
            for wr in writers:
                wr.close()  # a device or cluster that does not work costs no resumable work
            stack.close()
            raise
        cb.message(PROVIDERS(providers=", ".join(providers)))
        owns_state = False
        counts = WindowCounts()
        patches = 0
        checkpoints: Optional[Checkpoints] = None
        try:
            if not resuming:
                for path, classes, kind, option in targets:
                    writers.append(MaskWriter(path, classes=classes, kind=kind, option=option, **grid_kw))
            mask_writer = writers[0]
            conf_writer = writers[1] if len(writers) > 1 else None
            owns_state = True
            checkpoints = Checkpoints(state, writers, done)
            if not resuming:
                state.save(0)
            if engine.dask is None:
                patches = self._run_here(b, predictor, providers, raster, grid, windows, done, per_window, layouts,
                                         writers, checkpoints, counts)
            else:
                patches = self._run_on_cluster(cluster, grid, windows, done, per_window, writers, checkpoints,
                                               counts)
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
        except ResumableStop as exc:
            # Stopped from outside (the cluster went away): what is written is kept, as after a kill.
            stack.close()
            if checkpoints is None:
                for wr in writers:
                    wr.abort()
                if owns_state:
                    state.remove()
                raise
            try:
                checkpoints.checkpoint()
            finally:
                for wr in writers:
                    wr.close()
            raise type(exc)(f"{exc}; {checkpoints.done} of {len(windows)} windows are kept: run the same command "
                            "with --resume to continue") from None
        except BaseException:
            # Cancel, Ctrl-C and errors leave nothing behind; only a killed
            # process keeps its part files and state for --resume.
            for wr in writers:
                wr.abort()
            if owns_state:
                state.remove()
            raise
        finally:
            stack.close()
        state.remove()
        return SegmentResult(
            mask=output.mask, confidence=output.confidence, classes=b.classes, mode=engine.mode,
            providers=tuple(providers), windows=len(windows), window=window, patches=patches,
            raster_size=(raster.width, raster.height), model_grid=(model_w, model_h), crs=raster.crs,
            timings=self.times.freeze(), peak_rss_mb=round(peak_rss_mb(), 1),
            windows_read=counts.read, windows_classified=counts.classified, state_writes=state.writes,
            pipeline=engine.pipeline and engine.dask is None, chain=chain, dask=engine.dask,
            workers=0 if engine.dask is None else cluster.workers,
        )

    def _run_here(self, b: Bundle, predictor: WindowPredictor, providers: Sequence[str], raster: RasterInput,
                  grid: ModelGrid, windows: Sequence[RasterWindow], done: int, per_window: Sequence[int],
                  layouts: WindowLayouts, writers: Sequence[MaskWriter], checkpoints: Checkpoints,
                  counts: WindowCounts) -> int:
        """The windows after the first ``done``, in this process; returns the patches computed."""
        engine = self.engine
        # A pipelined run writes in a thread of its own, inside descriptor-2 captures
        # (gdal_write_errors): what the hooks print must wait for them, or it is captured.
        progress = _Progress(_outside_captures(self.cb) if engine.pipeline else self.cb, per_window, done)
        classify = GlnetClassifier(b, predictor, engine, engine.batch or default_batch(b.size_p, providers),
                                   layouts, self.times, progress.patches)

        def window_written(w: RasterWindow) -> None:
            checkpoints.window_done(w.index)  # in the thread that owns the writers: it flushes them

        progress.report()
        # Windows finish in their fixed order, so the state is a count: the first `done` are finished.
        run_windows(raster, grid, windows[done:], classify, writers, self.times, progress.window_done, counts,
                    on_written=window_written, pipeline=engine.pipeline)
        return classify.patches

    def _run_on_cluster(self, cluster: "_Cluster", grid: ModelGrid, windows: Sequence[RasterWindow], done: int,
                        per_window: Sequence[int], writers: Sequence[MaskWriter], checkpoints: Checkpoints,
                        counts: WindowCounts) -> int:
        """The windows after the first ``done``, as tasks of a Dask cluster, written here in order; returns the patches."""
        from ..cluster.dispatch import run_on_cluster, tasks_ahead

        progress = _Progress(self.cb, per_window, done)
        times = self.times
        patches = 0

        def deliver(w: RasterWindow, outcome: Any) -> None:
            nonlocal patches
            counts.read += int(outcome.read)
            patches += outcome.patches
            for name, seconds in outcome.times.items():
                if name in ("global_s", "local_s", "aggregation_s"):
                    setattr(times.net, name, getattr(times.net, name) + seconds)
                else:
                    setattr(times, name, getattr(times, name) + seconds)
            if outcome.core is not None:
                counts.classified += 1
                write_core(grid, w, outcome.core, writers, times)
            checkpoints.window_done(w.index)
            progress.window_done(w)

        progress.report()
        t = time.perf_counter()
        run_on_cluster(cluster.client, cluster.job, windows[done:], deliver, progress.report, str(self.engine.dask),
                       tasks_ahead(cluster.workers))
        times.input_wait_s += time.perf_counter() - t - times.write_s
        return patches


@dataclass(frozen=True)
class _Cluster:
    """A run's Dask cluster: the client, the job every window task shares, and what the workers run on."""

    client: Any
    job: Any
    workers: int
    hosts: int
    providers: Tuple[str, ...]
    chain: str

    @classmethod
    def connect(cls, stack: contextlib.ExitStack, input_path: str, b: Bundle, engine: EngineOptions,
                reading: InputOptions) -> "_Cluster":
        """Connect to ``engine.dask`` (closed with ``stack``) and open the bundle's sessions on every worker."""
        from ..cluster.connect import cluster_client
        from ..cluster.dispatch import prepare_workers, workers_by_host
        from ..cluster.window_tasks import WindowJob, bundle_key
        from ..formats.input_paths import local_path_of

        assert engine.dask is not None
        client = stack.enter_context(cluster_client(engine.dask))
        local = local_path_of(input_path)
        # Workers may run elsewhere: paths they can resolve whatever their working directory.
        where = os.path.abspath(local) if local is not None else input_path
        per_host = workers_by_host(client)
        job = WindowJob(where, os.path.abspath(b.path), bundle_key(b), replace(engine, dask=None), reading,
                        engine.batch, per_host)
        ready = prepare_workers(client, job, engine.dask)
        providers: List[str] = []
        for r in ready:
            providers += [p for p in r.providers if p not in providers]
        chains = sorted({r.chain for r in ready})
        return cls(client, job, len(ready), len(per_host), tuple(providers), "+".join(chains))


def _outside_captures(cb: Callbacks) -> Callbacks:
    """``cb`` whose progress and log hooks run outside any thread's descriptor-2 capture
    (:func:`glnet_core.formats.gdal_env.outside_gdal_capture`)."""

    def guarded(hook: Optional[Callable[[Any], None]]) -> Optional[Callable[[Any], None]]:
        if hook is None:
            return None

        def call(value: Any) -> None:
            with outside_gdal_capture():
                hook(value)

        return call

    return replace(cb, progress=guarded(cb.progress), log=guarded(cb.log))


def _georeferencing(raster: RasterInput) -> Dict[str, Any]:
    """The outputs' georeferencing: the input's CRS and transform, or its GCPs (with their CRS), and its RPCs.

    Returns
    -------
    dict
        ``crs``, ``transform``, ``gcps`` and ``rpcs`` keyword arguments of
        :class:`~glnet_core.formats.class_mask_writer.MaskWriter`.
    """
    if raster.gcps and raster.crs is None and raster.transform.is_identity:
        return {"crs": raster.gcp_crs, "transform": None, "gcps": list(raster.gcps), "rpcs": raster.rpcs}
    return {"crs": raster.crs, "transform": raster.transform, "gcps": None, "rpcs": raster.rpcs}
