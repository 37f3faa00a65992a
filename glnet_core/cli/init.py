"""``glnet init-model``: write a randomly initialised GLNet checkpoint.

The checkpoint is a starting point for ``glnet train`` and a stand-in model
for testing the export and inference paths before any training has been done.
The weights are drawn after ``torch.manual_seed(seed)``, so the same seed,
configuration and class count give identical weights (with the same torch
build).

This module imports torch only inside :func:`run`, so that ``glnet --help``
works without the training extras.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...models.config import CONFIGS
from ..errors import CheckpointError
from ..formats.output_plan import InputSource, OutputTarget, check_outputs, spec_sources
from ..option_rules import RESOLUTION, SEED
from .input_options import class_table_spec, input_path

__all__ = ["DESCRIPTION", "add_arguments", "run"]

DESCRIPTION = """\
Write a GLNet checkpoint with random weights: the architecture of a named
configuration, the classes of a class table, and provenance that records the
seed. The same seed gives identical weights. --backbone-weights starts every
branch's ResNet from ImageNet weights instead (a file in torchvision's layout
that you download yourself; glnet never downloads anything).

configurations:
  paper     ResNet-50 FPN, 508 px global image and patches, 2448 px windows
            (the published DeepGlobe model; takes resnet50-*.pth)
  lite      half-width ResNet-18, 256 px, 1024 px windows (CPU-trainable)
  resnet18  torchvision's ResNet-18 with a narrow FPN, 256 px, 1024 px windows
            (CPU-trainable; takes resnet18-*.pth)
  tiny      minimal network for tests, 128 px, 512 px windows

examples:
  glnet init-model --config lite --classes deepglobe --seed 1 --out lite.ckpt
  glnet init-model --config resnet18 --backbone-weights resnet18-f37072fd.pth --out r18.ckpt"""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet init-model``.

    Parameters
    ----------
    parser:
        The sub-command's parser.
    """
    parser.add_argument(
        "--config",
        required=True,
        choices=list(CONFIGS),
        help="network configuration: %(choices)s (see above)",
    )
    parser.add_argument(
        "--classes",
        type=class_table_spec,
        default="deepglobe",
        metavar="CLASSES",
        help=(
            "class table: a preset (deepglobe, inria), a number N of classes "
            "(named class_0 .. class_N-1), or a JSON class table file (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--seed",
        type=SEED,  # 0 .. 2**63 - 1: means the same to torch, numpy and Python's random
        default=0,
        metavar="S",
        help="random seed of the initial weights; equal seeds give equal weights (default: %(default)s)",
    )
    parser.add_argument(
        "--backbone-weights",
        type=input_path,
        default=None,
        metavar="FILE",
        help=(
            "load a ResNet state dict in torchvision's layout into the backbone of every branch, e.g. "
            "resnet50-11ad3fa6.pth (--config paper) or resnet18-f37072fd.pth (--config resnet18) from "
            "https://download.pytorch.org/models/ ; downloaded by you, glnet never downloads (default: random weights)"
        ),
    )
    parser.add_argument(
        "--out", required=True, metavar="CKPT", help="checkpoint file to write; its folder must exist"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace CKPT if it exists (otherwise refuse)")
    parser.add_argument(
        "--resolution",
        type=RESOLUTION,
        default=None,
        metavar="M",
        help=(
            "ground resolution in metres per pixel that the model is meant for, stored in the "
            "checkpoint (default: unset)"
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Build the model, save the checkpoint and print a one-line summary.

    Parameters
    ----------
    args:
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0.

    Raises
    ------
    CheckpointError
        For an output path that cannot be used or is an input (see
        :func:`~glnet.glnet_core.formats.output_plan.check_outputs`), or
        backbone weights that cannot be read or do not fit the configuration
        (:func:`~glnet.models.backbone_weights.load_backbone_weights`).
    OutputWriteError
        If writing the checkpoint fails (a full disk).
    ClassTableError
        If ``--classes`` is not a valid class table.
    """
    from ..formats.classes import load_class_table

    # Cheap checks first: a bad path or class table fails before torch loads.
    out = Path(args.out)
    backbone = getattr(args, "backbone_weights", None)
    read = [InputSource(Path(backbone), "the backbone weights (--backbone-weights)")] if backbone else []
    check_outputs([OutputTarget(out, "--out")], [*read, *spec_sources(args.classes, "the class table (--classes)")],
                  overwrite=args.overwrite, error=CheckpointError)
    classes = load_class_table(args.classes)

    # Heavy imports here, not at module level (see the module docstring).
    import torch

    from ... import __version__
    from ...models.backbone_weights import load_backbone_weights
    from ...models.checkpoint import Checkpoint, save_checkpoint
    from ...models.config import get_config
    from ...models.glnet import GLNet
    from ...models.lineage import lineage_entry

    config = get_config(args.config)
    torch.manual_seed(args.seed)
    model = GLNet(config, len(classes))
    model.eval()
    # The backbone file is checked against the configuration before anything is written.
    loaded = load_backbone_weights(model, backbone) if backbone else None
    provenance = {
        "source": "init-model",
        "seed": int(args.seed),
        "config": config.name,
        "classes": classes.name,
        "glnet_version": __version__,
        "torch_version": str(torch.__version__),
        "lineage": [lineage_entry("backbone", loaded.file, loaded.sha256)] if loaded else [],
    }
    ckpt = Checkpoint(model=model, classes=classes, resolution_m=args.resolution, provenance=provenance)
    save_checkpoint(ckpt, out, overwrite=args.overwrite, option="--out")
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {out}: config {config.name}, {len(classes)} classes ({classes.name}), "
        f"{n_params / 1e6:.2f} M parameters, seed {args.seed}"
        + (f"; backbone weights {loaded.summary()}" if loaded else "")
    )
    return 0
