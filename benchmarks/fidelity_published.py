"""Fidelity of glnet's PyTorch GLNet against the published implementation.

Runs the published evaluation code (``helper.Evaluator`` of a checkout of
the published GLNet repository, which this project does not ship) and glnet's
``predict_window`` on the same image with the same weights, and reports the
score difference and the class agreement for both inference modes.

The weights are a ``paper`` GLNet (random, or a glnet checkpoint via --ckpt),
written to the three published stage files with
:func:`glnet.models.published.export_published` and then read back through
``glnet import-original``'s code path, so the check covers the import as well.

The published code needs CUDA, OpenCV and torchvision; on a CPU machine this
script runs it with ``.cuda()`` as a no-op and minimal stand-ins for the
torchvision transforms its evaluation uses (PIL crop, rotate, flip and
to-tensor; OpenCV is not used by evaluation).

Usage::

    python benchmarks/fidelity_published.py --published-repo DIR [--size 1000] [--modes full,g2l]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


def _install_stand_ins() -> None:
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    import torch.utils.model_zoo as model_zoo

    model_zoo.load_url = lambda *a, **k: {}  # no ImageNet download: weights come from our files

    tv: Any = types.ModuleType("torchvision")
    tr: Any = types.ModuleType("torchvision.transforms")
    fn: Any = types.ModuleType("torchvision.transforms.functional")

    class ToTensor:
        def __call__(self, pic):
            a = np.asarray(pic)
            if a.ndim == 2:
                a = a[:, :, None]
            return torch.from_numpy(a.transpose(2, 0, 1).copy()).float().div(255)

    class Compose:
        def __init__(self, ts):
            self.ts = ts

        def __call__(self, x):
            for t in self.ts:
                x = t(x)
            return x

    fn.crop = lambda img, top, left, h, w: img.crop((left, top, left + w, top + h))
    fn.rotate = lambda img, angle: img.rotate(angle)
    fn.hflip = lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    tr.ToTensor, tr.Compose, tr.functional = ToTensor, Compose, fn
    tv.transforms = tr
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn})
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--published-repo", required=True, type=Path, help="checkout of the published GLNet code")
    ap.add_argument("--ckpt", type=Path, help="a glnet paper checkpoint (default: random weights)")
    ap.add_argument("--size", type=int, default=1000, help="side of the square test image (2448 = DeepGlobe)")
    ap.add_argument("--modes", default="full,g2l")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.models.checkpoint import load_checkpoint
    from glnet.models.config import get_config
    from glnet.models.glnet import GLNet
    from glnet.models.inference import predict_window
    from glnet.models.published import STAGE_FILES, export_published, import_published

    torch.manual_seed(args.seed)
    n_class = len(load_class_table("deepglobe"))
    ours = load_checkpoint(args.ckpt).model if args.ckpt else GLNet(get_config("paper"), n_class)
    if not args.ckpt:
        # Random BatchNorm statistics, so that the check would notice swapped buffers.
        for m in ours.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ours.eval()

    rng = np.random.default_rng(args.seed)
    # A smooth, structured image rather than white noise, so resampling matters.
    yy, xx = np.mgrid[0 : args.size, 0 : args.size] / args.size
    base = np.stack([np.sin(7 * xx + 3 * yy), np.cos(5 * yy - 2 * xx), np.sin(11 * xx * yy)], -1)
    img = np.clip((base * 0.4 + 0.5) * 255 + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)

    _install_stand_ins()
    sys.path.insert(0, str(args.published_repo))
    import helper  # type: ignore[import-not-found]  # noqa: E402  (the published evaluation code, not shipped)

    captured = []
    original_p2g = helper.patch2global

    def capture(*a, **k):
        out = original_p2g(*a, **k)
        captured.append(np.array(out))
        return out

    helper.patch2global = capture
    report = {"size": args.size, "date": time.strftime("%Y-%m-%d"), "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for stage, state in export_published(ours).items():
            paths[stage] = Path(tmp) / STAGE_FILES[stage]
            torch.save(state, paths[stage])
        imported = import_published(paths["global"], paths["g2l"], paths["l2g"], n_class).eval()
        for mode in args.modes.split(","):
            pub_mode = {"full": 3, "g2l": 2}[mode]
            model, global_fixed = helper.create_model_load_weights(
                n_class, pub_mode, evaluation=True, path_g=str(paths["global"]), path_g2l=str(paths["g2l"]), path_l2g=str(paths["l2g"])
            )
            model.eval()
            evaluator = helper.Evaluator(n_class, (508, 508), (508, 508), sub_batch_size=6, mode=pub_mode, test=False)
            sample = {"image": [Image.fromarray(img)], "label": [Image.fromarray(np.zeros(img.shape[:2], np.uint8))]}
            captured.clear()
            t0 = time.perf_counter()
            with torch.no_grad():
                preds, _, _ = evaluator.eval_test(sample, model, global_fixed)
            t_pub = time.perf_counter() - t0
            pub_scores = captured[-1][0]  # the ensemble scores, (n, H, W)
            t0 = time.perf_counter()
            cls, scores = predict_window(imported, img, mode=mode)
            t_ours = time.perf_counter() - t0
            diff = np.abs(scores - pub_scores)
            rel = float(diff.max() / max(np.abs(pub_scores).max(), 1e-12))
            agree = float((cls == preds[0]).mean())
            report["modes"][mode] = {
                "max_abs_diff": float(diff.max()),
                "max_rel_diff": rel,
                "argmax_agreement": agree,
                "published_seconds": round(t_pub, 1),
                "glnet_seconds": round(t_ours, 1),
            }
            print(f"{mode}: max |diff| {diff.max():.3g} (relative {rel:.3g}), argmax agreement {agree * 100:.4f} %, "
                  f"published {t_pub:.1f} s, glnet {t_ours:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
