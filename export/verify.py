"""Verification of a bundle: its ONNX chain against the PyTorch model.

The subgraphs run through :class:`glnet_core.engine.predictor.WindowPredictor`, chained
exactly as the engine chains them, on random windows; the PyTorch model runs
:meth:`GLNet.predict` on the same prepared inputs. Figures per mode: the
largest score difference relative to the largest score magnitude, and the
share of pixels whose argmax class agrees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from ..glnet_core.engine.bundle import load_bundle
from ..glnet_core.engine.modes import graphs_for_modes
from ..glnet_core.engine.predictor import WindowPredictor
from ..glnet_core.engine.preprocess import prepare_window
from ..glnet_core.engine.runtime import open_bundle_sessions
from ..models.glnet import GLNet

__all__ = ["verify_bundle_dir", "verification_windows"]


def verification_windows(window: int, size_p: int, n: int) -> List[Tuple[int, int]]:
    """Window sizes to verify: the default window, then odd non-square sizes (other crop sizes)."""
    sizes = [(window, window)]
    shapes = [(0.77, 0.61), (0.55, 0.9), (0.4, 0.33)]
    for fy, fx in shapes[: max(0, n - 1)]:
        sizes.append((max(size_p, int(window * fy) | 1), max(size_p, int(window * fx) | 1)))
    return sizes[:n]


def verify_bundle_dir(path: Path, model: GLNet, windows: int = 2, seed: int = 0, log=print) -> Dict[str, Any]:
    """Compare the bundle at ``path`` with ``model``; returns the figures (also per mode)."""
    bundle = load_bundle(path)
    model = model.eval()
    modes = list(bundle.manifest["modes"])
    sessions, providers = open_bundle_sessions(bundle, graphs_for_modes(modes), device="cpu")
    onnx_model = WindowPredictor(sessions, bundle.manifest["size_p"], bundle.manifest["min_overlap"], len(bundle.classes))
    rng = np.random.default_rng(seed)
    cfg = model.config
    per_mode: Dict[str, Any] = {}
    worst_rel, worst_agree, pixels = 0.0, 1.0, 0
    for mode in modes:
        rels, agree_n, total = [], 0, 0
        for h, w in verification_windows(cfg.window, cfg.size_p, windows):
            image = rng.integers(0, 256, (h, w, cfg.in_channels), dtype=np.uint8)
            prep = prepare_window(image, cfg.size_g, cfg.size_p, bundle.normalisation)
            with torch.no_grad():
                ref = model.predict(torch.from_numpy(prep.image_g)[None], torch.from_numpy(prep.window)[None], mode).numpy()
            got = onnx_model.predict(prep.image_g, prep.window, mode)
            rels.append(float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-12)))
            agree_n += int((got.argmax(0) == ref.argmax(0)).sum())
            total += h * w
        agree = agree_n / total
        per_mode[mode] = {"max_rel_error": max(rels), "argmax_agreement": agree}
        log(f"  {mode}: relative error {max(rels):.3g}, argmax agreement {agree * 100:.4f} %")
        worst_rel, worst_agree = max(worst_rel, max(rels)), min(worst_agree, agree)
        pixels += total
    return {
        "max_rel_error": worst_rel,
        "argmax_agreement": worst_agree,
        "windows": windows,
        "pixels": pixels,
        "providers": providers,
        "modes": per_mode,
    }
