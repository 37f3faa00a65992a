"""The training loop: stages, epochs, a checkpoint after every epoch, and resuming an interrupted run.

:func:`train` runs the stages of :class:`.options.TrainOptions` in order
(:mod:`.stages`), each epoch a pass over the training pairs in an order fixed
by the seed (:class:`glnet.models.data.EpochSampler`), one optimiser step per
batch (:func:`.steps.batch_backward`), then validation (:func:`.validation.evaluate`)
and a checkpoint. Intermediate checkpoints carry the optimiser state
(``train_state``) so that ``resume`` continues exactly where the run stopped.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple, Union, cast

import numpy as np
import torch

from ...glnet_core.errors import InputError
from ...glnet_core.formats.classes import NODATA
from ...glnet_core.progress_bar import ProgressBar
from ..checkpoint import Checkpoint, save_checkpoint
from ..data import EpochSampler, SamplePair, TrainingDataset, pair_size
from .options import STAGES, TrainOptions
from .stages import poly_lr, resolve_device, set_stage_modes, set_trainable
from .steps import batch_backward
from .validation import Scores, evaluate

__all__ = ["TRAIN_STATE_VERSION", "EpochReport", "train"]

TRAIN_STATE_VERSION = 1


@dataclass(frozen=True)
class EpochReport:
    """What one finished epoch did; passed to ``on_epoch_end``."""

    stage: str
    epoch: int  # 1-based
    epochs: int
    loss: Optional[float]
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


def _resumed_options(start: Checkpoint, options: TrainOptions) -> Tuple[TrainOptions, Dict[str, Any]]:
    """The options and training state of the run saved in ``start``; runtime fields come from ``options``."""
    if not start.train_state:
        raise InputError("cannot resume: the checkpoint has no training state (its run finished)")
    state = start.train_state
    saved = TrainOptions.from_dict(state["options"])
    return replace(saved, **{name: getattr(options, name) for name in TrainOptions.RUNTIME_FIELDS}), state


class _Run:
    """What the stages of one run share: model, data, options, history, output and reporting."""

    def __init__(
        self,
        start: Checkpoint,
        options: TrainOptions,
        device: torch.device,
        train_pairs: Sequence[SamplePair],
        val_pairs: Sequence[SamplePair],
        out: Optional[Path],
        provenance: Dict[str, Any],
        history: Dict[str, List[Dict[str, Any]]],
        on_epoch_end: Optional[Callable[[EpochReport], None]],
        stream: TextIO,
    ) -> None:
        self.start = start
        self.model = start.model
        self.options = options
        self.stages = options.stages()
        self.device = device
        self.use_amp = options.amp and device.type == "cuda"
        self.reading = options.image_reading()
        self.dataset = TrainingDataset(
            train_pairs, start.classes, self.model.config, start.normalisation, options.augment, options.seed, self.reading
        )
        self.val_sizes = [pair_size(pair) for pair in val_pairs]  # fail now, not after the first epoch
        self.val_pairs = list(val_pairs)
        self.sampler = EpochSampler(len(self.dataset), options.seed)
        self.iters_per_epoch = math.ceil(len(self.dataset) / options.batch_size)
        self.out = out
        self.provenance = provenance
        self.history = history
        self.on_epoch_end = on_epoch_end
        self.stream = stream
        self.show = not options.quiet

    def say(self, text: str) -> None:
        """One line on the stream, unless quiet."""
        if self.show:
            self.stream.write(text + "\n")
            self.stream.flush()

    def bar(self, total: int, label: str) -> ProgressBar:
        """A progress bar on the stream (never drawn when quiet)."""
        return ProgressBar(total, label, self.stream, enabled=None if self.show else False)

    def checkpoint(self, train_state: Optional[Dict[str, Any]]) -> Checkpoint:
        """The model as it stands, with its provenance (and ``train_state`` for a resumable one)."""
        stages, history, options = self.stages, self.history, self.options
        prov = dict(self.provenance)
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
        start = self.start
        return Checkpoint(self.model, start.classes, start.normalisation, start.resolution_m, prov, train_state)


@dataclass
class _Optimiser:
    """The optimiser of one stage, its gradient scaler and schedule position."""

    optimizer: torch.optim.Optimizer
    scaler: Optional["torch.amp.GradScaler"]
    base_lr: float
    iteration: int
    max_iteration: int


def _stage_optimiser(run: _Run, stage: str, resumed: Optional[Dict[str, Any]]) -> _Optimiser:
    """Freeze what ``stage`` does not train and make its optimiser (restored from ``resumed`` when given)."""
    options = run.options
    params = set_trainable(run.model, stage, options.freeze_backbone)
    base_lr = options.lr_for(stage)
    optimizer = torch.optim.Adam(params, lr=base_lr, weight_decay=options.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if run.use_amp else None
    iteration = 0
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
        if scaler is not None and resumed.get("scaler"):
            scaler.load_state_dict(resumed["scaler"])
        iteration = int(resumed["iteration"])
    return _Optimiser(optimizer, scaler, base_lr, iteration, options.epochs_for(stage) * run.iters_per_epoch)


def _train_epoch(run: _Run, stage: str, epoch: int, epochs: int, opt: _Optimiser) -> Tuple[List[float], float]:
    """One pass over the training pairs; returns the batch losses and the last learning rate.

    Raises
    ------
    InputError
        If a sample cannot be read, or no training pixel has a class.
    """
    from torch.utils.data import DataLoader

    options = run.options
    run.sampler.set_epoch(STAGES.index(stage), epoch)
    # TrainingDataset is a map-style dataset by protocol (torch-free), not a torch Dataset subclass.
    loader: Iterable[List[Any]] = DataLoader(
        cast(Any, run.dataset),
        batch_size=options.batch_size,
        sampler=run.sampler,
        collate_fn=_collate,
        num_workers=options.workers,
    )
    set_stage_modes(run.model, stage)
    bar = run.bar(run.iters_per_epoch, f"{stage} {epoch + 1}/{epochs}")
    losses: List[float] = []
    labelled = 0
    lr = opt.base_lr
    try:
        for batch in loader:
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
            labelled += sum(int((s.labels != NODATA).sum()) for s in batch)
            lr = poly_lr(opt.base_lr, opt.iteration, opt.max_iteration)
            for group in opt.optimizer.param_groups:
                group["lr"] = lr
            opt.optimizer.zero_grad(set_to_none=True)
            losses.append(batch_backward(run.model, batch, stage, options, run.device, opt.scaler))
            if opt.scaler is not None:
                opt.scaler.step(opt.optimizer)
                opt.scaler.update()
            else:
                opt.optimizer.step()
            opt.iteration += 1
            bar.update(info=f"loss {np.mean(losses):.4f}")
    finally:
        bar.close()
    if labelled == 0:
        raise InputError(
            f"no training pixel has a class of table {run.start.classes.name!r} (all masks decode to nodata); check --classes"
        )
    return losses, lr


def _validate(run: _Run, stage: str) -> Optional[Scores]:
    """Scores on the validation pairs, or None without any."""
    if not run.val_pairs:
        return None
    vbar = run.bar(len(run.val_pairs), "validation")
    try:
        return evaluate(
            run.model, run.val_pairs, run.start.classes, stage, run.start.normalisation, run.options.sub_batch, vbar, run.reading,
            sizes=run.val_sizes,
        )
    finally:
        vbar.close()


def _train_state(run: _Run, si: int, stage: str, epoch: int, opt: _Optimiser) -> Dict[str, Any]:
    """What ``resume`` needs to continue after ``epoch`` of stage ``si``."""
    return {
        "version": TRAIN_STATE_VERSION,
        "stage_index": si,
        "stage": stage,
        "epochs_done": epoch + 1,
        "iteration": opt.iteration,
        "optimizer": _to_cpu(opt.optimizer.state_dict()),
        "scaler": opt.scaler.state_dict() if opt.scaler is not None else None,
        "seed": run.options.seed,
        "options": run.options.to_dict(),
        "history": run.history,
    }


def _train_stage(run: _Run, si: int, resumed: Optional[Dict[str, Any]], first_epoch: int) -> None:
    """Train stage ``si`` from epoch ``first_epoch`` (``resumed``: the saved state to continue, or None)."""
    stage = run.stages[si]
    epochs = run.options.epochs_for(stage)
    if stage == "l2g" and resumed is None:
        # Entering stage 3 fresh: start from the stage-2 weights as published.
        # (A resumed stage 3 already holds its own weights.)
        run.model.init_stage3_from_stage2()
    opt = _stage_optimiser(run, stage, resumed)
    run.say(
        f"stage {stage}: {epochs} epoch{'s' if epochs != 1 else ''} from epoch {first_epoch + 1}, lr {opt.base_lr:g}, "
        f"{len(run.dataset)} training windows per epoch, device {run.device.type}"
    )
    for epoch in range(first_epoch, epochs):
        t0 = time.monotonic()
        losses, lr = _train_epoch(run, stage, epoch, epochs, opt)
        scores = _validate(run, stage)
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)) if losses else None,
            "lr": lr,
            "val_miou": None if scores is None else scores.miou,
            "val_accuracy": None if scores is None else scores.accuracy,
        }
        run.history[stage].append(record)
        last = si == len(run.stages) - 1 and epoch == epochs - 1
        train_state = None if last else _train_state(run, si, stage, epoch, opt)
        if run.out is not None:
            save_checkpoint(run.checkpoint(train_state), run.out, overwrite=True)
        seconds = time.monotonic() - t0
        val_text = "no validation" if scores is None else (
            f"val mIoU {scores.miou:.4f}, accuracy {scores.accuracy:.4f}" if scores.miou is not None else "val: no scored pixel"
        )
        run.say(f"{stage} epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}, {val_text}, lr {lr:.3g}, {seconds:.1f} s")
        if run.on_epoch_end is not None:
            run.on_epoch_end(
                EpochReport(stage, epoch + 1, epochs, record["loss"], lr, record["val_miou"], record["val_accuracy"], seconds, run.out)
            )
    # A later stage may start from this one's weights; leave nothing half-set.
    set_stage_modes(run.model, stage)


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
        See :class:`.options.TrainOptions`.
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
    state: Dict[str, Any] = {}
    if resume:
        options, state = _resumed_options(start, options)
    options.validate()
    if not train_pairs:
        raise InputError("no training pairs")
    stages = options.stages()
    device = resolve_device(options.device)
    model = start.model
    model.to(device)

    history: Dict[str, List[Dict[str, Any]]] = {s: [] for s in stages}
    first_stage, first_epoch = 0, 0
    if resume:
        history.update({k: list(v) for k, v in (state.get("history") or {}).items()})
        first_stage, first_epoch = _resume_position(state, stages, options)
    base_provenance = dict(start.provenance if resume else {})
    base_provenance.update(provenance or {})
    run = _Run(
        start, options, device, train_pairs, val_pairs, Path(out) if out is not None else None, base_provenance, history,
        on_epoch_end, stream if stream is not None else sys.stderr,
    )
    for si in range(first_stage, len(stages)):
        continuing = resume and si == first_stage and first_epoch > 0
        _train_stage(run, si, state if continuing else None, first_epoch if continuing else 0)

    model.requires_grad_(True)
    model.eval()
    model.to("cpu")
    return run.checkpoint(None)
