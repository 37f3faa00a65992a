"""One optimiser step's forward and backward passes, per stage (no optimiser step itself).

Each step covers one batch of images; in stages 2 and 3 the patches of an
image go through in sub-batches whose losses are added up (their gradients
accumulate), as the published code does.
"""

from __future__ import annotations

import contextlib
import math
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from ...glnet_core.engine.tiling import PatchBox, patch_layout
from ...glnet_core.errors import GlnetError
from ..data.labels import logits_size, resize_labels
from ..data.samples import TrainSample
from ..fpn import SharedFeatures
from ..glnet import GLNet, LocalMerger, crop_boxes, crop_shared, patch_batches
from ..losses import feature_regularisation, focal_loss
from .options import TrainOptions

__all__ = ["patch_labels", "batch_backward"]


# ===================================================================== one step
def patch_labels(labels: np.ndarray, boxes: Sequence[PatchBox], size: int) -> np.ndarray:
    """Labels of patches for the loss: each patch's labels resized (nearest) to ``size``.

    Returns
    -------
    numpy.ndarray
        ``(len(boxes), size, size)`` uint8.
    """
    return np.stack([resize_labels(labels[b.top : b.bottom, b.left : b.right], size, size) for b in boxes])


def _labels(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=torch.long)


def _floats(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=torch.float32)


def _check_finite(loss: torch.Tensor, stage: str, scaler) -> float:
    value = float(loss.detach())
    # Under a GradScaler an overflow is expected now and then: it skips that step.
    if not math.isfinite(value) and scaler is None:
        raise GlnetError(f"training diverged in stage {stage} (loss is {value}); lower --lr")
    return value


def batch_backward(
    model: GLNet,
    samples: Sequence[TrainSample],
    stage: str,
    options: TrainOptions,
    device: Union[torch.device, str] = "cpu",
    scaler: Optional["torch.amp.GradScaler"] = None,
) -> float:
    """Forward and backward passes of one batch: gradients accumulate, no optimiser step.

    The model must be prepared with :func:`set_trainable` for ``stage``.

    Parameters
    ----------
    model:
        The GLNet, on ``device``.
    samples:
        The batch (:class:`glnet.models.data.TrainSample`).
    stage:
        ``global``, ``g2l`` or ``l2g``.
    options:
        Uses ``gamma``, ``fmreg`` and ``sub_batch``.
    device:
        Where the model is.
    scaler:
        A CUDA ``GradScaler`` for mixed precision (losses are scaled before
        backward and the forward passes run under autocast), or None.

    Returns
    -------
    float
        The mean of the loss terms that were back-propagated (for display;
        the gradient is that of their sum, as published).

    Raises
    ------
    GlnetError
        If the loss is not finite (without a scaler).
    """
    device = torch.device(device)
    amp = scaler is not None and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if amp else contextlib.nullcontext

    def backward(loss: torch.Tensor, **kwargs) -> None:
        (scaler.scale(loss) if scaler is not None and amp else loss).backward(**kwargs)

    if stage == "global":
        return _global_step(model, samples, options, device, autocast, backward, scaler)
    if stage == "g2l":
        return _g2l_step(model, samples, options, device, autocast, backward, scaler)
    if stage == "l2g":
        return _l2g_step(model, samples, options, device, autocast, backward, scaler, amp)
    raise ValueError(f"unknown stage {stage!r}")


def _global_step(model, samples, options, device, autocast, backward, scaler) -> float:
    image_g = _floats(np.stack([s.image_g for s in samples]), device)
    labels_g = _labels(np.stack([s.labels_g for s in samples]), device)
    with autocast():
        out = model.forward_global(image_g)
    loss = focal_loss(out.logits, labels_g, options.gamma)
    value = _check_finite(loss, "global", scaler)
    backward(loss)
    return value


def _g2l_step(model, samples, options, device, autocast, backward, scaler) -> float:
    cfg = model.config
    lp = logits_size(cfg.size_p)
    values: List[float] = []
    for s in samples:
        size = tuple(s.window.shape[1:])
        boxes = patch_layout(size[0], size[1], cfg.size_p, cfg.min_overlap)
        window = _floats(s.window[None], device)
        # The frozen stage-1 branch: no graph, eval mode (set by set_trainable).
        with torch.no_grad(), autocast():
            g = model.forward_global(_floats(s.image_g[None], device))
        for chunk in patch_batches(boxes, options.sub_batch):
            patches = torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in chunk])
            target = _labels(patch_labels(s.labels, chunk, lp), device)
            with autocast():
                loc = model.forward_local(patches, crop_shared(g.shared, chunk, size))
                crop = crop_boxes(g.ps3, chunk, size)
                agg = model.aggregate(loc.ps3, crop, full=False)
            loss = focal_loss(loc.logits, target, options.gamma) + focal_loss(agg, target, options.gamma)
            if options.fmreg:
                loss = loss + options.fmreg * feature_regularisation(loc.ps3, crop)
            values.append(_check_finite(loss, "g2l", scaler))
            backward(loss)
    return float(np.mean(values))


def _l2g_step(model, samples, options, device, autocast, backward, scaler, amp) -> float:
    cfg = model.config
    lp = logits_size(cfg.size_p)
    # Off the GPU the stored local ps3 would hold ~1 GB per paper-sized
    # window; the published code keeps them on the CPU too.
    store = torch.device("cpu")
    layouts: List[List[Sequence[PatchBox]]] = []
    local_ps3: List[List[torch.Tensor]] = []
    merged: List[SharedFeatures] = []
    with torch.no_grad(), autocast():
        for s in samples:
            size = tuple(s.window.shape[1:])
            boxes = patch_layout(size[0], size[1], cfg.size_p, cfg.min_overlap)
            chunks = list(patch_batches(boxes, options.sub_batch))
            window = _floats(s.window[None], device)
            g = model.forward_global(_floats(s.image_g[None], device))
            merger = LocalMerger(g.shared, size, boxes)
            ps3s = []
            for chunk in chunks:
                patches = torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in chunk])
                loc = model.forward_local(patches, crop_shared(g.shared, chunk, size))
                merger.add(loc.shared, chunk)
                ps3s.append(loc.ps3.to(store))
            layouts.append(chunks)
            local_ps3.append(ps3s)
            merged.append(merger.result())
    merged_batch = SharedFeatures.from_tensors([torch.cat(ts) for ts in zip(*(m.tensors() for m in merged))])
    image_g = _floats(np.stack([s.image_g for s in samples]), device)
    labels_g = _labels(np.stack([s.labels_g for s in samples]), device)
    with autocast():
        l2g = model.forward_l2g(image_g, merged_batch)
    loss_g = focal_loss(l2g.logits, labels_g, options.gamma)
    values = [_check_finite(loss_g, "l2g", scaler)]
    # The aggregation losses need the l2g ps3 of every patch. Back-propagating
    # each through the whole l2g branch (as the published code does, with
    # retain_graph) costs one branch backward per sub-batch; instead their
    # gradient is collected on a detached ps3 and sent through the branch once,
    # together with the global loss. Same gradient, one branch backward.
    ps3 = l2g.ps3.detach().requires_grad_(True)
    for i, s in enumerate(samples):
        size = tuple(s.window.shape[1:])
        for chunk, loc_ps3 in zip(layouts[i], local_ps3[i]):
            target = _labels(patch_labels(s.labels, chunk, lp), device)
            with autocast():
                agg = model.aggregate(loc_ps3.to(device), crop_boxes(ps3[i : i + 1], chunk, size), full=True)
            loss = focal_loss(agg, target, options.gamma)
            values.append(_check_finite(loss, "l2g", scaler))
            backward(loss)
    scaled_g = scaler.scale(loss_g) if amp else loss_g
    if ps3.grad is None:  # pragma: no cover - every window has at least one patch
        scaled_g.backward()
    else:
        torch.autograd.backward([scaled_g, l2g.ps3], [torch.ones_like(scaled_g), ps3.grad.to(l2g.ps3.dtype)])
    return float(np.mean(values))
