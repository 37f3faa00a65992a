"""Class tables (glnet_core/classes.py): presets, JSON files, mask decoding, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glnet.glnet_core.errors import ClassTableError, GlnetError
from glnet.glnet_core.formats.classes import NODATA, PRESETS, ClassInfo, ClassTable, load_class_table

# The DeepGlobe land-cover classes and mask colours (challenge definition).
DEEPGLOBE = [
    ("unknown", (0, 0, 0)),
    ("urban_land", (0, 255, 255)),
    ("agriculture_land", (255, 255, 0)),
    ("rangeland", (255, 0, 255)),
    ("forest_land", (0, 255, 0)),
    ("water", (0, 0, 255)),
    ("barren_land", (255, 255, 255)),
]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ----------------------------------------------------------------- presets
def test_deepglobe_preset():
    table = load_class_table("deepglobe")
    assert table is PRESETS["deepglobe"]
    assert table.name == "deepglobe"
    assert len(table) == 7
    assert [(c.name, c.colour) for c in table.classes] == DEEPGLOBE
    assert [c.id for c in table.classes] == list(range(7))
    # Challenge scoring ignores `unknown`, and only it.
    assert table.ignored_ids == [0]


def test_inria_preset_uses_mask_values():
    table = load_class_table("inria")
    assert table.names == ["background", "building"]
    assert [c.mask_value for c in table.classes] == [0, 255]
    assert table.ignored_ids == []


@pytest.mark.parametrize("n", [2, 5, 254, 255])
def test_class_count(n):
    table = load_class_table(str(n))
    assert len(table) == n
    assert table.names == [f"class_{i}" for i in range(n)]
    assert all(len(c.colour) == 3 and all(0 <= v <= 255 for v in c.colour) for c in table.classes)
    # Colours are reproducible: the same count gives the same table.
    assert load_class_table(str(n)) == table


# -------------------------------------------------------------- JSON files
def test_json_round_trip(tmp_path):
    table = PRESETS["deepglobe"]
    path = write_json(tmp_path / "classes.json", table.to_dict())
    loaded = load_class_table(path)
    assert loaded == table
    assert loaded.to_dict() == table.to_dict()


def test_json_with_values_color_spelling_and_unsorted_ids(tmp_path):
    data = {
        "name": "roofs",
        "classes": [
            {"id": 1, "name": "roof", "color": [200, 30, 30], "value": 255},
            {"id": 0, "name": "ground", "colour": [0, 0, 0], "ignore": False},
        ],
    }
    table = load_class_table(write_json(tmp_path / "roofs.json", data))
    assert table.name == "roofs"
    assert table.names == ["ground", "roof"]
    assert table.classes[1] == ClassInfo(1, "roof", (200, 30, 30), False, 255)
    assert table.classes[1].mask_value == 255 and table.classes[0].mask_value == 0


# ------------------------------------------------------------ mask decoding
def test_decode_rgb_mask(rng):
    table = PRESETS["deepglobe"]
    ids = rng.integers(0, 7, size=(40, 30))
    colours = np.array([c for _, c in DEEPGLOBE], dtype=np.uint8)
    mask = colours[ids]
    # An off-palette colour (JPEG noise in a mask, say) must not become a class.
    mask[5, 7] = (0, 254, 255)
    decoded = table.decode_mask(mask)
    assert decoded.dtype == np.uint8 and decoded.shape == (40, 30)
    expected = ids.astype(np.uint8)
    expected[5, 7] = NODATA
    np.testing.assert_array_equal(decoded, expected)


def test_decode_rgba_mask_ignores_alpha():
    table = PRESETS["deepglobe"]
    mask = np.zeros((2, 2, 4), dtype=np.uint8)
    mask[0, 0, :3] = (0, 0, 255)
    mask[..., 3] = 17
    np.testing.assert_array_equal(table.decode_mask(mask), [[5, 0], [0, 0]])


def test_decode_single_band_mask_uses_values():
    table = PRESETS["inria"]
    mask = np.array([[0, 255], [1, 0]], dtype=np.uint8)
    # 1 is not a value of the table (buildings are 255): nodata.
    np.testing.assert_array_equal(table.decode_mask(mask), [[0, 1], [NODATA, 0]])


def test_decode_rejects_two_band_mask():
    with pytest.raises(ClassTableError):
        PRESETS["deepglobe"].decode_mask(np.zeros((4, 4, 2), dtype=np.uint8))


# ------------------------------------------------------------------ errors
def test_errors_are_glnet_errors():
    assert issubclass(ClassTableError, GlnetError)


@pytest.mark.parametrize("spec", ["deepglob", "no/such/file.json", "", "-3"])
def test_unknown_spec(spec):
    with pytest.raises(ClassTableError, match="neither a preset"):
        load_class_table(spec)


@pytest.mark.parametrize("n", ["0", "1", "256", "1000"])
def test_bad_class_counts(n):
    with pytest.raises(ClassTableError):
        load_class_table(n)


def test_invalid_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ClassTableError, match="cannot read class table"):
        load_class_table(path)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"classes": [{"id": 0, "name": "a"}, {"id": 2, "name": "b"}]}, "0, 1, ..., n-1"),
        ({"classes": [{"id": 0, "name": "a"}, {"id": 1, "name": "a"}]}, "unique"),
        ({"classes": [{"id": 0, "name": "a"}]}, "at least 2"),
        ({"classes": [{"id": 0, "name": "a", "colour": [0, 0, 256]}, {"id": 1, "name": "b"}]}, "RGB colour"),
        ({"classes": [{"id": 0, "name": "a", "colour": [0, 0]}, {"id": 1, "name": "b"}]}, "RGB colour"),
        ({"classes": [{"name": "a"}, {"id": 1, "name": "b"}]}, "not a class table"),
        ({"labels": []}, "not a class table"),
        ([1, 2, 3], "not a class table"),
    ],
)
def test_invalid_tables(tmp_path, data, message):
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(ClassTableError, match=message) as info:
        load_class_table(path)
    # The command line prints the message as one line; keep it one line.
    assert "\n" not in str(info.value)


def test_table_constructor_checks():
    with pytest.raises(ClassTableError):
        ClassTable((ClassInfo(0, "a", (0, 0, 0)), ClassInfo(0, "b", (1, 1, 1))))
