"""Fine-tuning with other classes, --freeze-backbone, and a checkpoint's lineage through train and export.

Tiny models on small synthetic PNG pairs written to a temporary folder, driven
through ``glnet`` as users run it (in this process, :func:`main`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from glnet.glnet_core.cli.main import main  # noqa: E402
from glnet.glnet_core.engine.preprocess import Normalisation  # noqa: E402
from glnet.glnet_core.formats.classes import ClassTable, load_class_table  # noqa: E402
from glnet.models.checkpoint import Checkpoint, load_checkpoint  # noqa: E402
from glnet.models.config import get_config  # noqa: E402
from glnet.models.data import find_pairs, make_sample  # noqa: E402
from glnet.models.fine_tune import CLASS_LAYERS, adapt_to_classes  # noqa: E402
from glnet.models.glnet import GLNet  # noqa: E402
from glnet.models.lineage import checkpoint_lineage, format_lineage, lineage_entry, stored_lineage  # noqa: E402
from glnet.models.losses import focal_loss  # noqa: E402
from glnet.models.training import EpochReport, TrainOptions, batch_backward, set_stage_modes, set_trainable, train  # noqa: E402

COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])
THREE = {"name": "three", "classes": [{"id": 0, "name": "roof", "colour": [200, 40, 40]},
                                      {"id": 1, "name": "tree", "colour": [40, 200, 40]},
                                      {"id": 2, "name": "pond", "colour": [40, 40, 200]}]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/models/conftest.py


def write_pairs(folder: Path, n: int = 6, size: int = 128, block: int = 32, seed: int = 0) -> Path:
    """``n`` PNG images of coloured blocks (the colour is the class, plus noise) with index masks (0 .. 2)."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        labels = np.kron(rng.integers(0, 3, (size // block, size // block)), np.ones((block, block), int)).astype(np.uint8)
        image = np.clip(COLOURS[labels] + rng.normal(0, 12, labels.shape + (3,)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / "images" / f"im{i}.png")
        Image.fromarray(labels).save(folder / "masks" / f"im{i}.png")
    return folder


def glnet(capsys, *argv: str):
    """``glnet ARGV`` in this process: (exit status, stdout, stderr lines)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def three_table(tmp_path: Path) -> Path:
    path = tmp_path / "three.json"
    path.write_text(json.dumps(THREE), encoding="utf-8")
    return path


def global_loss(model: GLNet, data: Path) -> float:
    """The stage-1 training loss (focal, gamma 3) of ``model`` over every pair of ``data``, in eval mode."""
    samples = [make_sample(np.asarray(Image.open(p)), np.asarray(Image.open(data / "masks" / p.name)), model.config, Normalisation())
               for p in sorted((data / "images").glob("*.png"))]
    model.eval()
    with torch.no_grad():
        out = model.forward_global(torch.from_numpy(np.stack([s.image_g for s in samples])))
        return float(focal_loss(out.logits, torch.from_numpy(np.stack([s.labels_g for s in samples])).long(), 3.0))


def in_class_layer(key: str) -> bool:
    return any(key.startswith(layer + ".") for layer in CLASS_LAYERS)


# ===================================================================== adapt_to_classes
def test_adapt_to_classes_keeps_every_weight_but_the_class_layers():
    torch.manual_seed(1)
    seven = Checkpoint(GLNet(get_config("tiny"), 7), load_class_table("7"), Normalisation(mean=(0.1, 0.2, 0.3)), 0.5,
                       {"source": "train"})
    three = ClassTable.from_dict(THREE)
    torch.manual_seed(2)
    adapted, names = adapt_to_classes(seven, three)
    assert names == ["global_branch.head.classify", "local_branch.head.classify", "aggregation", "l2g_branch.head.classify",
                     "l2g_aggregation"]
    old, new = seven.model.state_dict(), adapted.model.state_dict()
    assert old.keys() == new.keys()
    kept = [k for k in old if not in_class_layer(k)]
    assert len(kept) == len(old) - 10 and all(torch.equal(old[k], new[k]) for k in kept)
    # The class layers are exactly a new 3-class model's (built from the same seed).
    torch.manual_seed(2)
    fresh = GLNet(get_config("tiny"), 3).state_dict()
    for key in (k for k in new if in_class_layer(k)):
        assert new[key].shape[0] == 3 and torch.equal(new[key], fresh[key]), key
    assert adapted.classes == three and adapted.normalisation == seven.normalisation and adapted.resolution_m == 0.5
    assert adapted.train_state is None and adapted.provenance["reinitialised"] == names
    assert seven.model.n_classes == 7 and old["aggregation.weight"].shape[0] == 7  # the original is untouched
    # The same classes (the table's name aside): unchanged.
    same = ClassTable(seven.classes.classes, name="renamed")
    assert adapt_to_classes(seven, same) == (seven, [])
    # Three classes of other names are other classes: fresh heads of the same shape.
    other = ClassTable.from_dict(dict(THREE, classes=[dict(c, name=f"x{c['id']}") for c in THREE["classes"]]))
    again, names2 = adapt_to_classes(adapted, other)
    assert names2 == names and not torch.equal(again.model.aggregation.weight, adapted.model.aggregation.weight)


# ===================================================================== the command
def test_fine_tune_command_keeps_backbones_and_learns_new_heads(tmp_path, capsys):
    data = write_pairs(tmp_path / "data", n=12)
    seven = tmp_path / "seven.ckpt"
    common = ["--data", data, "--val-fraction", "0", "--no-augment", "--batch-size", "2"]
    code, _, err = glnet(capsys, "train", *common, "--config", "tiny", "--classes", "7", "--stage", "all", "--epochs", "1",
                         "--lr", "1e-3", "--quiet", "--out", seven)
    assert code == 0, err
    table = three_table(tmp_path)
    out = tmp_path / "three.ckpt"
    code, _, err = glnet(capsys, "train", *common, "--init", seven, "--classes", table, "--stage", "global", "--freeze-backbone",
                         "--epochs", "1", "--lr", "1e-2", "--batch-size", "1", "--seed", "3", "--out", out)
    assert code == 0, err
    assert ("fine-tuning for 3 classes: re-initialised global_branch.head.classify, local_branch.head.classify, aggregation, "
            "l2g_branch.head.classify, l2g_aggregation") in err
    before, after = load_checkpoint(seven), load_checkpoint(out)
    old, new = before.model.state_dict(), after.model.state_dict()
    assert after.classes.names == ["roof", "tree", "pond"] and after.model.n_classes == 3
    # Every backbone tensor (BatchNorm statistics included) is the 7-class model's.
    backbone = [k for k in old if ".backbone." in k]
    assert len(backbone) == 3 * len(before.model.global_branch.backbone.state_dict())
    assert all(torch.equal(old[k], new[k]) for k in backbone)
    # The global FPN learnt; the parts stage 1 does not train are the 7-class model's; the heads are new.
    assert not torch.equal(old["global_branch.head.lateral.0.weight"], new["global_branch.head.lateral.0.weight"])
    assert all(torch.equal(old[k], new[k]) for k in old if k.startswith(("local_branch.head.lateral", "l2g_branch.head.smooth")))
    assert all(new[k].shape[0] == 3 for k in new if in_class_layer(k))
    # The training loss fell within the one epoch: the fine-tuned start (same seed as the command) against the result.
    torch.manual_seed(3)
    start, _ = adapt_to_classes(before, ClassTable.from_dict(THREE))
    first, last = global_loss(start.model, data), global_loss(after.model, data)
    assert last < 0.8 * first, (first, last)
    # Lineage and the stored option.
    assert after.provenance["lineage"] == [
        {"kind": "checkpoint", "file": "seven.ckpt", "sha256": sha256(seven), "source": "train",
         "reinitialised": list(CLASS_LAYERS)}
    ]
    assert after.provenance["options"]["freeze_backbone"] is True
    assert after.provenance["init"] == str(seven.resolve())


def test_same_classes_are_no_fine_tuning_and_lineage_grows(tmp_path, capsys):
    data = write_pairs(tmp_path / "data", n=2)
    start = tmp_path / "start.ckpt"
    assert glnet(capsys, "init-model", "--config", "tiny", "--classes", "3", "--out", start)[0] == 0
    assert load_checkpoint(start).provenance["lineage"] == []
    common = ["train", "--data", data, "--stage", "global", "--epochs", "1", "--val-fraction", "0"]
    out = tmp_path / "out.ckpt"
    code, _, err = glnet(capsys, *common, "--init", start, "--classes", "3", "--out", out)
    assert code == 0, err
    assert not any("fine-tuning" in line for line in err)
    first = {"kind": "checkpoint", "file": "start.ckpt", "sha256": sha256(start), "source": "init-model"}
    assert load_checkpoint(out).provenance["lineage"] == [first]
    # A child of the child: the parent's lineage, then the parent.
    tuned = tmp_path / "tuned.ckpt"
    code, _, err = glnet(capsys, *common, "--init", out, "--classes", three_table(tmp_path), "--quiet", "--out", tuned)
    assert code == 0 and err == [], err
    assert load_checkpoint(tuned).provenance["lineage"] == [
        first, {"kind": "checkpoint", "file": "out.ckpt", "sha256": sha256(out), "source": "train", "reinitialised": list(CLASS_LAYERS)}]
    assert format_lineage(load_checkpoint(tuned).provenance["lineage"]) == [
        f"checkpoint start.ckpt (init-model, sha256 {sha256(start)[:16]}...)",
        f"checkpoint out.ckpt (train, sha256 {sha256(out)[:16]}..., re-initialised {', '.join(CLASS_LAYERS)})",
    ]


# ===================================================================== --freeze-backbone
def make_batch(rng, config, n: int = 2, size: int = 128) -> List:
    out = []
    for i in range(n):
        labels = rng.integers(0, 3, (size, size)).astype(np.uint8)
        image = np.clip(COLOURS[labels] + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        out.append(make_sample(image, labels, config, Normalisation(), f"s{i}"))
    return out


def state(module) -> Dict[str, "torch.Tensor"]:
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("stage, part", [("global", "global_branch"), ("g2l", "local_branch"), ("l2g", "l2g_branch")])
def test_freeze_backbone_keeps_weights_and_statistics(stage, part, rng):
    options = TrainOptions(sub_batch=4)
    for freeze in (True, False):  # without it the same steps move the backbone: the check can fail
        torch.manual_seed(0)
        model = GLNet(get_config("tiny"), 3)
        params = set_trainable(model, stage, freeze_backbone=freeze)
        branch = getattr(model, part)
        ids = {id(p) for p in params}
        assert all((id(p) in ids) != freeze for p in branch.backbone.parameters())
        assert all(id(p) in ids for p in branch.head.parameters())
        # The optimiser's parameter order is the same on every call (a resumed optimiser state relies on it).
        assert [id(p) for p in set_trainable(model, stage, freeze_backbone=freeze)] == [id(p) for p in params]
        set_stage_modes(model, stage)  # as the loop does before every epoch
        assert branch.training and branch.head.training and branch.backbone.training != freeze
        if freeze:  # every BatchNorm of the backbone too
            assert not any(m.training for m in branch.backbone.modules())
        backbone, head = state(branch.backbone), state(branch.head)
        optimizer = torch.optim.Adam(params, lr=1e-2)
        for _ in range(2):
            optimizer.zero_grad()
            batch_backward(model, make_batch(rng, model.config), stage, options)
            optimizer.step()
        moved = [k for k, v in branch.backbone.state_dict().items() if not torch.equal(v, backbone[k])]
        assert (moved == []) == freeze, moved[:3]
        assert any(not torch.equal(v, head[k]) for k, v in branch.head.state_dict().items())


def test_freeze_backbone_option_round_trip_and_resume(tmp_path, capsys):
    options = TrainOptions(freeze_backbone=True, epochs=(1,))
    assert TrainOptions.from_dict(options.to_dict()) == options
    assert TrainOptions.from_dict({k: v for k, v in options.to_dict().items() if k != "freeze_backbone"}).freeze_backbone is False
    # An interrupted frozen-backbone run resumes to the uninterrupted result (same optimiser parameters).
    data = write_pairs(tmp_path / "data", n=3)
    pairs = find_pairs(data)
    run = TrainOptions(stage="global", epochs=(2,), lr=(5e-3,), batch_size=2, seed=4, quiet=True, freeze_backbone=True)

    def start() -> Checkpoint:
        torch.manual_seed(5)
        return Checkpoint(GLNet(get_config("tiny"), 3), load_class_table("3"))

    whole = train(start(), pairs, [], run, out=tmp_path / "a.ckpt")

    class Stop(Exception):
        pass

    def stop(report: EpochReport) -> None:
        if report.epoch == 1:
            raise Stop()

    out = tmp_path / "b.ckpt"
    with pytest.raises(Stop):
        train(start(), pairs, [], run, out=out, on_epoch_end=stop)
    assert TrainOptions.from_dict(load_checkpoint(out).train_state["options"]).freeze_backbone is True
    resumed = train(load_checkpoint(out), pairs, [], TrainOptions(quiet=True), out=out, resume=True)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    s = start().model.global_branch.backbone.state_dict()
    assert all(torch.equal(v, resumed.model.global_branch.backbone.state_dict()[k]) for k, v in s.items())
    # --resume takes the option from the checkpoint: giving it again is refused.
    code, _, err = glnet(capsys, "train", "--resume", "--freeze-backbone", "--out", tmp_path / "x.ckpt")
    assert code == 2 and err == [f"glnet: error: --resume takes the training options from {tmp_path / 'x.ckpt'}; drop --freeze-backbone"]


# ===================================================================== lineage
def test_lineage_entries():
    assert stored_lineage({}) == [] and stored_lineage({"lineage": "damaged"}) == []
    assert stored_lineage({"lineage": [{"kind": "backbone"}, 3]}) == [{"kind": "backbone"}]
    with pytest.raises(ValueError, match="unknown lineage kind"):
        lineage_entry("model", "x.ckpt", sha256="0" * 64)
    parent = {"source": "train", "lineage": [{"kind": "backbone", "file": "r.pth", "sha256": "a" * 64}]}
    assert format_lineage(parent["lineage"]) == [f"backbone r.pth (sha256 {'a' * 16}...)"]
    assert format_lineage(None) == []


@pytest.mark.slow
def test_lineage_from_backbone_file_through_train_and_export(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("backbone_tests", Path(__file__).with_name("test_backbone_weights.py"))
    backbone_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backbone_tests)
    weights = tmp_path / "resnet18-f37072fd.pth"
    torch.save(backbone_tests.random_state(backbone_tests.R18, seed=7), weights)
    data = write_pairs(tmp_path / "data", n=2)
    first = tmp_path / "r18.ckpt"
    assert glnet(capsys, "init-model", "--config", "resnet18", "--classes", "3", "--backbone-weights", weights, "--out", first)[0] == 0
    second = tmp_path / "tuned.ckpt"
    code, _, err = glnet(capsys, "train", "--data", data, "--init", first, "--stage", "global", "--epochs", "1", "--val-fraction", "0",
                         "--freeze-backbone", "--quiet", "--out", second)
    assert code == 0, err
    bundle = tmp_path / "tuned.glnet"
    code, _, err = glnet(capsys, "export", second, "--out", bundle, "--modes", "g2l", "--verify-windows", "1", "--quiet")
    assert code == 0, err
    expected = [
        {"kind": "backbone", "file": weights.name, "sha256": sha256(weights)},
        {"kind": "checkpoint", "file": first.name, "sha256": sha256(first), "source": "init-model"},
    ]
    assert load_checkpoint(second).provenance["lineage"] == expected
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["provenance"]["lineage"] == expected
    assert manifest["provenance"]["checkpoint"]["sha256"] == sha256(second)
    # glnet info shows the chain, one file a line.
    code, stdout, _ = glnet(capsys, "info", bundle)
    assert code == 0
    lines = stdout.splitlines()
    at = lines.index(f"  lineage       backbone {weights.name} (sha256 {sha256(weights)[:16]}...)")
    assert lines[at + 1] == f"                checkpoint {first.name} (init-model, sha256 {sha256(first)[:16]}...)"
    assert checkpoint_lineage(second, load_checkpoint(second).provenance)[-1]["sha256"] == sha256(second)
