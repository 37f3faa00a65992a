"""Windowed, bounded-memory reading of any GDAL raster as model input: the one input path.

:func:`open_raster` opens a raster, checks it once up front (readable,
non-empty, not truncated, the right number of bands) and returns a
:class:`RasterInput`. Its :meth:`RasterInput.read` returns one window at a
time as an 8-bit ``(h, w, C)`` image plus a validity mask, so a raster of any
size is processed with memory bounded by the window size. ``glnet segment``
reads its input with it, and training reads its images with it
(:mod:`glnet.models.data.images`), so a model is trained on the numbers it is
served.

What the model sees
-------------------
- **Bands**: ``bands`` (1-based, in model order, repeats allowed, e.g.
  ``(1, 1, 1)`` for a grey image) or, by default, all bands when the raster
  has exactly as many bands as the model, or the first ``model_bands`` when
  one more band follows that GDAL marks as alpha.
- **8 bits** (:mod:`glnet_core.formats.raster_stretch`): 8-bit data are
  passed unchanged. Other types (16-bit, 32-bit, float) are mapped per band
  linearly from a range ``(lo, hi)`` to 0..255, the same for every window:
  ``input_range`` for every band, or by default the 2nd and 98th percentiles
  of each band's valid pixels in a sample read at open time
  (:attr:`RasterInput.input_range_per_band`). An explicit ``input_range`` is
  applied to 8-bit data too (a contrast stretch the user asked for).
- **Validity** (:attr:`RasterInput.nodata_source`), first rule that applies:

  ``"alpha"``: a band with colour interpretation alpha exists; pixels whose
  alpha is 0 are invalid (also when ``bands`` does not include the alpha band).
  ``"nodata"``: a nodata value is set; pixels where every chosen band that has
  a nodata value equals it are invalid.
  ``"mask"``: GDAL reports a per-dataset mask (an internal ``.msk`` mask or an
  external ``.tif.msk`` file); pixels where it is 0 are invalid.
  ``"none"``: every pixel is valid.

  In floating-point rasters, pixels where a chosen band is NaN or infinite are
  invalid in every case (the network cannot take them).
- **Outside the raster**: reads are boundless; pixels outside are 0 and
  invalid. Inside, the image values of invalid pixels are whatever the data
  hold (exact reads) or 0 / their valid neighbours' (resampled reads): use
  ``valid``, not the image, to tell them apart.

Resampling
----------
``read(..., out_shape=(h, w))`` samples the window, whose offsets and size may
be fractional, onto an ``h x w`` grid with Pillow's bilinear filter
(:mod:`glnet_core.formats.bilinear_filter`: a triangle whose support widens
with the reduction factor, so downsampling is antialiased), generalised to
fractional windows: for an integer window resized to its own size it is the
identity, and for a whole raster it is
:func:`glnet_core.engine.resample.resize_float`. Invalid and outside pixels get
zero weight, so nodata does not bleed into valid pixels; an output pixel is
valid where at least half of its filter weight falls on valid pixels. The
resampling is done here with numpy, not by GDAL, so that it does not depend on
which overviews a file happens to have.

Pixel size
----------
:attr:`RasterInput.pixel_size_m` (the one to compare with a model's
resolution) and :attr:`RasterInput.ground_pixel_size_m` follow the rules of
:mod:`glnet_core.geo.crs` (:func:`~glnet_core.geo.crs.pixel_size`).

Threads: a :class:`RasterInput` (like the GDAL dataset under it) must be used
from one thread at a time.

Compatible with rasterio 1.3+ and numpy 1.24+.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.windows import Window

from ..errors import InputError
from ..geo.crs import pixel_size
from .bilinear_filter import triangle_taps
from .gdal_env import gdal_error_text, gdal_errors, ignore_not_georeferenced
from .input_paths import check_input_path
from .input_rules import checked_range
from .raster_stretch import Stretch, percentile_ranges, read_sample, round_half_up, to_uint8

__all__ = ["RasterInput", "open_raster"]

# Everything GDAL can raise through rasterio for a bad file.
_GDAL_ERRORS = gdal_errors()
# Source values per resampling chunk (per band): bounds the float32 work arrays
# to a few tens of MB whatever the window and the reduction factor.
_CHUNK_VALUES = 4_000_000
_BAND_NAMES = {3: ("red", "green", "blue")}

PathLike = Union[str, "os.PathLike[str]"]


# GDAL's own message for an error (rasterio often says only 'see previous exception').
_cause = gdal_error_text


def _is_integer(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _axis_taps(offset: float, length: float, n_out: int, n_src: int):
    """Pillow's bilinear taps of ``n_out`` output pixels over source span ``[offset, offset + length)``.

    Returns ``(index, weight_in, weight_all)``: ``index`` (n_out, T) absolute
    source indexes clipped into the raster, ``weight_in`` the weights of taps
    inside the raster (0 for taps outside), ``weight_all`` (n_out,) the total
    weight including outside taps (the validity fraction's denominator).
    """
    index, weight = triangle_taps(offset, length, n_out)
    weight_all = weight.sum(axis=1)
    inside = (index >= 0) & (index < n_src)
    weight_in = np.where(inside, weight, 0.0)
    return np.clip(index, 0, n_src - 1), weight_in, weight_all


class RasterInput:
    """An open raster, read window by window as 8-bit images with a validity mask.

    Create it with :func:`open_raster`. Use it as a context manager or call
    :meth:`close`.

    Attributes
    ----------
    path: the file name as given.
    width, height: raster size in pixels.
    crs: :class:`rasterio.crs.CRS` or None.
    transform: pixel-to-CRS :class:`affine.Affine` (identity without georeferencing).
    gcps: the raster's ground control points (rasterio ``GroundControlPoint``; empty for none).
    gcp_crs: their CRS, or None.
    rpcs: its rational polynomial coefficients (rasterio ``RPC``), or None.
    georeferenced: whether the raster has a CRS, a geotransform, GCPs or RPCs.
    bands: 1-based source band indexes fed to the model, in model order.
    band_count: number of bands in the source.
    alpha_band: 1-based index of the alpha band, or None.
    dtype: source data type name (``"uint8"``, ``"uint16"``, ...).
    nodata_source: ``"alpha"``, ``"nodata"``, ``"mask"`` or ``"none"``.
    nodata_values: per chosen band, its nodata value or None.
    pixel_size_m: size (x, y) of a pixel in metres to compare with a model's resolution, or None
        (nominal for projected CRSs with little scale distortion, else the ground size: see the module docstring).
    ground_pixel_size_m: true ground size (x, y) of the centre pixel in metres, or None.
    input_range_per_band: per chosen band the ``(lo, hi)`` mapped to 0..255, or None (8-bit data passed unchanged).
    block_shape: (rows, cols) of the source's storage blocks (windows aligned to them read fastest).
    """

    def __init__(
        self,
        path: PathLike,
        model_bands: int,
        bands: Optional[Sequence[int]] = None,
        input_range: Optional[Tuple[float, float]] = None,
        band_names: Optional[Sequence[str]] = None,
        ranges: Optional[Sequence[Tuple[float, float]]] = None,
        probe: bool = True,
    ) -> None:
        """Open and check ``path``; see :func:`open_raster`."""
        self.path = os.fspath(path)
        self._ds = None
        if model_bands < 1:
            raise ValueError(f"model_bands must be positive, got {model_bands}")
        self._check_file()
        try:
            with ignore_not_georeferenced():  # plain JPEG/PNG are fine inputs
                self._ds = rasterio.open(self.path)
        except _GDAL_ERRORS as exc:
            text = _cause(exc)
            if "not recognized" in text or "not recognised" in text:
                raise InputError(f"{self.path} is not a raster GDAL can read") from None
            raise InputError(f"GDAL cannot open {self.path}: {text}") from None
        try:
            self._setup(model_bands, bands, input_range, band_names, ranges, probe)
        except _GDAL_ERRORS as exc:
            # Metadata GDAL opened but cannot read (a remote file that went away): one line, not a traceback.
            self.close()
            raise InputError(f"GDAL cannot read {self.path}: {_cause(exc)}") from None
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------

    def _check_file(self) -> None:
        # A pipe, device or socket would block or never end: refused before GDAL opens it.
        check_input_path(self.path)
        # GDAL virtual paths (/vsicurl/..., /vsizip/...) and URLs are not local files.
        if self.path.startswith("/vsi") or "://" in self.path:
            return
        p = Path(self.path)
        if not p.exists():
            raise InputError(f"{self.path} does not exist")
        if p.is_file() and p.stat().st_size == 0:
            raise InputError(f"{self.path} is empty (0 bytes), not a raster")

    def _setup(self, model_bands, bands, input_range, band_names, ranges=None, probe=True) -> None:
        ds = self._check_open()
        with ignore_not_georeferenced():
            self.width = int(ds.width)
            self.height = int(ds.height)
            self.crs = ds.crs
            self.transform = ds.transform
            # Georeferencing by control points (a scan, a raw satellite scene), kept for the outputs.
            gcps, gcp_crs = ds.gcps
            self.gcps: Tuple = tuple(gcps or ())
            self.gcp_crs = gcp_crs if self.gcps else None
            self.rpcs = ds.rpcs
        if self.width <= 0 or self.height <= 0 or ds.count <= 0:
            raise InputError(f"{self.path} is empty ({self.width} x {self.height} pixels, {ds.count} bands)")
        self.georeferenced = (self.crs is not None or not self.transform.is_identity or bool(self.gcps)
                              or self.rpcs is not None)
        self.band_count = int(ds.count)

        alpha = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
        self.alpha_band: Optional[int] = alpha[0] if alpha else None
        self.bands = self._choose_bands(model_bands, bands, band_names)
        # Mixed band types are rare; read them all as the type numpy finds for them together.
        self.dtype = str(np.result_type(*[np.dtype(ds.dtypes[b - 1]) for b in self.bands]))
        if np.dtype(self.dtype).kind == "c":
            raise InputError(f"{self.path} has complex-valued bands ({self.dtype}); convert them to a real type first")
        self._float = np.dtype(self.dtype).kind == "f"

        self.nodata_values: Tuple[Optional[float], ...] = tuple(ds.nodatavals[b - 1] for b in self.bands)
        if self.alpha_band is not None:
            self.nodata_source = "alpha"
        elif any(v is not None for v in self.nodata_values):
            self.nodata_source = "nodata"
        elif any(MaskFlags.per_dataset in ds.mask_flag_enums[b - 1] for b in self.bands):
            self.nodata_source = "mask"
        else:
            self.nodata_source = "none"
        # Unique source bands to read (alpha too), and where each model band is among them.
        alpha_read = [self.alpha_band] if self.alpha_band is not None and self.nodata_source == "alpha" else []
        wanted = list(dict.fromkeys(list(self.bands) + alpha_read))
        self._read_indexes: List[int] = wanted
        self._band_pos = [wanted.index(b) for b in self.bands]
        self._alpha_pos = wanted.index(alpha_read[0]) if alpha_read else None

        try:
            rows, cols = ds.block_shapes[self.bands[0] - 1]
            self.block_shape: Tuple[int, int] = (int(rows), int(cols))
        except Exception:
            self.block_shape = (1, self.width)
        size = pixel_size(self.crs, self.transform, self.width, self.height)
        self.ground_pixel_size_m = size.ground
        self.pixel_size_m = size.for_model

        # Truncated or damaged files: GDAL opens them, reading fails. Read the first
        # and the last pixel (their whole blocks are decoded) so that this shows now,
        # not hours into a run. The last block is at the end of a GDAL-written file.
        self._stretch: Optional[Stretch] = None
        self.input_range_per_band: Optional[Tuple[Tuple[float, float], ...]] = None
        if probe:
            self._read_source(Window(0, 0, 1, 1))
            self._read_source(Window(self.width - 1, self.height - 1, 1, 1))

        if input_range is not None:
            self._set_ranges([checked_range(input_range)] * len(self.bands))
        elif ranges is not None:  # an earlier open's percentiles: the file is not sampled again
            if len(ranges) != len(self.bands):
                raise ValueError(f"ranges has {len(ranges)} (lo, hi) pair(s) for {len(self.bands)} band(s)")
            self._set_ranges(ranges)
        elif self.dtype != "uint8":
            data, valid = read_sample(self._read_source, self.width, self.height, bool(ds.overviews(self.bands[0])))
            self._set_ranges(percentile_ranges(data, valid, self.dtype))

    def _choose_bands(self, model_bands: int, bands: Optional[Sequence[int]], band_names) -> Tuple[int, ...]:
        names = tuple(band_names) if band_names is not None else _BAND_NAMES.get(model_bands)
        expects = f"the model expects {model_bands}" + (f" ({', '.join(names)})" if names else "")
        count = self.band_count
        if bands is not None:
            chosen = tuple(bands)
            if len(chosen) != model_bands:
                raise InputError(
                    f"{self.path}: --bands lists {len(chosen)} band(s), {expects}"
                )
            bad = [b for b in chosen if not isinstance(b, (int, np.integer)) or isinstance(b, bool) or not 1 <= b <= count]
            if bad:
                raise InputError(
                    f"{self.path}: --bands {','.join(str(b) for b in chosen)} names band(s) "
                    f"{','.join(str(b) for b in bad)}, but the raster has bands 1 to {count}"
                )
            return tuple(int(b) for b in chosen)
        if count == model_bands:
            return tuple(range(1, count + 1))
        if count == model_bands + 1 and self.alpha_band == count:
            return tuple(range(1, model_bands + 1))
        example = ",".join(str(i) for i in range(1, model_bands + 1)) if count >= model_bands else ",".join(["1"] * model_bands)
        raise InputError(
            f"{self.path} has {count} band(s), {expects}: choose them with --bands, e.g. --bands {example}"
        )

    def _set_ranges(self, ranges: Sequence[Tuple[float, float]]) -> None:
        self._stretch = Stretch.of(ranges)
        self.input_range_per_band = self._stretch.ranges

    # -- reading -----------------------------------------------------------

    def _read_source(self, window: Window, out_shape: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Raw values ``(C, h, w)`` in the source type and validity ``(h, w)`` of an in-raster window.

        With ``out_shape``, GDAL decimates with nearest neighbour (percentile sample only).
        Non-finite float values are set to 0 and marked invalid.
        """
        ds = self._check_open()
        shape = None if out_shape is None else (len(self._read_indexes),) + tuple(out_shape)
        try:
            raw = ds.read(self._read_indexes, window=window, out_shape=shape, resampling=Resampling.nearest)
            mask = None
            if self.nodata_source == "mask":
                mshape = None if out_shape is None else tuple(out_shape)
                mask = ds.read_masks(self.bands[0], window=window, out_shape=mshape, resampling=Resampling.nearest)
        except _GDAL_ERRORS as exc:
            raise InputError(
                f"{self.path} is damaged or truncated: reading rows {window.row_off:g} to "
                f"{window.row_off + window.height:g}, columns {window.col_off:g} to "
                f"{window.col_off + window.width:g} failed ({_cause(exc)})"
            ) from None
        # A view, not a copy, in the usual case (model bands first, in order).
        n = len(self.bands)
        data = raw[:n] if self._band_pos == list(range(n)) else raw[self._band_pos]
        if data.dtype != np.dtype(self.dtype):
            data = data.astype(self.dtype)
        h, w = data.shape[1:]
        if self.nodata_source == "alpha":
            valid = raw[self._alpha_pos] != 0
        elif self.nodata_source == "nodata":
            hit = None
            for k, nd in enumerate(self.nodata_values):
                if nd is None:
                    continue
                eq = self._equals(data[k], nd)
                hit = eq if hit is None else (hit & eq)
            valid = ~hit if hit is not None else np.ones((h, w), dtype=bool)
        elif self.nodata_source == "mask":
            valid = mask != 0
        else:
            valid = np.ones((h, w), dtype=bool)
        if self._float:
            finite = np.isfinite(data).all(axis=0)
            if not finite.all():
                valid = valid & finite
                data = np.where(np.isfinite(data), data, 0).astype(data.dtype)
        return data, valid

    @staticmethod
    def _equals(band: np.ndarray, nodata: float) -> np.ndarray:
        """``band == nodata`` without numpy casting surprises (NaN, values the type cannot hold)."""
        dt = band.dtype
        if dt.kind == "f":
            if math.isnan(nodata):
                return np.isnan(band)
            return band == dt.type(nodata)
        info = np.iinfo(dt)
        if float(nodata).is_integer() and info.min <= nodata <= info.max:
            return band == dt.type(int(nodata))
        return np.zeros(band.shape, dtype=bool)  # a nodata value this type cannot hold matches nothing

    # -- validity of regions, for skipping empty windows ----------------------

    #: Per unit ``(i, j)`` of :meth:`_valid_unit`: whether it holds a valid pixel (filled as asked).
    _unit_valid: Optional[dict] = None
    #: Whether a GeoTIFF block that is not stored reads as invalid here (None: not yet seen).
    _absent_is_invalid: Optional[bool] = None

    def any_valid(self, row_off: float, col_off: float, height: float, width: float) -> bool:
        """Whether the in-raster part of a region may hold a valid pixel; False means it holds none.

        For skipping the empty windows of a sparse raster at almost no cost.
        The raster is checked in units of its storage blocks (at least 256
        px a side, at most 2048), each unit once for the life of this object;
        a GeoTIFF block that the file does not store (a sparse file) is not
        read at all where it reads as invalid. The answer is per unit, so True
        may come for a region whose units hold valid pixels only outside it
        (the caller reads the region then).

        Parameters
        ----------
        row_off, col_off, height, width:
            The region in raster pixels; the part outside the raster is
            ignored.

        Raises
        ------
        InputError
            If GDAL fails to read a unit (damaged file).
        """
        self._check_open()
        r0, r1 = max(0, int(math.floor(row_off))), min(self.height, int(math.ceil(row_off + height)))
        c0, c1 = max(0, int(math.floor(col_off))), min(self.width, int(math.ceil(col_off + width)))
        if r0 >= r1 or c0 >= c1:
            return False
        if self.nodata_source == "none":
            return True
        uh, uw = self._unit_shape()
        for i in range(r0 // uh, (r1 - 1) // uh + 1):
            for j in range(c0 // uw, (c1 - 1) // uw + 1):
                if self._valid_unit(i, j):
                    return True
        return False

    def _unit_shape(self) -> Tuple[int, int]:
        def side(block: int) -> int:
            block = max(1, min(int(block), 2048))
            return block * max(1, -(-256 // block))

        return side(self.block_shape[0]), side(self.block_shape[1])

    def _valid_unit(self, i: int, j: int) -> bool:
        if self._unit_valid is None:
            self._unit_valid = {}
        known = self._unit_valid.get((i, j))
        if known is not None:
            return known
        uh, uw = self._unit_shape()
        r0, c0 = i * uh, j * uw
        h, w = min(uh, self.height - r0), min(uw, self.width - c0)
        absent = self._not_stored(r0, c0, h, w)
        if absent and self._absent_is_invalid is not None:
            has = not self._absent_is_invalid
        else:
            _, valid = self._read_source(Window(c0, r0, w, h))
            has = bool(valid.any())
            if absent:  # what GDAL fills an absent block with is read once, not assumed
                self._absent_is_invalid = not has
        self._unit_valid[(i, j)] = has
        return has

    def _not_stored(self, row: int, col: int, h: int, w: int) -> bool:
        """Whether no GeoTIFF block under the region is stored, in every band the validity depends on."""
        ds = self._check_open()
        if ds.driver != "GTiff" or self.nodata_source not in ("nodata", "alpha"):
            return False
        if self.nodata_source == "alpha":
            deciding = [self.alpha_band]
        else:
            deciding = [b for b, nd in zip(self.bands, self.nodata_values) if nd is not None]
        bh, bw = self.block_shape
        for b in deciding:
            for bi in range(row // bh, (row + h - 1) // bh + 1):
                for bj in range(col // bw, (col + w - 1) // bw + 1):
                    offset = ds.get_tag_item(f"BLOCK_OFFSET_{bj}_{bi}", "TIFF", bidx=b)
                    if offset not in (None, "", "0"):
                        return False
        return True

    def read(
        self,
        row_off: float,
        col_off: float,
        height: float,
        width: float,
        out_shape: Optional[Tuple[int, int]] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """One window as an 8-bit image and its validity.

        Parameters
        ----------
        row_off, col_off:
            Top-left corner of the window in raster pixels; fractional and
            negative values are allowed.
        height, width:
            Window size in raster pixels (positive, fractional allowed); the
            window may extend past the raster (boundless read).
        out_shape:
            ``(h, w)`` to resample the window to (see the module docstring).
            Default: ``(round(height), round(width))``; an integer window is
            then read as is, a fractional one resampled.

        Returns
        -------
        (image, valid):
            ``image`` ``(h, w, C)`` uint8 in model band order, 0 outside the
            raster; ``valid`` ``(h, w)`` bool, False outside the raster and
            where the data are nodata.

        Raises
        ------
        InputError
            If GDAL fails to read the data (damaged or truncated file).
        ValueError
            For a non-positive window or output size, or a closed raster.
        """
        self._check_open()
        if not (height > 0 and width > 0):
            raise ValueError(f"window size must be positive, got {height} x {width}")
        if out_shape is None:
            oh, ow = max(1, round_half_up(height)), max(1, round_half_up(width))
        else:
            oh, ow = (int(v) for v in out_shape)
            if oh <= 0 or ow <= 0:
                raise ValueError(f"out_shape must be positive, got {out_shape}")
        if all(_is_integer(v) for v in (row_off, col_off)) and _is_integer(height) and _is_integer(width) \
                and (oh, ow) == (round(height), round(width)):
            return self._read_exact(int(round(row_off)), int(round(col_off)), oh, ow)
        return self._read_resampled(float(row_off), float(col_off), float(height), float(width), oh, ow)

    def _read_exact(self, row: int, col: int, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
        c = len(self.bands)
        image = np.zeros((h, w, c), dtype=np.uint8)
        valid = np.zeros((h, w), dtype=bool)
        r0, r1 = max(row, 0), min(row + h, self.height)
        c0, c1 = max(col, 0), min(col + w, self.width)
        if r0 < r1 and c0 < c1:
            # Read only the part inside the raster and pad ourselves: cheaper and
            # more predictable than rasterio's boundless (VRT-based) reads.
            data, ok = self._read_source(Window(c0, r0, c1 - c0, r1 - r0))
            image[r0 - row : r1 - row, c0 - col : c1 - col] = to_uint8(data, self._stretch)
            valid[r0 - row : r1 - row, c0 - col : c1 - col] = ok
        return image, valid

    def _read_resampled(
        self, row: float, col: float, height: float, width: float, oh: int, ow: int
    ) -> Tuple[np.ndarray, np.ndarray]:
        c = len(self.bands)
        image = np.zeros((oh, ow, c), dtype=np.uint8)
        valid = np.zeros((oh, ow), dtype=bool)
        yi, yw, yall = _axis_taps(row, height, oh, self.height)
        xi, xw, xall = _axis_taps(col, width, ow, self.width)
        used_x = xw > 0
        if not used_x.any() or not (yw > 0).any():
            return image, valid  # entirely outside the raster
        cmin, cmax = int(xi[used_x].min()), int(xi[used_x].max()) + 1
        xi_local = (np.clip(xi, cmin, cmax - 1) - cmin).astype(np.intp)
        xw32 = xw.astype(np.float32)
        src_w = cmax - cmin
        # Output rows per chunk: keep the source strip near _CHUNK_VALUES values per band.
        rows_per_out = max(height / oh, 1.0) * 2 + 1
        step = max(1, int(_CHUNK_VALUES / (src_w * rows_per_out)))
        for i0 in range(0, oh, step):
            i1 = min(oh, i0 + step)
            wy = yw[i0:i1]
            used_y = wy > 0
            if not used_y.any():
                continue
            rmin, rmax = int(yi[i0:i1][used_y].min()), int(yi[i0:i1][used_y].max()) + 1
            yi_local = (np.clip(yi[i0:i1], rmin, rmax - 1) - rmin).astype(np.intp)
            wy32 = wy.astype(np.float32)
            data, ok = self._read_source(Window(cmin, rmin, src_w, rmax - rmin))
            v = ok.astype(np.float32)
            # Vertical pass, validity-weighted: A = sum_t wy * v * x, B = sum_t wy * v.
            b_rows = np.zeros((i1 - i0, src_w), dtype=np.float32)
            for t in range(yi_local.shape[1]):
                b_rows += wy32[:, t : t + 1] * v[yi_local[:, t]]
            den = np.zeros((i1 - i0, ow), dtype=np.float32)
            for t in range(xi_local.shape[1]):
                den += xw32[None, :, t] * b_rows[:, xi_local[:, t]]
            values = np.zeros((c, i1 - i0, ow), dtype=np.float32)
            for k in range(c):
                xv = data[k].astype(np.float32) * v
                a_rows = np.zeros((i1 - i0, src_w), dtype=np.float32)
                for t in range(yi_local.shape[1]):
                    a_rows += wy32[:, t : t + 1] * xv[yi_local[:, t]]
                num = np.zeros((i1 - i0, ow), dtype=np.float32)
                for t in range(xi_local.shape[1]):
                    num += xw32[None, :, t] * a_rows[:, xi_local[:, t]]
                values[k] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            image[i0:i1] = to_uint8(values, self._stretch)
            # Valid where at least half of the filter's weight (outside taps included) is on valid pixels.
            total = (yall[i0:i1, None] * xall[None, :]).astype(np.float32)
            valid[i0:i1] = den >= 0.5 * total - 1e-6
        return image, valid

    # -- life cycle --------------------------------------------------------

    def _check_open(self):
        if self._ds is None:
            raise ValueError(f"{self.path} is closed")
        return self._ds

    def close(self) -> None:
        """Release the GDAL dataset; further reads raise ValueError. Safe to call twice."""
        ds, self._ds = self._ds, None
        if ds is not None:
            ds.close()

    def __enter__(self) -> "RasterInput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        """A one-line summary for logs: size, bands, type, validity source, pixel size."""
        size = "unknown pixel size" if self.pixel_size_m is None else f"{self.pixel_size_m[0]:.4g} x {self.pixel_size_m[1]:.4g} m pixels"
        return (
            f"{self.path}: {self.width} x {self.height} px, bands {','.join(map(str, self.bands))} of {self.band_count} "
            f"({self.dtype}), validity from {self.nodata_source}, {size}"
        )

    def __repr__(self) -> str:
        return f"<RasterInput {self.describe()}>"


def open_raster(
    path: PathLike,
    model_bands: int,
    bands: Optional[Sequence[int]] = None,
    input_range: Optional[Tuple[float, float]] = None,
    band_names: Optional[Sequence[str]] = None,
    ranges: Optional[Sequence[Tuple[float, float]]] = None,
    probe: bool = True,
) -> RasterInput:
    """Open a raster for windowed inference, checking it up front.

    Parameters
    ----------
    path:
        Any raster GDAL reads (GeoTIFF, COG, JPEG, PNG, VRT, ``/vsi...`` paths).
    model_bands:
        Number of bands the model takes.
    bands:
        1-based source bands in model order (repeats allowed); default: see
        the module docstring.
    input_range:
        ``(lo, hi)`` mapped linearly to 0..255 for every band; default: 8-bit
        data unchanged, other types from per-band percentiles.
    band_names:
        Names of the model's bands for error messages (default ``red, green,
        blue`` for 3 bands).
    ranges:
        Per model band the ``(lo, hi)`` an earlier open of the same file with
        the same ``bands`` found (its :attr:`RasterInput.input_range_per_band`),
        used instead of sampling the file for its percentiles again, so the
        same bytes come out; ignored when ``input_range`` is given. Default
        (None): found as described in the module docstring.
    probe:
        Read the first and the last pixel now, so that a truncated file fails
        here (default). False skips that for a file an earlier open already
        checked (training reopens each image for every sample).

    Returns
    -------
    RasterInput

    Raises
    ------
    InputError
        One line naming the file and the cause: the file is missing, empty,
        not a raster, damaged or truncated, has the wrong number of bands, or
        ``bands`` / ``input_range`` are invalid.
    """
    return RasterInput(
        path, model_bands, bands=bands, input_range=input_range, band_names=band_names, ranges=ranges, probe=probe
    )
