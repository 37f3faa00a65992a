"""The value rules of the polygon options ``--min-area`` and ``--simplify``.

One rule for both, used by :func:`.vectorize.vectorize` (``glnet vectorize``)
and :class:`.pipeline.PolygonOptions` (``glnet segment --out-vector``, the
demo, the QGIS plugin). Plain Python.
"""

from __future__ import annotations

import math
from typing import Tuple

from ..errors import InputError

__all__ = ["checked_polygon_values"]


def checked_polygon_values(min_area_m2: float, simplify: float) -> Tuple[float, float]:
    """A minimum mapping unit (square metres) and a simplification tolerance (metres), as floats.

    Raises
    ------
    InputError
        Unless both are finite and not negative (NaN and infinity are refused:
        an infinite area would sieve nothing sensible, an infinite tolerance
        nothing at all).
    """
    if min_area_m2 is None or min_area_m2 < 0 or not math.isfinite(min_area_m2):
        raise InputError(f"--min-area must be a non-negative number of square metres, got {min_area_m2}")
    if simplify is None or simplify < 0 or not math.isfinite(simplify):
        raise InputError(f"--simplify must be a non-negative number of metres, got {simplify}")
    return float(min_area_m2), float(simplify)
