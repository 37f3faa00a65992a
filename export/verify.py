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


def _compare(runs: Dict[str, Dict[str, Any]], bundle: Any, model: GLNet, windows: int, seed: int, log) -> Dict[str, Dict[str, Any]]:
    """Chain each ``runs`` entry's sessions as the engine does and compare with ``model`` on the same random windows.

    ``runs``: ``{label: sessions}``; PyTorch runs once per window for all of them.
    Returns ``{label: figures}`` (worst over the modes, and per mode).
    """
    predictors = {label: WindowPredictor(sessions, bundle.manifest["size_p"], bundle.manifest["min_overlap"], len(bundle.classes))
                  for label, sessions in runs.items()}
    rng = np.random.default_rng(seed)
    cfg = model.config
    stats: Dict[str, Dict[str, Any]] = {label: {"modes": {}, "rel": 0.0, "agree": 1.0, "nonfinite": 0} for label in runs}
    pixels = 0
    for mode in bundle.manifest["modes"]:
        rels: Dict[str, List[float]] = {label: [] for label in runs}
        agree_n = dict.fromkeys(runs, 0)
        total = 0
        for h, w in verification_windows(cfg.window, cfg.size_p, windows):
            image = rng.integers(0, 256, (h, w, cfg.in_channels), dtype=np.uint8)
            prep = prepare_window(image, cfg.size_g, cfg.size_p, bundle.normalisation)
            with torch.no_grad():
                ref = model.predict(torch.from_numpy(prep.image_g)[None], torch.from_numpy(prep.window)[None], mode).numpy()
            ref_class, scale = ref.argmax(0), max(float(np.abs(ref).max()), 1e-12)
            for label, predictor in predictors.items():
                got = predictor.predict(prep.image_g, prep.window, mode)
                # A float16 overflow gives inf / nan scores: counted, and kept out of
                # the error figure so that the figures stay JSON (the manifest holds them).
                finite = np.isfinite(got)
                stats[label]["nonfinite"] += int(finite.size - finite.sum())
                rels[label].append(float(np.abs(np.where(finite, got, 0) - ref).max() / scale))
                agree_n[label] += int((got.argmax(0) == ref_class).sum())
            total += h * w
        pixels += total
        for label in runs:
            agree, rel = agree_n[label] / total, max(rels[label])
            st = stats[label]
            st["modes"][mode] = {"max_rel_error": rel, "argmax_agreement": agree}
            st["rel"], st["agree"] = max(st["rel"], rel), min(st["agree"], agree)
            log(f"  {mode}{'' if len(runs) == 1 else ' (' + label + ')'}: relative error {rel:.3g}, argmax agreement {agree * 100:.4f} %")
    out: Dict[str, Dict[str, Any]] = {}
    for label, st in stats.items():
        figures: Dict[str, Any] = {"max_rel_error": st["rel"], "argmax_agreement": st["agree"], "pixels": pixels, "modes": st["modes"]}
        if st["nonfinite"]:
            figures["nonfinite_scores"] = st["nonfinite"]
        out[label] = figures
    return out


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
        ``windows``, ``pixels``, ``providers``, ``modes`` (per mode), and
        ``nonfinite_scores`` when some scores were inf or nan. An
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
    runs = {"bundle": sessions}
    if bundle.precision == FP16_GPU:
        runs["emulated float16"] = _emulated_sessions(bundle, graphs)
    compared = _compare(runs, bundle, model, windows, seed, log)
    figures = compared["bundle"]
    result: Dict[str, Any] = {
        "max_rel_error": figures["max_rel_error"],
        "argmax_agreement": figures["argmax_agreement"],
        "windows": windows,
        "pixels": figures["pixels"],
        "providers": providers,
        "modes": figures["modes"],
    }
    if "nonfinite_scores" in figures:
        result["nonfinite_scores"] = figures["nonfinite_scores"]
    if "emulated float16" in compared:
        emulated = compared["emulated float16"]
        result["fp16_emulated"] = {k: emulated[k] for k in ("max_rel_error", "argmax_agreement", "modes", "nonfinite_scores")
                                   if k in emulated}
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
        if fig.get("nonfinite_scores"):
            # Whatever the precision and limits: inf / nan scores are an overflow, never a rounding difference.
            why = " (a float16 overflow, values beyond 65504: export fp16 or fp32 instead)" if precision == FP16_GPU else ""
            problems.append(f"{label}{fig['nonfinite_scores']} scores are inf or nan{why}")
        if rel_limit is not None and fig["max_rel_error"] > rel_limit:
            problems.append(f"{label}relative error {fig['max_rel_error']:.3g} (limit {rel_limit:g})")
        if agree_limit is not None and fig["argmax_agreement"] < agree_limit:
            problems.append(f"{label}argmax agreement {fig['argmax_agreement'] * 100:.3f} % (limit {agree_limit * 100:g} %)")
    return ", ".join(problems) or None
