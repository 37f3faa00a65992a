"""Model bundles: the exported GLNet that the onnxruntime engine runs.

A bundle is a folder ``NAME.glnet/`` (or a zip of one, or a zip with the
bundle's files at its top level) holding ``manifest.json`` and one ONNX file
per subgraph of the network. :func:`load_bundle` checks everything it can
before any onnxruntime session exists:

1. ``manifest.json`` is present, UTF-8, valid JSON without duplicate keys or
   NaN / Infinity;
2. its ``format`` and ``format_version`` are ones this glnet reads;
3. it conforms to ``manifest.schema.json`` (checked by the small validator in
   this module: QGIS's Python has no ``jsonschema``);
4. it is consistent (:func:`validate_manifest`: the graphs each mode needs are
   present, sizes agree with ``model.config``, class ids are contiguous, the
   normalisation has one value per band);
5. every graph file is present and its SHA-256 equals the manifest's.

After a session is created, :meth:`Bundle.check_session_io` checks that the
graph's inputs and outputs are the ones the manifest declares.

Every failure is a :class:`BundleError` whose message is one line naming the
bundle and, for manifest problems, the JSON path of the first problem. The
format itself is documented in ``docs/bundle-format.md``.

This module imports neither torch, onnx, onnxruntime nor jsonschema.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..formats.classes import ClassTable
from ..errors import ClassTableError, GlnetError
from .preprocess import Normalisation

__all__ = [
    "BundleError",
    "Bundle",
    "FORMAT",
    "FORMAT_VERSION",
    "SCHEMA_PATH",
    "MANIFEST_NAME",
    "GRAPH_NAMES",
    "MODE_GRAPHS",
    "sha256_file",
    "sha256_bytes",
    "load_schema",
    "required_graphs",
    "schema_problem",
    "validate_manifest",
    "load_bundle",
    "session_io_spec",
]

FORMAT = "glnet-bundle"
FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
MANIFEST_NAME = "manifest.json"

# The subgraphs a bundle may hold, in the order they run, and which of them
# each inference mode needs.
GRAPH_NAMES: Tuple[str, ...] = ("global", "local", "aggregation_g2l", "l2g", "aggregation_full")
MODE_GRAPHS: Dict[str, Tuple[str, ...]] = {
    "g2l": ("global", "local", "aggregation_g2l"),
    "full": ("global", "local", "l2g", "aggregation_full"),
}

# A manifest is a few kilobytes; the cap keeps a corrupt or hostile bundle
# from making us read (or decompress) gigabytes before failing.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024

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

_HASH_BLOCK = 1 << 20


class BundleError(GlnetError):
    """A model bundle that cannot be used: missing, damaged, or inconsistent. One-line message."""


# --------------------------------------------------------------------------- checksums


def sha256_file(path: Union[str, Path]) -> str:
    """SHA-256 of a file's contents, as 64 lowercase hex digits.

    Parameters
    ----------
    path:
        The file; read in 1 MiB blocks, so size does not matter.

    Returns
    -------
    str

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of ``data``, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- schema validator
#
# A deliberately small JSON Schema (draft 2020-12) validator: only the
# keywords below, which is what manifest.schema.json uses. A schema using any
# other keyword is rejected when loaded, so a constraint can never be ignored
# silently. tests/test_bundle.py cross-checks it against the jsonschema package.

_SUPPORTED_KEYWORDS = frozenset(
    {
        "type", "enum", "const",
        "minLength", "maxLength", "pattern",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "items", "minItems", "maxItems", "uniqueItems",
        "properties", "required", "additionalProperties", "minProperties", "maxProperties",
        "anyOf", "oneOf", "$ref", "$defs",
    }
)
_ANNOTATION_KEYWORDS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples"})

_Path = Tuple[Union[str, int], ...]


@dataclass(frozen=True)
class _Problem:
    path: _Path
    message: str
    # "type" when the instance at ``path`` has the wrong JSON type: anyOf /
    # oneOf use it to prefer the branch whose type did match.
    kind: str = "value"


def _check_schema_keywords(schema: Any, where: str = "#") -> None:
    """Reject a schema that uses a keyword the validator does not implement.

    Raises
    ------
    ValueError
        Naming the keyword and where it is; this is a bug in the schema file.
    """
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise ValueError(f"manifest schema: {where} is not a schema object")
    for key, value in schema.items():
        if key in _ANNOTATION_KEYWORDS:
            continue
        if key not in _SUPPORTED_KEYWORDS:
            raise ValueError(f"manifest schema: keyword {key!r} at {where} is not supported by glnet's validator")
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                _check_schema_keywords(sub, f"{where}/{key}/{name}")
        elif key in ("items", "additionalProperties"):
            _check_schema_keywords(value, f"{where}/{key}")
        elif key in ("anyOf", "oneOf"):
            for i, sub in enumerate(value):
                _check_schema_keywords(sub, f"{where}/{key}/{i}")


@lru_cache(maxsize=1)
def _schema() -> Dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    _check_schema_keywords(schema)
    return schema


def load_schema() -> Dict[str, Any]:
    """The manifest JSON Schema (a copy; the packaged file is read once).

    Returns
    -------
    dict

    Raises
    ------
    OSError
        If the packaged ``manifest.schema.json`` is missing (a broken install).
    ValueError
        If it uses a keyword the built-in validator does not support.
    """
    return copy.deepcopy(_schema())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, name: str) -> bool:
    # JSON Schema semantics: booleans are not numbers, and 2.0 is an integer.
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"manifest schema: unknown type {name!r}")


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it (``true != 1``, ``1 == 1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _show(value: Any, limit: int = 40) -> str:
    """A short JSON rendering of ``value`` for a one-line message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve_ref(ref: str, root: Dict[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"manifest schema: only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[part]
        except (KeyError, TypeError):
            raise ValueError(f"manifest schema: $ref {ref!r} does not resolve") from None
    return node


def _first_problem(value: Any, schema: Any, root: Dict[str, Any], path: _Path) -> Optional[_Problem]:
    """The first way ``value`` violates ``schema``, or ``None`` if it conforms.

    Keywords are checked in a fixed order (``$ref``, type, const / enum,
    then the type-specific ones, then anyOf / oneOf) so the reported problem
    is deterministic. As in JSON Schema, a keyword for another type (say
    ``minimum`` on a string) does not apply.
    """
    if schema is True:
        return None
    if schema is False:
        return _Problem(path, "is not allowed here")

    if "$ref" in schema:
        problem = _first_problem(value, _resolve_ref(schema["$ref"], root), root, path)
        if problem:
            return problem

    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return _Problem(path, f"expected {' or '.join(types)}, got {_json_type(value)} {_show(value)}", "type")

    if "const" in schema and not _json_equal(value, schema["const"]):
        return _Problem(path, f"must be {_show(schema['const'])}, got {_show(value)}")
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        allowed = ", ".join(_show(e) for e in schema["enum"])
        return _Problem(path, f"must be one of {allowed}; got {_show(value)}")

    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            what = "must not be empty" if schema["minLength"] == 1 else f"needs at least {schema['minLength']} characters"
            return _Problem(path, what)
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return _Problem(path, f"allows at most {schema['maxLength']} characters, has {len(value)}")
        # re.search, not fullmatch: JSON Schema patterns are unanchored.
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return _Problem(path, f"{_show(value)} does not match pattern {schema['pattern']}")

    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return _Problem(path, f"{_show(value)} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            return _Problem(path, f"{_show(value)} is more than the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return _Problem(path, f"{_show(value)} must be greater than {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            return _Problem(path, f"{_show(value)} must be less than {schema['exclusiveMaximum']}")

    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return _Problem(path, f"needs at least {schema['minItems']} items, has {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return _Problem(path, f"allows at most {schema['maxItems']} items, has {len(value)}")
        if schema.get("uniqueItems"):
            for i in range(len(value)):
                for j in range(i):
                    if _json_equal(value[i], value[j]):
                        return _Problem(path + (i,), f"repeats item {j} ({_show(value[i])}); items must be unique")
        if "items" in schema:
            for i, item in enumerate(value):
                problem = _first_problem(item, schema["items"], root, path + (i,))
                if problem:
                    return problem

    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return _Problem(path, f"missing required property {key!r}")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            return _Problem(path, f"needs at least {schema['minProperties']} entries, has {len(value)}")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            return _Problem(path, f"allows at most {schema['maxProperties']} entries, has {len(value)}")
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in value:
                problem = _first_problem(value[key], sub, root, path + (key,))
                if problem:
                    return problem
        extra = schema.get("additionalProperties", True)
        for key in value:
            if key in props:
                continue
            if extra is False:
                allowed = ", ".join(props) or "none"
                return _Problem(path, f"unexpected property {key!r} (allowed: {allowed})")
            problem = _first_problem(value[key], extra, root, path + (key,))
            if problem:
                return problem

    if "anyOf" in schema:
        problems = [_first_problem(value, sub, root, path) for sub in schema["anyOf"]]
        if all(problems):
            return _combine(path, value, schema["anyOf"], problems)  # type: ignore[arg-type]
    if "oneOf" in schema:
        problems = [_first_problem(value, sub, root, path) for sub in schema["oneOf"]]
        matches = sum(p is None for p in problems)
        if matches == 0:
            return _combine(path, value, schema["oneOf"], problems)  # type: ignore[arg-type]
        if matches > 1:
            return _Problem(path, f"{_show(value)} matches more than one of the allowed forms")
    return None


def _combine(path: _Path, value: Any, branches: Sequence[Any], problems: Sequence[_Problem]) -> _Problem:
    """One message for a value that fits none of the anyOf / oneOf branches."""
    # A branch whose type matched explains the failure best (``0`` for
    # "integer >= 1 or a name" should say "less than the minimum 1").
    for problem in problems:
        if not (problem.kind == "type" and problem.path == path):
            return problem
    types: List[str] = []
    for branch in branches:
        t = branch.get("type") if isinstance(branch, dict) else None
        for name in t if isinstance(t, list) else [t] if t else []:
            if name not in types:
                types.append(name)
    expected = " or ".join(types) if types else "one of the allowed forms"
    return _Problem(path, f"expected {expected}, got {_json_type(value)} {_show(value)}", "type")


def _format_path(path: _Path) -> str:
    """``("graphs", "local", "inputs", 0, "shape")`` -> ``graphs.local.inputs[0].shape``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(top level)"


def schema_problem(instance: Any, schema: Optional[Dict[str, Any]] = None) -> Optional[str]:
    """The first violation of a JSON Schema, as ``"json.path: message"``, or ``None``.

    Only the schema is checked here, not the semantic rules of
    :func:`validate_manifest`.

    Parameters
    ----------
    instance:
        Parsed JSON (dicts, lists, str, int, float, bool, None).
    schema:
        The schema; the bundle manifest schema when ``None``. Must use only
        the keywords this validator supports.

    Returns
    -------
    str or None

    Raises
    ------
    ValueError
        If ``schema`` uses an unsupported keyword or an unresolvable ``$ref``.
    """
    if schema is None:
        schema = _schema()
    else:
        _check_schema_keywords(schema)
    problem = _first_problem(instance, schema, schema, ())
    return None if problem is None else f"{_format_path(problem.path)}: {problem.message}"


# --------------------------------------------------------------------------- manifest validation


def required_graphs(modes: Iterable[str]) -> Tuple[str, ...]:
    """The graphs the given inference modes need, in :data:`GRAPH_NAMES` order.

    Raises
    ------
    KeyError
        For a mode other than ``"full"`` and ``"g2l"``.
    """
    needed = set()
    for mode in modes:
        needed.update(MODE_GRAPHS[mode])
    return tuple(g for g in GRAPH_NAMES if g in needed)


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
        raise _manifest_error(source, "(top level)", f"expected an object, got {_json_type(manifest)}")
    # Format and version first: a newer bundle would otherwise fail on some
    # field this glnet does not know, which hides the real cause.
    fmt = manifest.get("format")
    if "format" in manifest and fmt != FORMAT:
        raise _manifest_error(source, "format", f"{_show(fmt)} is not {FORMAT!r}; this is not a glnet model bundle")
    version = manifest.get("format_version")
    if _is_type(version, "integer") and version != FORMAT_VERSION:
        advice = "update glnet" if version > FORMAT_VERSION else "re-export the bundle with this glnet"
        raise BundleError(
            f"bundle {source}: unsupported bundle format version {_show(version)} "
            f"(this glnet reads version {FORMAT_VERSION}); {advice}"
        )
    try:
        problem = schema_problem(manifest)
    except RecursionError:
        raise _manifest_error(source, "(top level)", "nested too deeply") from None
    if problem:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME}: {problem}")
    _check_semantics(manifest, source)


def _check_semantics(m: Dict[str, Any], source: str) -> None:
    """The rules a schema cannot express. ``m`` already conforms to the schema."""

    def fail(where: str, message: str) -> BundleError:
        return _manifest_error(source, where, message)

    graphs: Dict[str, Any] = m["graphs"]
    for mode in m["modes"]:
        for name in MODE_GRAPHS[mode]:
            if name not in graphs:
                raise fail("graphs", f"mode {mode!r} needs graph {name!r}, which is missing")

    files: Dict[str, str] = {}
    for name, graph in graphs.items():
        # The schema pattern is unanchored at a trailing newline in Python's
        # re ("$" matches before it); file names must be exact.
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.onnx", graph["file"]):
            raise fail(f"graphs.{name}.file", f"{_show(graph['file'])} is not a plain .onnx file name")
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
        ClassTable.from_dict(m["classes"], source="classes")
    except ClassTableError as exc:
        raise fail("classes", str(exc)) from None


# --------------------------------------------------------------------------- reading


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    # json.loads keeps the last of duplicate keys silently; a manifest with
    # two "sha256" entries is ambiguous, so refuse it.
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_manifest(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"bundle {source}: {MANIFEST_NAME} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except _DuplicateKey as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} has the key {str(exc)!r} twice in one object") from None
    except ValueError as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    except RecursionError:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is nested too deeply") from None


class _Reader:
    """Access to the files of a bundle, in a folder or a zip."""

    source: str

    def manifest_bytes(self) -> bytes:
        raise NotImplementedError

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        """Check a graph file's checksum; return what onnxruntime should open, and its size."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _checksum_error(self, file: str, actual: str, expected: str, size: int) -> BundleError:
        return BundleError(
            f"bundle {self.source}: {file} fails its checksum (sha256 {actual[:12]}..., manifest says "
            f"{expected[:12]}...; {size} bytes): the file is damaged or was changed after export; "
            "download or export the bundle again"
        )


class _FolderReader(_Reader):
    def __init__(self, folder: Path, source: str) -> None:
        self.folder = folder
        self.source = source

    def manifest_bytes(self) -> bytes:
        path = self.folder / MANIFEST_NAME
        if not path.is_file():
            raise BundleError(f"bundle {self.source}: the folder has no {MANIFEST_NAME}; is it a glnet bundle (NAME.glnet)?")
        try:
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                raise BundleError(f"bundle {self.source}: {MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
            return path.read_bytes()
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {MANIFEST_NAME}: {exc.strerror or exc}") from None

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        path = self.folder / file
        if not path.is_file():
            raise BundleError(f"bundle {self.source}: graph file {file} is missing")
        try:
            size = path.stat().st_size
            actual = sha256_file(path)
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {file}: {exc.strerror or exc}") from None
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, size)
        # A path, not bytes: onnxruntime reads it itself, so a large model is
        # not held in memory twice.
        return str(path), size


def _unsafe_member(name: str) -> bool:
    """Whether a zip member name could point outside the archive's folder."""
    if name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return True
    if re.match(r"[A-Za-z]:", name):  # a Windows drive
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


class _ZipReader(_Reader):
    """Reads members into memory; nothing is extracted, so nothing needs cleaning up."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"bundle {source}: not a readable zip file ({exc})") from None
        try:
            infos = self.zip.infolist()
            for info in infos:
                if _unsafe_member(info.filename):
                    raise BundleError(
                        f"bundle {source}: zip member {info.filename!r} has an unsafe path (absolute or with '..'); refusing the zip"
                    )
            self.members = {info.filename: info for info in infos if not info.is_dir()}
            self.prefix = self._find_prefix()
        except BaseException:
            self.zip.close()
            raise

    def _find_prefix(self) -> str:
        """The folder inside the zip that holds the bundle ("" for the top level)."""
        candidates = []
        for name in self.members:
            parts = name.split("/")
            if parts == [MANIFEST_NAME]:
                candidates.append("")
            # macOS Finder adds __MACOSX/ with resource forks; never a bundle.
            elif len(parts) == 2 and parts[1] == MANIFEST_NAME and parts[0] != "__MACOSX":
                candidates.append(parts[0] + "/")
        if not candidates:
            raise BundleError(
                f"bundle {self.source}: the zip has no {MANIFEST_NAME} at its top level or in a folder "
                "(NAME.glnet/); is it a glnet bundle?"
            )
        if len(candidates) > 1:
            folders = ", ".join(repr(c or "(top level)") for c in sorted(candidates))
            raise BundleError(f"bundle {self.source}: the zip holds several bundles ({folders}); put one bundle per zip")
        return candidates[0]

    def _read(self, file: str, limit: Optional[int] = None) -> bytes:
        info = self.members.get(self.prefix + file)
        if info is None:
            what = "graph file " if file != MANIFEST_NAME else ""
            raise BundleError(f"bundle {self.source}: {what}{file} is missing from the zip")
        if limit is not None and info.file_size > limit:
            raise BundleError(f"bundle {self.source}: {file} is larger than {limit} bytes")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
            # Bad CRC, truncated archive, encrypted member, unknown compression.
            raise BundleError(f"bundle {self.source}: cannot read {file} from the zip ({exc})") from None

    def manifest_bytes(self) -> bytes:
        return self._read(MANIFEST_NAME, MAX_MANIFEST_BYTES)

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        data = self._read(file)
        actual = sha256_bytes(data)
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, len(data))
        # Bytes: onnxruntime.InferenceSession accepts a serialized model, and
        # keeping the checked bytes means what runs is what was checked.
        return data, len(data)

    def close(self) -> None:
        self.zip.close()


def _open_reader(path: Path, source: str) -> _Reader:
    if not path.exists():
        raise BundleError(f"bundle {source}: no such file or folder")
    if path.is_dir():
        return _FolderReader(path, source)
    if not path.is_file():
        raise BundleError(f"bundle {source}: neither a folder nor a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise BundleError(f"bundle {source}: cannot read it: {exc.strerror or exc}") from None
    if not zipfile.is_zipfile(path):
        raise BundleError(f"bundle {source}: neither a bundle folder (NAME.glnet) nor a zip file")
    return _ZipReader(path, source)


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
            shape = []
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
                return f"{arg.name}: dimension {i} is {_show(want)} in the manifest, fixed to {have} in the graph"
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
        """``"fp32"`` or ``"fp16"``."""
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
        return MODE_GRAPHS[mode]

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
    reader = _open_reader(bundle_path, source)
    try:
        manifest = _parse_manifest(reader.manifest_bytes(), source)
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
