"""Training data folders: their layouts and the image/mask pairs in them.

Folder layouts (:func:`find_pairs`)
-----------------------------------
``deepglobe``
    ``DIR/NNN_sat.jpg`` with ``DIR/NNN_mask.png`` (RGB colour masks), as the
    DeepGlobe land-cover release ships them.
``inria``
    ``DIR/images/X.tif`` with ``DIR/gt/X.tif`` (building masks 0 / 255), as
    the Inria aerial image labelling release ships them.
``pairs``
    ``DIR/images/X.(tif|tiff|png|jpg|jpeg)`` with ``DIR/masks/X.(tif|tiff|png)``.
``auto``
    ``inria`` if ``images/`` and ``gt/`` exist, ``pairs`` if ``images/`` and
    ``masks/`` exist, else ``deepglobe`` if ``*_sat.*`` files exist.

The validation split (:func:`split_validation`) depends only on the pairs' names.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ...glnet_core.errors import InputError

__all__ = [
    "LAYOUTS",
    "IMAGE_EXTENSIONS",
    "MASK_EXTENSIONS",
    "SamplePair",
    "PairList",
    "find_pairs",
    "detect_layout",
    "default_class_spec",
    "split_validation",
]

LAYOUTS = ("auto", "deepglobe", "inria", "pairs")
IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
MASK_EXTENSIONS = (".tif", ".tiff", ".png")

PathLike = Union[str, Path]


@dataclass(frozen=True)
class SamplePair:
    """One training image and its labels; ``name`` identifies it (stable across runs).

    A pair from a data folder (:func:`find_pairs`) is a whole image and its
    mask file. A pair made by :mod:`.scenes` from a large labelled image is one
    *area* of it: ``region`` is the box (on ``grid``, the image's model grid)
    that training windows are drawn around and that validation scores, and
    ``masked`` are the boxes whose labels never reach the loss (the area held
    out for validation).

    Attributes
    ----------
    name:
        Stable identifier (a folder pair: the file stem; an area: ``STEM@ROW,COL``).
    image:
        The image file.
    mask:
        A mask file (:class:`pathlib.Path`), or a label source of
        :mod:`.label_sources` (``MaskLabels``, ``PolygonLabelSource``).
    region:
        ``(row0, col0, height, width)`` on the model grid, or None for the whole image.
    masked:
        Boxes of the model grid whose labels are set to nodata.
    grid:
        The image's :class:`glnet.glnet_core.engine.grid.ModelGrid`; None: the
        image's own pixels.
    """

    name: str
    image: Path
    mask: Any
    region: Optional[Tuple[int, int, int, int]] = None
    masked: Tuple[Tuple[int, int, int, int], ...] = ()
    grid: Optional[Any] = None


class PairList(list):
    """A list of :class:`SamplePair` that also says which layout was used and what was skipped.

    Attributes
    ----------
    layout:
        The layout the pairs were found with (never ``"auto"``).
    skipped:
        Image files that had no mask (left out, not an error).
    """

    def __init__(self, pairs: Sequence[SamplePair] = (), layout: str = "pairs", skipped: Sequence[Path] = ()):
        super().__init__(pairs)
        self.layout = layout
        self.skipped = list(skipped)


def _files(folder: Path, extensions: Sequence[str]) -> List[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in extensions
    )


def detect_layout(folder: PathLike) -> str:
    """The layout of a data folder (see the module docstring).

    Raises
    ------
    InputError
        If the folder does not exist or matches no layout.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"data folder {folder} does not exist")
    if (folder / "images").is_dir() and (folder / "gt").is_dir():
        return "inria"
    if (folder / "images").is_dir() and (folder / "masks").is_dir():
        return "pairs"
    if any(p.stem.endswith("_sat") for p in _files(folder, IMAGE_EXTENSIONS)):
        return "deepglobe"
    raise InputError(
        f"no image/mask pairs found in {folder}: expected NNN_sat.jpg + NNN_mask.png (deepglobe), "
        "images/ + gt/ (inria) or images/ + masks/ subfolders"
    )


def default_class_spec(layout: str) -> Optional[str]:
    """The class table preset a layout implies (``deepglobe``, ``inria``), or None."""
    return layout if layout in ("deepglobe", "inria") else None


def find_pairs(folder: PathLike, layout: str = "auto") -> PairList:
    """All image/mask pairs of a data folder, sorted by name.

    Parameters
    ----------
    folder:
        The data folder.
    layout:
        One of :data:`LAYOUTS`.

    Returns
    -------
    PairList
        The pairs; images without a mask are listed in ``.skipped``.

    Raises
    ------
    InputError
        If the folder is missing, the layout unknown or its subfolders
        missing, or no pair is found.
    """
    folder = Path(folder)
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not folder.is_dir():
        raise InputError(f"data folder {folder} does not exist")
    if layout == "auto":
        layout = detect_layout(folder)
    pairs: List[SamplePair] = []
    skipped: List[Path] = []
    if layout == "deepglobe":
        for image in _files(folder, IMAGE_EXTENSIONS):
            if not image.stem.endswith("_sat"):
                continue
            stem = image.stem[: -len("_sat")]
            mask = folder / f"{stem}_mask.png"
            if mask.is_file():
                pairs.append(SamplePair(stem, image, mask))
            else:
                skipped.append(image)
        expected = "NNN_sat.jpg with NNN_mask.png"
    else:
        sub = "gt" if layout == "inria" else "masks"
        images_dir, masks_dir = folder / "images", folder / sub
        for d in (images_dir, masks_dir):
            if not d.is_dir():
                raise InputError(f"{layout} layout needs the subfolder {d}")
        masks = {p.name: p for p in _files(masks_dir, MASK_EXTENSIONS)}
        by_stem: Dict[str, Path] = {}
        for p in masks.values():
            by_stem.setdefault(p.stem, p)
        for image in _files(images_dir, IMAGE_EXTENSIONS):
            # Same file name first (Inria: images/X.tif with gt/X.tif), then same stem.
            found = masks.get(image.name) or by_stem.get(image.stem)
            if found is not None:
                pairs.append(SamplePair(image.stem, image, found))
            else:
                skipped.append(image)
        expected = f"images/X.tif with {sub}/X.tif"
    if not pairs:
        extra = f" ({len(skipped)} images have no mask)" if skipped else ""
        raise InputError(f"no image/mask pairs found in {folder} ({layout} layout: {expected}){extra}")
    return PairList(pairs, layout, skipped)


def split_validation(pairs: Sequence[SamplePair], fraction: float) -> Tuple[List[SamplePair], List[SamplePair]]:
    """Hold out a deterministic fraction of the pairs for validation.

    The held-out pairs are those with the smallest CRC-32 of their name, so the
    split depends only on the names (not on the seed, the order or the
    machine) and stays put when pairs are added.

    Parameters
    ----------
    pairs:
        All pairs.
    fraction:
        In ``[0, 1)``; at least one pair is held out when it is positive and
        there are at least two pairs, and at least one is left to train on.

    Returns
    -------
    (train, val):
        Both in the input order. ``val`` is empty for ``fraction == 0`` or a
        single pair.

    Raises
    ------
    InputError
        If ``fraction`` is outside ``[0, 1)``.
    """
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"--val-fraction must be in [0, 1), got {fraction}")
    n = len(pairs)
    if fraction == 0.0 or n < 2:
        return list(pairs), []
    n_val = min(n - 1, max(1, int(round(n * fraction))))
    ranked = sorted(pairs, key=lambda p: (zlib.crc32(p.name.encode("utf-8")), p.name))
    held = {p.name for p in ranked[:n_val]}
    return [p for p in pairs if p.name not in held], [p for p in pairs if p.name in held]
