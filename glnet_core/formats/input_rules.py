"""The value rules of the raster input options ``--bands`` and ``--input-range``.

One rule each, used by the command line's parsers, the engine's
:class:`~glnet_core.engine.options.InputOptions`, training's image reading and
:mod:`.raster_input` itself. Plain Python: the command line imports this
module to build ``--help``, which must not load numpy or GDAL.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

from ..errors import InputError

__all__ = ["checked_bands", "checked_range"]


def checked_range(input_range: Sequence[float], option: Optional[str] = None) -> Tuple[float, float]:
    """A user's ``(lo, hi)`` as floats: the one rule for ``--input-range`` (CLI, Python API, training).

    Parameters
    ----------
    input_range:
        Two numbers.
    option:
        The option to name at the start of the message (``"--input-range"``), or None.

    Raises
    ------
    InputError
        Unless there are two finite numbers and ``lo < hi``.
    """
    prefix = f"{option}: " if option else ""
    values = tuple(float(v) for v in input_range)
    if len(values) != 2:
        raise InputError(f"{prefix}the input range must be two numbers LOW,HIGH, got {len(values)}")
    lo, hi = values
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"{prefix}the input range must be two finite numbers LOW,HIGH with LOW < HIGH, got {lo:g},{hi:g}")
    return lo, hi


def checked_bands(bands: Sequence[int], option: Optional[str] = None) -> Tuple[int, ...]:
    """1-based band numbers as a tuple of ints: the one rule for ``--bands`` (CLI, Python API, training).

    Whether the raster has those bands is checked when it is opened.

    Raises
    ------
    InputError
        For an empty list, a number that is not a whole number, or one below 1.
    """
    prefix = f"{option}: " if option else ""
    chosen = tuple(bands)
    if not chosen:
        raise InputError(f"{prefix}give at least one band number")
    if any(isinstance(b, bool) or not float(b).is_integer() for b in chosen):
        raise InputError(f"{prefix}band numbers are whole numbers like 1,2,3, got {','.join(str(b) for b in chosen)}")
    out = tuple(int(b) for b in chosen)
    if any(b < 1 for b in out):
        raise InputError(f"{prefix}band numbers start at 1, got {','.join(str(b) for b in out)}")
    return out
