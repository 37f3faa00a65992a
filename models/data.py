"""Training data for ``glnet train``: image/mask pairs, reading, augmentation, samples.

This module does not import torch: it yields numpy arrays, and
:class:`TrainingDataset` / :class:`EpochSampler` plug into
``torch.utils.data.DataLoader`` as a map-style dataset and its sampler.

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

Images are read with rasterio (GeoTIFF) or Pillow (JPEG, PNG); pixels that
the image marks as nodata (nodata value, alpha 0, internal mask) get the label
255 (nodata), which the loss and the scores skip. Masks are class-value
rasters (decoded through the class table's ``value`` / id) or RGB colour masks
(decoded through its colours); values or colours not in the table become 255.

Randomness (crops of large images, flips, rotations, the epoch's order) is a
pure function of ``(seed, stage, epoch, index)``, so a resumed run sees
exactly the samples an uninterrupted one would, whatever the worker count.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..glnet_core.formats.classes import NODATA, ClassTable
from ..glnet_core.errors import GlnetError, InputError
from ..glnet_core.engine.preprocess import Normalisation, prepare_window
from .config import GLNetConfig

__all__ = [
    "LAYOUTS",
    "IMAGE_EXTENSIONS",
    "MASK_EXTENSIONS",
    "SamplePair",
    "PairList",
    "Box",
    "TrainSample",
    "find_pairs",
    "detect_layout",
    "default_class_spec",
    "split_validation",
    "raster_size",
    "pair_size",
    "pixel_size_m",
    "read_image",
    "read_mask",
    "load_pair",
    "logits_size",
    "resize_labels",
    "augment",
    "random_crop_box",
    "validation_tiles",
    "make_sample",
    "TrainingDataset",
    "EpochSampler",
]

LAYOUTS = ("auto", "deepglobe", "inria", "pairs")
IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
MASK_EXTENSIONS = (".tif", ".tiff", ".png")
_GEOTIFF = (".tif", ".tiff")

#: ``(row0, col0, height, width)`` of a part of an image, in pixels.
Box = Tuple[int, int, int, int]

PathLike = Union[str, Path]


@dataclass(frozen=True)
class SamplePair:
    """One training image and its mask; ``name`` identifies it (stable across runs)."""

    name: str
    image: Path
    mask: Path


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


# --------------------------------------------------------------------- layouts
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
        by_stem = {}
        for p in masks.values():
            by_stem.setdefault(p.stem, p)
        for image in _files(images_dir, IMAGE_EXTENSIONS):
            # Same file name first (Inria: images/X.tif with gt/X.tif), then same stem.
            mask = masks.get(image.name) or by_stem.get(image.stem)
            if mask is not None:
                pairs.append(SamplePair(image.stem, image, mask))
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


# --------------------------------------------------------------------- reading
def _is_geotiff(path: Path) -> bool:
    return path.suffix.lower() in _GEOTIFF


def _open_pil(path: Path):
    from PIL import Image

    try:
        img = Image.open(path)
        img.load()
        return img
    except Exception as exc:  # PIL raises several types for unreadable files
        raise InputError(f"cannot read {path}: {exc}") from None


def _open_rasterio(path: Path):
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
    if _is_geotiff(path):
        with _open_rasterio(path) as src:
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
    image = raster_size(pair.image)
    mask = raster_size(pair.mask)
    if image != mask:
        raise InputError(
            f"mask {pair.mask} is {mask[1]} x {mask[0]} px but image {pair.image} is {image[1]} x {image[0]} px"
        )
    return image


def pixel_size_m(path: PathLike) -> Optional[float]:
    """Ground pixel size in metres of a GeoTIFF in a projected CRS in metres, else None."""
    path = Path(path)
    if not _is_geotiff(path):
        return None
    try:
        with _open_rasterio(path) as src:
            crs = src.crs
            if crs is None or not crs.is_projected:
                return None
            units = (crs.linear_units or "").lower()
            if units not in ("metre", "meter", "m", "metres", "meters"):
                return None
            return float(abs(src.transform.a))
    except InputError:
        return None


def read_image(path: PathLike, bands: int = 3, box: Optional[Box] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Read an image (or a part of it) as ``(H, W, bands)``.

    Parameters
    ----------
    path:
        GeoTIFF (rasterio; the first ``bands`` bands, native dtype) or
        JPEG / PNG (Pillow; converted to 8-bit RGB).
    bands:
        Bands the network takes (``config.in_channels``).
    box:
        ``(row0, col0, height, width)`` to read only that part.

    Returns
    -------
    (image, valid):
        ``valid`` is a ``(H, W)`` bool array, False where the file marks the
        pixel as nodata (nodata value, alpha 0, internal mask), or None when
        every pixel is valid.

    Raises
    ------
    InputError
        If the file cannot be read or has fewer bands than needed.
    """
    path = Path(path)
    if _is_geotiff(path):
        from rasterio.enums import MaskFlags
        from rasterio.windows import Window

        with _open_rasterio(path) as src:
            if src.count < bands:
                raise InputError(f"image {path} has {src.count} band(s); the model needs {bands}")
            window = None if box is None else Window(box[1], box[0], box[3], box[2])
            data = src.read(list(range(1, bands + 1)), window=window)
            valid = None
            if any(MaskFlags.all_valid not in flags for flags in src.mask_flag_enums):
                m = src.dataset_mask(window=window) > 0
                valid = None if bool(m.all()) else m
        return np.ascontiguousarray(data.transpose(1, 2, 0)), valid
    if bands != 3:
        raise InputError(f"image {path}: JPEG / PNG images are read as RGB; a {bands}-band model needs GeoTIFF images")
    img = _open_pil(path)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if box is not None:
        img = img.crop((box[1], box[0], box[1] + box[3], box[0] + box[2]))
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"))
        alpha = rgba[..., 3] > 0
        return np.ascontiguousarray(rgba[..., :3]), (None if bool(alpha.all()) else alpha)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))), None


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
    path = Path(path)
    if _is_geotiff(path):
        from rasterio.windows import Window

        with _open_rasterio(path) as src:
            window = None if box is None else Window(box[1], box[0], box[3], box[2])
            if src.count == 1:
                raw = src.read(1, window=window)
            elif src.count >= 3:
                raw = src.read([1, 2, 3], window=window).transpose(1, 2, 0)
            else:
                raise InputError(f"mask {path} has {src.count} bands; use 1 (class values) or 3 (RGB colours)")
    else:
        img = _open_pil(path)
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


def _values_found(path: Path) -> str:
    try:
        if _is_geotiff(path):
            with _open_rasterio(path) as src:
                raw = src.read(1) if src.count == 1 else src.read([1, 2, 3]).transpose(1, 2, 0)
        else:
            img = _open_pil(path)
            raw = np.asarray(img.convert("RGB") if img.mode in ("RGB", "RGBA") else img)
        if raw.ndim == 3:
            found = [tuple(int(v) for v in c) for c in np.unique(raw.reshape(-1, raw.shape[2]), axis=0)[:5]]
        else:
            found = [int(v) for v in np.unique(raw)[:8]]
        return ", ".join(str(v) for v in found)
    except Exception:
        return "?"


def load_pair(
    pair: SamplePair, classes: ClassTable, bands: int = 3, box: Optional[Box] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Image and class ids of a pair (or a part of it).

    Pixels the image marks as nodata get the label 255.

    Returns
    -------
    (image, labels):
        ``(H, W, bands)`` image in its file's dtype and ``(H, W)`` uint8 labels.

    Raises
    ------
    InputError
        If a file cannot be read, the sizes differ, or (when reading the whole
        pair) no mask pixel matches the class table, which almost always
        means the wrong ``--classes``.
    """
    image, valid = read_image(pair.image, bands, box)
    labels = read_mask(pair.mask, classes, box)
    if image.shape[:2] != labels.shape:
        raise InputError(
            f"mask {pair.mask} is {labels.shape[1]} x {labels.shape[0]} px but image {pair.image} is "
            f"{image.shape[1]} x {image.shape[0]} px"
        )
    if valid is not None:
        labels = labels.copy()
        labels[~valid] = NODATA
    if box is None and not bool((labels != NODATA).any()) and (valid is None or bool(valid.any())):
        raise InputError(
            f"mask {pair.mask}: no pixel matches a class of table {classes.name!r} "
            f"(values found: {_values_found(pair.mask)}); check --classes"
        )
    return image, labels


# ---------------------------------------------------------------- geometry
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


def augment(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """The same random horizontal / vertical flip and 90-degree rotation of image and labels.

    Each flip has probability 1/2 and the rotation is 0, 90, 180 or 270
    degrees with equal probability (so all eight symmetries of the square
    occur). Rotations by 90 / 270 degrees swap height and width.
    """
    if rng.random() < 0.5:
        image, labels = image[:, ::-1], labels[:, ::-1]
    if rng.random() < 0.5:
        image, labels = image[::-1], labels[::-1]
    k = int(rng.integers(0, 4))
    if k:
        image, labels = np.rot90(image, k, axes=(0, 1)), np.rot90(labels, k, axes=(0, 1))
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def random_crop_box(size: Tuple[int, int], window: int, rng: np.random.Generator) -> Optional[Box]:
    """A random ``window``-sided crop of an image of ``size = (H, W)``, or None if it fits.

    An axis shorter than ``window`` is kept whole.
    """
    h, w = size
    if h <= window and w <= window:
        return None
    ch, cw = min(h, window), min(w, window)
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return top, left, ch, cw


def validation_tiles(size: Tuple[int, int], window: int) -> List[Box]:
    """Non-overlapping tiles of at most ``window`` px per side covering an image.

    Each axis is split into ``ceil(length / window)`` nearly equal parts, so
    no tile is a thin sliver (a sliver's global view would show almost
    nothing). Tiles cover every pixel exactly once, so scores count each
    pixel once.
    """
    def cuts(length: int) -> List[Tuple[int, int]]:
        n = max(1, math.ceil(length / window))
        edges = [round(i * length / n) for i in range(n + 1)]
        return [(edges[i], edges[i + 1] - edges[i]) for i in range(n)]

    return [(r, c, rh, cw) for r, rh in cuts(size[0]) for c, cw in cuts(size[1])]


# ---------------------------------------------------------------- samples
@dataclass
class TrainSample:
    """Network inputs and loss labels of one training window.

    Attributes
    ----------
    name:
        The pair's name.
    image_g:
        ``(C, size_g, size_g)`` float32 global image (:func:`prepare_window`).
    window:
        ``(C, H', W')`` float32 normalised window, padded to at least
        ``size_p`` per side.
    labels:
        ``(H', W')`` uint8 labels of the padded window (255 where padded).
    labels_g:
        ``(g, g)`` uint8 labels for the global logits, ``g = logits_size(size_g)``.
    """

    name: str
    image_g: np.ndarray
    window: np.ndarray
    labels: np.ndarray
    labels_g: np.ndarray


def make_sample(
    image: np.ndarray, labels: np.ndarray, config: GLNetConfig, normalisation: Normalisation, name: str = ""
) -> TrainSample:
    """Training sample of one ``(H, W, C)`` window and its ``(H, W)`` labels.

    The global image comes from :func:`glnet.glnet_core.engine.preprocess.prepare_window`
    (exactly the inference pre-processing); the labels are padded with 255
    where the window is padded and resized (nearest) for the global loss.
    """
    prep = prepare_window(image, config.size_g, config.size_p, normalisation)
    ph, pw = prep.window.shape[1:]
    h, w = labels.shape
    padded = np.full((ph, pw), NODATA, dtype=np.uint8)
    padded[:h, :w] = labels
    g = logits_size(config.size_g)
    return TrainSample(name, prep.image_g, prep.window, padded, resize_labels(padded, g, g))


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


class TrainingDataset:
    """Map-style dataset of training samples, for ``torch.utils.data.DataLoader``.

    Indexed by the ``(index, stage, epoch)`` keys that :class:`EpochSampler`
    yields. Each item is a :class:`TrainSample`, or the :class:`GlnetError`
    that loading it raised: returning it (instead of raising inside a worker
    process, where the DataLoader would wrap it into a multi-line message)
    lets the training loop re-raise it with its one-line message.

    Parameters
    ----------
    pairs:
        The training pairs. Their sizes are read (headers only) and checked
        here, so a size mismatch fails before training starts.
    classes:
        Decodes the masks.
    config:
        Window size, ``size_g``, ``size_p`` and bands.
    normalisation:
        Pixel normalisation of the checkpoint.
    augment:
        Random flips / rotations.
    seed:
        Base seed of crops and augmentation.

    Raises
    ------
    InputError
        If a pair cannot be read or its image and mask sizes differ.
    """

    def __init__(
        self,
        pairs: Sequence[SamplePair],
        classes: ClassTable,
        config: GLNetConfig,
        normalisation: Normalisation,
        augment: bool = True,
        seed: int = 0,
    ):
        self.pairs = list(pairs)
        self.sizes = [pair_size(p) for p in self.pairs]
        self.classes = classes
        self.config = config
        self.normalisation = normalisation
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.pairs)

    def sample(self, index: int, stage: int = 0, epoch: int = 0) -> TrainSample:
        """The sample of pair ``index`` in a given stage and epoch (raises on errors)."""
        rng = _rng(self.seed, stage, epoch, index)
        pair = self.pairs[index]
        box = random_crop_box(self.sizes[index], self.config.window, rng)
        image, labels = load_pair(pair, self.classes, self.config.in_channels, box)
        if self.augment:
            image, labels = augment(image, labels, rng)
        return make_sample(image, labels, self.config, self.normalisation, pair.name)

    def __getitem__(self, key) -> Union[TrainSample, GlnetError]:
        index, stage, epoch = key if isinstance(key, tuple) else (key, 0, 0)
        try:
            return self.sample(int(index), int(stage), int(epoch))
        except GlnetError as exc:
            return exc


class EpochSampler:
    """Yields ``(index, stage, epoch)`` keys in a shuffled order fixed by the seed.

    Call :meth:`set_epoch` before iterating; the order is a permutation drawn
    from ``(seed, stage, epoch)`` only.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.stage = 0
        self.epoch = 0

    def set_epoch(self, stage: int, epoch: int) -> None:
        self.stage, self.epoch = int(stage), int(epoch)

    def order(self) -> List[int]:
        """The indices of the current epoch, in order."""
        if not self.shuffle:
            return list(range(self.n))
        return [int(i) for i in _rng(self.seed, 1_000_003, self.stage, self.epoch).permutation(self.n)]

    def __iter__(self) -> Iterator[Tuple[int, int, int]]:
        for i in self.order():
            yield (i, self.stage, self.epoch)

    def __len__(self) -> int:
        return self.n
