"""QGIS styles of glnet's class layers, written as QML text: one module for both kinds.

- :func:`mask_qml`: a class mask (``glnet segment``'s GeoTIFF) as a paletted
  raster renderer listing exactly the classes given, each with its colour and
  legend text, at :data:`MASK_OPACITY` so the imagery below shows through.
  Without it QGIS reads the GeoTIFF's 256-entry colour table and lists 256
  legend entries. :mod:`.class_mask_writer` saves it as ``NAME.qml`` beside
  ``NAME.tif`` (:func:`qml_sidecar_path`), the file QGIS applies as the
  layer's default style whenever the mask is opened from a file.
- :func:`confidence_qml`: a confidence raster in grey, 0 to 100 %.
- :func:`qml_document`: polygons (``glnet vectorize``) as a categorized
  renderer on ``class_id``: a semi-transparent fill (:data:`FILL_OPACITY`)
  with an outline in the class's colour, or :data:`DARK_OUTLINE` for a light
  class (:func:`is_light`) that a coloured outline would leave invisible on
  a white map or legend.

QGIS looks for a vector layer's default style in a GeoPackage table named
``layer_styles`` (the table QGIS itself writes with "Save as default"); a
row whose ``f_table_name`` is the layer and whose ``useAsDefault`` is true is
applied when the layer is opened. :func:`write_gpkg_style` creates that table
with :mod:`sqlite3` (after the layer itself has been written by GDAL).

Opening such a file in the QGIS 3.22 desktop (Add Vector Layer, Open, drag
and drop of the file) brings QGIS's "Select Items to Add" chooser, as it does
for a GeoPackage holding a style QGIS saved itself: the desktop counts the
file's sublayers *with* system tables, and ``layer_styles`` is one. The
chooser hides system tables by default, so it offers exactly the polygon
layers, and adding them applies their style; a layer item dragged from the
Browser panel (which lists the polygons only) opens without it. The table
cannot be hidden instead: QGIS reads the style through GDAL, which opens only
tables it lists, and the desktop lists every table GDAL can. A ``NAME.qml``
beside ``NAME.gpkg`` would avoid the chooser but is the mask's style file
(:func:`qml_sidecar_path`) and one style for all layers of the file.

The QGIS plugin applies these same documents to the layers Processing loads
(``glnet_plugin.styles``), so a layer loaded after a run and the same file
opened later look alike. No QGIS import: the QML is written as text.
"""

from __future__ import annotations

import os
import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, Tuple, Union

from .xml_indent import indent_xml

__all__ = [
    "ClassStyle",
    "MASK_OPACITY",
    "FILL_OPACITY",
    "DARK_OUTLINE",
    "LIGHT_CONTRAST",
    "relative_luminance",
    "is_light",
    "outline_colour",
    "mask_qml",
    "confidence_qml",
    "qml_document",
    "qml_sidecar_path",
    "write_gpkg_style",
]

ClassStyle = Tuple[int, str, Tuple[int, int, int]]  # (class id, legend text, RGB colour)

#: Opacity of a class mask layer: the classes stay readable and the imagery below them visible.
MASK_OPACITY = 0.65
#: Opacity of a polygon's fill (its outline is opaque).
FILL_OPACITY = 0.5
#: Outline of the polygons of light classes (and of nothing else).
DARK_OUTLINE = (35, 35, 35)
#: A colour is light when its contrast ratio against white (WCAG 2) is below this: white, yellow and cyan
#: of the DeepGlobe classes are; green (1.37) and darker colours are not.
LIGHT_CONTRAST = 1.3

_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def relative_luminance(rgb: Sequence[int]) -> float:
    """The WCAG 2 relative luminance of an sRGB colour.

    Parameters
    ----------
    rgb:
        ``(r, g, b)``, each 0..255.

    Returns
    -------
    float
        0.0 (black) .. 1.0 (white).
    """

    def linear(v: int) -> float:
        c = max(0, min(255, int(v))) / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def is_light(rgb: Sequence[int]) -> bool:
    """Whether ``rgb`` is too light to be seen as a line on white (contrast below :data:`LIGHT_CONTRAST`)."""
    return 1.05 / (relative_luminance(rgb) + 0.05) < LIGHT_CONTRAST


def outline_colour(rgb: Sequence[int]) -> Tuple[int, int, int]:
    """A polygon's outline: its class's colour, or :data:`DARK_OUTLINE` for a light class."""
    if is_light(rgb):
        return DARK_OUTLINE
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def qml_sidecar_path(path: Union[str, "os.PathLike[str]"]) -> Path:
    """Where QGIS looks for the default style of the file ``path``: ``NAME.qml`` beside ``NAME.tif``.

    QGIS replaces the last extension only (``a.b.tif`` -> ``a.b.qml``),
    as ``QgsMapLayer::styleURI`` does for a file.
    """
    p = Path(path)
    return p.with_name((p.stem if p.suffix else p.name) + ".qml")


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, int(v))) for v in rgb[:3]))


def mask_qml(classes: Sequence[ClassStyle], opacity: float = MASK_OPACITY, band: int = 1) -> str:
    """A QGIS QML style for a class mask: a paletted renderer of exactly ``classes``.

    Parameters
    ----------
    classes:
        ``(class id, legend text, (r, g, b))`` for each class, in legend order.
    opacity:
        The layer's opacity, 0..1.
    band:
        The band of class ids.

    Returns
    -------
    str
        The QML document (QGIS 3.22 and later). Pixels of other values (the
        nodata 255) are not drawn; a light class's legend swatch has no
        border in a paletted legend (QGIS 3.22 fills it whole), so it keeps
        its colour.

    Raises
    ------
    ValueError
        If ``opacity`` is outside 0..1.
    """
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity must be within 0..1, got {opacity}")
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    provider = ET.SubElement(pipe, "provider")
    # Class ids must never be interpolated: nearest neighbour at every zoom.
    ET.SubElement(provider, "resampling", enabled="false", maxOversampling="2",
                  zoomedInResamplingMethod="nearestNeighbour", zoomedOutResamplingMethod="nearestNeighbour")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band=str(int(band)), alphaBand="-1",
                             nodataColor="", opacity=repr(round(float(opacity), 4)))
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for cid, label, colour in classes:
        ET.SubElement(palette, "paletteEntry", value=str(int(cid)), color=_hex(colour), alpha="255", label=str(label))
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0", invertColors="0", colorizeOn="0",
                  colorizeRed="255", colorizeGreen="128", colorizeBlue="128", colorizeStrength="100")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    indent_xml(root, " ")
    return _DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def confidence_qml(maximum: int = 100) -> str:
    """A QGIS QML style for a confidence raster: grey from black (0 %) to white (``maximum`` %).

    A fixed stretch, so that two runs' rasters compare by eye (QGIS would
    otherwise stretch each to its own range).

    Parameters
    ----------
    maximum:
        The value shown white (100 for percent).

    Returns
    -------
    str
        The QML document (QGIS 3.22 and later).
    """
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="singlebandgray", grayBand="1", gradient="BlackToWhite",
                             alphaBand="-1", nodataColor="", opacity="1")
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2")):
        ET.SubElement(origin, tag).text = text
    stretch = ET.SubElement(renderer, "contrastEnhancement")
    ET.SubElement(stretch, "minValue").text = "0"
    ET.SubElement(stretch, "maxValue").text = str(int(maximum))
    ET.SubElement(stretch, "algorithm").text = "StretchToMinimumMaximum"
    ET.SubElement(root, "blendMode").text = "0"
    indent_xml(root, " ")
    return _DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", name=name, value=value, type="QString")


def qml_document(classes: Sequence[ClassStyle], field: str = "class_id", fill_opacity: float = FILL_OPACITY) -> str:
    """A QGIS QML style for polygons: a categorized fill renderer on the integer ``field``.

    Parameters
    ----------
    classes:
        ``(class id, legend text, (r, g, b))`` for each category.
    field:
        The attribute the categories are keyed on.
    fill_opacity:
        Opacity of each fill, 0..1; the outline (:func:`outline_colour`,
        0.4 mm) is opaque, so the imagery shows through and the regions stay
        distinct.

    Returns
    -------
    str
        The QML document. Symbol layers carry both the ``<Option>`` map of
        QGIS 3.26+ and the older ``<prop>`` list, so any QGIS 3 reads it.

    Raises
    ------
    ValueError
        If ``fill_opacity`` is outside 0..1.
    """
    if not 0.0 <= float(fill_opacity) <= 1.0:
        raise ValueError(f"fill_opacity must be within 0..1, got {fill_opacity}")
    alpha = str(int(round(255 * float(fill_opacity))))
    root = ET.Element("qgis", version="3.28.0", styleCategories="Symbology")
    renderer = ET.SubElement(
        root, "renderer-v2", type="categorizedSymbol", attr=field, symbollevels="0", enableorderby="0", forceraster="0"
    )
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (cid, label, colour) in enumerate(classes):
        ET.SubElement(cats, "category", render="true", symbol=str(i), value=str(int(cid)), label=str(label), type="integer")
        symbol = ET.SubElement(symbols, "symbol", type="fill", name=str(i), alpha="1", clip_to_extent="1", force_rhr="0")
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1", "pass": "0", "locked": "0"})
        props = {
            "color": ",".join(str(int(v)) for v in colour[:3]) + "," + alpha,
            "outline_color": ",".join(str(v) for v in outline_colour(colour)) + ",255",
            "outline_style": "solid",
            "outline_width": "0.4",
            "outline_width_unit": "MM",
            "style": "solid",
            "joinstyle": "bevel",
        }
        opts = ET.SubElement(layer, "Option", type="Map")
        for k, v in props.items():
            _option(opts, k, v)
        for k, v in props.items():
            ET.SubElement(layer, "prop", k=k, v=v)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    indent_xml(root, " ")
    return _DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


# The columns QGIS creates (QgsOgrProviderUtils::saveStyle), so that QGIS can
# also append its own styles to the table later.
_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""


def write_gpkg_style(
    gpkg: Union[str, Path], layer: str, qml: str, style_name: str = "glnet classes", description: str = "land-cover classes (glnet)"
) -> None:
    """Store ``qml`` as the default style of ``layer`` in the GeoPackage ``gpkg``.

    Creates the ``layer_styles`` table if needed and registers it in
    ``gpkg_contents`` as an attribute table (GDAL then lists it, as QGIS
    does when it writes the table); older default styles of the same layer
    lose their default flag.

    Parameters
    ----------
    gpkg:
        An existing GeoPackage holding ``layer``.
    layer:
        The layer (table) name.
    qml:
        The style (see :func:`qml_document`).
    style_name, description:
        Shown by QGIS in its style manager.

    Raises
    ------
    sqlite3.Error
        If the file is not a GeoPackage that can be written.
    """
    con = sqlite3.connect(str(gpkg))
    try:
        with con:
            con.execute(_CREATE)
            geom_col = "geom"
            row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
            if row:
                geom_col = row[0]
            exists = con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
            if not exists:
                con.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles', '', ?)",
                    (now,),
                )
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                "styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL, ?)",
                (layer, geom_col, style_name, qml, description, now),
            )
    finally:
        con.close()
