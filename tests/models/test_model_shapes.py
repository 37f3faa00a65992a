"""Output shapes of GLNet inference for every configuration, mode and awkward window size.

Random weights are enough here: the tests check that every window size the
engine may cut (equal to a patch, smaller, non-square, odd) flows through
both inference modes and comes back at the window's size, and that the
parameter counts match the published model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from glnet.glnet_core.engine.modes import MODE_NAMES as MODES
from glnet.glnet_core.engine.preprocess import Normalisation, prepare_window
from glnet.glnet_core.engine.tiling import padded_size
from glnet.models.config import CONFIGS, get_config
from glnet.models.glnet import GLNet, published_parameter_count
from glnet.models.inference import predict_window

N_CLASSES = 7


def window_sizes(config_name: str):
    """Windows to try for a configuration: around its patch size and some odd ones."""
    p = get_config(config_name).size_p
    return [
        (p, p),  # exactly one patch
        (p - 41, p // 2 + 3),  # smaller than a patch on both axes: padded
        (p + 37, 2 * p + 5),  # non-square, several patches
        (129, 300),
        (700, 513),
    ]


SMALL_CASES = [(name, size, mode) for name in ("tiny", "lite") for size in window_sizes(name) for mode in MODES]


def check_outputs(model: GLNet, image: np.ndarray, mode: str, compare: bool = True) -> None:
    """predict_window's outputs have the window's size; GLNet.predict's the padded size.

    ``compare`` also runs GLNet.predict on the prepared inputs and checks that
    predict_window returned its top-left, unpadded part (a second full
    inference, so it is skipped for the larger configurations).
    """
    h, w = image.shape[:2]
    classes, scores = predict_window(model, image, mode=mode)
    assert classes.shape == (h, w) and classes.dtype == np.uint8
    assert scores.shape == (N_CLASSES, h, w) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    assert classes.max() < N_CLASSES
    np.testing.assert_array_equal(classes, scores.argmax(axis=0))
    if compare:
        full = predict_prepared(model, image, mode)
        assert tuple(full.shape) == (N_CLASSES,) + padded_size(h, w, model.config.size_p)
        np.testing.assert_allclose(full[:, :h, :w].numpy(), scores, rtol=1e-5, atol=1e-5)


def predict_prepared(model: GLNet, image: np.ndarray, mode: str) -> torch.Tensor:
    """GLNet.predict on the inputs prepare_window makes of ``image``."""
    cfg = model.config
    prep = prepare_window(image, cfg.size_g, cfg.size_p, Normalisation())
    return model.predict(torch.from_numpy(prep.image_g)[None], torch.from_numpy(prep.window)[None], mode=mode)


@pytest.mark.parametrize("name, size, mode", SMALL_CASES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v))
def test_small_configs(glnet_model, rng, name, size, mode):
    image = rng.integers(0, 256, size=size + (3,), dtype=np.uint8)
    check_outputs(glnet_model(name, N_CLASSES), image, mode, compare=name == "tiny")


@pytest.mark.parametrize("name", ["tiny", "lite"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("extra", [(0, 0), (37, 5)])
def test_glnet_predict_shape(glnet_model, rng, name, mode, extra):
    # GLNet.predict directly: one patch exactly, and a non-square window.
    model = glnet_model(name, N_CLASSES)
    p = model.config.size_p
    size = (p + extra[0], p + extra[1])
    scores = predict_prepared(model, rng.integers(0, 256, size=size + (3,), dtype=np.uint8), mode)
    assert tuple(scores.shape) == (N_CLASSES,) + size
    assert torch.isfinite(scores).all()


def test_float_window(glnet_model, rng):
    # 16-bit and float rasters take the float resampling path.
    image = (rng.random((150, 200, 3)) * 4000).astype(np.float32)
    model = glnet_model("tiny", N_CLASSES)
    classes, scores = predict_window(model, image, mode="full", normalisation=Normalisation(1 / 4000.0))
    assert classes.shape == (150, 200) and scores.shape == (N_CLASSES, 150, 200)


@pytest.mark.parametrize("size", [(256, 300), (768, 200)])
@pytest.mark.parametrize("mode", MODES)
def test_feature_crops_that_overflow_the_map(glnet_model, rng, size, mode):
    # With a 100 px global image (feature maps 25, 13, 7, 4) the published
    # crop rule runs past the edge of a feature map for 256 and 768 px sides
    # (the published code fails on such sizes); the crops must be shifted inside.
    cfg = dataclasses.replace(get_config("tiny"), name="tiny-g100", size_g=100)
    image = rng.integers(0, 256, size=size + (3,), dtype=np.uint8)
    check_outputs(glnet_model(cfg, N_CLASSES), image, mode)


def test_modes_differ_and_are_deterministic(glnet_model, rng):
    model = glnet_model("tiny", N_CLASSES)
    image = rng.integers(0, 256, size=(300, 260, 3), dtype=np.uint8)
    _, full = predict_window(model, image, mode="full")
    _, g2l = predict_window(model, image, mode="g2l")
    _, again = predict_window(model, image, mode="full")
    np.testing.assert_array_equal(full, again)
    assert not np.allclose(full, g2l)


def test_predict_rejects_bad_input(glnet_model):
    model = glnet_model("tiny", N_CLASSES)
    p, g = model.config.size_p, model.config.size_g
    image_g = torch.zeros(1, 3, g, g)
    with pytest.raises(ValueError, match="mode"):
        model.predict(image_g, torch.zeros(1, 3, p, p), mode="local")
    with pytest.raises(ValueError, match="pad"):
        model.predict(image_g, torch.zeros(1, 3, p - 1, p), mode="full")


def test_too_few_classes():
    with pytest.raises(ValueError):
        GLNet(get_config("tiny"), 1)


# ------------------------------------------------------------------ paper
@pytest.mark.slow
def test_paper_one_patch_g2l(glnet_model, rng):
    # GLNet.predict directly (window == one patch, so nothing is padded).
    image = rng.integers(0, 256, size=(508, 508, 3), dtype=np.uint8)
    scores = predict_prepared(glnet_model("paper", N_CLASSES), image, "g2l")
    assert tuple(scores.shape) == (N_CLASSES, 508, 508)
    assert torch.isfinite(scores).all()


@pytest.mark.slow
def test_paper_non_square_full(glnet_model, rng):
    # 2 x 2 patches, both inference stages.
    image = rng.integers(0, 256, size=(600, 530, 3), dtype=np.uint8)
    check_outputs(glnet_model("paper", N_CLASSES), image, "full", compare=False)


# -------------------------------------------------------------- parameters
def test_paper_parameter_count(glnet_model):
    model = glnet_model("paper", N_CLASSES)
    # The published DeepGlobe model: 79.2 M parameters in its single-module layout.
    assert round(published_parameter_count(model) / 1e6, 1) == 79.2
    # This layout keeps stage-3 copies of the global ResNet, classifier and aggregation.
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 102.8


def test_configs_are_ordered_by_size(glnet_model):
    counts = {name: published_parameter_count(glnet_model(name, N_CLASSES)) for name in CONFIGS}
    assert counts["tiny"] < counts["lite"] < counts["paper"]
    assert counts["lite"] < 10_000_000  # trainable on a CPU
