"""Training images, read as ``glnet segment`` reads rasters: the one input path of training and inference.

Every training and validation image goes through
:func:`glnet.glnet_core.formats.raster_input.open_raster`, the reader
``glnet segment`` uses, so a model is trained on exactly the numbers it is
later served:

- **bands**: :attr:`ImageReading.bands` (``--bands``), or by default all
  bands when the image has as many as the model, or the first ones when one
  more band follows that is marked as alpha;
- **8 bits**: 8-bit images unchanged; 16-bit, 32-bit and float images
  stretched to 8 bits by :attr:`ImageReading.input_range` (``--input-range``)
  or by each image's 2nd and 98th percentiles, computed over the whole file
  (also when only a crop of it is read);
- **validity**: alpha 0, the nodata value, or the file's mask;
- **resolution**: :func:`pixel_size_m` is the pixel size ``glnet segment``
  compares with a model's resolution (:mod:`glnet.glnet_core.geo.crs`).

GeoTIFF, JPEG and PNG images are all read by GDAL, as ``glnet segment`` reads
them. Headers (:func:`raster_size`) are read with rasterio (GeoTIFF) or Pillow
(JPEG, PNG), which also reads the masks (:mod:`.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from ...glnet_core.engine.grid import ModelGrid
from ...glnet_core.errors import InputError
from ...glnet_core.formats.gdal_env import ignore_not_georeferenced
from ...glnet_core.formats.input_rules import checked_bands, checked_range
from ...glnet_core.formats.raster_input import RasterInput, open_raster
from ...glnet_core.geo.crs import pixel_size
from .pairs import SamplePair

__all__ = [
    "Box",
    "ImageReading",
    "raster_size",
    "pair_size",
    "pixel_size_m",
    "open_image",
    "read_window",
    "read_image",
]

#: ``(row0, col0, height, width)`` of a part of an image, in pixels.
Box = Tuple[int, int, int, int]

PathLike = Union[str, Path]

_GEOTIFF = (".tif", ".tiff")


@dataclass(frozen=True)
class ImageReading:
    """How images are turned into model input: the options ``glnet segment`` takes for its input.

    Attributes
    ----------
    bands:
        1-based source bands in model order (``--bands``); None: the default
        band choice (see the module docstring).
    input_range:
        ``(lo, hi)`` mapped to 0..255 for every band (``--input-range``); None:
        8-bit images unchanged, others by their percentiles.
    """

    bands: Optional[Tuple[int, ...]] = None
    input_range: Optional[Tuple[float, float]] = None

    def __post_init__(self) -> None:
        # The same value rules as segment's InputOptions, checked where the value is made.
        if self.bands is not None:
            object.__setattr__(self, "bands", checked_bands(self.bands, option="--bands"))
        if self.input_range is not None:
            object.__setattr__(self, "input_range", checked_range(self.input_range, option="--input-range"))


def is_geotiff(path: Path) -> bool:
    """Whether ``path`` is named like a GeoTIFF (read with rasterio rather than Pillow)."""
    return path.suffix.lower() in _GEOTIFF


def open_with_pillow(path: Path):
    """The file opened and decoded by Pillow.

    Raises
    ------
    InputError
        ``cannot read PATH: ...`` if Pillow cannot read it.
    """
    from PIL import Image

    try:
        img = Image.open(path)
        img.load()
        return img
    except Exception as exc:  # PIL raises several types for unreadable files
        raise InputError(f"cannot read {path}: {exc}") from None


def open_with_rasterio(path: Path):
    """The file opened by rasterio.

    Raises
    ------
    InputError
        ``cannot read PATH: ...`` (GDAL's first line) if GDAL cannot open it.
    """
    import rasterio

    try:
        return rasterio.open(path)
    except Exception as exc:
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}") from None


def raster_size(path: PathLike) -> Tuple[int, int]:
    """``(height, width)`` of an image or mask file, from its header.

    Raises
    ------
    InputError
        If the file cannot be read.
    """
    path = Path(path)
    if is_geotiff(path):
        with open_with_rasterio(path) as src:
            return int(src.height), int(src.width)
    from PIL import Image

    try:
        with Image.open(path) as img:
            return int(img.height), int(img.width)
    except Exception as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def pair_size(pair: SamplePair) -> Tuple[int, int]:
    """``(height, width)`` of a pair, checking that image and mask agree.

    Raises
    ------
    InputError
        If a file cannot be read or the sizes differ.
    """
    if pair.grid is not None:  # an area of a labelled image (:mod:`.scenes`): checked when it was made
        return pair.grid.size
    image = raster_size(pair.image)
    mask = raster_size(pair.mask)
    if image != mask:
        raise InputError(
            f"mask {pair.mask} is {mask[1]} x {mask[0]} px but image {pair.image} is {image[1]} x {image[0]} px"
        )
    return image


def pixel_size_m(path: PathLike) -> Optional[float]:
    """The pixel size (along a row) in metres that ``glnet segment`` would match a model's resolution with.

    :attr:`glnet.glnet_core.geo.crs.PixelSize.for_model` of the image; None
    without georeferencing or when the CRS has no known unit.
    """
    try:
        with ignore_not_georeferenced():
            with open_with_rasterio(Path(path)) as src:
                size = pixel_size(src.crs, src.transform, src.width, src.height).for_model
    except InputError:
        return None
    return None if size is None else float(size[0])


def open_image(
    path: PathLike,
    bands: int = 3,
    reading: Optional[ImageReading] = None,
    ranges: Optional[Sequence[Tuple[float, float]]] = None,
    probe: bool = True,
) -> RasterInput:
    """An image opened for reading model input, as ``glnet segment`` opens its input.

    Parameters
    ----------
    path:
        A GeoTIFF, JPEG or PNG image (anything GDAL reads).
    bands:
        Bands the network takes (``config.in_channels``).
    reading:
        Band choice and stretch (default :class:`ImageReading()`).
    ranges, probe:
        The per-file work an earlier open of the same image with the same
        ``bands`` and ``reading`` already did: its
        :attr:`~glnet.glnet_core.formats.raster_input.RasterInput.input_range_per_band`
        (not computed again) and the truncation check (``probe=False``: not
        done again); see :func:`~glnet.glnet_core.formats.raster_input.open_raster`.
        The same ranges give the same bytes.

    Raises
    ------
    InputError
        ``cannot read PATH: ...`` naming the cause: missing, damaged or not a
        raster, the wrong number of bands, an invalid ``reading``.
    """
    reading = reading or ImageReading()
    try:
        return open_raster(path, bands, bands=reading.bands, input_range=reading.input_range, ranges=ranges, probe=probe)
    except InputError as exc:
        # The raster input's messages start with the file name; say "cannot read" before it, once.
        text = str(exc)
        name = str(path)
        reason = text[len(name):].lstrip(": ") if text.startswith(name) else text
        raise InputError(f"cannot read {name}: {reason}") from None


def read_image(
    path: PathLike, bands: int = 3, box: Optional[Box] = None, reading: Optional[ImageReading] = None
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """An image (or a part of it) as the 8-bit ``(H, W, bands)`` window ``glnet segment`` would read.

    Parameters
    ----------
    path:
        A GeoTIFF, JPEG or PNG image.
    bands:
        Bands the network takes (``config.in_channels``).
    box:
        ``(row0, col0, height, width)`` to read only that part (the stretch
        still comes from the whole image).
    reading:
        Band choice and stretch (default :class:`ImageReading()`).

    Returns
    -------
    (image, valid):
        ``image`` uint8; ``valid`` a ``(H, W)`` bool array, False where the
        file marks the pixel as nodata (alpha 0, nodata value, mask), or None
        when every pixel is valid.

    Raises
    ------
    InputError
        If the file cannot be read (see :func:`open_image`).
    """
    with open_image(path, bands, reading) as raster:
        return read_window(raster, box)


def read_window(raster: RasterInput, box: Optional[Box] = None, grid: Optional[ModelGrid] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """An opened image's window ``box`` (default: all of it) as :func:`read_image` returns it.

    ``grid``: the model grid ``box`` is on (read as ``glnet segment`` reads
    its windows, resampled to the model's resolution when that differs);
    default: the image's own pixels.

    Raises
    ------
    InputError
        If GDAL fails to read the data (damaged or truncated file).
    """
    if grid is not None:
        if box is None:
            box = (0, 0, *grid.size)
        image, valid = grid.read_box(raster, box[0], box[1], box[2], box[3])
        return image, (None if bool(valid.all()) else valid)
    if box is None:
        box = (0, 0, raster.height, raster.width)
    image, valid = raster.read(box[0], box[1], box[2], box[3])
    return image, (None if bool(valid.all()) else valid)
