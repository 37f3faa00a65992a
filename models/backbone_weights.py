"""Pretrained backbones: a ResNet state dict in torchvision's layout loaded into every branch of a GLNet.

torchvision publishes ImageNet weights as plain state dicts
(``resnet50-11ad3fa6.pth``, ``resnet18-f37072fd.pth`` from
https://download.pytorch.org/models/); :mod:`.resnet` uses the same parameter
names, so such a file loads as it is into the ``paper`` configuration
(ResNet-50) and the ``resnet18`` configuration (ResNet-18). glnet never
downloads one: the user does, once, and names the file.

The file is read with ``torch.load(weights_only=True)``
(:func:`~.checkpoint.read_torch_file`). Its ``fc.*`` tensors (the ImageNet
classifier) are ignored, ``num_batches_tracked`` buffers that older files lack
keep the model's values, and any other missing, unexpected or mis-shaped key
is one :class:`~glnet.glnet_core.errors.CheckpointError` line that also says
which configuration the file would fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch

from ..glnet_core.engine.bundle_files import sha256_file
from ..glnet_core.errors import CheckpointError
from .checkpoint import FORMAT, check_state_dict, read_torch_file, tensor_problem
from .config import CONFIGS, BackboneConfig
from .glnet import GLNet

__all__ = ["BACKBONE_PARTS", "BackboneReport", "load_backbone_weights", "resnet_name"]

#: The GLNet parts with a ResNet backbone; all three get the file's weights
#: (``l2g_branch`` is re-initialised from ``global_branch`` when stage 3
#: starts anyway; loading it too keeps an ``init-model`` checkpoint consistent).
BACKBONE_PARTS = ("global_branch", "local_branch", "l2g_branch")

#: Wrapper keys under which training scripts commonly save a state dict.
_WRAPPERS = ("state_dict", "model")

#: torchvision's ResNets: block type and blocks per stage (64-wide stem, widths 64 .. 512).
_TORCHVISION: Dict[Tuple[str, Tuple[int, ...]], str] = {
    ("basic", (2, 2, 2, 2)): "ResNet-18",
    ("basic", (3, 4, 6, 3)): "ResNet-34",
    ("bottleneck", (3, 4, 6, 3)): "ResNet-50",
    ("bottleneck", (3, 4, 23, 3)): "ResNet-101",
    ("bottleneck", (3, 8, 36, 3)): "ResNet-152",
}


@dataclass(frozen=True)
class BackboneReport:
    """What :func:`load_backbone_weights` loaded.

    Attributes
    ----------
    file:
        The state dict file.
    sha256:
        Its SHA-256 (64 hex digits), for the checkpoint's lineage.
    architecture:
        The ResNet it holds, e.g. ``ResNet-50``.
    parts:
        Tensors loaded into each part's backbone, by part name.
    ignored:
        Keys of the file that are not backbone weights (``fc.weight``,
        ``fc.bias``: the ImageNet classifier).
    kept:
        Buffers the file lacks that kept the model's values
        (``num_batches_tracked`` of older files).
    """

    file: Path
    sha256: str
    architecture: str
    parts: Dict[str, int]
    ignored: Tuple[str, ...] = ()
    kept: Tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: ``resnet50-11ad3fa6.pth (ResNet-50): 320 tensors into the backbones of ...``."""
        counts = set(self.parts.values())
        tensors = f"{counts.pop()} tensors" if len(counts) == 1 else ", ".join(f"{n} tensors" for n in self.parts.values())
        text = f"{self.file.name} ({self.architecture}): {tensors} into the backbones of {', '.join(self.parts)}"
        if self.ignored:
            text += f"; ignored {', '.join(self.ignored)}"
        if self.kept:
            text += f"; {len(self.kept)} buffers the file lacks kept at their initial values"
        return text


def resnet_name(backbone: BackboneConfig) -> str:
    """``ResNet-50`` for a torchvision ResNet, else a description (``a ResNet of basic blocks (1, 1, 1, 1), ...``)."""
    name = _TORCHVISION.get((backbone.block, tuple(backbone.layers)))
    if name and backbone.stem_width == 64 and tuple(backbone.widths) == (64, 128, 256, 512):
        return name
    return (f"a ResNet of {backbone.block} blocks {tuple(backbone.layers)}, stem {backbone.stem_width}, "
            f"widths {tuple(backbone.widths)}")


def _file_backbone(state: Mapping[str, Any]) -> Optional[BackboneConfig]:
    """The backbone a torchvision-layout state dict describes, or None if its keys are not a ResNet's."""
    try:
        block = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
        layers = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
        widths = tuple(int(state[f"layer{i}.0.conv1.weight"].shape[0]) for i in range(1, 5))
        if min(layers) < 1:
            return None
        return BackboneConfig(block, layers, int(state["conv1.weight"].shape[0]), widths)  # type: ignore[arg-type]
    except (KeyError, IndexError, AttributeError, ValueError):
        return None


def _fit_hint(state: Mapping[str, Any], model: GLNet) -> str:
    """Which configuration the file would fit, for the error message."""
    torchvision = ", ".join(f"{name} ({resnet_name(c.backbone)})" for name, c in CONFIGS.items()
                            if resnet_name(c.backbone).startswith("ResNet-"))
    found = _file_backbone(state)
    if found is None:
        return f"the file does not hold a ResNet in torchvision's layout; configurations with a torchvision backbone: {torchvision}"
    fitting = [name for name, c in CONFIGS.items() if c.backbone == found]
    if found == model.config.backbone:
        return f"the file looks like {resnet_name(found)}, this model's backbone, but not in torchvision's layout"
    held = f"the file holds {resnet_name(found)}"
    mine = f"configuration {model.config.name} has {resnet_name(model.config.backbone)}"
    if fitting:
        return f"{held}: use configuration {' or '.join(fitting)} ({mine})"
    return f"{held}, which no configuration has ({mine}; configurations with a torchvision backbone: {torchvision})"


def _unwrapped(data: Any, source: str) -> Dict[str, Any]:
    """The state dict inside what the file holds: itself, or under ``state_dict`` / ``model``; ``module.`` stripped."""
    if isinstance(data, dict) and data.get("format") == FORMAT:
        raise CheckpointError(f"{source} is a glnet checkpoint, not a ResNet state dict: start from it with `glnet train --init`")
    if not isinstance(data, dict):
        raise CheckpointError(f"{source} holds a {type(data).__name__}, not a ResNet state dict (a dict of names to tensors)")
    for key in _WRAPPERS:
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    # nn.DataParallel saves every name under "module.".
    state = {(k[len("module."):] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in data.items()}
    if any(isinstance(k, str) and k.startswith("resnet_global.") for k in state):
        raise CheckpointError(f"{source} is a published GLNet checkpoint, not a ResNet state dict: convert it with `glnet import-original`")
    return state


def load_backbone_weights(model: GLNet, path: Union[str, Path]) -> BackboneReport:
    """Load a torchvision-layout ResNet state dict into the backbone of every branch of ``model``.

    Parameters
    ----------
    model:
        The GLNet; its configuration's backbone must be the file's ResNet
        (``paper``: ResNet-50, ``resnet18``: ResNet-18). Changed in place.
    path:
        The ``.pth`` file: a state dict (as torchvision's model zoo publishes
        them), or a dict holding one under ``state_dict`` or ``model``; keys
        may start with ``module.``.

    Returns
    -------
    BackboneReport
        What was loaded into which part, what was ignored, the file's SHA-256.

    Raises
    ------
    CheckpointError
        One line: the file is missing or unreadable, not plain data, not a
        state dict, holds a non-finite or non-tensor value, or its keys or
        shapes do not fit the model's backbone (naming a few keys, and the
        configuration that the file's ResNet fits). The model is unchanged.
    """
    path = Path(path)
    source = f"backbone weights {path}"
    state = _unwrapped(read_torch_file(path, what="backbone weights"), source)
    problem = tensor_problem(state, source)
    if problem:
        raise CheckpointError(problem)
    ignored = tuple(sorted(k for k in state if k.startswith("fc.")))
    weights = {k: v for k, v in state.items() if not k.startswith("fc.")}
    backbones = {name: getattr(model, name).backbone for name in BACKBONE_PARTS}
    own = backbones[BACKBONE_PARTS[0]].state_dict()
    kept = tuple(k for k in own if k.endswith("num_batches_tracked") and k not in weights)
    try:
        # Checked once, before any part changes: every backbone has the configuration's shapes.
        check_state_dict(backbones[BACKBONE_PARTS[0]], {**{k: own[k] for k in kept}, **weights}, source)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; {_fit_hint(state, model)}") from None
    with torch.no_grad():
        for backbone in backbones.values():
            mine = backbone.state_dict()
            backbone.load_state_dict({**{k: mine[k] for k in kept}, **weights})
    found = _file_backbone(weights)
    return BackboneReport(
        file=path,
        sha256=sha256_file(path),
        architecture=resnet_name(found) if found is not None else resnet_name(model.config.backbone),
        parts={name: len(weights) for name in backbones},
        ignored=ignored,
        kept=kept,
    )
