"""The argparse types of the command line's inputs: input paths, class tables, ``--bands``, ``--input-range``.

:func:`input_path` is the ``type=`` of every argument that names a file or
folder a command reads (rasters, bundles, checkpoints, zones, references,
class tables): a pipe, device or socket is refused as the arguments are
parsed, before anything is opened (:mod:`glnet_core.formats.input_paths`).
:func:`class_table_spec` is the ``type=`` of ``--classes``.

segment and train read their images through
:func:`glnet_core.formats.raster_input.open_raster`, so they take the same
``--bands`` and ``--input-range`` with the same syntax: a model trained with
``--input-range 0,4000`` is served with ``glnet segment --input-range 0,4000``.
"""

from __future__ import annotations

import argparse
from typing import Tuple

from ..errors import InputError
from ..formats.input_paths import check_input_path
from ..formats.input_rules import checked_bands, checked_range
from ..option_rules import CLASS_COUNT, check_class_spec

__all__ = ["input_path", "class_table_spec", "parse_bands", "parse_input_range", "BANDS_HELP", "INPUT_RANGE_HELP"]

BANDS_HELP = (
    "raster bands (1-based) to feed the model's inputs, in the model's order (red, green, blue); "
    "needed when the band count does not match the model"
)
INPUT_RANGE_HELP = "for 16-bit or float rasters: values mapped to 0..255 (default: the 2nd and 98th percentiles of each band)"


def parse_bands(text: str) -> Tuple[int, ...]:
    """``--bands 1,2,3`` as a tuple of 1-based band numbers (argparse type)."""
    try:
        out = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected band numbers like 1,2,3, got {text!r}") from None
    try:
        return checked_bands(out)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_input_range(text: str) -> Tuple[float, float]:
    """``--input-range MIN,MAX`` as ``(min, max)`` with ``min < max`` (argparse type)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX, got {text!r}") from None
    try:
        return checked_range((lo, hi))
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def input_path(text: str) -> str:
    """An input path, unless it is a pipe, a device or a socket (argparse type).

    argparse names the argument in front of the message (``INPUT: /tmp/f is a
    named pipe (FIFO), not a regular file``). A missing file passes: the
    command's reader says so itself, with its context.
    """
    try:
        return check_input_path(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def class_table_spec(text: str) -> str:
    """``--classes``: a preset name, a class count (2 to 255) or a JSON class table (argparse type).

    A count is checked here, before a table of that many classes is built;
    a file is checked as every input path (:func:`input_path`); whether a
    name is a preset or the file a class table is decided when it is loaded.
    """
    try:
        checked = check_class_spec(text)
    except InputError as exc:
        # argparse puts the option in front itself.
        raise argparse.ArgumentTypeError(str(exc)[len(CLASS_COUNT.option) + 2:]) from None
    return input_path(checked)
