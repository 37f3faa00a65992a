"""Tests of glnet_core.formats.class_mask: the one way class masks are read (and their sidecar written).

Every reader (evaluate, zonal stats, sieve, vectorize, the plugin's styles)
goes through these functions, so each rule is checked here once: which
rasters are class masks, what is nodata, which values are class ids, how
category names and colours are read. Real GeoTIFFs in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pytest
import rasterio

from glnet.glnet_core.errors import ClassTableError, InputError
from glnet.glnet_core.formats.class_mask import (
    category_names_xml,
    class_styles,
    colour_table,
    holds_class_ids,
    mask_class_info,
    mask_class_table,
    mask_colours,
    open_class_mask,
    read_category_names,
    read_class_ids,
    resolve_class_table,
    row_blocks,
    sidecar_path,
)
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import NODATA, PRESETS, load_class_table

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

DEEPGLOBE = PRESETS["deepglobe"]


def write_raster(path: Path, data: np.ndarray, nodata: Optional[float] = None, names: Optional[Sequence[str]] = None,
                 colours: Optional[dict] = None) -> Path:
    bands = data[None] if data.ndim == 2 else data
    profile = dict(driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=bands.shape[0], dtype=str(bands.dtype))
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(bands)
        if colours:
            ds.write_colormap(1, colours)
    if names is not None:
        sidecar_path(path).write_bytes(category_names_xml(names))
    return path


def test_what_is_a_class_mask(tmp_path):
    ids = np.array([[0, 1, 2], [2, 1, 0]])
    for dtype in ("uint8", "int16", "uint16", "int32"):
        with open_class_mask(write_raster(tmp_path / f"{dtype}.tif", ids.astype(dtype))) as ds:
            assert holds_class_ids(ds) == (dtype == "uint8")
    floats = write_raster(tmp_path / "float.tif", ids.astype("float32"))
    with pytest.raises(InputError, match=r"^PRED .*float\.tif is not a class mask: its pixels are float32"):
        open_class_mask(floats, "PRED")
    rgb = write_raster(tmp_path / "rgb.tif", np.stack([ids.astype("uint8")] * 3))
    with pytest.raises(InputError, match="3 bands"):
        open_class_mask(rgb)
    with pytest.raises(InputError, match="does not exist"):
        open_class_mask(tmp_path / "missing.tif")
    with pytest.raises(InputError, match="is a folder"):
        open_class_mask(tmp_path)
    (tmp_path / "junk.tif").write_bytes(b"not a raster")
    with pytest.raises(InputError, match="cannot open mask"):
        open_class_mask(tmp_path / "junk.tif")


def test_nodata_is_255_and_the_files_own_value(tmp_path):
    # A foreign int16 mask: -1 is its declared nodata, 255 is nodata by the format, the rest are ids.
    raw = np.array([[-1, 0, 1, 255], [3, -1, 255, 2]], dtype=np.int16)
    path = write_raster(tmp_path / "foreign.tif", raw, nodata=-1)
    with open_class_mask(path) as ds:
        ids = read_class_ids(ds, path, 0, 2, n_classes=4)
        assert ids.dtype == np.uint8
        assert ids.tolist() == [[NODATA, 0, 1, NODATA], [3, NODATA, NODATA, 2]]
        assert read_class_ids(ds, path, 1, 2).tolist() == [[3, NODATA, NODATA, 2]]  # a block of rows
    # A uint8 mask whose nodata is 0: 0 and 255 are both nodata.
    zero = write_raster(tmp_path / "zero.tif", np.array([[0, 1, 255, 2]], dtype=np.uint8), nodata=0)
    with open_class_mask(zero) as ds:
        assert not holds_class_ids(ds)
        assert read_class_ids(ds, zero, 0, 1).tolist() == [[NODATA, 1, NODATA, 2]]


def test_values_must_be_class_ids(tmp_path):
    path = write_raster(tmp_path / "m.tif", np.array([[0, 7, 255]], dtype=np.uint8))
    with open_class_mask(path, "mask") as ds:
        assert read_class_ids(ds, path, 0, 1, n_classes=8).tolist() == [[0, 7, NODATA]]
        with pytest.raises(InputError, match=r"holds the value 7, which is not a class id of the class table \(7 classes"):
            read_class_ids(ds, path, 0, 1, n_classes=7)
    wide = write_raster(tmp_path / "wide.tif", np.array([[0, 300]], dtype=np.uint16))
    with open_class_mask(wide) as ds, pytest.raises(InputError, match=r"value 300, which is not a class id \(0-254"):
        read_class_ids(ds, wide, 0, 1)
    negative = write_raster(tmp_path / "neg.tif", np.array([[0, -3]], dtype=np.int16))
    with open_class_mask(negative) as ds, pytest.raises(InputError, match="value -3"):
        read_class_ids(ds, negative, 0, 1, n_classes=3)


def test_row_blocks_cover_the_raster_within_bounds():
    blocks = list(row_blocks(1000, 300, max_rows=64, pixels=300 * 100))
    assert blocks[0] == (0, 64) and blocks[-1][1] == 1000
    assert all(b[0] == a[1] for a, b in zip(blocks, blocks[1:]))
    assert list(row_blocks(10, 10_000, pixels=5_000)) == [(r, r + 1) for r in range(10)]  # at least one row


def test_category_names_are_read_stripped_and_trailing_empties_dropped(tmp_path):
    path = write_raster(tmp_path / "m.tif", np.zeros((2, 2), np.uint8), names=[" water ", "", "forest", "", ""])
    assert read_category_names(path) == ["water", "", "forest"]
    assert read_category_names(write_raster(tmp_path / "none.tif", np.zeros((2, 2), np.uint8))) is None
    sidecar_path(tmp_path / "bad.tif").write_text("<PAMDataset", encoding="utf-8")
    assert read_category_names(tmp_path / "bad.tif") is None
    empty = write_raster(tmp_path / "empty.tif", np.zeros((2, 2), np.uint8), names=["", ""])
    assert read_category_names(empty) is None


def test_colours_and_the_class_table_a_mask_describes(tmp_path):
    # What glnet segment writes: the preset comes back (with its ignore flags).
    out = tmp_path / "seg.tif"
    w = MaskWriter(out, width=4, height=2, crs=None, transform=None, classes=DEEPGLOBE)
    w.write(0, 0, np.array([[0, 1, 2, 3], [4, 5, 6, 255]], np.uint8))
    w.commit()
    with open_class_mask(out) as ds:
        assert mask_class_table(ds, out) is DEEPGLOBE
        colours = mask_colours(ds)
        assert all(colours[c.id] == c.colour for c in DEEPGLOBE.classes) and NODATA not in colours
        assert resolve_class_table(None, ds, out).names == DEEPGLOBE.names
        assert len(resolve_class_table("3", ds, out)) == 3
    # Names of no preset: empty and repeated names become class_<id>, colours from the colour table.
    table = load_class_table("3")
    custom = write_raster(tmp_path / "custom.tif", np.zeros((2, 2), np.uint8), names=["sea", "", "sea"],
                          colours={**colour_table(table), 0: (1, 2, 3, 255)})
    with open_class_mask(custom) as ds:
        t = mask_class_table(ds, custom)
        assert t.names == ["sea", "class_1", "class_2"] and t.classes[0].colour == (1, 2, 3)
    # No names: no table, and resolving one says how to give it.
    bare = write_raster(tmp_path / "bare.tif", np.zeros((2, 2), np.uint8))
    with open_class_mask(bare) as ds:
        assert mask_class_table(ds, bare) is None
        with pytest.raises(ClassTableError, match="--classes"):
            resolve_class_table(None, ds, bare)


def test_class_info_and_styles(tmp_path):
    path = write_raster(tmp_path / "m.tif", np.zeros((2, 2), np.uint8), names=["water", " ", "forest"],
                        colours={0: (0, 0, 255, 255), 2: (0, 128, 0, 255), 5: (9, 9, 9, 0)})
    names, labels, colours, warns = mask_class_info(path)
    assert names == {0: "water", 2: "forest"} and not warns
    assert labels == {0: "Water", 2: "Forest"}  # no stored labels: the names' defaults
    assert colours[0] == (0, 0, 255) and colours[2] == (0, 128, 0) and NODATA not in colours
    names, labels, colours, warns = mask_class_info(path, DEEPGLOBE)
    assert names == dict(enumerate(DEEPGLOBE.names)) and colours[1] == DEEPGLOBE.classes[1].colour
    assert labels[1] == "Urban land"
    _, _, _, warns = mask_class_info(write_raster(tmp_path / "bare.tif", np.zeros((2, 2), np.uint8)))
    assert len(warns) == 1 and "no class names" in warns[0]
    # The legend text is the label; an id without one is "Class <id>".
    styles = class_styles({0: "Open water"}, {0: (0, 0, 255)}, ids=[3, 0])
    assert [s[:2] for s in styles] == [(0, "Open water"), (3, "Class 3")] and styles[0][2] == (0, 0, 255)


# ------------------------------------------------------------------ display labels
def _labelled_table():
    from glnet.glnet_core.formats.classes import ClassTable

    data = DEEPGLOBE.to_dict()
    data["classes"][1]["label"] = "Siedlung"
    return ClassTable.from_dict(data)


def test_labels_travel_with_the_mask(tmp_path):
    """Labels that differ from the names' defaults are band metadata in NAME.aux.xml; the names stay identifiers."""
    from glnet.glnet_core.formats.class_mask import read_class_labels, table_styles

    table = _labelled_table()
    out = tmp_path / "seg.tif"
    w = MaskWriter(out, width=4, height=2, crs=None, transform=None, classes=table)
    w.write(0, 0, np.array([[0, 1, 2, 3], [4, 5, 6, 255]], np.uint8))
    w.commit()
    assert read_category_names(out) == DEEPGLOBE.names
    assert b'<MDI key="glnet_class_label_1">Siedlung</MDI>' in sidecar_path(out).read_bytes()
    with open_class_mask(out) as ds:
        assert ds.tags(1)["glnet_class_label_1"] == "Siedlung"  # GDAL reads it as band metadata
        assert read_class_labels(ds) == {1: "Siedlung"}
        back = mask_class_table(ds, out)
    # The preset's names: its ignore flags, with the stored label.
    assert back.names == DEEPGLOBE.names and back.labels == table.labels and back.ignored_ids == [0]
    names, labels, _, _ = mask_class_info(out)
    assert names[1] == "urban_land" and labels[1] == "Siedlung" and labels[2] == "Agriculture land"
    assert table_styles(back)[1] == (1, "Siedlung", (0, 255, 255))
    # A mask of a table without custom labels holds no label metadata (and reads the defaults back).
    plain = tmp_path / "plain.tif"
    w = MaskWriter(plain, width=2, height=1, crs=None, transform=None, classes=DEEPGLOBE)
    w.write(0, 0, np.array([[0, 1]], np.uint8))
    w.commit()
    assert b"glnet_class_label" not in sidecar_path(plain).read_bytes()
    with open_class_mask(plain) as ds:
        assert read_class_labels(ds) == {} and mask_class_table(ds, plain) is DEEPGLOBE


def test_label_metadata_replaces_its_own_items_only(tmp_path):
    existing = category_names_xml(["a", "b"], labels={0: "Old", 1: "Gone"})
    root = existing.replace(b"<Metadata>", b'<Metadata><MDI key="STATISTICS_MEAN">0.5</MDI>')
    doc = category_names_xml(["a", "b"], existing=root, labels={0: "New"})
    assert b"Old" not in doc and b"Gone" not in doc and b'key="glnet_class_label_0">New' in doc
    assert b"STATISTICS_MEAN" in doc and doc.count(b"<Metadata>") == 1
    assert b"Metadata" not in category_names_xml(["a", "b"], existing=existing)  # no labels, no empty element
    # Hand-edited values: blanks collapse, empty ones and ids past 254 are left out.
    path = write_raster(tmp_path / "m.tif", np.zeros((2, 2), np.uint8), names=["a", "b"])
    sidecar_path(path).write_bytes(category_names_xml(["a", "b"], labels={0: " two \n lines ", 1: " ", 300: "x"}))
    from glnet.glnet_core.formats.class_mask import read_class_labels

    with open_class_mask(path) as ds:
        assert read_class_labels(ds) == {0: "two lines"}
        assert mask_class_table(ds, path).labels == ["two lines", "B"]


def test_masks_written_before_labels_read_as_before(tmp_path):
    """A sidecar with category names only (every mask before labels): names unchanged, labels the defaults."""
    path = write_raster(tmp_path / "old.tif", np.array([[0, 1], [2, 255]], np.uint8), names=["bare_soil", "crop", "sea"])
    assert b"Metadata" not in sidecar_path(path).read_bytes()
    with open_class_mask(path) as ds:
        table = resolve_class_table(None, ds, path)
    assert table.names == ["bare_soil", "crop", "sea"] and table.labels == ["Bare soil", "Crop", "Sea"]
    names, labels, _, warns = mask_class_info(path)
    assert names == {0: "bare_soil", 1: "crop", 2: "sea"} and labels[0] == "Bare soil" and not warns


def test_duplicate_stored_labels_fall_back_to_the_defaults(tmp_path):
    path = write_raster(tmp_path / "m.tif", np.zeros((2, 2), np.uint8), names=["a", "b"])
    sidecar_path(path).write_bytes(category_names_xml(["a", "b"], labels={0: "Same", 1: "Same"}))
    with open_class_mask(path) as ds:
        assert mask_class_table(ds, path).labels == ["A", "B"]
    # On a preset's names: the preset.
    path = write_raster(tmp_path / "d.tif", np.zeros((2, 2), np.uint8), names=DEEPGLOBE.names)
    sidecar_path(path).write_bytes(category_names_xml(DEEPGLOBE.names, labels={1: "Same", 2: "Same"}))
    with open_class_mask(path) as ds:
        assert mask_class_table(ds, path) is DEEPGLOBE


def test_mosaic_vrt_carries_the_labels(tmp_path):
    from glnet.glnet_core.formats.class_mask import read_class_labels
    from glnet.glnet_core.formats.vrt_mosaic import write_mosaic_vrt

    table = _labelled_table()
    out = tmp_path / "a.tif"
    w = MaskWriter(out, width=4, height=2, crs="EPSG:32633", transform=rasterio.transform.from_origin(0, 2, 1, 1),
                   classes=table)
    w.write(0, 0, np.zeros((2, 4), np.uint8))
    w.commit()
    vrt = tmp_path / "m.vrt"
    write_mosaic_vrt(vrt, [out], table, overwrite=False)
    with rasterio.open(vrt) as ds:
        assert read_class_labels(ds) == {1: "Siedlung"}
