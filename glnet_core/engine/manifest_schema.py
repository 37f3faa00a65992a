"""A deliberately small JSON Schema (draft 2020-12) validator for bundle manifests.

Only the keywords in :data:`SUPPORTED_KEYWORDS` are implemented, which is
what ``manifest.schema.json`` uses. A schema using any other keyword is
rejected when loaded, so a constraint can never be ignored silently.
``tests/engine/test_bundle.py`` cross-checks it against the ``jsonschema``
package. QGIS's Python has no ``jsonschema``, hence this module.

It knows nothing of bundles beyond where the schema file lies
(:data:`SCHEMA_PATH`); :mod:`.bundle` adds the rules a schema cannot express.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["SCHEMA_PATH", "SUPPORTED_KEYWORDS", "load_schema", "schema_problem", "json_type", "is_json_type", "show_value"]

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


SUPPORTED_KEYWORDS = frozenset(
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
        if key not in SUPPORTED_KEYWORDS:
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


def json_type(value: Any) -> str:
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


def is_json_type(value: Any, name: str) -> bool:
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


def show_value(value: Any, limit: int = 40) -> str:
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
        if not any(is_json_type(value, t) for t in types):
            return _Problem(path, f"expected {' or '.join(types)}, got {json_type(value)} {show_value(value)}", "type")

    if "const" in schema and not _json_equal(value, schema["const"]):
        return _Problem(path, f"must be {show_value(schema['const'])}, got {show_value(value)}")
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        allowed = ", ".join(show_value(e) for e in schema["enum"])
        return _Problem(path, f"must be one of {allowed}; got {show_value(value)}")

    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            what = "must not be empty" if schema["minLength"] == 1 else f"needs at least {schema['minLength']} characters"
            return _Problem(path, what)
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return _Problem(path, f"allows at most {schema['maxLength']} characters, has {len(value)}")
        # re.search, not fullmatch: JSON Schema patterns are unanchored.
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return _Problem(path, f"{show_value(value)} does not match pattern {schema['pattern']}")

    if is_json_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return _Problem(path, f"{show_value(value)} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            return _Problem(path, f"{show_value(value)} is more than the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return _Problem(path, f"{show_value(value)} must be greater than {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            return _Problem(path, f"{show_value(value)} must be less than {schema['exclusiveMaximum']}")

    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return _Problem(path, f"needs at least {schema['minItems']} items, has {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return _Problem(path, f"allows at most {schema['maxItems']} items, has {len(value)}")
        if schema.get("uniqueItems"):
            for i in range(len(value)):
                for j in range(i):
                    if _json_equal(value[i], value[j]):
                        return _Problem(path + (i,), f"repeats item {j} ({show_value(value[i])}); items must be unique")
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
            return _Problem(path, f"{show_value(value)} matches more than one of the allowed forms")
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
    return _Problem(path, f"expected {expected}, got {json_type(value)} {show_value(value)}", "type")


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
