"""Network inputs and loss labels of one training window: :class:`TrainSample`.

Kept apart from the readers (:mod:`.dataset`, :mod:`.images`) so that the
training steps (:mod:`glnet.models.training.steps`) import neither rasterio
nor GDAL: a machine that only runs the network (a lent GPU with CUDA torch and
numpy) can drive them on samples made elsewhere or in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...glnet_core.engine.preprocess import Normalisation, prepare_window
from ...glnet_core.formats.classes import NODATA
from ..config import GLNetConfig
from .labels import logits_size, resize_labels

__all__ = ["TrainSample", "make_sample"]


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
