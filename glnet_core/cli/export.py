"""``glnet export``: a checkpoint to a verified model bundle, or re-verify a bundle.

No torch import at module import time: ``glnet --help`` works without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.modes import MODE_NAMES
from ..option_rules import OPSET, VERIFY_WINDOWS
from .input_options import input_path

__all__ = ["add_arguments", "run"]

DESCRIPTION = """\
Export a glnet checkpoint to a model bundle: a folder NAME.glnet with
manifest.json and the ONNX subgraphs (global, local, aggregation and, for the
full mode, the local-to-global pass) that the engine and the QGIS plugin run
with onnxruntime. Every export verifies itself: onnxruntime runs the subgraphs
chained as the engine chains them, on random windows, and is compared with
PyTorch (fp32 must reach a relative error <= 1e-4 and >= 99.9 % identical
classes; fp16 figures are reported; fp16-gpu must reach >= 99 % identical
classes, also with its float16 arithmetic emulated, since onnxruntime's CPU
provider computes those graphs in float32). The figures go into the manifest.

Precisions: fp32; fp16, float16 weights (half the size) and float32
arithmetic, about the speed of fp32; fp16-gpu, float16 weights and float16
arithmetic inside the graphs (the classifiers stay float32; inputs and
outputs are float32), for CUDA GPUs (tensor cores): no faster than fp32 on
most CPUs, where onnxruntime computes those ops in float32 behind casts.

With --verify BUNDLE, re-run that verification on an existing bundle against
its checkpoint (CKPT, or the checkpoint named in the bundle's provenance when
it lies next to the bundle).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("checkpoint", nargs="?", type=input_path, metavar="CKPT", help="glnet checkpoint (from train, init-model or import-original)")
    parser.add_argument("--out", metavar="NAME.glnet", help="bundle folder to write (zip it yourself to share; zips load too)")
    parser.add_argument("--precision", choices=["fp32", "fp16", "fp16-gpu"], default="fp32",
                        help="fp32 (default); fp16: weights stored as float16 (half the size), arithmetic in float32; "
                             "fp16-gpu: float16 weights and arithmetic, for CUDA GPUs (no faster on most CPUs)")
    parser.add_argument("--opset", type=OPSET, default=17, metavar="N", help="ONNX opset (default 17)")
    parser.add_argument("--modes", default=",".join(MODE_NAMES), metavar=",".join(MODE_NAMES),
                        help="inference modes the bundle supports (default both; g2l alone skips the stage-3 graphs)")
    parser.add_argument("--verify-windows", type=VERIFY_WINDOWS, default=2, metavar="K",
                        help="random windows per mode used by the verification (default 2)")
    parser.add_argument("--verify", type=input_path, metavar="BUNDLE", help="re-verify an existing bundle (folder or zip) instead of exporting")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final line")


def _checkpoint_for(bundle_path: Path, manifest: dict, given) -> Path:
    from ..engine.bundle_files import sha256_file
    from ..errors import BundleError

    if given:
        return Path(given)
    named = (manifest.get("provenance") or {}).get("checkpoint") or {}
    name = named.get("name")
    candidate = bundle_path.parent / name if name else None
    if candidate is None or not candidate.is_file():
        raise BundleError(
            f"cannot find the checkpoint of {bundle_path} ({name or 'not recorded'}); pass it: glnet export CKPT --verify {bundle_path}"
        )
    if named.get("sha256") and sha256_file(candidate) != named["sha256"]:
        raise BundleError(f"{candidate} is not the checkpoint {bundle_path} was exported from (sha256 differs)")
    return candidate


def run(args: argparse.Namespace) -> int:
    from ...export.onnx_export import export_bundle
    from ...export.verify import verification_failure, verify_bundle_dir
    from ...models.checkpoint import load_checkpoint
    from ..engine.bundle import load_bundle
    from ..errors import ExportError, InputError
    from ..formats.output_plan import InputSource, OutputTarget, check_outputs

    log = (lambda *_: None) if args.quiet else (lambda line: print(line, flush=True))
    if args.verify:
        bundle_path = Path(args.verify)
        bundle = load_bundle(bundle_path)
        ckpt = load_checkpoint(_checkpoint_for(bundle_path, bundle.manifest, args.checkpoint))
        log(f"verifying {bundle_path} against PyTorch")
        figures = verify_bundle_dir(bundle_path, ckpt.model, windows=args.verify_windows, log=log)
        precision = bundle.manifest["precision"]
        failure = verification_failure(figures, precision)
        emulated = figures.get("fp16_emulated")
        extra = f", emulated float16 {emulated['argmax_agreement'] * 100:.4f} %" if emulated else ""
        print(f"{'FAILED' if failure else 'OK'}: {precision}, relative error {figures['max_rel_error']:.3g}, "
              f"argmax agreement {figures['argmax_agreement'] * 100:.4f} %{extra}")
        if failure:
            raise ExportError(f"{bundle_path} does not match its checkpoint within the {precision} limits: {failure}")
        return 0
    if not args.checkpoint or not args.out:
        raise InputError("export needs CKPT and --out NAME.glnet (or --verify BUNDLE)")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ckpt_path = Path(args.checkpoint)
    # Before the (slow) checkpoint load: a bad --out (the checkpoint, or a folder holding it) fails at once.
    check_outputs([OutputTarget(Path(args.out), "--out", kind="folder")], [InputSource(ckpt_path, "the checkpoint")],
                  overwrite=args.overwrite, error=ExportError)
    ckpt = load_checkpoint(ckpt_path)
    manifest = export_bundle(
        ckpt, Path(args.out), precision=args.precision, opset=args.opset, modes=modes,
        overwrite=args.overwrite, checkpoint_path=ckpt_path, verify_windows=args.verify_windows, log=log,
    )
    v = manifest["verification"][args.precision]
    emulated = v.get("fp16_emulated")
    extra = f" (emulated float16 arithmetic {emulated['argmax_agreement'] * 100:.4f} %)" if emulated else ""
    print(f"wrote {args.out} ({manifest['model']['name']}, {args.precision}, modes {', '.join(modes)}): "
          f"relative error {v['max_rel_error']:.3g}, argmax agreement {v['argmax_agreement'] * 100:.4f} %{extra}")
    return 0
