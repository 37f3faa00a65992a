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
public interface.
"""

from ...glnet_core.progress_bar import ProgressBar
from .loop import TRAIN_STATE_VERSION, EpochReport, train
from .options import PUBLISHED_EPOCHS, PUBLISHED_LR, STAGE_CHOICES, STAGES, TrainOptions
from .stages import TRAINED_PARTS, VALIDATION_MODE, poly_lr, resolve_device, set_stage_modes, set_trainable
from .steps import batch_backward, patch_labels
from .validation import Scores, confusion_matrix, evaluate, predict_classes

__all__ = [
    "STAGES",
    "STAGE_CHOICES",
    "PUBLISHED_EPOCHS",
    "PUBLISHED_LR",
    "TRAINED_PARTS",
    "VALIDATION_MODE",
    "TRAIN_STATE_VERSION",
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
