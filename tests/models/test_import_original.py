"""`glnet import-original`: published key layout -> glnet checkpoint, and bad inputs.

Fidelity against the published code itself is checked by
benchmarks/fidelity_published.py (it needs a checkout of that code); here the
conversion is checked on state dicts in the published key layout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from glnet.glnet_core.errors import CheckpointError
from glnet.models.checkpoint import load_checkpoint
from glnet.models.config import get_config
from glnet.models.glnet import GLNet
from glnet.models.inference import predict_window
from glnet.models.published import STAGE_FILES, export_published, published_to_glnet

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _randomise_bn(model: torch.nn.Module) -> None:
    # Non-trivial BatchNorm buffers, so a swapped or dropped buffer shows in the outputs.
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


@pytest.fixture(scope="module")
def tiny_model() -> GLNet:
    torch.manual_seed(0)
    m = GLNet(get_config("tiny"), 7)
    _randomise_bn(m)
    return m.eval()


def test_published_layout_keys(tiny_model):
    states = export_published(tiny_model)
    assert set(states) == {"global", "g2l", "l2g"}
    keys = set(states["l2g"])
    # The names the published code uses (notes: "Published checkpoint layout").
    for k in ["module.resnet_global.conv1.weight", "module.resnet_local.layer2.0.downsample.0.weight",
              "module.fpn_global.toplayer.weight", "module.fpn_global.latlayer3_ext.bias",
              "module.fpn_global.smooth4_2_ext.weight", "module.fpn_global.smooth.weight",
              "module.fpn_global.classify.weight", "module.fpn_local.smooth1_1.weight",
              "module.fpn_local.smooth.weight", "module.ensemble_conv.weight"]:
        assert k in keys, k
    assert all(k.startswith("module.") for k in keys)
    assert set(states["global"]) == keys == set(states["g2l"])


def test_round_trip_gives_identical_outputs(tiny_model):
    back = published_to_glnet(export_published(tiny_model), 7, get_config("tiny")).eval()
    for k, v in tiny_model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    img = np.random.default_rng(0).integers(0, 256, (300, 260, 3), dtype=np.uint8)
    for mode in ("full", "g2l"):
        c1, s1 = predict_window(tiny_model, img, mode)
        c2, s2 = predict_window(back, img, mode)
        assert np.array_equal(s1, s2) and np.array_equal(c1, c2)


def test_each_stage_file_supplies_its_parts(tiny_model):
    states = export_published(tiny_model)
    # The stage-1 global branch comes from the stage-1 file only: perturbing the
    # stage-3 file's copy of the stage-1 layers must not change it ...
    states["l2g"]["module.fpn_global.toplayer.weight"] += 1.0
    back = published_to_glnet(states, 7, get_config("tiny"))
    assert torch.equal(back.global_branch.head.lateral[0].weight, tiny_model.global_branch.head.lateral[0].weight)
    # ... while the stage-3 global ResNet does come from the stage-3 file.
    states["l2g"]["module.resnet_global.conv1.weight"] += 1.0
    back = published_to_glnet(states, 7, get_config("tiny"))
    assert torch.equal(back.l2g_branch.backbone.conv1.weight, tiny_model.l2g_branch.backbone.conv1.weight + 1.0)
    assert torch.equal(back.global_branch.backbone.conv1.weight, tiny_model.global_branch.backbone.conv1.weight)


def test_missing_and_unexpected_keys_are_named(tiny_model):
    states = export_published(tiny_model)
    del states["g2l"]["module.ensemble_conv.weight"]
    with pytest.raises(CheckpointError, match=r"global2local.*missing keys \(ensemble_conv.weight\)"):
        published_to_glnet(states, 7, get_config("tiny"))
    states = export_published(tiny_model)
    states["global"]["module.head.fc.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected keys \(head.fc.weight\)"):
        published_to_glnet(states, 7, get_config("tiny"))
    states = export_published(tiny_model)
    with pytest.raises(CheckpointError, match="wrong shape"):
        published_to_glnet(states, 5, get_config("tiny"))  # trained for 7 classes


def test_missing_num_batches_tracked_is_tolerated(tiny_model):
    # Checkpoints saved by old torch versions have no num_batches_tracked buffers.
    states = export_published(tiny_model)
    for s in states.values():
        for k in [k for k in s if k.endswith("num_batches_tracked")]:
            del s[k]
    back = published_to_glnet(states, 7, get_config("tiny"))
    assert torch.equal(back.local_branch.backbone.bn1.running_var, tiny_model.local_branch.backbone.bn1.running_var)


@pytest.fixture(scope="module")
def paper_files(tmp_path_factory):
    torch.manual_seed(3)
    model = GLNet(get_config("paper"), 7)
    _randomise_bn(model)
    model.eval()
    d = tmp_path_factory.mktemp("published")
    paths = {}
    for stage, state in export_published(model).items():
        paths[stage] = d / STAGE_FILES[stage]
        torch.save(state, paths[stage])
    return model, paths


def _run(*args):
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True)


def test_import_original_command_paper(paper_files, tmp_path):
    model, paths = paper_files
    out = tmp_path / "deepglobe.ckpt"
    r = _run("import-original", "--global", paths["global"], "--g2l", paths["g2l"], "--l2g", paths["l2g"],
             "--classes", "deepglobe", "--out", out)
    assert r.returncode == 0, r.stderr
    ckpt = load_checkpoint(out)
    assert ckpt.config.name == "paper" and ckpt.classes.name == "deepglobe"
    assert ckpt.provenance["source"] == "import-original"
    assert ckpt.resolution_m == 0.5
    for k, v in model.state_dict().items():
        assert torch.equal(v, ckpt.model.state_dict()[k]), k
    img = np.random.default_rng(1).integers(0, 256, (508, 508, 3), dtype=np.uint8)
    _, s1 = predict_window(model, img, "full")
    _, s2 = predict_window(ckpt.model, img, "full")
    assert np.array_equal(s1, s2)
    # Never overwritten without --overwrite.
    r = _run("import-original", "--global", paths["global"], "--g2l", paths["g2l"], "--l2g", paths["l2g"], "--out", out)
    assert r.returncode != 0 and "already exists" in r.stderr


@pytest.mark.parametrize("case", ["text", "truncated", "glnet", "swapped", "missing"])
def test_import_original_rejects_bad_files(paper_files, tmp_path, case):
    _, paths = paper_files
    args = dict(paths)
    bad = tmp_path / "bad.pth"
    # The bad file goes first (--global) so that most cases fail before the
    # 100 M-parameter files are read: the checks must not depend on reading order.
    if case == "text":
        bad.write_text("not a checkpoint\n")
    elif case == "truncated":
        data = Path(paths["l2g"]).read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    elif case == "glnet":
        from glnet.glnet_core.formats.classes import load_class_table
        from glnet.models.checkpoint import Checkpoint, save_checkpoint

        save_checkpoint(Checkpoint(GLNet(get_config("tiny"), 7), load_class_table("deepglobe")), bad)
    elif case == "swapped":
        # A state dict of something else entirely.
        torch.save({"conv.weight": torch.zeros(2, 2)}, bad)
    elif case == "missing":
        bad = tmp_path / "nope.pth"
    args["global"] = bad
    out = tmp_path / "out.ckpt"
    r = _run("import-original", "--global", args["global"], "--g2l", args["g2l"], "--l2g", args["l2g"], "--out", out)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glnet: error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.ckpt*")), "no partial output"
