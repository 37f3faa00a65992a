"""GLNet: collaborative global-local networks (Chen et al., CVPR 2019).

One ``GLNet`` holds every part a trained model needs, each trained in one of
the three published stages:

=====================  =====  ==============================================
part                   stage  role
=====================  =====  ==============================================
``global_branch``      1      ResNet + plain FPN on the downsampled window
``local_branch``       2      ResNet + fused FPN on full-resolution patches,
                              fed the global branch's cropped tensors
``aggregation``        2      3x3 conv over [local ps3, global ps3 crop]
``l2g_branch``         3      ResNet + fused FPN on the downsampled window,
                              fed the local tensors merged back into the
                              window ("local to global")
``l2g_aggregation``    3      the aggregation conv as retrained in stage 3
=====================  =====  ==============================================

Inference modes (as in the published evaluation):

``g2l``
    stage-1 global branch -> local branch -> ``aggregation``.
``full``
    as ``g2l`` for the local branch; then the ``l2g_branch`` pass over the
    merged local tensors, and ``l2g_aggregation`` of each patch's local ps3
    with the crop of the stage-3 global ps3.

The published code keeps the stage-3 global branch and the stage-1 one in two
instances of the same module (``global_fixed`` and the model); this class names
them separately, which is why a trained ``paper`` model stores 102.8 M
parameters while the published single module has 79.2 M (see
:func:`published_parameter_count`).
"""

from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..glnet_core.engine.modes import FULL, MODE_NAMES
from ..glnet_core.engine.tiling import PatchBox, feature_box, patch_layout
from .config import GLNetConfig
from .fpn import BranchOutput, FPNHead, SharedFeatures, bilinear
from .resnet import ResNet

__all__ = ["Branch", "GLNet", "published_parameter_count"]


class Branch(nn.Module):
    """A ResNet backbone and an FPN head."""

    def __init__(self, config: GLNetConfig, n_classes: int, fused: bool):
        super().__init__()
        self.backbone = ResNet(config.backbone, config.in_channels)
        self.head = FPNHead(config.backbone.out_channels, config.fpn_channels, config.head_channels, n_classes, fused)

    def forward(self, image: torch.Tensor, other: SharedFeatures | None = None) -> BranchOutput:
        return self.head(self.backbone(image), other)


class GLNet(nn.Module):
    """The full GLNet; see the module docstring for parts and modes.

    Parameters
    ----------
    config:
        Architecture and window geometry.
    n_classes:
        Number of output classes.
    """

    def __init__(self, config: GLNetConfig, n_classes: int):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a segmentation model needs at least 2 classes, got {n_classes}")
        self.config = config
        self.n_classes = n_classes
        self.global_branch = Branch(config, n_classes, fused=False)
        self.local_branch = Branch(config, n_classes, fused=True)
        self.aggregation = nn.Conv2d(2 * config.ps3_channels, n_classes, 3, 1, 1)
        self.l2g_branch = Branch(config, n_classes, fused=True)
        self.l2g_aggregation = nn.Conv2d(2 * config.ps3_channels, n_classes, 3, 1, 1)
        for conv in (self.aggregation, self.l2g_aggregation):
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)

    # ------------------------------------------------------------------ parts
    def forward_global(self, image_g: torch.Tensor) -> BranchOutput:
        """Stage-1 global branch on ``(B, C, size_g, size_g)`` images."""
        return self.global_branch(image_g)

    def forward_local(self, patches: torch.Tensor, global_crops: SharedFeatures) -> BranchOutput:
        """Local branch on ``(N, C, size_p, size_p)`` patches and the matching global crops."""
        return self.local_branch(patches, global_crops)

    def forward_l2g(self, image_g: torch.Tensor, merged_local: SharedFeatures) -> BranchOutput:
        """Stage-3 global branch on the downsampled window and the merged local tensors."""
        return self.l2g_branch(image_g, merged_local)

    def aggregate(self, local_ps3: torch.Tensor, global_ps3_crop: torch.Tensor, full: bool) -> torch.Tensor:
        """Aggregation logits of patches: conv over [local ps3, global ps3 crop resized to it]."""
        conv = self.l2g_aggregation if full else self.aggregation
        return conv(torch.cat([local_ps3, bilinear(global_ps3_crop, local_ps3.shape[-2:])], dim=1))

    def init_stage3_from_stage2(self) -> None:
        """Start stage 3 where the published training starts it.

        The published stage 3 continues the stage-2 model: the global ResNet,
        the classifier and the aggregation conv keep their trained weights and
        the local-to-global FPN layers start from their initialisation.
        """
        self.l2g_branch.backbone.load_state_dict(self.global_branch.backbone.state_dict())
        self.l2g_branch.head.classify.load_state_dict(self.global_branch.head.classify.state_dict())
        self.l2g_aggregation.load_state_dict(self.aggregation.state_dict())

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(
        self, image_g: torch.Tensor, window: torch.Tensor, mode: str = FULL, patch_batch: int = 6
    ) -> torch.Tensor:
        """Class scores of one window, as the published evaluation computes them.

        Parameters
        ----------
        image_g:
            ``(1, C, size_g, size_g)``: the window resized (see
            :mod:`glnet.glnet_core.engine.resample`) and normalised.
        window:
            ``(1, C, H, W)`` normalised window, ``H, W >= size_p`` (pad smaller
            windows first).
        mode:
            An inference mode (:data:`glnet.glnet_core.engine.modes.MODE_NAMES`).
        patch_batch:
            Patches per local-branch batch (affects speed and memory only).

        Returns
        -------
        torch.Tensor
            ``(n_classes, H, W)``: each patch's aggregation logits, upsampled
            (nearest) to the patch size and summed where patches overlap.
            The class map is its argmax over dimension 0.
        """
        if mode not in MODE_NAMES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODE_NAMES)}")
        size = _hw(window)
        p = self.config.size_p
        if size[0] < p or size[1] < p:
            raise ValueError(f"window {size[0]} x {size[1]} is smaller than the patch size {p}; pad it first")
        boxes = patch_layout(size[0], size[1], p, self.config.min_overlap)
        g = self.forward_global(image_g)
        scores = torch.zeros((self.n_classes,) + size, dtype=torch.float32, device=window.device)
        full = mode == FULL
        merger = LocalMerger(g.shared, size, boxes) if full else None
        # Full mode: the aggregation conv is linear, so its local half is applied
        # to each patch at once and only n_classes channels wait for stage 3.
        local_part: List[torch.Tensor] = []
        for batch in patch_batches(boxes, patch_batch):
            patches = torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in batch])
            loc = self.forward_local(patches, crop_shared(g.shared, batch, size))
            if merger is not None:
                merger.add(loc.shared, batch)
                local_part.append(_aggregation_half(self.l2g_aggregation, loc.ps3, local=True))
            else:
                logits = self.aggregate(loc.ps3, crop_boxes(g.ps3, batch, size), full=False)
                _accumulate(scores, logits, batch)
        if merger is not None:
            l2g = self.forward_l2g(image_g, merger.result())
            for batch, part in zip(patch_batches(boxes, patch_batch), local_part):
                crop = bilinear(crop_boxes(l2g.ps3, batch, size), part.shape[-2:])
                logits = part + _aggregation_half(self.l2g_aggregation, crop, local=False)
                _accumulate(scores, logits, batch)
        return scores


def _aggregation_half(conv: nn.Conv2d, x: torch.Tensor, local: bool) -> torch.Tensor:
    c = x.shape[1]
    weight = conv.weight[:, :c] if local else conv.weight[:, c:]
    return F.conv2d(x, weight, conv.bias if local else None, padding=1)


def patch_batches(boxes: Sequence[PatchBox], n: int) -> Iterable[Sequence[PatchBox]]:
    """``boxes`` in consecutive batches of at most ``n`` (at least 1), in order."""
    n = max(1, int(n))
    for i in range(0, len(boxes), n):
        yield boxes[i : i + n]


def _accumulate(scores: torch.Tensor, logits: torch.Tensor, boxes: Sequence[PatchBox]) -> None:
    p = boxes[0].size_rows
    up = F.interpolate(logits, size=(p, p), mode="nearest")
    for b, x in zip(boxes, up):
        scores[:, b.top : b.bottom, b.left : b.right] += x


def _hw(x: torch.Tensor) -> Tuple[int, int]:
    """The height and width of a tensor (its last two dimensions)."""
    return int(x.shape[-2]), int(x.shape[-1])


def crop_boxes(x: torch.Tensor, boxes: Sequence[PatchBox], window: Tuple[int, int]) -> torch.Tensor:
    """Crops of a ``(1, C, H, W)`` global tensor for each patch, stacked to ``(N, C, h, w)``."""
    fb = [feature_box(b, window, _hw(x)) for b in boxes]
    return torch.cat([x[..., f.row0 : f.row1, f.col0 : f.col1] for f in fb])


def crop_shared(shared: SharedFeatures, boxes: Sequence[PatchBox], window: Tuple[int, int]) -> SharedFeatures:
    """:func:`crop_boxes` of every shared global tensor."""
    return SharedFeatures.from_tensors([crop_boxes(t, boxes, window) for t in shared.tensors()])


class LocalMerger:
    """Merges patches' shared tensors into global-map coordinates (stage 3).

    Each patch's tensor is resized (bilinear) to its footprint on the global
    tensor of the same name and summed there; the sum is divided by the patch
    count map, which is computed at window resolution and resized (bilinear)
    to each tensor's size, as the published code does.
    """

    def __init__(self, like: SharedFeatures, window: Tuple[int, int], boxes: Sequence[PatchBox]):
        self.window = window
        self.sums = [torch.zeros_like(t) for t in like.tensors()]
        count = torch.zeros((1, 1) + tuple(window), device=self.sums[0].device)
        for b in boxes:
            count[..., b.top : b.bottom, b.left : b.right] += 1
        self._count = count

    def add(self, local: SharedFeatures, boxes: Sequence[PatchBox]) -> None:
        for acc, t in zip(self.sums, local.tensors()):
            for i, b in enumerate(boxes):
                f = feature_box(b, self.window, _hw(acc))
                acc[..., f.row0 : f.row1, f.col0 : f.col1] += bilinear(t[i : i + 1], (f.height, f.width))

    def result(self) -> SharedFeatures:
        counts = {}
        out = []
        for acc in self.sums:
            key = tuple(acc.shape[-2:])
            if key not in counts:
                counts[key] = bilinear(self._count, key)
            out.append(acc / counts[key])
        return SharedFeatures.from_tensors(out)


def published_parameter_count(model: GLNet) -> int:
    """Parameters of the model in the published single-module layout.

    The published module holds one global ResNet, one classifier and one
    aggregation conv, shared by stages 1 and 3; this class keeps stage-3
    copies of those three (``l2g_branch.backbone``, ``l2g_branch.head.classify``,
    ``l2g_aggregation``). Their count is subtracted here.
    """

    def count(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    duplicated = count(model.l2g_branch.backbone) + count(model.l2g_branch.head.classify) + count(model.l2g_aggregation)
    return count(model) - duplicated

