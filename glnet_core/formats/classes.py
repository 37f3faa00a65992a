"""Class tables: ids, names, colours and which classes scoring ignores.

A class table travels with every checkpoint and bundle, and decodes reference
masks. It is a small JSON file::

    {"name": "deepglobe",
     "classes": [{"id": 0, "name": "unknown", "colour": [0, 0, 0], "ignore": true},
                 {"id": 1, "name": "urban_land", "colour": [0, 255, 255]}, ...]}

Optional per class:

- ``"label"``: the display label people read in legends, reports and the
  polygons' ``class_label`` attribute (``"Siedlung"``), while ``"name"``
  stays the identifier that files, ``--ignore``, JSON reports and the
  ``class_name`` attribute use. Without it the label is derived from the
  name (:func:`default_label`: ``urban_land`` -> ``Urban land``,
  ``class_3`` -> ``Class 3``). A label is one line of text, not empty, and
  the labels of a table are unique: a derived label that another class's
  label already reads is replaced by the class's name.
- ``"value"``: the pixel value that stands for the class in single-band masks
  when it differs from the id (the Inria building masks store buildings as
  255).

Class ids are contiguous from 0; 255 is reserved for nodata in class masks.
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ClassTableError, InputError
from ..option_rules import check_class_spec

__all__ = ["NODATA", "ClassInfo", "ClassTable", "PRESETS", "default_label", "generic_colour", "load_class_table"]

NODATA = 255


def default_label(name: str) -> str:
    """The display label of a class whose table gives none: ``urban_land`` -> ``Urban land``.

    Underscores become spaces, runs of blanks one space, and the first
    letter is capitalised; the rest keeps its case (``NDVI_low`` ->
    ``NDVI low``). A name with nothing else in it (``"_"``) is its own label.

    Parameters
    ----------
    name:
        The class name (identifier).

    Returns
    -------
    str
        The label.
    """
    words = " ".join(str(name).replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else str(name)


def _checked_label(label: object, name: str) -> str:
    """``label`` stripped, or a :class:`ClassTableError` that says what is wrong with it."""
    if not isinstance(label, str):
        raise ClassTableError(f'class {name!r}: "label" must be a text, got {label!r}')
    text = label.strip()
    if not text:
        raise ClassTableError(f'class {name!r}: the label is empty; leave "label" out for the default ({default_label(name)!r})')
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ClassTableError(f"class {name!r}: the label {text!r} holds a line break or control character; give one line of text")
    return text


@dataclass(frozen=True)
class ClassInfo:
    """One class of a :class:`ClassTable`.

    Attributes
    ----------
    id:
        The class id (the pixel value of glnet's class masks).
    name:
        The identifier (``urban_land``): files, options and JSON use it.
    colour:
        ``(r, g, b)``, 0-255.
    ignore:
        Scoring leaves the class out.
    value:
        The pixel value of the class in single-band reference masks, when it
        differs from ``id``.
    label:
        The display label as the table gives it (stripped), or None for the
        default; :attr:`ClassTable.labels` holds the label every class shows.

    Raises
    ------
    ClassTableError
        For a label that is empty, not a text, or not one line.
    """

    id: int
    name: str
    colour: Tuple[int, int, int]
    ignore: bool = False
    value: Optional[int] = None
    label: Optional[str] = None

    def __post_init__(self) -> None:
        if self.label is not None:
            object.__setattr__(self, "label", _checked_label(self.label, self.name))

    @property
    def mask_value(self) -> int:
        return self.id if self.value is None else self.value


@dataclass(frozen=True)
class ClassTable:
    """An ordered set of classes with ids ``0 .. n-1``."""

    classes: Tuple[ClassInfo, ...]
    name: str = "custom"
    # The label each class shows, resolved once (see :attr:`labels`).
    _labels: Tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = [c.id for c in self.classes]
        if len(ids) < 2:
            raise ClassTableError("a class table needs at least 2 classes")
        if ids != list(range(len(ids))):
            raise ClassTableError(f"class ids must be 0, 1, ..., n-1 in order; got {ids}")
        if len(ids) > NODATA:
            raise ClassTableError(f"at most {NODATA} classes are supported (255 is nodata)")
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ClassTableError("class names must be unique")
        object.__setattr__(self, "_labels", self._resolve_labels())

    def _resolve_labels(self) -> Tuple[str, ...]:
        # A derived label that another class already shows falls back to the
        # (unique) name, so that a field holding "Forest" and "forest" still
        # makes a table; two labels the table itself gives alike are an error.
        given = {c.label for c in self.classes if c.label is not None}
        labels: List[str] = []
        for c in self.classes:
            label = c.label
            if label is None:
                label = default_label(c.name)
                if label in labels or label in given:
                    label = c.name
            if label in labels:
                other = self.classes[labels.index(label)].name
                raise ClassTableError(
                    f"class labels must be unique: classes {other!r} and {c.name!r} both read {label!r}; "
                    'give one of them another "label"'
                )
            labels.append(label)
        return tuple(labels)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> List[str]:
        return [c.name for c in self.classes]

    @property
    def labels(self) -> List[str]:
        """The display label of each class, in id order (the table's ``label``, else :func:`default_label` of the name)."""
        return list(self._labels)

    def custom_labels(self) -> Dict[int, str]:
        """Class id -> label, for the classes whose label is not :func:`default_label` of their name.

        What a class mask stores besides its category names (the names), so
        that its classes read the same when the mask is opened again.
        """
        return {c.id: label for c, label in zip(self.classes, self._labels) if label != default_label(c.name)}

    @property
    def ignored_ids(self) -> List[int]:
        return [c.id for c in self.classes if c.ignore]

    def to_dict(self) -> Dict[str, Any]:
        out = []
        for c in self.classes:
            d: Dict[str, Any] = {"id": c.id, "name": c.name}
            if c.label is not None:
                d["label"] = c.label
            d.update(colour=list(c.colour), ignore=c.ignore)
            if c.value is not None:
                d["value"] = c.value
            out.append(d)
        return {"name": self.name, "classes": out}

    @classmethod
    def from_dict(cls, data: Any, source: str = "class table") -> "ClassTable":
        try:
            entries = data["classes"]
            classes = []
            for e in entries:
                colour = tuple(int(v) for v in e.get("colour", e.get("color", (0, 0, 0))))
                if len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
                    raise ClassTableError(f"{source}: class {e.get('name')!r} needs an RGB colour of three 0-255 values")
                value = e.get("value")
                name = str(e["name"])
                label = e.get("label")
                if label is not None:
                    try:
                        label = _checked_label(label, name)
                    except ClassTableError as exc:
                        raise ClassTableError(f"{source}: {exc}") from None
                classes.append(
                    ClassInfo(int(e["id"]), name, colour, bool(e.get("ignore", False)), None if value is None else int(value), label)
                )
        except ClassTableError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ClassTableError(f"{source}: not a class table ({exc.__class__.__name__}: {exc})") from None
        classes.sort(key=lambda c: c.id)
        return cls(tuple(classes), str(data.get("name", "custom")))

    def decode_mask(self, mask: np.ndarray) -> np.ndarray:
        """Class ids (uint8, 255 for unknown values or colours) from a reference mask.

        ``mask`` is ``(rows, cols)`` of class values, or ``(rows, cols, 3)``
        RGB colours (DeepGlobe style). Values / colours not in the table become
        255 (nodata).
        """
        out = np.full(mask.shape[:2], NODATA, dtype=np.uint8)
        if mask.ndim == 3:
            if mask.shape[2] < 3:
                raise ClassTableError(f"an RGB mask needs 3 bands, got {mask.shape[2]}")
            rgb = mask[..., :3].astype(np.int64)
            key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            for c in self.classes:
                r, g, b = c.colour
                out[key == ((r << 16) | (g << 8) | b)] = c.id
            return out
        for c in self.classes:
            out[mask == c.mask_value] = c.id
        return out


def _preset(name: str, rows: Sequence[Tuple[str, Tuple[int, int, int], bool, Optional[int]]]) -> ClassTable:
    return ClassTable(tuple(ClassInfo(i, n, c, ig, v) for i, (n, c, ig, v) in enumerate(rows)), name)


#: The built-in tables. Their labels are the derived defaults, which are the
#: datasets' own wording ("Urban land", "Agriculture land", ... as the DeepGlobe
#: challenge names its classes; "Background", "Building"), so their ``to_dict``
#: (and the manifests of bundles made from them) hold no ``"label"`` keys.
PRESETS: Dict[str, ClassTable] = {
    "deepglobe": _preset(
        "deepglobe",
        [
            ("unknown", (0, 0, 0), True, None),
            ("urban_land", (0, 255, 255), False, None),
            ("agriculture_land", (255, 255, 0), False, None),
            ("rangeland", (255, 0, 255), False, None),
            ("forest_land", (0, 255, 0), False, None),
            ("water", (0, 0, 255), False, None),
            ("barren_land", (255, 255, 255), False, None),
        ],
    ),
    "inria": _preset("inria", [("background", (0, 0, 0), False, 0), ("building", (255, 255, 255), False, 255)]),
}


def generic_colour(cid: int) -> Tuple[int, int, int]:
    """A colour for class ``cid`` of a table that names none: deterministic and well spread (golden-angle hue)."""
    r, g, b = colorsys.hsv_to_rgb((cid * 0.618033988749895) % 1.0, 0.65, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _generic(n: int) -> ClassTable:
    rng = np.random.default_rng(12345)
    colours = [(int(r), int(g), int(b)) for r, g, b in rng.integers(0, 256, (n, 3))]
    return ClassTable(tuple(ClassInfo(i, f"class_{i}", colours[i]) for i in range(n)), f"generic{n}")


def load_class_table(spec: Union[str, Path]) -> ClassTable:
    """A class table from a preset name, a class count, or a JSON file.

    Parameters
    ----------
    spec:
        ``"deepglobe"``, ``"inria"``, a number ``N`` (classes ``class_0`` ..
        ``class_{N-1}``), or the path of a JSON class table.

    Raises
    ------
    ClassTableError
        If the spec is none of these or the file is not a valid table.
    """
    text = str(spec)
    if text in PRESETS:
        return PRESETS[text]
    if text.isdigit():
        try:
            check_class_spec(text, "class table")
        except InputError as exc:
            raise ClassTableError(str(exc)) from None
        return _generic(int(text))
    path = Path(text)
    if not path.is_file():
        raise ClassTableError(
            f"class table {text!r} is neither a preset ({', '.join(PRESETS)}), a class count, nor an existing JSON file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClassTableError(f"cannot read class table {text}: {exc}") from None
    return ClassTable.from_dict(data, source=text)
