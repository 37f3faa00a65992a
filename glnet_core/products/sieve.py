"""Minimum mapping unit: merge class regions smaller than an area into their neighbours.

:func:`sieve_array` is GDAL's sieve filter (4-connectivity by default),
repeated until nothing changes; nodata (255) is never changed and never
absorbs a region, so a region enclosed by nodata alone stays.
:func:`min_area_pixels` turns square metres into the sieve size (the pixel
area of the raster's centre pixel, on the ellipsoid for geographic and
Mercator CRSs); :func:`sieve_mask` applies it to a mask file (whole mask in
memory, one byte per pixel).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from ..errors import InputError
from ..formats.class_mask import holds_class_ids, open_class_mask, read_class_ids, sidecar_path
from ..formats.classes import NODATA
from ..formats.gdal_env import gdal_write_errors, ignore_not_georeferenced
from ..formats.outputs import atomic_file, check_file_target

__all__ = ["min_area_pixels", "sieve_array", "sieve_mask"]

_MAX_SIEVE_PASSES = 64

PathLike = Union[str, "os.PathLike[str]"]


def min_area_pixels(min_area_m2: float, crs, transform, height: int, width: int) -> int:
    """The sieve size (pixels) for a minimum mapping unit of ``min_area_m2``.

    ``ceil(min_area_m2 / pixel area)``; on the ellipsoid (geographic and
    Mercator CRSs) the pixel area of the raster's centre pixel is used.

    Returns
    -------
    int
        At least 1 (1 means: nothing to sieve).
    """
    from ..geo.areas import pixel_area_rows_m2

    if not min_area_m2 or min_area_m2 <= 0:
        return 1
    mid = max(0, int(height) // 2)
    px = float(pixel_area_rows_m2(crs, transform, mid, mid + 1, col=int(width) // 2)[0])
    if not px > 0:
        raise InputError("the mask's pixel area is zero; it has no usable transform")
    return max(1, int(math.ceil(min_area_m2 / px - 1e-9)))


def sieve_array(mask: np.ndarray, size: int, nodata: int = NODATA, connectivity: int = 4) -> np.ndarray:
    """Merge regions smaller than ``size`` pixels into their largest neighbour.

    Parameters
    ----------
    mask:
        2-D class ids (uint8, int16, uint16 or int32).
    size:
        Regions with fewer pixels are merged (GDAL's sieve filter);
        ``size <= 1`` returns a copy.
    nodata:
        Value that is never changed and never absorbs a region (it is
        masked out of the filter); a region surrounded by nodata alone stays.
    connectivity:
        4 (default, as the polygons) or 8.

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and type.
    """
    from rasterio.features import sieve

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {mask.shape}")
    if size <= 1 or mask.size == 0:
        return mask.copy()
    src = mask if mask.dtype in (np.uint8, np.int16, np.uint16, np.int32) else mask.astype(np.int32)
    valid = src != nodata
    out = np.ascontiguousarray(src)
    # One pass of GDAL's filter leaves a small region whose neighbours are
    # all small too (it merges only into regions that are big enough), so
    # repeat until nothing changes: each pass that changes something removes
    # regions, so this ends (in practice after 2-3 passes).
    for _ in range(_MAX_SIEVE_PASSES):
        new = np.asarray(sieve(out, int(size), mask=valid, connectivity=connectivity), dtype=src.dtype)
        if np.array_equal(new, out):
            break
        out = new
    out[~valid] = nodata  # belt and braces: nodata must stay exactly as it was
    return out.astype(mask.dtype, copy=False)


def sieve_mask(
    src_path: PathLike, dst_path: Optional[PathLike] = None, min_area_m2: float = 0.0, overwrite: bool = False
) -> Tuple[Path, int]:
    """Apply a minimum mapping unit to a mask file.

    Reads the whole mask (one byte per pixel), sieves it with
    :func:`sieve_array` and writes it to ``dst_path`` (or back to
    ``src_path`` when None), keeping the profile, colour table, tags and
    category-name sidecar. The new file is written next to the target and
    renamed over it.

    Parameters
    ----------
    src_path:
        The mask GeoTIFF.
    dst_path:
        Where to write; None replaces ``src_path`` (no ``overwrite`` needed).
    min_area_m2:
        Minimum region area in square metres.
    overwrite:
        Allow replacing an existing ``dst_path``.

    Returns
    -------
    (path, size):
        The written mask and the sieve size in pixels (1: nothing changed).

    Raises
    ------
    InputError
        Bad mask, or ``dst_path`` exists without ``overwrite`` (an
        :class:`~glnet.glnet_core.errors.OutputPathError`).
    OutputWriteError
        If writing fails; ``dst_path`` is left as it was.
    """
    import shutil

    import rasterio
    from rasterio.transform import from_gcps

    src_path = Path(src_path)
    dst = Path(dst_path) if dst_path is not None else src_path
    replace = overwrite or dst == src_path
    check_file_target(dst, overwrite=replace)
    with open_class_mask(src_path, "mask") as ds:
        crs, transform = ds.crs, ds.transform
        gcps, gcp_crs = ds.gcps
        if gcps and transform.is_identity:
            # Georeferenced by ground control points: their affine fit gives the pixel size.
            crs, transform = gcp_crs, from_gcps(gcps)
        size = min_area_pixels(min_area_m2, crs, transform, ds.height, ds.width)
        ids = read_class_ids(ds, src_path, 0, ds.height)
        # The file's own values, where they differ from the ids (another nodata value, a wider type).
        data = None if holds_class_ids(ds) else ds.read(1)
        profile = ds.profile
        if gcps:
            profile.pop("transform", None)  # an identity matrix: GDAL would warn, and the GCPs say where it is
        tags = ds.tags()
        try:
            cmap = ds.colormap(1)
        except ValueError:
            cmap = None
        desc = ds.descriptions[0]
    # Sieve the class ids (255 for every kind of nodata) and keep the file's own
    # values where it has nodata, so that only regions change.
    out = sieve_array(ids, size, NODATA)
    if data is not None:
        out = np.where(ids == NODATA, data, out).astype(data.dtype, copy=False)
    # In a part folder: a sidecar GDAL may leave for the part file (statistics)
    # goes with it; the category names are in the mask's sidecar, kept or copied.
    with atomic_file(dst, overwrite=replace, in_folder=True) as part:
        # Also catches a tile flush that fails on close, which GDAL only prints.
        with gdal_write_errors(dst), ignore_not_georeferenced():
            with rasterio.open(str(part), "w", **profile) as o:
                if gcps:
                    o.gcps = (gcps, gcp_crs)
                if cmap:
                    o.write_colormap(1, cmap)
                o.write(out, 1)
                o.update_tags(**tags)
                if desc:
                    o.set_band_description(1, desc)
        aux_src = sidecar_path(src_path)
        if dst != src_path and aux_src.is_file():
            shutil.copyfile(str(aux_src), str(sidecar_path(dst)))
    return dst, size
