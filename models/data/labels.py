"""Reference masks for training, and labels at the network's output sizes.

Masks are class-value rasters (decoded through the class table's ``value`` /
id) or RGB colour masks (decoded through its colours); values or colours not in
the table become 255 (nodata), which the loss and the scores skip. GeoTIFF
masks are read with rasterio, PNG masks with Pillow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from ...glnet_core.errors import InputError
from ...glnet_core.formats.classes import ClassTable

if TYPE_CHECKING:
    from .images import Box

# The readers (.images: rasterio, Pillow) are imported where masks are read, so that
# logits_size / resize_labels, which the training steps use, need neither.

__all__ = ["read_mask", "values_found", "logits_size", "resize_labels"]

PathLike = Union[str, Path]


def read_mask(path: PathLike, classes: ClassTable, box: Optional[Box] = None) -> np.ndarray:
    """Read a reference mask (or a part of it) as class ids.

    Single-band masks hold class values (the table's ``value``, else the id);
    masks of 3 or more bands are RGB colours. Values or colours not in the
    table become 255 (nodata).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 class ids, 255 for nodata.

    Raises
    ------
    InputError
        If the file cannot be read or has 2 bands.
    """
    from .images import is_geotiff, open_with_pillow, open_with_rasterio

    path = Path(path)
    if is_geotiff(path):
        from rasterio.windows import Window

        with open_with_rasterio(path) as src:
            window = None if box is None else Window(box[1], box[0], box[3], box[2])
            if src.count == 1:
                raw = src.read(1, window=window)
            elif src.count >= 3:
                raw = src.read([1, 2, 3], window=window).transpose(1, 2, 0)
            else:
                raise InputError(f"mask {path} has {src.count} bands; use 1 (class values) or 3 (RGB colours)")
    else:
        img = open_with_pillow(path)
        if box is not None:
            img = img.crop((box[1], box[0], box[1] + box[3], box[0] + box[2]))
        if img.mode in ("RGB", "RGBA"):
            raw = np.asarray(img)[..., :3]
        elif img.mode == "1":
            raw = np.asarray(img.convert("L"))  # 0 / 255, like the Inria masks
        elif img.mode in ("LA", "PA"):
            raw = np.asarray(img)[..., 0]
        else:  # L, P (palette index = class value), I, I;16
            raw = np.asarray(img)
    return classes.decode_mask(raw)


def values_found(path: Path) -> str:
    """A few of the values (or colours) a mask holds, for error messages ("?" if it cannot be read)."""
    from .images import is_geotiff, open_with_pillow, open_with_rasterio

    try:
        if is_geotiff(path):
            with open_with_rasterio(path) as src:
                raw = src.read(1) if src.count == 1 else src.read([1, 2, 3]).transpose(1, 2, 0)
        else:
            img = open_with_pillow(path)
            raw = np.asarray(img.convert("RGB") if img.mode in ("RGB", "RGBA") else img)
        if raw.ndim == 3:
            colours = [tuple(int(v) for v in c) for c in np.unique(raw.reshape(-1, raw.shape[2]), axis=0)[:5]]
            return ", ".join(str(c) for c in colours)
        return ", ".join(str(int(v)) for v in np.unique(raw)[:8])
    except Exception:
        return "?"


def logits_size(n: int) -> int:
    """Side of a branch's stride-4 output for an input side ``n``.

    The stem (7x7 conv, stride 2, padding 3; 3x3 max-pool, stride 2, padding
    1) maps ``n`` to ``ceil(ceil(n / 2) / 2)``: ``n / 4`` when ``n`` is a
    multiple of 4 (the published 508 -> 127). Labels for the loss are resized
    to this size, so other input sizes work too.
    """
    m = (n - 1) // 2 + 1
    return (m - 1) // 2 + 1


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a label map, as Pillow's ``Image.NEAREST`` does it.

    Output pixel ``i`` takes source pixel ``floor((i + 0.5) * in / out)``.

    Parameters
    ----------
    labels:
        ``(H, W)`` array.
    height, width:
        Output size, positive.

    Returns
    -------
    numpy.ndarray
        ``(height, width)``, same dtype.
    """
    h, w = labels.shape[:2]
    if (h, w) == (height, width):
        return labels.copy()
    rows = np.minimum(((np.arange(height) + 0.5) * (h / height)).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * (w / width)).astype(np.int64), w - 1)
    return labels[rows[:, None], cols[None, :]]
