"""Training losses of GLNet: focal loss and the feature-map regularisation.

The published training uses a focal loss with ``gamma = 3`` on labels at 1/4
of the network input, and in stage 2 adds ``0.15 *`` the mean squared error
between the local branch's ps3 and the global ps3 cropped to the patch
(feature-map regularisation). Both are computed in float32 even under mixed
precision: ``(1 - p) ** 3`` and ``log p`` of half-precision probabilities lose
most of their bits for well-classified pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..glnet_core.formats.classes import NODATA
from .fpn import bilinear

__all__ = ["focal_loss", "feature_regularisation"]


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 3.0,
    ignore_index: int = NODATA,
    eps: float = 1e-7,
) -> torch.Tensor:
    """Focal loss, averaged over the pixels whose label is not ``ignore_index``.

    For each valid pixel with true-class probability ``p = softmax(logits)[y]``,
    clamped to ``[eps, 1 - eps]`` as the published implementation does, the
    loss is ``-(1 - p) ** gamma * log(p)``; the result is their mean. With
    ``gamma = 0`` this is the cross-entropy (up to the clamp).

    Parameters
    ----------
    logits:
        ``(N, C, H, W)`` class scores, any float dtype.
    target:
        ``(N, H, W)`` integer labels in ``0 .. C-1``, or ``ignore_index``.
    gamma:
        Focusing exponent (3 in the published training).
    ignore_index:
        Label of pixels that do not count (255 = nodata).
    eps:
        Probability clamp, which also keeps ``log`` finite.

    Returns
    -------
    torch.Tensor
        A float32 scalar. When no pixel is valid it is ``0`` and still part of
        the graph (so ``backward`` works and gives zero gradients).

    Raises
    ------
    ValueError
        If the shapes do not match, or a valid label is outside ``0 .. C-1``.
    """
    if logits.dim() != 4 or target.dim() != 3 or logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"focal loss needs (N, C, H, W) logits and (N, H, W) labels, got {tuple(logits.shape)} and {tuple(target.shape)}")
    n_classes = logits.shape[1]
    x = logits.float().permute(0, 2, 3, 1).reshape(-1, n_classes)
    y = target.reshape(-1).long()
    valid = y != ignore_index
    if not bool(valid.any()):
        return x.sum() * 0.0
    x = x[valid]
    y = y[valid]
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"labels must be in 0..{n_classes - 1} or {ignore_index}, got {int(y.min())}..{int(y.max())}")
    p = F.softmax(x, dim=1).gather(1, y[:, None])[:, 0].clamp(eps, 1.0 - eps)
    return (-(1.0 - p).pow(gamma) * p.log()).mean()


def feature_regularisation(local_ps3: torch.Tensor, global_ps3_crop: torch.Tensor) -> torch.Tensor:
    """Stage-2 feature-map regularisation: MSE(local ps3, global ps3 crop resized to it).

    Parameters
    ----------
    local_ps3:
        ``(N, C, h, w)`` ps3 of the local branch for N patches.
    global_ps3_crop:
        ``(N, C, h', w')`` the global ps3 cropped to each patch's footprint
        (:func:`glnet.models.glnet.crop_boxes`); it is resized (bilinear) to
        ``(h, w)`` here, as the aggregation does.

    Returns
    -------
    torch.Tensor
        A float32 scalar: the mean over all elements of the squared difference.
    """
    resized = bilinear(global_ps3_crop, local_ps3.shape[-2:])
    return F.mse_loss(local_ps3.float(), resized.float())
