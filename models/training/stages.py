"""The three stages: which parts of a GLNet each trains and how it is validated; the learning-rate schedule.

=========  ====================================  ===================================
stage      trains                                loss (focal, labels at 1/4 size)
=========  ====================================  ===================================
``global`` ``global_branch`` on the downsampled  focal(global logits)
           window
``g2l``    ``local_branch`` + ``aggregation``;   focal(local logits) + focal(aggregation
           the global branch is frozen           logits) + fmreg * MSE(local ps3, global
                                                 ps3 crop)
``l2g``    ``l2g_branch`` + ``l2g_aggregation``; focal(l2g global logits) + focal(l2g
           global and local branches frozen      aggregation logits of every patch)
=========  ====================================  ===================================

Frozen parts have ``requires_grad = False`` and stay in eval mode (their
BatchNorm statistics do not move), as the published code keeps them. With
``freeze_backbone`` (``glnet train --freeze-backbone``) the ResNet backbones of
the trained parts are frozen the same way in every stage, so only their FPNs,
classifiers and aggregation convs learn. Adam with L2 weight decay and the
poly schedule ``lr * (1 - iteration / max_iteration) ** 0.9``.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from ...glnet_core.engine.modes import FULL, G2L
from ...glnet_core.errors import InputError
from ..glnet import GLNet
from .options import STAGES

__all__ = ["TRAINED_PARTS", "VALIDATION_MODE", "set_stage_modes", "set_trainable", "poly_lr", "resolve_device"]

#: The GLNet attributes each stage trains; everything else is frozen.
TRAINED_PARTS: Dict[str, Tuple[str, ...]] = {
    "global": ("global_branch",),
    "g2l": ("local_branch", "aggregation"),
    "l2g": ("l2g_branch", "l2g_aggregation"),
}
#: Inference mode used to validate each stage (None: global logits alone).
VALIDATION_MODE: Dict[str, Optional[str]] = {"global": None, "g2l": G2L, "l2g": FULL}


def set_stage_modes(model: GLNet, stage: str) -> None:
    """Train mode for the parts ``stage`` trains, eval mode for all others.

    Eval mode keeps the frozen branches' BatchNorm layers on their running
    statistics (and leaves those untouched), as the published training does.
    A trained part's backbone whose parameters are all frozen
    (:func:`set_trainable` with ``freeze_backbone``) stays in eval mode too.
    Call it again after anything that calls ``model.train()`` / ``eval()``.
    """
    model.eval()
    for name in TRAINED_PARTS[stage]:
        part = getattr(model, name)
        part.train()
        backbone = getattr(part, "backbone", None)
        if backbone is not None and not any(p.requires_grad for p in backbone.parameters()):
            backbone.eval()


def set_trainable(model: GLNet, stage: str, freeze_backbone: bool = False) -> List[nn.Parameter]:
    """Freeze everything ``stage`` does not train; return the trained parameters.

    Sets ``requires_grad`` (so frozen parts get no gradient at all) and the
    train / eval modes (:func:`set_stage_modes`).

    Parameters
    ----------
    model:
        The GLNet.
    stage:
        ``global``, ``g2l`` or ``l2g``.
    freeze_backbone:
        Also freeze the backbones of the parts ``stage`` trains
        (:attr:`.options.TrainOptions.freeze_backbone`).

    Returns
    -------
    list of torch.nn.Parameter
        The trained parameters, in module order (the optimiser's order, which
        a resumed optimiser state relies on; the same ``freeze_backbone``
        gives the same list).

    Raises
    ------
    ValueError
        For an unknown stage.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    model.requires_grad_(False)
    params: List[nn.Parameter] = []
    for name in TRAINED_PARTS[stage]:
        part = getattr(model, name)
        part.requires_grad_(True)
        backbone = getattr(part, "backbone", None)
        if freeze_backbone and backbone is not None:
            backbone.requires_grad_(False)
        params.extend(p for p in part.parameters() if p.requires_grad)
    set_stage_modes(model, stage)
    return params


def poly_lr(base_lr: float, iteration: int, max_iteration: int, power: float = 0.9) -> float:
    """The poly schedule: ``base_lr * (1 - iteration / max_iteration) ** power``."""
    if max_iteration <= 0:
        return base_lr
    return base_lr * max(0.0, 1.0 - iteration / max_iteration) ** power


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``; ``cuda``.

    Raises
    ------
    InputError
        For ``cuda`` without a usable GPU, or an unknown name.
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU is available to torch (use --device cpu or auto)")
        return torch.device("cuda")
    raise InputError(f"--device must be auto, cpu or cuda, got {spec!r}")
