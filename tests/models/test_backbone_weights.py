"""Pretrained backbones: torchvision-layout ResNet state dicts loaded into every branch, and the bad files refused.

The state dicts are written here with random values under torchvision's key
names and shapes, generated from the architecture (torchvision's
``resnet18()`` / ``resnet50()``: BasicBlock [2, 2, 2, 2] / Bottleneck
[3, 4, 6, 3], 64-wide stem, widths 64 .. 512, a 1000-class ``fc``) by code
independent of :mod:`glnet.models.resnet`, and checked against a handful of
keys and shapes copied from torchvision's published files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Dict, Tuple

import pytest

torch = pytest.importorskip("torch")

from glnet.glnet_core.cli.main import main  # noqa: E402
from glnet.glnet_core.errors import CheckpointError  # noqa: E402
from glnet.models.backbone_weights import BACKBONE_PARTS, load_backbone_weights  # noqa: E402
from glnet.models.checkpoint import load_checkpoint  # noqa: E402
from glnet.models.config import get_config  # noqa: E402
from glnet.models.glnet import GLNet  # noqa: E402
from glnet.models.resnet import ResNet  # noqa: E402

Shape = Tuple[int, ...]


def torchvision_shapes(block: str, layers: Tuple[int, int, int, int]) -> Dict[str, Shape]:
    """Key names and shapes of torchvision's ``ResNet(block, layers).state_dict()`` (its ``_make_layer`` rule)."""
    expansion = 4 if block == "bottleneck" else 1
    shapes: Dict[str, Shape] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix: str, c: int) -> None:
        shapes.update({f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
                       f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()})

    bn("bn1", 64)
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            if block == "basic":
                convs = [(planes, inplanes, 3, 3), (planes, planes, 3, 3)]
            else:
                convs = [(planes, inplanes, 1, 1), (planes, planes, 3, 3), (planes * 4, planes, 1, 1)]
            for i, shape in enumerate(convs, start=1):
                shapes[f"{p}.conv{i}.weight"] = shape
                bn(f"{p}.bn{i}", shape[0])
            if b == 0 and (stage > 1 or inplanes != planes * expansion):
                shapes[f"{p}.downsample.0.weight"] = (planes * expansion, inplanes, 1, 1)
                bn(f"{p}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    shapes["fc.weight"] = (1000, 512 * expansion)
    shapes["fc.bias"] = (1000,)
    return shapes


R18 = torchvision_shapes("basic", (2, 2, 2, 2))
R50 = torchvision_shapes("bottleneck", (3, 4, 6, 3))


def random_state(shapes: Dict[str, Shape], seed: int, batches_tracked: bool = True) -> Dict[str, "torch.Tensor"]:
    """Random tensors of those shapes, as a zoo file holds them (positive running variances, integer counters)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            if batches_tracked:
                state[key] = torch.tensor(12345, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g)
    return state


def write(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def glnet(capsys, *argv: str):
    """``glnet ARGV`` in this process: (exit status, stdout, stderr lines)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


# ===================================================================== layout
def test_the_test_layout_is_torchvisions():
    # Copied from torchvision's resnet18-f37072fd.pth and resnet50-11ad3fa6.pth.
    assert len(R18) == 122 and len(R50) == 320
    assert R18["layer3.1.bn2.running_var"] == (256,)
    assert R18["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert R18["layer4.1.conv2.weight"] == (512, 512, 3, 3)
    assert R18["fc.weight"] == (1000, 512)
    assert "layer1.0.downsample.0.weight" not in R18
    assert R50["layer4.2.conv3.weight"] == (2048, 512, 1, 1)
    assert R50["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert R50["layer3.5.bn3.running_mean"] == (1024,)
    assert R50["layer2.0.conv2.weight"] == (128, 128, 3, 3)
    assert R50["fc.weight"] == (1000, 2048)
    assert R50["conv1.weight"] == (64, 3, 7, 7)


@pytest.mark.parametrize("config, shapes", [("resnet18", R18), ("paper", R50)])
def test_our_resnet_has_torchvisions_names_and_shapes(config, shapes):
    ours = {k: tuple(v.shape) for k, v in ResNet(get_config(config).backbone).state_dict().items()}
    assert ours == {k: v for k, v in shapes.items() if not k.startswith("fc.")}


# ===================================================================== loading
def check_loaded(model: GLNet, state: Dict[str, "torch.Tensor"], before: Dict[str, "torch.Tensor"]) -> None:
    """Every backbone tensor of the file in every branch; everything else as it was."""
    after = model.state_dict()
    for part in BACKBONE_PARTS:
        for key, value in state.items():
            if not key.startswith("fc."):
                assert torch.equal(after[f"{part}.backbone.{key}"], value), f"{part}.backbone.{key}"
    others = [k for k in after if ".backbone." not in k]
    assert others and all(torch.equal(after[k], before[k]) for k in others)


def test_resnet18_file_loads_into_every_branch(tmp_path):
    state = random_state(R18, seed=1)
    path = write(tmp_path / "resnet18-f37072fd.pth", state)
    torch.manual_seed(0)
    model = GLNet(get_config("resnet18"), 7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_backbone_weights(model, path)
    check_loaded(model, state, before)
    assert report.parts == {part: 120 for part in BACKBONE_PARTS}
    assert report.ignored == ("fc.bias", "fc.weight") and report.kept == ()
    assert report.architecture == "ResNet-18"
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "resnet18-f37072fd.pth (ResNet-18): 120 tensors into the backbones of global_branch, local_branch, l2g_branch" in report.summary()


def test_resnet50_file_loads_into_the_paper_model(tmp_path):
    state = random_state(R50, seed=2)
    path = write(tmp_path / "resnet50-11ad3fa6.pth", state)
    model = GLNet(get_config("paper"), 7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_backbone_weights(model, path)
    check_loaded(model, state, before)
    assert report.parts == {part: 318 for part in BACKBONE_PARTS} and report.architecture == "ResNet-50"


def test_wrapped_parallel_file_without_batch_counters(tmp_path):
    # An older zoo file has no num_batches_tracked; a training script's file wraps the
    # weights under "state_dict" with nn.DataParallel's "module." prefix.
    state = random_state(R18, seed=3, batches_tracked=False)
    path = write(tmp_path / "wrapped.pth", {"epoch": 90, "state_dict": {f"module.{k}": v for k, v in state.items()}})
    model = GLNet(get_config("resnet18"), 3)
    counters = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_backbone_weights(model, path)
    check_loaded(model, state, before)
    assert len(report.kept) == 20 and all(k.endswith("num_batches_tracked") for k in report.kept)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in counters.items())
    # {"model": ...} is the other common wrapper.
    path2 = write(tmp_path / "model.pth", {"model": state})
    assert load_backbone_weights(GLNet(get_config("resnet18"), 3), path2).parts["l2g_branch"] == 100


def test_init_model_with_backbone_weights(tmp_path, capsys):
    state = random_state(R18, seed=4)
    path = write(tmp_path / "resnet18-f37072fd.pth", state)
    out = tmp_path / "r18.ckpt"
    code, stdout, err = glnet(capsys, "init-model", "--config", "resnet18", "--classes", "3", "--backbone-weights", str(path),
                              "--out", str(out))
    assert code == 0, err
    assert "backbone weights resnet18-f37072fd.pth (ResNet-18): 120 tensors" in stdout
    ckpt = load_checkpoint(out)
    for part in BACKBONE_PARTS:
        backbone = getattr(ckpt.model, part).backbone.state_dict()
        assert all(torch.equal(backbone[k], v) for k, v in state.items() if not k.startswith("fc."))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert ckpt.provenance["lineage"] == [{"kind": "backbone", "file": path.name, "sha256": digest}]
    assert ckpt.config.name == "resnet18" and ckpt.config.backbone.widths == (64, 128, 256, 512)


# ===================================================================== bad files
def bad_cases(tmp_path: Path):
    r18 = random_state(R18, seed=5)
    missing = {k: v for k, v in r18.items() if k != "layer4.1.conv2.weight"}
    wrong = dict(r18, **{"layer2.0.bn1.weight": torch.ones(100)})
    extra = dict(r18, **{"layer5.0.conv1.weight": torch.ones(3)})
    nan = dict(r18, **{"bn1.bias": torch.full((64,), float("nan"))})
    integer = dict(r18, **{"conv1.weight": torch.ones((64, 3, 7, 7), dtype=torch.long)})
    f = lambda name, obj: str(write(tmp_path / name, obj))  # noqa: E731
    return [
        ("list.pth", f("list.pth", [torch.ones(2)]), "resnet18", r"list\.pth holds a list, not a ResNet state dict"),
        ("missing.pth", f("missing.pth", missing), "resnet18",
         r"missing\.pth: weights do not fit the model: 1 missing keys \(layer4\.1\.conv2\.weight\); the file looks like ResNet-18, "
         r"this model's backbone, but not in torchvision's layout$"),
        ("wrong.pth", f("wrong.pth", wrong), "resnet18",
         r"1 keys of the wrong shape \(layer2\.0\.bn1\.weight \(100,\) != \(128,\)\)"),
        ("extra.pth", f("extra.pth", extra), "resnet18", r"1 unexpected keys \(layer5\.0\.conv1\.weight\)"),
        ("nan.pth", f("nan.pth", nan), "resnet18", r"nan\.pth: weight bn1\.bias holds NaN \(64 of 64 values\)"),
        ("integer.pth", f("integer.pth", integer), "resnet18", r"1 keys of the wrong dtype \(conv1\.weight torch\.int64"),
        ("r18-into-paper.pth", f("r18-into-paper.pth", r18), "paper",
         r"the file holds ResNet-18: use configuration resnet18 \(configuration paper has ResNet-50\)$"),
        ("r18-into-lite.pth", f("r18-into-lite.pth", r18), "lite",
         r"use configuration resnet18 \(configuration lite has a ResNet of basic blocks \(2, 2, 2, 2\), stem 32"),
        ("garbage.pth", str(tmp_path / "garbage.pth"), "resnet18", r"backbone weights .*garbage\.pth: not a plain torch checkpoint"),
        ("none.pth", str(tmp_path / "none.pth"), "resnet18", r"backbone weights .*none\.pth does not exist"),
    ]


def test_bad_backbone_files_are_one_line_each(tmp_path, capsys):
    (tmp_path / "garbage.pth").write_bytes(b"not a pickle at all")
    # The model file (checkpoint) and the glnet checkpoint given where a ResNet belongs.
    ckpt = tmp_path / "t.ckpt"
    assert glnet(capsys, "init-model", "--config", "tiny", "--classes", "3", "--out", str(ckpt))[0] == 0
    cases = bad_cases(tmp_path) + [
        ("t.ckpt", str(ckpt), "tiny", r"t\.ckpt is a glnet checkpoint, not a ResNet state dict: start from it with `glnet train --init`"),
    ]
    for name, path, config, pattern in cases:
        out = tmp_path / f"{name}.ckpt"
        code, stdout, err = glnet(capsys, "init-model", "--config", config, "--classes", "3", "--backbone-weights", path,
                                  "--out", str(out))
        assert code == 2 and len(err) == 1 and err[0].startswith("glnet: error: "), (name, err)
        assert re.search(pattern, err[0]), (name, err[0])
        assert not out.exists() and not list(tmp_path.glob(f".{name}*")), name  # nothing partial left
    # The library raises the same as CheckpointError, and the model is unchanged.
    model = GLNet(get_config("paper"), 3)
    before = {k: v.clone() for k, v in model.global_branch.backbone.state_dict().items()}
    with pytest.raises(CheckpointError, match="use configuration resnet18"):
        load_backbone_weights(model, tmp_path / "r18-into-paper.pth")
    assert all(torch.equal(v, model.global_branch.backbone.state_dict()[k]) for k, v in before.items())


def test_backbone_weights_refused_outside_a_new_model(tmp_path, capsys):
    path = write(tmp_path / "r18.pth", random_state(R18, seed=6))
    ckpt = tmp_path / "t.ckpt"
    assert glnet(capsys, "init-model", "--config", "tiny", "--classes", "3", "--out", str(ckpt))[0] == 0
    (tmp_path / "data").mkdir()
    for start in (["--init", str(ckpt)], ["--resume"]):
        code, _, err = glnet(capsys, "train", "--data", str(tmp_path / "data"), *start, "--backbone-weights", str(path),
                             "--out", str(tmp_path / "x.ckpt"))
        assert code == 2 and err == ["glnet: error: --backbone-weights starts a new model's backbones: use it with --config, "
                                     "not with --init or --resume"], err
    # The output may not be the backbone file itself.
    code, _, err = glnet(capsys, "init-model", "--config", "resnet18", "--backbone-weights", str(path), "--out", str(path),
                         "--overwrite")
    assert code == 2 and len(err) == 1 and "backbone weights" in err[0], err
    assert load_backbone_weights(GLNet(get_config("resnet18"), 3), path).parts["global_branch"] == 120
