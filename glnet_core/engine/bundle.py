"""Model bundles: the exported GLNet that the onnxruntime engine runs.

A bundle is a folder ``NAME.glnet/`` (or a zip of one, or a zip with the
bundle's files at its top level) holding ``manifest.json`` and one ONNX file
per subgraph of the network. :func:`load_bundle` checks everything it can
before any onnxruntime session exists:

1. ``manifest.json`` is present, UTF-8, valid JSON without duplicate keys or
   NaN / Infinity;
2. its ``format`` and ``format_version`` are ones this glnet reads;
3. it conforms to ``manifest.schema.json`` (checked by the small validator of
   :mod:`.manifest_schema`: QGIS's Python has no ``jsonschema``);
4. it is consistent (:func:`validate_manifest`: the graphs each mode needs are
   present, sizes agree with ``model.config``, class ids are contiguous, the
   normalisation has one value per band, a window needs at most
   :data:`~.tiling.MAX_PATCHES_PER_WINDOW` patches, and the tensors the graphs
   are declared to take and give fit the classes, bands, ``size_g`` /
   ``size_p`` and each other: :mod:`.bundle_shapes`);
5. every graph file is present, a regular file inside the bundle, its SHA-256
   equals the manifest's and it keeps no weight in an external data file
   (:mod:`.bundle_files`).

After sessions are created, :meth:`Bundle.check_sessions` applies the shape
rules of step 4 to the graphs themselves, then checks that each graph's
inputs and outputs are the ones the manifest declares
(:meth:`Bundle.check_session_io`); every command that opens sessions does so
through :func:`~.runtime.open_bundle_sessions`, ``glnet info --check-io``
included.

Every failure is a :class:`BundleError` whose message is one line naming the
bundle and, for manifest problems, the JSON path of the first problem. The
format itself is documented in ``docs/bundle-format.md``. The folder and zip
readers and the checksums are in :mod:`.bundle_files`.

This module imports neither torch, onnx, onnxruntime nor jsonschema.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import BundleError, ClassTableError
from ..formats.classes import ClassTable
from .bundle_files import MANIFEST_NAME, open_bundle_files, parse_manifest
from .bundle_shapes import GraphShapes, shape_problem
from .manifest_schema import is_json_type, json_type, schema_problem, show_value
from .modes import GRAPH_NAMES, MODES
from .preprocess import Normalisation
from .tiling import window_patch_problem

__all__ = [
    "Bundle",
    "FORMAT",
    "FORMAT_VERSION",
    "FP16_GPU",
    "validate_manifest",
    "write_manifest",
    "load_bundle",
    "session_io_spec",
]

FORMAT = "glnet-bundle"
FORMAT_VERSION = 1
#: The precision of bundles whose graphs compute in float16 (for CUDA GPUs;
#: float32 inputs and outputs, so the engine runs them like any other).
FP16_GPU = "fp16-gpu"

# onnxruntime's NodeArg.type strings -> the manifest's dtype names.
_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(bfloat16)": "bfloat16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


# --------------------------------------------------------------------------- manifest validation


def _manifest_error(source: str, where: str, message: str) -> BundleError:
    return BundleError(f"bundle {source}: {MANIFEST_NAME}: {where}: {message}")


def validate_manifest(manifest: Any, source: str) -> None:
    """Check a parsed manifest: format version, schema, then consistency.

    Parameters
    ----------
    manifest:
        The parsed ``manifest.json``, or the dict an exporter is about to
        write: it is checked as its JSON form (tuples count as arrays; NaN,
        Infinity and objects JSON cannot hold are errors).
    source:
        How messages name the bundle, usually its path.

    Raises
    ------
    BundleError
        One line naming the JSON path of the first problem, e.g. ``bundle
        x.glnet: manifest.json: graphs.local.sha256: "ab" does not match
        pattern ^[0-9a-f]{64}$``; an unknown ``format_version`` gets its own
        message saying which version this glnet reads.
    """
    # Validate what manifest.json holds: an exporter's in-memory dict may have
    # tuples (GLNetConfig.to_dict()) where JSON has arrays, or values JSON
    # cannot hold at all (NaN, numpy scalars, paths), which must fail here.
    try:
        manifest = json.loads(json.dumps(manifest, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise _manifest_error(source, "(top level)", f"not representable as JSON ({exc})") from None
    except RecursionError:
        raise _manifest_error(source, "(top level)", "nested too deeply") from None
    if not isinstance(manifest, dict):
        raise _manifest_error(source, "(top level)", f"expected an object, got {json_type(manifest)}")
    # Format and version first: a newer bundle would otherwise fail on some
    # field this glnet does not know, which hides the real cause.
    fmt = manifest.get("format")
    if "format" in manifest and fmt != FORMAT:
        raise _manifest_error(source, "format", f"{show_value(fmt)} is not {FORMAT!r}; this is not a glnet model bundle")
    version: Any = manifest.get("format_version")
    if is_json_type(version, "integer") and version != FORMAT_VERSION:
        advice = "update glnet" if version > FORMAT_VERSION else "re-export the bundle with this glnet"
        raise BundleError(
            f"bundle {source}: unsupported bundle format version {show_value(version)} "
            f"(this glnet reads version {FORMAT_VERSION}); {advice}"
        )
    try:
        problem = schema_problem(manifest)
    except RecursionError:
        raise _manifest_error(source, "(top level)", "nested too deeply") from None
    if problem:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME}: {problem}")
    _check_semantics(manifest, source)


def write_manifest(manifest: Dict[str, Any], folder: Path, source: str) -> None:
    """Validate ``manifest`` (:func:`validate_manifest`) and write it as ``folder/manifest.json``.

    For writers of bundles (the exporter, ``glnet quantize``), into their
    part folder: a manifest that :func:`load_bundle` would refuse is never
    written.

    Parameters
    ----------
    manifest:
        The manifest to write.
    folder:
        The bundle folder being written (its part folder).
    source:
        How messages name the bundle (its final path).

    Raises
    ------
    BundleError
        If the manifest is not valid.
    """
    validate_manifest(manifest, source=source)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _check_semantics(m: Dict[str, Any], source: str) -> None:
    """The rules a schema cannot express. ``m`` already conforms to the schema."""

    def fail(where: str, message: str) -> BundleError:
        return _manifest_error(source, where, message)

    graphs: Dict[str, Any] = m["graphs"]
    for mode in m["modes"]:
        for name in MODES[mode].graphs:
            if name not in graphs:
                raise fail("graphs", f"mode {mode!r} needs graph {name!r}, which is missing")

    files: Dict[str, str] = {}
    for name, graph in graphs.items():
        # The schema pattern is unanchored at a trailing newline in Python's
        # re ("$" matches before it); file names must be exact.
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.onnx", graph["file"]):
            raise fail(f"graphs.{name}.file", f"{show_value(graph['file'])} is not a plain .onnx file name")
        if not re.fullmatch(r"[0-9a-f]{64}", graph["sha256"]):
            raise fail(f"graphs.{name}.sha256", "is not 64 lowercase hex digits")
        if graph["file"] in files:
            raise fail(f"graphs.{name}.file", f"{graph['file']} is also the file of graphs.{files[graph['file']]}")
        files[graph["file"]] = name
        for kind in ("inputs", "outputs"):
            seen = set()
            for i, tensor in enumerate(graph[kind]):
                if tensor["name"] in seen:
                    raise fail(f"graphs.{name}.{kind}[{i}].name", f"duplicate tensor name {tensor['name']!r}")
                seen.add(tensor["name"])

    size_g, size_p, window, overlap = m["size_g"], m["size_p"], m["window"], m["min_overlap"]
    if size_p > window:
        raise fail("size_p", f"patch size {size_p} is larger than the window {window}")
    if overlap >= size_p:
        raise fail("min_overlap", f"{overlap} must be smaller than the patch size {size_p}")
    # The one patch-count rule, also applied to a run's --window (tiling.py).
    too_many = window_patch_problem(window, size_p, overlap)
    if too_many:
        raise fail("window", too_many)
    config = m["model"]["config"]
    for key, top in (("size_g", size_g), ("size_p", size_p), ("window", window), ("min_overlap", overlap)):
        if config[key] != top:
            raise fail(f"model.config.{key}", f"{config[key]} disagrees with {key} {top}")

    bands = m["input"]["bands"]
    if config["in_channels"] != bands:
        raise fail("model.config.in_channels", f"{config['in_channels']} disagrees with input.bands {bands}")
    if len(m["input"]["band_names"]) != bands:
        raise fail("input.band_names", f"{len(m['input']['band_names'])} names for {bands} bands")
    for key in ("mean", "std"):
        if len(m["normalisation"][key]) != bands:
            raise fail(f"normalisation.{key}", f"{len(m['normalisation'][key])} values for {bands} bands")

    try:
        classes = ClassTable.from_dict(m["classes"], source="classes")
    except ClassTableError as exc:
        raise fail("classes", str(exc)) from None

    # What the graphs are declared to take and give must fit the classes,
    # bands and sizes; Bundle.check_sessions applies the same rules to the
    # graphs themselves.
    declared = {name: {kind: [(t["name"], t["shape"]) for t in graph[kind]] for kind in ("inputs", "outputs")}
                for name, graph in graphs.items()}
    problem = shape_problem(declared, {n: g["file"] for n, g in graphs.items()}, len(classes), bands, size_g,
                            size_p, declared=True)
    if problem:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME}: {problem}")


# --------------------------------------------------------------------------- the bundle


def _ort_dtype(type_string: str) -> str:
    if type_string in _ORT_DTYPES:
        return _ORT_DTYPES[type_string]
    m = re.fullmatch(r"tensor\((\w+)\)", type_string or "")
    return m.group(1) if m else str(type_string)


def session_io_spec(session: Any) -> Dict[str, List[Dict[str, Any]]]:
    """The ``inputs`` / ``outputs`` entries of a manifest graph, from an onnxruntime session.

    For exporters: entries made this way pass :meth:`Bundle.check_session_io`.
    A dimension with neither a fixed size nor a name is written ``"?"``.

    Parameters
    ----------
    session:
        An ``onnxruntime.InferenceSession`` (anything with ``get_inputs()``
        and ``get_outputs()`` returning objects with ``name``, ``type`` and
        ``shape``).

    Returns
    -------
    dict
        ``{"inputs": [{"name", "shape", "dtype"}, ...], "outputs": [...]}``.
    """

    def entries(args: Sequence[Any]) -> List[Dict[str, Any]]:
        out = []
        for arg in args:
            shape: List[Any] = []
            for dim in arg.shape:
                if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0:
                    shape.append(dim)
                elif isinstance(dim, str) and dim:
                    shape.append(dim)
                else:
                    shape.append("?")  # neither fixed nor named: still symbolic
            out.append({"name": arg.name, "shape": shape, "dtype": _ort_dtype(arg.type)})
        return out

    return {"inputs": entries(session.get_inputs()), "outputs": entries(session.get_outputs())}


def _fixed(dim: Any) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim > 0


def _io_mismatch(declared: Sequence[Dict[str, Any]], actual: Sequence[Any], inputs: bool) -> Optional[str]:
    """How a graph's inputs (or outputs) differ from the manifest's, or ``None``."""
    declared_names = [t["name"] for t in declared]
    actual_names = [a.name for a in actual]
    if declared_names != actual_names:
        return f"the manifest declares {declared_names}, the graph has {actual_names}"
    for spec, arg in zip(declared, actual):
        dtype = _ort_dtype(arg.type)
        if dtype != spec["dtype"]:
            return f"{arg.name}: dtype {spec['dtype']} in the manifest, {dtype} in the graph"
        shape = list(arg.shape)
        if len(shape) != len(spec["shape"]):
            return f"{arg.name}: shape {spec['shape']} in the manifest, {shape} in the graph"
        for i, (want, have) in enumerate(zip(spec["shape"], shape)):
            if not _fixed(have) or want == have:
                continue
            # Inputs: the graph's fixed dims bind; one the manifest calls
            # symbolic would let the engine feed other sizes. (A symbolic
            # graph input accepts whatever fixed size the manifest promises.)
            # Outputs: onnxruntime's shape inference may fix a dim the ONNX
            # file leaves symbolic, so only two different fixed sizes conflict.
            if inputs or _fixed(want):
                return f"{arg.name}: dimension {i} is {show_value(want)} in the manifest, fixed to {have} in the graph"
    return None


@dataclass(frozen=True)
class Bundle:
    """A loaded, checked model bundle. Make one with :func:`load_bundle`.

    Attributes
    ----------
    path:
        The bundle folder or zip file.
    manifest:
        The parsed ``manifest.json`` (treat as read-only).
    classes:
        The class table.
    normalisation:
        The input normalisation.
    """

    path: Path
    manifest: Dict[str, Any]
    classes: ClassTable
    normalisation: Normalisation
    _sources: Mapping[str, Union[str, bytes]] = field(repr=False, compare=False)
    _sizes: Mapping[str, int] = field(repr=False, compare=False)

    # -- manifest fields

    @property
    def name(self) -> str:
        """The model's name (``model.name``)."""
        return str(self.manifest["model"]["name"])

    @property
    def config(self) -> Dict[str, Any]:
        """The GLNet configuration (``model.config``, ``GLNetConfig.to_dict()`` form)."""
        return self.manifest["model"]["config"]

    @property
    def size_g(self) -> int:
        return int(self.manifest["size_g"])

    @property
    def size_p(self) -> int:
        return int(self.manifest["size_p"])

    @property
    def window(self) -> int:
        return int(self.manifest["window"])

    @property
    def min_overlap(self) -> int:
        return int(self.manifest["min_overlap"])

    @property
    def bands(self) -> int:
        return int(self.manifest["input"]["bands"])

    @property
    def band_names(self) -> Tuple[str, ...]:
        return tuple(self.manifest["input"]["band_names"])

    @property
    def modes(self) -> Tuple[str, ...]:
        """Inference modes the bundle supports: ``"full"`` and / or ``"g2l"``."""
        return tuple(self.manifest["modes"])

    @property
    def precision(self) -> str:
        """``"fp32"``, ``"fp16"``, ``"fp16-gpu"`` (:data:`FP16_GPU`) or ``"int8"`` (written by ``glnet quantize``)."""
        return str(self.manifest["precision"])

    @property
    def opset(self) -> int:
        return int(self.manifest["opset"])

    @property
    def resolution_m(self) -> Optional[float]:
        """Ground resolution the model was trained at, metres per pixel, or ``None``."""
        value = self.manifest["resolution_m"]
        return None if value is None else float(value)

    @property
    def provenance(self) -> Dict[str, Any]:
        return self.manifest["provenance"]

    @property
    def verification(self) -> Optional[Dict[str, Any]]:
        """Exporter's verification figures per precision, or ``None`` if unverified."""
        return self.manifest.get("verification")

    @property
    def quantization(self) -> Optional[Dict[str, Any]]:
        """How an int8 bundle was made and its agreement with its source (``glnet quantize``), or ``None``."""
        return self.manifest.get("quantization")

    @property
    def graph_names(self) -> Tuple[str, ...]:
        """The graphs the bundle holds, in :data:`GRAPH_NAMES` order."""
        return tuple(g for g in GRAPH_NAMES if g in self.manifest["graphs"])

    @property
    def zipped(self) -> bool:
        """Whether the bundle was read from a zip file (its graphs are then held in memory)."""
        return any(isinstance(v, bytes) for v in self._sources.values())

    # -- graphs

    def _require(self, name: str) -> Dict[str, Any]:
        graphs = self.manifest["graphs"]
        if name not in graphs:
            raise BundleError(
                f"bundle {self.path}: has no graph {name!r} (it has {', '.join(self.graph_names)}; modes {', '.join(self.modes)})"
            )
        return graphs[name]

    def graphs_for_mode(self, mode: str) -> Tuple[str, ...]:
        """The graphs an inference mode runs.

        Raises
        ------
        BundleError
            If the bundle does not support ``mode``.
        """
        if mode not in self.modes:
            raise BundleError(f"bundle {self.path}: does not support mode {mode!r} (it supports {', '.join(self.modes)})")
        return MODES[mode].graphs

    def graph_spec(self, name: str) -> Dict[str, Any]:
        """The manifest entry of a graph: ``file``, ``sha256``, ``inputs``, ``outputs``.

        Raises
        ------
        BundleError
            If the bundle has no such graph.
        """
        return self._require(name)

    def graph_file(self, name: str) -> str:
        """The file name of a graph inside the bundle (``local.onnx``)."""
        return str(self._require(name)["file"])

    def graph_size(self, name: str) -> int:
        """Size of a graph file in bytes."""
        self._require(name)
        return self._sizes[name]

    def graph_source(self, name: str) -> Union[str, bytes]:
        """What to give ``onnxruntime.InferenceSession`` for a graph.

        A file path (str) for a bundle folder; the checked file contents
        (bytes) for a zipped bundle. The checksum was verified by
        :func:`load_bundle`.

        Raises
        ------
        BundleError
            If the bundle has no such graph.
        """
        self._require(name)
        return self._sources[name]

    def check_sessions(self, sessions: Mapping[str, Any]) -> None:
        """Check the graphs of opened sessions against the manifest and each other.

        First the graphs' own shapes against what the manifest says (class
        count, bands, ``size_g`` / ``size_p``, feature widths between the
        graphs: :func:`~.bundle_shapes.shape_problem`), then each graph's
        inputs and outputs against the manifest's declarations
        (:meth:`check_session_io`).

        Parameters
        ----------
        sessions:
            ``{graph name: onnxruntime.InferenceSession}`` of some or all of
            the bundle's graphs.

        Raises
        ------
        BundleError
            ``bundle X: manifest says 7 classes but local.onnx gives agg_g2l
            with 5 channels``.
        """
        shapes = {name: _session_shapes(session) for name, session in sessions.items()}
        problem = shape_problem(shapes, {n: self.graph_file(n) for n in sessions}, len(self.classes), self.bands,
                                self.size_g, self.size_p, declared=False)
        if problem:
            raise BundleError(f"bundle {self.path}: {problem}")
        for name, session in sessions.items():
            self.check_session_io(name, session)

    def check_session_io(self, name: str, session: Any) -> None:
        """Check that a session's inputs and outputs are those the manifest declares.

        Names must agree in order, dtypes and ranks must agree. Inputs: every
        dimension the graph fixes must be the same number in the manifest (a
        symbolic graph dimension accepts anything the manifest says).
        Outputs: a dimension fixed on both sides must agree (onnxruntime's
        shape inference may fix output dims the file leaves symbolic).

        Parameters
        ----------
        name:
            The graph (``"local"``, ...).
        session:
            An ``onnxruntime.InferenceSession`` created from
            :meth:`graph_source`, or anything with the same ``get_inputs()`` /
            ``get_outputs()``.

        Raises
        ------
        BundleError
            ``manifest does not match the ONNX inputs of local.onnx: ...``
        """
        spec = self._require(name)
        for kind, declared, actual in (
            ("inputs", spec["inputs"], session.get_inputs()),
            ("outputs", spec["outputs"], session.get_outputs()),
        ):
            problem = _io_mismatch(declared, actual, inputs=kind == "inputs")
            if problem:
                raise BundleError(
                    f"bundle {self.path}: manifest does not match the ONNX {kind} of {spec['file']}: {problem}"
                )


def _session_shapes(session: Any) -> GraphShapes:
    return {kind: [(arg.name, list(arg.shape)) for arg in args]
            for kind, args in (("inputs", session.get_inputs()), ("outputs", session.get_outputs()))}


def load_bundle(path: Union[str, Path, "os.PathLike[str]"]) -> Bundle:
    """Open and check a model bundle; nothing here needs onnxruntime.

    Parameters
    ----------
    path:
        A bundle folder (``NAME.glnet``), a zip holding one such folder, a
        zip with the bundle's files at its top level, or a bundle folder's
        ``manifest.json`` (which stands for its folder: file pickers, such as
        QGIS's, can select a file or a folder but not either).

    Returns
    -------
    Bundle
        With every graph file's checksum verified. Graphs of a zipped bundle
        are held in memory (nothing is extracted).

    Raises
    ------
    BundleError
        One line naming the problem: a missing or unreadable path, a file that
        is neither a folder nor a zip, no or an unparseable ``manifest.json``,
        a manifest that fails :func:`validate_manifest`, a missing graph file
        or one whose SHA-256 differs from the manifest's.
    """
    source = os.fspath(path)
    bundle_path = Path(source)
    if bundle_path.name == MANIFEST_NAME and bundle_path.is_file():
        bundle_path = bundle_path.parent
        source = os.fspath(bundle_path)
    reader = open_bundle_files(bundle_path, source)
    try:
        manifest = parse_manifest(reader.manifest_bytes(), source)
        validate_manifest(manifest, source)
        sources: Dict[str, Union[str, bytes]] = {}
        sizes: Dict[str, int] = {}
        for name in GRAPH_NAMES:
            if name in manifest["graphs"]:
                graph = manifest["graphs"][name]
                sources[name], sizes[name] = reader.graph(graph["file"], graph["sha256"])
    finally:
        reader.close()
    return Bundle(
        path=bundle_path,
        manifest=manifest,
        # validate_manifest has built both once already; these cannot fail.
        classes=ClassTable.from_dict(manifest["classes"], source="classes"),
        normalisation=Normalisation.from_dict(manifest["normalisation"]),
        _sources=sources,
        _sizes=sizes,
    )
