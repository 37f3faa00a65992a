"""What a Dask worker runs: one GLNet window, read by the worker itself, classified with sessions it keeps.

A task gets the run's :class:`WindowJob` (input path, bundle, options) and
one :class:`~glnet_core.engine.windows.RasterWindow`, and returns a
:class:`WindowOutcome`: the core arrays the run's one writer writes, as
:class:`~glnet_core.engine.window_loop.WindowStages` would have written them
in a single process (the same read, the same
:class:`~glnet_core.engine.window_classifier.GlnetClassifier`, so the same
pixels).

Each worker process keeps the onnxruntime sessions of a bundle (keyed by the
bundle's manifest checksum and the options that shape them) and the opened
rasters of the last few inputs: a window costs its read and its network,
never a bundle load. A worker process runs one window in the network at a
time, whatever its thread count (a second thread may read the next window
meanwhile). onnxruntime gets ``cores / worker processes on this host``
threads unless the run says ``threads``, so the workers of one machine do
not oversubscribe its cores. (Reading the next window in a thread of its
own while one worker thread runs the network, as the single-process
pipeline does, was measured: 13 % slower on 2 cores, where the read takes
the CPU the other worker's network needs; a worker started with
``--nthreads 2`` does it.)

Nothing here imports Dask at module level: the module is what the client
pickles by reference, and what the workers import.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..engine.bundle import Bundle, load_bundle
from ..engine.device_chain import make_predictor
from ..engine.grid import ModelGrid
from ..engine.options import EngineOptions, InputOptions
from ..engine.predictor import WindowPredictor
from ..engine.runtime import open_bundle_sessions, release_free_memory
from ..engine.tiling import WindowLayouts
from ..engine.timings import StepTimes
from ..engine.window_classifier import GlnetClassifier
from ..engine.window_loop import WindowCounts, read_window
from ..engine.windows import RasterWindow
from ..formats.gdal_env import bounded_gdal_cache
from ..formats.raster_input import RasterInput, open_raster

__all__ = ["WindowJob", "WindowOutcome", "WorkerReady", "bundle_key", "warm_up", "classify_window",
           "RASTERS_KEPT"]

#: Opened inputs a worker thread keeps (a batch moves from scene to scene).
RASTERS_KEPT = 2


def bundle_key(b: Bundle) -> str:
    """The checksum that names a bundle in the workers' caches: SHA-256 of its manifest
    (which holds every graph file's SHA-256)."""
    text = json.dumps(b.manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class WindowJob:
    """What every window task of one run shares.

    Attributes
    ----------
    input_path:
        The raster, as every worker reaches it (absolute, or a GDAL path).
    bundle_path:
        The bundle, as every worker reaches it.
    bundle_key:
        :func:`bundle_key` of the bundle the client loaded: a worker whose
        copy differs refuses to run (its classes would not be the run's).
    engine:
        The run's options (``dask`` cleared).
    reading:
        How the raster is read.
    batch:
        Patches per local run (None: :func:`glnet_core.engine.segment.default_batch`
        for the worker's providers).
    workers_by_host:
        ``(host, worker processes on it)`` of the cluster when the run
        started, for onnxruntime's default thread count.
    """

    input_path: str
    bundle_path: str
    bundle_key: str
    engine: EngineOptions
    reading: InputOptions
    batch: Optional[int] = None
    workers_by_host: Tuple[Tuple[str, int], ...] = ()


@dataclass(frozen=True)
class WorkerReady:
    """A worker's answer to :func:`warm_up`: what its sessions run on."""

    worker: str
    providers: Tuple[str, ...]
    chain: str
    threads: int


@dataclass(frozen=True)
class WindowOutcome:
    """One window's result, for the run's writer.

    Attributes
    ----------
    index:
        The window's index.
    core:
        The core arrays (classes, confidence) on the model grid, or None
        when the window holds no valid pixel (nothing to write).
    read:
        Whether the window was read (False: the raster said it holds no
        valid pixel without a read).
    patches:
        Local patches computed.
    times:
        The worker's seconds for this window: ``read_s``, ``prepare_s``,
        ``post_s``, ``global_s``, ``local_s``, ``aggregation_s``.
    worker:
        The worker that ran it.
    """

    index: int
    core: Optional[Tuple[np.ndarray, ...]]
    read: bool
    patches: int
    times: Dict[str, float]
    worker: str

    @classmethod
    def from_result(cls, result: Dict[str, Any]) -> "WindowOutcome":
        """The outcome from what :func:`classify_window` returned."""
        core = result["core"]
        return cls(int(result["index"]), None if core is None else tuple(core), bool(result["read"]),
                   int(result["patches"]), dict(result["times"]), str(result["worker"]))


@dataclass
class _Sessions:
    bundle: Bundle
    predictor: WindowPredictor
    chain: str
    providers: Tuple[str, ...]
    threads: int
    batch: int


_lock = threading.Lock()  # the caches' dictionaries
_read_lock = threading.Lock()  # the opened rasters: a GDAL dataset is used by one thread at a time
_network_lock = threading.Lock()  # the sessions: one window in the network at a time per worker process
_bundles: Dict[Tuple[str, str], Bundle] = {}
_sessions: Dict[Tuple[Any, ...], _Sessions] = {}
_rasters: "OrderedDict[Tuple[Any, ...], Tuple[RasterInput, ModelGrid]]" = OrderedDict()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _default_threads(job: WindowJob) -> int:
    """onnxruntime threads: this host's cores shared by the worker processes on it (each runs one window at a time)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    sharing = 1
    try:
        from distributed import get_worker

        host = get_worker().address.rsplit(":", 1)[0]
        sharing = dict(job.workers_by_host).get(host, 1)
    except (ImportError, ValueError):
        pass
    return max(1, cores // max(1, sharing))


def _bundle(job: WindowJob) -> Bundle:
    key = (job.bundle_path, job.bundle_key)
    with _lock:
        b = _bundles.get(key)
    if b is None:
        b = load_bundle(job.bundle_path)
        if bundle_key(b) != job.bundle_key:
            from ..errors import BundleError

            raise BundleError(f"{job.bundle_path} on worker {_worker_name()} is not the bundle the run loaded "
                              "(its manifest differs): every worker must reach the same bundle")
        with _lock:
            _bundles[key] = b
    return b


def _sessions_for(job: WindowJob) -> _Sessions:
    """The job's sessions in this process (opened on first use); used under :data:`_network_lock` only."""
    e = job.engine
    key = (job.bundle_key, job.bundle_path, e.mode, e.device, e.threads, e.chain, e.gpu_memory, job.batch)
    with _lock:
        got = _sessions.get(key)
    if got is not None:
        return got
    from ..engine.segment import default_batch  # here: segment imports the cluster package lazily too

    b = _bundle(job)
    threads = e.threads or _default_threads(job)
    sessions, providers = open_bundle_sessions(b, b.graphs_for_mode(e.mode), e.device, threads,
                                               gpu_memory_mb=e.gpu_memory)
    predictor, chain = make_predictor(sessions, b.size_p, b.min_overlap, len(b.classes), e.chain, e.gpu_memory)
    got = _Sessions(b, predictor, chain, tuple(providers), threads,
                    job.batch or default_batch(b.size_p, providers))
    with _lock:
        _sessions[key] = got
    return got


def _raster_for(job: WindowJob, b: Bundle) -> Tuple[RasterInput, ModelGrid]:
    """The job's opened raster in this process; used under :data:`_read_lock` only."""
    r = job.reading
    key = (job.input_path, b.bands, r.bands, r.input_range, r.match_resolution, b.resolution_m)
    if key in _rasters:
        _rasters.move_to_end(key)
        return _rasters[key]
    raster = open_raster(job.input_path, b.bands, r.bands, r.input_range)
    grid = ModelGrid.for_raster(raster, b.resolution_m, r.match_resolution)
    _rasters[key] = (raster, grid)
    while len(_rasters) > RASTERS_KEPT:
        _, (old, _grid) = _rasters.popitem(last=False)
        old.close()
    return raster, grid


def warm_up(job: WindowJob) -> WorkerReady:
    """Load the bundle and open its sessions on this worker (before any window), and say what they run on.

    Raises
    ------
    BundleError
        If the worker's bundle is not the client's, or its graphs do not load.
    DeviceError
        If the requested device does not work on this worker.
    """
    with bounded_gdal_cache(), _network_lock:
        s = _sessions_for(job)
    return WorkerReady(_worker_name(), s.providers, s.chain, s.threads)


def classify_window(job: WindowJob, w: RasterWindow) -> Dict[str, Any]:
    """Read window ``w`` of the job's raster and classify it, as a single-process run does.

    Returns
    -------
    dict
        The :class:`WindowOutcome` as plain values and arrays
        (:meth:`WindowOutcome.from_result` rebuilds it): Dask sends arrays
        in plain containers as raw buffers, while a pickled dataclass of
        arrays needs the client's numpy to read the workers' pickles (QGIS's
        numpy 1.24 cannot read numpy 2's).

    Raises
    ------
    InputError
        If GDAL fails to read the raster (the worker cannot reach it, or it is damaged).
    """
    times = StepTimes()
    counts = WindowCounts()
    core: Optional[Tuple[np.ndarray, ...]] = None
    patches = 0
    with bounded_gdal_cache():
        with _network_lock:
            s = _sessions_for(job)
        classifier = GlnetClassifier(s.bundle, s.predictor, replace(job.engine, dask=None), s.batch,
                                     WindowLayouts(s.bundle.size_p, s.bundle.min_overlap), times,
                                     lambda _w, _k: None)
        with _read_lock:
            raster, grid = _raster_for(job, s.bundle)
            got = read_window(raster, grid, w, times, counts)
            prepared = None if got is None else classifier.prepare(w, *got)
            del got
        if prepared is not None:
            with _network_lock:
                core = tuple(classifier.classify(w, prepared))
            patches = classifier.patches
            del prepared
            release_free_memory()
    t = times.net
    seconds = {"read_s": times.read_s, "prepare_s": times.prepare_s, "post_s": times.post_s,
               "global_s": t.global_s, "local_s": t.local_s, "aggregation_s": t.aggregation_s}
    return {"index": int(w.index), "core": None if core is None else list(core), "read": counts.read > 0,
            "patches": int(patches), "times": {k: float(v) for k, v in seconds.items()}, "worker": _worker_name()}


