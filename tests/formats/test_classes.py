"""Class tables (glnet_core/classes.py): presets, JSON files, mask decoding, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glnet.glnet_core.errors import ClassTableError, GlnetError
from glnet.glnet_core.formats.classes import NODATA, PRESETS, ClassInfo, ClassTable, default_label, load_class_table

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


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize(
    "name, label",
    [("urban_land", "Urban land"), ("class_3", "Class 3"), ("water", "Water"), ("NDVI_low", "NDVI low"),
     ("forest__dense ", "Forest dense"), ("Wald", "Wald"), ("_", "_")],
)
def test_default_label(name, label):
    assert default_label(name) == label


def test_preset_labels_are_the_datasets_wording_and_write_no_label_key():
    assert PRESETS["deepglobe"].labels == [
        "Unknown", "Urban land", "Agriculture land", "Rangeland", "Forest land", "Water", "Barren land"]
    assert PRESETS["inria"].labels == ["Background", "Building"]
    assert load_class_table("3").labels == ["Class 0", "Class 1", "Class 2"]
    # Bundles made from presets keep the manifests they had (the committed demo bundle has no labels).
    assert all("label" not in c for t in PRESETS.values() for c in t.to_dict()["classes"])
    assert all(not t.custom_labels() for t in PRESETS.values())


def test_json_with_and_without_labels(tmp_path):
    data = PRESETS["deepglobe"].to_dict()
    data["classes"][1]["label"] = "  Siedlung "
    data["classes"][4]["label"] = "Forest land"  # the default, given: kept as given
    table = load_class_table(write_json(tmp_path / "labelled.json", data))
    assert table.names == PRESETS["deepglobe"].names  # the identifiers do not change
    assert table.labels[1] == "Siedlung" and table.labels[4] == "Forest land" and table.labels[5] == "Water"
    assert table.classes[1].label == "Siedlung" and table.classes[5].label is None
    assert table.custom_labels() == {1: "Siedlung"}  # what a mask stores besides its names
    # Round trip: the labels the table gives, and only those.
    out = table.to_dict()
    assert [c.get("label") for c in out["classes"]] == [None, "Siedlung", None, None, "Forest land", None, None]
    assert ClassTable.from_dict(out) == table and ClassTable.from_dict(out).labels == table.labels
    assert list(out["classes"][1]) == ["id", "name", "label", "colour", "ignore"]
    # Without labels: the defaults, and a table equal to one that never had the key.
    plain = load_class_table(write_json(tmp_path / "plain.json", PRESETS["deepglobe"].to_dict()))
    assert plain == PRESETS["deepglobe"] and plain.labels == PRESETS["deepglobe"].labels


def test_derived_labels_that_collide_fall_back_to_the_names():
    # A label field holding "Forest" and "forest" (glnet train --classes from-field) still makes a table.
    table = ClassTable(tuple(ClassInfo(i, n, (i, i, i)) for i, n in enumerate(["Forest", "forest", "open_water"])))
    assert table.labels == ["Forest", "forest", "Open water"]
    # A derived label another class gives explicitly yields to it.
    given = ClassTable((ClassInfo(0, "urban_land", (0, 0, 0)), ClassInfo(1, "town", (1, 1, 1), label="Urban land")))
    assert given.labels == ["urban_land", "Urban land"] and given.custom_labels() == {0: "urban_land", 1: "Urban land"}


@pytest.mark.parametrize(
    "label, message",
    [("", "the label is empty"), ("   ", "the label is empty"), (7, "must be a text"), (["a"], "must be a text"),
     ("two\nlines", "line break"), ("tab\there", "control character")],
)
def test_invalid_labels(tmp_path, label, message):
    data = {"classes": [{"id": 0, "name": "a", "label": label}, {"id": 1, "name": "b"}]}
    with pytest.raises(ClassTableError, match=message) as info:
        load_class_table(write_json(tmp_path / "bad.json", data))
    assert "\n" not in str(info.value) and "bad.json" in str(info.value) and "'a'" in str(info.value)


def test_labels_must_be_unique(tmp_path):
    data = {"classes": [{"id": 0, "name": "a", "label": "Same"}, {"id": 1, "name": "b", "label": "Same"}]}
    with pytest.raises(ClassTableError, match="labels must be unique: classes 'a' and 'b' both read 'Same'"):
        load_class_table(write_json(tmp_path / "dup.json", data))
    # A label that is another class's name and its default label leaves that class nothing to show.
    with pytest.raises(ClassTableError, match="classes 'woods' and 'Forest' both read 'Forest'"):
        ClassTable((ClassInfo(0, "woods", (0, 0, 0), label="Forest"), ClassInfo(1, "Forest", (1, 1, 1))))
