"""Atomic, bounded-memory writing of the engine's single-band uint8 GeoTIFF outputs.

The format itself (colour table, category names, how masks are read) is
:mod:`.class_mask`; this module writes it.

:class:`MaskWriter` writes a class mask (or a confidence map) on the input's
grid block by block, as the engine produces them:

- GeoTIFF, uint8, one band, tiled 512 x 512, DEFLATE (no predictor), nodata
  255, ``BIGTIFF=IF_SAFER``; committed as a Cloud Optimized GeoTIFF with
  internal overviews (below); the input's size, CRS and transform (none when the
  input has none), or its ground control points (GCPs, with their CRS) and
  RPCs for an input georeferenced by them. Areas never written are 255 (GDAL
  fills unwritten tiles with the nodata value when the file is closed), so a
  caller need not write blocks that hold nothing.
- ``kind="classes"``: a colour table from the class colours (255 is
  transparent) and the class names as GDAL category names. GeoTIFF cannot hold
  category names and rasterio cannot write them, so they go into the GDAL PAM
  sidecar ``NAME.aux.xml`` (``<CategoryNames>`` of band 1), which GDAL and QGIS
  read, with the display labels that differ from the names' defaults as band
  metadata beside them (``glnet_class_label_<id>``, see :mod:`.class_mask`).
- ``kind="confidence"``: values 0..100 (percent), no colour table, unit
  ``percent``.
- A QGIS style ``NAME.qml`` beside ``NAME.tif`` (:mod:`.layer_style`), which
  QGIS applies whenever the file is opened: a class mask shows exactly its
  classes (with their labels, semi-transparent) instead of the colour
  table's 256 entries; a confidence raster a grey 0-100 % stretch.
- Optional provenance ``tags`` (dataset metadata, e.g. the model and its
  version).

Atomicity: everything goes to a hidden part file next to the output,
``.NAME.part`` (and ``.NAME.part.aux.xml``); :meth:`MaskWriter.commit` renames
it to ``NAME`` at the very end, so ``NAME`` is never a half-written file. The
style is written at commit as ``.NAME.part.qml`` and renamed with the part.
:meth:`MaskWriter.abort` deletes the part files and never touches ``NAME``.

Resuming: :meth:`MaskWriter.close` (or leaving the ``with`` block without
committing) keeps the part file; a new writer with ``resume=True`` reopens it
and keeps what it holds. :meth:`MaskWriter.flush` makes the blocks written so
far durable (GDAL writes a GeoTIFF's tile index only when the file is closed,
so blocks written after the last flush are lost if the process is killed).

Failures: everything GDAL and libtiff report while the part is created,
written, flushed or closed (also what they only print, such as a tile flush
on close that hits a full disk) is one
:class:`~glnet.glnet_core.errors.OutputWriteError` naming the output
(:func:`.gdal_env.gdal_write_errors`); a flush that fails is such an error,
never a "cannot resume".

Writes need not be aligned, but blocks aligned to the 512-pixel tiles are the
cheapest: a compressed tile that is completed by a later write may have to be
recompressed and stored again, and the part then holds dead space.

Reproducible bytes: :meth:`MaskWriter.commit` copies the part into a fresh
file, tile after tile in order (GDAL's CreateCopy), before the rename. The
committed file's bytes then depend only on what it holds, never on the order
in which windows were written, when the part was flushed or whether the run
was resumed: a pipelined run, a sequential one and a resumed one give the same
bytes, and no dead space is left. The copy streams tiles (bounded memory) and
costs about one re-compression of the mask, small beside the network.

Cloud Optimized GeoTIFF: the copy is made by GDAL's COG driver, so the
committed file is a COG (checked by :mod:`.cog_layout`): the same tiles and
compression, plus internal overviews halving the size down to the first level
that fits in one 512 x 512 tile, every IFD before the data, the smallest
overview's data first. A reader (QGIS) showing the whole of a large mask then
reads a few small tiles instead of all of them. Overviews never average: a
class mask's use ``MODE`` (each overview pixel is the most frequent class of
the block it covers, nodata ignored), a confidence raster's ``NEAREST`` (a
pixel of the block: the mode of percentages is an arbitrary pick among nearly
distinct values, and costs more). The driver keeps the colour table, nodata,
band description and unit, dataset tags, CRS and transform, GCPs and RPCs
(GDAL 3.6 and 3.10 alike, which also write the same bytes). It computes the
overviews into a temporary file next to the copy (``.NAME.part.compact.ovr.tmp``,
removed with the part) and streams them, so memory stays bounded: a commit of
a 64 MP mask peaked at 110 MB (MODE; 97 MB for NEAREST) where the plain copy
took 68 MB, and 120 MB at 256 MP (64 MB GDAL cache, 2026-12-02). It takes
about twice the plain copy's time (8 s instead of 4 s at 64 MP on 2 cores),
MODE some 10-30 % more than NEAREST, still small beside the network.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.windows import Window

from ..errors import InputError, OutputWriteError
from .class_mask import category_names_xml, colour_table, sidecar_path, table_styles
from .classes import NODATA, ClassTable
from .gdal_env import gdal_errors, gdal_write_errors, ignore_not_georeferenced
from .layer_style import confidence_qml, mask_qml, qml_sidecar_path
from .output_plan import qml_part_path
from .outputs import check_file_target, commit_file, part_path, remove_part
from .part_lock import PartLock

__all__ = ["MaskWriter", "TILE_SIZE", "KINDS", "OVERVIEW_RESAMPLING"]

TILE_SIZE = 512
KINDS = ("classes", "confidence")
#: Creation options of the part file of every mask and confidence GeoTIFF (the compact copy: _COG_CREATION).
_CREATION = dict(tiled=True, blockxsize=TILE_SIZE, blockysize=TILE_SIZE, compress="deflate", predictor=1,
                 bigtiff="IF_SAFER", interleave="band")
#: Creation options of the committed copy (GDAL's COG driver): the part's tiles and compression, with overviews
#: always computed from the pixels (AUTO would copy the overviews of a part that is itself a COG copy, left by a
#: killed commit and written to since by the resumed run: stale overviews).
_COG_CREATION = dict(blocksize=TILE_SIZE, compress="deflate", predictor="NO", bigtiff="IF_SAFER",
                     overviews="IGNORE_EXISTING")
#: How each kind's overviews are computed: never an average (see the module's "Cloud Optimized GeoTIFF").
OVERVIEW_RESAMPLING = {"classes": "MODE", "confidence": "NEAREST"}
# What GDAL raises, and the system's own errors (a full disk while closing).
_GDAL_ERRORS = gdal_errors() + (OSError,)


def _fsync(path: Path) -> None:
    """Make ``path``'s data durable (a flushed part must survive a power cut, for --resume)."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, getattr(errno, "ENOTSUP", errno.EINVAL)):  # file systems that cannot sync
            raise
    finally:
        os.close(fd)


def _open_for_update(path: Path):
    """Open a part file in update mode, also one already copied into a COG.

    A commit killed after its COG copy replaced the part leaves a COG as the
    part; GDAL 3.10 refuses to update a COG unless told that its layout may
    break, which does not matter here: the commit copies the part afresh.
    """
    return rasterio.open(str(path), "r+", IGNORE_COG_LAYOUT_BREAK="YES")


def _same_transform(a: Affine, b: Affine) -> bool:
    return all(abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)) for x, y in zip(tuple(a)[:6], tuple(b)[:6]))


class MaskWriter:
    """Writes a uint8 single-band GeoTIFF on the input grid, atomically.

    Blocks go to a hidden part file next to ``path`` (``.NAME.part``), renamed
    to ``path`` by :meth:`commit`. Memory use is GDAL's block cache; the
    raster is never held whole.

    Parameters
    ----------
    path:
        The output GeoTIFF.
    width, height:
        Raster size in pixels (the input's).
    crs:
        The input's CRS (anything rasterio accepts), or None.
    transform:
        The input's pixel-to-CRS transform, or None / identity for none.
    gcps:
        The input's ground control points (rasterio ``GroundControlPoint``),
        written with ``crs`` as their CRS when the input has no transform;
        None or empty for none.
    rpcs:
        The input's rational polynomial coefficients (rasterio ``RPC``), or None.
    classes:
        Class table for the colour table and category names (``kind="classes"``);
        None writes neither.
    kind:
        ``"classes"`` or ``"confidence"`` (0-100 %, no colour table).
    resume:
        Reopen an existing part file and keep its content; it must exist and
        have the same size and grid.
    overwrite:
        Allow :meth:`commit` to replace an existing ``path``.
    tags:
        Provenance metadata written as dataset tags (keys and values as strings).
    option:
        The command-line option that named ``path`` (``"--out-mask"``),
        named in error messages; None for none.

    Raises
    ------
    InputError
        ``path`` exists without ``overwrite``, is a folder, its folder is
        missing (an :class:`~glnet.glnet_core.errors.OutputPathError`, see
        :func:`.outputs.check_file_target`), or a part file to resume is
        missing or does not fit.
    OutputWriteError
        If the part file cannot be created.
    ValueError
        For a bad ``kind`` or size.
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        width: int,
        height: int,
        crs,
        transform: Optional[Affine],
        classes: Optional[ClassTable],
        gcps: Optional[Sequence[Any]] = None,
        rpcs: Any = None,
        kind: str = "classes",
        resume: bool = False,
        overwrite: bool = False,
        tags: Optional[Mapping[str, object]] = None,
        option: Optional[str] = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"the output size must be positive, got {width} x {height}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.crs = rasterio.crs.CRS.from_user_input(crs) if crs is not None else None
        if transform is not None and Affine(*tuple(transform)[:6]).is_identity and self.crs is None:
            transform = None  # an identity transform means "not georeferenced": write none
        self.transform = Affine(*tuple(transform)[:6]) if transform is not None else None
        # GCPs stand for a transform only where there is none (GDAL keeps one or the other).
        self.gcps = list(gcps) if gcps and self.transform is None else []
        self.rpcs = rpcs
        self.classes = classes
        self.kind = kind
        self.overwrite = bool(overwrite)
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.option = option
        self.part_path = part_path(self.path)
        self.aux_path = sidecar_path(self.path)
        self._part_aux = sidecar_path(self.part_path)
        #: The QGIS style QGIS loads with the file (NAME.qml), and its part name.
        self.qml_path = qml_sidecar_path(self.path)
        self._part_qml = qml_part_path(self.path)
        # The compact copy commit() makes of the part (a part name too: hidden, removed with it).
        self._compact_path = self.part_path.with_name(self.part_path.name + ".compact")
        self._ds = None
        self._state = "open"  # "open" | "closed" (part kept) | "committed" | "aborted"
        #: Whether blocks were written since the part was opened or last flushed.
        self.dirty = False

        check_file_target(self.path, overwrite=self.overwrite, option=option)
        # Held until commit, close or abort, and taken before a stale part is
        # removed: it may be another run's (segment() holds it already: nested).
        self._lock = PartLock(self.path, option)
        try:
            if resume:
                self._ds = self._reopen_part()
            else:
                remove_part(self.part_path, self._part_aux, self._part_qml, *self._compact_paths())
                self._ds = self._create_part()
        except BaseException:
            if not resume:
                # A Ctrl-C (or a failure) while the new part was being created: nothing of it may stay.
                if self._ds is not None:
                    self._ds.close()
                    self._ds = None
                remove_part(self.part_path, self._part_aux, self._part_qml, *self._compact_paths())
            self._lock.release()
            raise

    # -- opening -----------------------------------------------------------

    def _create_part(self):
        profile = dict(
            driver="GTiff",
            width=self.width,
            height=self.height,
            count=1,
            dtype="uint8",
            nodata=NODATA,
            **_CREATION,
        )
        if self.crs is not None:
            profile["crs"] = self.crs
        if self.transform is not None:
            profile["transform"] = self.transform
        elif self.gcps:
            profile["gcps"] = self.gcps
        if self.rpcs is not None:
            profile["rpcs"] = self.rpcs
        with gdal_write_errors(self.path, self.option), ignore_not_georeferenced():
            ds = rasterio.open(str(self.part_path), "w+", **profile)  # w+: read() works on a new file too
        try:
            if self.kind == "classes":
                ds.set_band_description(1, "land-cover class")
                if self.classes is not None:
                    # Before any pixel is written, so that GDAL stores a palette TIFF.
                    ds.write_colormap(1, colour_table(self.classes))
            else:
                ds.set_band_description(1, "confidence (percent)")
                ds.set_band_unit(1, "percent")
            ds.update_tags(**{"glnet_kind": self.kind}, **{k: v for k, v in self.tags.items() if k != "glnet_kind"})
        except BaseException:
            ds.close()
            raise
        return ds

    def _reopen_part(self):
        part = self.part_path
        if not part.is_file():
            raise InputError(f"cannot resume: {part} does not exist; run again without --resume")
        try:
            with ignore_not_georeferenced():
                ds = _open_for_update(part)
        except _GDAL_ERRORS as exc:
            raise InputError(
                f"cannot resume: {part} is damaged ({' '.join(str(exc).split())}); run again without --resume"
            ) from None
        problems = []
        if (ds.width, ds.height, ds.count, ds.dtypes[0]) != (self.width, self.height, 1, "uint8"):
            problems.append(f"{ds.width} x {ds.height} px, {ds.count} band(s) of {ds.dtypes[0]}")
        theirs_crs = ds.crs if ds.crs is not None or not self.gcps else ds.gcps[1]  # GCPs carry their own CRS
        if (theirs_crs is None) != (self.crs is None) or (theirs_crs is not None and theirs_crs != self.crs):
            problems.append("another CRS")
        with ignore_not_georeferenced():
            theirs = ds.transform
        if not _same_transform(theirs, self.transform or Affine.identity()):
            problems.append("another transform")
        kind = ds.tags().get("glnet_kind")
        if kind is not None and kind != self.kind:
            problems.append(f"kind {kind}")
        if problems:
            ds.close()
            raise InputError(
                f"cannot resume: {part} was written for another grid ({', '.join(problems)}); "
                "run again without --resume"
            )
        return ds

    # -- writing -----------------------------------------------------------

    def write(self, row_off: int, col_off: int, array: np.ndarray) -> None:
        """Write an ``(h, w)`` uint8 block with its top-left pixel at ``(row_off, col_off)``.

        Parts of the block outside the raster are dropped, so windows that
        run past the right or bottom edge can be written whole.

        Raises
        ------
        ValueError
            If the writer is closed or the block is not a 2-D uint8 array.
        OutputWriteError
            If GDAL fails to write (disk full, ...).
        """
        ds = self._check_open()
        array = np.asarray(array)
        if array.ndim != 2 or array.dtype != np.uint8:
            raise ValueError(f"a block must be a 2-D uint8 array, got {array.dtype} with shape {array.shape}")
        row_off, col_off = int(row_off), int(col_off)
        h, w = array.shape
        r0, r1 = max(row_off, 0), min(row_off + h, self.height)
        c0, c1 = max(col_off, 0), min(col_off + w, self.width)
        if r0 >= r1 or c0 >= c1:
            return
        block = array[r0 - row_off : r1 - row_off, c0 - col_off : c1 - col_off]
        self.dirty = True
        with gdal_write_errors(self.path, self.option):
            ds.write(np.ascontiguousarray(block), 1, window=Window(c0, r0, c1 - c0, r1 - r0))

    def read(self, row_off: int, col_off: int, height: int, width: int) -> np.ndarray:
        """Read back an in-raster block of the part file (e.g. to check a resumed run)."""
        ds = self._check_open()
        return ds.read(1, window=Window(int(col_off), int(row_off), int(width), int(height)))

    def flush(self) -> None:
        """Make every block written so far durable in the part file (close, sync and reopen it).

        GDAL updates a GeoTIFF's tile index on disk only when the file is
        closed; a resumed run (``resume=True``) sees exactly what was written
        before the last flush (or :meth:`close`). Nothing is done when no
        block was written since the last flush. The first flush stores the
        tiles not yet written as 255. A flush costs the whole tile index (220
        KB for a 60 000 x 60 000 mask), the dirty tiles and a sync, so the
        engine flushes every few seconds of work, not after each window. A
        tile rewritten after a flush is stored anew and its old copy becomes
        dead space.

        Raises
        ------
        OutputWriteError
            If closing, syncing or reopening the part fails (a full disk):
            a failure of the write, never a "cannot resume".
        """
        self._check_open()
        if not self.dirty:
            return
        self._close_dataset()
        with gdal_write_errors(self.path, self.option):
            _fsync(self.part_path)
            with ignore_not_georeferenced():
                self._ds = _open_for_update(self.part_path)
        self.dirty = False

    # -- finishing ---------------------------------------------------------

    def _check_open(self):
        if self._ds is None:
            raise ValueError(f"the mask writer for {self.path} is {self._state}")
        return self._ds

    def _close_dataset(self) -> None:
        ds, self._ds = self._ds, None
        if ds is not None:
            # GDAL writes the dirty tiles and the tile index here; a failure of
            # those writes is only printed by libtiff, which gdal_write_errors sees.
            with gdal_write_errors(self.path, self.option):
                ds.close()

    def _verify_part(self) -> None:
        """Read the closed part back (its size and last tile): a write lost on close must not be committed."""
        with gdal_write_errors(self.path, self.option), ignore_not_georeferenced():
            with rasterio.open(str(self.part_path)) as ds:
                if (ds.width, ds.height, ds.count) != (self.width, self.height, 1):
                    raise OSError(errno.EIO, f"the part file reads back as {ds.width} x {ds.height} px")
                ds.read(1, window=Window(self.width - 1, self.height - 1, 1, 1))

    def _compact_paths(self) -> Tuple[Path, Path, Path]:
        """The compact copy, its sidecar, and the overviews GDAL's COG driver computes next to it."""
        copy = self._compact_path
        return (copy, sidecar_path(copy), copy.with_name(copy.name + ".ovr.tmp"))

    def _compact_part(self) -> None:
        """Replace the closed part by a COG copy written tile after tile (the module's "Reproducible bytes")."""
        copy, copy_aux, _ = paths = self._compact_paths()
        remove_part(*paths)
        try:
            with gdal_write_errors(self.path, self.option), ignore_not_georeferenced():
                rasterio.shutil.copy(str(self.part_path), str(copy), driver="COG",
                                     resampling=OVERVIEW_RESAMPLING[self.kind], **_COG_CREATION)
                os.replace(copy, self.part_path)
                if copy_aux.exists():
                    os.replace(copy_aux, self._part_aux)
        except BaseException:
            remove_part(*paths)
            raise

    def commit(self) -> Path:
        """Close the part file, copy it into a COG, write the category names and style, and rename it to ``path``.

        Returns
        -------
        Path:
            ``path``.

        Raises
        ------
        OutputPathError
            If ``path`` appeared meanwhile without ``overwrite``.
        OutputWriteError
            If closing, writing the category names or renaming fails.
        """
        if self._state == "committed":
            return self.path
        if self._state == "aborted":
            raise ValueError(f"the mask writer for {self.path} was aborted")
        if self._state == "open":
            self._close_dataset()
        self._state = "closed"
        self._compact_part()
        self._verify_part()
        if self.kind == "classes" and self.classes is not None:
            existing = self._part_aux.read_bytes() if self._part_aux.is_file() else None
            with gdal_write_errors(self.path, self.option):
                self._part_aux.write_bytes(category_names_xml(self.classes.names, existing, self.classes.custom_labels()))
        style = self._style()
        if style is not None:
            with gdal_write_errors(self.path, self.option):
                self._part_qml.write_text(style, encoding="utf-8")
        # The part's sidecars (the category names, whatever GDAL put there, and
        # the style) move with it; a sidecar left from the file being replaced
        # would describe the wrong raster: commit_file deletes it when the new
        # one has none.
        commit_file(self.part_path, self.path, overwrite=self.overwrite, option=self.option,
                    companions=[(self._part_aux, self.aux_path), (self._part_qml, self.qml_path)])
        self._state = "committed"
        self._lock.release()
        return self.path

    def _style(self) -> Optional[str]:
        """The QGIS style of this output (:mod:`.layer_style`); None for a class mask without a class table."""
        if self.kind == "confidence":
            return confidence_qml()
        if self.classes is None:
            return None
        return mask_qml(table_styles(self.classes))

    def close(self) -> None:
        """Close without committing; the part file stays for a later ``resume=True``."""
        if self._state == "open":
            try:
                self._close_dataset()
            finally:
                self._lock.release()
            self._state = "closed"

    def abort(self) -> None:
        """Close and delete the part files; an existing ``path`` is never touched."""
        if self._state == "committed":
            return
        try:
            self._close_dataset()
        except OutputWriteError:
            pass  # the files are going anyway (and what GDAL printed about them with them)
        remove_part(self.part_path, self._part_aux, self._part_qml, *self._compact_paths())
        self._lock.release()
        self._state = "aborted"

    def __enter__(self) -> "MaskWriter":
        return self

    def __exit__(self, *exc) -> None:
        # Not an abort: an interrupted run keeps its part file so that it can resume.
        self.close()
