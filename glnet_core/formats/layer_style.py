"""Default QGIS styles for the polygon layers of ``glnet vectorize``.

QGIS looks for a layer's default style in a GeoPackage table named
``layer_styles`` (the table QGIS itself writes with "Save as default"); a
row whose ``f_table_name`` is the layer and whose ``useAsDefault`` is true is
applied when the layer is opened. :func:`write_gpkg_style` creates that table
with :mod:`sqlite3` (after the layer itself has been written by GDAL) and
stores a categorized renderer on ``class_id`` with the classes' colours and
names (:func:`qml_document`). The same QML can be saved as ``NAME.qml`` next
to any other vector file, which QGIS also loads by default.

No QGIS import: the QML is written as text.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, Tuple, Union

from .xml_indent import indent_xml

__all__ = ["qml_document", "write_gpkg_style"]

ClassStyle = Tuple[int, str, Tuple[int, int, int]]  # (class id, name, RGB colour)


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", name=name, value=value, type="QString")


def qml_document(classes: Sequence[ClassStyle], field: str = "class_id", outline: Tuple[int, int, int] = (35, 35, 35)) -> str:
    """A QGIS QML style: a categorized fill renderer on the integer ``field``.

    Parameters
    ----------
    classes:
        ``(class id, label, (r, g, b))`` for each category.
    field:
        The attribute the categories are keyed on.
    outline:
        Outline colour of every fill.

    Returns
    -------
    str
        The QML document. Symbol layers carry both the ``<Option>`` map of
        QGIS 3.26+ and the older ``<prop>`` list, so any QGIS 3 reads it.
    """
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
        rgba = ",".join(str(int(v)) for v in colour) + ",255"
        out_rgba = ",".join(str(int(v)) for v in outline) + ",255"
        props = {
            "color": rgba,
            "outline_color": out_rgba,
            "outline_style": "solid",
            "outline_width": "0.26",
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
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


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
