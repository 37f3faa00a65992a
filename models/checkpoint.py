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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from ..glnet_core.engine.preprocess import Normalisation
from ..glnet_core.errors import CheckpointError
from ..glnet_core.formats.classes import ClassTable
from ..glnet_core.formats.outputs import atomic_file, write_failed
from .config import GLNetConfig
from .glnet import GLNet

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "FORMAT", "FORMAT_VERSION"]

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


def load_checkpoint(path: Union[str, Path]) -> Checkpoint:
    """Read a glnet checkpoint with ``torch.load(weights_only=True)``.

    Raises
    ------
    CheckpointError
        With one line saying what is wrong: missing or unreadable file, not a
        glnet checkpoint (for example a published GLNet ``.pth``: convert those
        with ``glnet import-original``), unknown format version, or weights
        that do not match the configuration (naming missing / unexpected keys).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {first}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and any(str(k).startswith("module.") for k in data):
            hint = " (it looks like a published GLNet state dict: convert it with `glnet import-original`)"
        raise CheckpointError(f"{path} is not a glnet checkpoint{hint}")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint format version {data.get('format_version')!r}")
    try:
        config = GLNetConfig.from_dict(data["config"])
        classes = ClassTable.from_dict(data["classes"], source=str(path))
        norm = Normalisation.from_dict(data["normalisation"])
        state = data["state_dict"]
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({exc.__class__.__name__}: {exc})") from None
    model = GLNet(config, len(classes))
    check_state_dict(model, state, str(path))
    model.load_state_dict(state)
    model.eval()
    return Checkpoint(
        model=model,
        classes=classes,
        normalisation=norm,
        resolution_m=data.get("resolution_m"),
        provenance=dict(data.get("provenance") or {}),
        train_state=data.get("train_state"),
    )


def check_state_dict(model: torch.nn.Module, state: Dict[str, torch.Tensor], source: str) -> None:
    """Raise :class:`CheckpointError` naming missing, unexpected or mis-shaped keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = key_problems(missing, unexpected, wrong)
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the model: " + "; ".join(problems))


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
