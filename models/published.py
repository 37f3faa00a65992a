"""Import of the published GLNet DeepGlobe checkpoints (and export to their layout).

The published implementation saves three files, one per training stage, each
the whole ``state_dict`` of its single model module wrapped in
``nn.DataParallel`` (keys start with ``module.``):

``fpn_deepglobe_global.pth`` (stage 1)
    gives ``global_branch``: ``resnet_global.*`` and the plain layers of
    ``fpn_global`` (``toplayer``, ``latlayer1..3``, ``smooth{1..4}_{1,2}``,
    ``classify``).
``fpn_deepglobe_global2local.pth`` (stage 2)
    gives ``local_branch`` (``resnet_local.*``, ``fpn_local.*``) and
    ``aggregation`` (``ensemble_conv``).
``fpn_deepglobe_local2global.pth`` (stage 3)
    gives ``l2g_branch``: ``resnet_global.*`` (retrained in stage 3), the
    ``*_ext`` layers, ``smooth`` and ``classify`` of ``fpn_global``; and
    ``l2g_aggregation`` (``ensemble_conv``, retrained in stage 3).

This is exactly what the published evaluation loads for each mode: mode 2
(``g2l``) uses the stage-2 file alone, whose global branch is the frozen stage-1
one; mode 3 (``full``) uses the stage-1 file for the global tensors fed to the
local branch and the stage-3 file for everything else.

FPN layer names map as: ``toplayer`` -> ``lateral.0``, ``latlayerK`` ->
``lateral.K``, ``smoothK_1`` -> ``smooth1.(K-1)``, ``smoothK_2`` ->
``smooth2.(K-1)``, ``smooth`` -> ``fuse``; ResNet names are unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch

from ..glnet_core.errors import CheckpointError
from .checkpoint import key_problems, read_torch_file, tensor_problem
from .config import GLNetConfig, get_config
from .glnet import GLNet

__all__ = ["STAGE_FILES", "import_published", "export_published", "published_to_glnet"]

Tensors = Dict[str, torch.Tensor]

#: Which stage file provides which of our parts, and from which published prefix.
#: (our prefix, published prefix, FPN naming: None for ResNets, "plain" or "ext").
_SOURCES: Dict[str, List[Tuple[str, str, Union[str, None]]]] = {
    "global": [
        ("global_branch.backbone.", "resnet_global.", None),
        ("global_branch.head.", "fpn_global.", "plain"),
    ],
    "g2l": [
        ("local_branch.backbone.", "resnet_local.", None),
        ("local_branch.head.", "fpn_local.", "plain"),
        ("aggregation.", "ensemble_conv.", None),
    ],
    "l2g": [
        ("l2g_branch.backbone.", "resnet_global.", None),
        ("l2g_branch.head.", "fpn_global.", "ext"),
        ("l2g_aggregation.", "ensemble_conv.", None),
    ],
}

STAGE_FILES = {
    "global": "fpn_deepglobe_global.pth",
    "g2l": "fpn_deepglobe_global2local.pth",
    "l2g": "fpn_deepglobe_local2global.pth",
}


def _fpn_name(ours: str, naming: str) -> str:
    """Published FPN parameter name for one of ours (without prefixes)."""
    ext = "_ext" if naming == "ext" else ""
    m = re.fullmatch(r"lateral\.(\d)\.(weight|bias)", ours)
    if m:
        k, what = int(m.group(1)), m.group(2)
        return (f"toplayer{ext}" if k == 0 else f"latlayer{k}{ext}") + f".{what}"
    m = re.fullmatch(r"smooth([12])\.(\d)\.(weight|bias)", ours)
    if m:
        return f"smooth{int(m.group(2)) + 1}_{m.group(1)}{ext}.{m.group(3)}"
    m = re.fullmatch(r"(fuse|classify)\.(weight|bias)", ours)
    if m:
        # The stage-3 global FPN shares `smooth` and `classify` with no suffix.
        return ("smooth" if m.group(1) == "fuse" else "classify") + f".{m.group(2)}"
    raise KeyError(ours)


def _key_map(model: GLNet) -> Dict[str, Dict[str, str]]:
    """For each stage file: {published key (without ``module.``): our key}."""
    maps: Dict[str, Dict[str, str]] = {stage: {} for stage in _SOURCES}
    for key in model.state_dict():
        for stage, rules in _SOURCES.items():
            for ours, theirs, naming in rules:
                if key.startswith(ours):
                    rest = key[len(ours) :]
                    maps[stage][theirs + (rest if naming is None else _fpn_name(rest, naming))] = key
    return maps


def _strip_module(state: Mapping[str, torch.Tensor], source: str) -> Tensors:
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{source}: not a published GLNet checkpoint (expected a state dict)")
    # The same structural rules as glnet's own checkpoints: names are
    # strings, weights finite dense tensors (a NaN is named).
    problem = tensor_problem(state, source)
    if problem:
        raise CheckpointError(problem)
    out: Tensors = {}
    for k, v in state.items():
        out[k[len("module.") :] if k.startswith("module.") else k] = v
    return out


def _published_layout(model: GLNet) -> Dict[str, Tuple[int, ...]]:
    """Every key (and shape) of the published single module, for spotting foreign keys."""
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    layout: Dict[str, Tuple[int, ...]] = {}
    for stage_map in _key_map(model).values():
        for theirs, ours in stage_map.items():
            layout[theirs] = shapes[ours]
    return layout


def published_to_glnet(
    states: Mapping[str, Mapping[str, torch.Tensor]], n_classes: int, config: GLNetConfig | None = None
) -> GLNet:
    """Build a GLNet (``paper`` unless ``config`` says otherwise) from the three published stage state dicts.

    Parameters
    ----------
    states:
        ``{"global": ..., "g2l": ..., "l2g": ...}``, each a published state
        dict (with or without the ``module.`` prefix).
    n_classes:
        Number of classes the checkpoints were trained for.
    config:
        Architecture; the published files are ``paper``. Other configurations
        are accepted so tests can exercise the mapping on small models.

    Raises
    ------
    CheckpointError
        Naming the file and its missing, unexpected or mis-shaped keys.
    """
    config = config or get_config("paper")
    # Every file's structure (names, tensors, finite values) before the
    # network is built: a damaged file fails at once, with its own message.
    stripped = {stage: _strip_module(source_state, STAGE_FILES.get(stage, stage)) for stage, source_state in states.items()}
    model = GLNet(config, n_classes)
    ours = model.state_dict()
    maps = _key_map(model)
    layout = _published_layout(model)
    new_state: Tensors = {}
    for stage, state in stripped.items():
        source = STAGE_FILES.get(stage, stage)
        unexpected = sorted(k for k in state if k not in layout)
        wanted = maps[stage]
        # BatchNorm's num_batches_tracked is absent from files saved by old torch versions.
        missing = sorted(k for k in wanted if k not in state and not k.endswith("num_batches_tracked"))
        wrong = sorted(
            f"{k} {tuple(state[k].shape)} != {layout[k]}" for k in state if k in layout and tuple(state[k].shape) != layout[k]
        )
        problems = key_problems(missing, unexpected, wrong)
        if problems:
            raise CheckpointError(f"{source}: not a published GLNet {stage} checkpoint: " + "; ".join(problems))
        for theirs, key in wanted.items():
            new_state[key] = state[theirs] if theirs in state else ours[key]
    absent = [s for s in _SOURCES if s not in states]
    if absent:
        raise CheckpointError(f"missing published stage files: {', '.join(absent)}")
    model.load_state_dict(new_state)
    model.eval()
    return model


def load_published_file(path: Union[str, Path]) -> Tensors:
    """``torch.load(weights_only=True)`` of one published file, with one-line errors."""
    path = Path(path)
    state = read_torch_file(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        if state.get("format") == "glnet-checkpoint":
            raise CheckpointError(f"{path} is already a glnet checkpoint; it needs no import")
        state = state["state_dict"]
    return state


def import_published(global_path, g2l_path, l2g_path, n_classes: int) -> GLNet:
    """Read the three published files and build the equivalent ``paper`` GLNet."""
    states = {
        "global": load_published_file(global_path),
        "g2l": load_published_file(g2l_path),
        "l2g": load_published_file(l2g_path),
    }
    # Name the files in errors rather than the stage keys.
    try:
        return published_to_glnet(states, n_classes)
    except CheckpointError as exc:
        msg = str(exc)
        for stage, path in (("global", global_path), ("g2l", g2l_path), ("l2g", l2g_path)):
            msg = msg.replace(STAGE_FILES[stage] + ":", f"{path}:")
        raise CheckpointError(msg) from None


def export_published(model: GLNet) -> Dict[str, Tensors]:
    """The three published stage state dicts (``module.`` keys) that import back to ``model``.

    Parts a stage file holds but the published code does not use for that
    stage are filled the way the published training leaves them: the stage-1
    and stage-2 files carry the stage-1 global branch and untrained ``_ext``
    layers; the stage-3 file carries the stage-2 local branch.
    Used by tests and the fidelity benchmark.
    """
    state = model.state_dict()
    maps = _key_map(model)
    layout = _published_layout(model)
    full_from: Dict[str, Dict[str, str]] = {}
    for stage in ("global", "g2l", "l2g"):
        for theirs, ours in maps[stage].items():
            full_from.setdefault(theirs, {})[stage] = ours
    out: Dict[str, Tensors] = {}
    for stage in ("global", "g2l", "l2g"):
        d: Tensors = {}
        for theirs in layout:
            sources = full_from[theirs]
            # Prefer this stage's own weights, then the latest earlier stage's.
            for s in (stage, "l2g", "g2l", "global") if stage == "l2g" else (stage, "g2l", "global", "l2g"):
                if s in sources:
                    d["module." + theirs] = state[sources[s]].clone()
                    break
        out[stage] = d
    return out
