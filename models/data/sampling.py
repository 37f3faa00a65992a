"""Which part of which image a training step sees: crops, augmentation, validation tiles, epoch order.

Randomness (crops of large images, flips, rotations, the epoch's order) is a
pure function of ``(seed, stage, epoch, index)`` (:func:`sample_rng`), so a
resumed run sees exactly the samples an uninterrupted one would, whatever the
worker count.
"""

from __future__ import annotations

import math
from typing import Iterator, List, Optional, Tuple

import numpy as np

from .images import Box

__all__ = ["sample_rng", "augment", "random_crop_box", "window_around", "validation_tiles", "EpochSampler"]


def sample_rng(*keys: int) -> np.random.Generator:
    """The generator of one sample (or epoch order), from integer keys only."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


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


def window_around(region: Box, size: Tuple[int, int], window: int, rng: np.random.Generator) -> Box:
    """A random ``window``-sided box of an image of ``size = (H, W)`` that overlaps ``region``.

    Every box position inside the image whose box shares at least one pixel
    with ``region`` is equally likely (an axis shorter than ``window`` is kept
    whole). So the windows of the areas of an image are spread evenly over
    it, without piling up at its edges, and often reach into neighbouring
    areas (whose labels :func:`.dataset.read_labels` masks when they are
    held out).
    """
    def axis(start: int, length: int, total: int) -> Tuple[int, int]:
        side = min(total, window)
        lo = max(0, start - side + 1)
        hi = max(lo, min(total - side, start + max(1, length) - 1))
        return lo + int(rng.integers(0, hi - lo + 1)), side

    top, h = axis(region[0], region[2], size[0])
    left, w = axis(region[1], region[3], size[1])
    return top, left, h, w


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
        """Select the stage and epoch whose order the next iteration yields."""
        self.stage, self.epoch = int(stage), int(epoch)

    def order(self) -> List[int]:
        """The indices of the current epoch, in order."""
        if not self.shuffle:
            return list(range(self.n))
        return [int(i) for i in sample_rng(self.seed, 1_000_003, self.stage, self.epoch).permutation(self.n)]

    def __iter__(self) -> Iterator[Tuple[int, int, int]]:
        for i in self.order():
            yield (i, self.stage, self.epoch)

    def __len__(self) -> int:
        return self.n
