"""Many scenes, one model: the scene loop of ``glnet batch``, as a library function.

:func:`run_batch` segments each scene (:class:`~glnet_core.formats.scene_list.Scene`,
see :func:`glnet_core.formats.scene_list.expand_scenes`) with
:func:`glnet_core.products.pipeline.run_pipeline` into one folder, each
output named after the scene's stem (:class:`BatchOutputs`):
``DIR/STEM.tif`` (the mask), ``DIR/STEM.confidence.tif`` and
``DIR/STEM.gpkg`` (or the extension of the vector format) when asked for.

What each scene gets (:func:`scene_state`):

* its outputs all exist: **skipped** (outputs appear only when complete, by
  atomic rename); ``overwrite`` redoes it;
* a killed run left its part files and resume state: **resumed** with
  ``resume``; else the scene fails with what to do (``--resume`` or
  ``--overwrite``), so that no interrupted work is thrown away unasked;
* otherwise it is run.

A scene that fails (a damaged file, the wrong bands, an output in the way)
becomes a ``failed`` :class:`SceneResult` with its one-line error, and the
loop goes on with the next; the engine has removed everything of it. A
cancel (:class:`~glnet_core.errors.Cancelled`) or an interrupt
(``KeyboardInterrupt``) stops the whole batch, with nothing partial left of
the scene it was running. With ``EngineOptions(dask=...)`` one cluster
serves every scene (:func:`glnet_core.cluster.connect.shared_cluster`).

Nothing is printed here: :class:`SceneHooks` tell the caller when a scene
starts (and take the callbacks its run reports to) and how it ended.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..callbacks import Callbacks
from ..cluster.connect import shared_cluster
from ..engine.bundle import Bundle, load_bundle
from ..engine.options import EngineOptions, InputOptions, OutputOptions
from ..engine.resume import state_path
from ..errors import Cancelled, InputError, error_line
from ..formats.classes import ClassTable
from ..formats.output_plan import InputSource, OutputTarget, check_not_inputs, raster_sources
from ..formats.outputs import part_path
from ..formats.part_lock import PartLock
from ..formats.scene_list import Scene
from ..formats.vector_layers import DRIVERS, driver_for
from ..option_rules import SCENES_AT_ONCE
from .pipeline import PipelineResult, PolygonOptions, run_pipeline

__all__ = ["STATUSES", "BatchOutputs", "SceneResult", "BatchResult", "SceneHooks", "scene_state", "check_batch",
           "run_batch"]

PathLike = Union[str, "os.PathLike[str]"]

#: How a scene ended: its outputs were written, were there already, or it failed.
STATUSES = ("done", "skipped", "failed")

#: The confidence raster's name: ``STEM`` + this.
CONFIDENCE_SUFFIX = ".confidence.tif"


@dataclass(frozen=True)
class BatchOutputs:
    """What a batch writes for each scene, and how.

    Attributes
    ----------
    out_dir:
        The folder of every output (created by :func:`run_batch` when missing).
    confidence:
        Also write ``STEM.confidence.tif`` (the top class probability, 0-100).
    vector:
        Also write the polygons, ``STEM.gpkg`` (or the first extension of
        ``vector_format``).
    vector_format, vector_layer:
        As :class:`~glnet_core.products.pipeline.PolygonOptions` (layer:
        default the file's name, so the stem).
    min_area_m2, simplify:
        Minimum mapping unit and polygon simplification, as ``glnet segment``.
    overwrite:
        Redo scenes whose outputs exist (each replaced only once the new one
        is complete); start killed runs over.
    resume:
        Continue scenes whose run was killed.

    Raises
    ------
    InputError
        For an unknown vector format or a bad area or tolerance (as
        :class:`~glnet_core.products.pipeline.PolygonOptions`).
    """

    out_dir: Path
    confidence: bool = False
    vector: bool = False
    vector_format: Optional[str] = None
    vector_layer: Optional[str] = None
    min_area_m2: float = 0.0
    simplify: float = 0.0
    overwrite: bool = False
    resume: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        # An unknown format, a reserved layer name, a bad area: refused now, before any scene.
        self.polygons(Scene("check.tif", "check"))

    @property
    def vector_suffix(self) -> str:
        """The polygons' extension: the vector format's first one (``.gpkg`` by default)."""
        driver = driver_for("x.gpkg", self.vector_format, option="--out-vector", format_option="--vector-format")
        return DRIVERS[driver][0]

    def paths(self, scene: Scene) -> Tuple[Path, ...]:
        """Every file the scene's run writes: the mask, then the confidence raster and the polygons if asked for."""
        d, stem = self.out_dir, scene.stem
        out = [d / f"{stem}.tif"]
        if self.confidence:
            out.append(d / f"{stem}{CONFIDENCE_SUFFIX}")
        if self.vector:
            out.append(d / f"{stem}{self.vector_suffix}")
        return tuple(out)

    def output_options(self, scene: Scene, resume: bool = False) -> OutputOptions:
        """The scene's :class:`~glnet_core.engine.options.OutputOptions` (``resume``: continue its killed run)."""
        d, stem = self.out_dir, scene.stem
        return OutputOptions(d / f"{stem}.tif", d / f"{stem}{CONFIDENCE_SUFFIX}" if self.confidence else None,
                             overwrite=self.overwrite, resume=resume)

    def polygons(self, scene: Scene) -> PolygonOptions:
        """The scene's :class:`~glnet_core.products.pipeline.PolygonOptions`."""
        vector = self.out_dir / f"{scene.stem}{self.vector_suffix}" if self.vector else None
        return PolygonOptions(vector, min_area_m2=self.min_area_m2, simplify=self.simplify,
                              vector_format=self.vector_format, vector_layer=self.vector_layer)

    def targets(self, scene: Scene) -> List[OutputTarget]:
        """The scene's outputs as :class:`~glnet_core.formats.output_plan.OutputTarget` (sidecars included)."""
        out = list(self.output_options(scene).targets)
        return out + self.polygons(scene).targets


@dataclass(frozen=True)
class SceneResult:
    """How one scene of a batch ended.

    Attributes
    ----------
    index:
        Its place in the batch, from 1.
    scene:
        The scene.
    status:
        ``done``, ``skipped`` or ``failed`` (:data:`STATUSES`).
    outputs:
        The files it has (done, skipped) or would have had (failed).
    seconds:
        Time spent on it (0 for a skipped one).
    windows:
        GLNet windows of its raster (done scenes; None otherwise).
    error:
        The one-line reason of a failed scene (None otherwise).
    resumed:
        A killed run of it was continued.
    result:
        The pipeline's result of a done scene (timings, classes, polygons).
    exception:
        What a failed scene raised (for a caller that shows tracebacks).
    """

    index: int
    scene: Scene
    status: str
    outputs: Tuple[Path, ...]
    seconds: float = 0.0
    windows: Optional[int] = None
    error: Optional[str] = None
    resumed: bool = False
    result: Optional[PipelineResult] = field(default=None, repr=False, compare=False)
    exception: Optional[BaseException] = field(default=None, repr=False, compare=False)

    @property
    def mask(self) -> Path:
        """The scene's mask (which exists when :attr:`status` is done or skipped)."""
        return self.outputs[0]


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_batch` did.

    Attributes
    ----------
    scenes:
        One :class:`SceneResult` per scene, in the batch's order.
    classes:
        The bundle's class table (the masks' colours and names).
    """

    scenes: Tuple[SceneResult, ...]
    classes: ClassTable

    def count(self, status: str) -> int:
        """How many scenes ended with ``status``."""
        return sum(1 for s in self.scenes if s.status == status)

    @property
    def failed(self) -> bool:
        """Whether any scene failed."""
        return self.count("failed") > 0

    @property
    def masks(self) -> List[Path]:
        """The masks the batch has (done and skipped scenes), in order."""
        return [s.mask for s in self.scenes if s.status != "failed"]


@dataclass(frozen=True)
class SceneHooks:
    """What the caller hears of a batch (all optional).

    Attributes
    ----------
    started:
        Called as scene ``k`` of ``n`` starts (``started(k, n, scene)``, k
        from 1), also for one that is then skipped; returns the
        :class:`~glnet_core.callbacks.Callbacks` its run reports to (None:
        the batch's own).
    finished:
        Called with each :class:`SceneResult` as the scene ends.
    """

    started: Optional[Callable[[int, int, Scene], Optional[Callbacks]]] = None
    finished: Optional[Callable[[SceneResult], None]] = None


def scene_state(scene: Scene, outputs: BatchOutputs) -> str:
    """Where a scene stands before the batch runs it.

    Returns
    -------
    str
        ``"interrupted"``: a killed run left its mask's part file and resume
        state (whether or not older outputs exist); ``"complete"``: every
        output exists; ``"new"``: anything else (some outputs may exist: the
        run then refuses them without overwrite).
    """
    mask = outputs.paths(scene)[0]
    if state_path(mask).is_file() and part_path(mask).is_file():
        return "interrupted"
    if all(p.exists() for p in outputs.paths(scene)):
        return "complete"
    return "new"


def check_batch(scenes: Sequence[Scene], bundle: PathLike, outputs: BatchOutputs,
                extra: Sequence[OutputTarget] = ()) -> None:
    """The checks of a whole batch that no single scene's run can make, before any work.

    Every output (each scene's, and ``extra`` such as a mosaic) against every
    input (each local scene raster, the bundle), and the outputs against each
    other: a scene's mask may not be another scene's raster, nor its
    confidence raster another scene's mask. The files' names are compared
    (every output lies in one folder), so the check stays fast for
    thousands of scenes. Each scene's run checks its own outputs again
    (existence, kind) as it starts.

    Raises
    ------
    OutputPathError
        An output that is an input (with or without overwrite), or two
        outputs that name one file.
    """
    # Named by the batch's own option: its scenes' outputs are all in --out-dir.
    targets: List[OutputTarget] = [OutputTarget(t.path, "--out-dir", t.kind, t.sidecars)
                                   for s in scenes for t in outputs.targets(s)] + list(extra)
    inputs: List[InputSource] = [src for s in scenes for src in raster_sources(s.path, f"the scene {s.path}")]
    inputs.append(InputSource(Path(bundle), "the model bundle"))
    check_not_inputs(targets, inputs)
    names: Dict[str, OutputTarget] = {}
    for t in targets:
        for p, _how in t.written():
            key = os.path.normcase(os.path.abspath(os.fspath(p))).casefold()
            first = names.setdefault(key, t)
            if first is not t:
                if first.option == t.option:
                    raise InputError(f"{t.option}: two scenes' outputs would both be {p}; rename one of the scenes")
                raise InputError(f"{first.option} and {t.option} both name {p}; give different file names")


def _error_line(exc: BaseException) -> str:
    """A failed scene's reason on one line, as ``glnet`` prints its errors (:func:`glnet_core.errors.error_line`)."""
    # Not an error glnet knows: shown as what it is (the caller may show its traceback).
    text = error_line(exc) or f"unexpected {type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def _interrupted_error(scene: Scene, outputs: BatchOutputs) -> str:
    mask = outputs.paths(scene)[0]
    # A run still writing it holds its lock: say that rather than offer --resume.
    with PartLock(mask, "--out-dir"):
        pass
    return (f"a killed run left its part files and resume state ({state_path(mask)}); "
            "pass --resume to continue it, or --overwrite to start it over")


def run_batch(
    scenes: Sequence[Scene],
    bundle: Union[PathLike, Bundle],
    outputs: BatchOutputs,
    engine: Optional[EngineOptions] = None,
    input_options: Optional[InputOptions] = None,
    callbacks: Optional[Callbacks] = None,
    hooks: Optional[SceneHooks] = None,
    extra_targets: Sequence[OutputTarget] = (),
    scenes_at_once: int = 1,
) -> BatchResult:
    """Segment every scene into ``outputs.out_dir``; one scene's failure does not stop the others.

    Parameters
    ----------
    scenes:
        The scenes, in order (stems distinct:
        :func:`glnet_core.formats.scene_list.expand_scenes`).
    bundle:
        The model bundle (path, or loaded :class:`~glnet_core.engine.bundle.Bundle`),
        loaded and checked once for all scenes.
    outputs:
        What each scene writes (:class:`BatchOutputs`).
    engine, input_options:
        As :func:`glnet_core.engine.segment.segment`, for every scene. With
        ``engine.dask`` one cluster serves the whole batch.
    callbacks:
        The scenes' runs report to these (progress, log lines,
        cancellation) unless ``hooks.started`` gives others.
    hooks:
        :class:`SceneHooks`.
    extra_targets:
        Further files the caller writes from the batch's outputs (a
        mosaic), checked with them before any work (:func:`check_batch`).
    scenes_at_once:
        Scenes run at the same time (needs ``engine.dask``), each in a
        thread of this process with its own writer: one run's writer takes
        only so many windows per second (docs/scaling.md), and the
        cluster stays busy while a scene's last windows finish. Hooks are
        called in this thread: ``started`` as a scene is handed out,
        ``finished`` as it ends (in the order scenes end).

    Returns
    -------
    BatchResult
        One :class:`SceneResult` per scene.

    Raises
    ------
    GlnetError
        Before any scene: a bundle that cannot be used, outputs that collide
        with inputs or with each other (:func:`check_batch`), an output
        folder that cannot be made.
    Cancelled
        When ``callbacks.is_cancelled()`` turned true; nothing partial of
        the scene being run is left.
    KeyboardInterrupt
        Likewise (every scene running is cancelled, and has left nothing, when it is raised).
    InputError
        ``scenes_at_once`` above 1 without ``engine.dask``.
    """
    eng = engine or EngineOptions()
    scenes_at_once = int(SCENES_AT_ONCE.check(scenes_at_once))
    if scenes_at_once > 1 and eng.dask is None:
        raise InputError("--scenes-at-once needs --dask: in one process the scenes would share its cores")
    hk = hooks or SceneHooks()
    base = callbacks or Callbacks()
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    check_batch(scenes, b.path, outputs, extra_targets)
    _make_folder(outputs.out_dir)
    results: List[SceneResult] = []
    n = len(scenes)
    with shared_cluster(eng.dask):
        if scenes_at_once == 1:
            for k, scene in enumerate(scenes, start=1):
                cb = (hk.started(k, n, scene) if hk.started is not None else None) or base
                res = _run_scene(k, scene, b, outputs, eng, input_options, cb)
                results.append(res)
                if hk.finished is not None:
                    hk.finished(res)
        else:
            results = _run_at_once(scenes, scenes_at_once, b, outputs, eng, input_options, base, hk)
    return BatchResult(tuple(sorted(results, key=lambda r: r.index)), b.classes)


def _run_at_once(scenes: Sequence[Scene], at_once: int, b: Bundle, outputs: BatchOutputs, engine: EngineOptions,
                 reading: Optional[InputOptions], base: Callbacks, hk: SceneHooks) -> List[SceneResult]:
    """Up to ``at_once`` scenes at a time, each in a thread; a cancel or Ctrl-C cancels them all and waits for them."""
    stop = threading.Event()
    results: List[SceneResult] = []
    n = len(scenes)
    todo = list(enumerate(scenes, start=1))
    running: Dict[Future, int] = {}

    def cancelled(cb: Callbacks) -> Callable[[], bool]:
        return lambda: stop.is_set() or (cb.is_cancelled is not None and cb.is_cancelled())

    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="glnet-scene") as pool:
        try:
            while todo or running:
                while todo and len(running) < at_once:
                    k, scene = todo.pop(0)
                    cb = (hk.started(k, n, scene) if hk.started is not None else None) or base
                    cb = replace(cb, is_cancelled=cancelled(cb))
                    running[pool.submit(_run_scene, k, scene, b, outputs, engine, reading, cb)] = k
                base.check_cancelled()
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                for f in finished:
                    del running[f]
                    res = f.result()  # Cancelled (a scene's own callbacks) goes on to the caller
                    results.append(res)
                    if hk.finished is not None:
                        hk.finished(res)
        except BaseException:
            stop.set()  # every running scene stops at its next poll and removes its outputs
            wait(list(running))
            raise
    return results


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out-dir: {folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out-dir: cannot create {folder}: {exc.strerror or exc}") from None


def _run_scene(k: int, scene: Scene, b: Bundle, outputs: BatchOutputs, engine: EngineOptions,
               reading: Optional[InputOptions], cb: Callbacks) -> SceneResult:
    paths = outputs.paths(scene)
    t = time.perf_counter()
    state = scene_state(scene, outputs)
    resume = state == "interrupted" and outputs.resume
    try:
        if state == "interrupted" and not (outputs.resume or outputs.overwrite):
            if all(p.exists() for p in paths):
                # Complete outputs of an earlier run; the parts are those of a killed --overwrite run.
                return SceneResult(k, scene, "skipped", paths)
            raise InputError(_interrupted_error(scene, outputs))
        if state == "complete" and not outputs.overwrite:
            return SceneResult(k, scene, "skipped", paths)
        cb.check_cancelled()
        result = run_pipeline(scene.path, b, outputs.output_options(scene, resume), engine, reading,
                              outputs.polygons(scene), cb)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - one scene's failure, whatever it is, must not stop the others
        return SceneResult(k, scene, "failed", paths, time.perf_counter() - t, error=_error_line(exc), exception=exc)
    return SceneResult(k, scene, "done", paths, time.perf_counter() - t, windows=result.segment.windows,
                       resumed=resume, result=result)
