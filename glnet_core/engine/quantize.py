"""Static int8 quantization of a model bundle, calibrated and verified through the engine's own input path.

:func:`quantize_bundle` turns an fp32 or fp16 bundle into an int8 one:

1. Windows are read from the calibration rasters exactly as ``glnet segment``
   reads them (:func:`glnet_core.formats.raster_input.open_raster`: band
   choice, 16-bit stretch; :class:`glnet_core.engine.grid.ModelGrid`: ground
   resolution matching; :func:`glnet_core.engine.preprocess.prepare_window`).
2. The first ``windows`` of them run through the source bundle's sessions in
   the :class:`~glnet_core.engine.predictor.WindowPredictor`, whose sessions
   are wrapped so that every graph's input feeds are recorded
   (:class:`FeedRecorder`): the global image, the patches, the cropped global
   features the local graph takes, the merged local features of ``l2g`` and
   the aggregation inputs. These are the calibration data of each graph;
   the number kept per graph is capped so memory stays bounded.
3. Each graph is quantized with onnxruntime's ``quantize_static`` (QDQ, int8
   per-channel weights, uint8 activations, MinMax calibration). fp16 weights
   (stored as float16 initializers cast to float32) are first made float32.
   Only ``Conv`` / ``MatMul`` / ``Gemm`` are quantized, and the first
   convolution (on the raw image) and the classifiers (convolutions to the
   class count) stay float: see :data:`QUANTIZED_OPS` and
   :func:`float_nodes` for the measurement.
4. Held-out windows (the last raster's when several are given, else the
   windows after the calibration windows: never calibrated on) run through
   both bundles in every mode the bundle has; the share of valid pixels
   with the same class is the agreement, written into the manifest
   (``precision: "int8"``, ``quantization``) and returned.

The output folder is written atomically (:func:`glnet_core.formats.outputs.atomic_folder`)
and declared before any work (:func:`glnet_core.formats.output_plan.check_outputs`).
Needs the ``onnx`` package (``pip install 'glnet[quantize]'``); no torch.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import InputError
from ..formats.output_plan import InputSource, OutputTarget, check_outputs
from ..formats.outputs import atomic_folder
from ..formats.raster_input import open_raster
from ..option_rules import CALIBRATION_WINDOWS, VERIFY_WINDOWS
from .bundle import FP16_GPU, Bundle, load_bundle, write_manifest
from .bundle_files import open_bundle_files, sha256_bytes, sha256_file
from .graph_spec import graph_io_spec
from .grid import ModelGrid
from .predictor import WindowPredictor, WindowTimes
from .preprocess import pad_window, prepare_window
from .runtime import create_sessions, open_bundle_sessions
from .tiling import PatchBox, WindowLayouts
from .windows import raster_windows

__all__ = ["INT8", "QUANTIZED_OPS", "WARN_AGREEMENT", "QuantizeResult", "FeedRecorder", "float_nodes", "quantize_bundle"]

PathLike = Union[str, "os.PathLike[str]"]

INT8 = "int8"

#: The agreement under which the command warns (the issue's target for the demo model).
WARN_AGREEMENT = 0.99

#: Operators quantized. Measured 2026-12-01 on the demo bundle (lite, fp16
#: source), 8 calibration windows from 3 synth scenes (seed 11), 2 held-out
#: windows of a seed-3 scene (2.1 MP per mode), benchmarks/quantize_benchmark.py:
#: Conv/MatMul/Gemm with the first conv and the classifiers float (this
#: default) 99.41 % agreement (full 99.37, g2l 99.45); every Conv quantized
#: 98.88 %; every operator (Add, Resize, ... with QDQ pairs of their own)
#: 98.61 %. The network-time ratio did not favour the others (a 2-core machine
#: shared with other jobs: ratios 1.2 to 1.9 between runs of any variant).
QUANTIZED_OPS: Tuple[str, ...] = ("Conv", "MatMul", "Gemm")

#: Feeds recorded per graph at most: calibration needs a sample, not every
#: patch, and recorded local feeds are a patch and its 16 global crops each.
MAX_FEEDS_PER_GRAPH = 96


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_bundle` wrote and measured.

    Attributes
    ----------
    out:
        The int8 bundle folder.
    agreement:
        Share of valid pixels of the held-out windows with the same class as
        the source bundle (all modes together).
    modes:
        ``{mode: agreement}``.
    calibration_windows, verification_windows, pixels:
        Windows calibrated on, windows verified on, pixels compared.
    network_s:
        ``{"source": s, "int8": s}``: onnxruntime time of the verification runs.
    manifest:
        The manifest written.
    """

    out: Path
    agreement: float
    modes: Dict[str, float]
    calibration_windows: int
    verification_windows: int
    pixels: int
    network_s: Dict[str, float]
    manifest: Dict[str, Any] = field(repr=False)


class FeedRecorder:
    """Wraps an onnxruntime session: runs it, and keeps (a capped sample of) its input feeds.

    Parameters
    ----------
    session:
        An ``onnxruntime.InferenceSession``.
    cap:
        Feeds kept at most; past it, every other kept feed is dropped and the
        keeping stride doubles, so the sample stays spread over all windows.
    """

    def __init__(self, session: Any, cap: int = MAX_FEEDS_PER_GRAPH):
        self.session = session
        self.cap = max(1, int(cap))
        self.feeds: List[Dict[str, np.ndarray]] = []
        self._seen = 0
        self._stride = 1

    def run(self, outputs: Optional[Sequence[str]], feeds: Mapping[str, np.ndarray]) -> List[np.ndarray]:
        if self._seen % self._stride == 0:
            # Copies: the predictor's crops are views of tensors it frees.
            self.feeds.append({k: np.ascontiguousarray(v).copy() for k, v in feeds.items()})
            if len(self.feeds) > self.cap:
                self.feeds = self.feeds[::2]
                self._stride *= 2
        self._seen += 1
        return self.session.run(outputs, dict(feeds))

    def __getattr__(self, name: str) -> Any:  # get_inputs() etc. of the wrapped session
        return getattr(self.session, name)


class _Reader:
    """onnxruntime's CalibrationDataReader over recorded feeds (duck-typed), with the range protocol of ``CalibStridedMinMax``.

    The calibrator keeps every intermediate tensor of every feed it runs until
    it computes their ranges; run in strides of one feed (``set_range``), its
    memory is one feed's activations whatever the number of feeds (a
    ``paper`` local patch holds about a gigabyte of them).
    """

    def __init__(self, feeds: Sequence[Dict[str, np.ndarray]]):
        self._feeds = list(feeds)
        self._it: Iterator[Dict[str, np.ndarray]] = iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._it = iter(self._feeds[start_index:end_index])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._it, None)


@dataclass
class _Window:
    """One prepared window: network inputs, the patches to compute, valid pixels."""

    source: str
    index: int
    image_g: np.ndarray
    window: np.ndarray
    boxes: List[PatchBox]
    wanted: frozenset
    valid: np.ndarray  # padded (H', W') bool


def _raster_windows(bundle: Bundle, path: Path, reading: Tuple[Any, Any, bool]) -> Generator[_Window, None, None]:
    """The windows of one raster holding valid pixels, read and prepared as segment does."""
    bands, input_range, match_resolution = reading
    layouts = WindowLayouts(bundle.size_p, bundle.min_overlap)
    raster = open_raster(path, bundle.bands, bands, input_range)
    try:
        grid = ModelGrid.for_raster(raster, bundle.resolution_m, match_resolution)
        h, w = grid.size
        for win in raster_windows(h, w, bundle.window):
            if not grid.may_hold_valid(raster, win):
                continue
            image, valid = grid.read(raster, win)
            if not valid.any():
                continue
            prep = prepare_window(image, bundle.size_g, bundle.size_p, bundle.normalisation)
            valid_p = pad_window(valid[:, :, None], bundle.size_p)[:, :, 0]
            boxes = list(layouts.for_window(valid.shape[0], valid.shape[1]))
            wanted = frozenset(b for b in boxes if valid_p[b.top : b.bottom, b.left : b.right].any())
            yield _Window(str(path), win.index, prep.image_g, prep.window, boxes, wanted, valid_p)
    finally:
        raster.close()


def _windows(bundle: Bundle, rasters: Sequence[Path], reading: Tuple[Any, Any, bool], limit: int) -> Iterator[_Window]:
    """Up to ``limit`` windows with valid pixels, taken in turn from each raster (so every raster is sampled)."""
    pending = [_raster_windows(bundle, p, reading) for p in rasters]
    given = 0
    try:
        while pending and given < limit:
            for it in list(pending):
                if given >= limit:
                    break
                w = next(it, None)
                if w is None:
                    pending.remove(it)
                    continue
                given += 1
                yield w
    finally:
        for it in pending:
            it.close()


def _predict(predictor: WindowPredictor, w: _Window, mode: str, times: Optional[WindowTimes] = None) -> np.ndarray:
    scores = predictor.predict(w.image_g, w.window, mode, 1, times, None, lambda b: b not in w.wanted, "bilinear", boxes=w.boxes)
    return np.argmax(scores, axis=0)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


# -- graph surgery (onnx) ----------------------------------------------------------


def weights_to_fp32(proto: Any) -> int:
    """Make an fp16 bundle's graph float32 again: each float16 initializer cast to float32 becomes a float32 initializer.

    Parameters
    ----------
    proto:
        An ``onnx.ModelProto``, changed in place.

    Returns
    -------
    int
        Initializers converted (0 for an fp32 graph).
    """
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    half = {i.name: i for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    casts = [n for n in graph.node if n.op_type == "Cast" and len(n.input) == 1 and n.input[0] in half
             and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in n.attribute)]
    if not casts:
        return 0
    kept = [i for i in graph.initializer if i.name not in {c.input[0] for c in casts}]
    new = [numpy_helper.from_array(numpy_helper.to_array(half[c.input[0]]).astype(np.float32), c.output[0]) for c in casts]
    del graph.initializer[:]
    graph.initializer.extend(kept + new)
    cast_ids = {id(c) for c in casts}
    nodes = [n for n in graph.node if id(n) not in cast_ids]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(casts)


def unshare_constant_identities(proto: Any) -> int:
    """Replace each ``Identity`` of an initializer by a copy of the initializer under the Identity's name.

    The PyTorch exporter stores equal tensors once: convolutions whose biases
    are equal (zero-initialised FPN biases, for example) read one initializer
    through ``Identity`` nodes. onnxruntime's quantizer then quantizes that
    bias once, with the first convolution's scale, and onnxruntime fuses
    ``DequantizeLinear -> Conv -> QuantizeLinear`` into an int8
    ``QLinearConv`` only where the bias is the convolution's own: every other
    such convolution stayed a float ``Conv`` on dequantized weights. In the
    ``paper`` local graph that was 57 of 68 convolutions and 61 % of its int8
    time (an onnxruntime profile, 2026-12-02). Unshared, each convolution
    gets its own bias and the fusion applies.

    Parameters
    ----------
    proto:
        An ``onnx.ModelProto``, changed in place.

    Returns
    -------
    int
        Identity nodes replaced.
    """
    import onnx

    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    copies: List[Any] = []
    kept: List[Any] = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            copies.append(copy)
        else:
            kept.append(node)
    if not copies:
        return 0
    graph.initializer.extend(copies)
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in kept]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(copies)


def float_nodes(proto: Any, n_classes: int) -> List[str]:
    """Names of the nodes left in float: the convolutions on a graph input image and the classifiers.

    Measured on the demo bundle (see :data:`QUANTIZED_OPS`): the first
    convolution sees the raw image, whose int8 rounding costs agreement for
    almost no time (3 input channels); a classifier (a convolution to
    ``n_classes`` channels) decides the argmax directly. Both are a tiny share
    of the arithmetic.

    Parameters
    ----------
    proto:
        An ``onnx.ModelProto`` whose nodes have names (onnxruntime's
        quantizer names unnamed nodes the same way before it looks at them).
    n_classes:
        The bundle's class count.

    Returns
    -------
    list of str
    """
    shapes = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    images = {"image_g", "patches"}
    out: List[str] = []
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        if node.input[0] in images or (weight is not None and weight[0] == n_classes):
            out.append(node.name)
    return out


def _name_nodes(proto: Any) -> None:
    """Give every unnamed node a unique name, so nodes can be excluded by name."""
    used = {n.name for n in proto.graph.node if n.name}
    for i, node in enumerate(proto.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def _quantize_graph(source: Union[str, bytes], dest: Path, feeds: Sequence[Dict[str, np.ndarray]], n_classes: int,
                    work: Path, operators: Sequence[str], keep_float: bool) -> Dict[str, Any]:
    """Quantize one graph into ``dest``; its manifest entry (without the checksum)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    proto = onnx.load_model_from_string(source) if isinstance(source, (bytes, bytearray)) else onnx.load(str(source))
    weights_to_fp32(proto)
    unshare_constant_identities(proto)
    _name_nodes(proto)
    excluded = float_nodes(proto, n_classes) if keep_float else []
    quantizable = [n.name for n in proto.graph.node if (not operators or n.op_type in operators) and n.name not in excluded]
    fp32 = work / (dest.stem + ".fp32.onnx")
    onnx.save(proto, str(fp32))
    if quantizable and feeds:
        with _quiet_root_logger():  # onnxruntime's quantizer logs advice on the root logger
            quantize_static(
                str(fp32), str(dest), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                op_types_to_quantize=list(operators) or None, nodes_to_exclude=excluded,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, "CalibStridedMinMax": 1},
            )
        out = onnx.load(str(dest))
    else:
        out = proto  # nothing worth quantizing (the aggregation graphs): kept float
    for entry in out.metadata_props:
        if entry.key == "glnet.precision":
            entry.value = INT8
    out.producer_name = "glnet"
    onnx.save(out, str(dest))
    fp32.unlink()
    return {"file": dest.name, "inputs": graph_io_spec(out.graph.input), "outputs": graph_io_spec(out.graph.output),
            "quantized_nodes": len(quantizable) if (quantizable and feeds) else 0, "float_nodes": excluded}


# -- the command -----------------------------------------------------------------------


def quantize_bundle(
    source: PathLike,
    calibration: Sequence[PathLike],
    out: PathLike,
    windows: int = 8,
    verify_windows: int = 2,
    overwrite: bool = False,
    bands: Optional[Sequence[int]] = None,
    input_range: Optional[Tuple[float, float]] = None,
    match_resolution: bool = True,
    threads: Optional[int] = None,
    log: Callable[[str], None] = lambda _m: None,
    operators: Sequence[str] = QUANTIZED_OPS,
    keep_float: bool = True,
) -> QuantizeResult:
    """Write an int8 copy of the bundle ``source`` at ``out``, calibrated on ``calibration`` rasters.

    Parameters
    ----------
    source:
        An fp32 or fp16 bundle (folder or zip).
    calibration:
        Rasters read as ``glnet segment`` reads them; their first ``windows``
        windows with valid pixels calibrate, the next ``verify_windows`` verify.
    out:
        The bundle folder to write.
    windows, verify_windows:
        Calibration and verification windows.
    overwrite:
        Replace an existing ``out``.
    bands, input_range, match_resolution:
        As ``glnet segment``'s ``--bands``, ``--input-range``, ``--no-resample``.
    threads:
        onnxruntime threads; None: all cores.
    log:
        Called with progress lines.
    operators, keep_float:
        The operator types quantized (empty: all) and whether :func:`float_nodes`
        stay float; the defaults are the measured choice (benchmarks/quantize_benchmark.py
        compares the others).

    Returns
    -------
    QuantizeResult

    Raises
    ------
    InputError
        A bundle already int8 or fp16-gpu, no calibration raster, too few windows with
        valid pixels to both calibrate and verify, or a bad raster.
    OutputPathError
        ``out`` exists (without ``overwrite``), is an input, or cannot be made.
    BundleError
        A damaged source bundle.
    OutputWriteError
        Writing failed (full disk); nothing is left behind.
    """
    src = Path(source)
    rasters = [Path(r) for r in calibration]
    if not rasters:
        raise InputError("--calibration: give at least one raster")
    CALIBRATION_WINDOWS.check(windows)
    VERIFY_WINDOWS.check(verify_windows)
    target = Path(out)
    inputs = [InputSource(src, "the model bundle")] + [InputSource(r, "a calibration raster (--calibration)") for r in rasters]
    check_outputs([OutputTarget(target, "--out", kind="folder")], inputs, overwrite=overwrite)
    b = load_bundle(src)
    if b.precision == INT8:
        raise InputError(f"{src}: the bundle is already int8; quantize its fp32 or fp16 source instead")
    if b.precision == FP16_GPU:
        # Its graphs compute in float16; int8 QDQ is calibrated on, and placed in, float32 graphs.
        raise InputError(f"{src}: the bundle is fp16-gpu (float16 arithmetic, for CUDA GPUs); "
                         "quantize an fp32 or fp16 export of the same checkpoint instead")
    # Every raster opened (and refused, one line) before any work: not after minutes of calibration.
    counts = []
    for r in rasters:
        raster = open_raster(r, b.bands, bands, input_range)
        try:
            grid_h, grid_w = ModelGrid.for_raster(raster, b.resolution_m, match_resolution).size
        finally:
            raster.close()
        counts.append(len(raster_windows(grid_h, grid_w, b.window)))
    if len(rasters) == 1 and counts[0] < 2:
        raise InputError(
            f"--calibration: {rasters[0]} is one {b.window} px window, which leaves none to verify the int8 bundle on "
            "(a window it was not calibrated on): give a second raster (the last one given verifies)"
        )
    n_classes = len(b.classes)
    # On the CPU: the int8 graphs are made for CPUs, and both bundles must run on the same provider to compare.
    sessions, providers = open_bundle_sessions(b, device="cpu", threads=threads)
    recorders = {n: FeedRecorder(s) for n, s in sessions.items()}
    recording = WindowPredictor(recorders, b.size_p, b.min_overlap, n_classes)
    reference = WindowPredictor(sessions, b.size_p, b.min_overlap, n_classes)
    reading = (bands, input_range, match_resolution)
    # Verification windows must not be calibration windows: with several
    # rasters the last one verifies (no pixel of it is calibrated on); with
    # one, the windows after the calibration windows do.
    if len(rasters) > 1:
        cal_iter = _windows(b, rasters[:-1], reading, windows)
        held_iter = _windows(b, rasters[-1:], reading, verify_windows)
    else:
        both = _windows(b, rasters, reading, windows + verify_windows)
        cal_iter, held_iter = both, both
    cal_n = 0
    for w in cal_iter:
        log(f"calibration window {cal_n + 1}/{windows} ({Path(w.source).name}, window {w.index})")
        for mode in b.modes:
            _predict(recording, w, mode)
        cal_n += 1
        if cal_n == windows:
            break
    held = list(held_iter)
    if not held:
        where = f"the last raster ({rasters[-1].name}) has" if len(rasters) > 1 else f"{rasters[0].name} has"
        raise InputError(
            f"--calibration: {where} no window with valid pixels left to verify the int8 bundle on, after the {cal_n} "
            f"calibration window(s) ({b.window} px windows): give another raster (the last one verifies) or fewer --windows"
        )
    # The source's manifest.json holds every graph's checksum: its own checksum names the whole source bundle.
    files = open_bundle_files(b.path, str(b.path))
    try:
        src_manifest_sha = sha256_bytes(files.manifest_bytes())
    finally:
        files.close()
    with atomic_folder(target, overwrite=overwrite, option="--out") as tmp, tempfile.TemporaryDirectory(prefix="glnet-quantize-") as work:
        graphs: Dict[str, Any] = {}
        detail: Dict[str, Any] = {}
        for name in b.graph_names:
            log(f"quantizing the {name} subgraph ({len(recorders[name].feeds)} calibration feeds)")
            dest = tmp / b.graph_file(name)
            entry = _quantize_graph(b.graph_source(name), dest, recorders[name].feeds, n_classes, Path(work),
                                    operators, keep_float)
            recorders[name].feeds = []
            detail[name] = {"quantized_nodes": entry.pop("quantized_nodes"), "float_nodes": entry.pop("float_nodes")}
            graphs[name] = {"file": entry["file"], "sha256": sha256_file(dest), "inputs": entry["inputs"], "outputs": entry["outputs"]}
        del recorders, recording
        log("verifying the int8 bundle against the source on held-out windows")
        q_sessions, _ = create_sessions({n: str(tmp / graphs[n]["file"]) for n in b.graph_names}, "cpu", threads)
        quantized = WindowPredictor(q_sessions, b.size_p, b.min_overlap, n_classes)
        same: Dict[str, int] = {m: 0 for m in b.modes}
        pixels = 0
        t_src, t_q = WindowTimes(), WindowTimes()
        for w in held:
            n_valid = int(w.valid.sum())
            pixels += n_valid
            for mode in b.modes:
                a = _predict(reference, w, mode, t_src)
                q = _predict(quantized, w, mode, t_q)
                same[mode] += int(((a == q) & w.valid).sum())
        modes = {m: same[m] / pixels for m in b.modes}
        agreement = sum(same.values()) / (pixels * len(b.modes))
        manifest = json.loads(json.dumps(b.manifest))
        manifest["precision"] = INT8
        manifest["graphs"] = graphs
        manifest.pop("verification", None)  # the source's figures (against PyTorch) are not this bundle's
        manifest["quantization"] = {
            "agreement": agreement,
            "modes": modes,
            "windows": len(held),
            "pixels": pixels,
            "calibration_windows": cal_n,
            "source": {"name": b.name, "path_name": b.path.name, "precision": b.precision, "sha256": src_manifest_sha},
            "calibration": [{"name": r.name, "sha256": sha256_file(r)} if r.is_file() else {"name": r.name} for r in rasters],
            "method": {"format": "QDQ", "weights": "int8 per channel", "activations": "uint8", "calibration": "minmax",
                       "operators": list(operators) or "all", "graphs": detail},
            "network_s": {"source": round(t_src.network_s, 3), "int8": round(t_q.network_s, 3)},
            "providers": list(providers),
            "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        }
        write_manifest(manifest, tmp, str(target))
        del q_sessions, quantized
    return QuantizeResult(target, agreement, modes, cal_n, len(held), pixels,
                          {"source": t_src.network_s, "int8": t_q.network_s}, manifest)
