"""Three-stage GLNet training, as published (Chen et al., CVPR 2019).

One module per concept:

- :mod:`.options`: the options of a run (the published recipe by default);
- :mod:`.stages`: what each stage trains and freezes, the learning-rate
  schedule, the device;
- :mod:`.steps`: one batch's forward and backward passes, per stage;
- :mod:`.validation`: the model's classes on validation pairs and their
  scores (:mod:`glnet.glnet_core.products.metrics`, as ``glnet evaluate``);
- :mod:`.loop`: :func:`train`, the epochs, checkpoints and resuming.

:mod:`glnet.glnet_core.cli.train` is the command line. The building blocks
(:func:`set_trainable`, :func:`batch_backward`, :func:`evaluate`) are public
so tests and notebooks can drive a single step. The names below are the
public interface; those that need torch are imported on first use, so the
options (``from glnet.models.training import TrainOptions``) do not import
torch.
"""

from typing import TYPE_CHECKING

from ...glnet_core.progress_bar import ProgressBar
from ..lazy_exports import lazy_exports
from .options import PUBLISHED_EPOCHS, PUBLISHED_LR, STAGE_CHOICES, STAGES, TrainOptions

if TYPE_CHECKING:
    from .loop import EpochReport, train
    from .stages import TRAINED_PARTS, poly_lr, resolve_device, set_stage_modes, set_trainable
    from .steps import batch_backward, patch_labels
    from .validation import Scores, confusion_matrix, evaluate, predict_classes

# The names that need torch, by module: imported on first use, so that the
# options (and the command line that builds them) do not import torch.
_LAZY = {
    "EpochReport": "loop",
    "train": "loop",
    "TRAINED_PARTS": "stages",
    "poly_lr": "stages",
    "resolve_device": "stages",
    "set_stage_modes": "stages",
    "set_trainable": "stages",
    "batch_backward": "steps",
    "patch_labels": "steps",
    "Scores": "validation",
    "confusion_matrix": "validation",
    "evaluate": "validation",
    "predict_classes": "validation",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


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
    "confusion_matrix",
    "predict_classes",
    "evaluate",
    "train",
]
