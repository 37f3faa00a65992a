"""The GLNet cut into ONNX subgraphs: flat tensor inputs and outputs per graph.

Where the cut lies (docs/subgraphs.md has the full specification):

``global``
    ``image_g (1, C, G, G)`` -> the 16 shared tensors (``SHARED_NAMES``),
    ``ps3`` and ``logits`` of the stage-1 global branch.
``local``
    ``patches (N, C, P, P)`` and ``g_<name>`` crops of the 16 global tensors
    (any spatial size; resized inside) -> the 16 local tensors and, per
    aggregation conv, its local half applied to the local ps3 *with* the bias:
    ``agg_g2l`` and ``agg_full`` ``(N, n, P/4, P/4)``. The 512-channel local
    ps3 never leaves the graph.
``aggregation_g2l`` / ``aggregation_full``
    ``agg_local (N, n, P/4, P/4)`` and ``g_ps3`` crops of a global ps3 (any
    size; resized inside) -> ``logits = agg_local + conv_global_half(resize(g_ps3))``.
``l2g``
    ``image_g`` and ``m_<name>``, the merged local tensors at the global
    tensors' sizes -> ``ps3`` and ``logits`` of the stage-3 global branch.

The split of the aggregation conv is exact because the conv is linear:
``conv(cat(a, b)) = conv_a(a) + conv_b(b) + bias``.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..glnet_core.engine.predictor import SHARED_NAMES
from ..models.fpn import SharedFeatures, bilinear
from ..models.glnet import GLNet

__all__ = ["GlobalGraph", "LocalGraph", "AggregationGraph", "L2GGraph", "conv_half"]


def conv_half(conv: nn.Conv2d, x: torch.Tensor, first: bool, bias: bool) -> torch.Tensor:
    """Apply the first or second input-channel half of a conv over a concatenation."""
    c = conv.weight.shape[1] // 2
    weight = conv.weight[:, :c] if first else conv.weight[:, c:]
    return F.conv2d(x, weight, conv.bias if bias else None, padding=conv.padding)


class GlobalGraph(nn.Module):
    input_names = ["image_g"]
    output_names = list(SHARED_NAMES) + ["ps3", "logits"]

    def __init__(self, model: GLNet):
        super().__init__()
        self.branch = model.global_branch

    def forward(self, image_g: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.branch(image_g)
        return (*out.shared.tensors(), out.ps3, out.logits)


class LocalGraph(nn.Module):
    input_names = ["patches"] + ["g_" + n for n in SHARED_NAMES]
    output_names = list(SHARED_NAMES) + ["agg_g2l", "agg_full"]

    def __init__(self, model: GLNet):
        super().__init__()
        self.branch = model.local_branch
        self.aggregation = model.aggregation
        self.l2g_aggregation = model.l2g_aggregation

    def forward(self, patches: torch.Tensor, *global_crops: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.branch(patches, SharedFeatures.from_tensors(global_crops))
        agg_g2l = conv_half(self.aggregation, out.ps3, first=True, bias=True)
        agg_full = conv_half(self.l2g_aggregation, out.ps3, first=True, bias=True)
        return (*out.shared.tensors(), agg_g2l, agg_full)


class AggregationGraph(nn.Module):
    input_names = ["agg_local", "g_ps3"]
    output_names = ["logits"]

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv

    def forward(self, agg_local: torch.Tensor, g_ps3: torch.Tensor) -> torch.Tensor:
        g = bilinear(g_ps3, agg_local.shape[-2:])
        return agg_local + conv_half(self.conv, g, first=False, bias=False)


class L2GGraph(nn.Module):
    input_names = ["image_g"] + ["m_" + n for n in SHARED_NAMES]
    output_names = ["ps3", "logits"]

    def __init__(self, model: GLNet):
        super().__init__()
        self.branch = model.l2g_branch

    def forward(self, image_g: torch.Tensor, *merged: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.branch(image_g, SharedFeatures.from_tensors(merged))
        return out.ps3, out.logits
