"""GDAL settings for glnet's streaming passes over rasters, and what GDAL raises and warns through rasterio.

rasterio is imported inside the functions, so that importing a command
module (``glnet --help``) stays light.
"""

from __future__ import annotations

import functools
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Tuple, Type, TypeVar

__all__ = ["GDAL_CACHE_MB", "bounded_gdal_cache", "with_bounded_gdal_cache", "gdal_errors", "ignore_not_georeferenced"]

#: GDAL's raster block cache while glnet streams a raster, in MB.
GDAL_CACHE_MB = 64

F = TypeVar("F", bound=Callable)


def bounded_gdal_cache():
    """A ``rasterio.Env`` with a small GDAL block cache, for streaming passes.

    GDAL caches blocks up to 5 % of the machine's memory by default, so one
    pass over a large raster would grow the process with the raster. glnet
    reads each block once or twice, so a small cache costs nothing.
    """
    import rasterio  # here, so that importing a command module stays light

    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def with_bounded_gdal_cache(func: F) -> F:
    """Decorator: run ``func`` inside :func:`bounded_gdal_cache`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with bounded_gdal_cache():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@functools.lru_cache(maxsize=None)
def gdal_errors() -> Tuple[Type[BaseException], ...]:
    """Everything GDAL can raise through rasterio for a bad file, for ``except gdal_errors():``.

    ``RasterioIOError`` is listed on its own: in rasterio 1.3 it derives from
    ``OSError``, not ``RasterioError``; ``CPLE_BaseError`` covers the GDAL
    errors that rasterio does not wrap in ``RasterioError``.
    """
    from rasterio.errors import RasterioError, RasterioIOError

    try:  # the same private module in rasterio 1.3 and 1.4
        from rasterio._err import CPLE_BaseError
    except ImportError:  # pragma: no cover - a future rasterio without it
        return (RasterioError, RasterioIOError)
    return (RasterioError, RasterioIOError, CPLE_BaseError)


@contextmanager
def ignore_not_georeferenced() -> Iterator[None]:
    """Silence rasterio's ``NotGeoreferencedWarning`` in the block.

    Rasters without georeferencing (plain JPEG/PNG, masks on a pixel grid)
    are fine here: readers and writers handle that case themselves.
    """
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield
