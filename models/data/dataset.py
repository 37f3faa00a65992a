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

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ...glnet_core.engine.grid import ModelGrid
from ...glnet_core.engine.preprocess import Normalisation
from ...glnet_core.errors import GlnetError, InputError
from ...glnet_core.formats.classes import NODATA, ClassTable
from ...glnet_core.formats.raster_input import RasterInput
from ..config import GLNetConfig
from .images import Box, ImageReading, open_image, pair_size, raster_size, read_window
from .label_sources import box_overlap
from .labels import read_mask, values_found
from .pairs import SamplePair
from .samples import TrainSample, make_sample
from .sampling import augment, random_crop_box, sample_rng, window_around

__all__ = ["TrainSample", "load_pair", "read_labels", "make_sample", "TrainingDataset"]


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
    if raster is None:
        with open_image(pair.image, bands, reading) as opened:
            image, valid = read_window(opened, box, pair.grid)
    else:
        image, valid = read_window(raster, box, pair.grid)
    labels = read_labels(pair, classes, box)
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


def read_labels(pair: SamplePair, classes: ClassTable, box: Optional[Box] = None) -> np.ndarray:
    """The class ids (255 nodata) of a pair's labels in ``box`` (default: all), its masked boxes set to nodata.

    Raises
    ------
    InputError
        If the mask cannot be read.
    """
    if isinstance(pair.mask, (str, Path)):
        labels = read_mask(pair.mask, classes, box)
    else:
        grid = pair.grid if pair.grid is not None else ModelGrid(raster_size(pair.image))
        labels = pair.mask.read(box if box is not None else (0, 0, *grid.size), classes, grid)
    if pair.masked:
        where = box if box is not None else (0, 0, *labels.shape)
        for held in pair.masked:
            r0, c0, r1, c1 = box_overlap(where, held)
            if r1 > r0 and c1 > c0:
                if not labels.flags.writeable:
                    labels = labels.copy()
                labels[r0:r1, c0:c1] = NODATA
    return labels


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
        # Areas of one large image share its per-file work: opened once per file, not once per area.
        seen: Dict[Path, Tuple[bool, Optional[Tuple[Tuple[float, float], ...]]]] = {}
        for p in self.pairs:
            if p.image not in seen:
                try:
                    with open_image(p.image, config.in_channels, self.reading) as raster:
                        ranges = raster.input_range_per_band
                except InputError:  # raised again, as it was, by sample()
                    seen[p.image] = (False, None)
                else:
                    seen[p.image] = (True, None if ranges is None else tuple((float(lo), float(hi)) for lo, hi in ranges))
            opened, ranges_ = seen[p.image]
            self.opened.append(opened)
            self.ranges.append(ranges_)

    def __len__(self) -> int:
        """Number of training pairs."""
        return len(self.pairs)

    def sample(self, index: int, stage: int = 0, epoch: int = 0) -> TrainSample:
        """The sample of pair ``index`` in a given stage and epoch (raises on errors)."""
        rng = sample_rng(self.seed, stage, epoch, index)
        pair = self.pairs[index]
        if pair.region is None:
            box = random_crop_box(self.sizes[index], self.config.window, rng)
        else:
            box = window_around(pair.region, self.sizes[index], self.config.window, rng)
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
