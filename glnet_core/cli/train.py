"""The ``glnet train`` command: arguments and the run.

The command line registers it with::

    from glnet.glnet_core.cli import train as train_command
    sub = subparsers.add_parser("train", help=train_command.HELP, description=train_command.DESCRIPTION)
    train_command.add_arguments(sub)
    ...
    return train_command.run(args)

This module imports neither torch nor the model at import time (only inside
:func:`run`), so ``glnet --help`` works without torch installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ...models.config import CONFIGS
from ..engine.runtime import DEVICES
from ..engine.tiling import check_window_patches
from ..errors import InputError
from ..formats.output_plan import InputSource, OutputTarget, check_outputs, spec_sources
from ..formats.outputs import check_file_target
from ..option_rules import (
    BATCH_SIZE,
    EPOCHS,
    FMREG,
    GAMMA,
    LEARNING_RATE,
    SEED,
    SUB_BATCH,
    VAL_FRACTION,
    WEIGHT_DECAY,
    WINDOW,
    WORKERS,
)
from ..training_plan import STAGE_CHOICES
from .input_options import BANDS_HELP, INPUT_RANGE_HELP, class_table_spec, input_path, parse_bands, parse_input_range

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "train a GLNet (the three published stages) on image/mask pairs"

DESCRIPTION = """\
Train a GLNet in the three published stages:
  global  the global branch on downsampled windows;
  g2l     the local branch and the aggregation, global branch frozen;
  l2g     the local-to-global branch and its aggregation, global and local
          branches frozen;
  all     the three in order (the default).

Defaults are the published recipe: focal loss (gamma 3), Adam with weight
decay 5e-4, poly learning-rate schedule, 120 / 50 / 120 epochs, lr 5e-5 /
2e-5 / 5e-5, 6 images per batch, 6 patches per sub-batch.

Training data comes in one of two forms:
  --data DIR      image/mask pairs in a folder. Each image is one window; an
                  image larger than the configuration's window (2448 px for
                  'paper', 1024 for 'lite' and 'resnet18', 512 for 'tiny', or
                  --window) is cut to a random window-sized crop, a new one
                  every epoch.
  --images ... --labels ...
                  large images (orthophotos) and their labels: a polygon layer
                  in any CRS (--label-field names the class field) or one mask
                  per image. Each image is read as glnet segment reads it (at
                  the model's resolution when it states one) and cut into
                  areas of at most one window; every area the labels reach
                  gives one random window around it per epoch, read window by
                  window (never a whole image in memory). A --val-fraction of
                  the areas is held out for validation: their labels never
                  reach the loss.

The checkpoint --out is rewritten after every epoch, so an interrupted run
continues with --resume.

example (an orthophoto and a land-use GeoPackage):
  glnet train --images ortho.tif --labels landuse.gpkg --label-field landuse \\
      --classes from-field --background other --config resnet18 --out mine.ckpt"""

CONFIG_CHOICES = tuple(CONFIGS)
LAYOUT_CHOICES = ("auto", "deepglobe", "inria", "pairs")

#: Options that fix what a run computes; a resumed run takes them from the checkpoint.
_TRAINING_OPTIONS = (
    ("stage", "--stage"),
    ("epochs", "--epochs"),
    ("lr", "--lr"),
    ("batch_size", "--batch-size"),
    ("sub_batch", "--sub-batch"),
    ("weight_decay", "--weight-decay"),
    ("fmreg", "--fmreg"),
    ("gamma", "--gamma"),
    ("seed", "--seed"),
    ("no_augment", "--no-augment"),
    ("no_amp", "--no-amp"),
    ("bands", "--bands"),
    ("input_range", "--input-range"),
    ("freeze_backbone", "--freeze-backbone"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``glnet train`` options to ``parser`` (every option has a help text)."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        type=input_path,
        metavar="DIR",
        help="training data folder: NNN_sat.jpg + NNN_mask.png (deepglobe), images/ + gt/ (inria), or "
        "images/X.(tif|png|jpg) + masks/X.(tif|png). Each image is one training window; images larger than "
        "the configuration's window are cut to a random window-sized crop every epoch. Or use --images and --labels",
    )
    data.add_argument(
        "--images",
        type=input_path,
        nargs="+",
        metavar="IMAGE",
        help="instead of --data: large images (orthophotos; anything glnet segment reads) labelled by --labels. "
        "Each image is cut into areas of at most one window; areas the labels reach are trained on, a random "
        "window around each area every epoch, and a --val-fraction of them is held out for validation",
    )
    data.add_argument(
        "--labels",
        type=input_path,
        nargs="+",
        metavar="LABELS",
        help="with --images: one polygon layer (GeoPackage, shapefile, GeoJSON, ...; any CRS, reprojected to each "
        "image) with a class field (--label-field), rasterized window by window (pixel centres; where polygons "
        "overlap, the later feature wins); or one class mask per image, each the size of its image",
    )
    data.add_argument("--label-layer", metavar="NAME", help="the layer of a multi-layer --labels file (default: the first)")
    data.add_argument(
        "--label-field",
        metavar="FIELD",
        help="the class field of --labels polygons: class names of --classes, or class ids when the field is an integer",
    )
    data.add_argument(
        "--background",
        metavar="CLASS",
        help="the class (name or id) of pixels outside every polygon; default: they are not labelled and the loss "
        "ignores them",
    )
    data.add_argument(
        "--val",
        type=input_path,
        metavar="DIR",
        help="validation data folder (same layouts); without it a deterministic --val-fraction of --data is held out",
    )
    data.add_argument(
        "--val-fraction",
        type=VAL_FRACTION,
        default=None,
        metavar="F",
        help="fraction of --data held out for validation when --val is not given, or of the labelled areas of "
        "--images (default 0.1; 0: no validation)",
    )
    data.add_argument(
        "--classes",
        type=class_table_spec,
        metavar="SPEC",
        help="class table: deepglobe, inria, a class count N, a TABLE.json, or from-field (with --labels polygons: "
        "one class per distinct value of --label-field) (default: the --init checkpoint's classes, or the preset of a "
        "deepglobe / inria layout)",
    )
    data.add_argument(
        "--bands",
        type=parse_bands,
        default=None,
        metavar="1,2,3",
        help=f"{BANDS_HELP}. Images are read exactly as glnet segment reads its input: give segment the same "
        "--bands and --input-range",
    )
    data.add_argument(
        "--input-range",
        type=parse_input_range,
        default=None,
        metavar="MIN,MAX",
        help=f"{INPUT_RANGE_HELP}; the percentiles are each image's own, so a fixed range trains and serves alike",
    )
    data.add_argument(
        "--layout",
        choices=LAYOUT_CHOICES,
        default=None,
        help="folder layout of --data and --val (default auto: detected from the folder)",
    )

    model = parser.add_argument_group("model")
    start = model.add_mutually_exclusive_group()
    start.add_argument(
        "--init",
        type=input_path,
        metavar="CKPT",
        help="start from this glnet checkpoint (e.g. from `glnet init-model`, or a previous stage's --out); with "
        "--classes other than its classes it is fine-tuned: every weight is kept but the classifiers and aggregation "
        "convs, which start afresh",
    )
    start.add_argument(
        "--config",
        choices=CONFIG_CHOICES,
        help="start from random weights of this configuration (tiny: tests; lite, resnet18: CPU-sized; paper: published)",
    )
    model.add_argument(
        "--backbone-weights",
        type=input_path,
        default=None,
        metavar="FILE",
        help="with --config: start every branch's ResNet from this state dict in torchvision's layout, e.g. "
        "resnet50-11ad3fa6.pth (--config paper) or resnet18-f37072fd.pth (--config resnet18) from "
        "https://download.pytorch.org/models/ ; downloaded by you, glnet never downloads",
    )
    model.add_argument(
        "--window",
        type=WINDOW,
        default=None,
        metavar="PX",
        help="with --config: the side of the window the global branch sees, instead of the configuration's "
        "(paper 2448, lite 1024, tiny 512); stored in the checkpoint and used by export and segment. "
        "--window equal to the patch size (256 for lite) gives a context-free single-branch model",
    )
    model.add_argument(
        "--out",
        required=True,
        metavar="CKPT",
        help="output checkpoint (config, classes, weights, provenance), rewritten after every epoch",
    )
    model.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    model.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run saved in --out (stage, epoch, optimiser, schedule and seeds come from "
        "it, so the result equals an uninterrupted run); training options may not be given again",
    )

    training = parser.add_argument_group("training (defaults: the published recipe)")
    training.add_argument(
        "--stage",
        choices=STAGE_CHOICES,
        default=None,
        help="stage(s) to train: global, g2l (global-to-local), l2g (local-to-global) or all three in order "
        "(default all)",
    )
    training.add_argument(
        "--epochs",
        type=EPOCHS.list_type((1, 3)),
        default=None,
        metavar="N[,N,N]",
        help="epochs per stage: one value for every stage, or three for global,g2l,l2g with --stage all "
        "(default 120,50,120)",
    )
    training.add_argument(
        "--lr",
        type=LEARNING_RATE.list_type((1, 3)),
        default=None,
        metavar="X[,X,X]",
        help="base learning rate (Adam, poly schedule lr*(1-iter/max_iter)^0.9): one value, or three for "
        "global,g2l,l2g (default 5e-5,2e-5,5e-5)",
    )
    training.add_argument("--batch-size", type=BATCH_SIZE, default=None, metavar="N", help="images per optimiser step (default 6)")
    training.add_argument(
        "--sub-batch", type=SUB_BATCH, default=None, metavar="N", help="patches per local-branch pass, also in validation (default 6)"
    )
    training.add_argument("--weight-decay", type=WEIGHT_DECAY, default=None, metavar="X", help="Adam weight decay (default 5e-4)")
    training.add_argument(
        "--fmreg",
        type=FMREG,
        default=None,
        metavar="X",
        help="weight of the stage-2 feature-map regularisation MSE(local ps3, global ps3) (default 0.15)",
    )
    training.add_argument("--gamma", type=GAMMA, default=None, metavar="X", help="focal loss exponent (default 3)")
    training.add_argument(
        "--seed", type=SEED, default=None, metavar="N", help="seed of initialisation, crops, augmentation and order (default 0)"
    )
    training.add_argument(
        "--no-augment",
        action="store_true",
        default=None,
        help="no random flips / 90-degree rotations of the training windows",
    )
    training.add_argument(
        "--no-amp", action="store_true", default=None, help="no mixed precision on CUDA (full float32)"
    )
    training.add_argument(
        "--freeze-backbone",
        action="store_true",
        default=None,
        help="keep the ResNet backbones as they start (weights and BatchNorm statistics) in every stage; only the "
        "FPNs, classifiers and aggregation learn. For small label sets on a pretrained model (--init, --backbone-weights)",
    )

    run_group = parser.add_argument_group("running")
    run_group.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where to train: auto (CUDA with mixed precision when available, else CPU), cpu or cuda",
    )
    run_group.add_argument(
        "--workers", type=WORKERS, default=0, metavar="N", help="data loading processes (default 0: in the main process)"
    )
    run_group.add_argument(
        "--quiet", action="store_true", help="no progress bar and no per-epoch lines (errors still print)"
    )


def _config_with_window(config, window: Optional[int]):
    """``config`` with its window side replaced by ``window`` (None: unchanged).

    Raises
    ------
    InputError
        If ``window`` is smaller than the configuration's patch or global
        image size (such a window would only be padded up to a patch), or
        needs more patches than a window may have.
    """
    if window is None:
        return config
    smallest = max(config.size_p, config.size_g)
    if window < smallest:
        raise InputError(f"--window {window} is smaller than the {config.name} patch size ({smallest} px); use at least {smallest}")
    check_window_patches(int(window), config.size_p, config.min_overlap)
    return dataclasses.replace(config, window=int(window))


def _given(args: argparse.Namespace, name: str) -> bool:
    return getattr(args, name, None) is not None


def _options(args: argparse.Namespace):
    from ...models.training import TrainOptions

    defaults = TrainOptions()
    pick = lambda name, default: getattr(args, name) if _given(args, name) else default  # noqa: E731
    return TrainOptions(
        stage=pick("stage", defaults.stage),
        epochs=pick("epochs", None),
        lr=pick("lr", None),
        batch_size=pick("batch_size", defaults.batch_size),
        sub_batch=pick("sub_batch", defaults.sub_batch),
        weight_decay=pick("weight_decay", defaults.weight_decay),
        fmreg=pick("fmreg", defaults.fmreg),
        gamma=pick("gamma", defaults.gamma),
        seed=pick("seed", defaults.seed),
        workers=args.workers,
        augment=not bool(args.no_augment),
        device=args.device,
        amp=not bool(args.no_amp),
        quiet=bool(args.quiet),
        bands=pick("bands", None),
        input_range=pick("input_range", None),
        freeze_backbone=bool(pick("freeze_backbone", defaults.freeze_backbone)),
    )


def _resolution(images: Sequence[Path]) -> Optional[float]:
    """Median pixel size of the training images, when every one has one.

    Each image's is the size ``glnet segment`` compares with a model's
    resolution (:func:`glnet.models.data.pixel_size_m`).
    """
    from ...models.data import pixel_size_m

    found = [pixel_size_m(p) for p in images]
    sizes = sorted(s for s in found if s is not None)
    if not sizes or len(sizes) < len(found):
        return None
    return float(sizes[len(sizes) // 2])


def _label_spec(args: argparse.Namespace, stored: Dict[str, Any]):
    """The labels of ``--images`` (given now, or by the run being resumed), or None for the ``--data`` form.

    Raises
    ------
    InputError
        For options of the two forms mixed, or one of a pair missing.
    """
    from ...models.data.scenes import LabelSpec
    from ..products.references import is_vector_path

    images = args.images or stored.get("images")
    labels = args.labels or stored.get("labels")
    if args.data and (args.images or args.labels):
        raise InputError("give either --data DIR or --images ... --labels ..., not both")
    if not images and not labels:
        for flag, value in (("--label-field", args.label_field), ("--label-layer", args.label_layer), ("--background", args.background)):
            if value is not None:
                raise InputError(f"{flag} goes with --images ... --labels ...")
        return None
    if args.data is None and stored.get("data") and not args.images:
        return None
    if not images:
        raise InputError("--labels labels the --images: give --images IMAGE ... too")
    if not labels:
        raise InputError("--images need their labels: --labels POLYGONS.gpkg --label-field FIELD, or one mask per image")
    for flag, value in (("--layout", args.layout), ("--val", args.val)):
        if value is not None:
            raise InputError(f"{flag} is for --data folders; --images are validated on a --val-fraction of their labelled areas")
    paths = tuple(Path(p) for p in labels)
    vector = len(paths) == 1 and is_vector_path(paths[0])
    field = args.label_field if args.label_field is not None else stored.get("label_field")
    layer = args.label_layer if args.label_layer is not None else stored.get("label_layer")
    background = args.background if args.background is not None else stored.get("background")
    if vector and not field:
        raise InputError(f"--labels {paths[0]} is a polygon layer: name its class field with --label-field")
    if not vector:
        for flag, value in (("--label-field", field), ("--label-layer", layer)):
            if value is not None:
                raise InputError(f"{flag} is for a polygon layer; --labels names {len(paths)} mask raster(s)")
    return LabelSpec(paths, field, layer, background, vector)


def _class_table(spec: str, labels_spec):
    """The class table ``--classes`` names; ``from-field``: one class per distinct value of the label field.

    Raises
    ------
    InputError
        ``from-field`` without polygon labels.
    ClassTableError
        For an invalid table.
    """
    from ..formats.classes import load_class_table
    from ..formats.polygon_labels import FROM_FIELD, class_table_from_values, field_values

    if str(spec) != FROM_FIELD:
        return load_class_table(spec)
    if labels_spec is None or not labels_spec.vector:
        raise InputError("--classes from-field takes the classes from the --label-field of --labels polygons")
    values = field_values(labels_spec.paths[0], labels_spec.field, labels_spec.layer)
    return class_table_from_values(values, f"{labels_spec.paths[0].stem}.{labels_spec.field}", first=labels_spec.background)


def run(args: argparse.Namespace) -> int:
    """Run ``glnet train`` with parsed arguments.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    GlnetError
        (:class:`InputError`, :class:`CheckpointError`, :class:`ClassTableError`)
        with a one-line message for anything the user can fix.
    KeyboardInterrupt
        Re-raised after printing how to continue the run (``--resume``).
    """
    import torch

    from ...models.backbone_weights import load_backbone_weights
    from ...models.checkpoint import Checkpoint, load_checkpoint
    from ...models.config import get_config
    from ...models.data import default_class_spec, find_pairs, split_validation
    from ...models.fine_tune import adapt_to_classes
    from ...models.glnet import GLNet
    from ...models.lineage import checkpoint_lineage, lineage_entry, stored_lineage
    from ...models.training import train

    out = Path(args.out)
    options = _options(args)
    stored: Dict[str, Any] = {}
    if args.window is not None and not args.config:
        # With --init or --resume the architecture, window included, is the checkpoint's.
        raise InputError("--window sets the window of a new model: use it with --config, not with --init or --resume")
    if args.backbone_weights is not None and not args.config:
        raise InputError("--backbone-weights starts a new model's backbones: use it with --config, not with --init or --resume")
    if args.resume:
        if args.init or args.config:
            raise InputError("--resume continues the run saved in --out; do not give --init or --config")
        given = [flag for name, flag in _TRAINING_OPTIONS if _given(args, name)]
        if given:
            raise InputError(f"--resume takes the training options from {out}; drop {', '.join(given)}")
        if not out.is_file():
            raise InputError(f"--resume: {out} does not exist")
        start = load_checkpoint(out)
        if not start.train_state:
            raise InputError(f"--resume: {out} holds a finished run; to train it further use --init {out} and a new --out")
        stored = dict(start.provenance)
    else:
        check_file_target(
            out, overwrite=args.overwrite, hint="pass --overwrite to replace it or --resume to continue its run", error=InputError
        )
        if not args.init and not args.config:
            raise InputError("give a starting point: --init CKPT (e.g. from `glnet init-model`) or --config tiny|lite|resnet18|paper")
        options.validate()

    fraction = args.val_fraction if args.val_fraction is not None else stored.get("val_fraction", 0.1)
    labels_spec = _label_spec(args, stored)
    if labels_spec is None:
        data = args.data or stored.get("data")
        if not data:
            raise InputError("give the training data: --data DIR (image/mask pairs), or --images IMAGE ... --labels LABELS")
        layout = args.layout or stored.get("layout") or "auto"
        val_dir = args.val or stored.get("val")
        pairs = find_pairs(data, layout)
        if val_dir:  # given now, or by the run being resumed
            train_pairs, val_pairs = list(pairs), list(find_pairs(val_dir, layout))
        else:
            train_pairs, val_pairs = split_validation(pairs, float(fraction))
        image_paths = [p.image for p in train_pairs]
        default_spec = default_class_spec(pairs.layout)
        read = [InputSource(f, role) for p in (*train_pairs, *val_pairs)
                for f, role in ((p.image, "a training image"), (p.mask, "a training mask"))]
    else:
        image_paths = [Path(p) for p in (args.images or stored.get("images") or [])]
        default_spec = None
        read = [InputSource(f, "a training image") for f in image_paths]
        read += [InputSource(f, "the --labels") for f in labels_spec.paths]
    # The checkpoint, rewritten every epoch, must not be what training reads (with or without --overwrite).
    read += [] if args.resume or not args.init else [InputSource(Path(args.init), "the --init checkpoint")]
    read += [InputSource(Path(args.backbone_weights), "the backbone weights (--backbone-weights)")] if args.backbone_weights else []
    check_outputs([OutputTarget(out, "--out")], [*read, *spec_sources(args.classes, "the class table (--classes)")],
                  overwrite=True, check_targets=False, error=InputError)

    lineage = stored_lineage(stored)  # a resumed run keeps its own
    if not args.resume:
        if args.init:
            start = load_checkpoint(args.init)
            reinitialised: List[str] = []
            if args.classes:
                table = _class_table(args.classes, labels_spec)
                # Other classes: fine-tune, with fresh classifiers and aggregation convs (seeded as a new model's).
                torch.manual_seed(options.seed)
                start, reinitialised = adapt_to_classes(start, table)
                if reinitialised and not options.quiet:
                    print(f"fine-tuning for {len(table)} classes: re-initialised {', '.join(reinitialised)}", file=sys.stderr)
            lineage = checkpoint_lineage(args.init, start.provenance, reinitialised)
        else:
            spec = args.classes or default_spec
            if spec is None:
                raise InputError("--classes is needed with --config for this data (deepglobe, inria, a count N, TABLE.json or from-field)")
            table = _class_table(spec, labels_spec)
            torch.manual_seed(options.seed)
            start = Checkpoint(GLNet(_config_with_window(get_config(args.config), args.window), len(table)), table)
            if args.backbone_weights:
                loaded = load_backbone_weights(start.model, args.backbone_weights)
                lineage = [lineage_entry("backbone", loaded.file, loaded.sha256)]
                if not options.quiet:
                    print(f"backbone weights {loaded.summary()}", file=sys.stderr)
        resolution = _resolution(image_paths)
        if resolution is not None and (labels_spec is None or args.config or start.resolution_m is None):
            start.resolution_m = resolution

    provenance: Dict[str, Any]
    if labels_spec is None:
        provenance = {
            "data": str(Path(str(data)).resolve()),
            "layout": pairs.layout,
            "val": str(Path(val_dir).resolve()) if val_dir else None,
            "val_fraction": None if val_dir else float(fraction),
            "train_images": len(train_pairs),
            "val_images": len(val_pairs),
        }
        note = f"{len(train_pairs)} training and {len(val_pairs)} validation images ({pairs.layout} layout)"
        if pairs.skipped:
            note += f"; {len(pairs.skipped)} images without a mask skipped"
    else:
        from ...models.data.scenes import labelled_areas

        areas = labelled_areas(image_paths, labels_spec, start.classes, start.config.window, start.config.in_channels,
                               start.resolution_m, float(fraction), options.image_reading())
        train_pairs, val_pairs = areas.train, areas.val
        provenance = {
            "images": [str(p.resolve()) for p in image_paths],
            "labels": [str(p.resolve()) for p in labels_spec.paths],
            "label_kind": "polygons" if labels_spec.vector else "masks",
            "label_layer": labels_spec.layer,
            "label_field": labels_spec.field,
            "background": labels_spec.background,
            "val_fraction": float(fraction),
            "train_areas": len(train_pairs),
            "val_areas": len(val_pairs),
            "training_data": f"{', '.join(p.name for p in labels_spec.paths)} on {len(areas.images)} image(s)",
        }
        note = (f"{len(train_pairs)} training and {len(val_pairs)} validation areas (at most {start.config.window} px) "
                f"on {len(areas.images)} image(s)")
        if areas.skipped:
            note += f"; left out, no label reaches them: {', '.join(p.name for p in areas.skipped)}"
        if start.resolution_m is not None and any(a.grid is not None and a.grid.resampled for a in (*train_pairs, *val_pairs)):
            note += f"; read at the model's {start.resolution_m:g} m/px"
    provenance["init"] = stored.get("init") if args.resume else (str(Path(args.init).resolve()) if args.init else f"random {args.config}")
    provenance["lineage"] = lineage
    if not options.quiet:
        print(note, file=sys.stderr)
    written: List[int] = []
    try:
        result = train(
            start,
            train_pairs,
            val_pairs,
            options,
            out=out,
            resume=args.resume,
            provenance=provenance,
            on_epoch_end=lambda report: written.append(report.epoch),
        )
    except KeyboardInterrupt:
        # Say how to continue, then let the command line report the interrupt.
        if written or args.resume:
            print(f"{out} holds the last finished epoch: continue with `glnet train --resume --out {out}`", file=sys.stderr)
        raise
    if not options.quiet:
        finals = result.provenance.get("final_val_miou", {})
        text = ", ".join(f"{s} {v:.4f}" if v is not None else f"{s} -" for s, v in finals.items())
        print(f"wrote {out} (validation mIoU: {text})")
    return 0
