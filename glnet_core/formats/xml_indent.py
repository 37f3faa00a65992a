"""Pretty-printing of ElementTree documents (QGIS styles, GDAL sidecars)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

__all__ = ["indent_xml"]


def indent_xml(elem: ET.Element, step: str = "  ", level: int = 0) -> None:
    """Indent ``elem`` in place, ``step`` per level.

    ``ET.indent`` needs Python 3.9's ElementTree; this works on every Python
    QGIS ships and keeps the files readable.
    """
    pad = "\n" + step * level
    if len(elem):
        if not (elem.text or "").strip():
            elem.text = pad + step
        for child in elem:
            indent_xml(child, step, level + 1)
        if not (child.tail or "").strip():
            child.tail = pad
    if level and not (elem.tail or "").strip():
        elem.tail = pad
