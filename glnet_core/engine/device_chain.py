"""The device-resident chain: a window's tensors stay where the network runs them.

:class:`DeviceChainPredictor` computes what
:class:`~glnet_core.engine.predictor.WindowPredictor` (the host chain)
computes, with the same :meth:`predict`, but never brings a feature tensor
back to the host between subgraphs. Every session is run through
onnxruntime's I/O binding, so each output can stay on the device as an
``OrtValue`` and be bound as the next graph's input:

* the global branch's 16 shared tensors (and ``ps3``) stay on the device for
  the whole window;
* each patch batch's crops of them are made on the device by a glue graph
  (:func:`~glnet_core.engine.glue_graphs.crop_graph`: a ``Gather`` with
  host-computed flat indices from :func:`~glnet_core.engine.tiling.feature_box`);
  the resize of the crops already happens inside the bundle's ``local`` graph;
* in ``full`` mode the merge of the local tensors into global coordinates is
  two batched matrix products per tensor (:func:`~glnet_core.engine.glue_graphs.merge_graph`)
  with per-patch bilinear weight matrices computed on the host by
  :func:`~glnet_core.engine.feature_ops.bilinear_resize` itself, and the
  division by the count map a third glue graph; ``l2g`` and
  ``aggregation_full`` take device values;
* only the patches (per batch, uploaded), the global image (once per window),
  small index / weight / count tensors go up, and only the per-patch logits
  ``(N, n_classes, P/4, P/4)`` come down, where
  :func:`~glnet_core.engine.feature_ops.accumulate_patches` sums them as the
  host chain does.

The device is ``cuda`` when the bundle's sessions got onnxruntime's CUDA
provider and ``cpu`` otherwise (how it is tested on CPU-only machines: the
same graphs, bindings and values). :func:`make_predictor` chooses the chain
(``EngineOptions.chain``, ``glnet segment --chain``).

Stage times (:class:`~glnet_core.engine.predictor.WindowTimes`) include the
uploads and the glue graphs of the stage they serve: the crops of the 16
shared tensors and the merge of each batch go to ``local_s`` (they run once
per patch batch, with it), the count-map division and ``l2g`` to
``global_s``, the crop of ``ps3`` and the aggregation graphs to
``aggregation_s``.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import DeviceError, InputError
from .feature_ops import accumulate_patches, bilinear_resize, patch_count
from .modes import FULL, check_mode
from .predictor import SHARED_NAMES, WindowPredictor, WindowTimes
from .runtime import CHAINS, create_sessions, release_free_memory
from .tiling import FeatureBox, PatchBox, feature_box, patch_layout

__all__ = ["NO_ONNX", "DeviceChainPredictor", "make_predictor", "onnx_available", "sessions_use_cuda"]

#: The one line ``--chain device`` gives without the onnx package (the glue graphs are built with it).
NO_ONNX = "--chain device needs the onnx package: pip install 'glnet[gpu]'"

Shape = Tuple[int, int, int]


def onnx_available() -> bool:
    """Whether the onnx package (which builds the glue graphs) can be imported."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def sessions_use_cuda(sessions: Mapping[str, Any]) -> bool:
    """Whether every session got onnxruntime's CUDA execution provider."""
    return bool(sessions) and all("CUDAExecutionProvider" in s.get_providers() for s in sessions.values())


def _static_shape(dims: Sequence[Any]) -> Optional[Shape]:
    # (1, C, H, W) or (N, C, H, W): C, H and W must be numbers for the glue graphs.
    tail = list(dims)[1:]
    if len(tail) != 3 or not all(isinstance(d, int) and d > 0 for d in tail):
        return None
    return (int(tail[0]), int(tail[1]), int(tail[2]))


def _output_shapes(session: Any) -> Dict[str, Optional[Shape]]:
    return {o.name: _static_shape(o.shape) for o in session.get_outputs()}


def _shape_problem(sessions: Mapping[str, Any]) -> Optional[str]:
    """Why the device chain cannot run these sessions (sizes the glue graphs need are not fixed), or None."""
    wanted = {"global": SHARED_NAMES + ("ps3",), "local": SHARED_NAMES, "l2g": ("ps3",)}
    for graph, names in wanted.items():
        if graph not in sessions:
            continue
        shapes = _output_shapes(sessions[graph])
        loose = [n for n in names if shapes.get(n) is None]
        if loose:
            return f"the {graph} graph's outputs {', '.join(loose)} have no fixed channel count and size"
    return None


def make_predictor(sessions: Mapping[str, Any], size_p: int, min_overlap: int, n_classes: int, chain: str = "auto",
                   gpu_memory_mb: Optional[int] = None) -> Tuple[WindowPredictor, str]:
    """The window predictor of a run: the host chain or the device-resident chain.

    The one place the chain is chosen. ``auto`` takes the device chain when
    the sessions got the CUDA provider and the onnx package is importable
    (the host chain otherwise: on a CPU every tensor is on the host anyway).

    Parameters
    ----------
    sessions:
        The bundle's sessions (:func:`glnet_core.engine.runtime.open_bundle_sessions`).
    size_p, min_overlap, n_classes:
        As :class:`~glnet_core.engine.predictor.WindowPredictor`.
    chain:
        ``auto``, ``host`` or ``device`` (:data:`glnet_core.engine.runtime.CHAINS`).
    gpu_memory_mb:
        CUDA arena limit of the glue graphs' sessions, as the bundle's
        (:func:`glnet_core.engine.runtime.create_sessions`).

    Returns
    -------
    (predictor, chain):
        ``chain`` is what runs: ``host`` or ``device``.

    Raises
    ------
    InputError
        An unknown chain.
    DeviceError
        ``device`` without the onnx package (:data:`NO_ONNX`), or with a
        bundle whose feature sizes are not fixed in its graphs.
    """
    if chain not in CHAINS:
        raise InputError(f"--chain: unknown chain {chain!r}; choose {', '.join(CHAINS)}")
    host = WindowPredictor(sessions, size_p, min_overlap, n_classes)
    if chain == "host":
        return host, "host"
    if chain == "auto":
        if not (sessions_use_cuda(sessions) and onnx_available()) or _shape_problem(sessions):
            return host, "host"
    elif not onnx_available():
        raise DeviceError(NO_ONNX)
    problem = _shape_problem(sessions)
    if problem:
        raise DeviceError(f"--chain device: {problem}; use --chain host")
    return DeviceChainPredictor(sessions, size_p, min_overlap, n_classes, gpu_memory_mb), "device"


@lru_cache(maxsize=256)
def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """``(size_out, size_in)`` float32: ``M @ v`` is the bilinear resize of ``v`` (the host chain's own weights)."""
    eye = np.eye(size_in, dtype=np.float32)
    # Resizing the identity's rows gives the weights; its columns keep their size (exact identity weights).
    m = bilinear_resize(eye, (size_out, size_in))
    m.setflags(write=False)
    return m


def _groups(keys: Sequence[Any]) -> List[int]:
    """For each key, the index of its first occurrence among the distinct keys."""
    order: Dict[Any, int] = {}
    return [order.setdefault(k, len(order)) for k in keys]


class DeviceChainPredictor(WindowPredictor):
    """Runs GLNet windows with the feature tensors kept on the sessions' device.

    Same parameters, :meth:`predict` and results as
    :class:`~glnet_core.engine.predictor.WindowPredictor` (to float32
    rounding: the crops are exact, the merge sums the same bilinear weights
    in another order). The glue graphs (:mod:`glnet_core.engine.glue_graphs`)
    are built and opened here, on the sessions' device.

    Parameters
    ----------
    sessions, size_p, min_overlap, n_classes:
        As :class:`~glnet_core.engine.predictor.WindowPredictor`; the sizes
        of the ``global`` and ``local`` outputs (and ``l2g``'s ``ps3``) must
        be fixed in the graphs (:func:`make_predictor` checks).
    gpu_memory_mb:
        CUDA arena limit of the glue sessions (:func:`glnet_core.engine.runtime.cuda_provider_options`).

    Raises
    ------
    DeviceError
        If a glue graph cannot be opened on the device.
    """

    def __init__(self, sessions: Mapping[str, Any], size_p: int, min_overlap: int, n_classes: int,
                 gpu_memory_mb: Optional[int] = None):
        super().__init__(sessions, size_p, min_overlap, n_classes)
        from . import glue_graphs

        cuda = sessions_use_cuda(self.sessions)
        #: Where the feature tensors live: onnxruntime's device name for OrtValues and bindings.
        self.device_type = "cuda" if cuda else "cpu"
        g_shapes = _output_shapes(self.sessions["global"])
        l_shapes = _output_shapes(self.sessions["local"])
        self.global_shapes: List[Shape] = [g_shapes[n] for n in SHARED_NAMES]  # type: ignore[misc]
        self.local_shapes: List[Shape] = [l_shapes[n] for n in SHARED_NAMES]  # type: ignore[misc]
        ps3 = g_shapes["ps3"]
        assert ps3 is not None  # make_predictor checked (_shape_problem)
        self.ps3_shape: Shape = ps3
        # Tensors of one spatial size share their crop indices and count map; of one
        # (local size, global size) pair their merge weights.
        self.crop_groups = _groups([s[1:] for s in self.global_shapes])
        pairs = [(loc[1:], glo[1:]) for loc, glo in zip(self.local_shapes, self.global_shapes)]
        self.merge_groups = _groups(pairs)
        self._group_size = {g: s[1:] for g, s in zip(self.crop_groups, self.global_shapes)}
        self._merge_size = dict(zip(self.merge_groups, pairs))
        models = {
            "crop": glue_graphs.crop_graph(SHARED_NAMES, self.global_shapes, self.crop_groups),
            "crop_ps3": glue_graphs.crop_graph(("ps3",), [self.ps3_shape], [0]),
        }
        if "l2g" in self.sessions:
            models["merge"] = glue_graphs.merge_graph(SHARED_NAMES, self.local_shapes, self.global_shapes,
                                                      self.merge_groups, accumulate=False)
            models["merge_add"] = glue_graphs.merge_graph(SHARED_NAMES, self.local_shapes, self.global_shapes,
                                                          self.merge_groups, accumulate=True)
            models["divide"] = glue_graphs.divide_graph(SHARED_NAMES, self.global_shapes, self.crop_groups)
        # One thread on the CPU: the glue graphs are light, and a thread pool of their own
        # spins after each run against the bundle session that runs next (measured on
        # 2 cores, lite, 1024 px: 4.7 s per full window instead of 6.3 s).
        self.glue, _ = create_sessions({k: m.SerializeToString() for k, m in models.items()},
                                       "cuda" if cuda else "cpu", 1, gpu_memory_mb=gpu_memory_mb,
                                       load_error=lambda name, msg: DeviceError(
                                           f"onnxruntime cannot open the device chain's {name} graph: {msg}"))
        # Count maps per window layout, on the device (a run has few distinct window sizes).
        self._counts: Dict[Tuple[Tuple[int, int], Tuple[PatchBox, ...]], Dict[str, Any]] = {}

    # ------------------------------------------------------------ device I/O
    def _up(self, array: np.ndarray) -> Any:
        from onnxruntime import OrtValue

        return OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device_type, 0)

    def _bound(self, session: Any, feeds: Mapping[str, Any], outputs: Sequence[str], to_host: bool = False) -> List[Any]:
        """Run ``session`` on bound device values; outputs stay on the device (OrtValues) unless ``to_host`` (numpy)."""
        io = session.io_binding()
        for name, value in feeds.items():
            io.bind_ortvalue_input(name, value)
        for name in outputs:
            io.bind_output(name, "cpu" if to_host else self.device_type, 0)
        session.run_with_iobinding(io)
        return io.copy_outputs_to_cpu() if to_host else io.get_outputs()

    # ---------------------------------------------------- host-side layout maths
    @staticmethod
    def _boxes(batch: Sequence[PatchBox], size: Tuple[int, int], shape: Tuple[int, int]) -> List[FeatureBox]:
        return [feature_box(b, size, shape) for b in batch]

    def _crop_indices(self, batch: Sequence[PatchBox], size: Tuple[int, int], shape: Tuple[int, int]) -> np.ndarray:
        """``(N, h, w)`` int64 flat positions of each patch's crop box in an ``H x W`` map."""
        width = shape[1]
        out = []
        for f in self._boxes(batch, size, shape):
            rows = np.arange(f.row0, f.row1, dtype=np.int64)
            cols = np.arange(f.col0, f.col1, dtype=np.int64)
            out.append(rows[:, None] * width + cols[None, :])
        return np.stack(out)

    def _crop_feeds(self, batch: Sequence[PatchBox], size: Tuple[int, int]) -> Dict[str, Any]:
        return {f"idx_{g}": self._up(self._crop_indices(batch, size, s)) for g, s in self._group_size.items()}

    def _merge_weights(self, batch: Sequence[PatchBox], size: Tuple[int, int]) -> Dict[str, Any]:
        """The row matrices side by side ``a_g (H, N*h)`` and column matrices ``b_g (N, 1, w, W)`` of a batch."""
        feeds: Dict[str, Any] = {}
        n = len(batch)
        for g, ((h, w), (gh, gw)) in self._merge_size.items():
            a = np.zeros((gh, n * h), dtype=np.float32)
            b = np.zeros((n, 1, w, gw), dtype=np.float32)
            for i, f in enumerate(self._boxes(batch, size, (gh, gw))):
                a[f.row0 : f.row1, i * h : (i + 1) * h] = _resize_matrix(h, f.height)
                b[i, 0, :, f.col0 : f.col1] = _resize_matrix(w, f.width).T
            feeds[f"a_{g}"], feeds[f"b_{g}"] = self._up(a), self._up(b)
        return feeds

    def _count_feeds(self, size: Tuple[int, int], layout: Sequence[PatchBox]) -> Dict[str, Any]:
        """The patch count map of the whole layout resized to each global size, on the device (cached)."""
        key = (size, tuple(layout))
        found = self._counts.get(key)
        if found is None:
            count = patch_count(size, layout)
            found = {f"count_{g}": self._up(bilinear_resize(count, s)) for g, s in self._group_size.items()}
            if len(self._counts) >= 8:
                self._counts.clear()  # a bounded cache: edge windows come in a few sizes
            self._counts[key] = found
        return found

    # --------------------------------------------------------------- predict
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
        """Class scores of one window: as :meth:`WindowPredictor.predict <glnet_core.engine.predictor.WindowPredictor.predict>`.

        Parameters
        ----------
        image_g, window, mode, patch_batch, times, on_patches, skip, upsample, boxes:
            As the host chain's.

        Returns
        -------
        numpy.ndarray
            ``(n_classes, H, W)`` float32 summed patch logits.

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
        full = mode == FULL
        glue, net = self.glue, self.sessions

        t0 = time.perf_counter()
        image = self._up(np.asarray(image_g, dtype=np.float32)[None])
        wanted = list(SHARED_NAMES) if full else list(SHARED_NAMES) + ["ps3"]
        g = dict(zip(wanted, self._bound(net["global"], {"image_g": image}, wanted)))
        t.global_s += time.perf_counter() - t0
        shared = {"x_" + n: g[n] for n in SHARED_NAMES}

        sums: Optional[List[Any]] = None
        pending: List[Tuple[Sequence[PatchBox], Any]] = []
        batch_n = max(1, int(patch_batch))
        done = 0
        for i in range(0, len(todo), batch_n):
            batch = todo[i : i + batch_n]
            t0 = time.perf_counter()
            feeds = dict(zip(("g_" + n for n in SHARED_NAMES),
                             self._bound(glue["crop"], {**shared, **self._crop_feeds(batch, size)},
                                         ["g_" + n for n in SHARED_NAMES])))
            feeds["patches"] = self._up(np.stack([window[:, b.top : b.bottom, b.left : b.right] for b in batch]))
            if full:
                out = self._bound(net["local"], feeds, list(SHARED_NAMES) + ["agg_full"])
                merge_feeds = {"l_" + n: x for n, x in zip(SHARED_NAMES, out[:16])}
                merge_feeds.update(self._merge_weights(batch, size))
                if sums is not None:
                    merge_feeds.update({"acc_" + n: x for n, x in zip(SHARED_NAMES, sums)})
                sums = self._bound(glue["merge" if sums is None else "merge_add"], merge_feeds,
                                   ["s_" + n for n in SHARED_NAMES])
                # Only the local half of the aggregation waits for the stage-3 pass (on the device).
                pending.append((batch, out[16]))
                del out, merge_feeds, feeds
                t.local_s += time.perf_counter() - t0
            else:
                (agg_local,) = self._bound(net["local"], feeds, ["agg_g2l"])
                del feeds
                t.local_s += time.perf_counter() - t0
                t0 = time.perf_counter()
                (g_ps3,) = self._bound(glue["crop_ps3"], {"x_ps3": g["ps3"], "idx_0": self._ps3_indices(batch, size)},
                                       ["g_ps3"])
                (logits,) = self._bound(net["aggregation_g2l"], {"agg_local": agg_local, "g_ps3": g_ps3}, ["logits"],
                                        to_host=True)
                t.aggregation_s += time.perf_counter() - t0
                accumulate_patches(scores, logits, batch, upsample)
            done += len(batch)
            if on_patches:
                on_patches(done, len(todo))
        if full:
            assert sums is not None
            # The global tensors are done with: free them before the stage-3 pass's peak.
            del g, shared
            t0 = time.perf_counter()
            div_feeds = {"s_" + n: x for n, x in zip(SHARED_NAMES, sums)}
            div_feeds.update(self._count_feeds(size, layout))
            merged = self._bound(glue["divide"], div_feeds, ["m_" + n for n in SHARED_NAMES])
            del sums, div_feeds
            l2g_feeds = {"image_g": image}
            l2g_feeds.update({"m_" + n: x for n, x in zip(SHARED_NAMES, merged)})
            del merged
            release_free_memory()
            (l2g_ps3,) = self._bound(net["l2g"], l2g_feeds, ["ps3"])
            t.global_s += time.perf_counter() - t0
            del l2g_feeds, image
            release_free_memory()
            for ran, agg_local in pending:
                t0 = time.perf_counter()
                (g_ps3,) = self._bound(glue["crop_ps3"], {"x_ps3": l2g_ps3, "idx_0": self._ps3_indices(ran, size)},
                                       ["g_ps3"])
                (logits,) = self._bound(net["aggregation_full"], {"agg_local": agg_local, "g_ps3": g_ps3}, ["logits"],
                                        to_host=True)
                t.aggregation_s += time.perf_counter() - t0
                accumulate_patches(scores, logits, ran, upsample)
        return scores

    def _ps3_indices(self, batch: Sequence[PatchBox], size: Tuple[int, int]) -> Any:
        return self._up(self._crop_indices(batch, size, self.ps3_shape[1:]))
