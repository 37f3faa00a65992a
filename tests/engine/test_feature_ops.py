"""Parity of the engine's numpy feature ops with the PyTorch code they mirror.

glnet_core/engine/feature_ops.py re-implements, in numpy, what the PyTorch
model (models/glnet.py, models/fpn.py) does between its layers: bilinear
resizes with ``align_corners=False``, the crops of global tensors for each
patch, the local-to-global merge, and the patch-logit accumulation with
nearest (or bilinear) upsampling. Each test feeds both the same random
tensors, over several sizes (odd ones included), and compares to 1e-5.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glnet.glnet_core.engine.feature_ops import LocalMerger, accumulate_patches, bilinear_resize, crop_boxes
from glnet.glnet_core.engine.tiling import PatchBox, patch_layout
from glnet.models import glnet as torch_glnet
from glnet.models.fpn import SharedFeatures, bilinear

TOL = 1e-5

#: Windows (after padding) and their patch size and minimum overlap: square,
#: non-square, odd sizes, a window of exactly one patch.
WINDOWS: List[Tuple[Tuple[int, int], int, int]] = [
    ((64, 64), 64, 10),
    ((100, 137), 64, 10),
    ((201, 75), 64, 16),
    ((129, 129), 48, 7),
    ((255, 97), 96, 50),
]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "in_size,out_size",
    [
        ((7, 7), (7, 7)),
        ((7, 9), (16, 23)),  # upsampling, odd factors
        ((33, 17), (8, 5)),  # downsampling
        ((1, 5), (4, 1)),  # single rows and columns
        ((127, 64), (508, 255)),
        ((12, 12), (13, 11)),  # almost the same size
    ],
)
def test_bilinear_resize_matches_torch(rng, in_size, out_size):
    x = _randn(rng, 2, 3, *in_size)
    got = bilinear_resize(x, out_size)
    ref = _np(F.interpolate(torch.from_numpy(x), size=out_size, mode="bilinear", align_corners=False))
    assert got.shape == ref.shape == (2, 3) + tuple(out_size)
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)
    # The model's own helper is the same call.
    np.testing.assert_allclose(got, _np(bilinear(torch.from_numpy(x), out_size)), rtol=0, atol=TOL)


def _feature_sizes(window: Tuple[int, int]) -> List[Tuple[int, int]]:
    # Global feature maps of several strides, as a branch produces them, plus odd ones.
    h, w = window
    return [(max(1, h // s), max(1, w // s)) for s in (4, 8, 16, 32)] + [(13, 7), (5, 11)]


@pytest.mark.parametrize("window,patch,overlap", WINDOWS)
def test_crop_boxes_match_torch(rng, window, patch, overlap):
    boxes = patch_layout(window[0], window[1], patch, overlap)
    for size in _feature_sizes(window):
        x = _randn(rng, 1, 4, *size)
        got = crop_boxes(x, boxes, window)
        ref = _np(torch_glnet.crop_boxes(torch.from_numpy(x), boxes, window))
        assert got.shape == ref.shape and got.shape[0] == len(boxes)
        np.testing.assert_array_equal(got, ref)  # a crop copies values: exactly equal


def _shared_shapes(rng: np.random.Generator, window: Tuple[int, int]) -> Tuple[List[Tuple[int, int, int]], List[Tuple[int, int]]]:
    """16 global tensor shapes ``(C, H, W)`` and 16 local patch sizes ``(h, w)``, as the four FPN levels have them."""
    g_sizes = _feature_sizes(window)[:4]
    channels = [3, 5, 2, 4]
    shapes, local = [], []
    for _ in range(4):  # c, ps0, ps1, ps2
        for level in range(4):
            shapes.append((channels[level], *g_sizes[level]))
            local.append((int(rng.integers(3, 12)), int(rng.integers(3, 12))))
    return shapes, local


@pytest.mark.parametrize("window,patch,overlap", WINDOWS)
def test_local_merger_matches_torch(rng, window, patch, overlap):
    boxes = patch_layout(window[0], window[1], patch, overlap)
    shapes, local_sizes = _shared_shapes(rng, window)
    like = SharedFeatures.from_tensors([torch.zeros((1,) + s) for s in shapes])
    ref_merger = torch_glnet.LocalMerger(like, window, boxes)
    got_merger = LocalMerger(shapes, window, boxes)
    # Batches of different sizes, as the engine's patch batches come.
    batches = [boxes[i : i + 3] for i in range(0, len(boxes), 3)]
    for batch in batches:
        local = [_randn(rng, len(batch), s[0], *hw) for s, hw in zip(shapes, local_sizes)]
        got_merger.add(local, batch)
        ref_merger.add(SharedFeatures.from_tensors([torch.from_numpy(t) for t in local]), batch)
    got = got_merger.result()
    ref = ref_merger.result().tensors()
    assert len(got) == len(ref) == 16
    for g, r in zip(got, ref):
        assert g.shape == tuple(r.shape)
        np.testing.assert_allclose(g, _np(r), rtol=0, atol=TOL)


@pytest.mark.parametrize("window,patch,overlap", WINDOWS)
@pytest.mark.parametrize("logit_size", [None, (13, 9)])
def test_nearest_accumulation_matches_torch(rng, window, patch, overlap, logit_size):
    """Patch logits (1/4 of the patch, or an odd size) upsampled with nearest and summed, as GLNet.predict does."""
    boxes = patch_layout(window[0], window[1], patch, overlap)
    h, w = logit_size or (patch // 4, patch // 4)
    n_classes = 5
    got = np.zeros((n_classes,) + window, np.float32)
    ref = torch.zeros((n_classes,) + window)
    for i in range(0, len(boxes), 2):
        batch = boxes[i : i + 2]
        logits = _randn(rng, len(batch), n_classes, h, w)
        accumulate_patches(got, logits, batch, "nearest")
        torch_glnet._accumulate(ref, torch.from_numpy(logits), batch)
    np.testing.assert_allclose(got, _np(ref), rtol=0, atol=TOL)


@pytest.mark.parametrize("window,patch,overlap", WINDOWS[1:3])
def test_bilinear_accumulation_matches_torch_interpolate(rng, window, patch, overlap):
    boxes = patch_layout(window[0], window[1], patch, overlap)
    logits = _randn(rng, len(boxes), 3, patch // 4, patch // 4)
    got = np.zeros((3,) + window, np.float32)
    accumulate_patches(got, logits, boxes, "bilinear")
    up = F.interpolate(torch.from_numpy(logits), size=(patch, patch), mode="bilinear", align_corners=False)
    ref = torch.zeros((3,) + window)
    for b, x in zip(boxes, up):
        ref[:, b.top : b.bottom, b.left : b.right] += x
    np.testing.assert_allclose(got, _np(ref), rtol=0, atol=TOL)


def test_accumulation_rejects_an_unknown_upsampling(rng):
    with pytest.raises(ValueError, match="unknown upsampling"):
        accumulate_patches(np.zeros((2, 8, 8), np.float32), _randn(rng, 1, 2, 2, 2), [PatchBox(0, 0, 8, 8)], "cubic")
