"""The window predictor: one GLNet window through the ONNX subgraphs of a bundle.

:class:`WindowPredictor` is the engine's per-window network step and the twin
of ``GLNet.predict`` in models/glnet.py: the same patch layout, crops, merge
and sums (from :mod:`glnet_core.engine.tiling` and
:mod:`glnet_core.engine.feature_ops`), with every network layer inside the
subgraphs, run by onnxruntime sessions (:mod:`glnet_core.engine.runtime`).
docs/subgraphs.md specifies the chain; :mod:`glnet_core.engine.modes` says
which subgraphs each mode runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .feature_ops import LocalMerger, accumulate_patches, crop_boxes
from .modes import FULL, check_mode
from .runtime import release_free_memory
from .tiling import PatchBox, patch_layout

__all__ = ["SHARED_NAMES", "WindowTimes", "WindowPredictor"]

#: The 16 tensors the branches share, in subgraph input/output order:
#: backbone stages c2..c5, then the FPN levels p5..p2 after the top-down
#: pathway (ps0), the first smoothing (ps1) and the second (ps2).
SHARED_NAMES: Tuple[str, ...] = (
    "c2", "c3", "c4", "c5",
    "ps0_5", "ps0_4", "ps0_3", "ps0_2",
    "ps1_5", "ps1_4", "ps1_3", "ps1_2",
    "ps2_5", "ps2_4", "ps2_3", "ps2_2",
)  # fmt: skip



@dataclass
class WindowTimes:
    """Seconds spent in each kind of onnxruntime run (an accumulator: summed over windows)."""

    global_s: float = 0.0
    local_s: float = 0.0
    aggregation_s: float = 0.0

    @property
    def network_s(self) -> float:
        return self.global_s + self.local_s + self.aggregation_s


class WindowPredictor:
    """Runs GLNet windows through onnxruntime sessions of the subgraphs.

    Parameters
    ----------
    sessions:
        ``{graph name: onnxruntime.InferenceSession}`` for at least the graphs
        of the modes to be used (:data:`glnet_core.engine.modes.MODES`;
        :func:`glnet_core.engine.runtime.open_bundle_sessions` opens them).
    size_p, min_overlap:
        Patch size and minimum patch overlap (from the manifest).
    n_classes:
        Number of classes.
    """

    def __init__(self, sessions: Mapping[str, object], size_p: int, min_overlap: int, n_classes: int):
        self.sessions = dict(sessions)
        self.size_p = int(size_p)
        self.min_overlap = int(min_overlap)
        self.n_classes = int(n_classes)

    def _run(self, name: str, feeds: Dict[str, np.ndarray], outputs: Optional[Sequence[str]] = None) -> List[np.ndarray]:
        return self.sessions[name].run(None if outputs is None else list(outputs), feeds)  # type: ignore[attr-defined]

    def predict(
        self,
        image_g: np.ndarray,
        window: np.ndarray,
        mode: str = FULL,
        patch_batch: int = 6,
        times: Optional[WindowTimes] = None,
        on_patches: Optional[Callable[[int, int], None]] = None,
        skip: Optional[Callable[[PatchBox], bool]] = None,
        upsample: str = "nearest",
        boxes: Optional[Sequence[PatchBox]] = None,
    ) -> np.ndarray:
        """Class scores of one window.

        Parameters
        ----------
        image_g:
            ``(C, size_g, size_g)`` float32: the prepared global image
            (:func:`glnet_core.engine.preprocess.prepare_window`).
        window:
            ``(C, H, W)`` float32 normalised window, ``H, W >= size_p``.
        mode:
            An inference mode (:data:`glnet_core.engine.modes.MODE_NAMES`).
        patch_batch:
            Patches per onnxruntime run of the local subgraph.
        times:
            If given, onnxruntime run times are added to it.
        on_patches:
            Called as ``on_patches(done, total)`` after each patch batch.
        skip:
            Patches for which it returns true are not computed (for example
            patches with no valid pixel); their area gets no scores. In
            ``full`` mode skipped patches also contribute nothing to the
            merged local tensors.
        upsample:
            How patch logits (1/4 of the patch size) are brought to the patch
            size before summing: ``"nearest"`` (as published) or ``"bilinear"``.
        boxes:
            The window's patch layout, when the caller has it already
            (:func:`glnet_core.engine.tiling.patch_layout` of the window's
            size); None: computed here.

        Returns
        -------
        numpy.ndarray
            ``(n_classes, H, W)`` float32 summed patch logits; argmax over
            axis 0 is the class map.

        Raises
        ------
        InputError
            For an unknown mode.
        """
        check_mode(mode)
        t = times if times is not None else WindowTimes()
        size = (int(window.shape[1]), int(window.shape[2]))
        layout = boxes if boxes is not None else patch_layout(size[0], size[1], self.size_p, self.min_overlap)
        todo = [b for b in layout if not (skip and skip(b))]
        scores = np.zeros((self.n_classes,) + size, dtype=np.float32)
        if not todo:
            return scores

        t0 = time.perf_counter()
        g = self._run("global", {"image_g": image_g[None]})
        t.global_s += time.perf_counter() - t0
        g_shared, g_ps3 = g[:16], g[16]
        full = mode == FULL
        merger = LocalMerger([x.shape[1:] for x in g_shared], size, layout) if full else None
        pending: List[Tuple[Sequence[PatchBox], np.ndarray]] = []
        batch_n = max(1, int(patch_batch))
        done = 0
        for i in range(0, len(todo), batch_n):
            batch = todo[i : i + batch_n]
            feeds = {"patches": np.stack([window[:, b.top : b.bottom, b.left : b.right] for b in batch])}
            for name, x in zip(SHARED_NAMES, g_shared):
                feeds["g_" + name] = crop_boxes(x, batch, size)
            t0 = time.perf_counter()
            if merger is not None:
                out = self._run("local", feeds, list(SHARED_NAMES) + ["agg_full"])
                t.local_s += time.perf_counter() - t0
                merger.add(out[:16], batch)
                # Only the local half of the aggregation (n_classes channels)
                # waits for the stage-3 pass; see docs/subgraphs.md.
                pending.append((batch, out[16]))
            else:
                (agg_local,) = self._run("local", feeds, ["agg_g2l"])
                t.local_s += time.perf_counter() - t0
                t0 = time.perf_counter()
                (logits,) = self._run("aggregation_g2l", {"agg_local": agg_local, "g_ps3": crop_boxes(g_ps3, batch, size)})
                t.aggregation_s += time.perf_counter() - t0
                accumulate_patches(scores, logits, batch, upsample)
            done += len(batch)
            if on_patches:
                on_patches(done, len(todo))
        if merger is not None:
            # The global tensors are done with; free them (and what the local
            # runs left in the allocator) before the stage-3 pass's peak.
            del g, g_shared, g_ps3, feeds
            feeds = {"image_g": image_g[None]}
            feeds.update({"m_" + n: x for n, x in zip(SHARED_NAMES, merger.result())})
            del merger
            release_free_memory()
            t0 = time.perf_counter()
            (l2g_ps3,) = self._run("l2g", feeds, ["ps3"])
            t.global_s += time.perf_counter() - t0
            del feeds
            release_free_memory()
            for ran, agg_local in pending:
                t0 = time.perf_counter()
                (logits,) = self._run("aggregation_full", {"agg_local": agg_local, "g_ps3": crop_boxes(l2g_ps3, ran, size)})
                t.aggregation_s += time.perf_counter() - t0
                accumulate_patches(scores, logits, ran, upsample)
        return scores
