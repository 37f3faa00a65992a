"""The class-mask format, and the one way to read it.

A class mask (as ``glnet segment`` writes it, see :mod:`.class_mask_writer`)
is a single-band GeoTIFF of class ids:

- **Pixels**: class ids ``0 .. 254``; 255 (:data:`~.classes.NODATA`) is
  nodata, and so is the file's own nodata value when it declares another one.
  Masks from other software are read when their band holds integers of any
  width (uint8, int16, int32...); their valid values must still be class ids.
- **Class names**: band 1's GDAL category names (value i -> i-th name) in the
  PAM sidecar ``NAME.aux.xml`` (``<CategoryNames>``): GeoTIFF cannot hold
  them. Names are read stripped of surrounding blanks, trailing empty names
  (GDAL pads with them) dropped. The names are the classes' identifiers.
- **Class labels**: the display labels that differ from the default a name
  gives (:meth:`~.classes.ClassTable.custom_labels`), as band 1's metadata
  items ``glnet_class_label_<id>`` (:data:`LABEL_KEY_PREFIX`) in the same
  sidecar, which GDAL reads as band metadata (``gdalinfo`` lists them). A
  class without one shows :func:`~.classes.default_label` of its name, so
  masks written before labels existed read as they did.
- **Colours**: the band's colour table (255 has none; a GeoTIFF palette keeps
  no alpha, so the other 255 entries all read as opaque).

Every reader of masks (evaluate, zonal stats, sieve, vectorize, the QGIS
plugin's styles) goes through this module: :func:`open_class_mask` (open and
check), :func:`read_class_ids` (a block of rows as uint8 ids, values checked),
:func:`row_blocks` / :func:`block_rows` (the blocks), :func:`read_category_names`,
:func:`read_class_labels`, :func:`mask_colours`, :func:`mask_class_table` /
:func:`resolve_class_table` (the class table a mask describes itself with) and
:func:`mask_class_info` / :func:`dataset_class_info` / :func:`class_styles` /
:func:`table_styles` (names, labels and colours for naming and styling a class
layer).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ClassTableError, InputError
from ..messages import NO_CLASS_NAMES
from .classes import NODATA, PRESETS, ClassInfo, ClassTable, default_label, generic_colour, load_class_table
from .gdal_env import ignore_not_georeferenced
from .input_paths import check_input_path
from .xml_indent import indent_xml

__all__ = [
    "BLOCK_PIXELS",
    "MAX_BLOCK_ROWS",
    "RGB",
    "ClassStyle",
    "LABEL_KEY_PREFIX",
    "MaskClasses",
    "colour_table",
    "category_names_xml",
    "set_label_metadata",
    "sidecar_path",
    "read_category_names",
    "read_class_labels",
    "open_dataset",
    "check_class_mask",
    "open_class_mask",
    "mask_colours",
    "mask_class_table",
    "resolve_class_table",
    "mask_class_info",
    "dataset_class_info",
    "class_styles",
    "table_styles",
    "block_rows",
    "row_blocks",
    "row_block_grid",
    "holds_class_ids",
    "read_class_ids",
]

#: Pixels per block of :func:`row_blocks` (:func:`block_rows`): bounds the memory of every streaming step.
BLOCK_PIXELS = 1 << 22
#: Rows per block of :func:`row_blocks` (:func:`block_rows`) at most.
MAX_BLOCK_ROWS = 1024

RGB = Tuple[int, int, int]
#: ``(class id, display label, (r, g, b))``: one category of a styled class layer (its legend text is the label).
ClassStyle = Tuple[int, str, RGB]
#: Band 1's metadata key of class ``i``'s label is ``LABEL_KEY_PREFIX + str(i)``.
LABEL_KEY_PREFIX = "glnet_class_label_"

PathLike = Union[str, "os.PathLike[str]"]


# ------------------------------------------------------------------ colours and names (writing)
def colour_table(classes: ClassTable) -> Dict[int, tuple]:
    """The 256-entry RGBA colour table of a class mask.

    Class ``i`` gets its colour, opaque; 255 (nodata) and unused values are
    transparent black.
    """
    table: Dict[int, tuple] = {i: (0, 0, 0, 0) for i in range(256)}
    for c in classes.classes:
        table[c.id] = tuple(int(v) for v in c.colour) + (255,)
    return table


def category_names_xml(
    names: Iterable[object], existing: Optional[bytes] = None, labels: Optional[Mapping[int, str]] = None
) -> bytes:
    """A GDAL PAM document with ``names`` as band 1's category names, and ``labels`` as its label metadata.

    Parameters
    ----------
    names:
        Category names, the i-th for pixel value i.
    existing:
        A PAM document GDAL already wrote for the file, if any; its other
        content is kept and only band 1's category names and
        ``glnet_class_label_*`` metadata items are replaced.
    labels:
        Class id -> display label, the labels to store
        (:meth:`~.classes.ClassTable.custom_labels`); None or empty: none.

    Returns
    -------
    bytes:
        The UTF-8 XML document.
    """
    root = None
    if existing:
        try:
            root = ET.fromstring(existing)
        except ET.ParseError:
            root = None  # a damaged sidecar of our own part file: start afresh
        if root is not None and root.tag != "PAMDataset":
            root = None
    if root is None:
        root = ET.Element("PAMDataset")
    band = None
    for el in root.findall("PAMRasterBand"):
        if el.get("band") == "1":
            band = el
    if band is None:
        band = ET.SubElement(root, "PAMRasterBand", band="1")
    for old in band.findall("CategoryNames"):
        band.remove(old)
    cats = ET.SubElement(band, "CategoryNames")
    for name in names:
        ET.SubElement(cats, "Category").text = str(name)
    set_label_metadata(band, labels or {})
    indent_xml(root, "  ")
    return ET.tostring(root, encoding="utf-8")


def set_label_metadata(band: ET.Element, labels: Mapping[int, str]) -> None:
    """Make ``labels`` the ``glnet_class_label_<id>`` items of a band element's metadata (PAM or VRT XML).

    Parameters
    ----------
    band:
        A ``PAMRasterBand`` or ``VRTRasterBand`` element, changed in place:
        earlier label items go, other metadata stays, an empty ``Metadata``
        element is removed.
    labels:
        Class id -> label.
    """
    # The default domain (no "domain" attribute): GDAL merges it into the band's metadata.
    metadata = next((m for m in band.findall("Metadata") if not m.get("domain")), None)
    if metadata is not None:
        for item in metadata.findall("MDI"):
            if str(item.get("key", "")).startswith(LABEL_KEY_PREFIX):
                metadata.remove(item)
    if labels:
        if metadata is None:
            metadata = ET.SubElement(band, "Metadata")
        for cid in sorted(labels):
            ET.SubElement(metadata, "MDI", key=f"{LABEL_KEY_PREFIX}{int(cid)}").text = str(labels[cid])
    if metadata is not None and len(metadata) == 0:
        band.remove(metadata)


# ------------------------------------------------------------------ names (reading)
def sidecar_path(path: PathLike) -> Path:
    """The GDAL PAM sidecar of a raster: ``PATH.aux.xml``."""
    return Path(str(path) + ".aux.xml")


def read_category_names(path: PathLike) -> Optional[List[str]]:
    """Band 1's GDAL category names from the PAM sidecar ``PATH.aux.xml``.

    Returns
    -------
    list of str or None
        The names (value i -> i-th name), each stripped, trailing empty names
        dropped; ``None`` when there is no readable sidecar or it has no
        category names.
    """
    aux = sidecar_path(path)
    if not aux.is_file():
        return None
    try:
        root = ET.fromstring(aux.read_bytes())
    except (ET.ParseError, OSError):
        return None
    for band in root.iter("PAMRasterBand"):
        if band.get("band", "1") != "1":
            continue
        cats = band.find("CategoryNames")
        if cats is None:
            continue
        names = [(c.text or "").strip() for c in cats.findall("Category")]
        while names and not names[-1]:
            names.pop()
        return names or None
    return None


def read_class_labels(ds: Any) -> Dict[int, str]:
    """The class labels a mask stores (band 1's ``glnet_class_label_<id>`` metadata): class id -> label.

    Read through GDAL, so from the PAM sidecar glnet writes and from any
    other place GDAL keeps band metadata (the GeoTIFF itself, a VRT). Blanks
    and line breaks collapse to single spaces; empty values and ids outside
    0..254 are left out.

    Parameters
    ----------
    ds:
        The mask, open (rasterio).

    Returns
    -------
    dict
        Class id -> label; ``{}`` for a mask that stores none (every mask
        written before labels existed).
    """
    out: Dict[int, str] = {}
    for key, value in ds.tags(1).items():
        if not key.startswith(LABEL_KEY_PREFIX):
            continue
        cid, text = key[len(LABEL_KEY_PREFIX):], " ".join(str(value).split())
        if cid.isdigit() and int(cid) < NODATA and text:
            out[int(cid)] = text
    return out


# ------------------------------------------------------------------ opening
def open_dataset(path: PathLike, role: str = "raster") -> Any:
    """Open a raster with rasterio the way every mask reader does (no format check).

    Parameters
    ----------
    path:
        The raster file.
    role:
        How messages name it (``"mask"``, ``"PRED"``, ``"confidence raster"``...).

    Returns
    -------
    rasterio.io.DatasetReader
        The open dataset (the caller closes it).

    Raises
    ------
    InputError
        If the file is missing, a folder, or not a raster GDAL can open.
    """
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{role} {p} does not exist")
    if p.is_dir():
        raise InputError(f"{role} {p} is a folder; give a raster file")
    check_input_path(p, role)
    try:
        with ignore_not_georeferenced():  # readers handle a raster without georeferencing themselves
            return rasterio.open(str(p))
    except (RasterioError, OSError) as exc:
        raise InputError(f"cannot open {role} {p} as a raster: {' '.join(str(exc).split())}") from None


def check_class_mask(ds: Any, path: PathLike, role: str = "mask") -> None:
    """Check that an open raster is a class mask: one band of integers.

    Raises
    ------
    InputError
        For several bands (an RGB image or colour mask) or a non-integer band.
    """
    if ds.count != 1:
        raise InputError(
            f"{role} {path} is not a class mask: it has {ds.count} bands "
            "(a class mask has one band of class ids, as glnet segment writes it)"
        )
    dtype = np.dtype(ds.dtypes[0])
    if not np.issubdtype(dtype, np.integer):
        raise InputError(
            f"{role} {path} is not a class mask: its pixels are {dtype.name} "
            "(a class mask holds integer class ids, as glnet segment writes it)"
        )


def open_class_mask(path: PathLike, role: str = "mask") -> Any:
    """Open a class mask and check it (:func:`open_dataset`, :func:`check_class_mask`).

    Returns
    -------
    rasterio.io.DatasetReader
        The open dataset (the caller closes it).

    Raises
    ------
    InputError
        If the file is missing, unreadable, or not a class mask.
    """
    ds = open_dataset(path, role)
    try:
        check_class_mask(ds, path, role)
    except InputError:
        ds.close()
        raise
    return ds


# ------------------------------------------------------------------ classes a mask describes
def mask_colours(ds: Any) -> Dict[int, RGB]:
    """The colours of band 1's colour table: class id -> ``(r, g, b)``.

    The nodata value 255 and entries with alpha 0 (in formats that keep alpha)
    are left out; a mask without a colour table gives ``{}``.
    """
    try:
        cmap = ds.colormap(1)
    except ValueError:  # no colour table
        return {}
    out: Dict[int, RGB] = {}
    for i, rgba in cmap.items():
        if int(i) != NODATA and (len(rgba) < 4 or rgba[3] > 0):
            out[int(i)] = (int(rgba[0]), int(rgba[1]), int(rgba[2]))
    return out


def mask_class_table(ds: Any, path: PathLike) -> Optional[ClassTable]:
    """The class table a mask describes itself with (category names, labels, colour table).

    When the names are exactly those of a preset (``deepglobe``...), the
    preset is returned (with the labels the mask stores, if any), so that its
    ignore flags apply (glnet segment writes the model's class names).

    Returns
    -------
    ClassTable or None
        ``None`` when the mask has no category names (or fewer than 2).
    """
    names = read_category_names(path)
    if not names or len(names) < 2 or len(names) > NODATA:
        return None
    labels = read_class_labels(ds)
    for preset in PRESETS.values():
        if preset.names == names:
            if not labels:
                return preset
            try:
                return ClassTable(tuple(replace(c, label=labels.get(c.id, c.label)) for c in preset.classes), preset.name)
            except ClassTableError:
                return preset  # labels edited into duplicates: the preset's own
    colours = mask_colours(ds)
    seen = set()
    classes = []
    for i, name in enumerate(names):
        # GDAL pads unnamed values with empty names; a table needs unique names.
        if not name or name in seen:
            name = f"class_{i}"
        seen.add(name)
        classes.append(ClassInfo(i, name, colours.get(i, (0, 0, 0)), label=labels.get(i)))
    try:
        return ClassTable(tuple(classes), "from-mask")
    except ClassTableError:
        pass  # labels edited into duplicates: the names' default labels
    try:
        return ClassTable(tuple(replace(c, label=None) for c in classes), "from-mask")
    except ClassTableError:
        return None


def resolve_class_table(spec: Optional[str], ds: Any, path: PathLike, role: str = "mask") -> ClassTable:
    """``--classes`` when given, else the mask's own names (see :func:`mask_class_table`).

    Raises
    ------
    ClassTableError
        When neither is available, or ``spec`` is not a valid table.
    """
    if spec:
        return load_class_table(spec)
    table = mask_class_table(ds, path)
    if table is None:
        raise ClassTableError(
            f"{role} {path} has no class names (no <CategoryNames> in {sidecar_path(path).name}); "
            "pass --classes deepglobe, a class count, or a JSON class table"
        )
    return table


class MaskClasses(NamedTuple):
    """Names, labels and colours of a mask's classes (:func:`dataset_class_info`), keyed by class id.

    Attributes
    ----------
    names:
        The identifiers (``urban_land``) of the ids that have one.
    labels:
        The display labels (``Urban land``) of the same ids, and of ids that
        have a stored label only.
    colours:
        ``(r, g, b)`` of the ids that have a colour.
    warnings:
        One-line messages worth showing the user (no class names at all).
    """

    names: Dict[int, str]
    labels: Dict[int, str]
    colours: Dict[int, RGB]
    warnings: List[str]


def mask_class_info(mask_path: PathLike, classes: Optional[ClassTable] = None) -> MaskClasses:
    """Names, labels and colours of a mask file's classes: :func:`dataset_class_info` on the mask, opened and checked.

    Raises
    ------
    InputError
        If the mask cannot be opened or is not a class mask.
    """
    with open_class_mask(mask_path, "mask") as ds:
        return dataset_class_info(ds, mask_path, classes)


def dataset_class_info(ds: Any, mask_path: PathLike, classes: Optional[ClassTable] = None) -> MaskClasses:
    """Names, labels and colours of a mask's classes, for naming and styling its classes.

    Names and labels come from ``classes`` when given (its
    :attr:`~.classes.ClassTable.labels`), else from the mask: its category
    names (:func:`read_category_names`) and stored labels
    (:func:`read_class_labels`), a named class without a stored label
    showing :func:`~.classes.default_label` of its name. Colours come from
    ``classes``, else the mask's colour table (:func:`mask_colours`). Ids
    without a name get none here (:func:`class_styles` calls them
    ``Class <id>``); with no names at all a warning says so, since a layer is
    then less useful.

    Parameters
    ----------
    ds:
        The mask, opened with :func:`open_class_mask`.
    mask_path:
        Its file (the category names are in its sidecar; messages name it).
    classes:
        A class table (e.g. a bundle's ``classes``), or None.

    Returns
    -------
    MaskClasses
        Dicts keyed by class id for the ids 0..254 that have names, labels or
        colours, and the warnings.
    """
    names: Dict[int, str] = {}
    labels: Dict[int, str] = {}
    colours: Dict[int, RGB] = {}
    warns: List[str] = []
    if classes is not None:
        for c, label in zip(classes.classes, classes.labels):
            names[c.id] = c.name
            labels[c.id] = label
            colours[c.id] = (int(c.colour[0]), int(c.colour[1]), int(c.colour[2]))
    else:
        for i, n in enumerate(read_category_names(mask_path) or []):
            if n and i != NODATA:
                names[i] = n
        stored = read_class_labels(ds)
        labels = {i: stored.get(i, default_label(n)) for i, n in names.items()}
        labels.update(stored)
        colours.update(mask_colours(ds))
        if not names:
            warns.append(NO_CLASS_NAMES(mask=mask_path, sidecar=sidecar_path(mask_path).name))
    return MaskClasses(names, labels, colours, warns)


def class_styles(labels: Mapping[int, str], colours: Mapping[int, RGB], ids: Sequence[int] = ()) -> List[ClassStyle]:
    """The categories a styled class layer shows: ``(class id, label, (r, g, b))``.

    One entry per class id that has a label or occurs in ``ids``, sorted by
    id; ids without a label are called ``Class <id>`` (the default label of
    ``class_<id>``), ids without a colour get a generated one
    (deterministic). The same list styles the polygons' categorized renderer
    and the mask's palette: its second item is the legend text.

    Parameters
    ----------
    labels, colours:
        Display labels and colours by class id, as :func:`mask_class_info`
        returns them (``.labels``, ``.colours``).
    ids:
        Class ids that occur in the data (e.g. a vectorize result's ``counts``).

    Returns
    -------
    list of (int, str, (int, int, int))
    """
    present = sorted(set(int(i) for i in ids) | set(labels))
    return [
        (i, labels.get(i, default_label(f"class_{i}")), tuple(colours.get(i, generic_colour(i))))  # type: ignore[misc]
        for i in present
    ]


def table_styles(classes: ClassTable) -> List[ClassStyle]:
    """:func:`class_styles` of every class of a table: what a mask written with ``classes`` shows.

    Parameters
    ----------
    classes:
        The class table (a bundle's, a mask's).

    Returns
    -------
    list of (int, str, (int, int, int))
        ``(class id, label, colour)`` in id order.
    """
    return class_styles(dict(enumerate(classes.labels)),
                        {c.id: (int(c.colour[0]), int(c.colour[1]), int(c.colour[2])) for c in classes.classes})


# ------------------------------------------------------------------ blocks
def block_rows(width: int, max_rows: int = MAX_BLOCK_ROWS, pixels: int = BLOCK_PIXELS) -> int:
    """Rows per block of a raster ``width`` pixels wide: at most ``pixels`` pixels (at least one row) and ``max_rows`` rows."""
    return max(1, min(int(max_rows), int(pixels) // max(1, int(width))))


def row_blocks(
    height: int, width: int, max_rows: int = MAX_BLOCK_ROWS, pixels: int = BLOCK_PIXELS, rows: Optional[int] = None
) -> Iterator[Tuple[int, int]]:
    """Row ranges ``[r0, r1)`` covering a raster, each of ``rows`` rows (the last one fewer).

    ``rows`` defaults to :func:`block_rows` of ``width``, ``max_rows`` and
    ``pixels``; given, it is the block height (at least one row) whatever the width.
    """
    step = block_rows(width, max_rows, pixels) if rows is None else max(1, int(rows))
    for r0 in range(0, int(height), step):
        yield r0, min(int(height), r0 + step)


def row_block_grid(ds: Any, r0: int, r1: int) -> Tuple[Any, Tuple[float, float, float, float]]:
    """The grid of rows ``[r0, r1)`` of a raster: its transform and its bounds ``(left, bottom, right, top)`` in the raster's CRS."""
    from rasterio.windows import Window

    from ..geo.crs import grid_bounds

    width, height = int(ds.width), int(r1) - int(r0)
    transform = ds.window_transform(Window(0, int(r0), width, height))
    return transform, grid_bounds(transform, height, width)


def holds_class_ids(ds: Any) -> bool:
    """Whether a mask's raw values are already its class ids: uint8 with nodata 255 (or none), as glnet writes it."""
    return np.dtype(ds.dtypes[0]) == np.uint8 and (ds.nodata is None or ds.nodata == NODATA)


def read_class_ids(ds: Any, path: PathLike, r0: int, r1: int, n_classes: Optional[int] = None, role: str = "mask") -> np.ndarray:
    """A class mask's rows ``[r0, r1)`` as uint8 class ids, 255 nodata, the values checked.

    Nodata is 255 and the file's own nodata value; every other value must be
    a class id: below ``n_classes`` when a class table is known, else 0..254.

    Parameters
    ----------
    ds:
        The mask, opened with :func:`open_class_mask`.
    path, role:
        How messages name it.
    r0, r1:
        The rows (whole width).
    n_classes:
        The class table's size, or None.

    Returns
    -------
    numpy.ndarray
        ``(r1 - r0, width)`` uint8.

    Raises
    ------
    InputError
        For a value that is not a class id.
    """
    from rasterio.windows import Window

    raw = ds.read(1, window=Window(0, int(r0), ds.width, int(r1) - int(r0)))
    valid = raw != NODATA
    if ds.nodata is not None:
        valid &= raw != ds.nodata
    vals = raw[valid]
    if vals.size:
        lo, hi = int(vals.min()), int(vals.max())
        top = NODATA if n_classes is None else int(n_classes)
        if lo < 0 or hi >= top:
            bad = lo if lo < 0 else hi
            if n_classes is None:
                raise InputError(f"{role} {path} holds the value {bad}, which is not a class id (0-254, 255 nodata)")
            raise InputError(
                f"{role} {path} holds the value {bad}, which is not a class id of the class table "
                f"({n_classes} classes, ids 0-{n_classes - 1}, 255 nodata); pass the right --classes"
            )
    if holds_class_ids(ds):
        return raw  # already in the format: no copy
    out = np.full(raw.shape, NODATA, dtype=np.uint8)
    out[valid] = vals.astype(np.uint8)
    return out
