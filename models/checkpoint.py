"""The glnet checkpoint: one file with configuration, classes, weights and provenance.

A checkpoint is a ``torch.save`` of a plain dict that ``torch.load(...,
weights_only=True)`` reads (only tensors, numbers, strings, lists and dicts)::

    {"format": "glnet-checkpoint", "format_version": 1,
     "config": {...GLNetConfig...},
     "classes": {...ClassTable...},
     "normalisation": {"scale": ..., "mean": [...], "std": [...]},
     "resolution_m": float or None,      # ground resolution trained at
     "state_dict": {...GLNet weights...},
     "provenance": {"source": "init-model" | "train" | "import-original", ...},
     "train_state": {...} or None}       # optimiser etc. for --resume
"""

from __future__ import annotations

import datetime as _dt
import math
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import torch

from ..glnet_core.engine.preprocess import Normalisation
from ..glnet_core.errors import CheckpointError, GlnetError
from ..glnet_core.formats.classes import ClassTable
from ..glnet_core.formats.outputs import atomic_file, write_failed
from .config import GLNetConfig
from .glnet import GLNet

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "read_torch_file", "tensor_problem", "check_state_dict",
           "FORMAT", "FORMAT_VERSION"]

FORMAT = "glnet-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A model with everything needed to use, export or continue training it."""

    model: GLNet
    classes: ClassTable
    normalisation: Normalisation = field(default_factory=Normalisation)
    resolution_m: Optional[float] = None
    provenance: Dict[str, Any] = field(default_factory=dict)
    train_state: Optional[Dict[str, Any]] = None

    @property
    def config(self) -> GLNetConfig:
        return self.model.config


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def save_checkpoint(
    ckpt: Checkpoint, path: Union[str, Path], overwrite: bool = False, option: Optional[str] = None
) -> Path:
    """Write a checkpoint atomically (its hidden part file, then renamed).

    Parameters
    ----------
    ckpt:
        The checkpoint.
    path:
        The file to write.
    overwrite:
        Replace an existing ``path``.
    option:
        The command-line option that named ``path`` (``"--out"``), named in
        error messages; ``None`` for none.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CheckpointError
        If ``path`` exists without ``overwrite``, is a folder or not a regular
        file, or its folder does not exist
        (:func:`~glnet.glnet_core.formats.outputs.check_file_target`).
    OutputWriteError
        If writing fails (a full disk); nothing is left behind.
    """
    path = Path(path)
    provenance = dict(ckpt.provenance)
    provenance.setdefault("created", _now())
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": ckpt.config.to_dict(),
        "classes": ckpt.classes.to_dict(),
        "normalisation": ckpt.normalisation.to_dict(),
        "resolution_m": ckpt.resolution_m,
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()},
        "provenance": provenance,
        "train_state": ckpt.train_state,
    }
    with atomic_file(path, overwrite=overwrite, option=option, error=CheckpointError) as part:
        try:
            torch.save(payload, part)
        except RuntimeError as exc:  # torch's file writer reports a failed write so; atomic_file classifies OSError
            raise write_failed(path, exc, option) from None
    return path


def read_torch_file(path: Union[str, Path], what: str = "checkpoint") -> Any:
    """``torch.load(weights_only=True)`` of a file, with glnet's one-line errors.

    The one reader of ``.ckpt`` / ``.pth`` files (glnet checkpoints and the
    published GLNet files alike). torch's own warnings (an unusual pickle
    protocol) stay off the terminal, and a pickle holding anything but
    tensors and plain data gets glnet's message, not torch's advice to load
    it with ``weights_only=False``.

    Parameters
    ----------
    path:
        The file.
    what:
        How messages call it (``checkpoint``).

    Returns
    -------
    Any
        What the file holds (tensors, numbers, strings, lists, dicts).

    Raises
    ------
    CheckpointError
        Missing, not a regular file, unreadable, or not plain data.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{what} {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"{what} {path} is not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a paragraph of advice (rerun with
        # weights_only=False: never, for a file one did not make); keep only
        # what the file holds.
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found:
            raise CheckpointError(
                f"{what} {path}: holds a Python object ({found.group(1)}) other than tensors, numbers, strings, "
                "lists and dicts; glnet reads only such plain checkpoints and never runs code from one"
            ) from None
        reason = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        raise CheckpointError(
            f"{what} {path}: not a plain torch checkpoint ({reason.group(1).strip() if reason else 'unreadable pickle'}); "
            "glnet reads only files of tensors, numbers, strings, lists and dicts saved by torch.save"
        ) from None
    except Exception as exc:  # torch raises many types for corrupt files
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise CheckpointError(f"cannot read {what} {path}: {first}") from None


def tensor_problem(state: Any, source: str) -> Optional[str]:
    """Why ``state`` is not a mapping of names to finite, dense tensors, or ``None``.

    Parameters
    ----------
    state:
        A state dict as loaded.
    source:
        How messages name the file.

    Returns
    -------
    str or None
        One line, e.g. ``x.ckpt: weight global_branch.head.classify.weight
        holds NaN (3 of 1512 values)``.
    """
    if not isinstance(state, Mapping):
        return f"{source}: the weights are a {type(state).__name__}, not a mapping of names to tensors"
    if not state:
        return f"{source}: the weights are empty"
    for key, value in state.items():
        if not isinstance(key, str):
            return f"{source}: weight name {key!r} is not a string"
        if not isinstance(value, torch.Tensor):
            return f"{source}: weight {key} is a {type(value).__name__}, not a tensor"
        if value.layout != torch.strided or value.is_quantized or value.device.type != "cpu":
            return f"{source}: weight {key} is not a plain dense tensor"
        if value.is_floating_point() or value.is_complex():
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                bad = value[~finite]
                kind = "NaN" if bool(torch.isnan(bad).any()) else "infinite values"
                return f"{source}: weight {key} holds {kind} ({int(bad.numel())} of {value.numel()} values)"
    return None


def _checked_metadata(data: Dict[str, Any], source: str):
    """Configuration, classes and normalisation of a checkpoint dict, each checked before any model exists."""
    for key in ("config", "classes", "normalisation", "state_dict"):
        if key not in data:
            raise CheckpointError(f"{source}: damaged checkpoint: no {key!r}")
    try:
        config = GLNetConfig.from_dict(data["config"])
    except ValueError as exc:  # from_dict's one line naming the key
        raise CheckpointError(f"{source}: {exc}") from None
    try:
        classes = ClassTable.from_dict(data["classes"], source=source)
    except CheckpointError:
        raise
    except GlnetError as exc:
        raise CheckpointError(str(exc)) from None
    except Exception as exc:
        raise CheckpointError(f"{source}: damaged class table ({exc.__class__.__name__}: {exc})") from None
    norm = _checked_normalisation(data["normalisation"], config.in_channels, source)
    resolution = data.get("resolution_m")
    if resolution is not None and (
        isinstance(resolution, bool) or not isinstance(resolution, (int, float)) or not math.isfinite(resolution)
        or resolution <= 0
    ):
        raise CheckpointError(f"{source}: resolution_m {resolution!r} is not a positive number of metres")
    for key in ("provenance", "train_state"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise CheckpointError(f"{source}: {key} is a {type(data[key]).__name__}, not a dict")
    return config, classes, norm


def _checked_normalisation(value: Any, bands: int, source: str) -> Normalisation:
    def numbers(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)

    if not isinstance(value, dict) or not {"scale", "mean", "std"} <= set(value):
        raise CheckpointError(f"{source}: normalisation needs scale, mean and std")
    scale, mean, std = value["scale"], value["mean"], value["std"]
    if not numbers([scale]) or scale <= 0:
        raise CheckpointError(f"{source}: normalisation.scale {scale!r} is not a positive number")
    for key, values in (("mean", mean), ("std", std)):
        if not numbers(values) or len(values) != bands:
            raise CheckpointError(f"{source}: normalisation.{key} must be {bands} finite numbers (one per band), got {values!r}"[:300])
    if any(x <= 0 for x in std):
        raise CheckpointError(f"{source}: normalisation.std values must be positive, got {std!r}")
    return Normalisation.from_dict(value)


def load_checkpoint(path: Union[str, Path]) -> Checkpoint:
    """Read a glnet checkpoint with ``torch.load(weights_only=True)``, checking it before a model is built.

    The checks, in order: plain data only (:func:`read_torch_file`); format
    and version; every configuration key present and within bounds
    (:meth:`GLNetConfig.from_dict`); the class table and normalisation; the
    weights a mapping of names to finite tensors (:func:`tensor_problem`);
    the class table's size equal to the heads' output channels; then the
    weights' names, shapes and dtypes against the network the configuration
    describes, built without memory (on torch's ``meta`` device). Only then
    is the model made, from the checkpoint's own tensors.

    Raises
    ------
    CheckpointError
        With one line saying what is wrong: missing or unreadable file, not a
        glnet checkpoint (for example a published GLNet ``.pth``: convert those
        with ``glnet import-original``), unknown format version, a missing or
        absurd configuration value, a weight that is no tensor or holds NaN,
        or weights that do not match the configuration (naming missing /
        unexpected keys).
    """
    path = Path(path)
    source = str(path)
    data = read_torch_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and any(str(k).startswith("module.") for k in data):
            hint = " (it looks like a published GLNet state dict: convert it with `glnet import-original`)"
        raise CheckpointError(f"{path} is not a glnet checkpoint{hint}")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint format version {data.get('format_version')!r}")
    config, classes, norm = _checked_metadata(data, source)
    state = data["state_dict"]
    problem = tensor_problem(state, source)
    if problem:
        raise CheckpointError(problem)
    # The shapes first, on the meta device: a configuration that does not
    # fit the weights is refused without allocating the network it describes.
    with torch.device("meta"):
        skeleton = GLNet(config, len(classes))
    check_state_dict(skeleton, state, source, n_classes=len(classes))
    expected = skeleton.state_dict()
    state = {k: v if v.dtype == expected[k].dtype else v.to(expected[k].dtype) for k, v in state.items()}
    model = skeleton
    # assign=True: the parameters become the checkpoint's tensors (already
    # in memory), so the network is never allocated twice.
    model.load_state_dict(state, assign=True)
    model.eval()
    return Checkpoint(
        model=model,
        classes=classes,
        normalisation=norm,
        resolution_m=data.get("resolution_m"),
        provenance=dict(data.get("provenance") or {}),
        train_state=data.get("train_state"),
    )


def check_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str,
                     n_classes: Optional[int] = None) -> None:
    """Raise :class:`CheckpointError` naming missing, unexpected, mis-shaped or mistyped keys.

    Parameters
    ----------
    model:
        The network the weights are for (on any device, ``meta`` included).
    state:
        The weights; a mapping of names to tensors (:func:`tensor_problem`).
    source:
        How messages name the file.
    n_classes:
        The class table's size: when given, a classifier head of another
        width gets its own message (the class table and the weights disagree).
    """
    expected = model.state_dict()
    if n_classes is not None:
        for key in _CLASS_HEADS:
            if key in expected and key in state and state[key].dim() >= 1 and state[key].shape[0] != n_classes:
                raise CheckpointError(
                    f"{source}: the class table has {n_classes} classes but the head {key} gives "
                    f"{state[key].shape[0]} channels"
                )
    # A float of another precision is cast when loaded (as load_state_dict
    # always did); an integer where a float belongs is not a weight.
    dtypes = [f"{k} {state[k].dtype} != {v.dtype}" for k, v in expected.items()
              if k in state and isinstance(state[k], torch.Tensor) and state[k].dtype != v.dtype
              and not (state[k].is_floating_point() and v.is_floating_point())]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = key_problems(missing, unexpected, wrong)
    if dtypes and not problems:
        problems.append(f"{len(dtypes)} keys of the wrong dtype ({_some(dtypes)})")
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the model: " + "; ".join(problems))


#: The layers whose output channels are the classes.
_CLASS_HEADS = ("global_branch.head.classify.weight", "local_branch.head.classify.weight", "aggregation.weight",
                "l2g_branch.head.classify.weight", "l2g_aggregation.weight")


def key_problems(missing: List[str], unexpected: List[str], wrong: List[str]) -> List[str]:
    """Short descriptions of what is wrong with a state dict's keys (empty when nothing is)."""
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({_some(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({_some(unexpected)})")
    if wrong:
        problems.append(f"{len(wrong)} keys of the wrong shape ({_some(wrong)})")
    return problems


def _some(items, n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (", ..." if len(items) > n else "")
