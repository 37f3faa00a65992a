"""One GLNet window to the classes and confidence of its core: segment's classifier, in two stages.

:class:`GlnetClassifier` is the one classifier of a segment run,
wherever it runs: in the run's process (:func:`glnet_core.engine.segment.segment`,
through the window loop, whose pipeline prepares a window while the network
runs on another) or in a Dask worker (:mod:`glnet_core.cluster.window_tasks`).
The same steps in both give the same pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from .bundle import Bundle
from .merge import merge_core, patch_counts
from .options import EngineOptions
from .predictor import WindowPredictor
from .preprocess import pad_window, prepare_window
from .tiling import PatchBox, WindowLayouts
from .timings import StepTimes
from .window_loop import StagedClassifier
from .windows import RasterWindow

__all__ = ["PreparedWindow", "GlnetClassifier"]


@dataclass
class PreparedWindow:
    """One window's network inputs and patch choice (made where the window is read)."""

    image_g: Optional[np.ndarray]
    window: Optional[np.ndarray]
    valid_core: np.ndarray
    boxes: Sequence[PatchBox]
    computed: List[PatchBox]


class GlnetClassifier(StagedClassifier):
    """One window to the classes and confidence of its core (the segment's classifier, in two stages)."""

    def __init__(self, b: Bundle, predictor: WindowPredictor, engine: EngineOptions, batch: int,
                 layouts: WindowLayouts, times: StepTimes, on_patches: Callable[[RasterWindow, int], None]):
        self.b, self.predictor, self.engine, self.batch = b, predictor, engine, batch
        self.layouts, self.times, self.on_patches = layouts, times, on_patches
        self.patches = 0

    def prepare(self, w: RasterWindow, image: np.ndarray, valid: np.ndarray) -> Optional[PreparedWindow]:
        b = self.b
        valid_core = valid[w.core_in_window]
        if not valid_core.any():
            return None  # nothing to classify or write
        t = time.perf_counter()
        prep = prepare_window(image, b.size_g, b.size_p, b.normalisation)
        valid_p = pad_window(valid[:, :, None], b.size_p)[:, :, 0]
        # The patches with a valid pixel, decided once: the predictor skips
        # the others, and the merge counts these.
        boxes = self.layouts.for_window(valid.shape[0], valid.shape[1])
        computed = [bx for bx in boxes if valid_p[bx.top : bx.bottom, bx.left : bx.right].any()]
        self.times.prepare_s += time.perf_counter() - t
        return PreparedWindow(prep.image_g, prep.window, valid_core, boxes, computed)

    def classify(self, w: RasterWindow, prepared: PreparedWindow) -> Tuple[np.ndarray, np.ndarray]:
        times = self.times
        wanted = set(prepared.computed)
        image_g, window = prepared.image_g, prepared.window
        assert image_g is not None and window is not None
        prepared.image_g = prepared.window = None  # freed with the predictor's last use

        def skip(box: PatchBox) -> bool:
            return box not in wanted

        shape = window.shape[1:]
        scores = self.predictor.predict(image_g, window, self.engine.mode, self.batch, times.net,
                                        lambda k, _n: self.on_patches(w, k), skip, self.engine.upsample,
                                        boxes=prepared.boxes)
        del image_g, window
        t = time.perf_counter()
        self.patches += len(prepared.computed)
        count = patch_counts(shape, prepared.computed)
        classes, confidence = merge_core(scores, count, w.core_in_window, prepared.valid_core)
        times.post_s += time.perf_counter() - t
        return classes, confidence
