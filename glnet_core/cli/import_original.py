"""``glnet import-original``: convert the published GLNet checkpoints to one glnet checkpoint.

This module must not import torch at import time: ``glnet --help`` builds its
parser without the training extras.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.bundle_files import sha256_file
from ..option_rules import RESOLUTION_OR_UNSET
from .input_options import class_table_spec, input_path

__all__ = ["add_arguments", "run"]

DESCRIPTION = """\
Convert the three published GLNet DeepGlobe checkpoints (one per training
stage: fpn_deepglobe_global.pth, fpn_deepglobe_global2local.pth,
fpn_deepglobe_local2global.pth) into one glnet checkpoint of the `paper`
configuration. Its outputs equal the published model's on the same input, in
both inference modes (full and g2l). Files are read with
torch.load(weights_only=True); a file that is not such a checkpoint is
rejected, naming its missing or unexpected keys.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("--global", dest="global_path", required=True, type=input_path, metavar="G.pth",
                        help="stage-1 checkpoint (global branch), e.g. fpn_deepglobe_global.pth")
    parser.add_argument("--g2l", required=True, type=input_path, metavar="G2L.pth",
                        help="stage-2 checkpoint (local branch + aggregation), e.g. fpn_deepglobe_global2local.pth")
    parser.add_argument("--l2g", required=True, type=input_path, metavar="L2G.pth",
                        help="stage-3 checkpoint (local-to-global branch), e.g. fpn_deepglobe_local2global.pth")
    parser.add_argument("--classes", default="deepglobe", type=class_table_spec, metavar="deepglobe|N|TABLE.json",
                        help="class table the checkpoints were trained with (default: deepglobe, 7 classes)")
    parser.add_argument("--resolution", type=RESOLUTION_OR_UNSET, default=0.5, metavar="M",
                        help="ground resolution the model was trained at, metres per pixel "
                             "(default 0.5: DeepGlobe); 0 to leave it unset")
    parser.add_argument("--out", required=True, metavar="CKPT", help="glnet checkpoint to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    from ...models.checkpoint import Checkpoint, save_checkpoint
    from ...models.published import import_published
    from ..errors import CheckpointError
    from ..formats.classes import load_class_table
    from ..formats.output_plan import InputSource, OutputTarget, check_outputs, spec_sources

    out = Path(args.out)
    sources = [InputSource(Path(p), f"the {flag} checkpoint")
               for flag, p in (("--global", args.global_path), ("--g2l", args.g2l), ("--l2g", args.l2g))]
    check_outputs([OutputTarget(out, "--out")], [*sources, *spec_sources(args.classes, "the class table (--classes)")],
                  overwrite=args.overwrite, error=CheckpointError)
    classes = load_class_table(args.classes)
    model = import_published(args.global_path, args.g2l, args.l2g, len(classes))
    provenance = {
        "source": "import-original",
        "training_data": "DeepGlobe land cover (published GLNet checkpoints)" if classes.name == "deepglobe" else "published GLNet checkpoints",
        "files": {
            stage: {"name": Path(p).name, "sha256": sha256_file(p)}
            for stage, p in (("global", args.global_path), ("g2l", args.g2l), ("l2g", args.l2g))
        },
    }
    save_checkpoint(
        Checkpoint(model=model, classes=classes, resolution_m=args.resolution or None, provenance=provenance),
        out,
        overwrite=args.overwrite,
        option="--out",
    )
    print(f"wrote {out} (paper configuration, {len(classes)} classes)")
    return 0
