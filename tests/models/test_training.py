"""GLNet training: losses, stage freezing, a three-stage overfit, resume, the command.

All models are the ``tiny`` configuration on small synthetic rasters written
to a temporary folder; the whole file runs in well under a minute.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from glnet.glnet_core.cli import train as train_command  # noqa: E402
from glnet.glnet_core.engine.preprocess import Normalisation  # noqa: E402
from glnet.glnet_core.engine.tiling import patch_layout  # noqa: E402
from glnet.glnet_core.errors import GlnetError, InputError  # noqa: E402
from glnet.glnet_core.formats.classes import NODATA, load_class_table  # noqa: E402
from glnet.models.checkpoint import Checkpoint, load_checkpoint  # noqa: E402
from glnet.models.config import get_config  # noqa: E402
from glnet.models.data import find_pairs, load_pair, logits_size, make_sample  # noqa: E402
from glnet.models.fpn import SharedFeatures  # noqa: E402
from glnet.models.glnet import GLNet, LocalMerger, crop_boxes, crop_shared  # noqa: E402
from glnet.models.inference import predict_window  # noqa: E402
from glnet.models.losses import feature_regularisation, focal_loss  # noqa: E402
from glnet.models.training import (  # noqa: E402
    TRAINED_PARTS,
    EpochReport,
    Scores,
    TrainOptions,
    batch_backward,
    patch_labels,
    poly_lr,
    set_trainable,
    train,
)

PARTS = ("global_branch", "local_branch", "aggregation", "l2g_branch", "l2g_aggregation")
COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/models/conftest.py


def write_blocky_set(folder: Path, n: int = 4, size=(256, 256), block: int = 32, seed: int = 0) -> Path:
    """``n`` PNG images of coloured blocks (the colour says the class, plus noise) and index masks."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    for i in range(n):
        grid = rng.integers(0, 3, (-(-size[0] // block), -(-size[1] // block)))
        labels = np.kron(grid, np.ones((block, block), int))[: size[0], : size[1]].astype(np.uint8)
        image = np.clip(COLOURS[labels] + rng.normal(0, 12, labels.shape + (3,)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / "images" / f"im{i}.png")
        Image.fromarray(labels).save(folder / "masks" / f"im{i}.png")
    return folder


def tiny_start(n_classes: int = 3, seed: int = 0) -> Checkpoint:
    torch.manual_seed(seed)
    return Checkpoint(GLNet(get_config("tiny"), n_classes), load_class_table(str(n_classes)))


# ===================================================================== losses
def test_focal_loss_against_hand_computation():
    logits = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0], [0.0, 0.0, 3.0], [9.0, 9.0, 9.0]])
    labels = [0, 2, NODATA, 1]
    x = logits.t().reshape(1, 3, 2, 2).clone().requires_grad_(True)  # pixel k = logits[k]
    y = torch.tensor(labels).reshape(1, 2, 2)

    def term(row, label, gamma):
        e = [math.exp(v) for v in row]
        p = e[label] / sum(e)
        return -((1 - p) ** gamma) * math.log(p)

    for gamma in (3.0, 0.0, 1.5):
        hand = np.mean([term(logits[k].tolist(), labels[k], gamma) for k in range(4) if labels[k] != NODATA])
        assert focal_loss(x, y, gamma).item() == pytest.approx(hand, rel=1e-6)
    # gamma 0 is the cross entropy (nodata ignored).
    ce = F.cross_entropy(x, y, ignore_index=NODATA)
    assert focal_loss(x, y, 0.0).item() == pytest.approx(ce.item(), rel=1e-6)
    # The published p = 1/3, gamma = 3 value: (2/3)^3 * ln 3.
    flat = torch.zeros(1, 3, 1, 1)
    assert focal_loss(flat, torch.zeros(1, 1, 1, dtype=torch.long)).item() == pytest.approx((2 / 3) ** 3 * math.log(3))
    # Nodata pixels get no gradient; all-nodata gives 0 and still back-propagates.
    focal_loss(x, y).backward()
    assert x.grad[0, :, 1, 0].abs().sum() == 0 and x.grad[0, :, 0, 0].abs().sum() > 0
    z = torch.zeros(1, 3, 2, 2, requires_grad=True)
    loss = focal_loss(z, torch.full((1, 2, 2), NODATA))
    loss.backward()
    assert loss.item() == 0 and z.grad.abs().sum() == 0
    with pytest.raises(ValueError, match="labels must be in"):
        focal_loss(z, torch.full((1, 2, 2), 3))


def test_feature_regularisation_is_mse_after_bilinear_resize():
    a = torch.randn(2, 4, 8, 8)
    b = torch.randn(2, 4, 5, 6)
    up = F.interpolate(b, size=(8, 8), mode="bilinear", align_corners=False)
    assert feature_regularisation(a, b).item() == pytest.approx(((a - up) ** 2).mean().item(), rel=1e-6)


def test_poly_lr():
    assert poly_lr(1e-3, 0, 100) == 1e-3
    assert poly_lr(1e-3, 50, 100) == pytest.approx(1e-3 * 0.5**0.9)
    assert poly_lr(1e-3, 100, 100) == 0.0


def test_logits_size_matches_the_network():
    model = GLNet(get_config("tiny"), 3).eval()
    with torch.no_grad():
        for n in (128, 130, 97):
            assert model.forward_global(torch.zeros(1, 3, n, n)).logits.shape[-1] == logits_size(n)


# ===================================================================== freezing
def make_batch(rng, cfg, shapes) -> List:
    out = []
    for i, (h, w) in enumerate(shapes):
        labels = rng.integers(0, 3, (h, w), dtype=np.uint8)
        labels[:4, :4] = NODATA
        image = np.clip(COLOURS[np.minimum(labels, 2)] + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        out.append(make_sample(image, labels, cfg, Normalisation(), f"s{i}"))
    return out


def bn_buffers(module) -> Dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.named_buffers()}


@pytest.mark.parametrize("stage", ["global", "g2l", "l2g"])
def test_stage_freezing_on_gradients(stage, rng):
    cfg = get_config("tiny")
    torch.manual_seed(1)
    model = GLNet(cfg, 3)
    # Windows of any size: one needs padding (< size_p), one gives a 2 x 3 patch layout.
    batch = make_batch(rng, cfg, [(200, 230), (100, 140)])
    trained = set(TRAINED_PARTS[stage])
    before = {name: bn_buffers(getattr(model, name)) for name in PARTS}
    params = set_trainable(model, stage)
    assert {id(p) for p in params} == {id(p) for name in trained for p in getattr(model, name).parameters()}
    options = TrainOptions(sub_batch=4)
    loss = batch_backward(model, batch, stage, options)
    assert math.isfinite(loss) and loss > 0
    for name in PARTS:
        part = getattr(model, name)
        grads = [p.grad for p in part.parameters()]
        buffers = bn_buffers(part)
        moved = any(not torch.equal(before[name][k], buffers[k]) for k in buffers if "running" in k)
        if name in trained:
            assert all(g is not None for g in grads), name
            assert sum(float(g.abs().sum()) for g in grads) > 0, name
            if name.endswith("branch"):
                assert moved, f"{name} is trained: its BatchNorm statistics should move"
        else:
            assert all(g is None or float(g.abs().sum()) == 0 for g in grads), f"{name} got a gradient in stage {stage}"
            for k in buffers:
                assert torch.equal(before[name][k], buffers[k]), f"{name}.{k} changed in stage {stage}"


def test_stage3_gradient_equals_the_published_formulation(rng):
    """The one-backward stage-3 step gives the gradient of the plain summed loss."""
    cfg = get_config("tiny")
    torch.manual_seed(2)
    model = GLNet(cfg, 3)
    batch = make_batch(rng, cfg, [(200, 230), (150, 128)])
    options = TrainOptions(sub_batch=4)
    set_trainable(model, "l2g")
    batch_backward(model, batch, "l2g", options)
    ours = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    # Reference: every term of the loss in one graph, one backward.
    model.zero_grad(set_to_none=True)
    set_trainable(model, "l2g")
    lp = logits_size(cfg.size_p)
    merged, locals_ = [], []
    with torch.no_grad():
        for s in batch:
            size = tuple(s.window.shape[1:])
            boxes = patch_layout(*size, cfg.size_p, cfg.min_overlap)
            window = torch.from_numpy(s.window)[None]
            g = model.forward_global(torch.from_numpy(s.image_g)[None])
            merger = LocalMerger(g.shared, size, boxes)
            loc = model.forward_local(
                torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in boxes]), crop_shared(g.shared, boxes, size)
            )
            merger.add(loc.shared, boxes)
            merged.append(merger.result())
            locals_.append((boxes, loc.ps3))
    shared = SharedFeatures.from_tensors([torch.cat(t) for t in zip(*(m.tensors() for m in merged))])
    l2g = model.forward_l2g(torch.from_numpy(np.stack([s.image_g for s in batch])), shared)
    total = focal_loss(l2g.logits, torch.from_numpy(np.stack([s.labels_g for s in batch])).long())
    for i, (s, (boxes, ps3)) in enumerate(zip(batch, locals_)):
        size = tuple(s.window.shape[1:])
        for j in range(0, len(boxes), 4):  # the same sub-batches: BatchNorm-free, but the loss is a sum of means
            chunk = boxes[j : j + 4]
            agg = model.aggregate(ps3[j : j + 4], crop_boxes(l2g.ps3[i : i + 1], chunk, size), full=True)
            total = total + focal_loss(agg, torch.from_numpy(patch_labels(s.labels, chunk, lp)).long())
    total.backward()
    for name, g in ours.items():
        ref = dict(model.named_parameters())[name].grad
        torch.testing.assert_close(g, ref, rtol=1e-4, atol=1e-7, msg=name)


# ===================================================================== overfit
def test_tiny_model_overfits_blocky_set_through_all_three_stages(tmp_path):
    data = write_blocky_set(tmp_path / "data")
    pairs = find_pairs(data)
    options = TrainOptions(stage="all", epochs=(15, 15, 10), lr=(3e-3,), batch_size=1, sub_batch=9, quiet=True)
    reports: List[EpochReport] = []
    out = tmp_path / "model.ckpt"
    result = train(tiny_start(), pairs, pairs[:1], options, out=out, on_epoch_end=reports.append)

    table = result.classes
    for mode in ("full", "g2l"):
        correct = total = 0
        for pair in pairs:
            image, labels = load_pair(pair, table)
            predicted, _ = predict_window(result.model, image, mode=mode)
            correct += int((predicted == labels).sum())
            total += labels.size
        assert correct / total >= 0.9, f"{mode} pixel accuracy {correct / total:.3f}"

    assert [(r.stage, r.epoch) for r in reports][:2] == [("global", 1), ("global", 2)]
    assert len(reports) == 40 and reports[-1].stage == "l2g"
    prov = result.provenance
    assert prov["stages"] == ["global", "g2l", "l2g"]
    assert prov["epochs"] == {"global": 15, "g2l": 15, "l2g": 10}
    assert [len(prov["val_miou"][s]) for s in ("global", "g2l", "l2g")] == [15, 15, 10]
    assert prov["final_val_miou"]["l2g"] > 0.8
    # The file on disk is the final model, with no optimiser state left in it.
    saved = load_checkpoint(out)
    assert saved.train_state is None and saved.provenance["completed"] is True
    for k, v in result.model.state_dict().items():
        assert torch.equal(v, saved.model.state_dict()[k]), k


# ===================================================================== resume
class Interrupt(Exception):
    pass


def test_resume_equals_uninterrupted(tmp_path):
    data = write_blocky_set(tmp_path / "data", n=3, size=(160, 200), block=20, seed=5)
    pairs = find_pairs(data)
    # Uneven batches (3 images, batch 2), augmentation on, validation between epochs.
    options = TrainOptions(stage="all", epochs=(1, 2, 2), lr=(2e-3,), batch_size=2, sub_batch=4, seed=7, quiet=True)

    whole = train(tiny_start(seed=3), pairs, pairs[2:], options, out=tmp_path / "a.ckpt")

    out = tmp_path / "b.ckpt"

    def stop_at(stage, epoch):
        def callback(report: EpochReport):
            if (report.stage, report.epoch) == (stage, epoch):
                raise Interrupt()

        return callback

    with pytest.raises(Interrupt):  # mid-stage: the optimiser state must carry over
        train(tiny_start(seed=3), pairs, pairs[2:], options, out=out, on_epoch_end=stop_at("g2l", 1))
    state = load_checkpoint(out).train_state
    assert (state["stage"], state["epochs_done"], state["iteration"]) == ("g2l", 1, 2)
    # Options given to a resumed run are ignored except workers / device / quiet.
    other = TrainOptions(stage="global", epochs=(9,), lr=(1.0,), quiet=True)
    with pytest.raises(Interrupt):  # end of stage 2: stage 3 must start fresh from it
        train(load_checkpoint(out), pairs, pairs[2:], other, out=out, resume=True, on_epoch_end=stop_at("g2l", 2))
    with pytest.raises(Interrupt):  # mid stage 3: it must not be re-initialised from stage 2
        train(load_checkpoint(out), pairs, pairs[2:], other, out=out, resume=True, on_epoch_end=stop_at("l2g", 1))
    resumed = train(load_checkpoint(out), pairs, pairs[2:], other, out=out, resume=True)

    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    assert resumed.provenance["val_miou"] == whole.provenance["val_miou"]
    assert load_checkpoint(out).train_state is None
    with pytest.raises(InputError, match="no training state"):
        train(load_checkpoint(out), pairs, pairs[2:], options, resume=True)


# ===================================================================== command
def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="glnet train")
    train_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_trains_refuses_overwrite_and_chains_stages(tmp_path):
    data = write_blocky_set(tmp_path / "data", n=3, size=(128, 160), seed=2)
    out = tmp_path / "g.ckpt"
    common = ["--data", str(data), "--epochs", "1", "--lr", "1e-3", "--batch-size", "2", "--quiet"]
    assert train_command.run(parse(*common, "--config", "tiny", "--classes", "3", "--stage", "global", "--out", str(out))) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.provenance["stages"] == ["global"] and ckpt.provenance["init"] == "random tiny"
    assert ckpt.provenance["train_images"] == 2 and ckpt.provenance["val_images"] == 1
    assert ckpt.config.name == "tiny" and len(ckpt.classes) == 3

    with pytest.raises(InputError, match="already exists"):
        train_command.run(parse(*common, "--config", "tiny", "--classes", "3", "--out", str(out)))
    with pytest.raises(InputError, match="finished run"):
        train_command.run(parse("--out", str(out), "--resume"))
    with pytest.raises(InputError, match="drop --epochs"):
        train_command.run(parse("--out", str(out), "--resume", "--epochs", "3"))
    with pytest.raises(InputError, match="starting point"):
        train_command.run(parse(*common, "--out", str(tmp_path / "x.ckpt")))
    with pytest.raises(InputError, match="--classes is needed"):
        train_command.run(parse(*common, "--config", "tiny", "--out", str(tmp_path / "x.ckpt")))
    with pytest.raises(InputError, match="does not exist"):
        train_command.run(parse("--data", str(tmp_path / "nope"), "--config", "tiny", "--classes", "3", "--out", str(tmp_path / "x.ckpt")))
    with pytest.raises(GlnetError):
        train_command.run(parse(*common, "--init", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "x.ckpt")))

    # Stage 2 from the stage-1 checkpoint, validating on a separate folder.
    val = write_blocky_set(tmp_path / "val", n=1, size=(140, 130), seed=9)
    out2 = tmp_path / "g2l.ckpt"
    assert train_command.run(parse(*common, "--init", str(out), "--stage", "g2l", "--val", str(val), "--out", str(out2))) == 0
    ckpt2 = load_checkpoint(out2)
    assert ckpt2.provenance["train_images"] == 3 and ckpt2.provenance["val"] == str(val.resolve())
    assert ckpt2.provenance["init"] == str(out.resolve())
    # The global branch was frozen: identical to stage 1's.
    g1, g2 = ckpt.model.global_branch.state_dict(), ckpt2.model.global_branch.state_dict()
    assert all(torch.equal(g1[k], g2[k]) for k in g1)
    # --overwrite replaces.
    assert train_command.run(parse(*common, "--init", str(out), "--stage", "g2l", "--out", str(out2), "--overwrite")) == 0


def test_glnet_train_command_line(tmp_path, run_glnet):
    data = write_blocky_set(tmp_path / "data", n=2, size=(128, 128), seed=4)
    out = tmp_path / "m.ckpt"
    one = {"OMP_NUM_THREADS": "1"}  # see one_thread()
    args = ["train", "--data", str(data), "--config", "tiny", "--classes", "3", "--stage", "global", "--epochs", "1"]
    proc = run_glnet(*args, "--out", str(out), env=one)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout and "global epoch 1/1" in proc.stderr
    assert load_checkpoint(out).provenance["stages"] == ["global"]
    proc = run_glnet(*args, "--out", str(out), env=one)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"glnet: error: {out} already exists; pass --overwrite to replace it or --resume to continue its run"]
    proc = run_glnet("train", "--data", str(tmp_path / "missing"), "--config", "tiny", "--out", str(tmp_path / "n.ckpt"), env=one)
    assert proc.returncode == 2 and proc.stderr.strip() == f"glnet: error: data folder {tmp_path / 'missing'} does not exist"


def test_command_help_and_import_without_torch():
    parser = argparse.ArgumentParser(prog="glnet train")
    train_command.add_arguments(parser)
    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help text"
    text = " ".join(parser.format_help().split()).replace("- ", "-")  # undo line wrapping
    assert "random window-sized crop" in text and "--resume" in text
    code = "import sys, glnet.glnet_core.cli.train as t; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_scores_ignore_nodata_and_ignored_classes():
    from glnet.models.training import confusion_matrix

    labels = np.array([[0, 1, 1, 2], [2, 2, NODATA, 0]], np.uint8)
    pred = np.array([[1, 1, 0, 2], [2, 1, 1, 0]], np.uint8)
    cm = confusion_matrix(labels, pred, 3, ignored=[0])
    assert cm.sum() == 5  # two class-0 pixels and one nodata pixel not counted
    s = Scores.from_confusion(cm, ignored=[0])
    assert s.iou[0] is None
    assert s.iou[1] == pytest.approx(1 / 3)  # tp 1, fn 1 (predicted 0), fp 1
    assert s.iou[2] == pytest.approx(2 / 3)
    assert s.miou == pytest.approx(0.5) and s.accuracy == pytest.approx(3 / 5)


def test_progress_bar_draws_only_when_enabled():
    import io

    from glnet.models.training import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(3, "g2l 1/5", stream, enabled=True)
    for _ in range(3):
        bar.update(info="loss 0.5")
    bar.close()
    text = stream.getvalue()
    assert "\rg2l 1/5 [" in text and "3/3" in text and "loss 0.5" in text and text.endswith("\r")
    quiet = io.StringIO()
    bar = ProgressBar(3, "x", quiet)  # StringIO is not a terminal
    bar.update()
    bar.close()
    assert quiet.getvalue() == ""
