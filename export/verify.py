"""Verification of a bundle: its ONNX chain against the PyTorch model.

The subgraphs run through :class:`glnet_core.engine.predictor.WindowPredictor`, chained
exactly as the engine chains them, on random windows; the PyTorch model runs
:meth:`GLNet.predict` on the same prepared inputs. Figures per mode: the
largest score difference relative to the largest score magnitude, and the
share of pixels whose argmax class agrees. :func:`verification_failure`
holds the limits per precision, for the export and for ``glnet export --verify``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..glnet_core.engine.bundle import FP16_GPU, load_bundle
from ..glnet_core.engine.modes import graphs_for_modes
from ..glnet_core.engine.predictor import WindowPredictor
from ..glnet_core.engine.preprocess import prepare_window
from ..glnet_core.engine.runtime import create_sessions, open_bundle_sessions
from ..models.glnet import GLNet
from .fp16_arithmetic import fp16_rounding_emulation

__all__ = ["verify_bundle_dir", "verification_windows", "verification_failure", "VERIFY_LIMITS"]


def verification_windows(window: int, size_p: int, n: int) -> List[Tuple[int, int]]:
    """Window sizes to verify: the default window, then odd non-square sizes (other crop sizes)."""
    sizes = [(window, window)]
    shapes = [(0.77, 0.61), (0.55, 0.9), (0.4, 0.33)]
    for fy, fx in shapes[: max(0, n - 1)]:
        sizes.append((max(size_p, int(window * fy) | 1), max(size_p, int(window * fx) | 1)))
    return sizes[:n]


def _compare(sessions: Dict[str, Any], bundle: Any, model: GLNet, windows: int, seed: int, log) -> Dict[str, Any]:
    """Chain ``sessions`` as the engine does and compare with ``model`` on random windows, per mode."""
    onnx_model = WindowPredictor(sessions, bundle.manifest["size_p"], bundle.manifest["min_overlap"], len(bundle.classes))
    rng = np.random.default_rng(seed)
    cfg = model.config
    per_mode: Dict[str, Any] = {}
    worst_rel, worst_agree, pixels = 0.0, 1.0, 0
    for mode in bundle.manifest["modes"]:
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
    return {"max_rel_error": worst_rel, "argmax_agreement": worst_agree, "pixels": pixels, "modes": per_mode}


def _emulated_sessions(bundle: Any, graphs: Sequence[str]) -> Dict[str, Any]:
    """CPU sessions of the float32 twins that round like float16 arithmetic (:func:`fp16_rounding_emulation`)."""
    import onnx

    sources: Dict[str, object] = {}
    for name in graphs:
        src = bundle.graph_source(name)
        proto = onnx.load_from_string(src) if isinstance(src, bytes) else onnx.load(src)
        sources[name] = fp16_rounding_emulation(proto).SerializeToString()
    sessions, _ = create_sessions(sources, device="cpu")
    return sessions


def verify_bundle_dir(path: Path, model: GLNet, windows: int = 2, seed: int = 0, log=print) -> Dict[str, Any]:
    """Compare the bundle at ``path`` with ``model``.

    Parameters
    ----------
    path:
        The bundle (folder or zip).
    model:
        The PyTorch model it was exported from (float32).
    windows:
        Random windows per mode (:func:`verification_windows`).
    seed:
        Seed of the random windows.
    log:
        Called with one line per mode.

    Returns
    -------
    dict
        ``max_rel_error`` and ``argmax_agreement`` (worst over the modes),
        ``windows``, ``pixels``, ``providers``, ``modes`` (per mode). An
        ``fp16-gpu`` bundle also gets ``fp16_emulated``: the same comparison
        with every float16 tensor rounded to float16 (onnxruntime's CPU
        provider computes these graphs in float32; see
        :func:`export.fp16_arithmetic.fp16_rounding_emulation`), on the same
        windows.

    Raises
    ------
    BundleError
        If the bundle does not load (:func:`load_bundle`).
    """
    bundle = load_bundle(path)
    model = model.eval()
    graphs = graphs_for_modes(list(bundle.manifest["modes"]))
    sessions, providers = open_bundle_sessions(bundle, graphs, device="cpu")
    figures = _compare(sessions, bundle, model, windows, seed, log)
    result: Dict[str, Any] = {
        "max_rel_error": figures["max_rel_error"],
        "argmax_agreement": figures["argmax_agreement"],
        "windows": windows,
        "pixels": figures["pixels"],
        "providers": providers,
        "modes": figures["modes"],
    }
    if bundle.precision == FP16_GPU:
        log("  float16 arithmetic emulated (every float16 tensor rounded):")
        emulated = _compare(_emulated_sessions(bundle, graphs), bundle, model, windows, seed, log)
        result["fp16_emulated"] = {k: emulated[k] for k in ("max_rel_error", "argmax_agreement", "modes")}
    return result


#: Per precision: (largest relative score error, smallest argmax agreement); None: not checked.
#: fp16-gpu: argmax agreement only (a float16 score error of ~1e-3 is expected), checked
#: on the bundle's CPU run and on its emulated float16 arithmetic; see docs/bundle-format.md
#: for the measurement behind the limit.
VERIFY_LIMITS: Dict[str, Tuple[Optional[float], Optional[float]]] = {
    "fp32": (1e-4, 0.999),
    FP16_GPU: (None, 0.99),
}


def verification_failure(figures: Dict[str, Any], precision: str) -> Optional[str]:
    """Why ``figures`` (from :func:`verify_bundle_dir`) miss the limits of ``precision``, or None.

    Parameters
    ----------
    figures:
        The verification figures.
    precision:
        The bundle's precision; one without limits (fp16) always passes.

    Returns
    -------
    str or None
        One line naming each figure over its limit, or None when all pass.
    """
    rel_limit, agree_limit = VERIFY_LIMITS.get(precision, (None, None))
    checked = [("", figures)]
    if "fp16_emulated" in figures:
        checked.append(("emulated float16 arithmetic: ", figures["fp16_emulated"]))
    problems = []
    for label, fig in checked:
        if rel_limit is not None and fig["max_rel_error"] > rel_limit:
            problems.append(f"{label}relative error {fig['max_rel_error']:.3g} (limit {rel_limit:g})")
        if agree_limit is not None and fig["argmax_agreement"] < agree_limit:
            problems.append(f"{label}argmax agreement {fig['argmax_agreement'] * 100:.3f} % (limit {agree_limit * 100:g} %)")
    return ", ".join(problems) or None
