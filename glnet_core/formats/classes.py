"""Class tables: ids, names, colours and which classes scoring ignores.

A class table travels with every checkpoint and bundle, and decodes reference
masks. It is a small JSON file::

    {"name": "deepglobe",
     "classes": [{"id": 0, "name": "unknown", "colour": [0, 0, 0], "ignore": true},
                 {"id": 1, "name": "urban_land", "colour": [0, 255, 255]}, ...]}

Optional per class: ``"value"``, the pixel value that stands for the class in
single-band masks when it differs from the id (the Inria building masks store
buildings as 255).

Class ids are contiguous from 0; 255 is reserved for nodata in class masks.
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ClassTableError, InputError
from ..option_rules import check_class_spec

__all__ = ["NODATA", "ClassInfo", "ClassTable", "PRESETS", "generic_colour", "load_class_table"]

NODATA = 255


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    colour: Tuple[int, int, int]
    ignore: bool = False
    value: Optional[int] = None

    @property
    def mask_value(self) -> int:
        return self.id if self.value is None else self.value


@dataclass(frozen=True)
class ClassTable:
    """An ordered set of classes with ids ``0 .. n-1``."""

    classes: Tuple[ClassInfo, ...]
    name: str = "custom"

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

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> List[str]:
        return [c.name for c in self.classes]

    @property
    def ignored_ids(self) -> List[int]:
        return [c.id for c in self.classes if c.ignore]

    def to_dict(self) -> Dict[str, Any]:
        out = []
        for c in self.classes:
            d: Dict[str, Any] = {"id": c.id, "name": c.name, "colour": list(c.colour), "ignore": c.ignore}
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
                classes.append(
                    ClassInfo(int(e["id"]), str(e["name"]), colour, bool(e.get("ignore", False)), None if value is None else int(value))
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
