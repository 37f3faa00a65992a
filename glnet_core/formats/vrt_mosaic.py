"""A GDAL VRT mosaic over class masks: one layer for a whole batch, styled as the masks are.

``glnet batch --mosaic MOSAIC.vrt`` writes it over the batch's masks so that
QGIS (or any GDAL reader) opens every scene as one raster. The VRT is XML
that GDAL reads; glnet writes it itself (rasterio builds no VRTs):

- one band of ``Byte``, nodata 255 (:data:`~.classes.NODATA`), the classes'
  colour table (:func:`.class_mask.colour_table`, as every mask has) and
  their names as category names (what the masks keep in their ``.aux.xml``);
- the mosaic's grid: the masks' CRS and pixel size, its extent the union of
  theirs; each mask a ``ComplexSource`` placed by ``SrcRect`` / ``DstRect``,
  with nodata 255, so that a scene's nodata never hides another scene where
  they overlap (where two scenes both hold classes, the later one in the
  given order is shown); pixels no scene covers read 255;
- a mask in the VRT's folder (or below it) is named relative to the VRT
  (``relativeToVRT="1"``), so the folder can be moved or shared whole;
  others by their absolute path.

The masks must share one CRS and one pixel size and be north-up (no rotation
or flip): :func:`mosaic_grid` names the first that differs. Offsets that are
not whole pixels are written as they are (GDAL then places the scene by
nearest neighbour).

:func:`write_mosaic_vrt` writes the file atomically
(:func:`.outputs.write_text`): it appears complete or not at all, and an
existing file is replaced only with ``overwrite``. Beside it goes the masks'
QGIS style ``NAME.qml`` (:func:`.layer_style.mask_qml`), so that QGIS shows
the mosaic exactly as it shows each mask (the table's classes, not 256
colour-table entries).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

from affine import Affine

from ..errors import InputError
from .class_mask import colour_table, set_label_metadata, table_styles
from .classes import NODATA, ClassTable
from .gdal_env import captured_gdal_messages, gdal_error_text, gdal_errors, ignore_not_georeferenced
from .layer_style import mask_qml, qml_sidecar_path
from .outputs import check_file_target, write_text
from .xml_indent import indent_xml

__all__ = ["SourceGrid", "MosaicGrid", "read_grid", "mosaic_grid", "mosaic_vrt_xml", "overview_factors",
           "write_mosaic_vrt"]

PathLike = Union[str, "os.PathLike[str]"]

#: Relative difference of pixel sizes still taken as equal (rounding in the files' transforms).
PIXEL_SIZE_TOLERANCE = 1e-7
#: Distance from a whole pixel (in pixels) of an offset still taken as whole.
OFFSET_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SourceGrid:
    """The grid of one raster, as its header states it.

    Attributes
    ----------
    path:
        The raster.
    width, height:
        Size in pixels.
    crs:
        rasterio ``CRS``, or None.
    transform:
        The pixel-to-CRS ``Affine`` (identity without georeferencing).
    count, dtype:
        Band count and the first band's data type.
    block:
        ``(width, height)`` of the first band's blocks.
    """

    path: str
    width: int
    height: int
    crs: Any
    transform: Any
    count: int = 1
    dtype: str = "uint8"
    block: Tuple[int, int] = (512, 512)


@dataclass(frozen=True)
class MosaicGrid:
    """The grid of a mosaic and where each source lies on it.

    Attributes
    ----------
    crs:
        The sources' CRS.
    transform:
        The mosaic's ``Affine``: the union's top-left corner, the sources' pixel size.
    width, height:
        The mosaic's size in pixels.
    offsets:
        Per source, ``(column, row)`` of its top-left pixel on the mosaic
        (whole numbers unless a source is offset by a fraction of a pixel).
    """

    crs: Any
    transform: Any
    width: int
    height: int
    offsets: Tuple[Tuple[float, float], ...]


def read_grid(path: PathLike, role: str = "mask") -> SourceGrid:
    """The :class:`SourceGrid` of a raster, from its header (no pixel is read).

    Parameters
    ----------
    path:
        Any raster GDAL opens (local, ``/vsi...``, URL).
    role:
        How the message names it.

    Raises
    ------
    InputError
        If GDAL cannot open it (one line; GDAL's own printed lines are kept off the terminal).
    """
    import rasterio

    text = os.fspath(path)
    try:
        with captured_gdal_messages(), ignore_not_georeferenced():
            with rasterio.open(text) as ds:
                block = ds.block_shapes[0] if ds.count else (512, 512)
                return SourceGrid(text, int(ds.width), int(ds.height), ds.crs, ds.transform, int(ds.count),
                                  str(ds.dtypes[0]) if ds.count else "", (int(block[1]), int(block[0])))
    except gdal_errors() + (OSError,) as exc:
        raise InputError(f"cannot open {role} {text}: {gdal_error_text(exc)}") from None


def _crs_name(crs: Any) -> str:
    epsg = crs.to_epsg() if crs is not None else None
    return f"EPSG:{epsg}" if epsg else str(crs.to_string())


def _whole(value: float) -> float:
    near = round(value)
    return float(near) if abs(value - near) <= OFFSET_TOLERANCE else value


def mosaic_grid(sources: Sequence[SourceGrid], option: Optional[str] = "--mosaic") -> MosaicGrid:
    """The grid that holds every source: one CRS and pixel size, the union of the extents.

    Parameters
    ----------
    sources:
        The rasters, in mosaic order (at least one).
    option:
        The option that asked for the mosaic, for messages.

    Returns
    -------
    MosaicGrid

    Raises
    ------
    InputError
        Naming the first source that is not georeferenced, not north-up,
        of another CRS or of another pixel size than the first source.
    """
    prefix = f"{option}: " if option else ""
    if not sources:
        raise InputError(f"{prefix}no mask to put in a mosaic")
    first = sources[0]
    for s in sources:
        t = s.transform
        if s.crs is None:
            raise InputError(f"{prefix}{s.path} is not georeferenced (no CRS); a mosaic needs georeferenced scenes")
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise InputError(f"{prefix}{s.path} is not north-up (its grid is rotated or flipped); "
                             "a mosaic needs north-up scenes")
        if s is first:
            continue
        if s.crs != first.crs:
            raise InputError(f"{prefix}{s.path} is in {_crs_name(s.crs)}, not in {_crs_name(first.crs)} as "
                             f"{first.path}; a mosaic needs one CRS")
        f = first.transform
        if (abs(t.a - f.a) > PIXEL_SIZE_TOLERANCE * abs(f.a)) or (abs(t.e - f.e) > PIXEL_SIZE_TOLERANCE * abs(f.e)):
            raise InputError(f"{prefix}{s.path} has pixels of {t.a:g} x {-t.e:g}, not {f.a:g} x {-f.e:g} as "
                             f"{first.path}; a mosaic needs one pixel size")
    px, py = first.transform.a, -first.transform.e
    left = min(s.transform.c for s in sources)
    top = max(s.transform.f for s in sources)
    right = max(s.transform.c + s.width * px for s in sources)
    bottom = min(s.transform.f - s.height * py for s in sources)
    width = max(1, math.ceil((right - left) / px - OFFSET_TOLERANCE))
    height = max(1, math.ceil((top - bottom) / py - OFFSET_TOLERANCE))
    offsets = tuple((_whole((s.transform.c - left) / px), _whole((top - s.transform.f) / py)) for s in sources)
    return MosaicGrid(first.crs, Affine(px, 0.0, left, 0.0, -py, top), width, height, offsets)


def _number(value: float) -> str:
    """A number as the VRT holds it: whole numbers without a point, others exactly (shortest round trip)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _source_name(source: str, vrt: Path) -> Tuple[str, str]:
    """``(name, relativeToVRT)`` of a source: relative to the VRT's folder when inside it, else absolute."""
    folder = os.path.realpath(os.fspath(vrt.parent))
    full = os.path.realpath(source)
    if os.path.commonpath([full, folder]) == folder:
        return Path(os.path.relpath(full, folder)).as_posix(), "1"
    return full, "0"


def mosaic_vrt_xml(grid: MosaicGrid, sources: Sequence[SourceGrid], classes: ClassTable, vrt_path: PathLike) -> str:
    """The VRT document of a mosaic of class masks.

    Parameters
    ----------
    grid:
        :func:`mosaic_grid` of ``sources``.
    sources:
        The masks, in mosaic order (a later one is drawn over an earlier one).
    classes:
        The masks' class table: colour table, category names and labels.
    vrt_path:
        Where the VRT will be: sources inside its folder are named relative to it.

    Returns
    -------
    str
        The XML text (UTF-8, with its declaration left out as GDAL's own VRTs do).
    """
    vrt = Path(os.path.abspath(os.fspath(vrt_path)))
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    ET.SubElement(root, "SRS").text = grid.crs.to_wkt()
    t = grid.transform
    ET.SubElement(root, "GeoTransform").text = ", ".join(_number(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    band = ET.SubElement(root, "VRTRasterBand", dataType="Byte", band="1")
    ET.SubElement(band, "Description").text = "land-cover class"
    ET.SubElement(band, "NoDataValue").text = str(NODATA)
    ET.SubElement(band, "ColorInterp").text = "Palette"
    names = ET.SubElement(band, "CategoryNames")
    for name in classes.names:
        ET.SubElement(names, "Category").text = name
    set_label_metadata(band, classes.custom_labels())  # the labels, as a mask's sidecar holds them
    table = ET.SubElement(band, "ColorTable")
    colours = colour_table(classes)
    for value in range(256):
        r, g, b, a = colours[value]
        ET.SubElement(table, "Entry", c1=str(r), c2=str(g), c3=str(b), c4=str(a))
    for s, (col, row) in zip(sources, grid.offsets):
        src = ET.SubElement(band, "ComplexSource")
        name, relative = _source_name(s.path, vrt)
        ET.SubElement(src, "SourceFilename", relativeToVRT=relative).text = name
        ET.SubElement(src, "SourceBand").text = "1"
        ET.SubElement(src, "SourceProperties", RasterXSize=str(s.width), RasterYSize=str(s.height), DataType="Byte",
                      BlockXSize=str(s.block[0]), BlockYSize=str(s.block[1]))
        ET.SubElement(src, "SrcRect", xOff="0", yOff="0", xSize=str(s.width), ySize=str(s.height))
        ET.SubElement(src, "DstRect", xOff=_number(col), yOff=_number(row), xSize=str(s.width), ySize=str(s.height))
        ET.SubElement(src, "NODATA").text = str(NODATA)
    factors = overview_factors(grid.width, grid.height)
    if factors:
        # Virtual overviews (GDAL 3.2+): GDAL gives a VRT of several sources none of its own, so QGIS would read
        # every full-resolution tile to draw the whole mosaic; these read the masks' own (COG) overviews.
        ET.SubElement(root, "OverviewList", resampling="nearest").text = " ".join(str(f) for f in factors)
    indent_xml(root, "  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def overview_factors(width: int, height: int, smallest: int = 256) -> List[int]:
    """Overview factors 2, 4, 8... until the mosaic's longer side is at most ``smallest`` pixels."""
    factors: List[int] = []
    factor = 2
    while max(width, height) / (factor // 2) > smallest:
        factors.append(factor)
        factor *= 2
    return factors


def write_mosaic_vrt(target: PathLike, masks: Sequence[PathLike], classes: ClassTable, *, overwrite: bool,
                     option: Optional[str] = "--mosaic") -> MosaicGrid:
    """Write a VRT mosaic of class masks, atomically.

    Parameters
    ----------
    target:
        The ``.vrt`` file to write.
    masks:
        The class masks (single-band uint8 GeoTIFFs as ``glnet segment``
        writes them), in mosaic order.
    classes:
        Their class table.
    overwrite:
        Replace an existing ``target``.
    option:
        The option that named ``target``, for messages.

    Returns
    -------
    MosaicGrid
        The mosaic's grid.

    Raises
    ------
    InputError
        A mask that cannot be opened or is not one band of bytes, or masks
        that do not fit one grid (:func:`mosaic_grid`); nothing is written.
    OutputPathError
        If ``target`` or its style ``NAME.qml`` exists without ``overwrite``,
        or cannot be written there; nothing is written.
    OutputWriteError
        If the write fails; no new file is left (with ``overwrite``, an
        existing style may already have been replaced by the new one).
    """
    prefix = f"{option}: " if option else ""
    sources: List[SourceGrid] = []
    for m in masks:
        try:
            s = read_grid(m, "mask")
        except InputError as exc:
            raise InputError(f"{prefix}{exc}") from None
        if s.count != 1 or s.dtype != "uint8":
            raise InputError(f"{prefix}{s.path} is not a class mask (one band of uint8); it has {s.count} band(s) "
                             f"of {s.dtype}")
        sources.append(s)
    grid = mosaic_grid(sources, option)
    xml = mosaic_vrt_xml(grid, sources, classes, target)
    style = qml_sidecar_path(target)
    # Both checked before either is written; the style goes first, so whoever sees the mosaic sees its style.
    check_file_target(target, overwrite=overwrite, option=option)
    had_style = check_file_target(style, overwrite=overwrite, option=option).exists()
    write_text(style, mask_qml(table_styles(classes)), overwrite=overwrite, option=option)
    try:
        write_text(target, xml, overwrite=overwrite, option=option)
    except BaseException:
        if not had_style:  # a replaced style is of the same classes; a new one would be left without its mosaic
            style.unlink(missing_ok=True)
        raise
    return grid
