"""Three-stage GLNet training, as published (Chen et al., CVPR 2019).

=========  ====================================  ===================================
stage      trains                                loss (focal, labels at 1/4 size)
=========  ====================================  ===================================
``global`` ``global_branch`` on the downsampled  focal(global logits)
           window
``g2l``    ``local_branch`` + ``aggregation``;   focal(local logits) + focal(aggregation
           the global branch is frozen           logits) + fmreg * MSE(local ps3, global
                                                 ps3 crop)
``l2g``    ``l2g_branch`` + ``l2g_aggregation``; focal(l2g global logits) + focal(l2g
           global and local branches frozen      aggregation logits of every patch)
=========  ====================================  ===================================

Frozen parts have ``requires_grad = False`` and stay in eval mode (their
BatchNorm statistics do not move), as the published code keeps them. Each
optimiser step covers one batch of images; in stages 2 and 3 the patches of
an image go through in sub-batches whose losses are added up (their gradients
accumulate), as the published code does. Adam with L2 weight decay and the
poly schedule ``lr * (1 - iteration / max_iteration) ** 0.9``.

The entry point is :func:`train`; :mod:`glnet.glnet_core.cli.train` is its
command line. The building blocks (:func:`set_trainable`,
:func:`batch_backward`, :func:`evaluate`) are public so tests and notebooks
can drive a single step.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..glnet_core.formats.classes import NODATA, ClassTable
from ..glnet_core.errors import GlnetError, InputError
from ..glnet_core.engine.preprocess import Normalisation, prepare_window
from ..glnet_core.engine.tiling import PatchBox, patch_layout
from .checkpoint import Checkpoint, save_checkpoint
from .data import (
    EpochSampler,
    SamplePair,
    TrainingDataset,
    TrainSample,
    load_pair,
    logits_size,
    pair_size,
    resize_labels,
    validation_tiles,
)
from .fpn import SharedFeatures
from .glnet import GLNet, LocalMerger, crop_boxes, crop_shared
from .inference import predict_window
from .losses import feature_regularisation, focal_loss
from ..glnet_core.cli.progress_bar import ProgressBar

__all__ = [
    "STAGES",
    "STAGE_CHOICES",
    "PUBLISHED_EPOCHS",
    "PUBLISHED_LR",
    "TRAINED_PARTS",
    "TrainOptions",
    "Scores",
    "EpochReport",
    "ProgressBar",
    "resolve_device",
    "set_trainable",
    "set_stage_modes",
    "poly_lr",
    "patch_labels",
    "batch_backward",
    "predict_classes",
    "evaluate",
    "train",
]

STAGES = ("global", "g2l", "l2g")
STAGE_CHOICES = STAGES + ("all",)
PUBLISHED_EPOCHS: Dict[str, int] = {"global": 120, "g2l": 50, "l2g": 120}
PUBLISHED_LR: Dict[str, float] = {"global": 5e-5, "g2l": 2e-5, "l2g": 5e-5}
#: The GLNet attributes each stage trains; everything else is frozen.
TRAINED_PARTS: Dict[str, Tuple[str, ...]] = {
    "global": ("global_branch",),
    "g2l": ("local_branch", "aggregation"),
    "l2g": ("l2g_branch", "l2g_aggregation"),
}
#: Inference mode used to validate each stage (None: global logits alone).
VALIDATION_MODE: Dict[str, Optional[str]] = {"global": None, "g2l": "g2l", "l2g": "full"}
TRAIN_STATE_VERSION = 1


# ===================================================================== options
@dataclass
class TrainOptions:
    """Everything that shapes a training run (published defaults).

    Attributes
    ----------
    stage:
        ``global``, ``g2l``, ``l2g`` or ``all`` (the three in order).
    epochs:
        None for the published 120 / 50 / 120; one value for every stage of
        the run; or one value per stage of the run.
    lr:
        None for the published 5e-5 / 2e-5 / 5e-5; one value; or one per stage.
    batch_size:
        Images per optimiser step (6).
    sub_batch:
        Patches per local-branch forward pass (6); also used in validation.
    weight_decay:
        Adam's L2 weight decay (5e-4).
    fmreg:
        Weight of the stage-2 feature-map regularisation (0.15).
    gamma:
        Focal loss exponent (3).
    seed:
        Seeds initialisation (done by the caller), crops, augmentation and order.
    workers:
        DataLoader worker processes (0: load in the main process).
    augment:
        Random flips and 90-degree rotations.
    device:
        ``auto``, ``cpu`` or ``cuda``.
    amp:
        Mixed precision (autocast + GradScaler) on CUDA; ignored on the CPU.
    quiet:
        No progress bar and no per-epoch lines.
    """

    stage: str = "all"
    epochs: Optional[Tuple[int, ...]] = None
    lr: Optional[Tuple[float, ...]] = None
    batch_size: int = 6
    sub_batch: int = 6
    weight_decay: float = 5e-4
    fmreg: float = 0.15
    gamma: float = 3.0
    seed: int = 0
    workers: int = 0
    augment: bool = True
    device: str = "auto"
    amp: bool = True
    quiet: bool = False

    #: Fields that change how a run computes, not what it computes; a resumed
    #: run takes these from the command line and everything else from the
    #: checkpoint.
    RUNTIME_FIELDS = ("workers", "device", "quiet")

    def stages(self) -> List[str]:
        """The stages this run trains, in order."""
        return list(STAGES) if self.stage == "all" else [self.stage]

    def _per_stage(self, values: Optional[Sequence], stage: str, published: Dict[str, Any], what: str):
        if values is None:
            return published[stage]
        stages = self.stages()
        if len(values) == 1:
            return values[0]
        if len(values) != len(stages):
            raise InputError(f"--{what} takes one value or one per stage ({len(stages)}), got {len(values)}")
        return values[stages.index(stage)]

    def epochs_for(self, stage: str) -> int:
        """Epochs of ``stage`` in this run."""
        return int(self._per_stage(self.epochs, stage, PUBLISHED_EPOCHS, "epochs"))

    def lr_for(self, stage: str) -> float:
        """Base learning rate of ``stage`` in this run."""
        return float(self._per_stage(self.lr, stage, PUBLISHED_LR, "lr"))

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first invalid option."""
        if self.stage not in STAGE_CHOICES:
            raise InputError(f"unknown stage {self.stage!r}; choose one of {', '.join(STAGE_CHOICES)}")
        for stage in self.stages():
            if self.epochs_for(stage) < 1:
                raise InputError(f"--epochs must be at least 1, got {self.epochs_for(stage)} for stage {stage}")
            if not self.lr_for(stage) > 0:
                raise InputError(f"--lr must be positive, got {self.lr_for(stage)} for stage {stage}")
        checks = [
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.sub_batch >= 1, f"--sub-batch must be at least 1, got {self.sub_batch}"),
            (self.weight_decay >= 0, f"--weight-decay must not be negative, got {self.weight_decay}"),
            (self.fmreg >= 0, f"--fmreg must not be negative, got {self.fmreg}"),
            (self.gamma >= 0, f"--gamma must not be negative, got {self.gamma}"),
            (self.workers >= 0, f"--workers must not be negative, got {self.workers}"),
            (self.device in ("auto", "cpu", "cuda"), f"--device must be auto, cpu or cuda, got {self.device!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["epochs"] = None if self.epochs is None else [int(v) for v in self.epochs]
        d["lr"] = None if self.lr is None else [float(v) for v in self.lr]
        return d

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TrainOptions":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("epochs", "lr"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


# ===================================================================== freezing
def set_stage_modes(model: GLNet, stage: str) -> None:
    """Train mode for the parts ``stage`` trains, eval mode for all others.

    Eval mode keeps the frozen branches' BatchNorm layers on their running
    statistics (and leaves those untouched), as the published training does.
    Call it again after anything that calls ``model.train()`` / ``eval()``.
    """
    model.eval()
    for name in TRAINED_PARTS[stage]:
        getattr(model, name).train()


def set_trainable(model: GLNet, stage: str) -> List[nn.Parameter]:
    """Freeze everything ``stage`` does not train; return the trained parameters.

    Sets ``requires_grad`` (so frozen parts get no gradient at all) and the
    train / eval modes (:func:`set_stage_modes`).

    Returns
    -------
    list of torch.nn.Parameter
        The trained parameters, in module order (the optimiser's order, which
        a resumed optimiser state relies on).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    model.requires_grad_(False)
    params: List[nn.Parameter] = []
    for name in TRAINED_PARTS[stage]:
        part = getattr(model, name)
        part.requires_grad_(True)
        params.extend(part.parameters())
    set_stage_modes(model, stage)
    return params


def poly_lr(base_lr: float, iteration: int, max_iteration: int, power: float = 0.9) -> float:
    """The poly schedule: ``base_lr * (1 - iteration / max_iteration) ** power``."""
    if max_iteration <= 0:
        return base_lr
    return base_lr * max(0.0, 1.0 - iteration / max_iteration) ** power


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``; ``cuda``.

    Raises
    ------
    InputError
        For ``cuda`` without a usable GPU, or an unknown name.
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU is available to torch (use --device cpu or auto)")
        return torch.device("cuda")
    raise InputError(f"--device must be auto, cpu or cuda, got {spec!r}")


# ===================================================================== one step
def _chunks(items: Sequence[PatchBox], n: int) -> Iterable[Sequence[PatchBox]]:
    for i in range(0, len(items), max(1, n)):
        yield items[i : i + max(1, n)]


def patch_labels(labels: np.ndarray, boxes: Sequence[PatchBox], size: int) -> np.ndarray:
    """Labels of patches for the loss: each patch's labels resized (nearest) to ``size``.

    Returns
    -------
    numpy.ndarray
        ``(len(boxes), size, size)`` uint8.
    """
    return np.stack([resize_labels(labels[b.top : b.bottom, b.left : b.right], size, size) for b in boxes])


def _labels(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=torch.long)


def _floats(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=torch.float32)


def _check_finite(loss: torch.Tensor, stage: str, scaler) -> float:
    value = float(loss.detach())
    # Under a GradScaler an overflow is expected now and then: it skips that step.
    if not math.isfinite(value) and scaler is None:
        raise GlnetError(f"training diverged in stage {stage} (loss is {value}); lower --lr")
    return value


def batch_backward(
    model: GLNet,
    samples: Sequence[TrainSample],
    stage: str,
    options: TrainOptions,
    device: Union[torch.device, str] = "cpu",
    scaler: Optional["torch.amp.GradScaler"] = None,
) -> float:
    """Forward and backward passes of one batch: gradients accumulate, no optimiser step.

    The model must be prepared with :func:`set_trainable` for ``stage``.

    Parameters
    ----------
    model:
        The GLNet, on ``device``.
    samples:
        The batch (:class:`glnet.models.data.TrainSample`).
    stage:
        ``global``, ``g2l`` or ``l2g``.
    options:
        Uses ``gamma``, ``fmreg`` and ``sub_batch``.
    device:
        Where the model is.
    scaler:
        A CUDA ``GradScaler`` for mixed precision (losses are scaled before
        backward and the forward passes run under autocast), or None.

    Returns
    -------
    float
        The mean of the loss terms that were back-propagated (for display;
        the gradient is that of their sum, as published).

    Raises
    ------
    GlnetError
        If the loss is not finite (without a scaler).
    """
    device = torch.device(device)
    amp = scaler is not None and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if amp else contextlib.nullcontext

    def backward(loss: torch.Tensor, **kwargs) -> None:
        (scaler.scale(loss) if amp else loss).backward(**kwargs)

    if stage == "global":
        return _global_step(model, samples, options, device, autocast, backward, scaler)
    if stage == "g2l":
        return _g2l_step(model, samples, options, device, autocast, backward, scaler)
    if stage == "l2g":
        return _l2g_step(model, samples, options, device, autocast, backward, scaler, amp)
    raise ValueError(f"unknown stage {stage!r}")


def _global_step(model, samples, options, device, autocast, backward, scaler) -> float:
    image_g = _floats(np.stack([s.image_g for s in samples]), device)
    labels_g = _labels(np.stack([s.labels_g for s in samples]), device)
    with autocast():
        out = model.forward_global(image_g)
    loss = focal_loss(out.logits, labels_g, options.gamma)
    value = _check_finite(loss, "global", scaler)
    backward(loss)
    return value


def _g2l_step(model, samples, options, device, autocast, backward, scaler) -> float:
    cfg = model.config
    lp = logits_size(cfg.size_p)
    values: List[float] = []
    for s in samples:
        size = tuple(s.window.shape[1:])
        boxes = patch_layout(size[0], size[1], cfg.size_p, cfg.min_overlap)
        window = _floats(s.window[None], device)
        # The frozen stage-1 branch: no graph, eval mode (set by set_trainable).
        with torch.no_grad(), autocast():
            g = model.forward_global(_floats(s.image_g[None], device))
        for chunk in _chunks(boxes, options.sub_batch):
            patches = torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in chunk])
            target = _labels(patch_labels(s.labels, chunk, lp), device)
            with autocast():
                loc = model.forward_local(patches, crop_shared(g.shared, chunk, size))
                crop = crop_boxes(g.ps3, chunk, size)
                agg = model.aggregate(loc.ps3, crop, full=False)
            loss = focal_loss(loc.logits, target, options.gamma) + focal_loss(agg, target, options.gamma)
            if options.fmreg:
                loss = loss + options.fmreg * feature_regularisation(loc.ps3, crop)
            values.append(_check_finite(loss, "g2l", scaler))
            backward(loss)
    return float(np.mean(values))


def _l2g_step(model, samples, options, device, autocast, backward, scaler, amp) -> float:
    cfg = model.config
    lp = logits_size(cfg.size_p)
    # Off the GPU the stored local ps3 would hold ~1 GB per paper-sized
    # window; the published code keeps them on the CPU too.
    store = torch.device("cpu")
    layouts: List[List[Sequence[PatchBox]]] = []
    local_ps3: List[List[torch.Tensor]] = []
    merged: List[SharedFeatures] = []
    with torch.no_grad(), autocast():
        for s in samples:
            size = tuple(s.window.shape[1:])
            boxes = patch_layout(size[0], size[1], cfg.size_p, cfg.min_overlap)
            chunks = list(_chunks(boxes, options.sub_batch))
            window = _floats(s.window[None], device)
            g = model.forward_global(_floats(s.image_g[None], device))
            merger = LocalMerger(g.shared, size, boxes)
            ps3s = []
            for chunk in chunks:
                patches = torch.cat([window[..., b.top : b.bottom, b.left : b.right] for b in chunk])
                loc = model.forward_local(patches, crop_shared(g.shared, chunk, size))
                merger.add(loc.shared, chunk)
                ps3s.append(loc.ps3.to(store))
            layouts.append(chunks)
            local_ps3.append(ps3s)
            merged.append(merger.result())
    merged_batch = SharedFeatures.from_tensors([torch.cat(ts) for ts in zip(*(m.tensors() for m in merged))])
    image_g = _floats(np.stack([s.image_g for s in samples]), device)
    labels_g = _labels(np.stack([s.labels_g for s in samples]), device)
    with autocast():
        l2g = model.forward_l2g(image_g, merged_batch)
    loss_g = focal_loss(l2g.logits, labels_g, options.gamma)
    values = [_check_finite(loss_g, "l2g", scaler)]
    # The aggregation losses need the l2g ps3 of every patch. Back-propagating
    # each through the whole l2g branch (as the published code does, with
    # retain_graph) costs one branch backward per sub-batch; instead their
    # gradient is collected on a detached ps3 and sent through the branch once,
    # together with the global loss. Same gradient, one branch backward.
    ps3 = l2g.ps3.detach().requires_grad_(True)
    for i, s in enumerate(samples):
        size = tuple(s.window.shape[1:])
        for chunk, loc_ps3 in zip(layouts[i], local_ps3[i]):
            target = _labels(patch_labels(s.labels, chunk, lp), device)
            with autocast():
                agg = model.aggregate(loc_ps3.to(device), crop_boxes(ps3[i : i + 1], chunk, size), full=True)
            loss = focal_loss(agg, target, options.gamma)
            values.append(_check_finite(loss, "l2g", scaler))
            backward(loss)
    scaled_g = scaler.scale(loss_g) if amp else loss_g
    if ps3.grad is None:  # pragma: no cover - every window has at least one patch
        scaled_g.backward()
    else:
        torch.autograd.backward([scaled_g, l2g.ps3], [torch.ones_like(scaled_g), ps3.grad.to(l2g.ps3.dtype)])
    return float(np.mean(values))


# ===================================================================== scoring
@dataclass
class Scores:
    """Validation scores from a confusion matrix.

    Attributes
    ----------
    confusion:
        ``(n, n)`` int64, rows = reference class, columns = predicted class;
        pixels labelled nodata (255) or with an ignored class are not counted.
    iou:
        Per-class IoU; None for a class absent from both reference and
        prediction, and for ignored classes.
    miou:
        Mean of the defined per-class IoUs (None when no pixel was scored).
    accuracy:
        Fraction of scored pixels classified correctly (None when none was).
    """

    confusion: np.ndarray
    iou: List[Optional[float]]
    miou: Optional[float]
    accuracy: Optional[float]

    @classmethod
    def from_confusion(cls, confusion: np.ndarray, ignored: Sequence[int] = ()) -> "Scores":
        cm = confusion.astype(np.int64)
        tp = np.diag(cm)
        union = cm.sum(0) + cm.sum(1) - tp
        iou: List[Optional[float]] = []
        for c in range(cm.shape[0]):
            iou.append(None if c in ignored or union[c] == 0 else float(tp[c] / union[c]))
        defined = [v for v in iou if v is not None]
        total = int(cm.sum())
        return cls(
            cm,
            iou,
            float(np.mean(defined)) if defined else None,
            float(tp.sum() / total) if total else None,
        )


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int, ignored: Sequence[int] = ()) -> np.ndarray:
    """``(n, n)`` counts of (reference, predicted) over pixels not nodata and not of an ignored class."""
    valid = labels != NODATA
    for c in ignored:
        valid &= labels != c
    ref = labels[valid].astype(np.int64)
    pred = predicted[valid].astype(np.int64)
    return np.bincount(ref * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_classes(
    model: GLNet, image: np.ndarray, stage: str, normalisation: Normalisation, patch_batch: int = 6
) -> np.ndarray:
    """Class map of one ``(H, W, C)`` window as the model stands after ``stage``.

    ``global``: the global logits' argmax, upsampled (nearest) to the padded
    window and cropped; ``g2l`` / ``l2g``: :func:`glnet.models.inference.predict_window`
    in mode ``g2l`` / ``full``. Puts the model in eval mode.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 class ids.
    """
    model.eval()
    device = _model_device(model)
    mode = VALIDATION_MODE[stage]
    if mode is None:
        prep = prepare_window(image, model.config.size_g, model.config.size_p, normalisation)
        logits = model.forward_global(torch.from_numpy(prep.image_g)[None].to(device)).logits
        up = F.interpolate(logits.float(), size=tuple(prep.window.shape[1:]), mode="nearest")
        h, w = prep.valid
        return up[0, :, :h, :w].argmax(0).to(torch.uint8).cpu().numpy()
    return predict_window(model, image, mode=mode, normalisation=normalisation, patch_batch=patch_batch)[0]


def evaluate(
    model: GLNet,
    pairs: Sequence[SamplePair],
    classes: ClassTable,
    stage: str,
    normalisation: Normalisation,
    patch_batch: int = 6,
    progress: Optional["ProgressBar"] = None,
) -> Scores:
    """Scores of the model after ``stage`` on validation pairs.

    Images larger than ``config.window`` are cut into nearly equal tiles of
    at most ``config.window`` px per side (:func:`glnet.models.data.validation_tiles`),
    each predicted as one window, so every pixel is scored once. Leaves the
    model in eval mode.

    Raises
    ------
    InputError
        If a pair cannot be read.
    """
    cfg = model.config
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    for pair in pairs:
        size = pair_size(pair)
        tiles = validation_tiles(size, cfg.window)
        for box in tiles:
            image, labels = load_pair(pair, classes, cfg.in_channels, box if len(tiles) > 1 else None)
            pred = predict_classes(model, image, stage, normalisation, patch_batch)
            cm += confusion_matrix(labels, pred, n, classes.ignored_ids)
        if progress is not None:
            progress.update()
    return Scores.from_confusion(cm, classes.ignored_ids)


# ===================================================================== progress
# ===================================================================== training
@dataclass
class EpochReport:
    """What one finished epoch did; passed to ``on_epoch_end``."""

    stage: str
    epoch: int  # 1-based
    epochs: int
    loss: float
    lr: float
    val_miou: Optional[float]
    val_accuracy: Optional[float]
    seconds: float
    checkpoint: Optional[Path] = None


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _collate(batch: List) -> List:
    return batch


def _resume_position(state: Dict[str, Any], stages: List[str], options: TrainOptions) -> Tuple[int, int]:
    """``(stage index, epochs done in it)`` to continue from; moves past a finished stage."""
    if state.get("version") != TRAIN_STATE_VERSION:
        raise InputError(f"cannot resume: unsupported training state version {state.get('version')!r}")
    si, done = int(state["stage_index"]), int(state["epochs_done"])
    if si >= len(stages):
        raise InputError("cannot resume: the training state is past its last stage")
    if done >= options.epochs_for(stages[si]):
        return si + 1, 0
    return si, done


def train(
    start: Checkpoint,
    train_pairs: Sequence[SamplePair],
    val_pairs: Sequence[SamplePair],
    options: TrainOptions,
    out: Optional[Union[str, Path]] = None,
    resume: bool = False,
    provenance: Optional[Dict[str, Any]] = None,
    on_epoch_end: Optional[Callable[[EpochReport], None]] = None,
    stream: Optional[TextIO] = None,
) -> Checkpoint:
    """Train a GLNet through the stages of ``options``; write a checkpoint every epoch.

    Parameters
    ----------
    start:
        The model to start from (its classes and normalisation are kept). With
        ``resume``, a checkpoint written by an interrupted run: its
        ``train_state`` says where to continue, and its training options
        replace ``options`` except ``workers``, ``device`` and ``quiet``.
    train_pairs, val_pairs:
        Training and validation pairs (``val_pairs`` may be empty: no scores).
        A resumed run must get the same pairs to reproduce the uninterrupted one.
    options:
        See :class:`TrainOptions`.
    out:
        Checkpoint file rewritten (atomically) after every epoch; None: none.
        Intermediate checkpoints carry the optimiser state (``train_state``)
        for ``resume``; the final one has ``train_state = None``.
    resume:
        Continue ``start.train_state``.
    provenance:
        Extra provenance entries (data path, initial model, ...).
    on_epoch_end:
        Called after each epoch's checkpoint is written.
    stream:
        Progress bar and per-epoch lines (default ``sys.stderr``).

    Returns
    -------
    Checkpoint
        The trained model (on the CPU, eval mode) with classes,
        normalisation and provenance (stages, epochs, per-epoch validation
        mIoU per stage, date).

    Raises
    ------
    InputError
        For invalid options, unreadable data, no labelled training pixel, or
        a ``resume`` without a training state.
    GlnetError
        If training diverges.
    """
    from torch.utils.data import DataLoader

    stream = stream if stream is not None else sys.stderr
    model = start.model
    state: Dict[str, Any] = {}
    if resume:
        if not start.train_state:
            raise InputError("cannot resume: the checkpoint has no training state (its run finished)")
        state = start.train_state
        saved = TrainOptions.from_dict(state["options"])
        for name in TrainOptions.RUNTIME_FIELDS:
            setattr(saved, name, getattr(options, name))
        options = saved
    options.validate()
    if not train_pairs:
        raise InputError("no training pairs")
    stages = options.stages()
    device = resolve_device(options.device)
    use_amp = options.amp and device.type == "cuda"
    model.to(device)
    out = Path(out) if out is not None else None

    history: Dict[str, List[Dict[str, Any]]] = {s: [] for s in stages}
    first_stage, first_epoch = 0, 0
    if resume:
        history.update({k: list(v) for k, v in (state.get("history") or {}).items()})
        first_stage, first_epoch = _resume_position(state, stages, options)

    dataset = TrainingDataset(train_pairs, start.classes, model.config, start.normalisation, options.augment, options.seed)
    for pair in val_pairs:  # fail now, not after the first epoch
        pair_size(pair)
    sampler = EpochSampler(len(dataset), options.seed)
    iters_per_epoch = math.ceil(len(dataset) / options.batch_size)
    show = not options.quiet

    def say(text: str) -> None:
        if show:
            stream.write(text + "\n")
            stream.flush()

    base_provenance = dict(start.provenance if resume else {})
    base_provenance.update(provenance or {})

    def checkpoint(train_state: Optional[Dict[str, Any]]) -> Checkpoint:
        prov = dict(base_provenance)
        prov.update(
            source="train",
            stages=stages,
            epochs={s: options.epochs_for(s) for s in stages},
            val_miou={s: [h["val_miou"] for h in history[s]] for s in stages},
            final_val_miou={s: (history[s][-1]["val_miou"] if history[s] else None) for s in stages},
            date=_now(),
            completed=train_state is None,
            options={k: v for k, v in options.to_dict().items() if k not in TrainOptions.RUNTIME_FIELDS},
        )
        prov.pop("created", None)
        return Checkpoint(model, start.classes, start.normalisation, start.resolution_m, prov, train_state)

    for si in range(first_stage, len(stages)):
        stage = stages[si]
        stage_id = STAGES.index(stage)
        epochs = options.epochs_for(stage)
        base_lr = options.lr_for(stage)
        continuing = resume and si == first_stage and first_epoch > 0
        if stage == "l2g" and not continuing:
            # Entering stage 3 fresh: start from the stage-2 weights as published.
            # (A resumed stage 3 already holds its own weights.)
            model.init_stage3_from_stage2()
        params = set_trainable(model, stage)
        optimizer = torch.optim.Adam(params, lr=base_lr, weight_decay=options.weight_decay)
        scaler = torch.amp.GradScaler("cuda") if use_amp else None
        iteration = 0
        epoch0 = 0
        if continuing:
            optimizer.load_state_dict(state["optimizer"])
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            iteration = int(state["iteration"])
            epoch0 = first_epoch
        max_iteration = epochs * iters_per_epoch
        say(f"stage {stage}: {epochs} epoch{'s' if epochs != 1 else ''} from epoch {epoch0 + 1}, lr {base_lr:g}, {len(dataset)} training images, device {device.type}")

        for epoch in range(epoch0, epochs):
            t0 = time.monotonic()
            sampler.set_epoch(stage_id, epoch)
            loader = DataLoader(
                dataset,
                batch_size=options.batch_size,
                sampler=sampler,
                collate_fn=_collate,
                num_workers=options.workers,
            )
            set_stage_modes(model, stage)
            bar = ProgressBar(iters_per_epoch, f"{stage} {epoch + 1}/{epochs}", stream, enabled=None if show else False)
            losses: List[float] = []
            labelled = 0
            lr = base_lr
            for batch in loader:
                for item in batch:
                    if isinstance(item, BaseException):
                        bar.close()
                        raise item
                labelled += sum(int((s.labels != NODATA).sum()) for s in batch)
                lr = poly_lr(base_lr, iteration, max_iteration)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                try:
                    losses.append(batch_backward(model, batch, stage, options, device, scaler))
                except BaseException:
                    bar.close()
                    raise
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                iteration += 1
                bar.update(info=f"loss {np.mean(losses):.4f}")
            bar.close()
            if labelled == 0:
                raise InputError(
                    f"no training pixel has a class of table {start.classes.name!r} (all masks decode to nodata); check --classes"
                )
            scores = None
            if val_pairs:
                vbar = ProgressBar(len(val_pairs), "validation", stream, enabled=None if show else False)
                scores = evaluate(model, val_pairs, start.classes, stage, start.normalisation, options.sub_batch, vbar)
                vbar.close()
            record = {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)) if losses else None,
                "lr": lr,
                "val_miou": None if scores is None else scores.miou,
                "val_accuracy": None if scores is None else scores.accuracy,
            }
            history[stage].append(record)
            last = si == len(stages) - 1 and epoch == epochs - 1
            train_state = None
            if not last:
                train_state = {
                    "version": TRAIN_STATE_VERSION,
                    "stage_index": si,
                    "stage": stage,
                    "epochs_done": epoch + 1,
                    "iteration": iteration,
                    "optimizer": _to_cpu(optimizer.state_dict()),
                    "scaler": scaler.state_dict() if scaler is not None else None,
                    "seed": options.seed,
                    "options": options.to_dict(),
                    "history": history,
                }
            if out is not None:
                save_checkpoint(checkpoint(train_state), out, overwrite=True)
            seconds = time.monotonic() - t0
            val_text = "no validation" if scores is None else (
                f"val mIoU {scores.miou:.4f}, accuracy {scores.accuracy:.4f}" if scores.miou is not None else "val: no scored pixel"
            )
            say(f"{stage} epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}, {val_text}, lr {lr:.3g}, {seconds:.1f} s")
            if on_epoch_end is not None:
                on_epoch_end(
                    EpochReport(stage, epoch + 1, epochs, record["loss"], lr, record["val_miou"], record["val_accuracy"], seconds, out)
                )
        # A later stage may start from this one's weights; leave nothing half-set.
        set_stage_modes(model, stage)

    model.requires_grad_(True)
    model.eval()
    model.to("cpu")
    return checkpoint(None)
