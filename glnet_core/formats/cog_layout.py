"""Whether a GeoTIFF is laid out as a Cloud Optimized GeoTIFF (COG), read from its TIFF structure.

A COG is an ordinary (Big)TIFF whose parts are placed so that a reader
fetching byte ranges (QGIS over ``/vsicurl/``, or any reader of a large local
file) needs few, small reads for any view at any zoom:

- every IFD (the full-resolution image first, then its overviews in
  decreasing size, each level's transparency mask right after it) lies
  before any image data, so one read at the start of the file finds them all;
- every level is tiled (a single-level image no larger than 512 x 512 may
  keep strips: it is one read anyway);
- image data comes smallest overview first and the full-resolution image
  last, so that a zoomed-out view reads a short range near the header.

GDAL's COG writer also puts a "ghost" header right after the TIFF header
(``GDAL_STRUCTURAL_METADATA_SIZE=...``) that states the layout:
``LAYOUT=IFDS_BEFORE_DATA``, ``BLOCK_ORDER=ROW_MAJOR`` (each level's tiles
in row-major order), ``BLOCK_LEADER=SIZE_AS_UINT4`` (each tile preceded by
its size), ``BLOCK_TRAILER=LAST_4_BYTES_REPEATED`` (each tile followed by a
copy of its last 4 bytes) and ``KNOWN_INCOMPATIBLE_EDITION=NO`` (GDAL sets
it to YES when the file is edited in place afterwards, which breaks the
layout). What the ghost header declares is checked; requiring it is optional.

:func:`cog_problems` lists what breaks the layout (an empty list: a valid
COG); :func:`check_cog` raises :class:`CogLayoutError` naming them. The
check reads the TIFF structure itself (the header, every IFD and the tile
offset and size arrays, through a memory map), never the pixels, so it is
cheap on any size and needs no GDAL.
"""

from __future__ import annotations

import mmap
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import CogLayoutError

__all__ = ["CogLayoutError", "TiffImage", "TiffLayout", "read_tiff_layout", "cog_problems", "check_cog",
           "STRIPS_ALLOWED_UP_TO"]

PathLike = Union[str, "os.PathLike[str]"]

#: A single-level image no larger than this (pixels, either way) may be stored in strips.
STRIPS_ALLOWED_UP_TO = 512

# TIFF tags used here (TIFF 6.0 and the BigTIFF extension).
_NEW_SUBFILE_TYPE = 254
_IMAGE_WIDTH, _IMAGE_LENGTH = 256, 257
_STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 273, 279
_SAMPLES_PER_PIXEL, _ROWS_PER_STRIP, _PLANAR_CONFIGURATION = 277, 278, 284
_TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS, _TILE_BYTE_COUNTS = 322, 323, 324, 325
# NewSubfileType bits: a reduced-resolution version of another image (an overview); a transparency mask.
_REDUCED, _MASK = 1, 4

# Field type -> (numpy type code, size in bytes); types not listed are read as raw bytes.
_TYPES: Dict[int, Tuple[str, int]] = {
    1: ("u1", 1), 2: ("u1", 1), 3: ("u2", 2), 4: ("u4", 4), 5: ("u4", 8), 6: ("i1", 1), 7: ("u1", 1),
    8: ("i2", 2), 9: ("i4", 4), 10: ("i4", 8), 11: ("f4", 4), 12: ("f8", 8), 13: ("u4", 4),
    16: ("u8", 8), 17: ("i8", 8), 18: ("u8", 8),
}
# An IFD chain longer than this is damaged (a COG has a few dozen IFDs at most).
_MAX_IFDS = 4096
_GHOST_RE = re.compile(rb"GDAL_STRUCTURAL_METADATA_SIZE=(\d{6}) bytes\n")


@dataclass
class TiffImage:
    """One IFD of a TIFF file: its place in the file and where its tile (or strip) data lies.

    Attributes
    ----------
    index:
        Position in the IFD chain (0: the first IFD).
    offset, end:
        Byte range of the IFD itself (entry count, entries, next-IFD pointer).
    width, height:
        Image size in pixels.
    subfile_type:
        The NewSubfileType bits (1: overview, 4: mask).
    tile_size:
        ``(width, height)`` of its tiles, or None for an image in strips.
    blocks_per_plane:
        Tiles (or strips) expected per sample plane.
    planes:
        Sample planes stored separately (PlanarConfiguration 2), else 1.
    offsets, counts:
        Where each tile (strip) lies and how many bytes it holds.
    value_ranges:
        ``(tag, start, end)`` of the tag values stored outside the IFD.
    """

    index: int
    offset: int
    end: int
    width: int
    height: int
    subfile_type: int
    tile_size: Optional[Tuple[int, int]]
    blocks_per_plane: int
    planes: int
    offsets: np.ndarray
    counts: np.ndarray
    value_ranges: List[Tuple[int, int, int]] = field(default_factory=list)

    @property
    def is_mask(self) -> bool:
        return bool(self.subfile_type & _MASK)

    @property
    def is_overview(self) -> bool:
        return bool(self.subfile_type & _REDUCED)

    def data_span(self) -> Optional[Tuple[int, int]]:
        """``(first byte, end)`` of the image's data; None when it holds none (sparse)."""
        used = self.counts > 0
        if not used.any():
            return None
        return int(self.offsets[used].min()), int((self.offsets[used] + self.counts[used]).max())

    def describe(self) -> str:
        what = "mask" if self.is_mask else "overview" if self.is_overview else "image"
        return f"IFD {self.index} ({what} {self.width} x {self.height})"


@dataclass
class TiffLayout:
    """The structure of a TIFF file as :func:`read_tiff_layout` reads it.

    Attributes
    ----------
    size:
        File size in bytes.
    byte_order:
        ``"<"`` (II, little-endian) or ``">"`` (MM).
    bigtiff:
        Whether the file is a BigTIFF (version 43).
    header_end:
        End of the TIFF header (8 or 16 bytes), or of the ghost header when there is one.
    ghost:
        The ghost header's ``KEY=VALUE`` items (empty when there is none).
    images:
        Every IFD, in chain order.
    problems:
        Damage found while reading (offsets past the end, loops, ...).
    """

    size: int
    byte_order: str
    bigtiff: bool
    header_end: int
    ghost: Dict[str, str]
    images: List[TiffImage]
    problems: List[str]


class _Reader:
    """Typed reads from the mapped file; a read past its end raises ``_Damaged``."""

    def __init__(self, buf: Union[mmap.mmap, bytes], byte_order: str) -> None:
        self.buf, self.bo, self.size = buf, byte_order, len(buf)

    def array(self, offset: int, count: int, code: str) -> np.ndarray:
        width = np.dtype(code).itemsize
        if offset < 0 or count < 0 or offset + count * width > self.size:
            raise _Damaged(f"data at offset {offset} ({count * width} bytes) runs past the end of the file")
        # A copy: a view would keep the memory map from closing.
        return np.frombuffer(self.buf, dtype=self.bo + code, count=count, offset=offset).copy()

    def uint(self, offset: int, width: int) -> int:
        return int(self.array(offset, 1, {2: "u2", 4: "u4", 8: "u8"}[width])[0])


class _Damaged(Exception):
    pass


def _parse_ghost(buf: Union[mmap.mmap, bytes], start: int) -> Tuple[Dict[str, str], int]:
    """GDAL's ghost header at ``start``: its items and where it ends (``start`` when there is none)."""
    m = _GHOST_RE.match(bytes(buf[start:start + 43]))
    if m is None:
        return {}, start
    body_start = start + m.end()
    body = bytes(buf[body_start:body_start + int(m.group(1))])
    items = {}
    for line in body.decode("ascii", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            items[key.strip()] = value.strip()
    return items, body_start + len(body)


def _read_ifd(r: _Reader, offset: int, index: int, bigtiff: bool) -> Tuple[TiffImage, int]:
    """The IFD at ``offset`` and the offset of the next one (0: last)."""
    count_size, entry_size, ptr_size = (8, 20, 8) if bigtiff else (2, 12, 4)
    n = r.uint(offset, count_size)
    if n == 0 or offset + count_size + n * entry_size + ptr_size > r.size:
        raise _Damaged(f"IFD {index} at offset {offset} is empty or runs past the end of the file")
    raw = bytes(r.buf[offset + count_size:offset + count_size + n * entry_size])
    tags: Dict[int, np.ndarray] = {}
    ranges: List[Tuple[int, int, int]] = []
    order: Literal["little", "big"] = "little" if r.bo == "<" else "big"
    for i in range(n):
        e = raw[i * entry_size:(i + 1) * entry_size]
        tag, typ = int.from_bytes(e[0:2], order), int.from_bytes(e[2:4], order)
        cnt = int.from_bytes(e[4:4 + ptr_size], order)
        code, width = _TYPES.get(typ, ("u1", 1))
        nbytes = cnt * width
        if nbytes <= ptr_size:  # the value fits in the entry itself
            value = np.frombuffer(e[4 + ptr_size:4 + ptr_size + nbytes], dtype=r.bo + code) if nbytes else np.zeros(0)
        else:
            at = int.from_bytes(e[4 + ptr_size:4 + 2 * ptr_size], order)
            ranges.append((tag, at, at + nbytes))
            value = r.array(at, nbytes // np.dtype(code).itemsize, code)
        tags[tag] = value
    end = offset + count_size + n * entry_size + ptr_size
    next_offset = r.uint(end - ptr_size, ptr_size)

    def one(tag: int, default: Optional[int] = None) -> int:
        v = tags.get(tag)
        if v is None or len(v) == 0:
            if default is None:
                raise _Damaged(f"IFD {index} has no tag {tag}")
            return default
        return int(v[0])

    width, height = one(_IMAGE_WIDTH), one(_IMAGE_LENGTH)
    if width <= 0 or height <= 0:
        raise _Damaged(f"IFD {index} describes a {width} x {height} px image")
    planes = one(_SAMPLES_PER_PIXEL, 1) if one(_PLANAR_CONFIGURATION, 1) == 2 else 1
    tile_size: Optional[Tuple[int, int]] = None
    if _TILE_OFFSETS in tags:
        tw, th = one(_TILE_WIDTH, 0), one(_TILE_LENGTH, 0)
        if tw <= 0 or th <= 0:
            raise _Damaged(f"IFD {index} has tiles of {tw} x {th} px")
        tile_size = (tw, th)
        per_plane = -(-width // tw) * -(-height // th)
        offset_tag, count_tag = _TILE_OFFSETS, _TILE_BYTE_COUNTS
    else:
        rows = min(one(_ROWS_PER_STRIP, height), height) or height
        per_plane = -(-height // rows)
        offset_tag, count_tag = _STRIP_OFFSETS, _STRIP_BYTE_COUNTS
    offsets, counts = tags.get(offset_tag), tags.get(count_tag)
    if offsets is None:
        raise _Damaged(f"IFD {index} has neither tile nor strip offsets")
    if counts is None or len(counts) != len(offsets):
        raise _Damaged(f"IFD {index} has {len(offsets)} block offsets but no matching byte counts")
    image = TiffImage(index, offset, end, width, height, one(_NEW_SUBFILE_TYPE, 0), tile_size, per_plane, planes,
                      offsets.astype(np.uint64), counts.astype(np.uint64), ranges)
    return image, next_offset


def _read(buf: Union[mmap.mmap, bytes]) -> TiffLayout:
    """The header and the IFD chain; ``_Damaged`` when the header is no TIFF's."""
    size = len(buf)
    head = bytes(buf[:16])
    if head[:2] not in (b"II", b"MM"):
        raise _Damaged("not a TIFF file (no II or MM byte order mark)")
    bo = "<" if head[:2] == b"II" else ">"
    r = _Reader(buf, bo)
    version = r.uint(2, 2)
    if version == 42:
        bigtiff, first, header_end = False, r.uint(4, 4), 8
    elif version == 43:
        if r.uint(4, 2) != 8 or r.uint(6, 2) != 0:
            raise _Damaged("a BigTIFF header with an offset size other than 8")
        bigtiff, first, header_end = True, r.uint(8, 8), 16
    else:
        raise _Damaged(f"not a TIFF file (version {version}, neither 42 nor BigTIFF's 43)")
    ghost, header_end = _parse_ghost(buf, header_end)
    images: List[TiffImage] = []
    problems: List[str] = []
    seen = set()
    offset = first
    while offset:
        if offset in seen:
            problems.append(f"the IFD chain loops back to offset {offset}")
            break
        if len(images) >= _MAX_IFDS:
            problems.append(f"the IFD chain goes on past {_MAX_IFDS} IFDs")
            break
        seen.add(offset)
        try:
            image, offset = _read_ifd(r, offset, len(images), bigtiff)
        except _Damaged as exc:
            problems.append(str(exc))
            break
        images.append(image)
    if not images and not problems:
        problems.append("the file holds no IFD")
    return TiffLayout(size, bo, bigtiff, header_end, ghost, images, problems)


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap]:
    """The file mapped read-only; :class:`CogLayoutError` when it cannot be read or is shorter than a header."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size < 8:
                raise CogLayoutError(f"{path} is not a TIFF file (shorter than a TIFF header)")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                yield buf
    except OSError as exc:
        raise CogLayoutError(f"cannot read {path}: {exc.strerror or exc}") from None


def _layout(path: Path, buf: mmap.mmap) -> TiffLayout:
    try:
        return _read(buf)
    except _Damaged as exc:
        raise CogLayoutError(f"{path}: {exc}") from None


def read_tiff_layout(path: PathLike) -> TiffLayout:
    """Read the header and every IFD of a TIFF file (never its pixels).

    Parameters
    ----------
    path:
        A TIFF or BigTIFF file.

    Returns
    -------
    TiffLayout:
        Its structure; damage found past the header is listed in ``problems``.

    Raises
    ------
    CogLayoutError
        If the file cannot be read or is not a TIFF file at all.
    """
    path = Path(path)
    with _mapped(path) as buf:
        return _layout(path, buf)


def _level_problems(layout: TiffLayout, require_overviews: bool) -> Tuple[List[str], List[List[TiffImage]]]:
    """Problems of the IFD sequence, and the images grouped by level (each image with its masks)."""
    problems: List[str] = []
    images = layout.images
    levels: List[List[TiffImage]] = []
    for im in images:
        if im.is_mask:
            # A mask belongs to the image of its size listed before it.
            owner = next((lv for lv in reversed(levels) if (lv[0].width, lv[0].height) == (im.width, im.height)), None)
            if owner is None:
                problems.append(f"{im.describe()} follows no image of its size")
            else:
                owner.append(im)
            continue
        if not levels:
            if im.is_overview:
                problems.append(f"{im.describe()} is first: the full-resolution image must be the first IFD")
        elif not im.is_overview:
            problems.append(f"{im.describe()} is a second full-resolution image (a multi-page TIFF), not an overview")
        else:
            prev = levels[-1][0]
            if im.width > prev.width or im.height > prev.height or (im.width, im.height) == (prev.width, prev.height):
                problems.append(f"{im.describe()} is not smaller than the level before it "
                                f"({prev.width} x {prev.height}): overviews must come in decreasing size")
        levels.append([im])
    single = len(levels) == 1 and len(levels[0]) == 1
    for im in images:
        if im.tile_size is None:
            small = im.width <= STRIPS_ALLOWED_UP_TO and im.height <= STRIPS_ALLOWED_UP_TO
            if not (single and small):
                problems.append(f"{im.describe()} is stored in strips, not tiled")
        elif im.tile_size[0] % 16 or im.tile_size[1] % 16:
            problems.append(f"{im.describe()} has {im.tile_size[0]} x {im.tile_size[1]} px tiles, "
                            "not multiples of 16 as TIFF requires")
        if len(im.offsets) != im.blocks_per_plane * im.planes:
            problems.append(f"{im.describe()} lists {len(im.offsets)} blocks where its size needs "
                            f"{im.blocks_per_plane * im.planes}")
    if require_overviews and levels:
        last = levels[-1][0]
        tw, th = images[0].tile_size or (STRIPS_ALLOWED_UP_TO, STRIPS_ALLOWED_UP_TO)
        if last.width > tw or last.height > th:
            problems.append(f"the smallest level is {last.width} x {last.height} px, more than one {tw} x {th} tile: "
                            "overviews are missing")
    return problems, levels


def _truncation_problems(layout: TiffLayout) -> List[str]:
    """Tiles (strips) said to lie beyond the end of the file."""
    problems = []
    for im in layout.images:
        past = int(((im.offsets + im.counts > layout.size) & (im.counts > 0)).sum())
        if past:
            problems.append(f"{im.describe()}: {past} tile(s) lie past the end of the file (truncated)")
    return problems


def _order_problems(layout: TiffLayout, levels: Sequence[Sequence[TiffImage]]) -> List[str]:
    """Problems of where IFDs and data lie: headers first, then data smallest level first."""
    problems: List[str] = []
    images = layout.images
    spans = [s for s in (im.data_span() for im in images) if s is not None]
    data_start = min((s[0] for s in spans), default=layout.size)
    for im in images:
        if im.offset < layout.header_end:
            problems.append(f"{im.describe()} at offset {im.offset} overlaps the file's header")
        if im.end > data_start:
            problems.append(f"{im.describe()} at offset {im.offset} lies after image data (which starts at "
                            f"{data_start}): the IFDs must all come before the data")
        late = sorted({tag for tag, _start, end in im.value_ranges if end > data_start})
        if late:
            problems.append(f"{im.describe()}: the values of tag(s) {', '.join(map(str, late))} lie after image data")
    for a, b in zip(images, images[1:]):
        if b.offset <= a.offset:
            problems.append(f"{b.describe()} at offset {b.offset} comes before {a.describe()} at {a.offset}: "
                            "the IFDs must be stored in their chain's order")
    # Level by level: all data of a smaller level before any data of the larger one.
    level_spans = []
    for lv in levels:
        parts = [s for s in (im.data_span() for im in lv) if s is not None]
        level_spans.append((min(p[0] for p in parts), max(p[1] for p in parts)) if parts else None)
    for k in range(len(levels) - 1):
        larger, smaller = level_spans[k], level_spans[k + 1]
        if larger is not None and smaller is not None and smaller[1] > larger[0]:
            problems.append(f"the data of {levels[k + 1][0].describe()} lies after data of {levels[k][0].describe()}: "
                            "smaller overviews must come first and the full-resolution image last")
    return problems


def _ghost_problems(layout: TiffLayout, buf: Union[mmap.mmap, bytes], require: bool) -> List[str]:
    """What the ghost header declares, checked against the file."""
    ghost = layout.ghost
    if not ghost:
        return ["no GDAL ghost header (LAYOUT=IFDS_BEFORE_DATA)"] if require else []
    problems: List[str] = []
    if ghost.get("LAYOUT") != "IFDS_BEFORE_DATA":
        if require:
            problems.append(f"the ghost header declares LAYOUT={ghost.get('LAYOUT', '')!s}, not IFDS_BEFORE_DATA")
    if ghost.get("KNOWN_INCOMPATIBLE_EDITION", "NO").upper() == "YES":
        problems.append("the file was edited in place after it was written as a COG "
                        "(KNOWN_INCOMPATIBLE_EDITION=YES): its layout is no longer what the header declares")
    r = _Reader(buf, "<")  # the leader is little-endian whatever the file's byte order
    leader = ghost.get("BLOCK_LEADER") == "SIZE_AS_UINT4"
    trailer = ghost.get("BLOCK_TRAILER") == "LAST_4_BYTES_REPEATED"
    for im in layout.images:
        used = im.counts > 0
        offsets, counts = im.offsets[used].astype(np.int64), im.counts[used].astype(np.int64)
        if ghost.get("BLOCK_ORDER") == "ROW_MAJOR" and len(offsets) > 1 and (np.diff(offsets) <= 0).any():
            problems.append(f"{im.describe()}: tiles are not stored in row-major order (BLOCK_ORDER=ROW_MAJOR)")
        bad_leader = bad_trailer = 0
        for off, cnt in zip(offsets.tolist(), counts.tolist()):
            if leader and (off < 4 or r.uint(off - 4, 4) != cnt):
                bad_leader += 1
            if trailer and cnt >= 4 and bytes(buf[off + cnt - 4:off + cnt]) != bytes(buf[off + cnt:off + cnt + 4]):
                bad_trailer += 1
        if bad_leader:
            problems.append(f"{im.describe()}: {bad_leader} tile(s) not preceded by their size (BLOCK_LEADER)")
        if bad_trailer:
            problems.append(f"{im.describe()}: {bad_trailer} tile(s) not followed by their last 4 bytes (BLOCK_TRAILER)")
    return problems


def cog_problems(path: PathLike, *, ghost_header: bool = False, require_overviews: bool = False) -> List[str]:
    """What keeps ``path`` from being a Cloud Optimized GeoTIFF.

    Parameters
    ----------
    path:
        A TIFF or BigTIFF file.
    ghost_header:
        Also require GDAL's ghost header with ``LAYOUT=IFDS_BEFORE_DATA``
        (what it declares is checked either way).
    require_overviews:
        Also require overviews down to a level that fits in one tile of
        the full-resolution image.

    Returns
    -------
    list of str:
        One line per problem, in file order; empty for a valid COG.
    """
    path = Path(path)
    try:
        with _mapped(path) as buf:
            layout = _layout(path, buf)
            # Damage first: the other checks would only restate it.
            problems = layout.problems or _truncation_problems(layout)
            if problems:
                return problems
            problems, levels = _level_problems(layout, require_overviews)
            problems += _order_problems(layout, levels) + _ghost_problems(layout, buf, ghost_header)
    except CogLayoutError as exc:
        return [str(exc)]
    # GDAL reads overviews from NAME.ovr when the file has none of its own: a reader of the COG alone lacks them.
    for ovr in (path.with_name(path.name + ".ovr"), path.with_name(path.name + ".OVR")):
        if ovr.is_file():
            problems.append(f"overviews in the external file {ovr.name}: a COG holds its overviews itself")
            break
    return problems


def check_cog(path: PathLike, *, ghost_header: bool = False, require_overviews: bool = False) -> None:
    """Raise unless ``path`` is a Cloud Optimized GeoTIFF (see :func:`cog_problems`).

    Raises
    ------
    CogLayoutError
        Naming the file and every problem found, on one line.
    """
    problems = cog_problems(path, ghost_header=ghost_header, require_overviews=require_overviews)
    if problems:
        raise CogLayoutError(f"{path} is not a cloud optimized GeoTIFF: {'; '.join(problems)}")
