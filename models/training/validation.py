"""Validation during training: the model's classes on held-out pairs, and their scores.

The scores are :mod:`glnet.glnet_core.products.metrics`' (the ones ``glnet
evaluate`` reports): a validation mIoU is what ``glnet evaluate`` gives for the
same pixels. Validation images are read as training images are (as ``glnet
segment`` reads its input: :mod:`glnet.models.data.images`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...glnet_core.engine.preprocess import Normalisation, prepare_window
from ...glnet_core.formats.classes import ClassTable
from ...glnet_core.products.metrics import confusion_matrix, scores_from_confusion
from ..data import ImageReading, SamplePair, load_pair, pair_size, validation_tiles
from ..data.images import open_image
from ..glnet import GLNet
from ..inference import predict_window
from .stages import VALIDATION_MODE

if TYPE_CHECKING:
    from ...glnet_core.progress_bar import ProgressBar

__all__ = ["Scores", "confusion_matrix", "predict_classes", "evaluate"]


@dataclass(frozen=True)
class Scores:
    """Validation scores from a confusion matrix (:func:`glnet.glnet_core.products.metrics.scores_from_confusion`).

    Attributes
    ----------
    confusion:
        ``(n, n)`` int64, rows = reference class, columns = predicted class;
        pixels labelled nodata (255) or with an ignored class are not counted
        (:func:`confusion_matrix` with ``ignored``).
    iou:
        Per-class IoU; None for a class absent from both reference and
        prediction, and for ignored classes.
    miou:
        Mean of the defined per-class IoUs (None when no pixel was scored).
    accuracy:
        Fraction of scored pixels classified correctly (None when none was).
    """

    confusion: np.ndarray
    iou: List[Optional[float]]
    miou: Optional[float]
    accuracy: Optional[float]

    @classmethod
    def from_confusion(cls, confusion: np.ndarray, ignored: Sequence[int] = ()) -> "Scores":
        """The scores of a confusion matrix, ``ignored`` classes left out (as ``glnet evaluate --ignore``)."""
        cm = np.asarray(confusion).astype(np.int64)
        metrics = scores_from_confusion(cm, None, ignored)
        return cls(cm, metrics.iou, metrics.miou, metrics.overall_accuracy)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_classes(
    model: GLNet, image: np.ndarray, stage: str, normalisation: Normalisation, patch_batch: int = 6
) -> np.ndarray:
    """Class map of one ``(H, W, C)`` window as the model stands after ``stage``.

    ``global``: the global logits' argmax, upsampled (nearest) to the padded
    window and cropped; ``g2l`` / ``l2g``: :func:`glnet.models.inference.predict_window`
    in mode ``g2l`` / ``full``. Puts the model in eval mode.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 class ids.
    """
    model.eval()
    device = _model_device(model)
    mode = VALIDATION_MODE[stage]
    if mode is None:
        prep = prepare_window(image, model.config.size_g, model.config.size_p, normalisation)
        logits = model.forward_global(torch.from_numpy(prep.image_g)[None].to(device)).logits
        up = F.interpolate(logits.float(), size=tuple(prep.window.shape[1:]), mode="nearest")
        h, w = prep.valid
        return up[0, :, :h, :w].argmax(0).to(torch.uint8).cpu().numpy()
    return predict_window(model, image, mode=mode, normalisation=normalisation, patch_batch=patch_batch)[0]


def evaluate(
    model: GLNet,
    pairs: Sequence[SamplePair],
    classes: ClassTable,
    stage: str,
    normalisation: Normalisation,
    patch_batch: int = 6,
    progress: Optional["ProgressBar"] = None,
    reading: Optional[ImageReading] = None,
    sizes: Optional[Sequence[Tuple[int, int]]] = None,
) -> Scores:
    """Scores of the model after ``stage`` on validation pairs.

    Images larger than ``config.window`` are cut into nearly equal tiles of
    at most ``config.window`` px per side (:func:`glnet.models.data.validation_tiles`),
    each predicted as one window, so every pixel is scored once. Leaves the
    model in eval mode. ``reading`` is the band choice and stretch of the
    images (:class:`glnet.models.data.ImageReading`). Each image is opened
    once and its tiles read from that open. ``sizes``: the pairs'
    :func:`glnet.models.data.pair_size`, when already known (default: read here).

    Raises
    ------
    InputError
        If a pair cannot be read.
    """
    cfg = model.config
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    if sizes is not None and len(sizes) != len(pairs):
        raise ValueError(f"{len(sizes)} sizes for {len(pairs)} pairs")
    for i, pair in enumerate(pairs):
        size = pair_size(pair) if sizes is None else sizes[i]
        # An area of a labelled image (at most a window, :mod:`glnet.models.data.scenes`) is scored as one window.
        tiles = [pair.region] if pair.region is not None else validation_tiles(size, cfg.window)
        whole = len(tiles) == 1 and pair.region is None
        with open_image(pair.image, cfg.in_channels, reading) as raster:
            for box in tiles:
                image, labels = load_pair(pair, classes, cfg.in_channels, None if whole else box, reading, raster)
                pred = predict_classes(model, image, stage, normalisation, patch_batch)
                cm += confusion_matrix(labels, pred, n, classes.ignored_ids)
        if progress is not None:
            progress.update()
    return Scores.from_confusion(cm, classes.ignored_ids)
