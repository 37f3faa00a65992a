"""Segment a raster of any size with a model bundle: the engine's one entry point.

:func:`segment` serves the command line (``glnet segment``), the QGIS plugin
and any other caller. It streams: the raster is cut into overlapping GLNet
windows (:mod:`glnet_core.windows`), each window is read, run through the ONNX
subgraphs (:class:`glnet_core.onnx_glnet.OnnxGLNet`) and the class map of its
core written to the output at once, so memory does not grow with the raster.

Ground resolution: when the bundle states the resolution the model was
trained at and the raster's differs by more than 1 %, windows are read
resampled to the model's resolution (the "model grid"), and class maps are
sampled back (nearest) onto the raster's own grid; the output always has the
input's grid.

Outputs are written to hidden part files next to their targets and renamed
when complete. A cancelled (callback or Ctrl-C) or failed run removes them, so
nothing is left behind; a run that was killed leaves them with a small state
file, and ``resume=True`` continues from the last finished window, giving the
same file as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .bundle import Bundle, load_bundle
from ..errors import Cancelled, InputError
from .feature_ops import UPSAMPLING
from ..formats.gdal_env import bounded_gdal_cache
from ..formats.class_mask import MaskWriter
from .onnx_glnet import GRAPHS_FOR_MODE, OnnxGLNet, WindowTimes
from .preprocess import pad_window, prepare_window
from ..formats.raster_input import RasterInput, open_raster
from .runtime import DEVICES, create_sessions, release_free_memory
from .tiling import PatchBox, patch_layout
from .windows import RasterWindow, raster_windows

__all__ = ["SegmentOptions", "Callbacks", "Progress", "Cancelled", "SegmentResult", "segment", "default_batch"]

#: Relative difference of ground resolutions below which no resampling happens.
RESOLUTION_TOLERANCE = 0.01
STATE_VERSION = 1


@dataclass
class SegmentOptions:
    """Options of :func:`segment` (the command line's options, same meaning)."""

    mode: str = "full"
    device: str = "auto"
    bands: Optional[Sequence[int]] = None
    window: Optional[int] = None
    margin: Optional[int] = None
    upsample: str = "bilinear"
    batch: Optional[int] = None
    threads: Optional[int] = None
    resume: bool = False
    overwrite: bool = False
    input_range: Optional[Tuple[float, float]] = None
    match_resolution: bool = True
    min_area_m2: float = 0.0
    simplify: float = 0.0
    vector_format: Optional[str] = None
    vector_layer: Optional[str] = None


@dataclass
class Progress:
    """Where a run stands; passed to :attr:`Callbacks.progress`."""

    windows_done: int
    windows_total: int
    patches_done: int
    patches_total: int
    fraction: float
    elapsed_s: float
    eta_s: Optional[float]


@dataclass
class Callbacks:
    """Hooks for progress, log lines and cancellation (all optional)."""

    progress: Optional[Callable[[Progress], None]] = None
    log: Optional[Callable[[str], None]] = None
    is_cancelled: Optional[Callable[[], bool]] = None


@dataclass
class SegmentResult:
    mask: Path
    confidence: Optional[Path]
    vector: Optional[Path]
    windows: int
    providers: List[str]
    profile: Dict[str, Any] = field(default_factory=dict)


class _Profile:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.read_s = self.prepare_s = self.write_s = self.post_s = self.vector_s = 0.0
        self.net = WindowTimes()
        self.patches = 0

    def as_dict(self) -> Dict[str, Any]:
        total = time.perf_counter() - self.t0
        return {
            "total_s": round(total, 3),
            "network_s": round(self.net.network_s, 3),
            "read_s": round(self.read_s, 3),
            "prepare_s": round(self.prepare_s, 3),
            "global_s": round(self.net.global_s, 3),
            "local_s": round(self.net.local_s, 3),
            "aggregation_s": round(self.net.aggregation_s, 3),
            "postprocess_s": round(self.post_s, 3),
            "write_s": round(self.write_s, 3),
            "vectorize_s": round(self.vector_s, 3),
            "other_s": round(total - self.net.network_s - self.read_s - self.prepare_s - self.post_s - self.write_s
                             - self.vector_s, 3),
            "patches": self.patches,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux's ``VmHWM`` where available: ``ru_maxrss`` also counts the memory of
    the process that started this one (it is carried over exec), which made
    small runs started from a large parent look large.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _scale(raster: RasterInput, bundle: Bundle, match: bool) -> Tuple[float, float]:
    """Model-grid pixels per raster pixel along (rows, cols)."""
    model_res = bundle.resolution_m
    if not match or not model_res or raster.pixel_size_m is None:
        return 1.0, 1.0
    sx, sy = raster.pixel_size_m[0] / model_res, raster.pixel_size_m[1] / model_res
    sx = 1.0 if abs(sx - 1.0) <= RESOLUTION_TOLERANCE else sx
    sy = 1.0 if abs(sy - 1.0) <= RESOLUTION_TOLERANCE else sy
    return sy, sx


def _raster_span(start: int, stop: int, scale: float, model_length: int, raster_length: int) -> Tuple[int, int]:
    """Raster pixels whose centres fall in model-grid pixels ``[start, stop)``."""
    if scale == 1.0:
        return start, stop
    a = 0 if start == 0 else int(np.ceil(start / scale - 0.5))
    b = raster_length if stop == model_length else int(np.ceil(stop / scale - 0.5))
    return max(0, a), min(raster_length, b)


def _sample_back(values: np.ndarray, r_span: Tuple[int, int], c_span: Tuple[int, int], scale: Tuple[float, float],
                 origin: Tuple[int, int]) -> np.ndarray:
    """Nearest sampling of a model-grid array (top-left at ``origin``) onto raster pixels."""
    rows = np.floor((np.arange(r_span[0], r_span[1]) + 0.5) * scale[0]).astype(np.int64) - origin[0]
    cols = np.floor((np.arange(c_span[0], c_span[1]) + 0.5) * scale[1]).astype(np.int64) - origin[1]
    rows = np.clip(rows, 0, values.shape[0] - 1)
    cols = np.clip(cols, 0, values.shape[1] - 1)
    return values[rows][:, cols]


def _state_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.glnet-resume.json")


def _fingerprint(input_path: Path, raster: RasterInput, bundle: Bundle, opts: SegmentOptions, confidence: Optional[Path],
                 n_windows: int) -> Dict[str, Any]:
    st = input_path.stat()
    manifest_hash = hashlib.sha256(json.dumps(bundle.manifest, sort_keys=True).encode()).hexdigest()
    return {
        "version": STATE_VERSION,
        "input": str(input_path.resolve()),
        "input_size": st.st_size,
        "input_mtime_ns": st.st_mtime_ns,
        "raster": [raster.height, raster.width],
        "bundle": manifest_hash,
        "mode": opts.mode,
        "bands": list(raster.bands),
        "window": opts.window,
        "margin": opts.margin,
        "upsample": opts.upsample,
        "match_resolution": opts.match_resolution,
        "input_range": None if opts.input_range is None else list(opts.input_range),
        "confidence": None if confidence is None else str(confidence.resolve()),
        "windows": n_windows,
    }


def _write_json_atomic(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _check_outputs(out_mask: Path, out_confidence: Optional[Path], overwrite: bool, out_vector: Optional[Path] = None) -> None:
    for p in [out_mask] + [q for q in (out_confidence, out_vector) if q is not None]:
        if not p.parent.is_dir():
            raise InputError(f"output folder {p.parent} does not exist")
        if p.exists() and not overwrite:
            raise InputError(f"{p} already exists; pass --overwrite to replace it")
    if out_confidence is not None and out_confidence.resolve() == out_mask.resolve():
        raise InputError("the mask and the confidence raster need different file names")


def segment(
    input_path: Union[str, Path],
    bundle: Union[str, Path, Bundle],
    out_mask: Union[str, Path],
    out_confidence: Optional[Union[str, Path]] = None,
    options: Optional[SegmentOptions] = None,
    callbacks: Optional[Callbacks] = None,
    out_vector: Optional[Union[str, Path]] = None,
) -> SegmentResult:
    """Segment ``input_path`` with ``bundle`` into a class-mask GeoTIFF.

    Parameters
    ----------
    input_path:
        Any raster GDAL reads.
    bundle:
        A bundle folder or zip (or a loaded :class:`Bundle`).
    out_mask:
        GeoTIFF of class ids (uint8; 255 = nodata) on the input's grid, with
        the classes' colours and names.
    out_confidence:
        Optional GeoTIFF of the top class probability, 0-100 (255 = nodata).
    options:
        See :class:`SegmentOptions`.
    callbacks:
        Progress, log and cancellation hooks.
    out_vector:
        Optional polygon layer of the mask (:func:`glnet_core.vectorize.vectorize`;
        GeoPackage, GeoJSON, FlatGeobuf or Shapefile). ``options.min_area_m2``
        sieves the mask before it is written *and* vectorized, so mask and
        polygons agree; ``options.simplify`` simplifies the polygons.

    Returns
    -------
    SegmentResult
        Paths, window count, the onnxruntime providers really used, and the
        profile (times per step, peak RSS).

    Raises
    ------
    GlnetError
        Any bad input (one-line message); nothing is written.
    Cancelled
        When ``callbacks.is_cancelled()`` turned true; outputs removed.
    """
    opts = options or SegmentOptions()
    cb = callbacks or Callbacks()
    log = cb.log or (lambda _msg: None)
    prof = _Profile()
    input_path, out_mask = Path(input_path), Path(out_mask)
    out_conf = Path(out_confidence) if out_confidence else None
    out_vec = Path(out_vector) if out_vector else None
    if opts.min_area_m2 < 0 or opts.simplify < 0:
        raise InputError("--min-area and --simplify must not be negative")
    if opts.mode not in GRAPHS_FOR_MODE:
        raise InputError(f"unknown mode {opts.mode!r}; choose full or g2l")
    if opts.device not in DEVICES:
        raise InputError(f"unknown device {opts.device!r}; choose auto, cpu or cuda")
    if opts.upsample not in UPSAMPLING:
        raise InputError(f"unknown upsampling {opts.upsample!r}; choose bilinear or nearest")
    if opts.batch is not None and opts.batch < 1:
        raise InputError("--batch must be at least 1")
    if out_vec is not None:
        from ..products.vectorize import driver_for

        driver_for(out_vec, opts.vector_format)  # an unknown format fails before any work
    if not opts.resume:
        _check_outputs(out_mask, out_conf, opts.overwrite, out_vec)
    elif not out_mask.parent.is_dir():
        raise InputError(f"output folder {out_mask.parent} does not exist")

    with bounded_gdal_cache():
        return _segment(input_path, bundle, out_mask, out_conf, out_vec, opts, cb, log, prof)


def _segment(input_path: Path, bundle: Union[str, Path, Bundle], out_mask: Path, out_conf: Optional[Path],
             out_vec: Optional[Path], opts: SegmentOptions, cb: Callbacks, log: Callable[[str], None],
             prof: "_Profile") -> SegmentResult:
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    if opts.mode not in b.modes:
        raise InputError(f"the bundle supports mode(s) {', '.join(b.modes)}, not {opts.mode}")
    window = int(opts.window or b.window)
    if window < 1:
        raise InputError("--window must be positive")

    raster = open_raster(input_path, b.bands, opts.bands, opts.input_range)
    writers: List[MaskWriter] = []
    state_file = _state_path(out_mask)
    owns_state = False
    try:
        scale = _scale(raster, b, opts.match_resolution)
        model_h = max(1, int(round(raster.height * scale[0])))
        model_w = max(1, int(round(raster.width * scale[1])))
        if scale != (1.0, 1.0):
            log(f"resampling to the model's {b.resolution_m:g} m/px: raster {raster.width} x {raster.height} px "
                f"runs as {model_w} x {model_h} px")
        windows = raster_windows(model_h, model_w, window, opts.margin)
        fingerprint = _fingerprint(input_path, raster, b, opts, out_conf, len(windows))
        fingerprint["vector"] = [None if out_vec is None else str(out_vec.resolve()), opts.min_area_m2, opts.simplify]
        done: List[int] = []
        if opts.resume:
            done = _load_state(state_file, fingerprint)
            if done:
                log(f"resuming: {len(done)} of {len(windows)} windows already done")
        names = sorted({g for g in GRAPHS_FOR_MODE[opts.mode]})
        sessions, providers = create_sessions({n: b.graph_source(n) for n in names}, opts.device, opts.threads)
        for n, s in sessions.items():
            b.check_session_io(n, s)
        log("onnxruntime providers: " + ", ".join(providers))
        engine = OnnxGLNet(sessions, b.size_p, b.min_overlap, len(b.classes))
        batch = opts.batch or default_batch(b.size_p, providers)
        grid = dict(width=raster.width, height=raster.height, crs=raster.crs, transform=raster.transform)
        resuming = opts.resume and bool(done)
        writers.append(MaskWriter(out_mask, classes=b.classes, kind="classes", resume=resuming, overwrite=opts.overwrite, **grid))
        if out_conf is not None:
            writers.append(MaskWriter(out_conf, classes=None, kind="confidence", resume=resuming, overwrite=opts.overwrite, **grid))
        owns_state = True
        if not resuming:
            done = []
            _write_json_atomic(state_file, dict(fingerprint, done=done))

        todo = [w for w in windows if w.index not in set(done)]
        patches_per_window = [len(patch_layout(max(w.rows.size, b.size_p), max(w.cols.size, b.size_p), b.size_p, b.min_overlap)) for w in windows]
        total_patches = sum(patches_per_window)
        patches_before = sum(patches_per_window[i] for i in done)
        t_start = time.perf_counter()

        def report(win_done: int, patches_done: int) -> None:
            if cb.is_cancelled and cb.is_cancelled():
                raise Cancelled("cancelled")
            if cb.progress:
                frac = patches_done / total_patches if total_patches else 1.0
                new = patches_done - patches_before
                elapsed = time.perf_counter() - t_start
                eta = elapsed / new * (total_patches - patches_done) if new > 0 else None
                cb.progress(Progress(win_done, len(windows), patches_done, total_patches, frac, elapsed, eta))

        report(len(done), patches_before)
        patches_done = patches_before
        for w in todo:
            base = patches_done

            def on_patches(k: int, _n: int, base=base, nw=len(done)) -> None:
                report(nw, base + k)

            _run_window(w, raster, b, engine, opts, batch, scale, (model_h, model_w), writers, prof, on_patches)
            patches_done = base + patches_per_window[w.index]
            for wr in writers:
                wr.flush()
            release_free_memory()  # so that each window starts from the same footprint
            done.append(w.index)
            _write_json_atomic(state_file, dict(fingerprint, done=done))
            report(len(done), patches_done)
        for wr in writers:
            wr.close()
        _finish_outputs(writers, out_vec, b, opts, cb, log, prof)
        for wr in writers:
            wr.commit()
    except BaseException:
        # Cancel, Ctrl-C and errors leave nothing behind; only a killed
        # process keeps its part files and state for --resume.
        for wr in writers:
            wr.abort()
        if owns_state:
            state_file.unlink(missing_ok=True)
        raise
    finally:
        raster.close()
    state_file.unlink(missing_ok=True)
    profile = prof.as_dict()
    profile.update({"windows": len(windows), "mode": opts.mode, "providers": providers, "window": window,
                    "raster": [raster.width, raster.height], "model_grid": [model_w, model_h]})
    return SegmentResult(out_mask, out_conf, out_vec, len(windows), providers, profile)


def _finish_outputs(writers: List[MaskWriter], out_vec: Optional[Path], b: Bundle, opts: SegmentOptions,
                    cb: Callbacks, log: Callable[[str], None], prof: "_Profile") -> None:
    """Minimum mapping unit and polygons, from the complete (closed, uncommitted) mask."""
    if opts.min_area_m2 <= 0 and out_vec is None:
        return
    from ..products.vectorize import sieve_mask, vectorize

    t = time.perf_counter()
    if opts.min_area_m2 > 0:
        _, size = sieve_mask(writers[0].part_path, min_area_m2=opts.min_area_m2)
        log(f"minimum mapping unit {opts.min_area_m2:g} m2: regions under {size} px merged into their neighbours")
    if out_vec is not None:
        conf = writers[1].part_path if len(writers) > 1 else None
        res = vectorize(writers[0].part_path, out_vec, classes=b.classes, simplify=opts.simplify,
                        driver=opts.vector_format, layer=opts.vector_layer, overwrite=opts.overwrite,
                        confidence_path=conf, is_cancelled=cb.is_cancelled)
        for w in res.warnings:
            log(f"warning: {w}")
        log(f"{res.count} polygons written to {out_vec}")
    prof.vector_s += time.perf_counter() - t


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


def _load_state(path: Path, fingerprint: Dict[str, Any]) -> List[int]:
    if not path.is_file():
        raise InputError(f"nothing to resume: no interrupted run of this output ({path.name} is missing)")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot resume: {path} is damaged ({exc})") from None
    for key, value in fingerprint.items():
        if state.get(key) != value:
            raise InputError(f"cannot resume: the interrupted run used a different {key.replace('_', ' ')}; "
                             "run again without --resume to start over")
    done = state.get("done")
    if not isinstance(done, list) or not all(isinstance(i, int) for i in done):
        raise InputError(f"cannot resume: {path} is damaged")
    return done


def _run_window(w: RasterWindow, raster: RasterInput, b: Bundle, engine: OnnxGLNet, opts: SegmentOptions, batch: int,
                scale: Tuple[float, float], model_size: Tuple[int, int], writers: List[MaskWriter], prof: _Profile,
                on_patches: Callable[[int, int], None]) -> None:
    t = time.perf_counter()
    if scale == (1.0, 1.0):
        image, valid = raster.read(w.rows.start, w.cols.start, w.rows.size, w.cols.size)
    else:
        image, valid = raster.read(w.rows.start / scale[0], w.cols.start / scale[1], w.rows.size / scale[0],
                                   w.cols.size / scale[1], out_shape=(w.rows.size, w.cols.size))
    prof.read_s += time.perf_counter() - t

    # Core of this window, in window coordinates.
    cr = (w.core_rows.start - w.rows.start, w.core_rows.stop - w.rows.start)
    cc = (w.core_cols.start - w.cols.start, w.core_cols.stop - w.cols.start)
    classes = np.full((cr[1] - cr[0], cc[1] - cc[0]), 255, np.uint8)
    confidence = np.full_like(classes, 255)
    if valid[cr[0] : cr[1], cc[0] : cc[1]].any():
        t = time.perf_counter()
        prep = prepare_window(image, b.size_g, b.size_p, b.normalisation)
        valid_p = pad_window(valid[:, :, None], b.size_p)[:, :, 0]
        prof.prepare_s += time.perf_counter() - t

        def skip(box: PatchBox) -> bool:
            return not valid_p[box.top : box.bottom, box.left : box.right].any()

        scores = engine.predict(prep.image_g, prep.window, opts.mode, batch, prof.net, on_patches, skip, opts.upsample)
        t = time.perf_counter()
        boxes = [bx for bx in patch_layout(prep.window.shape[1], prep.window.shape[2], b.size_p, b.min_overlap) if not skip(bx)]
        prof.patches += len(boxes)
        count = np.zeros(prep.window.shape[1:], np.float32)
        for bx in boxes:
            count[bx.top : bx.bottom, bx.left : bx.right] += 1
        del prep
        core = scores[:, cr[0] : cr[1], cc[0] : cc[1]]
        n = np.maximum(count[cr[0] : cr[1], cc[0] : cc[1]], 1)
        # In row chunks: whole-window temporaries would each be as large as the
        # score map (168 MB for the paper model).
        for r0 in range(0, core.shape[1], 256):
            chunk = core[:, r0 : r0 + 256]
            classes[r0 : r0 + 256] = chunk.argmax(axis=0)
            # Confidence: softmax of the patch-averaged logits, top class, in percent.
            mean = chunk / n[None, r0 : r0 + 256]
            mean -= mean.max(axis=0, keepdims=True)
            np.exp(mean, out=mean)
            confidence[r0 : r0 + 256] = np.rint(100.0 / mean.sum(axis=0))  # the top class's exp is 1
        invalid = ~valid[cr[0] : cr[1], cc[0] : cc[1]]
        classes[invalid] = 255
        confidence[invalid] = 255
        prof.post_s += time.perf_counter() - t

    t = time.perf_counter()
    r_span = _raster_span(w.core_rows.start, w.core_rows.stop, scale[0], model_size[0], raster.height)
    c_span = _raster_span(w.core_cols.start, w.core_cols.stop, scale[1], model_size[1], raster.width)
    if r_span[1] > r_span[0] and c_span[1] > c_span[0]:
        origin = (w.core_rows.start, w.core_cols.start)
        for wr, arr in zip(writers, (classes, confidence)):
            if scale != (1.0, 1.0):
                arr = _sample_back(arr, r_span, c_span, scale, origin)
            wr.write(r_span[0], c_span[0], arr)
    prof.write_s += time.perf_counter() - t
