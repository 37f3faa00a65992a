"""The raster input options of the command line (``--bands``, ``--input-range``), shared by segment and train.

Both commands read their images through
:func:`glnet_core.formats.raster_input.open_raster`, so they take the same
options with the same syntax: a model trained with ``--input-range 0,4000`` is
served with ``glnet segment --input-range 0,4000``.
"""

from __future__ import annotations

import argparse
from typing import Tuple

from ..errors import InputError
from ..formats.input_rules import checked_bands, checked_range

__all__ = ["parse_bands", "parse_input_range", "BANDS_HELP", "INPUT_RANGE_HELP"]

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
