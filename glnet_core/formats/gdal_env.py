"""GDAL settings for glnet's streaming passes over rasters."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

__all__ = ["GDAL_CACHE_MB", "bounded_gdal_cache", "with_bounded_gdal_cache"]

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
