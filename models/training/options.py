"""The options of a training run (the published recipe by default) and the stages they name.

Torch-free: the command line builds and checks options without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ...glnet_core.errors import InputError
from ...glnet_core.formats.input_rules import checked_bands, checked_range
from ...glnet_core.option_rules import (
    BATCH_SIZE,
    EPOCHS,
    FMREG,
    GAMMA,
    LEARNING_RATE,
    SEED,
    SUB_BATCH,
    WEIGHT_DECAY,
    WORKERS,
)
from ...glnet_core.training_plan import PUBLISHED_EPOCHS, PUBLISHED_LR, STAGE_CHOICES, STAGES

if TYPE_CHECKING:
    from ..data.images import ImageReading

__all__ = ["STAGES", "STAGE_CHOICES", "PUBLISHED_EPOCHS", "PUBLISHED_LR", "TrainOptions"]



@dataclass(frozen=True)
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
    bands:
        1-based image bands fed to the model, in model order (``--bands``, as
        for ``glnet segment``); None: the default band choice.
    input_range:
        ``(lo, hi)`` mapped to 0..255 for 16-bit / float images
        (``--input-range``, as for ``glnet segment``); None: each image's 2nd
        and 98th percentiles.
    freeze_backbone:
        The ResNet backbones of the parts each stage trains stay as they
        start (``requires_grad`` off, BatchNorm statistics frozen in eval
        mode); only the FPNs, classifiers and aggregation convs learn. For
        small label sets on a pretrained model (``--freeze-backbone``).
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
    bands: Optional[Tuple[int, ...]] = None
    input_range: Optional[Tuple[float, float]] = None
    freeze_backbone: bool = False

    #: Fields that change how a run computes, not what it computes; a resumed
    #: run takes these from the command line and everything else from the
    #: checkpoint.
    RUNTIME_FIELDS = ("workers", "device", "quiet")

    def image_reading(self) -> "ImageReading":
        """How this run reads its images: the same reading ``glnet segment`` does with these options."""
        from ..data.images import ImageReading  # the raster readers, only where images are read

        return ImageReading(self.bands, self.input_range)

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
        """Check every option by its rule in :mod:`glnet_core.option_rules` (as the command line does).

        Raises
        ------
        InputError
            Naming the first invalid option (``--lr: must be more than 0, got 0``).
        """
        if self.stage not in STAGE_CHOICES:
            raise InputError(f"unknown stage {self.stage!r}; choose one of {', '.join(STAGE_CHOICES)}")
        for values, rule in ((self.epochs, EPOCHS), (self.lr, LEARNING_RATE)):
            # Each value by the command line's rule; one value, or one per stage (checked just below).
            for value in values or ():
                rule.check(value)
        for stage in self.stages():
            self.epochs_for(stage)
            self.lr_for(stage)
        # The command line's rules (glnet_core.option_rules): the same bounds for library callers.
        for name, rule in (("batch_size", BATCH_SIZE), ("sub_batch", SUB_BATCH), ("weight_decay", WEIGHT_DECAY),
                           ("fmreg", FMREG), ("gamma", GAMMA), ("seed", SEED), ("workers", WORKERS)):
            rule.check(getattr(self, name))
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"--device: must be auto, cpu or cuda, got {self.device!r}")
        if self.bands is not None:
            checked_bands(self.bands, option="--bands")
        if self.input_range is not None:
            checked_range(self.input_range, option="--input-range")
        if not isinstance(self.freeze_backbone, bool):
            raise InputError(f"--freeze-backbone: must be true or false, got {self.freeze_backbone!r}")

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dictionary (tuples as lists)."""
        d = asdict(self)
        d["epochs"] = None if self.epochs is None else [int(v) for v in self.epochs]
        d["lr"] = None if self.lr is None else [float(v) for v in self.lr]
        d["bands"] = None if self.bands is None else [int(v) for v in self.bands]
        d["input_range"] = None if self.input_range is None else [float(v) for v in self.input_range]
        return d

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TrainOptions":
        """Options from :meth:`to_dict`'s dictionary; unknown keys are ignored, missing ones get the defaults."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("epochs", "lr", "bands", "input_range"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)
