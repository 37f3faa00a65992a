"""Training samples: an image/mask pair read, cropped and augmented into network inputs and loss labels.

This module does not import torch: it yields numpy arrays, and
:class:`TrainingDataset` (with :class:`.sampling.EpochSampler`) plugs into
``torch.utils.data.DataLoader`` as a map-style dataset and its sampler.

Images are read exactly as ``glnet segment`` reads its input (:mod:`.images`),
pixels the image marks as nodata (alpha 0, nodata value, mask) get the label
255 (nodata), and the network inputs come from
:func:`glnet.glnet_core.engine.preprocess.prepare_window`, the engine's own
pre-processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ...glnet_core.engine.preprocess import Normalisation, prepare_window
from ...glnet_core.errors import GlnetError, InputError
from ...glnet_core.formats.classes import NODATA, ClassTable
from ...glnet_core.formats.raster_input import RasterInput
from ..config import GLNetConfig
from .images import Box, ImageReading, open_image, pair_size, read_image, read_window
from .labels import logits_size, read_mask, resize_labels, values_found
from .pairs import SamplePair
from .sampling import augment, random_crop_box, sample_rng

__all__ = ["TrainSample", "load_pair", "make_sample", "TrainingDataset"]


def load_pair(
    pair: SamplePair,
    classes: ClassTable,
    bands: int = 3,
    box: Optional[Box] = None,
    reading: Optional[ImageReading] = None,
    raster: Optional[RasterInput] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Image and class ids of a pair (or a part of it).

    Pixels the image marks as nodata get the label 255.

    Parameters
    ----------
    pair:
        The pair.
    classes:
        Decodes the mask.
    bands:
        Bands the network takes.
    box:
        ``(row0, col0, height, width)`` to read only that part.
    reading:
        Band choice and stretch of the image (:class:`.images.ImageReading`).
    raster:
        ``pair.image`` already opened with ``bands`` and ``reading``
        (:func:`.images.open_image`), to read several boxes from one open;
        default: opened here.

    Returns
    -------
    (image, labels):
        ``(H, W, bands)`` uint8 image as ``glnet segment`` reads it
        (:func:`.images.read_image`) and ``(H, W)`` uint8 labels.

    Raises
    ------
    InputError
        If a file cannot be read, the sizes differ, or (when reading the whole
        pair) no mask pixel matches the class table, which almost always
        means the wrong ``--classes``.
    """
    image, valid = read_image(pair.image, bands, box, reading) if raster is None else read_window(raster, box)
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
            f"(values found: {values_found(pair.mask)}); check --classes"
        )
    return image, labels


@dataclass(frozen=True)
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
        here, so a size mismatch fails before training starts. Each image is
        also opened once here for its per-file work (the truncation check,
        the percentile stretch of a non-8-bit image), which the samples then
        reuse; an image that fails to open fails when sampled, as before.
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
    reading:
        Band choice and stretch of the images (:class:`.images.ImageReading`).

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
        reading: Optional[ImageReading] = None,
    ):
        self.pairs = list(pairs)
        self.sizes = [pair_size(p) for p in self.pairs]
        self.classes = classes
        self.config = config
        self.normalisation = normalisation
        self.augment = augment
        self.seed = seed
        self.reading = reading or ImageReading()
        # Per pair, whether its image opened and, if so, its stretch (plain tuples: pickled to workers).
        self.opened: List[bool] = []
        self.ranges: List[Optional[Tuple[Tuple[float, float], ...]]] = []
        for p in self.pairs:
            try:
                with open_image(p.image, config.in_channels, self.reading) as raster:
                    ranges = raster.input_range_per_band
            except InputError:  # raised again, as it was, by sample()
                self.opened.append(False)
                self.ranges.append(None)
            else:
                self.opened.append(True)
                self.ranges.append(None if ranges is None else tuple((float(lo), float(hi)) for lo, hi in ranges))

    def __len__(self) -> int:
        """Number of training pairs."""
        return len(self.pairs)

    def sample(self, index: int, stage: int = 0, epoch: int = 0) -> TrainSample:
        """The sample of pair ``index`` in a given stage and epoch (raises on errors)."""
        rng = sample_rng(self.seed, stage, epoch, index)
        pair = self.pairs[index]
        box = random_crop_box(self.sizes[index], self.config.window, rng)
        bands = self.config.in_channels
        if self.opened[index]:
            with open_image(pair.image, bands, self.reading, ranges=self.ranges[index], probe=False) as raster:
                image, labels = load_pair(pair, self.classes, bands, box, self.reading, raster)
        else:
            image, labels = load_pair(pair, self.classes, bands, box, self.reading)
        if self.augment:
            image, labels = augment(image, labels, rng)
        return make_sample(image, labels, self.config, self.normalisation, pair.name)

    def __getitem__(self, key) -> Union[TrainSample, GlnetError]:
        index, stage, epoch = key if isinstance(key, tuple) else (key, 0, 0)
        try:
            return self.sample(int(index), int(stage), int(epoch))
        except GlnetError as exc:
            return exc
