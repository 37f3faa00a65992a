"""The FPN head of a GLNet branch, plain or fused with another branch's features.

A plain head (the stage-1 global branch) is the published FPN: a top-down
pathway over c5..c2, two 3x3 smoothing convs per level, the four levels
upsampled to the finest and concatenated (ps3), and a 3x3 classifier.

A fused head (the local branch, and the stage-3 global branch) takes, at every
step, the other branch's tensor of the same name and concatenates it to its own
before the step's convolutions: c2..c5 before the lateral 1x1 convs, ps0
before the first smoothing, ps1 before the second, ps2 before the head, where a
1024 -> 512 ``fuse`` conv comes before the classifier. The other branch's
tensors may have any spatial size: each is resized (bilinear,
``align_corners=False``) to the tensor it joins, as the published code does.

Level lists: ``c`` is ``[c2, c3, c4, c5]`` (fine to coarse, as the backbone
makes them); ``ps0``, ``ps1``, ``ps2`` are ``[p5, p4, p3, p2]`` (coarse to
fine, as the top-down pathway makes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SharedFeatures", "BranchOutput", "FPNHead", "resize_to", "bilinear"]


def bilinear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize with ``align_corners=False`` and no antialiasing (the published choice)."""
    return F.interpolate(x, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)


def resize_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``x`` resized to ``ref``'s spatial size (returned as is when it already matches).

    While tracing for ONNX export the resize is always recorded: an input whose
    size matches in the example may not match at run time.
    """
    if x.shape[-2:] == ref.shape[-2:] and not torch.jit.is_tracing():
        return x
    return bilinear(x, ref.shape[-2:])


@dataclass
class SharedFeatures:
    """The tensors one branch passes to the other: 16 maps at four levels."""

    c: List[torch.Tensor]
    ps0: List[torch.Tensor]
    ps1: List[torch.Tensor]
    ps2: List[torch.Tensor]

    def tensors(self) -> List[torch.Tensor]:
        return [*self.c, *self.ps0, *self.ps1, *self.ps2]

    @classmethod
    def from_tensors(cls, tensors: Sequence[torch.Tensor]) -> "SharedFeatures":
        t = list(tensors)
        if len(t) != 16:
            raise ValueError(f"expected 16 shared tensors, got {len(t)}")
        return cls(t[0:4], t[4:8], t[8:12], t[12:16])


@dataclass
class BranchOutput:
    """Everything a branch computes: shared tensors, ps3 and class logits (stride 4)."""

    shared: SharedFeatures
    ps3: torch.Tensor
    logits: torch.Tensor


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, 1, k // 2)


class FPNHead(nn.Module):
    """FPN over ``[c2, c3, c4, c5]``; ``fused`` doubles every input (see module doc)."""

    def __init__(self, in_channels: Sequence[int], fpn_channels: int, head_channels: int, n_classes: int, fused: bool):
        super().__init__()
        self.fused = fused
        f = 2 if fused else 1
        c2, c3, c4, c5 = in_channels
        # Coarse to fine: index 0 is the published `toplayer`, 1..3 `latlayer1..3`.
        self.lateral = nn.ModuleList([_conv(c * f, fpn_channels, 1) for c in (c5, c4, c3, c2)])
        self.smooth1 = nn.ModuleList([_conv(fpn_channels * f, fpn_channels, 3) for _ in range(4)])
        self.smooth2 = nn.ModuleList([_conv(fpn_channels * f, head_channels, 3) for _ in range(4)])
        self.fuse = _conv(4 * head_channels * 2, 4 * head_channels, 3) if fused else None
        self.classify = _conv(4 * head_channels, n_classes, 3)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _join(self, own: torch.Tensor, other: Optional[torch.Tensor]) -> torch.Tensor:
        if other is None:
            return own
        return torch.cat([own, resize_to(other, own)], dim=1)

    def forward(self, c: Sequence[torch.Tensor], other: Optional[SharedFeatures] = None) -> BranchOutput:
        if self.fused != (other is not None):
            raise ValueError("a fused head needs the other branch's features; a plain head takes none")
        o_c = list(reversed(other.c)) if other is not None else [None] * 4
        o_ps0 = other.ps0 if other is not None else [None] * 4
        o_ps1 = other.ps1 if other is not None else [None] * 4
        o_ps2 = other.ps2 if other is not None else [None] * 4

        ps0: List[torch.Tensor] = []
        for conv, x, o in zip(self.lateral, reversed(list(c)), o_c):
            y = conv(self._join(x, o))
            ps0.append(y if not ps0 else bilinear(ps0[-1], y.shape[-2:]) + y)
        ps1 = [conv(self._join(x, o)) for conv, x, o in zip(self.smooth1, ps0, o_ps0)]
        ps2 = [conv(self._join(x, o)) for conv, x, o in zip(self.smooth2, ps1, o_ps1)]
        levels = [self._join(x, o) for x, o in zip(ps2, o_ps2)]
        finest = levels[-1]
        ps3 = torch.cat([resize_to(x, finest) for x in levels], dim=1)
        if self.fuse is not None:
            ps3 = self.fuse(ps3)
        logits = self.classify(ps3)
        return BranchOutput(SharedFeatures(list(c), ps0, ps1, ps2), ps3, logits)
