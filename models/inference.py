"""Reference inference of one window in PyTorch.

This is the PyTorch twin of the onnxruntime engine's per-window step: the
export verification and the fidelity checks compare against it, and training
uses it for validation. Pre-processing comes from :mod:`glnet_core.preprocess`
so both paths see identical inputs.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

from ..glnet_core.engine.modes import FULL
from ..glnet_core.engine.preprocess import Normalisation, prepare_window
from .glnet import GLNet

__all__ = ["predict_window"]


@torch.no_grad()
def predict_window(
    model: GLNet,
    image_hwc: np.ndarray,
    mode: str = FULL,
    normalisation: Normalisation | None = None,
    patch_batch: int = 6,
) -> Tuple[np.ndarray, np.ndarray]:
    """Class map and scores of one ``(H, W, C)`` window of any size.

    Returns
    -------
    (classes, scores):
        ``classes`` is ``(H, W)`` uint8, the argmax of ``scores``, which is
        ``(n_classes, H, W)`` float32 (summed patch logits; see
        :meth:`GLNet.predict`).
    """
    cfg = model.config
    norm = normalisation or Normalisation()
    prep = prepare_window(image_hwc, cfg.size_g, cfg.size_p, norm)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        scores = model.predict(
            torch.from_numpy(prep.image_g)[None].to(device),
            torch.from_numpy(prep.window)[None].to(device),
            mode=mode,
            patch_batch=patch_batch,
        )
    finally:
        model.train(was_training)
    h, w = prep.valid
    out = scores[:, :h, :w].cpu().numpy()
    return out.argmax(axis=0).astype(np.uint8), out
